/* insight_data.c — the data the insight generators read, as one JSON
 * object built on the database thread with SQL aggregates over `requests`
 * (every query bounded by time and LIMIT). Generators see it as a Lua
 * table (lua/moongate/insights/):
 *   now_ms, small_tokens (1000: "small" = tokens_input below it)
 *   period    {days = 30, from_ms, to_ms, days_observed (oldest row in the
 *             period to now, in days, at most 30), requests}
 *   prices    {model = {input, output, cached_read, cache_write, reasoning,
 *             context, served}}  USD per million tokens, from the config
 *   models    [{model (model_routed), price (its entry or null), requests,
 *             cost, tokens_input, tokens_output, tokens_reasoning,
 *             tokens_cached_read, tokens_cache_write, small = {the same
 *             for its small requests}}]  last 30 days, top 50 by cost
 *   latency_weeks [{model, this = {requests, avg, p50, p95}, last = {...}}]
 *             successful requests of the last 7 days and the 7 before
 *   daily     [{day_ms, requests, errors, tokens_input, tokens_output,
 *             tokens_reasoning, tokens_cached_read, cost}]  30 days, oldest first
 *   hourly    [{hour_ms, requests, errors}]  7 days, hours with traffic
 *   prompt_repeats [{kind = "system" | "prefix", hash, count, tokens_input
 *             (average), cached_read (average), model, price}]  7 days,
 *             hashes seen at least 3 times, top 20 by count
 *   prompt_churn [{who (key_id or "(no key)"), requests, distinct_system}]
 *             7 days, senders of at least 20 requests with a system prompt
 *   providers [{provider, requests, errors, timeouts, retried,
 *             avg_latency, p95_latency}]  7 days
 * Uses SQLite, jansson; al-t.h for the price table. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "al-t.h"

#define DAY_MS 86400000LL
#define SMALL_TOKENS 1000

static json_t *price_json(const mg_al_price *p)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:I,s:b}", "input", p->input, "output", p->output,
                     "cached_read", p->cached_read, "cache_write", p->cache_write, "reasoning",
                     p->reasoning, "context", (json_int_t)p->context, "served", p->served);
}

/* The mg_al_price_of matching, without an engine (this thread has none). */
static const mg_al_price *price_lookup(const mg_al_price *prices, size_t n, const char *model)
{
    const mg_al_price *best = NULL;
    size_t best_len = 0;
    for (int pass = 0; pass < 2 && model && !best; pass++) {
        const char *m = model;
        if (pass == 1) {
            const char *slash = strrchr(model, '/');
            if (!slash || !slash[1])
                break;
            m = slash + 1;
        }
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(prices[i].name);
            if (strncmp(m, prices[i].name, len) != 0)
                continue;
            char c = m[len];
            if (c == 0)
                return &prices[i];
            if (len > best_len && (c == '-' || c == '@' || c == ':' || c == '_')) {
                best = &prices[i];
                best_len = len;
            }
        }
    }
    return best;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        mg_error("alerts: insight data: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Column i of the current row as a JSON number. */
static json_t *num(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_INTEGER)
        return json_integer(sqlite3_column_int64(st, i));
    return json_real(sqlite3_column_double(st, i));
}

static const char *text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

/* Token sums as an object from columns first.. (requests, cost, tokens x5). */
static json_t *usage_obj(sqlite3_stmt *st, int first)
{
    static const char *const names[] = {"requests",         "cost",
                                        "tokens_input",     "tokens_output",
                                        "tokens_reasoning", "tokens_cached_read",
                                        "tokens_cache_write"};
    json_t *o = json_object();
    for (size_t i = 0; i < MG_ARRAY_LEN(names); i++)
        json_object_set_new(o, names[i], num(st, first + (int)i));
    return o;
}

#define USAGE_SUMS(cond)                                                                      \
    "SUM(CASE WHEN " cond " THEN 1 ELSE 0 END), SUM(CASE WHEN " cond " THEN cost ELSE 0 END), " \
    "SUM(CASE WHEN " cond " THEN tokens_input ELSE 0 END), "                                  \
    "SUM(CASE WHEN " cond " THEN tokens_output ELSE 0 END), "                                 \
    "SUM(CASE WHEN " cond " THEN tokens_reasoning ELSE 0 END), "                              \
    "SUM(CASE WHEN " cond " THEN tokens_cached_read ELSE 0 END), "                            \
    "SUM(CASE WHEN " cond " THEN tokens_cache_write ELSE 0 END)"

static json_t *models(sqlite3 *db, int64_t from, const mg_al_price *prices, size_t nprices)
{
    json_t *out = json_array();
    sqlite3_stmt *st = prepare(db,
        "SELECT COALESCE(model_routed, model_requested) AS m, " USAGE_SUMS("1") ", "
        USAGE_SUMS("tokens_input < 1000")
        " FROM requests WHERE ts_ms >= ? AND COALESCE(model_routed, model_requested) IS NOT NULL"
        " GROUP BY m ORDER BY SUM(cost) DESC LIMIT 50");
    if (!st)
        return out;
    sqlite3_bind_int64(st, 1, from);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = usage_obj(st, 1);
        const char *model = text(st, 0);
        json_object_set_new(o, "model", json_string(model));
        json_object_set_new(o, "small", usage_obj(st, 8));
        const mg_al_price *p = price_lookup(prices, nprices, model);
        json_object_set_new(o, "price", p ? price_json(p) : json_null());
        json_object_set_new(o, "price_model", p ? json_string(p->name) : json_null());
        json_array_append_new(out, o);
    }
    sqlite3_finalize(st);
    return out;
}

/* avg, p50, p95 of duration_ms for one model in [from, to). */
static json_t *latency(sqlite3 *db, const char *model, int64_t from, int64_t to)
{
    json_t *o = json_object();
    sqlite3_stmt *st = prepare(db,
        "SELECT COUNT(*), AVG(duration_ms) FROM requests WHERE ts_ms >= ? AND ts_ms < ? AND "
        "status = 'success' AND COALESCE(model_routed, model_requested) = ?");
    if (!st)
        return o;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_text(st, 3, model, -1, SQLITE_TRANSIENT);
    long long n = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        json_object_set_new(o, "requests", json_integer(n));
        json_object_set_new(o, "avg", num(st, 1));
    }
    sqlite3_finalize(st);
    static const struct { const char *name; double q; } pcts[] = {{"p50", 0.50}, {"p95", 0.95}};
    for (size_t i = 0; n > 0 && i < MG_ARRAY_LEN(pcts); i++) {
        st = prepare(db, "SELECT duration_ms FROM requests WHERE ts_ms >= ? AND ts_ms < ? AND "
                         "status = 'success' AND COALESCE(model_routed, model_requested) = ? "
                         "ORDER BY duration_ms LIMIT 1 OFFSET ?");
        if (!st)
            break;
        long long rank = (long long)(pcts[i].q * (double)n + 0.999999) - 1; /* nearest rank */
        sqlite3_bind_int64(st, 1, from);
        sqlite3_bind_int64(st, 2, to);
        sqlite3_bind_text(st, 3, model, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, rank < 0 ? 0 : rank);
        if (sqlite3_step(st) == SQLITE_ROW)
            json_object_set_new(o, pcts[i].name, num(st, 0));
        sqlite3_finalize(st);
    }
    return o;
}

static json_t *latency_weeks(sqlite3 *db, int64_t now)
{
    json_t *out = json_array();
    sqlite3_stmt *st = prepare(db,
        "SELECT COALESCE(model_routed, model_requested) AS m FROM requests WHERE ts_ms >= ? AND "
        "status = 'success' AND m IS NOT NULL GROUP BY m ORDER BY COUNT(*) DESC LIMIT 20");
    if (!st)
        return out;
    sqlite3_bind_int64(st, 1, now - 14 * DAY_MS);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *model = text(st, 0);
        json_array_append_new(out, json_pack("{s:s,s:o,s:o}", "model", model, "this",
                                             latency(db, model, now - 7 * DAY_MS, now + 1),
                                             "last", latency(db, model, now - 14 * DAY_MS,
                                                             now - 7 * DAY_MS)));
    }
    sqlite3_finalize(st);
    return out;
}

static json_t *rows(sqlite3 *db, const char *sql, int64_t from, const char *const *names,
                    size_t n)
{
    json_t *out = json_array();
    sqlite3_stmt *st = prepare(db, sql);
    if (!st)
        return out;
    sqlite3_bind_int64(st, 1, from);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        for (size_t i = 0; i < n; i++)
            json_object_set_new(o, names[i], sqlite3_column_type(st, (int)i) == SQLITE_TEXT
                                                 ? json_string(text(st, (int)i))
                                                 : num(st, (int)i));
        json_array_append_new(out, o);
    }
    sqlite3_finalize(st);
    return out;
}

static json_t *daily(sqlite3 *db, int64_t from)
{
    static const char *const names[] = {"day_ms", "requests", "errors", "tokens_input",
                                        "tokens_output", "tokens_reasoning",
                                        "tokens_cached_read", "cost"};
    return rows(db,
                "SELECT (ts_ms / 86400000) * 86400000 AS d, COUNT(*), "
                "SUM(status <> 'success'), SUM(tokens_input), SUM(tokens_output), "
                "SUM(tokens_reasoning), SUM(tokens_cached_read), SUM(cost) FROM requests "
                "WHERE ts_ms >= ? GROUP BY d ORDER BY d",
                from, names, MG_ARRAY_LEN(names));
}

static json_t *hourly(sqlite3 *db, int64_t from)
{
    static const char *const names[] = {"hour_ms", "requests", "errors"};
    return rows(db,
                "SELECT (ts_ms / 3600000) * 3600000 AS h, COUNT(*), SUM(status <> 'success') "
                "FROM requests WHERE ts_ms >= ? GROUP BY h ORDER BY h",
                from, names, MG_ARRAY_LEN(names));
}

static void repeats_of(sqlite3 *db, const char *column, const char *kind, int64_t from,
                       const mg_al_price *prices, size_t nprices, json_t *out)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s, COUNT(*), AVG(tokens_input), AVG(tokens_cached_read), "
             "MAX(COALESCE(model_routed, model_requested)) FROM requests WHERE ts_ms >= ? AND "
             "%s IS NOT NULL GROUP BY %s HAVING COUNT(*) >= 3 ORDER BY COUNT(*) DESC LIMIT 20",
             column, column, column);
    sqlite3_stmt *st = prepare(db, sql);
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, from);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const mg_al_price *p = price_lookup(prices, nprices, text(st, 4));
        json_array_append_new(out, json_pack("{s:s,s:s,s:o,s:o,s:o,s:s,s:o}", "kind", kind,
                                             "hash", text(st, 0), "count", num(st, 1),
                                             "tokens_input", num(st, 2), "cached_read",
                                             num(st, 3), "model", text(st, 4), "price",
                                             p ? price_json(p) : json_null()));
    }
    sqlite3_finalize(st);
}

static json_t *churn(sqlite3 *db, int64_t from)
{
    static const char *const names[] = {"who", "requests", "distinct_system"};
    return rows(db,
                "SELECT COALESCE(key_id, '(no key)') AS who, COUNT(*), "
                "COUNT(DISTINCT prompt_hash_system) FROM requests WHERE ts_ms >= ? AND "
                "prompt_hash_system IS NOT NULL GROUP BY who HAVING COUNT(*) >= 20 "
                "ORDER BY COUNT(*) DESC LIMIT 20",
                from, names, MG_ARRAY_LEN(names));
}

static json_t *providers(sqlite3 *db, int64_t from)
{
    static const char *const names[] = {"provider", "requests", "errors", "timeouts",
                                        "retried", "avg_latency"};
    json_t *out = rows(db,
                       "SELECT provider, COUNT(*), SUM(status <> 'success'), "
                       "SUM(status = 'timeout'), SUM(attempts > 1), AVG(duration_ms) "
                       "FROM requests WHERE ts_ms >= ? AND provider IS NOT NULL "
                       "GROUP BY provider ORDER BY COUNT(*) DESC LIMIT 50",
                       from, names, MG_ARRAY_LEN(names));
    return out;
}

static json_t *period(sqlite3 *db, int64_t from, int64_t now)
{
    double observed = 0;
    long long n = 0;
    sqlite3_stmt *st = prepare(db, "SELECT COUNT(*), MIN(ts_ms) FROM requests WHERE ts_ms >= ?");
    if (st) {
        sqlite3_bind_int64(st, 1, from);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 1) != SQLITE_NULL) {
            n = sqlite3_column_int64(st, 0);
            observed = (double)(now - sqlite3_column_int64(st, 1)) / (double)DAY_MS;
        }
        sqlite3_finalize(st);
    }
    return json_pack("{s:i,s:I,s:I,s:f,s:I}", "days", 30, "from_ms", (json_int_t)from, "to_ms",
                     (json_int_t)now, "days_observed", MG_MIN(observed, 30.0), "requests",
                     (json_int_t)n);
}

json_t *mg_al_insight_data(sqlite3 *db, int64_t now, const mg_al_price *prices, size_t nprices)
{
    int64_t month = now - 30 * DAY_MS, week = now - 7 * DAY_MS;
    json_t *price_table = json_object();
    for (size_t i = 0; i < nprices; i++)
        json_object_set_new(price_table, prices[i].name, price_json(&prices[i]));
    json_t *repeats = json_array();
    repeats_of(db, "prompt_hash_system", "system", week, prices, nprices, repeats);
    repeats_of(db, "prompt_hash", "prefix", week, prices, nprices, repeats);
    return json_pack("{s:I,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "now_ms", (json_int_t)now,
                     "small_tokens", SMALL_TOKENS, "period", period(db, month, now), "prices",
                     price_table, "models", models(db, month, prices, nprices), "latency_weeks",
                     latency_weeks(db, now), "daily", daily(db, month), "hourly",
                     hourly(db, week), "prompt_repeats", repeats, "prompt_churn",
                     churn(db, week), "providers", providers(db, week));
}
