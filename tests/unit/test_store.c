/* test_store.c — the metric store: schema runner (fresh, repeat, newer
 * database refused, bad file rolled back, duplicates), the writer (two
 * threads of submits, rollups equal to the rows, commit by interval, drain
 * on close, a bad record loses only itself), the bounded queue (full →
 * MG_AGAIN, counted) and the access log's line format. */
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"
#include "store/store.h"
#include "test.h"

#define BASE_TS_MS 1700000000000LL /* 2023-11-14T22:13:20.000Z */

/* ---- helpers ---------------------------------------------------------- */

/* Highest NNN of the shipped schema files. */
/* The newest schema number, and how many files there are (numbers may
 * skip: each file is one row in schema_version). */
static int scan_schema(int *files)
{
    DIR *d = opendir(schema_dir());
    int newest = 0, count = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        int v;
        char tail[8];
        if (sscanf(e->d_name, "%3d_%*[^.]%4s", &v, tail) == 2 && strcmp(tail, ".sql") == 0) {
            count++;
            if (v > newest)
                newest = v;
        }
    }
    if (d)
        closedir(d);
    if (files)
        *files = count;
    return newest;
}

static int newest_schema_version(void) { return scan_schema(NULL); }

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/mg_test_store_XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    return dir ? strdup(dir) : strdup("/tmp");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(char *dir)
{
    if (strncmp(dir, "/tmp/mg_test_store_", 19) == 0)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = path_in(dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

/* First column of the first row of sql as a double; NAN on error. */
static double query_double(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    else
        fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static long long count_where(const char *db_path, const char *where)
{
    long long n = -1;
    char err[MG_ERRLEN] = "";
    if (mg_store_count(db_path, where, &n, err) != MG_OK)
        fprintf(stderr, "mg_store_count: %s\n", err);
    return n;
}

static mg_record *make_record(int64_t ts_ms, const char *provider, const char *model,
                              const char *status, double cost, int64_t tokens_in)
{
    mg_record *r = mg_record_new();
    r->ts_ms = ts_ms;
    mg_record_set_text(&r->provider, provider);
    mg_record_set_text(&r->model_routed, model);
    mg_record_set_text(&r->status, status);
    mg_record_set_text(&r->client_format, "openai");
    mg_record_set_text(&r->endpoint, "/v1/chat/completions");
    r->http_status = strcmp(status, "success") == 0 ? 200 : 502;
    r->cost = cost;
    r->tokens_input = tokens_in;
    r->tokens_output = tokens_in * 2;
    r->duration_ms = 10.0;
    r->attempts = 1;
    return r;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- schema runner ---------------------------------------------------- */

static void test_migrate_fresh_then_noop(void)
{
    char *dir = make_tmpdir();
    char *db_path = path_in(dir, "m.db");
    sqlite3 *db = open_db(db_path);
    char err[MG_ERRLEN] = "";
    int files = 0;
    int newest = scan_schema(&files);
    CHECK(newest >= 2);
    CHECK_EQ_INT(mg_store_migrate(db, schema_dir(), err), newest);
    CHECK_EQ_INT(query_double(db, "SELECT max(version) FROM schema_version"), newest);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM schema_version"), files);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                  "('requests', 'rollup_minute')"),
                 2);
    /* Again: nothing to apply, nothing recorded twice. */
    CHECK_EQ_INT(mg_store_migrate(db, schema_dir(), err), newest);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM schema_version"), files);
    sqlite3_close(db);
    free(db_path);
    remove_tree(dir);
}

static void test_migrate_refuses_newer_database(void)
{
    char *dir = make_tmpdir();
    char *db_path = path_in(dir, "newer.db");
    sqlite3 *db = open_db(db_path);
    char err[MG_ERRLEN] = "";
    int newest = newest_schema_version();
    CHECK_EQ_INT(mg_store_migrate(db, schema_dir(), err), newest);
    CHECK(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999, 'future')", NULL, NULL,
                       NULL) == SQLITE_OK);
    CHECK_EQ_INT(mg_store_migrate(db, schema_dir(), err), -1);
    char want[MG_ERRLEN];
    snprintf(want, sizeof want,
             "database schema version 999 is newer than this moongate (knows up to %d); "
             "upgrade moongate",
             newest);
    CHECK_EQ_STR(err, want);
    sqlite3_close(db);

    /* The store refuses to open it too, with the same words. */
    mg_store_opts opts = {.db_path = db_path, .schema_dir = schema_dir()};
    err[0] = '\0';
    mg_store *s = mg_store_open(&opts, err);
    CHECK(s == NULL);
    CHECK_EQ_STR(err, want);
    mg_store_close(s);
    free(db_path);
    remove_tree(dir);
}

static void test_migrate_bad_file_rolls_back(void)
{
    char *dir = make_tmpdir();
    write_file(dir, "001_first.sql", "CREATE TABLE t1 (x INTEGER);\n");
    write_file(dir, "002_broken.sql",
               "CREATE TABLE t2 (x INTEGER);\nINSERT INTO t1 VALUES (1);\nTHIS IS NOT SQL;\n");
    /* Names outside ^[0-9]{3}_.*\.sql$ are not schema files. */
    write_file(dir, "01_short.sql", "garbage");
    write_file(dir, "003_backup.sql.bak", "garbage");
    write_file(dir, "README", "garbage");
    char *db_path = path_in(dir, "bad.db");
    sqlite3 *db = open_db(db_path);
    char err[MG_ERRLEN] = "";
    CHECK_EQ_INT(mg_store_migrate(db, dir, err), -1);
    CHECK(strstr(err, "002_broken.sql") != NULL);
    CHECK_EQ_INT(query_double(db, "SELECT max(version) FROM schema_version"), 1);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM sqlite_master WHERE name = 't2'"), 0);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM t1"), 0);
    /* Fixed file: the run continues from version 1. */
    write_file(dir, "002_broken.sql", "CREATE TABLE t2 (x INTEGER);\n");
    CHECK_EQ_INT(mg_store_migrate(db, dir, err), 2);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM sqlite_master WHERE name = 't2'"), 1);
    sqlite3_close(db);
    free(db_path);
    remove_tree(dir);
}

static void test_migrate_rejects_duplicates_and_missing_dir(void)
{
    char *dir = make_tmpdir();
    write_file(dir, "001_a.sql", "CREATE TABLE a (x);\n");
    write_file(dir, "001_b.sql", "CREATE TABLE b (x);\n");
    sqlite3 *db = open_db(":memory:");
    char err[MG_ERRLEN] = "";
    CHECK_EQ_INT(mg_store_migrate(db, dir, err), -1);
    CHECK(strstr(err, "duplicate schema version 001") != NULL);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('a','b')"),
                 0);
    CHECK_EQ_INT(mg_store_migrate(db, "/nonexistent/moongate/schema", err), -1);
    CHECK(strstr(err, "cannot open schema folder") != NULL);
    sqlite3_close(db);
    remove_tree(dir);
}

/* ---- writer ----------------------------------------------------------- */

#define WRITERS 2
#define PER_WRITER 5000

typedef struct submit_job {
    mg_store *store;
    int index;
    int refused;
} submit_job;

static void *submit_many(void *arg)
{
    submit_job *job = arg;
    static const char *models[] = {"gpt-4o-mini", "claude-haiku", "gemini-flash"};
    char provider[8];
    snprintf(provider, sizeof provider, "p%d", job->index);
    for (int i = 0; i < PER_WRITER; i++) {
        mg_record *r = make_record(BASE_TS_MS + (int64_t)i * 100, provider, models[i % 3],
                                   i % 7 == 0 ? "error" : "success", ((i % 10) + 1) * 0.0001,
                                   i % 100);
        if (i % 5 != 0)
            mg_record_set_text(&r->key_id, i % 2 ? "key_a" : "key_b");
        if (mg_store_submit(job->store, r) != MG_OK)
            job->refused++;
    }
    return NULL;
}

static void check_rollups_match_rows(const char *db_path)
{
    sqlite3 *db = open_db(db_path);
    const double expected_cost = WRITERS * (PER_WRITER / 10) * 55 * 0.0001;
    const int expected_errors = WRITERS * ((PER_WRITER - 1) / 7 + 1);
    CHECK_EQ_INT(query_double(db, "SELECT sum(requests) FROM rollup_minute"), WRITERS * PER_WRITER);
    CHECK(fabs(query_double(db, "SELECT sum(cost) FROM rollup_minute") - expected_cost) < 1e-6);
    CHECK(fabs(query_double(db, "SELECT sum(cost) FROM requests") - expected_cost) < 1e-6);
    CHECK_EQ_INT(query_double(db, "SELECT sum(errors) FROM rollup_minute"), expected_errors);
    CHECK_EQ_INT(query_double(db, "SELECT sum(tokens_output) FROM rollup_minute"),
                 query_double(db, "SELECT sum(tokens_output) FROM requests"));
    /* Every group of rows has exactly one rollup row with its sums. */
    static const char groups[] =
        "WITH g AS (SELECT ts_ms / 60000 AS minute, coalesce(provider, '') AS provider,"
        " coalesce(model_routed, '') AS model, coalesce(key_id, '') AS key_id,"
        " coalesce(status, '') AS status, coalesce(environment, '') AS environment,"
        " count(*) AS n, sum(cost) AS c, sum(tokens_input) AS tin, sum(duration_ms) AS d"
        " FROM requests GROUP BY 1, 2, 3, 4, 5, 6) ";
    char sql[2048];
    snprintf(sql, sizeof sql, "%sSELECT count(*) FROM g", groups);
    double ngroups = query_double(db, sql);
    CHECK(ngroups > 10);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM rollup_minute"), ngroups);
    snprintf(sql, sizeof sql,
             "%sSELECT count(*) FROM g JOIN rollup_minute r USING (minute, provider, model,"
             " key_id, status, environment) WHERE r.requests = g.n AND abs(r.cost - g.c) < 1e-9"
             " AND r.tokens_input = g.tin AND abs(r.duration_ms_sum - g.d) < 1e-6",
             groups);
    CHECK_EQ_INT(query_double(db, sql), ngroups);
    sqlite3_close(db);
}

static void test_concurrent_writers(void)
{
    char *dir = make_tmpdir();
    char *db_path = path_in(dir, "nested/deeper/moongate.db"); /* parents are created */
    mg_store_opts opts = {.db_path = db_path, .schema_dir = schema_dir()};
    char err[MG_ERRLEN] = "";
    mg_store *s = mg_store_open(&opts, err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open: %s\n", err);
        goto done;
    }
    double t0 = mg_now_mono();
    pthread_t threads[WRITERS];
    submit_job jobs[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        jobs[i] = (submit_job){.store = s, .index = i};
        pthread_create(&threads[i], NULL, submit_many, &jobs[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(threads[i], NULL);
        CHECK_EQ_INT(jobs[i].refused, 0);
    }
    mg_store_stats st;
    mg_store_get_stats(s, &st);
    CHECK_EQ_INT(st.submitted, WRITERS * PER_WRITER);
    mg_store_close(s);
    double elapsed = mg_now_mono() - t0;
    printf("     %d records submitted and committed in %.3f s (%.0f records/s)\n",
           WRITERS * PER_WRITER, elapsed, WRITERS * PER_WRITER / elapsed);

    CHECK_EQ_INT(count_where(db_path, NULL), WRITERS * PER_WRITER);
    CHECK_EQ_INT(count_where(db_path, "status = 'error'"), WRITERS * ((PER_WRITER - 1) / 7 + 1));
    check_rollups_match_rows(db_path);

    /* Reopen: the schema is current, the rows are there, stats start fresh. */
    s = mg_store_open(&opts, err);
    CHECK(s != NULL);
    if (s) {
        mg_store_get_stats(s, &st);
        CHECK_EQ_INT(st.written, 0);
        CHECK(st.db_bytes > 0);
        mg_store_close(s);
    }
    CHECK_EQ_INT(count_where(db_path, NULL), WRITERS * PER_WRITER);
done:
    free(db_path);
    remove_tree(dir);
}

static void test_commits_every_interval(void)
{
    char *dir = make_tmpdir();
    char *db_path = path_in(dir, "interval.db");
    mg_store_opts opts = {.db_path = db_path, .schema_dir = schema_dir(), .flush_interval = 0.05};
    char err[MG_ERRLEN] = "";
    mg_store *s = mg_store_open(&opts, err);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_INT(mg_store_submit(s, make_record(BASE_TS_MS, "p", "m", "success", 0.1, 1)),
                     MG_OK);
        double t0 = mg_now_mono();
        long long n = 0;
        while (n != 1 && mg_now_mono() - t0 < 3.0) {
            sleep_ms(10);
            n = count_where(db_path, NULL);
        }
        /* Visible to another connection without close: committed on time. */
        CHECK_EQ_INT(n, 1);
        CHECK(mg_now_mono() - t0 < 1.5);
        mg_store_stats st;
        mg_store_get_stats(s, &st);
        CHECK_EQ_INT(st.written, 1);
        CHECK_EQ_INT(st.batches, 1);
        CHECK_EQ_INT(st.queue_depth, 0);
        mg_store_close(s);
    }
    free(db_path);
    remove_tree(dir);
}

static void test_close_drains_queue(void)
{
    char *dir = make_tmpdir();
    char *db_path = path_in(dir, "drain.db");
    /* A long interval: only close can be what writes the tail. */
    mg_store_opts opts = {.db_path = db_path, .schema_dir = schema_dir(), .flush_interval = 30,
                          .batch_max = 1000};
    char err[MG_ERRLEN] = "";
    mg_store *s = mg_store_open(&opts, err);
    CHECK(s != NULL);
    if (s) {
        for (int i = 0; i < 2500; i++)
            mg_store_submit(s, make_record(BASE_TS_MS + i, "p", "m", "success", 0.001, 1));
        double t0 = mg_now_mono();
        mg_store_close(s);
        CHECK(mg_now_mono() - t0 < 5.0);
        CHECK_EQ_INT(count_where(db_path, NULL), 2500);
    }
    free(db_path);
    remove_tree(dir);
}

static void wait_for_stats(mg_store *s, uint64_t written, uint64_t dropped, mg_store_stats *st)
{
    double t0 = mg_now_mono();
    do {
        mg_store_get_stats(s, st);
        if (st->written == written && st->dropped == dropped)
            return;
        sleep_ms(10);
    } while (mg_now_mono() - t0 < 5.0);
}

static void test_bad_record_loses_only_itself(void)
{
    char *dir = make_tmpdir();
    char *db_path = path_in(dir, "dup.db");
    mg_store_opts opts = {.db_path = db_path, .schema_dir = schema_dir(), .flush_interval = 0.05};
    char err[MG_ERRLEN] = "";
    mg_store *s = mg_store_open(&opts, err);
    CHECK(s != NULL);
    if (s) {
        mg_record *first = make_record(BASE_TS_MS, "p", "m", "success", 1.0, 1);
        char id[33];
        memcpy(id, first->id, sizeof id);
        mg_store_submit(s, first);
        mg_store_stats st;
        wait_for_stats(s, 1, 0, &st);
        CHECK_EQ_INT(st.written, 1);
        /* Same primary key as a stored row, batched with two good records. */
        mg_record *dup = make_record(BASE_TS_MS, "p", "m", "success", 100.0, 1);
        mg_record_set_text(&dup->id, id);
        mg_store_submit(s, make_record(BASE_TS_MS, "p", "m", "success", 1.0, 1));
        mg_store_submit(s, dup);
        mg_store_submit(s, make_record(BASE_TS_MS, "p", "m", "success", 1.0, 1));
        wait_for_stats(s, 3, 1, &st);
        CHECK_EQ_INT(st.written, 3);
        CHECK_EQ_INT(st.dropped, 1);
        CHECK(st.write_errors >= 1);
        mg_store_close(s);
        CHECK_EQ_INT(count_where(db_path, NULL), 3);
        sqlite3 *db = open_db(db_path);
        /* The failed transaction left nothing behind in the rollups either. */
        CHECK_EQ_INT(query_double(db, "SELECT sum(requests) FROM rollup_minute"), 3);
        CHECK(fabs(query_double(db, "SELECT sum(cost) FROM rollup_minute") - 3.0) < 1e-9);
        sqlite3_close(db);
    }
    free(db_path);
    remove_tree(dir);
}

static void test_queue_full_drops_and_counts(void)
{
    char *dir = make_tmpdir();
    char *db_path = path_in(dir, "full.db");
    mg_store_opts opts = {.db_path = db_path, .schema_dir = schema_dir(), .queue_capacity = 8,
                          .flush_interval = 0.01};
    char err[MG_ERRLEN] = "";
    mg_store *s = mg_store_open(&opts, err);
    CHECK(s != NULL);
    if (!s)
        goto done;
    /* Another connection holds the write lock: the writer takes the first
     * record and then waits in BEGIN IMMEDIATE, so the queue fills. */
    sqlite3 *blocker = open_db(db_path);
    CHECK(sqlite3_exec(blocker, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
    CHECK_EQ_INT(mg_store_submit(s, make_record(BASE_TS_MS, "p", "m", "success", 0, 1)), MG_OK);
    mg_store_stats st;
    double t0 = mg_now_mono();
    do {
        sleep_ms(5);
        mg_store_get_stats(s, &st);
    } while (st.queue_depth != 0 && mg_now_mono() - t0 < 3.0);
    CHECK_EQ_INT(st.queue_depth, 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ_INT(mg_store_submit(s, make_record(BASE_TS_MS, "p", "m", "success", 0, 1)),
                     MG_OK);
    double t1 = mg_now_mono();
    CHECK_EQ_INT(mg_store_submit(s, make_record(BASE_TS_MS, "p", "m", "success", 0, 1)),
                 MG_AGAIN);
    CHECK_EQ_INT(mg_store_submit(s, make_record(BASE_TS_MS, "p", "m", "success", 0, 1)),
                 MG_AGAIN);
    CHECK(mg_now_mono() - t1 < 0.5); /* refused at once, not after the writer */
    mg_store_get_stats(s, &st);
    CHECK_EQ_INT(st.submitted, 11);
    CHECK_EQ_INT(st.dropped, 2);
    CHECK_EQ_INT(st.queue_depth, 8);
    CHECK_EQ_INT(st.written, 0);
    CHECK(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(blocker);
    mg_store_close(s);
    CHECK_EQ_INT(count_where(db_path, NULL), 9);
done:
    free(db_path);
    remove_tree(dir);
}

/* ---- access log -------------------------------------------------------- */

static mg_record *log_record(const char *id, int64_t ts_ms)
{
    mg_record *r = make_record(ts_ms, "mock", "gpt-4o-mini", "success", 0.0015, 10);
    mg_record_set_text(&r->id, id);
    mg_record_set_text(&r->key_id, "key_team_a");
    r->tokens_output = 20;
    r->duration_ms = 12.5;
    return r;
}

static void test_access_log_lines(void)
{
    char *dir = make_tmpdir();
    char *db_path = path_in(dir, "log.db");
    char *log_path = path_in(dir, "logs/access.log");
    mg_store_opts opts = {.db_path = db_path, .schema_dir = schema_dir(), .access_log = log_path,
                          .flush_interval = 0.01};
    char err[MG_ERRLEN] = "";
    mg_store *s = mg_store_open(&opts, err);
    CHECK(s != NULL);
    if (!s)
        goto done;
    mg_store_submit(s, log_record("0123456789abcdef0123456789abcdef", BASE_TS_MS + 123));

    mg_record *failed = log_record("fedcba9876543210fedcba9876543210", BASE_TS_MS + 61000);
    mg_record_set_text(&failed->status, "error");
    mg_record_set_text(&failed->endpoint, "/v1/x y\nforged 200");
    mg_record_set_text(&failed->error, "upstream said \"no\"\nretry \\ later");
    failed->http_status = 502;
    failed->attempts = 3;
    mg_store_submit(s, failed);

    mg_record *bare = mg_record_new();
    mg_record_set_text(&bare->id, "00000000000000000000000000000000");
    bare->ts_ms = BASE_TS_MS;
    mg_store_submit(s, bare);
    mg_store_close(s);

    static const char *want[] = {
        "2023-11-14T22:13:20.123Z 0123456789abcdef0123456789abcdef openai /v1/chat/completions"
        " mock/gpt-4o-mini 200 success 12.5ms in=10 out=20 cost=0.001500 attempts=1\n",
        "2023-11-14T22:14:21.000Z fedcba9876543210fedcba9876543210 openai"
        " /v1/x\\x20y\\x0aforged\\x20200 mock/gpt-4o-mini 502 error 12.5ms in=10 out=20"
        " cost=0.001500 attempts=3 err=\"upstream said \\x22no\\x22\\x0aretry \\x5c later\"\n",
        "2023-11-14T22:13:20.000Z 00000000000000000000000000000000 - - -/- 0 - 0.0ms in=0 out=0"
        " cost=0.000000 attempts=0\n",
    };
    FILE *f = fopen(log_path, "r");
    CHECK(f != NULL);
    if (f) {
        char line[1024];
        size_t n = 0;
        while (fgets(line, sizeof line, f)) {
            if (n < MG_ARRAY_LEN(want))
                CHECK_EQ_STR(line, want[n]);
            CHECK(strstr(line, "key_team_a") == NULL); /* key ids stay in the database */
            n++;
        }
        CHECK_EQ_INT(n, MG_ARRAY_LEN(want));
        fclose(f);
    }
done:
    free(log_path);
    free(db_path);
    remove_tree(dir);
}

static void test_count_rejects_writes_and_bad_opts(void)
{
    char *dir = make_tmpdir();
    char *db_path = path_in(dir, "count.db");
    mg_store_opts opts = {.db_path = db_path, .schema_dir = schema_dir()};
    char err[MG_ERRLEN] = "";
    mg_store *s = mg_store_open(&opts, err);
    CHECK(s != NULL);
    if (s) {
        mg_store_submit(s, make_record(BASE_TS_MS, "p", "m", "success", 0, 1));
        mg_store_close(s);
    }
    long long n = -1;
    CHECK_EQ_INT(mg_store_count(db_path, "1; DELETE FROM requests", &n, err), MG_ERR);
    CHECK_EQ_INT(mg_store_count(db_path, "no_such_column = 1", &n, err), MG_ERR);
    CHECK(strstr(err, "no_such_column") != NULL);
    CHECK_EQ_INT(count_where(db_path, "provider = 'p'"), 1);
    CHECK_EQ_INT(mg_store_count("/nonexistent/moongate.db", NULL, &n, err), MG_ERR);

    mg_store_opts no_schema = {.db_path = db_path};
    CHECK(mg_store_open(&no_schema, err) == NULL);
    mg_store_opts huge = {.db_path = db_path, .schema_dir = schema_dir(),
                          .queue_capacity = (size_t)1 << 40};
    CHECK(mg_store_open(&huge, err) == NULL);
    CHECK(strstr(err, "capacity") != NULL);
    free(db_path);
    remove_tree(dir);
}

TEST_MAIN(T(test_migrate_fresh_then_noop), T(test_migrate_refuses_newer_database),
          T(test_migrate_bad_file_rolls_back), T(test_migrate_rejects_duplicates_and_missing_dir),
          T(test_concurrent_writers), T(test_commits_every_interval), T(test_close_drains_queue),
          T(test_bad_record_loses_only_itself), T(test_queue_full_drops_and_counts),
          T(test_access_log_lines), T(test_count_rejects_writes_and_bad_opts))
