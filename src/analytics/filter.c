/* filter.c — the common filters every analytics endpoint accepts (time
 * range, provider, model, key, user, status, environment, session, cost
 * and latency bounds) and their WHERE clauses over `requests` and
 * `rollup_minute`. Column names come from the tables below; values are
 * only ever bound. Uses sql.c and params.c (see an.h). */
#include <assert.h>
#include <string.h>

#include "an.h"

/* A text filter: its query parameter, its column in `requests`, and its
 * column in rollup_minute (NULL: rollups cannot answer it). */
static const struct {
    const char *param, *column, *rollup_column;
} TEXT_FILTERS[MG_AN_F_NTEXT] = {
    [MG_AN_F_PROVIDER] = {"provider", "provider", "provider"},
    [MG_AN_F_MODEL] = {"model", "model_routed", "model"},
    [MG_AN_F_KEY] = {"key", "key_id", "key_id"},
    [MG_AN_F_USER] = {"user", "user_id", NULL},
    [MG_AN_F_STATUS] = {"status", "status", "status"},
    [MG_AN_F_ENVIRONMENT] = {"environment", "environment", "environment"},
    [MG_AN_F_SESSION] = {"session", "crosstalk_session", NULL},
};

/* A bound on a REAL column of `requests`; none of them exist in rollups. */
static const struct {
    const char *param, *sql; /* sql ends where the bound value goes */
} NUM_FILTERS[MG_AN_F_NNUM] = {
    [MG_AN_F_MIN_COST] = {"min_cost", " AND cost >= "},
    [MG_AN_F_MAX_COST] = {"max_cost", " AND cost <= "},
    [MG_AN_F_MIN_LATENCY] = {"min_latency", " AND duration_ms >= "},
    [MG_AN_F_MAX_LATENCY] = {"max_latency", " AND duration_ms <= "},
};

int mg_an_filter_parse(mg_an_filter *f, const mg_an_params *p, int64_t now_ms,
                       mg_an_result *r)
{
    memset(f, 0, sizeof *f);
    int has_from = 0, has_to = 0;
    f->to_ms = now_ms;
    if (mg_an_param_time(p, "from", &f->from_ms, &has_from, r) != MG_OK ||
        mg_an_param_time(p, "to", &f->to_ms, &has_to, r) != MG_OK)
        return MG_ERR;
    if (!has_from)
        f->from_ms = f->to_ms - MG_AN_DEFAULT_RANGE_MS;
    if (f->from_ms >= f->to_ms) {
        mg_an_fail(r, 400, "parameter 'from' must be before 'to'");
        return MG_ERR;
    }
    for (int i = 0; i < MG_AN_F_NTEXT; i++)
        f->text[i] = mg_an_param(p, TEXT_FILTERS[i].param);
    for (int i = 0; i < MG_AN_F_NNUM; i++) {
        if (mg_an_param_real(p, NUM_FILTERS[i].param, &f->num[i], &f->has_num[i], r) != MG_OK)
            return MG_ERR;
    }
    return MG_OK;
}

int mg_an_filter_rollup_ok(const mg_an_filter *f)
{
    for (int i = 0; i < MG_AN_F_NTEXT; i++) {
        if (f->text[i] && !TEXT_FILTERS[i].rollup_column)
            return 0;
    }
    for (int i = 0; i < MG_AN_F_NNUM; i++) {
        if (f->has_num[i])
            return 0;
    }
    return 1;
}

void mg_an_where_requests(mg_an_sql *q, const mg_an_filter *f, int flags)
{
    mg_an_sql_add(q, " WHERE 1");
    if (!(flags & MG_AN_NO_TIME)) {
        mg_an_sql_add(q, " AND ts_ms >= ");
        mg_an_sql_int(q, f->from_ms);
        mg_an_sql_add(q, " AND ts_ms < ");
        mg_an_sql_int(q, f->to_ms);
    }
    for (int i = 0; i < MG_AN_F_NTEXT; i++) {
        if (!f->text[i])
            continue;
        mg_an_sql_add(q, " AND ");
        mg_an_sql_add(q, TEXT_FILTERS[i].column);
        mg_an_sql_add(q, " = ");
        mg_an_sql_text(q, f->text[i]);
    }
    for (int i = 0; i < MG_AN_F_NNUM; i++) {
        if (!f->has_num[i])
            continue;
        mg_an_sql_add(q, NUM_FILTERS[i].sql);
        mg_an_sql_real(q, f->num[i]);
    }
}

void mg_an_where_rollup(mg_an_sql *q, const mg_an_filter *f, int64_t from_min,
                        int64_t to_min)
{
    mg_an_sql_add(q, " WHERE minute >= ");
    mg_an_sql_int(q, from_min);
    mg_an_sql_add(q, " AND minute < ");
    mg_an_sql_int(q, to_min);
    for (int i = 0; i < MG_AN_F_NTEXT; i++) {
        if (!f->text[i])
            continue;
        assert(TEXT_FILTERS[i].rollup_column); /* callers check mg_an_filter_rollup_ok */
        mg_an_sql_add(q, " AND ");
        mg_an_sql_add(q, TEXT_FILTERS[i].rollup_column);
        mg_an_sql_add(q, " = ");
        mg_an_sql_text(q, f->text[i]);
    }
}
