/* an.h — internals of the analytics engine shared by its files: the reply
 * being built, the parsed query string, the common filters, a bound-SQL
 * builder, a small JSON writer and the endpoint handlers. Everything here
 * runs on the reader thread; loop threads only enter analytics.c.
 * Uses SQLite and core (buf). */
#ifndef MG_AN_H
#define MG_AN_H

#include <sqlite3.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/common.h"
#include "analytics.h"

/* ---- the reply ---------------------------------------------------------- */

/* Built by one endpoint run; owned by its job (analytics.c). */
typedef struct mg_an_result {
    int status;               /* HTTP status; 0 until an endpoint sets it */
    const char *content_type; /* static string */
    mg_buf body;
    mg_buf headers;           /* extra "Name: value\r\n" lines */
    int truncated;
} mg_an_result;

void mg_an_result_free(mg_an_result *r);
/* Replace whatever the body holds with {"error":{"message":..,"code":status}}. */
void mg_an_fail(mg_an_result *r, int status, const char *fmt, ...) MG_PRINTF(3, 4);

/* ---- the query string (params.c) --------------------------------------- */

#define MG_AN_QUERY_MAX MG_ANALYTICS_QUERY_MAX /* bytes of raw query string accepted */
#define MG_AN_PARAMS_MAX 64  /* name=value pairs accepted */

typedef struct mg_an_pair {
    char *name, *value; /* URL-decoded, NUL-terminated, owned by the params */
} mg_an_pair;

typedef struct mg_an_params {
    mg_an_pair items[MG_AN_PARAMS_MAX];
    size_t n;
} mg_an_params;

/* Splits and decodes a raw query string. MG_OK, or MG_ERR with a 400 in r
 * (bad %-escape, NUL byte, too long, too many, a name given twice). */
int mg_an_params_parse(mg_an_params *p, const char *qs, mg_an_result *r);
void mg_an_params_free(mg_an_params *p);
/* The value of name, or NULL when absent or empty. */
const char *mg_an_param(const mg_an_params *p, const char *name);

/* Typed lookups: MG_OK with *out set (left untouched when absent), or
 * MG_ERR with a 400 naming the parameter in r. */
int mg_an_param_int(const mg_an_params *p, const char *name, int64_t lo, int64_t hi,
                    int64_t *out, mg_an_result *r);
int mg_an_param_real(const mg_an_params *p, const char *name, double *out, int *given,
                     mg_an_result *r);
/* Epoch ms (digits, optional '-') or ISO 8601 "YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH[:]MM]". */
int mg_an_param_time(const mg_an_params *p, const char *name, int64_t *out, int *given,
                     mg_an_result *r);
/* One of a NULL-terminated list of words; *index gets its position. */
int mg_an_param_enum(const mg_an_params *p, const char *name, const char *const *words,
                     int *index, mg_an_result *r);

/* ---- common filters (filter.c) ----------------------------------------- */

enum mg_an_text_filter {
    MG_AN_F_PROVIDER, MG_AN_F_MODEL, MG_AN_F_KEY, MG_AN_F_USER,
    MG_AN_F_STATUS, MG_AN_F_ENVIRONMENT, MG_AN_F_SESSION, MG_AN_F_NTEXT
};
enum mg_an_num_filter {
    MG_AN_F_MIN_COST, MG_AN_F_MAX_COST, MG_AN_F_MIN_LATENCY, MG_AN_F_MAX_LATENCY,
    MG_AN_F_NNUM
};

typedef struct mg_an_filter {
    int64_t from_ms, to_ms;              /* [from, to) */
    const char *text[MG_AN_F_NTEXT];     /* borrowed from the params; NULL = any */
    double num[MG_AN_F_NNUM];
    int has_num[MG_AN_F_NNUM];
} mg_an_filter;

#define MG_AN_DEFAULT_RANGE_MS (24LL * 3600 * 1000)

/* Reads the common filters; MG_OK or MG_ERR with a 400 in r. */
int mg_an_filter_parse(mg_an_filter *f, const mg_an_params *p, int64_t now_ms,
                       mg_an_result *r);
/* 1 when rollup_minute can answer (no user, session, cost or latency filter). */
int mg_an_filter_rollup_ok(const mg_an_filter *f);

/* ---- bound SQL (sql.c) ------------------------------------------------- */

#define MG_AN_BINDS_MAX 48

typedef struct mg_an_bind {
    int kind; /* SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT */
    int64_t i;
    double d;
    const char *s; /* borrowed: must outlive the statement's steps */
} mg_an_bind;

/* SQL text from trusted code, plus values that are only ever bound. */
typedef struct mg_an_sql {
    mg_buf text;
    mg_an_bind binds[MG_AN_BINDS_MAX];
    int nbinds;
} mg_an_sql;

void mg_an_sql_free(mg_an_sql *q);
void mg_an_sql_add(mg_an_sql *q, const char *trusted_sql);
/* Append "?" and remember the value. */
void mg_an_sql_int(mg_an_sql *q, int64_t v);
void mg_an_sql_real(mg_an_sql *q, double v);
void mg_an_sql_text(mg_an_sql *q, const char *v);

#define MG_AN_NO_TIME 1 /* where-builder flag: leave out the ts_ms range */
/* Append " WHERE <filters>" over `requests` (always at least "1"). */
void mg_an_where_requests(mg_an_sql *q, const mg_an_filter *f, int flags);
/* Append " WHERE minute >= ? AND minute < ? AND <filters>" over rollup_minute. */
void mg_an_where_rollup(mg_an_sql *q, const mg_an_filter *f, int64_t from_min,
                        int64_t to_min);

/* source.c: append " FROM (…)" — rows shaped like rollup_minute (provider,
 * model, key_id, status, environment with '' for none; requests, errors,
 * tokens_input, tokens_output, tokens_reasoning, tokens_cached_read,
 * tokens_cache_write, cost, savings, duration_ms_sum, ttft_ms_sum) over the
 * filtered range: rollups for whole minutes, `requests` for the partial
 * edge minutes, or `requests` alone when a filter needs it. Exact. */
void mg_an_from_sums(mg_an_sql *q, const mg_an_filter *f);

/* Prepare q on db and bind its values. MG_OK, or MG_ERR with r filled. */
int mg_an_prepare(sqlite3 *db, const mg_an_sql *q, sqlite3_stmt **st, mg_an_result *r);
/* After a failed step: 503 when interrupted (cancel, timeout), else 500. */
void mg_an_sql_fail(sqlite3 *db, const char *what, mg_an_result *r);
/* Run a one-row statement q; MG_OK with *st positioned on the row (the
 * caller finalizes), MG_ERR with r filled. */
int mg_an_one_row(sqlite3 *db, const mg_an_sql *q, sqlite3_stmt **st, mg_an_result *r);

struct mg_an_json;
/* Runs q and writes its rows as an array `key` of objects whose keys are
 * names[i] for column i (NULL-terminated). MG_OK, or MG_ERR with r filled
 * (the body is then the error reply). */
int mg_an_emit_rows(sqlite3 *db, const mg_an_sql *q, struct mg_an_json *w, const char *key,
                    const char *const *names, mg_an_result *r);

/* ---- JSON writer (json.c) ---------------------------------------------- */

#define MG_AN_JSON_DEPTH 16

/* Tracks commas; keys are NULL inside arrays. */
typedef struct mg_an_json {
    mg_buf *b;
    int depth;
    unsigned char has_items[MG_AN_JSON_DEPTH];
    char closer[MG_AN_JSON_DEPTH]; /* '}' or ']' per open scope */
} mg_an_json;

void mg_an_json_init(mg_an_json *w, mg_buf *b);
void mg_an_json_obj(mg_an_json *w, const char *key);
void mg_an_json_arr(mg_an_json *w, const char *key);
void mg_an_json_end(mg_an_json *w); /* closes the innermost scope */
void mg_an_json_int(mg_an_json *w, const char *key, int64_t v);
void mg_an_json_real(mg_an_json *w, const char *key, double v); /* non-finite → null */
void mg_an_json_str(mg_an_json *w, const char *key, const char *s); /* NULL → null */
void mg_an_json_bool(mg_an_json *w, const char *key, int v);
void mg_an_json_null(mg_an_json *w, const char *key);
/* Column i of the current row by its SQLite type (NULL → null). */
void mg_an_json_col(mg_an_json *w, const char *key, sqlite3_stmt *st, int i);
/* A ratio that is 0 when the denominator is 0. */
double mg_an_ratio(double num, double den);

/* ---- percentiles (ep_summary.c) ---------------------------------------- */

/* Nearest-rank p50/p95/p99 picked while stepping through n sorted values. */
typedef struct mg_an_pct {
    int64_t n, seen;
    int64_t rank[3]; /* 1-based */
    double value[3];
} mg_an_pct;

void mg_an_pct_start(mg_an_pct *p, int64_t n);
void mg_an_pct_feed(mg_an_pct *p, double v);
/* Writes "p50_duration_ms", "p95_duration_ms", "p99_duration_ms" (null when
 * n is 0). */
void mg_an_pct_json(const mg_an_pct *p, mg_an_json *w);

/* ---- endpoints --------------------------------------------------------- */

/* What every endpoint handler gets. All pointers are borrowed. */
typedef struct mg_an_ctx {
    sqlite3 *db;
    const char *db_path;
    const mg_an_params *params;
    mg_an_filter *filter;
    int64_t now_ms;
    mg_an_result *out;
} mg_an_ctx;

/* Each fills c->out (status 200 on success) and returns MG_OK, or MG_ERR
 * with an error reply already in c->out. */
int mg_an_ep_summary(mg_an_ctx *c);
int mg_an_ep_model_comparison(mg_an_ctx *c);
int mg_an_ep_timeseries(mg_an_ctx *c);
int mg_an_ep_token_breakdown(mg_an_ctx *c);
int mg_an_ep_models(mg_an_ctx *c);
int mg_an_ep_cost_breakdown(mg_an_ctx *c);
int mg_an_ep_savings(mg_an_ctx *c);
int mg_an_ep_errors(mg_an_ctx *c);
int mg_an_ep_providers(mg_an_ctx *c);
int mg_an_ep_leaderboard(mg_an_ctx *c);
int mg_an_ep_requests(mg_an_ctx *c);
int mg_an_ep_request(mg_an_ctx *c);
int mg_an_ep_export(mg_an_ctx *c);
int mg_an_ep_system_db(mg_an_ctx *c);

/* Start a 200 JSON body and return a writer already inside the top object
 * with "from"/"to" written (filters echo). */
void mg_an_begin_json(mg_an_ctx *c, mg_an_json *w, int with_range);
void mg_an_end_json(mg_an_ctx *c, mg_an_json *w); /* closes every open scope */

/* dispatch.c: run one query on the reader's connection, filling r. */
void mg_an_execute(sqlite3 *db, const char *db_path, const char *endpoint, const char *qs,
                   mg_an_result *r);

#endif
