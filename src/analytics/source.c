/* source.c — one row source for breakdowns (models, cost, providers,
 * leaderboard): rows shaped like rollup_minute over the filtered range.
 * When the filters allow it (mg_an_filter_rollup_ok) whole minutes come
 * from rollup_minute and only the partial minutes at the two edges from
 * `requests`, so the answer is exact for any from/to yet reads about one
 * row per minute and group instead of one per request (the schema keeps
 * no provider/model/status index on `requests` for this reason).
 * Otherwise every row comes from `requests` in the same shape.
 * Uses sql.c and filter.c (see an.h). */
#include "an.h"

#define MINUTE_MS 60000LL

/* `requests` in rollup shape; '' for NULL keys as the rollup stores them,
 * 0 for NULL numbers as the writer's rollup sums do. */
static const char REQUESTS_AS_SUMS[] =
    "SELECT coalesce(provider, '') AS provider, coalesce(model_routed, '') AS model,"
    " coalesce(key_id, '') AS key_id, coalesce(status, '') AS status,"
    " coalesce(environment, '') AS environment, 1 AS requests,"
    " (status IS NOT 'success') AS errors, coalesce(tokens_input, 0) AS tokens_input,"
    " coalesce(tokens_output, 0) AS tokens_output,"
    " coalesce(tokens_reasoning, 0) AS tokens_reasoning,"
    " coalesce(tokens_cached_read, 0) AS tokens_cached_read,"
    " coalesce(tokens_cache_write, 0) AS tokens_cache_write, coalesce(cost, 0) AS cost,"
    " coalesce(savings, 0) AS savings, coalesce(duration_ms, 0) AS duration_ms_sum,"
    " coalesce(ttft_ms, 0) AS ttft_ms_sum FROM requests";

static const char ROLLUP_AS_SUMS[] =
    "SELECT provider, model, key_id, status, environment, requests, errors, tokens_input,"
    " tokens_output, tokens_reasoning, tokens_cached_read, tokens_cache_write, cost,"
    " savings, duration_ms_sum, ttft_ms_sum FROM rollup_minute";

static int64_t ceil_minute(int64_t ms)
{
    int64_t m = ms / MINUTE_MS - (ms % MINUTE_MS < 0);
    return m * MINUTE_MS == ms ? m : m + 1;
}

static int64_t floor_minute(int64_t ms) { return ms / MINUTE_MS - (ms % MINUTE_MS < 0); }

/* `requests` rows in [from, to) with the non-time filters. */
static void requests_part(mg_an_sql *q, const mg_an_filter *f, int64_t from, int64_t to)
{
    mg_an_filter part = *f;
    part.from_ms = from;
    part.to_ms = to;
    mg_an_sql_add(q, REQUESTS_AS_SUMS);
    mg_an_where_requests(q, &part, 0);
}

void mg_an_from_sums(mg_an_sql *q, const mg_an_filter *f)
{
    mg_an_sql_add(q, " FROM (");
    int64_t first_min = ceil_minute(f->from_ms), end_min = floor_minute(f->to_ms);
    if (!mg_an_filter_rollup_ok(f) || first_min >= end_min) {
        requests_part(q, f, f->from_ms, f->to_ms);
    } else {
        mg_an_sql_add(q, ROLLUP_AS_SUMS);
        mg_an_where_rollup(q, f, first_min, end_min);
        if (f->from_ms < first_min * MINUTE_MS) {
            mg_an_sql_add(q, " UNION ALL ");
            requests_part(q, f, f->from_ms, first_min * MINUTE_MS);
        }
        if (end_min * MINUTE_MS < f->to_ms) {
            mg_an_sql_add(q, " UNION ALL ");
            requests_part(q, f, end_min * MINUTE_MS, f->to_ms);
        }
    }
    mg_an_sql_add(q, ")");
}
