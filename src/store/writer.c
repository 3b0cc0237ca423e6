/* writer.c — the store's lifecycle and its writer thread: opens and
 * migrates the database, owns the one SQLite write connection, turns queued
 * records into batched transactions (batch.c), then the access log
 * (access_log.c). Implements mg_store_open/submit/get_stats/close from
 * store.h; uses pthreads, SQLite and queue.c. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "access_log.h"
#include "batch.h"
#include "queue.h"
#include "store.h"
#include "store_util.h"

#define DEFAULT_QUEUE_CAPACITY 65536
#define MAX_QUEUE_CAPACITY (1u << 24)
#define DEFAULT_FLUSH_INTERVAL 0.01 /* as the config default: see config/schema.c */
#define MIN_FLUSH_INTERVAL 0.001
#define MAX_FLUSH_INTERVAL 60.0
#define DEFAULT_BATCH_MAX 2048
#define BUSY_TIMEOUT_MS 5000
/* A failed batch is retried with doubling pauses, then given up on (its
 * records are counted as dropped) so one bad batch cannot wedge the store. */
#define WRITE_ATTEMPTS 5
#define BACKOFF_FIRST 0.05
#define BACKOFF_MAX 2.0
#define DROP_WARN_EVERY_MS 1000

struct mg_store {
    char *db_path;              /* owned copy: stats stat() it */
    struct sqlite3 *db;         /* owned; only the writer thread touches it while it runs */
    mg_store_batch batch;       /* statements on db */
    mg_store_access_log log;
    mg_store_queue queue;       /* owns the records not yet taken */
    mg_record **taken;          /* owned array of batch_max slots; the records the writer holds */
    size_t batch_max;
    double flush_interval;
    pthread_t thread;
    int thread_started;
    _Atomic uint64_t written, batches, write_errors;
    _Atomic uint64_t lost;      /* records not stored: bad ones, or batches given up on */
    _Atomic int64_t last_drop_warn_ms;
    _Atomic int retention_days; /* 0: keep everything (retention.c) */
};

static void sleep_seconds(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t mono_ms(void) { return (int64_t)(mg_now_mono() * 1000.0); }

static void record_written(mg_store *s, mg_record *const *recs, size_t n)
{
    atomic_fetch_add(&s->written, n);
    atomic_fetch_add(&s->batches, 1);
    mg_store_access_log_write(&s->log, recs, n);
}

/* Errors caused by a record's content rather than the database's state:
 * retrying the same batch cannot help, writing the others alone can. */
static int record_specific(int code)
{
    return code == SQLITE_CONSTRAINT || code == SQLITE_TOOBIG || code == SQLITE_MISMATCH;
}

/* Writes each taken record in its own transaction so only the bad ones are
 * lost. */
static void write_one_by_one(mg_store *s, size_t n)
{
    char err[MG_ERRLEN];
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (mg_store_batch_write(&s->batch, &s->taken[i], 1, err) == MG_OK) {
            record_written(s, &s->taken[i], 1);
            continue;
        }
        atomic_fetch_add(&s->write_errors, 1);
        if (failed++ == 0)
            mg_error("store: dropped record %s: %s", s->taken[i]->id ? s->taken[i]->id : "-",
                     err);
    }
    if (failed > 1)
        mg_error("store: dropped %zu records of a batch of %zu", failed, n);
    atomic_fetch_add(&s->lost, failed);
}

/* Writes the taken batch: retried with back-off while the database is the
 * problem, split up when a record is. Frees the records either way. */
static void write_taken(mg_store *s, size_t n)
{
    char err[MG_ERRLEN];
    double backoff = BACKOFF_FIRST;
    for (int attempt = 1;; attempt++) {
        if (mg_store_batch_write(&s->batch, s->taken, n, err) == MG_OK) {
            record_written(s, s->taken, n);
            break;
        }
        atomic_fetch_add(&s->write_errors, 1);
        if (record_specific(s->batch.last_code)) {
            write_one_by_one(s, n);
            break;
        }
        if (attempt == WRITE_ATTEMPTS) {
            mg_error("store: gave up on a batch of %zu records after %d attempts: %s", n,
                     attempt, err);
            atomic_fetch_add(&s->lost, n);
            break;
        }
        mg_warn("store: batch write failed (attempt %d of %d, retrying in %.2fs): %s", attempt,
                WRITE_ATTEMPTS, backoff, err);
        sleep_seconds(backoff);
        backoff = MG_MIN(backoff * 2, BACKOFF_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        mg_record_free(s->taken[i]);
        s->taken[i] = NULL;
    }
}

static void *writer_main(void *arg)
{
    mg_store *s = arg;
    mg_store_retention retention = {0}; /* this thread's pruning schedule */
    int finished = 0;
    while (!finished) {
        size_t n = mg_store_queue_take(&s->queue, s->taken, s->batch_max, s->flush_interval,
                                       &finished);
        if (n)
            write_taken(s, n);
        if (!finished)
            mg_store_retention_step(&retention, s->db, atomic_load(&s->retention_days));
    }
    return NULL;
}

static int exec_pragma(sqlite3 *db, const char *sql, char *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return MG_OK;
    mg_store_set_err(err, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return MG_ERR;
}

static int open_db(mg_store *s, const char *schema_dir, char *err)
{
    if (mg_store_mkdir_parents(s->db_path, err) != MG_OK)
        return MG_ERR;
    sqlite3_soft_heap_limit64(MG_STORE_SQLITE_SOFT_HEAP);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(s->db_path, &s->db, flags, NULL) != SQLITE_OK) {
        mg_store_set_err(err, "cannot open database %s: %s", s->db_path,
                         s->db ? sqlite3_errmsg(s->db) : "out of memory");
        return MG_ERR;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* WAL lets readers (analytics, tests) run beside the writer; NORMAL
     * syncs at checkpoints, so a power cut may lose the last commits but
     * never corrupts, and a process crash loses nothing committed. */
    if (exec_pragma(s->db, "PRAGMA journal_mode=WAL", err) != MG_OK ||
        exec_pragma(s->db, "PRAGMA synchronous=NORMAL", err) != MG_OK)
        return MG_ERR;
    if (mg_store_migrate(s->db, schema_dir, err) < 0)
        return MG_ERR;
    return mg_store_batch_init(&s->batch, s->db, s->batch_max, err);
}

/* The writer takes no signals: they belong to the loop threads. */
static int start_writer(mg_store *s, char *err)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->thread, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        pthread_setname_np(s->thread, "mg-store");
    if (rc != 0) {
        mg_store_set_err(err, "cannot start the store writer thread: %s", strerror(rc));
        return MG_ERR;
    }
    s->thread_started = 1;
    return MG_OK;
}

static void store_free(mg_store *s)
{
    mg_store_batch_destroy(&s->batch);
    if (s->db) {
        /* Fold the WAL back so the file on disk is whole for a copy. */
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(s->db);
    }
    mg_store_access_log_close(&s->log);
    if (s->queue.ring)
        mg_store_queue_destroy(&s->queue);
    free(s->taken);
    free(s->db_path);
    free(s);
}

static int read_opts(mg_store *s, const mg_store_opts *opts, size_t *capacity, char *err)
{
    if (!opts || !opts->db_path || !*opts->db_path || !opts->schema_dir) {
        mg_store_set_err(err, "store: db_path and schema_dir are required");
        return MG_ERR;
    }
    *capacity = opts->queue_capacity ? opts->queue_capacity : DEFAULT_QUEUE_CAPACITY;
    if (*capacity > MAX_QUEUE_CAPACITY) {
        mg_store_set_err(err, "store: queue capacity %zu is above the maximum %u", *capacity,
                         MAX_QUEUE_CAPACITY);
        return MG_ERR;
    }
    double interval = opts->flush_interval;
    if (!(interval > 0)) /* also NaN */
        interval = DEFAULT_FLUSH_INTERVAL;
    s->flush_interval = MG_MAX(MIN_FLUSH_INTERVAL, MG_MIN(interval, MAX_FLUSH_INTERVAL));
    s->batch_max = opts->batch_max ? opts->batch_max : DEFAULT_BATCH_MAX;
    s->batch_max = MG_MIN(s->batch_max, *capacity);
    s->db_path = mg_xstrdup(opts->db_path);
    atomic_store(&s->retention_days, MG_MAX(opts->retention_days, 0));
    return MG_OK;
}

mg_store *mg_store_open(const mg_store_opts *opts, char *err)
{
    mg_store *s = mg_xcalloc(1, sizeof *s);
    size_t capacity = 0;
    if (read_opts(s, opts, &capacity, err) != MG_OK ||
        open_db(s, opts->schema_dir, err) != MG_OK ||
        mg_store_access_log_open(&s->log, opts->access_log, err) != MG_OK)
        goto fail;
    if (mg_store_queue_init(&s->queue, capacity, s->batch_max) != MG_OK) {
        mg_store_set_err(err, "store: cannot create the queue's lock");
        goto fail;
    }
    s->taken = mg_xcalloc(s->batch_max, sizeof *s->taken);
    atomic_store(&s->last_drop_warn_ms, mono_ms() - DROP_WARN_EVERY_MS);
    if (start_writer(s, err) != MG_OK)
        goto fail;
    return s;
fail:
    store_free(s);
    return NULL;
}

/* At most one warning per DROP_WARN_EVERY_MS across all submitting threads. */
static void warn_dropped(mg_store *s)
{
    int64_t now = mono_ms();
    int64_t last = atomic_load(&s->last_drop_warn_ms);
    if (now - last < DROP_WARN_EVERY_MS ||
        !atomic_compare_exchange_strong(&s->last_drop_warn_ms, &last, now))
        return;
    size_t depth;
    uint64_t pushed, rejected;
    mg_store_queue_counts(&s->queue, &depth, &pushed, &rejected);
    mg_warn("store: queue full (%zu records); %llu records dropped so far", depth,
            (unsigned long long)rejected);
}

int mg_store_submit(mg_store *s, mg_record *r)
{
    if (!r)
        return MG_OK;
    if (mg_store_queue_push(&s->queue, r) == MG_OK)
        return MG_OK;
    mg_record_free(r);
    warn_dropped(s);
    return MG_AGAIN;
}

void mg_store_set_retention_days(mg_store *s, int days)
{
    atomic_store(&s->retention_days, MG_MAX(days, 0));
}

void mg_store_get_stats(mg_store *s, mg_store_stats *out)
{
    uint64_t pushed, rejected;
    memset(out, 0, sizeof *out);
    mg_store_queue_counts(&s->queue, &out->queue_depth, &pushed, &rejected);
    out->submitted = pushed;
    out->dropped = rejected + atomic_load(&s->lost);
    out->written = atomic_load(&s->written);
    out->batches = atomic_load(&s->batches);
    out->write_errors = atomic_load(&s->write_errors);
    out->db_bytes = mg_store_db_bytes(s->db_path);
}

void mg_store_close(mg_store *s)
{
    if (!s)
        return;
    mg_store_queue_close(&s->queue);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    mg_store_stats st;
    mg_store_get_stats(s, &st);
    if (st.dropped)
        mg_warn("store: closed with %llu of %llu records dropped",
                (unsigned long long)st.dropped, (unsigned long long)st.submitted);
    store_free(s);
}
