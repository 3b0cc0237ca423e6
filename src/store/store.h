/* store.h — durable request records. Loops hand records to a bounded queue;
 * one writer thread owns the SQLite connection (WAL), writes them in batched
 * transactions, keeps minute rollups, writes the access log line, and
 * flushes everything on close. A full queue drops the record and counts it
 * (reported in stats and the log), never silently and never blocking a loop.
 * Thread-safe: any worker may submit. */
#ifndef MG_STORE_H
#define MG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

typedef struct mg_store_opts {
    const char *db_path;        /* SQLite file; parent directory created */
    const char *schema_dir;     /* folder with NNN_name.sql files */
    const char *access_log;     /* path, "-" for stderr, NULL for none */
    size_t queue_capacity;      /* records; default 65536 */
    double flush_interval;      /* seconds between batch commits; default 0.2 */
    size_t batch_max;           /* records per transaction; default 2048 */
    int retention_days;         /* prune `requests` older than this; 0 keeps
                                 * everything (see retention below) */
} mg_store_opts;

/* submitted: every mg_store_submit call; written: rows committed; dropped:
 * records not stored (refused by a full queue, or lost to a write error);
 * batches: committed transactions; write_errors: failed transactions;
 * db_bytes: the database file plus its WAL. */
typedef struct mg_store_stats {
    uint64_t submitted, written, dropped, batches, write_errors;
    size_t queue_depth;
    int64_t db_bytes;
} mg_store_stats;

typedef struct mg_store mg_store;

/* Opens (creating) the database, applies pending schema files in order,
 * refuses a database whose schema_version is newer than the newest file,
 * and starts the writer thread. NULL with err filled on failure. */
mg_store *mg_store_open(const mg_store_opts *opts, char *err);
/* Takes ownership of r in every case. MG_OK, or MG_AGAIN when the queue was
 * full and the record was dropped (counted). */
int mg_store_submit(mg_store *s, mg_record *r);
void mg_store_get_stats(mg_store *s, mg_store_stats *out);
/* Write everything queued, stop the thread, close the database. */
void mg_store_close(mg_store *s);

/* Schema runner, usable on its own (tests, `moongate check`). Applies
 * schema_dir/NNN_*.sql with NNN > current version, each in a transaction.
 * Returns the resulting version, or -1 with err filled. */
struct sqlite3;
int mg_store_migrate(struct sqlite3 *db, const char *schema_dir, char *err);

/* Counts rows of `requests`, optionally filtered by where_sql (an SQL
 * expression from trusted code such as tests or the analytics module, e.g.
 * "status = 'error' AND ts_ms > 0"; not for text from clients). Opens its
 * own read-only connection and blocks on disk: call it from a reader
 * thread or a test, never on a loop thread. MG_OK with *out set, or MG_ERR
 * with err filled. */
int mg_store_count(const char *db_path, const char *where_sql, long long *out, char *err);

/* Retention (retention.c). The writer thread prunes between batches: rows
 * of `requests` whose ts_ms is older than retention_days, and rows of
 * rollup_minute older than max(retention_days, MG_STORE_ROLLUP_MIN_DAYS)
 * (long-range dashboards read the rollups), MG_STORE_PRUNE_BATCH rows per
 * statement, one batch per writer iteration, a new pass at most every
 * MG_STORE_PRUNE_EVERY seconds; with auto_vacuum = INCREMENTAL the freed
 * pages are then returned a few at a time. Loops are never involved.
 * Passes start when the writer wakes, i.e. with traffic: an idle store
 * does not grow, so it has nothing to prune.
 * Wire-up: mg_store_opts.retention_days = cfg->retention_days at open, and
 * mg_store_set_retention_days(store, cfg->retention_days) after a reload. */
/* All SQLite connections of the process together (writer, analytics,
 * alerts and insights, keys, crosstalk): past this SQLite recycles page
 * cache pages instead of growing, so RSS levels off early instead of
 * creeping up while the database grows (each connection would otherwise
 * fill a 2 MiB cache, and queries over a growing table fill them slowly). */
#define MG_STORE_SQLITE_SOFT_HEAP ((int64_t)8 << 20)
#define MG_STORE_ROLLUP_MIN_DAYS 400
#define MG_STORE_PRUNE_BATCH 5000
#define MG_STORE_PRUNE_EVERY 60.0
#define MG_STORE_VACUUM_PAGES 1000

/* Change the retention of a running store (a reload); 0 keeps everything.
 * Takes effect at the writer's next pass. */
void mg_store_set_retention_days(mg_store *s, int days);

/* The writer's pruning schedule; zeroed is "never ran". Owned by the
 * writer thread (a local in its loop). */
typedef struct mg_store_retention {
    double next_pass;          /* mg_now_mono() when the next pass may start */
    int in_pass;               /* a pass found more rows: go on at the next step */
    int vacuuming;             /* incremental_vacuum still has pages to free */
    long long pass_requests, pass_rollups;   /* deleted in this pass */
    long long total_requests, total_rollups; /* deleted since start */
} mg_store_retention;

/* One step between batches on the writer's connection (clocks read
 * inside; the _at form takes them, for tests). */
void mg_store_retention_step(mg_store_retention *r, struct sqlite3 *db, int retention_days);
void mg_store_retention_step_at(mg_store_retention *r, struct sqlite3 *db, int retention_days,
                                double now_mono, int64_t now_wall_ms);

/* One batch of pruning on db: at most `limit` rows of each table, older
 * than the cut-offs above relative to now_wall_ms. MG_OK with the counts
 * deleted, or MG_ERR with err filled. retention_days <= 0 deletes
 * nothing. */
int mg_store_prune(struct sqlite3 *db, int retention_days, int64_t now_wall_ms, int limit,
                   long long *requests, long long *rollups, char *err);

#endif
