/* retention.c — pruning old rows on the store's writer thread (see
 * store.h): small DELETE batches between record batches, a pass at most
 * once a minute, then incremental vacuum when the database was created
 * with auto_vacuum = INCREMENTAL (the default NONE keeps the freed pages
 * for reuse, which is what a steadily pruned store wants anyway). Uses
 * SQLite on the writer's own connection. */
#include <sqlite3.h>
#include <stdio.h>

#include "../core/log.h"
#include "store.h"
#include "store_util.h"

#define MS_PER_DAY INT64_C(86400000)

static const char DELETE_REQUESTS[] =
    "DELETE FROM requests WHERE rowid IN "
    "(SELECT rowid FROM requests WHERE ts_ms < ?1 LIMIT ?2)";
static const char DELETE_ROLLUPS[] =
    "DELETE FROM rollup_minute WHERE rowid IN "
    "(SELECT rowid FROM rollup_minute WHERE minute < ?1 LIMIT ?2)";

/* Runs one bounded DELETE; *deleted gets the row count. */
static int delete_batch(sqlite3 *db, const char *sql, int64_t cutoff, int limit,
                        long long *deleted, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        mg_store_set_err(err, "prune: %s", sqlite3_errmsg(db));
        return MG_ERR;
    }
    sqlite3_bind_int64(st, 1, cutoff);
    sqlite3_bind_int(st, 2, limit);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        mg_store_set_err(err, "prune: %s", sqlite3_errmsg(db));
        return MG_ERR;
    }
    *deleted = sqlite3_changes(db);
    return MG_OK;
}

int mg_store_prune(sqlite3 *db, int retention_days, int64_t now_wall_ms, int limit,
                   long long *requests, long long *rollups, char *err)
{
    *requests = *rollups = 0;
    if (retention_days <= 0 || limit <= 0)
        return MG_OK;
    int64_t rows_cutoff_ms = now_wall_ms - retention_days * MS_PER_DAY;
    int rollup_days = MG_MAX(retention_days, MG_STORE_ROLLUP_MIN_DAYS);
    int64_t rollup_cutoff_min = (now_wall_ms - rollup_days * MS_PER_DAY) / 60000;
    if (delete_batch(db, DELETE_REQUESTS, rows_cutoff_ms, limit, requests, err) != MG_OK)
        return MG_ERR;
    return delete_batch(db, DELETE_ROLLUPS, rollup_cutoff_min, limit, rollups, err);
}

static long long pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Frees a bounded number of pages; 1 while more remain. */
static int vacuum_some(sqlite3 *db)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", MG_STORE_VACUUM_PAGES);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        mg_warn("store: %s failed: %s", sql, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return 0;
    }
    return pragma_int(db, "PRAGMA freelist_count") > 0;
}

static void end_pass(mg_store_retention *r, sqlite3 *db, int days, double now)
{
    if (r->pass_requests || r->pass_rollups) {
        mg_info("store: pruned %lld requests older than %d days and %lld minute rollups",
                r->pass_requests, days, r->pass_rollups);
        r->vacuuming = pragma_int(db, "PRAGMA auto_vacuum") == 2; /* 2 = INCREMENTAL */
    }
    r->in_pass = 0;
    r->pass_requests = r->pass_rollups = 0;
    r->next_pass = now + MG_STORE_PRUNE_EVERY;
}

void mg_store_retention_step_at(mg_store_retention *r, sqlite3 *db, int retention_days,
                                double now_mono, int64_t now_wall_ms)
{
    if (!db)
        return;
    if (r->vacuuming && !r->in_pass) {
        r->vacuuming = vacuum_some(db);
        return;
    }
    if (retention_days <= 0 || (!r->in_pass && now_mono < r->next_pass))
        return;
    long long requests = 0, rollups = 0;
    char err[MG_ERRLEN];
    if (mg_store_prune(db, retention_days, now_wall_ms, MG_STORE_PRUNE_BATCH, &requests,
                       &rollups, err) != MG_OK) {
        mg_warn("store: %s (retrying in %.0f s)", err, MG_STORE_PRUNE_EVERY);
        end_pass(r, db, retention_days, now_mono);
        return;
    }
    r->in_pass = 1;
    r->pass_requests += requests;
    r->pass_rollups += rollups;
    r->total_requests += requests;
    r->total_rollups += rollups;
    if (requests < MG_STORE_PRUNE_BATCH && rollups < MG_STORE_PRUNE_BATCH)
        end_pass(r, db, retention_days, now_mono);
}

void mg_store_retention_step(mg_store_retention *r, sqlite3 *db, int retention_days)
{
    mg_store_retention_step_at(r, db, retention_days, mg_now_mono(), mg_now_wall_ms());
}
