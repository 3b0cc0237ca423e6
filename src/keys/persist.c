/* persist.c — the keys writer thread. Admin calls change a key in memory
 * and queue a snapshot of its row here, so no loop thread ever waits on
 * the disk; this thread owns its own SQLite connection to the gateway's
 * database (WAL, shared with the store's writer under a busy timeout) and
 * upserts queued rows in one transaction per wake-up. Rows are snapshots
 * queued under the key's lock, so the queue order is the change order. */
#include <signal.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "internal.h"

#define BUSY_TIMEOUT_MS 5000

static const char upsert_sql[] =
    "INSERT INTO keys (id, name, hash, prefix, user_id, environment, created_at, revoked_at,"
    " expires_at, allowed_models, rpm, tpm, max_concurrency, budget_usd_day, budget_usd_month,"
    " metadata, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
    " ?14, ?15, ?16, ?17) ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
    " hash = excluded.hash, prefix = excluded.prefix, user_id = excluded.user_id,"
    " environment = excluded.environment, revoked_at = excluded.revoked_at,"
    " expires_at = excluded.expires_at, allowed_models = excluded.allowed_models,"
    " rpm = excluded.rpm, tpm = excluded.tpm, max_concurrency = excluded.max_concurrency,"
    " budget_usd_day = excluded.budget_usd_day, budget_usd_month = excluded.budget_usd_month,"
    " metadata = excluded.metadata, updated_at = excluded.updated_at";

char *mg_keys_models_json(char *const *models, size_t n)
{
    if (!models)
        return NULL;
    mg_buf b = {0};
    mg_buf_append_str(&b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            mg_buf_append_str(&b, ",");
        mg_buf_append_json_str(&b, models[i], strlen(models[i]));
    }
    mg_buf_append_str(&b, "]");
    char *s = mg_xstrndup(b.data, b.len);
    mg_buf_free(&b);
    return s;
}

void mg_keys_row_from_key(const struct mg_key *key, mg_keys_row *row)
{
    memset(row, 0, sizeof *row);
    memcpy(row->id, key->id, sizeof row->id);
    memcpy(row->name, key->name, sizeof row->name);
    mg_keys_hex(key->hash, 32, row->hash_hex);
    memcpy(row->prefix, key->prefix, sizeof row->prefix);
    memcpy(row->user_id, key->user_id, sizeof row->user_id);
    memcpy(row->environment, key->environment, sizeof row->environment);
    row->created_at = key->created_at;
    row->revoked_at = key->revoked_at;
    row->expires_at = key->expires_at;
    row->updated_at = key->updated_at;
    row->models_json = mg_keys_models_json(key->models, key->nmodels);
    row->rpm = key->rpm;
    row->tpm = key->tpm;
    row->max_concurrency = key->max_concurrency;
    row->budget_day = key->budget_day;
    row->budget_month = key->budget_month;
    row->metadata = key->metadata ? mg_xstrdup(key->metadata) : NULL;
}

void mg_keys_row_free(mg_keys_row *row)
{
    free(row->models_json);
    free(row->metadata);
    row->models_json = row->metadata = NULL;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_ms_or_null(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms)
        sqlite3_bind_int64(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

static int write_row(mg_keys_writer *w, const mg_keys_row *r)
{
    sqlite3_stmt *st = w->upsert;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->hash_hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, r->prefix, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 5, r->user_id);
    bind_text_or_null(st, 6, r->environment);
    sqlite3_bind_int64(st, 7, r->created_at);
    bind_ms_or_null(st, 8, r->revoked_at);
    bind_ms_or_null(st, 9, r->expires_at);
    bind_text_or_null(st, 10, r->models_json);
    sqlite3_bind_int64(st, 11, r->rpm);
    sqlite3_bind_int64(st, 12, r->tpm);
    sqlite3_bind_int64(st, 13, r->max_concurrency);
    sqlite3_bind_double(st, 14, r->budget_day);
    sqlite3_bind_double(st, 15, r->budget_month);
    bind_text_or_null(st, 16, r->metadata);
    sqlite3_bind_int64(st, 17, r->updated_at);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return MG_OK;
    mg_error("keys: cannot save key %s: %s", r->id, sqlite3_errmsg(w->db));
    return MG_ERR;
}

/* Writes a taken list of jobs in one transaction and frees them. Returns
 * how many failed. */
static uint64_t write_jobs(mg_keys_writer *w, mg_keys_job *jobs)
{
    uint64_t failed = 0;
    int in_tx = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    while (jobs) {
        mg_keys_job *next = jobs->next;
        if (write_row(w, &jobs->row) != MG_OK)
            failed++;
        mg_keys_row_free(&jobs->row);
        free(jobs);
        jobs = next;
    }
    if (in_tx && sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        mg_error("keys: cannot commit key changes: %s", sqlite3_errmsg(w->db));
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
        failed++;
    }
    return failed;
}

static void *writer_main(void *arg)
{
    mg_keys_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->closing)
            pthread_cond_wait(&w->wake, &w->lock);
        if (!w->head)
            break; /* closing and drained */
        mg_keys_job *jobs = w->head;
        uint64_t n = 0;
        for (mg_keys_job *j = jobs; j; j = j->next)
            n++;
        w->head = w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        uint64_t failed = write_jobs(w, jobs);
        pthread_mutex_lock(&w->lock);
        w->done += n;
        w->failed += failed;
        pthread_cond_broadcast(&w->progress);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int mg_keys_writer_start(mg_keys_writer *w, const char *db_path, char *err)
{
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->progress, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(db_path, &w->db, flags, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(w->db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_prepare_v2(w->db, upsert_sql, -1, &w->upsert, NULL) != SQLITE_OK) {
        snprintf(err, MG_ERRLEN, "keys: cannot open %s for writing: %s", db_path,
                 w->db ? sqlite3_errmsg(w->db) : "out of memory");
        return MG_ERR;
    }
    /* Signals belong to the main loop, not to this thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        pthread_setname_np(w->thread, "mg-keys");
    if (rc != 0) {
        snprintf(err, MG_ERRLEN, "keys: cannot start the writer thread");
        return MG_ERR;
    }
    w->started = 1;
    return MG_OK;
}

void mg_keys_persist(mg_keys *k, const struct mg_key *key)
{
    if (!k->persistent)
        return;
    mg_keys_job *job = mg_xcalloc(1, sizeof *job);
    mg_keys_row_from_key(key, &job->row);
    mg_keys_writer *w = &k->writer;
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    w->queued++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

int mg_keys_writer_flush(mg_keys_writer *w)
{
    if (!w->started)
        return MG_OK;
    pthread_mutex_lock(&w->lock);
    uint64_t target = w->queued;
    while (w->done < target)
        pthread_cond_wait(&w->progress, &w->lock);
    int rc = w->failed ? MG_ERR : MG_OK;
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* Drains the queue, stops the thread and closes the connection. Safe on a
 * writer that never started or only half started. */
void mg_keys_writer_stop(mg_keys_writer *w)
{
    if (w->started) {
        pthread_mutex_lock(&w->lock);
        w->closing = 1;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        w->started = 0;
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->progress);
    }
    sqlite3_finalize(w->upsert);
    sqlite3_close(w->db);
    w->upsert = NULL;
    w->db = NULL;
}
