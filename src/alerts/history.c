/* history.c — GET /api/alerts/history (fired and resolved alerts with the
 * values that triggered them, from alert_history), GET /api/alerts/active
 * (alerts firing now, from memory) and POST /api/alerts/mute. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "al-t.h"

#define HISTORY_DEFAULT 100
#define HISTORY_MAX 1000

typedef struct history_ask {
    mg_al_reply *reply;
    long limit;
    int64_t since;
    char rule[MG_AL_NAME_MAX + 1]; /* "" = every rule */
} history_ask;

static json_t *col(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
    case SQLITE_NULL: return json_null();
    default: return json_string((const char *)sqlite3_column_text(st, i));
    }
}

static void history_job(sqlite3 *db, void *ud)
{
    history_ask *q = ud;
    static const char *const names[] = {"id", "ts_ms", "rule", "source", "key", "labels", "state",
                                        "severity", "metric", "op", "threshold", "value",
                                        "samples", "window", "notified", "message"};
    const char *sql =
        "SELECT id, ts_ms, rule, source, alert_key, labels, state, severity, metric, op, "
        "threshold, value, samples, window_s, notified, message FROM alert_history "
        "WHERE ts_ms >= ? AND (? = '' OR rule = ?) ORDER BY id DESC LIMIT ?";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        mg_al_reply_error(q->reply, 500, sqlite3_errmsg(db));
        q->reply = NULL;
        return;
    }
    sqlite3_bind_int64(st, 1, q->since);
    sqlite3_bind_text(st, 2, q->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, q->rule, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, q->limit);
    json_t *arr = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        for (size_t i = 0; i < MG_ARRAY_LEN(names); i++) {
            json_t *v = col(st, (int)i);
            if (!strcmp(names[i], "labels") && json_is_string(v)) {
                json_t *parsed = json_loads(json_string_value(v), 0, NULL);
                json_decref(v);
                v = parsed ? parsed : json_object();
            } else if (!strcmp(names[i], "notified")) {
                json_t *b = json_boolean(json_integer_value(v) != 0);
                json_decref(v);
                v = b;
            }
            json_object_set_new(o, names[i], v);
        }
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(st);
    mg_al_reply_json(q->reply, 200, json_pack("{s:o}", "history", arr));
    q->reply = NULL;
}

static void history_done(void *ud, int cancelled)
{
    history_ask *q = ud;
    if (q->reply)
        mg_al_reply_error(q->reply, 503, cancelled ? "shutting down" : "not answered");
    free(q);
}

void mg_al_api_history(mg_alerts *a, mg_al_cmd *c)
{
    history_ask *q = mg_xcalloc(1, sizeof *q);
    char v[64];
    q->limit = HISTORY_DEFAULT;
    if (mg_al_query_param(c->query, "limit", v, sizeof v) == MG_OK)
        q->limit = MG_MAX(1, MG_MIN(atol(v), HISTORY_MAX));
    if (mg_al_query_param(c->query, "since", v, sizeof v) == MG_OK)
        q->since = atoll(v);
    if (mg_al_query_param(c->query, "rule", q->rule, sizeof q->rule) != MG_OK)
        q->rule[0] = 0;
    q->reply = c->reply;
    c->reply = NULL;
    if (mg_al_submit(a, history_job, history_done, q) != MG_OK) {
        mg_al_reply_error(q->reply, 503, "the database queue is full");
        free(q);
    }
}

void mg_al_api_active(mg_alerts *a, mg_al_cmd *c)
{
    json_t *arr = json_array();
    int64_t now = mg_now_wall_ms();
    for (size_t i = 0; i < a->states.n; i++) {
        const mg_al_alert *al = &a->states.a[i];
        if (!al->firing)
            continue;
        json_t *o = mg_al_alert_json(mg_al_find_rule(a, al->rule), al, 1, now);
        json_object_set_new(o, "muted_until", al->mute_until_ms ? json_integer(al->mute_until_ms)
                                                                 : json_null());
        json_array_append_new(arr, o);
    }
    mg_al_reply_json(c->reply, 200, json_pack("{s:o}", "active", arr));
    c->reply = NULL;
}

int64_t mg_al_rule_mute(mg_alerts *a, const char *rule)
{
    return a->mutes ? json_integer_value(json_object_get(a->mutes, rule)) : 0;
}

/* {rule, key?, until_ms | seconds}: a key mutes one alert, a rule all of
 * its alerts (also the ones that appear later). until in the past unmutes. */
void mg_al_api_mute(mg_alerts *a, mg_al_cmd *c)
{
    json_t *body = mg_al_cmd_json(c);
    if (!body)
        return;
    const char *rule = json_string_value(json_object_get(body, "rule"));
    const char *key = json_string_value(json_object_get(body, "key"));
    json_t *until = json_object_get(body, "until_ms"), *secs = json_object_get(body, "seconds");
    int64_t t = json_is_number(until) ? (int64_t)json_number_value(until)
                : json_is_number(secs) ? mg_now_wall_ms() + (int64_t)(json_number_value(secs) * 1000)
                                       : -1;
    const char *err = NULL;
    if (!rule || t < 0 || (secs && json_number_value(secs) > 365 * 86400.0))
        err = "use {rule, key?, until_ms | seconds}";
    else if (!mg_al_find_rule(a, rule))
        err = "no rule with that name";
    mg_al_alert *al = NULL;
    if (!err && key && (!(al = mg_al_states_find(&a->states, key)) || strcmp(al->rule, rule)))
        err = "no alert with that key for this rule";
    if (err) {
        mg_al_reply_error(c->reply, 400, err);
    } else {
        if (al)
            al->mute_until_ms = t;
        else
            json_object_set_new(a->mutes, rule, json_integer(t));
        mg_al_reply_json(c->reply, 200, json_pack("{s:s,s:s?,s:I}", "rule", rule, "key", key,
                                                  "muted_until", (json_int_t)t));
    }
    c->reply = NULL;
    json_decref(body);
}
