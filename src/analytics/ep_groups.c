/* ep_groups.c — the grouped endpoints: analytics/models,
 * analytics/cost-breakdown, analytics/savings and analytics/errors. Each
 * is one or a few GROUP BY statements written out row by row; models and
 * cost-breakdown read the rollup-backed sums of source.c, savings and
 * errors need per-request columns (model_requested, original_cost, error)
 * and read `requests`. Every list holds at most GROUPS_MAX groups.
 *
 * analytics/models → {from, to, models: [{model, requests, cost, tokens,
 *   avg_duration_ms, errors, error_rate}]}  most requests first
 *   (avg_duration_ms counts a missing duration as 0, as the rollups do)
 * analytics/cost-breakdown → {from, to, total: {requests, cost, savings},
 *   by_provider: [{provider, requests, cost, tokens}],
 *   by_model: [{model, requests, cost, tokens}]}  highest cost first
 * analytics/savings → {from, to, total: {requests, rerouted, original_cost,
 *   cost, savings, savings_rate}, pairs: [{model_requested, model_routed,
 *   requests, original_cost, cost, savings}]}  pairs whose models differ,
 *   most saved first
 * analytics/errors?limit=1..500 (default 50) → {from, to, errors,
 *   groups: [{provider, status, http_status, error, count, first_ts_ms,
 *   last_ts_ms}]}  rows whose status is not "success", most frequent first
 * Uses source.c, sql.c, filter.c, json.c (see an.h). */
#include "an.h"

#define GROUPS_MAX 1000

#define ERRORS_SQL "coalesce(sum(status IS NOT 'success'), 0)"

/* "SELECT <columns> FROM requests WHERE <filters><tail> LIMIT <limit>". */
static void grouped(mg_an_ctx *c, mg_an_sql *q, const char *columns, const char *tail,
                    int64_t limit)
{
    mg_an_sql_add(q, "SELECT ");
    mg_an_sql_add(q, columns);
    mg_an_sql_add(q, " FROM requests");
    mg_an_where_requests(q, c->filter, 0);
    mg_an_sql_add(q, tail);
    mg_an_sql_add(q, " LIMIT ");
    mg_an_sql_int(q, limit);
}

/* One grouped list into the open reply; frees q. */
static int emit(mg_an_ctx *c, mg_an_json *w, mg_an_sql *q, const char *key,
                const char *const *names)
{
    int rc = mg_an_emit_rows(c->db, q, w, key, names, c->out);
    mg_an_sql_free(q);
    return rc;
}

/* "SELECT <columns> FROM (<sums>)<tail> LIMIT <limit>" (source.c). */
static void grouped_sums(mg_an_ctx *c, mg_an_sql *q, const char *columns, const char *tail,
                         int64_t limit)
{
    mg_an_sql_add(q, "SELECT ");
    mg_an_sql_add(q, columns);
    mg_an_from_sums(q, c->filter);
    mg_an_sql_add(q, tail);
    mg_an_sql_add(q, " LIMIT ");
    mg_an_sql_int(q, limit);
}

#define SUM_TOKENS "sum(tokens_input) + sum(tokens_output)"

int mg_an_ep_models(mg_an_ctx *c)
{
    static const char *const names[] = {"model", "requests", "cost", "tokens",
                                        "avg_duration_ms", "errors", "error_rate", NULL};
    mg_an_sql q = {0};
    grouped_sums(c, &q,
                 "nullif(model, ''), sum(requests), total(cost), " SUM_TOKENS ","
                 " total(duration_ms_sum) / sum(requests), sum(errors),"
                 " CAST(sum(errors) AS REAL) / sum(requests)",
                 " GROUP BY model ORDER BY 2 DESC, model", GROUPS_MAX);
    mg_an_json w;
    mg_an_begin_json(c, &w, 1);
    if (emit(c, &w, &q, "models", names) != MG_OK)
        return MG_ERR;
    mg_an_end_json(c, &w);
    return MG_OK;
}

/* The single row of q as object `key`; frees q. With keep, the object
 * stays open and the statement is handed over for derived fields (the
 * caller closes the object and finalizes). */
static int emit_object_keep(mg_an_ctx *c, mg_an_json *w, mg_an_sql *q, const char *key,
                            const char *const *names, sqlite3_stmt **keep)
{
    sqlite3_stmt *st = NULL;
    int rc = mg_an_one_row(c->db, q, &st, c->out);
    mg_an_sql_free(q);
    if (rc != MG_OK)
        return MG_ERR;
    mg_an_json_obj(w, key);
    for (int i = 0; names[i]; i++)
        mg_an_json_col(w, names[i], st, i);
    if (keep) {
        *keep = st;
        return MG_OK;
    }
    mg_an_json_end(w);
    sqlite3_finalize(st);
    return MG_OK;
}

static int emit_object(mg_an_ctx *c, mg_an_json *w, mg_an_sql *q, const char *key,
                       const char *const *names)
{
    return emit_object_keep(c, w, q, key, names, NULL);
}

int mg_an_ep_cost_breakdown(mg_an_ctx *c)
{
    static const char *const total_names[] = {"requests", "cost", "savings", NULL};
    static const char *const provider_names[] = {"provider", "requests", "cost", "tokens", NULL};
    static const char *const model_names[] = {"model", "requests", "cost", "tokens", NULL};
    mg_an_json w;
    mg_an_sql q = {0};
    mg_an_begin_json(c, &w, 1);
    grouped_sums(c, &q, "coalesce(sum(requests), 0), total(cost), total(savings)", "", 1);
    if (emit_object(c, &w, &q, "total", total_names) != MG_OK)
        return MG_ERR;
    grouped_sums(c, &q, "nullif(provider, ''), sum(requests), total(cost), " SUM_TOKENS,
                 " GROUP BY provider ORDER BY 3 DESC, provider", GROUPS_MAX);
    if (emit(c, &w, &q, "by_provider", provider_names) != MG_OK)
        return MG_ERR;
    grouped_sums(c, &q, "nullif(model, ''), sum(requests), total(cost), " SUM_TOKENS,
                 " GROUP BY model ORDER BY 3 DESC, model", GROUPS_MAX);
    if (emit(c, &w, &q, "by_model", model_names) != MG_OK)
        return MG_ERR;
    mg_an_end_json(c, &w);
    return MG_OK;
}

int mg_an_ep_savings(mg_an_ctx *c)
{
    static const char *const total_names[] = {"requests", "rerouted", "original_cost", "cost",
                                              "savings", NULL};
    static const char *const pair_names[] = {"model_requested", "model_routed", "requests",
                                             "original_cost", "cost", "savings", NULL};
    mg_an_json w;
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_begin_json(c, &w, 1);
    mg_an_sql_add(&q, "SELECT count(*), coalesce(sum(model_requested IS NOT model_routed), 0),"
                      " total(original_cost), total(cost), total(savings) FROM requests");
    mg_an_where_requests(&q, c->filter, 0);
    if (emit_object_keep(c, &w, &q, "total", total_names, &st) != MG_OK)
        return MG_ERR;
    mg_an_json_real(&w, "savings_rate",
                    mg_an_ratio(sqlite3_column_double(st, 4), sqlite3_column_double(st, 2)));
    mg_an_json_end(&w);
    sqlite3_finalize(st);
    grouped(c, &q,
            "model_requested, model_routed, count(*), total(original_cost), total(cost),"
            " total(savings)",
            " AND model_requested IS NOT model_routed GROUP BY model_requested, model_routed"
            " ORDER BY total(savings) DESC, count(*) DESC",
            GROUPS_MAX);
    if (emit(c, &w, &q, "pairs", pair_names) != MG_OK)
        return MG_ERR;
    mg_an_end_json(c, &w);
    return MG_OK;
}

int mg_an_ep_errors(mg_an_ctx *c)
{
    static const char *const names[] = {"provider", "status", "http_status", "error",
                                        "count", "first_ts_ms", "last_ts_ms", NULL};
    int64_t limit = 50;
    if (mg_an_param_int(c->params, "limit", 1, 500, &limit, c->out) != MG_OK)
        return MG_ERR;
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT " ERRORS_SQL " FROM requests");
    mg_an_where_requests(&q, c->filter, 0);
    int rc = mg_an_one_row(c->db, &q, &st, c->out);
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    int64_t errors = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    mg_an_json w;
    mg_an_begin_json(c, &w, 1);
    mg_an_json_int(&w, "errors", errors);
    grouped(c, &q, "provider, status, http_status, error, count(*), min(ts_ms), max(ts_ms)",
            " AND status IS NOT 'success' GROUP BY provider, status, http_status, error"
            " ORDER BY count(*) DESC, max(ts_ms) DESC",
            limit);
    if (emit(c, &w, &q, "groups", names) != MG_OK)
        return MG_ERR;
    mg_an_end_json(c, &w);
    return MG_OK;
}
