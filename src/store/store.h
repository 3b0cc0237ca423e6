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

#endif
