/* ep_series.c — analytics/timeseries and analytics/token-breakdown: sums
 * per time bucket (UTC minute, hour or day) with empty buckets present as
 * zeros. The range widens to whole buckets: [floor(from), ceil(to)). When
 * no filter needs per-request columns (user, session, cost, latency), the
 * sums come from rollup_minute (fast at millions of rows); otherwise from
 * `requests`. Both give the same numbers, since the writer keeps rollups
 * in the same transaction as the rows.
 *
 * analytics/timeseries?metric=requests|errors|cost|savings|tokens|
 *   tokens_input|tokens_output|duration_ms_avg&bucket=minute|hour|day
 *   [&source=auto|requests] → {from, to, metric, bucket, bucket_ms, source,
 *   points: [{t, value}]}  (t: bucket start, epoch ms; defaults: requests, hour)
 * analytics/token-breakdown?bucket=… → {from, to, bucket, bucket_ms, source,
 *   totals: {input, output, reasoning, cached_read, cache_write},
 *   points: [{t, input, output, reasoning, cached_read, cache_write}]}
 * Uses sql.c, filter.c, json.c (see an.h). */
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define MAX_BUCKETS 50000

static const char *const BUCKET_NAMES[] = {"minute", "hour", "day", NULL};
static const int64_t BUCKET_MS[] = {60000, 3600000, 86400000};

static const char *const METRICS[] = {"requests",     "errors",        "cost",
                                      "savings",      "tokens",        "tokens_input",
                                      "tokens_output", "duration_ms_avg", NULL};
enum { M_REQUESTS, M_ERRORS, M_COST, M_SAVINGS, M_TOKENS, M_TIN, M_TOUT, M_DURATION_AVG };

static const char *const SOURCES[] = {"auto", "requests", NULL};

/* Sums of one bucket, in the column order of the SELECTs below. */
typedef struct bucket {
    int64_t requests, errors, tin, tout, treason, tcread, tcwrite;
    double cost, savings, duration_sum;
} bucket;

static const char REQUESTS_SUMS[] =
    " count(*), coalesce(sum(status IS NOT 'success'), 0), coalesce(sum(tokens_input), 0),"
    " coalesce(sum(tokens_output), 0), coalesce(sum(tokens_reasoning), 0),"
    " coalesce(sum(tokens_cached_read), 0), coalesce(sum(tokens_cache_write), 0),"
    " total(cost), total(savings), total(duration_ms) FROM requests";
static const char ROLLUP_SUMS[] =
    " sum(requests), sum(errors), sum(tokens_input), sum(tokens_output),"
    " sum(tokens_reasoning), sum(tokens_cached_read), sum(tokens_cache_write),"
    " total(cost), total(savings), total(duration_ms_sum) FROM rollup_minute";

/* Buckets of the widened range; owned array. */
typedef struct series {
    int64_t from, to, width;
    size_t n;
    bucket *b;
    int from_rollup;
} series;

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); }

/* Aligns the range and checks its size; MG_ERR with a 400. */
static int series_init(mg_an_ctx *c, int64_t width, series *s)
{
    memset(s, 0, sizeof *s);
    s->width = width;
    s->from = floor_div(c->filter->from_ms, width) * width;
    s->to = -floor_div(-c->filter->to_ms, width) * width;
    int64_t n = (s->to - s->from) / width;
    if (n > MAX_BUCKETS) {
        mg_an_fail(c->out, 400,
                   "parameter 'bucket': the range holds %lld buckets, more than %d; "
                   "use a larger bucket or a shorter range",
                   (long long)n, MAX_BUCKETS);
        return MG_ERR;
    }
    s->n = (size_t)n;
    s->b = mg_xcalloc(s->n, sizeof *s->b);
    return MG_OK;
}

static void build_query(mg_an_ctx *c, series *s, mg_an_sql *q)
{
    mg_an_filter aligned = *c->filter;
    aligned.from_ms = s->from;
    aligned.to_ms = s->to;
    if (s->from_rollup) {
        mg_an_sql_add(q, "SELECT (minute * 60000 - ");
        mg_an_sql_int(q, s->from);
        mg_an_sql_add(q, ") / ");
        mg_an_sql_int(q, s->width);
        mg_an_sql_add(q, " AS b,");
        mg_an_sql_add(q, ROLLUP_SUMS);
        /* Bucket edges are whole minutes, so the minute range is exact. */
        mg_an_where_rollup(q, &aligned, s->from / 60000, s->to / 60000);
    } else {
        mg_an_sql_add(q, "SELECT (ts_ms - ");
        mg_an_sql_int(q, s->from);
        mg_an_sql_add(q, ") / ");
        mg_an_sql_int(q, s->width);
        mg_an_sql_add(q, " AS b,");
        mg_an_sql_add(q, REQUESTS_SUMS);
        mg_an_where_requests(q, &aligned, 0);
    }
    mg_an_sql_add(q, " GROUP BY b");
}

static void read_bucket(sqlite3_stmt *st, bucket *b)
{
    b->requests = sqlite3_column_int64(st, 1);
    b->errors = sqlite3_column_int64(st, 2);
    b->tin = sqlite3_column_int64(st, 3);
    b->tout = sqlite3_column_int64(st, 4);
    b->treason = sqlite3_column_int64(st, 5);
    b->tcread = sqlite3_column_int64(st, 6);
    b->tcwrite = sqlite3_column_int64(st, 7);
    b->cost = sqlite3_column_double(st, 8);
    b->savings = sqlite3_column_double(st, 9);
    b->duration_sum = sqlite3_column_double(st, 10);
}

/* Fills s (its buckets owned by the caller on MG_OK). */
static int series_load(mg_an_ctx *c, int64_t width, int force_requests, series *s)
{
    if (series_init(c, width, s) != MG_OK)
        return MG_ERR;
    s->from_rollup = !force_requests && mg_an_filter_rollup_ok(c->filter);
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    build_query(c, s, &q);
    int rc = mg_an_prepare(c->db, &q, &st, c->out), step = SQLITE_DONE;
    while (rc == MG_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t i = sqlite3_column_int64(st, 0);
        if (i >= 0 && (uint64_t)i < s->n)
            read_bucket(st, &s->b[i]);
    }
    if (rc == MG_OK && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "summing time buckets", c->out);
        rc = MG_ERR;
    }
    sqlite3_finalize(st);
    mg_an_sql_free(&q);
    if (rc != MG_OK) {
        free(s->b);
        s->b = NULL;
    }
    return rc;
}

/* Reads bucket=… (default hour) and source=… (default auto). */
static int series_params(mg_an_ctx *c, int *bucket_index, int *source)
{
    *bucket_index = 1;
    *source = 0;
    if (mg_an_param_enum(c->params, "bucket", BUCKET_NAMES, bucket_index, c->out) != MG_OK ||
        mg_an_param_enum(c->params, "source", SOURCES, source, c->out) != MG_OK)
        return MG_ERR;
    return MG_OK;
}

/* The reply's opening, shared by both endpoints: the range is the widened one. */
static void series_head(mg_an_ctx *c, const series *s, int bucket_index, mg_an_json *w)
{
    c->filter->from_ms = s->from;
    c->filter->to_ms = s->to;
    mg_an_begin_json(c, w, 1);
    mg_an_json_str(w, "bucket", BUCKET_NAMES[bucket_index]);
    mg_an_json_int(w, "bucket_ms", s->width);
    mg_an_json_str(w, "source", s->from_rollup ? "rollup" : "requests");
}

static void metric_value(mg_an_json *w, int metric, const bucket *b)
{
    switch (metric) {
    case M_REQUESTS: mg_an_json_int(w, "value", b->requests); break;
    case M_ERRORS: mg_an_json_int(w, "value", b->errors); break;
    case M_COST: mg_an_json_real(w, "value", b->cost); break;
    case M_SAVINGS: mg_an_json_real(w, "value", b->savings); break;
    case M_TOKENS: mg_an_json_int(w, "value", b->tin + b->tout); break;
    case M_TIN: mg_an_json_int(w, "value", b->tin); break;
    case M_TOUT: mg_an_json_int(w, "value", b->tout); break;
    default:
        mg_an_json_real(w, "value", mg_an_ratio(b->duration_sum, (double)b->requests));
    }
}

int mg_an_ep_timeseries(mg_an_ctx *c)
{
    int bucket_index, source, metric = M_REQUESTS;
    series s;
    if (series_params(c, &bucket_index, &source) != MG_OK ||
        mg_an_param_enum(c->params, "metric", METRICS, &metric, c->out) != MG_OK ||
        series_load(c, BUCKET_MS[bucket_index], source == 1, &s) != MG_OK)
        return MG_ERR; /* a failed series_load keeps no buckets */
    mg_an_json w;
    series_head(c, &s, bucket_index, &w);
    mg_an_json_str(&w, "metric", METRICS[metric]);
    mg_an_json_arr(&w, "points");
    for (size_t i = 0; i < s.n; i++) {
        mg_an_json_obj(&w, NULL);
        mg_an_json_int(&w, "t", s.from + (int64_t)i * s.width);
        metric_value(&w, metric, &s.b[i]);
        mg_an_json_end(&w);
    }
    mg_an_end_json(c, &w);
    free(s.b);
    return MG_OK;
}

static void token_kinds(mg_an_json *w, const bucket *b)
{
    mg_an_json_int(w, "input", b->tin);
    mg_an_json_int(w, "output", b->tout);
    mg_an_json_int(w, "reasoning", b->treason);
    mg_an_json_int(w, "cached_read", b->tcread);
    mg_an_json_int(w, "cache_write", b->tcwrite);
}

int mg_an_ep_token_breakdown(mg_an_ctx *c)
{
    int bucket_index, source;
    series s;
    if (series_params(c, &bucket_index, &source) != MG_OK ||
        series_load(c, BUCKET_MS[bucket_index], source == 1, &s) != MG_OK)
        return MG_ERR;
    bucket total = {0};
    for (size_t i = 0; i < s.n; i++) {
        total.tin += s.b[i].tin;
        total.tout += s.b[i].tout;
        total.treason += s.b[i].treason;
        total.tcread += s.b[i].tcread;
        total.tcwrite += s.b[i].tcwrite;
    }
    mg_an_json w;
    series_head(c, &s, bucket_index, &w);
    mg_an_json_obj(&w, "totals");
    token_kinds(&w, &total);
    mg_an_json_end(&w);
    mg_an_json_arr(&w, "points");
    for (size_t i = 0; i < s.n; i++) {
        mg_an_json_obj(&w, NULL);
        mg_an_json_int(&w, "t", s.from + (int64_t)i * s.width);
        token_kinds(&w, &s.b[i]);
        mg_an_json_end(&w);
    }
    mg_an_end_json(c, &w);
    free(s.b);
    return MG_OK;
}
