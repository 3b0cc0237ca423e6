/* test_retention.c — pruning old rows: the cut-offs (requests by
 * retention_days, rollups by max(retention, 400 days)), the batch limit,
 * the writer-side schedule (a pass continues batch by batch, then waits a
 * minute), incremental vacuum when the database asks for it, and the whole
 * path through a running store, with the retention set at open and
 * changed at run time. */
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "store/store.h"
#include "test.h"

#define DAY_MS INT64_C(86400000)
#define NOW_MS INT64_C(1760000000000) /* 2025-10-09 */

static char tmp_root[64];

static const char *tmp_path(const char *name)
{
    static char p[128];
    if (!tmp_root[0]) {
        snprintf(tmp_root, sizeof tmp_root, "/tmp/mg_test_retention_XXXXXX");
        CHECK(mkdtemp(tmp_root) != NULL);
    }
    snprintf(p, sizeof p, "%s/%s", tmp_root, name);
    return p;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static long long scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "exec failed: %s: %s\n", sql, msg);
        CHECK(0);
    }
    sqlite3_free(msg);
}

/* A migrated database; pre_sql runs before the schema (e.g. auto_vacuum). */
static sqlite3 *fresh_db(const char *name, const char *pre_sql)
{
    const char *path = tmp_path(name);
    remove(path);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    if (pre_sql)
        exec(db, pre_sql);
    char err[MG_ERRLEN] = "";
    CHECK(mg_store_migrate(db, schema_dir(), err) > 0);
    return db;
}

/* n rows of requests at age_days before NOW_MS (spread over a minute),
 * with payload bytes of text each. */
static void add_requests(sqlite3 *db, int n, double age_days, int payload)
{
    static int seq;
    sqlite3_stmt *st = NULL;
    exec(db, "BEGIN");
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO requests (id, ts_ms, provider, error) VALUES (?, ?, 'p', ?)",
                             -1, &st, NULL) == SQLITE_OK);
    char *text = calloc(1, (size_t)payload + 1);
    memset(text, 'x', (size_t)payload);
    for (int i = 0; i < n; i++) {
        char id[40];
        snprintf(id, sizeof id, "r%09d", seq++);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, NOW_MS - (int64_t)(age_days * DAY_MS) + i % 60000);
        sqlite3_bind_text(st, 3, text, payload, SQLITE_TRANSIENT);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    free(text);
    exec(db, "COMMIT");
}

static void add_rollups(sqlite3 *db, int n, double age_days)
{
    static int seq;
    char sql[200];
    exec(db, "BEGIN");
    for (int i = 0; i < n; i++, seq++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO rollup_minute (minute, provider, requests) VALUES (%lld, 'p%d', 1)",
                 (long long)((NOW_MS - (int64_t)(age_days * DAY_MS)) / 60000), seq);
        exec(db, sql);
    }
    exec(db, "COMMIT");
}

static void test_cutoffs_and_batches(void)
{
    sqlite3 *db = fresh_db("cut.db", NULL);
    add_requests(db, 12000, 31, 10); /* older than 30 days */
    add_requests(db, 300, 29.9, 10);  /* kept */
    add_rollups(db, 40, 401);         /* older than 400 days */
    add_rollups(db, 50, 200);         /* kept while retention <= 200 */
    add_rollups(db, 5, 1);
    long long req = -1, roll = -1;
    char err[MG_ERRLEN] = "";

    CHECK_EQ_INT(mg_store_prune(db, 0, NOW_MS, 5000, &req, &roll, err), MG_OK);
    CHECK_EQ_INT(req, 0); /* 0 days: keep everything */
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM requests"), 12300);

    double t0 = mg_now_mono();
    CHECK_EQ_INT(mg_store_prune(db, 30, NOW_MS, 5000, &req, &roll, err), MG_OK);
    fprintf(stderr, "  one batch of 5000 rows: %.1f ms\n", (mg_now_mono() - t0) * 1e3);
    CHECK_EQ_INT(req, 5000);
    CHECK_EQ_INT(roll, 40);
    CHECK_EQ_INT(mg_store_prune(db, 30, NOW_MS, 5000, &req, &roll, err), MG_OK);
    CHECK_EQ_INT(req, 5000);
    CHECK_EQ_INT(roll, 0);
    CHECK_EQ_INT(mg_store_prune(db, 30, NOW_MS, 5000, &req, &roll, err), MG_OK);
    CHECK_EQ_INT(req, 2000);
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM requests"), 300);
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM rollup_minute"), 55);

    /* Retention longer than 400 days moves the rollup cut-off with it;
     * shorter keeps 400. */
    CHECK_EQ_INT(mg_store_prune(db, 100, NOW_MS, 5000, &req, &roll, err), MG_OK);
    CHECK_EQ_INT(roll, 0);
    CHECK_EQ_INT(mg_store_prune(db, 150, NOW_MS + 300 * DAY_MS, 5000, &req, &roll, err), MG_OK);
    CHECK_EQ_INT(roll, 50); /* now 500 days old */
    CHECK_EQ_INT(req, 300);
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM rollup_minute"), 5);

    /* Broken database: an error, not a crash. */
    exec(db, "DROP TABLE rollup_minute");
    CHECK_EQ_INT(mg_store_prune(db, 30, NOW_MS, 5000, &req, &roll, err), MG_ERR);
    CHECK(strstr(err, "rollup_minute") != NULL);
    sqlite3_close(db);
}

static void test_schedule(void)
{
    sqlite3 *db = fresh_db("sched.db", NULL);
    add_requests(db, 12000, 40, 10);
    mg_store_retention r = {0};
    /* A pass goes on batch by batch ... */
    mg_store_retention_step_at(&r, db, 30, 1000.0, NOW_MS);
    CHECK_EQ_INT(r.in_pass, 1);
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM requests"), 7000);
    mg_store_retention_step_at(&r, db, 30, 1000.1, NOW_MS);
    mg_store_retention_step_at(&r, db, 30, 1000.2, NOW_MS);
    CHECK_EQ_INT(r.in_pass, 0);
    CHECK_EQ_INT(r.total_requests, 12000);
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM requests"), 0);
    /* ... then the next waits a minute, whatever arrives meanwhile. */
    add_requests(db, 10, 40, 10);
    mg_store_retention_step_at(&r, db, 30, 1030.0, NOW_MS);
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM requests"), 10);
    mg_store_retention_step_at(&r, db, 30, 1000.2 + MG_STORE_PRUNE_EVERY + 0.1, NOW_MS);
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM requests"), 0);
    /* Retention 0 never deletes. */
    add_requests(db, 10, 4000, 10);
    mg_store_retention r0 = {0};
    mg_store_retention_step_at(&r0, db, 0, 5000.0, NOW_MS);
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM requests"), 10);
    sqlite3_close(db);
}

static void test_incremental_vacuum(void)
{
    sqlite3 *db = fresh_db("vac.db", "PRAGMA auto_vacuum = INCREMENTAL");
    CHECK_EQ_INT(scalar(db, "PRAGMA auto_vacuum"), 2);
    add_requests(db, 3000, 60, 2000); /* ~6 MB */
    add_requests(db, 10, 1, 10);
    long long before = scalar(db, "PRAGMA page_count");
    mg_store_retention r = {0};
    int steps = 0;
    do {
        mg_store_retention_step_at(&r, db, 30, 100.0 + steps * 0.2, NOW_MS);
    } while ((r.in_pass || r.vacuuming) && ++steps < 100);
    long long after = scalar(db, "PRAGMA page_count");
    fprintf(stderr, "  incremental vacuum: %lld -> %lld pages in %d steps\n", before, after, steps);
    CHECK(steps > 1); /* the freeing is spread over steps */
    CHECK(!r.vacuuming);
    CHECK_EQ_INT(scalar(db, "PRAGMA freelist_count"), 0);
    CHECK(after < before / 4);
    CHECK_EQ_INT(scalar(db, "SELECT count(*) FROM requests"), 10);
    sqlite3_close(db);
}

/* ---- through a running store ------------------------------------------------ */

static mg_store *open_store(const char *db_path, int retention_days)
{
    mg_store_opts o = {.db_path = db_path, .schema_dir = schema_dir(), .flush_interval = 0.01,
                       .retention_days = retention_days};
    char err[MG_ERRLEN] = "";
    mg_store *s = mg_store_open(&o, err);
    if (!s)
        fprintf(stderr, "mg_store_open: %s\n", err);
    CHECK(s != NULL);
    return s;
}

static void submit_aged(mg_store *s, int n, int64_t age_ms)
{
    for (int i = 0; i < n; i++) {
        mg_record *r = mg_record_new();
        r->ts_ms = mg_now_wall_ms() - age_ms - i;
        mg_record_set_text(&r->provider, "p");
        mg_record_set_text(&r->status, "success");
        CHECK_EQ_INT(mg_store_submit(s, r), MG_OK);
    }
}

static long long count(const char *db_path, const char *where)
{
    long long n = -1;
    char err[MG_ERRLEN] = "";
    if (mg_store_count(db_path, where, &n, err) != MG_OK)
        fprintf(stderr, "mg_store_count: %s\n", err);
    return n;
}

/* Wait (up to 5 s) until the rows matching where are gone. */
static int wait_gone(mg_store *s, const char *db_path, const char *where)
{
    for (int i = 0; i < 500; i++) {
        if (count(db_path, where) == 0)
            return 1;
        submit_aged(s, 1, 0); /* a record wakes the writer */
        usleep(10000);
    }
    return 0;
}

static void test_store_prunes(void)
{
    const char *db = tmp_path("store.db");
    remove(db);
    /* History written with retention off ... */
    mg_store *s = open_store(db, 0);
    submit_aged(s, 50, 10 * DAY_MS);
    submit_aged(s, 40, 500 * DAY_MS);
    submit_aged(s, 5, 0);
    mg_store_close(s);
    CHECK_EQ_INT(count(db, "1"), 95);
    long long old_minutes = -1;
    {
        sqlite3 *h = NULL;
        CHECK(sqlite3_open(db, &h) == SQLITE_OK);
        old_minutes = scalar(h, "SELECT count(*) FROM rollup_minute WHERE minute < "
                                "(strftime('%s','now') * 1000 - 450 * 86400000) / 60000");
        sqlite3_close(h);
    }
    CHECK(old_minutes > 0);

    /* ... reopened with 30 days: the 500-day-old rows go, rows and rollups
     * within their limits stay. */
    s = open_store(db, 30);
    char where[128];
    snprintf(where, sizeof where, "ts_ms < %lld", (long long)(mg_now_wall_ms() - 30 * DAY_MS));
    CHECK(wait_gone(s, db, where));
    CHECK_EQ_INT(count(db, "ts_ms < strftime('%s','now') * 1000 - 5 * 86400000"), 50);
    mg_store_close(s);
    {
        sqlite3 *h = NULL;
        CHECK(sqlite3_open(db, &h) == SQLITE_OK);
        CHECK_EQ_INT(scalar(h, "SELECT count(*) FROM rollup_minute WHERE minute < "
                               "(strftime('%s','now') * 1000 - 450 * 86400000) / 60000"),
                     0);
        CHECK(scalar(h, "SELECT count(*) FROM rollup_minute WHERE minute < "
                        "(strftime('%s','now') * 1000 - 5 * 86400000) / 60000") > 0);
        sqlite3_stmt *st = NULL;
        CHECK(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(st) == SQLITE_ROW);
        CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        sqlite3_close(h);
    }

    /* Changed at run time: 7 days takes the 10-day-old rows too. */
    s = open_store(db, 0);
    submit_aged(s, 3, 0);
    usleep(50000);
    CHECK_EQ_INT(count(db, "ts_ms < strftime('%s','now') * 1000 - 5 * 86400000"), 50);
    mg_store_set_retention_days(s, 7);
    snprintf(where, sizeof where, "ts_ms < %lld", (long long)(mg_now_wall_ms() - 7 * DAY_MS));
    CHECK(wait_gone(s, db, where));
    mg_store_close(s);
    CHECK(count(db, "1") >= 8);
}

TEST_MAIN(T(test_cutoffs_and_batches), T(test_schedule), T(test_incremental_vacuum),
          T(test_store_prunes))

/* The temporary folder goes when the process ends. */
__attribute__((destructor)) static void cleanup(void)
{
    if (tmp_root[0])
        nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
