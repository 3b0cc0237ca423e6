/* ep_board.c — analytics/providers (health at a glance) and
 * analytics/leaderboard (top keys, users and models).
 *
 * analytics/providers → {from, to, now, window_ms, providers: [{provider,
 *   requests, errors, error_rate, avg_duration_ms, last_success_ms,
 *   last_failure_ms, last_error}]}  by provider name, at most PROVIDERS_MAX.
 *   Listed: the providers with requests in [from, to) (default the last
 *   24 h), or just the `provider` filter. requests…avg_duration_ms cover
 *   the hour before now; last_success_ms / last_failure_ms (null when none)
 *   are sought back 30 days. The other filters apply to all of it. Reads
 *   rollups where it can (source.c; the newest minute with a success or a
 *   failure, then that minute's rows), so it stays fast at millions of rows.
 * analytics/leaderboard?period=today|week|month|all&by=requests|tokens|cost
 *   &limit=1..100 (default 10) → {from, to, period, by, keys: [{key, requests,
 *   tokens, cost}], users: [{user, …}], models: [{model, …}]}.
 *   today: since 00:00 UTC; week, month: the last 7 and 30 days; all:
 *   everything; without period the from/to filters decide ("range").
 * Uses source.c, sql.c, filter.c, json.c (see an.h). */
#include <stdlib.h>
#include <string.h>

#include "an.h"

#define PROVIDERS_MAX 200
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define LOOKBACK_MS (30 * DAY_MS) /* how far back last success/failure are sought */

/* ---- analytics/providers ------------------------------------------------------ */

/* One provider's line; name owned. */
typedef struct provider {
    char *name;
    int64_t requests, errors; /* the last hour */
    double duration_sum;
} provider;

typedef struct provider_list {
    provider items[PROVIDERS_MAX];
    size_t n;
} provider_list;

static void provider_list_free(provider_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].name);
    l->n = 0;
}

/* Providers with requests in [from, to), by name. */
static int list_providers(mg_an_ctx *c, provider_list *l)
{
    const char *only = c->filter->text[MG_AN_F_PROVIDER];
    if (only) {
        l->items[l->n++].name = mg_xstrdup(only);
        return MG_OK;
    }
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT DISTINCT provider");
    mg_an_from_sums(&q, c->filter);
    mg_an_sql_add(&q, " WHERE provider <> '' ORDER BY 1 LIMIT ");
    mg_an_sql_int(&q, PROVIDERS_MAX);
    int rc = mg_an_prepare(c->db, &q, &st, c->out), step = SQLITE_DONE;
    mg_an_sql_free(&q);
    while (rc == MG_OK && l->n < PROVIDERS_MAX && (step = sqlite3_step(st)) == SQLITE_ROW)
        l->items[l->n++].name = mg_xstrdup((const char *)sqlite3_column_text(st, 0));
    if (rc == MG_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "listing providers", c->out);
        rc = MG_ERR;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Requests, errors and duration of the hour before now, per provider. */
static int last_hour(mg_an_ctx *c, provider_list *l)
{
    mg_an_filter hour = *c->filter;
    hour.from_ms = c->now_ms - HOUR_MS;
    hour.to_ms = c->now_ms + 1;
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT provider, sum(requests), sum(errors), total(duration_ms_sum)");
    mg_an_from_sums(&q, &hour);
    mg_an_sql_add(&q, " GROUP BY provider");
    int rc = mg_an_prepare(c->db, &q, &st, c->out), step = SQLITE_DONE;
    mg_an_sql_free(&q);
    while (rc == MG_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (size_t i = 0; name && i < l->n; i++) {
            if (strcmp(l->items[i].name, name) != 0)
                continue;
            l->items[i].requests = sqlite3_column_int64(st, 1);
            l->items[i].errors = sqlite3_column_int64(st, 2);
            l->items[i].duration_sum = sqlite3_column_double(st, 3);
        }
    }
    if (rc == MG_OK && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "summing the last hour", c->out);
        rc = MG_ERR;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The newest rollup minute holding a success (or failure) of the
 * provider: a backward walk of the rollup key, which starts with the
 * minute. *minute is -1 when there is none in the lookback. */
static int last_minute(mg_an_ctx *c, const char *name, int success, int64_t *minute)
{
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT minute FROM rollup_minute");
    mg_an_where_rollup(&q, c->filter, (c->now_ms - LOOKBACK_MS) / 60000, INT64_MAX);
    mg_an_sql_add(&q, " AND provider = ");
    mg_an_sql_text(&q, name);
    mg_an_sql_add(&q, success ? " AND status = 'success'" : " AND status <> 'success'");
    mg_an_sql_add(&q, " ORDER BY minute DESC LIMIT 1");
    int rc = mg_an_prepare(c->db, &q, &st, c->out);
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    int step = sqlite3_step(st);
    *minute = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "finding the last minute", c->out);
        rc = MG_ERR;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Writes last_success_ms, or last_failure_ms and last_error, from the
 * row st is on (NULL: none). */
static void write_last(mg_an_json *w, int success, sqlite3_stmt *st)
{
    const char *key = success ? "last_success_ms" : "last_failure_ms";
    if (st)
        mg_an_json_int(w, key, sqlite3_column_int64(st, 0));
    else
        mg_an_json_null(w, key);
    if (!success && st)
        mg_an_json_col(w, "last_error", st, 1);
    else if (!success)
        mg_an_json_null(w, "last_error");
}

/* The newest success (or failure) of a provider. With rollups the search
 * narrows to one minute first; without, it walks the ts_ms index back
 * over the lookback. */
static int provider_last(mg_an_ctx *c, mg_an_json *w, const char *name, int success)
{
    mg_an_filter span = *c->filter;
    span.from_ms = c->now_ms - LOOKBACK_MS;
    span.to_ms = INT64_MAX;
    if (mg_an_filter_rollup_ok(c->filter)) {
        int64_t minute;
        if (last_minute(c, name, success, &minute) != MG_OK)
            return MG_ERR;
        if (minute < 0) {
            write_last(w, success, NULL);
            return MG_OK;
        }
        span.from_ms = minute * 60000;
        span.to_ms = span.from_ms + 60000;
    }
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, "SELECT ts_ms, error FROM requests");
    mg_an_where_requests(&q, &span, 0);
    mg_an_sql_add(&q, " AND provider = ");
    mg_an_sql_text(&q, name);
    mg_an_sql_add(&q, success ? " AND status = 'success'" : " AND status IS NOT 'success'");
    mg_an_sql_add(&q, " ORDER BY ts_ms DESC LIMIT 1");
    int rc = mg_an_prepare(c->db, &q, &st, c->out);
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW || step == SQLITE_DONE)
        write_last(w, success, step == SQLITE_ROW ? st : NULL);
    else
        mg_an_sql_fail(c->db, "finding the last request", c->out);
    sqlite3_finalize(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? MG_OK : MG_ERR;
}

static int provider_entry(mg_an_ctx *c, mg_an_json *w, const provider *p)
{
    mg_an_json_obj(w, NULL);
    mg_an_json_str(w, "provider", p->name);
    mg_an_json_int(w, "requests", p->requests);
    mg_an_json_int(w, "errors", p->errors);
    mg_an_json_real(w, "error_rate", mg_an_ratio((double)p->errors, (double)p->requests));
    if (p->requests)
        mg_an_json_real(w, "avg_duration_ms", p->duration_sum / (double)p->requests);
    else
        mg_an_json_null(w, "avg_duration_ms");
    if (provider_last(c, w, p->name, 1) != MG_OK || provider_last(c, w, p->name, 0) != MG_OK)
        return MG_ERR;
    mg_an_json_end(w);
    return MG_OK;
}

int mg_an_ep_providers(mg_an_ctx *c)
{
    provider_list *l = mg_xcalloc(1, sizeof *l);
    int rc = list_providers(c, l);
    if (rc == MG_OK)
        rc = last_hour(c, l);
    mg_an_json w;
    if (rc == MG_OK) {
        mg_an_begin_json(c, &w, 1);
        mg_an_json_int(&w, "now", c->now_ms);
        mg_an_json_int(&w, "window_ms", HOUR_MS);
        mg_an_json_arr(&w, "providers");
    }
    for (size_t i = 0; rc == MG_OK && i < l->n; i++)
        rc = provider_entry(c, &w, &l->items[i]);
    if (rc == MG_OK)
        mg_an_end_json(c, &w);
    provider_list_free(l);
    free(l);
    return rc;
}

/* ---- analytics/leaderboard ------------------------------------------------------ */

static const char *const PERIODS[] = {"today", "week", "month", "all", NULL};
static const char *const ORDERS[] = {"requests", "tokens", "cost", NULL};
/* ORDER BY column numbers of the statement below, indexed like ORDERS. */
static const char *const ORDER_SQL[] = {" ORDER BY 2 DESC, 1", " ORDER BY 3 DESC, 1",
                                        " ORDER BY 4 DESC, 1"};

/* column: in `requests`; sums_column: in source.c's rows, or NULL when
 * only `requests` has it. */
static const struct {
    const char *list, *name, *column, *sums_column;
} BOARDS[] = {
    {"keys", "key", "key_id", "key_id"},
    {"users", "user", "user_id", NULL},
    {"models", "model", "model_routed", "model"},
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

/* "SELECT col, requests, tokens, cost … GROUP BY col ORDER BY …" from the
 * rollup-backed sums when the board's column is in them, else `requests`. */
static void board_query(mg_an_ctx *c, int b, int order, int64_t limit, mg_an_sql *q)
{
    const char *col = BOARDS[b].sums_column;
    mg_an_sql_add(q, "SELECT ");
    if (col) {
        mg_an_sql_add(q, col);
        mg_an_sql_add(q, ", sum(requests), sum(tokens_input) + sum(tokens_output), total(cost)");
        mg_an_from_sums(q, c->filter);
        mg_an_sql_add(q, " WHERE ");
        mg_an_sql_add(q, col);
        mg_an_sql_add(q, " <> ''");
    } else {
        col = BOARDS[b].column;
        mg_an_sql_add(q, col);
        mg_an_sql_add(q, ", count(*), coalesce(sum(tokens_input), 0) +"
                         " coalesce(sum(tokens_output), 0), total(cost) FROM requests");
        mg_an_where_requests(q, c->filter, 0);
        mg_an_sql_add(q, " AND ");
        mg_an_sql_add(q, col);
        mg_an_sql_add(q, " IS NOT NULL");
    }
    mg_an_sql_add(q, " GROUP BY 1");
    mg_an_sql_add(q, ORDER_SQL[order]);
    mg_an_sql_add(q, " LIMIT ");
    mg_an_sql_int(q, limit);
}

static int board(mg_an_ctx *c, mg_an_json *w, int b, int order, int64_t limit)
{
    const char *names[] = {BOARDS[b].name, "requests", "tokens", "cost", NULL};
    mg_an_sql q = {0};
    board_query(c, b, order, limit, &q);
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
