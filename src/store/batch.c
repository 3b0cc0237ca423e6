/* batch.c — one transaction per batch: prepared INSERTs of the records (the
 * column list generated from mg_record_fields, so the SQL follows the
 * record) and one rollup upsert per (minute, provider, model, key, status,
 * environment) group. See batch.h.
 * Rows go in MG_STORE_INSERT_ROWS at a time through one multi-row INSERT:
 * each statement run opens, seeks and closes a cursor per index and halts
 * the VM, which cost as much as the row itself when done per record. */
#include "batch.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "store_util.h"

static const char ROLLUP_SQL[] =
    "INSERT INTO rollup_minute (minute, provider, model, key_id, status, environment,"
    " requests, errors, tokens_input, tokens_output, tokens_reasoning, tokens_cached_read,"
    " tokens_cache_write, cost, savings, duration_ms_sum, ttft_ms_sum)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
    " ON CONFLICT (minute, provider, model, key_id, status, environment) DO UPDATE SET"
    " requests = requests + excluded.requests,"
    " errors = errors + excluded.errors,"
    " tokens_input = tokens_input + excluded.tokens_input,"
    " tokens_output = tokens_output + excluded.tokens_output,"
    " tokens_reasoning = tokens_reasoning + excluded.tokens_reasoning,"
    " tokens_cached_read = tokens_cached_read + excluded.tokens_cached_read,"
    " tokens_cache_write = tokens_cache_write + excluded.tokens_cache_write,"
    " cost = cost + excluded.cost,"
    " savings = savings + excluded.savings,"
    " duration_ms_sum = duration_ms_sum + excluded.duration_ms_sum,"
    " ttft_ms_sum = ttft_ms_sum + excluded.ttft_ms_sum";

/* Sums of one rollup group within a batch. */
typedef struct rollup_sum {
    int64_t requests, errors;
    int64_t tokens_input, tokens_output, tokens_reasoning, tokens_cached_read, tokens_cache_write;
    double cost, savings, duration_ms, ttft_ms;
} rollup_sum;

/* INSERT INTO requests (...) VALUES (?, ...), ... with rows row groups. */
static char *insert_sql(size_t rows)
{
    mg_buf sql = {0};
    mg_buf_append_str(&sql, "INSERT INTO requests (");
    for (size_t i = 0; i < mg_record_nfields; i++)
        mg_buf_printf(&sql, "%s%s", i ? ", " : "", mg_record_fields[i].name);
    mg_buf_append_str(&sql, ") VALUES ");
    for (size_t r = 0; r < rows; r++) {
        mg_buf_append_str(&sql, r ? ", (" : "(");
        for (size_t i = 0; i < mg_record_nfields; i++)
            mg_buf_append_str(&sql, i ? ", ?" : "?");
        mg_buf_append_str(&sql, ")");
    }
    char *text = mg_xstrndup(sql.data, sql.len);
    mg_buf_free(&sql);
    return text;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, const char *what, char *err)
{
    /* PERSISTENT: these live as long as the writer. */
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) == SQLITE_OK)
        return MG_OK;
    mg_store_set_err(err, "preparing %s: %s", what, sqlite3_errmsg(db));
    return MG_ERR;
}

int mg_store_batch_init(mg_store_batch *b, sqlite3 *db, size_t max, char *err)
{
    memset(b, 0, sizeof *b);
    b->db = db;
    char *insert = insert_sql(1), *insert_many = insert_sql(MG_STORE_INSERT_ROWS);
    int rc = MG_ERR;
    if (prepare(db, "BEGIN IMMEDIATE", &b->begin, "BEGIN", err) == MG_OK &&
        prepare(db, "COMMIT", &b->commit, "COMMIT", err) == MG_OK &&
        prepare(db, "ROLLBACK", &b->rollback, "ROLLBACK", err) == MG_OK &&
        prepare(db, insert, &b->insert, "the requests insert", err) == MG_OK &&
        prepare(db, insert_many, &b->insert_many, "the requests insert", err) == MG_OK &&
        prepare(db, ROLLUP_SQL, &b->rollup, "the rollup upsert", err) == MG_OK)
        rc = MG_OK;
    free(insert);
    free(insert_many);
    if (rc != MG_OK) {
        mg_store_batch_destroy(b);
        return MG_ERR;
    }
    b->max = max;
    b->by_key = mg_xcalloc(max ? max : 1, sizeof *b->by_key);
    return MG_OK;
}

void mg_store_batch_destroy(mg_store_batch *b)
{
    sqlite3_finalize(b->begin);
    sqlite3_finalize(b->commit);
    sqlite3_finalize(b->rollback);
    sqlite3_finalize(b->insert);
    sqlite3_finalize(b->insert_many);
    sqlite3_finalize(b->rollup);
    free(b->by_key);
    memset(b, 0, sizeof *b);
}

/* Runs a statement that returns no rows, leaving it reset for reuse. */
static int run(mg_store_batch *b, sqlite3_stmt *st, const char *what, char *err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return MG_OK;
    }
    b->last_code = rc & 0xff;
    mg_store_set_err(err, "%s: %s", what, sqlite3_errmsg(b->db));
    sqlite3_reset(st);
    return MG_ERR;
}

/* Binds r as the row group starting at parameter first + 1. */
static void bind_record(sqlite3_stmt *st, const mg_record *r, int first)
{
    for (size_t i = 0; i < mg_record_nfields; i++) {
        const mg_record_field *f = &mg_record_fields[i];
        const char *p = (const char *)r + f->offset;
        int col = first + (int)i + 1;
        if (f->kind == MG_REC_TEXT) {
            const char *s = *(char *const *)p;
            /* STATIC: the record outlives the step. */
            if (s)
                sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, col);
        } else if (f->kind == MG_REC_INT) {
            sqlite3_bind_int64(st, col, *(const int64_t *)p);
        } else {
            sqlite3_bind_double(st, col, *(const double *)p);
        }
    }
}

static const char *or_empty(const char *s) { return s ? s : ""; }

static int64_t minute_of(int64_t ts_ms)
{
    int64_t m = ts_ms / 60000;
    return (ts_ms % 60000 < 0) ? m - 1 : m; /* floor, also before 1970 */
}

/* Orders records by rollup key so each group is one run. */
static int rollup_key_cmp(const void *pa, const void *pb)
{
    const mg_record *a = *(const mg_record *const *)pa, *b = *(const mg_record *const *)pb;
    int64_t ma = minute_of(a->ts_ms), mb = minute_of(b->ts_ms);
    if (ma != mb)
        return ma < mb ? -1 : 1;
    int c;
    if ((c = strcmp(or_empty(a->provider), or_empty(b->provider))) != 0 ||
        (c = strcmp(or_empty(a->model_routed), or_empty(b->model_routed))) != 0 ||
        (c = strcmp(or_empty(a->key_id), or_empty(b->key_id))) != 0 ||
        (c = strcmp(or_empty(a->status), or_empty(b->status))) != 0)
        return c;
    return strcmp(or_empty(a->environment), or_empty(b->environment));
}

/* A NaN or infinite value would turn the whole minute's sum into NULL. */
static double finite_or_zero(double d) { return isfinite(d) ? d : 0.0; }

static void rollup_add(rollup_sum *sum, const mg_record *r)
{
    sum->requests++;
    sum->errors += !(r->status && strcmp(r->status, "success") == 0);
    sum->tokens_input += r->tokens_input;
    sum->tokens_output += r->tokens_output;
    sum->tokens_reasoning += r->tokens_reasoning;
    sum->tokens_cached_read += r->tokens_cached_read;
    sum->tokens_cache_write += r->tokens_cache_write;
    sum->cost += finite_or_zero(r->cost);
    sum->savings += finite_or_zero(r->savings);
    sum->duration_ms += finite_or_zero(r->duration_ms);
    sum->ttft_ms += finite_or_zero(r->ttft_ms);
}

static void bind_rollup(sqlite3_stmt *st, const mg_record *key, const rollup_sum *sum)
{
    sqlite3_bind_int64(st, 1, minute_of(key->ts_ms));
    sqlite3_bind_text(st, 2, or_empty(key->provider), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, or_empty(key->model_routed), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, or_empty(key->key_id), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, or_empty(key->status), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, or_empty(key->environment), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, sum->requests);
    sqlite3_bind_int64(st, 8, sum->errors);
    sqlite3_bind_int64(st, 9, sum->tokens_input);
    sqlite3_bind_int64(st, 10, sum->tokens_output);
    sqlite3_bind_int64(st, 11, sum->tokens_reasoning);
    sqlite3_bind_int64(st, 12, sum->tokens_cached_read);
    sqlite3_bind_int64(st, 13, sum->tokens_cache_write);
    sqlite3_bind_double(st, 14, sum->cost);
    sqlite3_bind_double(st, 15, sum->savings);
    sqlite3_bind_double(st, 16, sum->duration_ms);
    sqlite3_bind_double(st, 17, sum->ttft_ms);
}

static int write_rollups(mg_store_batch *b, mg_record *const *recs, size_t n, char *err)
{
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
        b->by_key[i] = recs[i];
        if (sorted && i && rollup_key_cmp(&b->by_key[i - 1], &b->by_key[i]) > 0)
            sorted = 0;
    }
    /* A batch is mostly one group in arrival order: then no sort is needed. */
    if (!sorted)
        qsort(b->by_key, n, sizeof *b->by_key, rollup_key_cmp);
    size_t start = 0;
    while (start < n) {
        rollup_sum sum = {0};
        size_t end = start;
        while (end < n && rollup_key_cmp(&b->by_key[start], &b->by_key[end]) == 0)
            rollup_add(&sum, b->by_key[end++]);
        bind_rollup(b->rollup, b->by_key[start], &sum);
        if (run(b, b->rollup, "updating rollup_minute", err) != MG_OK)
            return MG_ERR;
        start = end;
    }
    return MG_OK;
}

/* Full groups of MG_STORE_INSERT_ROWS through the multi-row statement, the
 * rest one by one; rows keep their order. */
static int insert_records(mg_store_batch *b, mg_record *const *recs, size_t n, char *err)
{
    const int per_row = (int)mg_record_nfields;
    size_t i = 0;
    for (; i + MG_STORE_INSERT_ROWS <= n; i += MG_STORE_INSERT_ROWS) {
        for (size_t j = 0; j < MG_STORE_INSERT_ROWS; j++)
            bind_record(b->insert_many, recs[i + j], (int)j * per_row);
        if (run(b, b->insert_many, "inserting into requests", err) != MG_OK)
            return MG_ERR;
    }
    for (; i < n; i++) {
        bind_record(b->insert, recs[i], 0);
        if (run(b, b->insert, "inserting into requests", err) != MG_OK)
            return MG_ERR;
    }
    return MG_OK;
}

int mg_store_batch_write(mg_store_batch *b, mg_record *const *recs, size_t n, char *err)
{
    if (n > b->max) {
        mg_store_set_err(err, "batch of %zu records exceeds its maximum %zu", n, b->max);
        b->last_code = SQLITE_MISUSE;
        return MG_ERR;
    }
    if (run(b, b->begin, "starting the batch", err) != MG_OK)
        return MG_ERR;
    int rc = insert_records(b, recs, n, err);
    if (rc == MG_OK)
        rc = write_rollups(b, recs, n, err);
    if (rc == MG_OK)
        rc = run(b, b->commit, "committing the batch", err);
    if (rc != MG_OK && !sqlite3_get_autocommit(b->db)) {
        sqlite3_step(b->rollback);
        sqlite3_reset(b->rollback);
    }
    /* The bindings point into records the caller is about to free. */
    sqlite3_clear_bindings(b->insert);
    sqlite3_clear_bindings(b->insert_many);
    sqlite3_clear_bindings(b->rollup);
    return rc;
}
