/* dispatch.c — runs one analytics query on the reader thread: finds the
 * endpoint, parses the query string and the common filters, and calls the
 * handler inside one read transaction, so every statement of a reply sees
 * the same snapshot while the store's writer keeps committing. Uses the
 * ep_*.c handlers, params.c and filter.c (see an.h). */
#include <string.h>

#include "an.h"
#include "analytics.h"

typedef struct route {
    const char *name;
    int (*run)(mg_an_ctx *c);
} route;

static const route ENDPOINTS[] = {
    {"analytics/summary", mg_an_ep_summary},
    {"analytics/timeseries", mg_an_ep_timeseries},
    {"analytics/models", mg_an_ep_models},
    {"analytics/model-comparison", mg_an_ep_model_comparison},
    {"analytics/cost-breakdown", mg_an_ep_cost_breakdown},
    {"analytics/token-breakdown", mg_an_ep_token_breakdown},
    {"analytics/savings", mg_an_ep_savings},
    {"analytics/errors", mg_an_ep_errors},
    {"analytics/providers", mg_an_ep_providers},
    {"analytics/leaderboard", mg_an_ep_leaderboard},
    {"analytics/requests", mg_an_ep_requests},
    {"analytics/request", mg_an_ep_request},
    {"analytics/export", mg_an_ep_export},
    {"system/db", mg_an_ep_system_db},
};

static const route *find_endpoint(const char *name)
{
    for (size_t i = 0; i < MG_ARRAY_LEN(ENDPOINTS); i++) {
        if (strcmp(ENDPOINTS[i].name, name) == 0)
            return &ENDPOINTS[i];
    }
    return NULL;
}

int mg_analytics_handles(const char *endpoint) { return endpoint && find_endpoint(endpoint); }

static int run_in_snapshot(sqlite3 *db, const route *ep, mg_an_ctx *c)
{
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        mg_an_sql_fail(db, "starting a read transaction", c->out);
        return MG_ERR;
    }
    int rc = ep->run(c);
    /* A read transaction has nothing to keep; ROLLBACK always ends it. */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

void mg_an_execute(sqlite3 *db, const char *db_path, const char *endpoint, const char *qs,
                   mg_an_result *r)
{
    const route *ep = find_endpoint(endpoint);
    if (!ep) {
        mg_an_fail(r, 404, "no analytics endpoint /api/%.128s", endpoint);
        return;
    }
    mg_an_params params = {0};
    mg_an_filter filter;
    if (mg_an_params_parse(&params, qs, r) != MG_OK)
        return;
    mg_an_ctx c = {
        .db = db, .db_path = db_path, .params = &params, .filter = &filter,
        .now_ms = mg_now_wall_ms(), .out = r,
    };
    if (mg_an_filter_parse(&filter, &params, c.now_ms, r) == MG_OK)
        run_in_snapshot(db, ep, &c);
    if (r->status == 0) /* a handler bug, but the client still gets an answer */
        mg_an_fail(r, 500, "endpoint %s produced no reply", ep->name);
    mg_an_params_free(&params);
}
