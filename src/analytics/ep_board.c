/* ep_board.c — analytics/providers (health at a glance) and
 * analytics/leaderboard (top keys, users and models).
 *
 * analytics/providers → {now, window_ms, providers: [{provider, requests,
 *   errors, error_rate, avg_duration_ms (over the last hour), last_success_ms,
 *   last_failure_ms, last_error}]}  by provider name. from/to are ignored:
 *   the window is always the hour before now and the last success/failure
 *   are searched over all time; the other filters apply. Providers are
 *   listed by skipping along the (provider, ts_ms) index, so the cost
 *   grows with the number of providers, not of rows (at most PROVIDERS_MAX).
 * analytics/leaderboard?period=today|week|month|all&by=requests|tokens|cost
 *   &limit=1..100 (default 10) → {from, to, period, by, keys: [{key, requests,
 *   tokens, cost}], users: [{user, …}], models: [{model, …}]}.
 *   today: since 00:00 UTC; week, month: the last 7 and 30 days; all:
 *   everything; without period the from/to filters decide ("range").
 * Uses sql.c, filter.c, json.c (see an.h). */
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define PROVIDERS_MAX 200
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

/* ---- analytics/providers ------------------------------------------------------ */

/* The next provider name after `after` (NULL: the first), or NULL when
 * none is left; *name is owned by the caller. */
static int next_provider(mg_an_ctx *c, const char *after, char **name)
{
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT min(provider) FROM requests");
    if (after) {
        mg_an_sql_add(&q, " WHERE provider > ");
        mg_an_sql_text(&q, after);
    }
    int rc = mg_an_one_row(c->db, &q, &st, c->out);
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    const unsigned char *s = sqlite3_column_text(st, 0);
    *name = s ? mg_xstrdup((const char *)s) : NULL;
    sqlite3_finalize(st);
    return MG_OK;
}

/* The last hour of one provider, as fields of the open object. */
static int provider_window(mg_an_ctx *c, mg_an_json *w, const char *provider)
{
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT count(*), coalesce(sum(status IS NOT 'success'), 0),"
                      " avg(duration_ms) FROM requests");
    mg_an_where_requests(&q, c->filter, MG_AN_NO_TIME);
    mg_an_sql_add(&q, " AND provider = ");
    mg_an_sql_text(&q, provider);
    mg_an_sql_add(&q, " AND ts_ms >= ");
    mg_an_sql_int(&q, c->now_ms - HOUR_MS);
    int rc = mg_an_one_row(c->db, &q, &st, c->out);
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    int64_t requests = sqlite3_column_int64(st, 0), errors = sqlite3_column_int64(st, 1);
    mg_an_json_int(w, "requests", requests);
    mg_an_json_int(w, "errors", errors);
    mg_an_json_real(w, "error_rate", mg_an_ratio((double)errors, (double)requests));
    mg_an_json_col(w, "avg_duration_ms", st, 2);
    sqlite3_finalize(st);
    return MG_OK;
}

/* The newest success (or failure) of one provider; `+status` keeps SQLite
 * on the (provider, ts_ms) index instead of the status index. */
static int provider_last(mg_an_ctx *c, mg_an_json *w, const char *provider, int success)
{
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT ts_ms, error FROM requests");
    mg_an_where_requests(&q, c->filter, MG_AN_NO_TIME);
    mg_an_sql_add(&q, " AND provider = ");
    mg_an_sql_text(&q, provider);
    mg_an_sql_add(&q, success ? " AND +status = 'success'" : " AND +status IS NOT 'success'");
    mg_an_sql_add(&q, " ORDER BY ts_ms DESC LIMIT 1");
    int rc = mg_an_prepare(c->db, &q, &st, c->out);
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "finding the last request", c->out);
        sqlite3_finalize(st);
        return MG_ERR;
    }
    const char *key = success ? "last_success_ms" : "last_failure_ms";
    if (step == SQLITE_ROW)
        mg_an_json_int(w, key, sqlite3_column_int64(st, 0));
    else
        mg_an_json_null(w, key);
    if (!success) {
        if (step == SQLITE_ROW)
            mg_an_json_col(w, "last_error", st, 1);
        else
            mg_an_json_null(w, "last_error");
    }
    sqlite3_finalize(st);
    return MG_OK;
}

static int provider_entry(mg_an_ctx *c, mg_an_json *w, const char *provider)
{
    mg_an_json_obj(w, NULL);
    mg_an_json_str(w, "provider", provider);
    if (provider_window(c, w, provider) != MG_OK || provider_last(c, w, provider, 1) != MG_OK ||
        provider_last(c, w, provider, 0) != MG_OK)
        return MG_ERR;
    mg_an_json_end(w);
    return MG_OK;
}

int mg_an_ep_providers(mg_an_ctx *c)
{
    mg_an_json w;
    mg_an_begin_json(c, &w, 0);
    mg_an_json_int(&w, "now", c->now_ms);
    mg_an_json_int(&w, "window_ms", HOUR_MS);
    mg_an_json_arr(&w, "providers");
    const char *only = c->filter->text[MG_AN_F_PROVIDER];
    if (only) {
        if (provider_entry(c, &w, only) != MG_OK)
            return MG_ERR;
        mg_an_end_json(c, &w);
        return MG_OK;
    }
    char *name = NULL;
    int rc = next_provider(c, NULL, &name);
    for (int n = 0; rc == MG_OK && name && n < PROVIDERS_MAX; n++) {
        rc = provider_entry(c, &w, name);
        char *prev = name;
        if (rc == MG_OK)
            rc = next_provider(c, prev, &name);
        free(prev);
        if (rc != MG_OK)
            name = NULL;
    }
    free(name);
    if (rc != MG_OK)
        return MG_ERR;
    mg_an_end_json(c, &w);
    return MG_OK;
}

/* ---- analytics/leaderboard ------------------------------------------------------ */

static const char *const PERIODS[] = {"today", "week", "month", "all", NULL};
static const char *const ORDERS[] = {"requests", "tokens", "cost", NULL};
/* ORDER BY column numbers of the statement below, indexed like ORDERS. */
static const char *const ORDER_SQL[] = {" ORDER BY 2 DESC, 1", " ORDER BY 3 DESC, 1",
                                        " ORDER BY 4 DESC, 1"};

static const struct {
    const char *list, *name, *column;
} BOARDS[] = {
    {"keys", "key", "key_id"},
    {"users", "user", "user_id"},
    {"models", "model", "model_routed"},
};

static void apply_period(mg_an_ctx *c, int period)
{
    int64_t now = c->now_ms;
    c->filter->to_ms = now + 1; /* include a row stamped this very ms */
    if (period == 0)
        c->filter->from_ms = now - (now % DAY_MS + DAY_MS) % DAY_MS;
    else if (period == 1)
        c->filter->from_ms = now - 7 * DAY_MS;
    else if (period == 2)
        c->filter->from_ms = now - 30 * DAY_MS;
    else
        c->filter->from_ms = 0; /* no request predates 1970 */
}

static int board(mg_an_ctx *c, mg_an_json *w, int b, int order, int64_t limit)
{
    const char *names[] = {BOARDS[b].name, "requests", "tokens", "cost", NULL};
    mg_an_sql q = {0};
    mg_an_sql_add(&q, "SELECT ");
    mg_an_sql_add(&q, BOARDS[b].column);
    mg_an_sql_add(&q, ", count(*), coalesce(sum(tokens_input), 0) +"
                      " coalesce(sum(tokens_output), 0), total(cost) FROM requests");
    mg_an_where_requests(&q, c->filter, 0);
    mg_an_sql_add(&q, " AND ");
    mg_an_sql_add(&q, BOARDS[b].column);
    mg_an_sql_add(&q, " IS NOT NULL GROUP BY 1");
    mg_an_sql_add(&q, ORDER_SQL[order]);
    mg_an_sql_add(&q, " LIMIT ");
    mg_an_sql_int(&q, limit);
    int rc = mg_an_emit_rows(c->db, &q, w, BOARDS[b].list, names, c->out);
    mg_an_sql_free(&q);
    return rc;
}

int mg_an_ep_leaderboard(mg_an_ctx *c)
{
    int period = -1, order = 0;
    int64_t limit = 10;
    if (mg_an_param_enum(c->params, "period", PERIODS, &period, c->out) != MG_OK ||
        mg_an_param_enum(c->params, "by", ORDERS, &order, c->out) != MG_OK ||
        mg_an_param_int(c->params, "limit", 1, 100, &limit, c->out) != MG_OK)
        return MG_ERR;
    if (period >= 0)
        apply_period(c, period);
    mg_an_json w;
    mg_an_begin_json(c, &w, 1);
    mg_an_json_str(&w, "period", period >= 0 ? PERIODS[period] : "range");
    mg_an_json_str(&w, "by", ORDERS[order]);
    for (int b = 0; b < (int)MG_ARRAY_LEN(BOARDS); b++) {
        if (board(c, &w, b, order, limit) != MG_OK)
            return MG_ERR;
    }
    mg_an_end_json(c, &w);
    return MG_OK;
}
