/* test_store_batch.c — the writer's batch (src/store/batch.c) on its own:
 * every column of every row comes back as written whether the row went in
 * through the multi-row INSERT or alone, the rollups equal the rows for
 * batches in any order, and a bad row in a multi-row group rolls the whole
 * batch back. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "store/batch.h"
#include "store/store.h"
#include "test.h"

#define BASE_TS_MS 1700000000000LL

static sqlite3 *open_migrated(void)
{
    sqlite3 *db = NULL;
    char err[MG_ERRLEN] = "";
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(mg_store_migrate(db, schema_dir(), err) > 0);
    return db;
}

/* Row r: every field set, distinct per row and per field; some TEXT NULL. */
static mg_record *full_record(int r)
{
    mg_record *rec = mg_record_new();
    for (size_t i = 0; i < mg_record_nfields; i++) {
        const mg_record_field *f = &mg_record_fields[i];
        char *p = (char *)rec + f->offset;
        if (f->kind == MG_REC_TEXT) {
            char text[64];
            snprintf(text, sizeof text, "%s-%d-\"q\"\n", f->name, r);
            if (strcmp(f->name, "id") == 0)
                snprintf(text, sizeof text, "%032d", r);
            mg_record_set_text((char **)(void *)p, (r + (int)i) % 5 == 0 && i ? NULL : text);
        } else if (f->kind == MG_REC_INT) {
            int64_t v = (int64_t)r * 1000 + (int64_t)i - 7;
            memcpy(p, &v, sizeof v);
        } else {
            double v = r + (double)i / 8.0;
            memcpy(p, &v, sizeof v);
        }
    }
    rec->ts_ms = BASE_TS_MS + r * 7919LL; /* spans minutes: several rollup groups */
    return rec;
}

static int column_matches(sqlite3_stmt *st, int col, const mg_record *rec,
                          const mg_record_field *f)
{
    const char *p = (const char *)rec + f->offset;
    if (f->kind == MG_REC_TEXT) {
        const char *want = *(char *const *)(const void *)p;
        const unsigned char *got = sqlite3_column_text(st, col);
        if (!want)
            return sqlite3_column_type(st, col) == SQLITE_NULL;
        return sqlite3_column_type(st, col) == SQLITE_TEXT && got &&
               strcmp((const char *)got, want) == 0;
    }
    if (f->kind == MG_REC_INT) {
        int64_t want;
        memcpy(&want, p, sizeof want);
        return sqlite3_column_type(st, col) == SQLITE_INTEGER &&
               sqlite3_column_int64(st, col) == want;
    }
    double want;
    memcpy(&want, p, sizeof want);
    return sqlite3_column_type(st, col) == SQLITE_FLOAT && sqlite3_column_double(st, col) == want;
}

/* Rows come back by id (the row number); every column compared. */
static int rows_match(sqlite3 *db, mg_record *const *recs, int n)
{
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(db, "SELECT * FROM requests ORDER BY id", -1, &st, NULL) ==
             SQLITE_OK;
    int r = 0;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        ok = r < n && sqlite3_column_count(st) == (int)mg_record_nfields;
        for (size_t i = 0; ok && i < mg_record_nfields; i++) {
            ok = column_matches(st, (int)i, recs[r], &mg_record_fields[i]);
            if (!ok)
                fprintf(stderr, "row %d column %s differs\n", r, mg_record_fields[i].name);
        }
        r++;
    }
    sqlite3_finalize(st);
    return ok && r == n;
}

static double query_double(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void free_all(mg_record **recs, int n)
{
    for (int i = 0; i < n; i++)
        mg_record_free(recs[i]);
}

/* 2 full multi-row groups and a tail written one by one, across sizes. */
static void test_every_column_round_trips(void)
{
    enum { N = 2 * MG_STORE_INSERT_ROWS + 5 };
    int sizes[] = {1, MG_STORE_INSERT_ROWS - 1, MG_STORE_INSERT_ROWS, N};
    for (size_t k = 0; k < MG_ARRAY_LEN(sizes); k++) {
        sqlite3 *db = open_migrated();
        mg_store_batch b;
        char err[MG_ERRLEN] = "";
        CHECK(mg_store_batch_init(&b, db, N, err) == MG_OK);
        mg_record *recs[N];
        for (int r = 0; r < sizes[k]; r++)
            recs[r] = full_record(r);
        CHECK(mg_store_batch_write(&b, recs, (size_t)sizes[k], err) == MG_OK);
        CHECK(rows_match(db, recs, sizes[k]));
        free_all(recs, sizes[k]);
        mg_store_batch_destroy(&b);
        sqlite3_close(db);
    }
}

/* Records out of rollup order (as several workers would queue them): the
 * rollups still equal the rows grouped. */
static void test_rollups_equal_rows_in_any_order(void)
{
    enum { N = 3 * MG_STORE_INSERT_ROWS + 3 };
    static const char *const providers[] = {"b", "a", "c"};
    sqlite3 *db = open_migrated();
    mg_store_batch b;
    char err[MG_ERRLEN] = "";
    CHECK(mg_store_batch_init(&b, db, N, err) == MG_OK);
    mg_record *recs[N];
    for (int r = 0; r < N; r++) {
        recs[r] = full_record(r);
        recs[r]->ts_ms = BASE_TS_MS + (r % 2) * 60000LL;
        mg_record_set_text(&recs[r]->provider, providers[r % 3]);
        mg_record_set_text(&recs[r]->status, r % 4 ? "success" : "error");
        mg_record_set_text(&recs[r]->key_id, NULL);
    }
    CHECK(mg_store_batch_write(&b, recs, N, err) == MG_OK);
    /* A second, sorted batch adds onto the same groups. */
    mg_record *more[2] = {full_record(100), full_record(101)};
    for (int i = 0; i < 2; i++) {
        more[i]->ts_ms = BASE_TS_MS;
        mg_record_set_text(&more[i]->provider, "a");
        mg_record_set_text(&more[i]->status, "success");
        mg_record_set_text(&more[i]->key_id, NULL);
    }
    CHECK(mg_store_batch_write(&b, more, 2, err) == MG_OK);
    CHECK_EQ_INT(query_double(db, "SELECT sum(requests) FROM rollup_minute"), N + 2);
    const char *mismatches =
        "SELECT count(*) FROM (SELECT ts_ms / 60000 AS minute, coalesce(provider, '') AS p,"
        " coalesce(model_routed, '') AS m, coalesce(key_id, '') AS k, coalesce(status, '') AS s,"
        " coalesce(environment, '') AS e, count(*) AS n, sum(status != 'success') AS errs,"
        " sum(tokens_input) AS ti, sum(cost) AS c, sum(duration_ms) AS d FROM requests"
        " GROUP BY 1, 2, 3, 4, 5, 6) g LEFT JOIN rollup_minute r ON r.minute = g.minute AND"
        " r.provider = g.p AND r.model = g.m AND r.key_id = g.k AND r.status = g.s AND"
        " r.environment = g.e WHERE r.requests IS NOT g.n OR r.errors IS NOT g.errs OR"
        " r.tokens_input IS NOT g.ti OR abs(r.cost - g.c) > 1e-9 OR"
        " abs(r.duration_ms_sum - g.d) > 1e-9";
    CHECK_EQ_INT(query_double(db, mismatches), 0);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM rollup_minute"),
                 query_double(db, "SELECT count(*) FROM (SELECT DISTINCT ts_ms / 60000,"
                                  " provider, model_routed, key_id, status, environment"
                                  " FROM requests)"));
    free_all(recs, N);
    free_all(more, 2);
    mg_store_batch_destroy(&b);
    sqlite3_close(db);
}

/* A duplicate id inside a multi-row group fails the batch as a constraint
 * (so the writer retries one by one) and leaves nothing behind. */
static void test_bad_row_in_group_rolls_back(void)
{
    enum { N = MG_STORE_INSERT_ROWS + 2 };
    sqlite3 *db = open_migrated();
    mg_store_batch b;
    char err[MG_ERRLEN] = "";
    CHECK(mg_store_batch_init(&b, db, N, err) == MG_OK);
    mg_record *recs[N];
    for (int r = 0; r < N; r++)
        recs[r] = full_record(r);
    mg_record_set_text(&recs[5]->id, recs[3]->id);
    CHECK(mg_store_batch_write(&b, recs, N, err) == MG_ERR);
    CHECK_EQ_INT(b.last_code, SQLITE_CONSTRAINT);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM requests"), 0);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM rollup_minute"), 0);
    /* The statements stay usable: the good rows go in afterwards. */
    mg_record_set_text(&recs[5]->id, "ffffffffffffffffffffffffffffffff");
    CHECK(mg_store_batch_write(&b, recs, N, err) == MG_OK);
    CHECK_EQ_INT(query_double(db, "SELECT count(*) FROM requests"), N);
    free_all(recs, N);
    mg_store_batch_destroy(&b);
    sqlite3_close(db);
}

TEST_MAIN(T(test_every_column_round_trips), T(test_rollups_equal_rows_in_any_order),
          T(test_bad_row_in_group_rolls_back))
