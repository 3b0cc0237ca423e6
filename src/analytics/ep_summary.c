/* ep_summary.c — analytics/summary and analytics/model-comparison, the two
 * endpoints with latency percentiles, and the nearest-rank percentile
 * picker they share. Percentiles are read while stepping through
 * duration_ms in SQL order, so no value array is held in C.
 *
 * analytics/summary → {from, to, requests, errors, error_rate, tokens_input,
 *   tokens_output, tokens_total, cost, savings, avg_duration_ms,
 *   p50_duration_ms, p95_duration_ms, p99_duration_ms, avg_ttft_ms}
 *   (avg_ttft_ms over rows with ttft_ms > 0; percentiles over rows with a
 *   duration; errors are rows whose status is not "success").
 * analytics/model-comparison → {from, to, models: [{model, requests,
 *   avg_cost, tokens_per_request, error_rate, p50/p95/p99_duration_ms}]}
 *   most requests first, at most MODELS_MAX models.
 * Uses sql.c, filter.c, json.c (see an.h). */
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define MODELS_MAX 1000

static const double PCT_POINTS[3] = {0.50, 0.95, 0.99};
static const char *const PCT_KEYS[3] = {"p50_duration_ms", "p95_duration_ms",
                                         "p99_duration_ms"};

void mg_an_pct_start(mg_an_pct *p, int64_t n)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    for (int i = 0; i < 3; i++) {
        /* Nearest rank: the smallest value with at least p·n values ≤ it.
         * Integer math on per-mille avoids 0.95·100 = 94.999… */
        int64_t permille = (int64_t)(PCT_POINTS[i] * 1000 + 0.5);
        int64_t rank = (permille * n + 999) / 1000;
        p->rank[i] = rank < 1 ? 1 : rank;
    }
}

void mg_an_pct_feed(mg_an_pct *p, double v)
{
    p->seen++;
    for (int i = 0; i < 3; i++) {
        if (p->seen == p->rank[i])
            p->value[i] = v;
    }
}

void mg_an_pct_json(const mg_an_pct *p, mg_an_json *w)
{
    for (int i = 0; i < 3; i++) {
        if (p->n > 0 && p->seen >= p->rank[i])
            mg_an_json_real(w, PCT_KEYS[i], p->value[i]);
        else
            mg_an_json_null(w, PCT_KEYS[i]);
    }
}

/* ---- analytics/summary ------------------------------------------------------ */

static const char SUMMARY_SQL[] =
    "SELECT count(*), coalesce(sum(status IS NOT 'success'), 0),"
    " coalesce(sum(tokens_input), 0), coalesce(sum(tokens_output), 0),"
    " total(cost), total(savings), avg(duration_ms),"
    " avg(CASE WHEN ttft_ms > 0 THEN ttft_ms END), count(duration_ms)"
    " FROM requests";

/* Steps through the sorted durations of the filtered rows. */
static int summary_percentiles(mg_an_ctx *c, mg_an_pct *pct)
{
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT duration_ms FROM requests");
    mg_an_where_requests(&q, c->filter, 0);
    mg_an_sql_add(&q, " AND duration_ms IS NOT NULL ORDER BY duration_ms");
    int rc = mg_an_prepare(c->db, &q, &st, c->out);
    int step = SQLITE_DONE;
    while (rc == MG_OK && pct->seen < pct->rank[2] && (step = sqlite3_step(st)) == SQLITE_ROW)
        mg_an_pct_feed(pct, sqlite3_column_double(st, 0));
    if (rc == MG_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "reading durations", c->out);
        rc = MG_ERR;
    }
    sqlite3_finalize(st);
    mg_an_sql_free(&q);
    return rc;
}

int mg_an_ep_summary(mg_an_ctx *c)
{
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, SUMMARY_SQL);
    mg_an_where_requests(&q, c->filter, 0);
    int rc = mg_an_one_row(c->db, &q, &st, c->out);
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    int64_t requests = sqlite3_column_int64(st, 0), errors = sqlite3_column_int64(st, 1);
    int64_t tin = sqlite3_column_int64(st, 2), tout = sqlite3_column_int64(st, 3);
    double cost = sqlite3_column_double(st, 4), savings = sqlite3_column_double(st, 5);
    int avg_null = sqlite3_column_type(st, 6) == SQLITE_NULL;
    int ttft_null = sqlite3_column_type(st, 7) == SQLITE_NULL;
    double avg = sqlite3_column_double(st, 6), ttft = sqlite3_column_double(st, 7);
    mg_an_pct pct;
    mg_an_pct_start(&pct, sqlite3_column_int64(st, 8));
    sqlite3_finalize(st);
    if (pct.n > 0 && summary_percentiles(c, &pct) != MG_OK)
        return MG_ERR;

    mg_an_json w;
    mg_an_begin_json(c, &w, 1);
    mg_an_json_int(&w, "requests", requests);
    mg_an_json_int(&w, "errors", errors);
    mg_an_json_real(&w, "error_rate", mg_an_ratio((double)errors, (double)requests));
    mg_an_json_int(&w, "tokens_input", tin);
    mg_an_json_int(&w, "tokens_output", tout);
    mg_an_json_int(&w, "tokens_total", tin + tout);
    mg_an_json_real(&w, "cost", cost);
    mg_an_json_real(&w, "savings", savings);
    if (avg_null)
        mg_an_json_null(&w, "avg_duration_ms");
    else
        mg_an_json_real(&w, "avg_duration_ms", avg);
    mg_an_pct_json(&pct, &w);
    if (ttft_null)
        mg_an_json_null(&w, "avg_ttft_ms");
    else
        mg_an_json_real(&w, "avg_ttft_ms", ttft);
    mg_an_end_json(c, &w);
    return MG_OK;
}

/* ---- analytics/model-comparison ------------------------------------------------ */

/* One model's numbers; model is owned (NULL for rows without a model). */
typedef struct model_row {
    char *model;
    int64_t requests, errors, tokens;
    double cost;
    mg_an_pct pct;
} model_row;

typedef struct model_set {
    model_row *rows; /* owned, in model_routed order until sorted */
    size_t n;
} model_set;

static void model_set_free(model_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i].model);
    free(s->rows);
}

static int same_model(const char *a, const unsigned char *b)
{
    if (!a || !b)
        return !a && !b;
    return strcmp(a, (const char *)b) == 0;
}

static int load_models(mg_an_ctx *c, model_set *s)
{
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT model_routed, count(*), coalesce(sum(status IS NOT 'success'), 0),"
                      " coalesce(sum(tokens_input), 0) + coalesce(sum(tokens_output), 0),"
                      " total(cost), count(duration_ms) FROM requests");
    mg_an_where_requests(&q, c->filter, 0);
    mg_an_sql_add(&q, " GROUP BY model_routed ORDER BY model_routed LIMIT ");
    mg_an_sql_int(&q, MODELS_MAX);
    int rc = mg_an_prepare(c->db, &q, &st, c->out), step = SQLITE_DONE;
    s->rows = mg_xcalloc(MODELS_MAX, sizeof *s->rows);
    while (rc == MG_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        model_row *m = &s->rows[s->n++];
        const unsigned char *name = sqlite3_column_text(st, 0);
        m->model = name ? mg_xstrdup((const char *)name) : NULL;
        m->requests = sqlite3_column_int64(st, 1);
        m->errors = sqlite3_column_int64(st, 2);
        m->tokens = sqlite3_column_int64(st, 3);
        m->cost = sqlite3_column_double(st, 4);
        mg_an_pct_start(&m->pct, sqlite3_column_int64(st, 5));
    }
    if (rc == MG_OK && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "grouping by model", c->out);
        rc = MG_ERR;
    }
    sqlite3_finalize(st);
    mg_an_sql_free(&q);
    return rc;
}

/* Both statements order by model_routed the same way, so one walk pairs
 * each duration with its model. */
static int model_percentiles(mg_an_ctx *c, model_set *s)
{
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT model_routed, duration_ms FROM requests");
    mg_an_where_requests(&q, c->filter, 0);
    mg_an_sql_add(&q, " AND duration_ms IS NOT NULL ORDER BY model_routed, duration_ms");
    int rc = mg_an_prepare(c->db, &q, &st, c->out), step = SQLITE_DONE;
    size_t g = 0;
    while (rc == MG_OK && g < s->n && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 0);
        while (g < s->n && !same_model(s->rows[g].model, name))
            g++;
        if (g < s->n)
            mg_an_pct_feed(&s->rows[g].pct, sqlite3_column_double(st, 1));
    }
    if (rc == MG_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "reading durations by model", c->out);
        rc = MG_ERR;
    }
    sqlite3_finalize(st);
    mg_an_sql_free(&q);
    return rc;
}

static int by_requests_desc(const void *pa, const void *pb)
{
    const model_row *a = pa, *b = pb;
    return (a->requests < b->requests) - (a->requests > b->requests);
}

int mg_an_ep_model_comparison(mg_an_ctx *c)
{
    model_set s = {0};
    if (load_models(c, &s) != MG_OK || model_percentiles(c, &s) != MG_OK) {
        model_set_free(&s);
        return MG_ERR;
    }
    qsort(s.rows, s.n, sizeof *s.rows, by_requests_desc);
    mg_an_json w;
    mg_an_begin_json(c, &w, 1);
    mg_an_json_arr(&w, "models");
    for (size_t i = 0; i < s.n; i++) {
        const model_row *m = &s.rows[i];
        mg_an_json_obj(&w, NULL);
        mg_an_json_str(&w, "model", m->model);
        mg_an_json_int(&w, "requests", m->requests);
        mg_an_json_real(&w, "avg_cost", mg_an_ratio(m->cost, (double)m->requests));
        mg_an_json_real(&w, "tokens_per_request", mg_an_ratio((double)m->tokens, (double)m->requests));
        mg_an_json_real(&w, "error_rate", mg_an_ratio((double)m->errors, (double)m->requests));
        mg_an_pct_json(&m->pct, &w);
        mg_an_json_end(&w);
    }
    mg_an_end_json(c, &w);
    model_set_free(&s);
    return MG_OK;
}
