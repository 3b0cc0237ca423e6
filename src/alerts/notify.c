/* notify.c — what a transition produces: the alert's JSON details, a
 * notice sent to each of the rule's channels (the in-app live event
 * always), and a row in alert_history written by the database thread. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../live/live.h"
#include "al-t.h"

json_t *mg_al_alert_json(const mg_al_rule *r, const mg_al_alert *al, int firing, int64_t now_ms)
{
    json_t *labels = json_loads(al->labels ? al->labels : "{}", 0, NULL);
    json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:f,s:I,s:I,s:I,s:I}", "rule", al->rule,
                          "source", al->source == MG_AL_SRC_API ? "api" : "policy", "key",
                          al->key, "labels", labels ? labels : json_object(), "state",
                          firing ? "firing" : "resolved", "severity",
                          al->severity ? al->severity : "warning", "value", al->value, "samples",
                          (json_int_t)al->samples, "since_ms", (json_int_t)al->since_ms, "ts_ms",
                          (json_int_t)now_ms, "notifications", (json_int_t)al->notifications);
    if (!o)
        return json_object();
    if (r) {
        json_object_set_new(o, "metric", r->metric_name ? json_string(r->metric_name)
                                                        : json_string("function"));
        json_object_set_new(o, "op", json_string(mg_al_op_name(r->op)));
        json_object_set_new(o, "threshold", json_real(r->threshold));
        json_object_set_new(o, "window", json_real(r->window));
        if (r->description)
            json_object_set_new(o, "description", json_string(r->description));
    }
    return o;
}

/* "p95_latency = 2512.3 (> 2000) over 300 s, 14 samples, provider=openai" */
static void describe(const mg_al_rule *r, const mg_al_alert *al, int firing, mg_buf *out)
{
    if (r)
        mg_buf_printf(out, "%s = %.6g (%s %.6g) over %.0f s, %llu sample%s",
                      r->metric_name ? r->metric_name : "value", al->value,
                      firing ? mg_al_op_name(r->op) : "threshold", r->threshold, r->window,
                      (unsigned long long)al->samples, al->samples == 1 ? "" : "s");
    else
        mg_buf_printf(out, "rule removed; last value %.6g", al->value);
    json_t *labels = json_loads(al->labels ? al->labels : "{}", 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        mg_buf_printf(out, ", %s=%s", k, json_string_value(v) ? json_string_value(v) : "");
    }
    if (labels)
        json_decref(labels);
    if (r && r->description)
        mg_buf_printf(out, "\n%s", r->description);
}

int mg_al_channel_resolve(mg_alerts *a, const json_t *entry, mg_al_channel *out, char *err,
                          size_t errlen)
{
    if (json_is_object(entry))
        return mg_al_channel_parse(entry, "", out, err, errlen);
    const char *name = json_string_value(entry);
    if (!name) {
        snprintf(err, errlen, "a channel is a name or a table");
        return MG_ERR;
    }
    json_t *spec = json_object_get(a->channels, name);
    if (spec)
        return mg_al_channel_parse(spec, name, out, err, errlen);
    if (!strcmp(name, "in_app")) {
        json_t *in_app = json_pack("{s:s}", "type", "in_app");
        int rc = mg_al_channel_parse(in_app, name, out, err, errlen);
        json_decref(in_app);
        return rc;
    }
    snprintf(err, errlen, "no channel named '%s' (create it with POST /api/alerts/channels)", name);
    return MG_ERR;
}

static void on_sent(void *ud, const mg_al_sent *s)
{
    MG_UNUSED(ud);
    if (s->ok)
        mg_debug("alerts: notified %s %s in %.0f ms", s->type, s->channel, s->ms);
}

void mg_al_notify(mg_alerts *a, const mg_al_rule *r, const mg_al_change *c, int64_t now_ms)
{
    const mg_al_alert *al = c->alert;
    int firing = c->trans != MG_AL_T_RESOLVED;
    json_t *details = mg_al_alert_json(r, al, firing, now_ms);
    char title[512];
    if (firing)
        snprintf(title, sizeof title, "[%s] %s %s", al->severity ? al->severity : "warning",
                 al->key, c->trans == MG_AL_T_REMINDER ? "still firing" : "firing");
    else
        snprintf(title, sizeof title, "%s resolved", al->key);
    mg_buf text = {0};
    describe(r, al, firing, &text);
    mg_al_notice n = {.event = firing ? "alert_triggered" : "alert_resolved", .title = title,
                      .text = mg_buf_cstr(&text), .severity = al->severity, .alert = details,
                      .ts_ms = now_ms};
    json_t *list = json_loads(r && r->channels ? r->channels : "[\"in_app\"]", 0, NULL);
    int in_app_sent = 0;
    size_t i;
    json_t *entry;
    json_array_foreach(list, i, entry)
    {
        mg_al_channel ch;
        char err[256];
        if (mg_al_channel_resolve(a, entry, &ch, err, sizeof err) != MG_OK) {
            mg_warn("alerts: rule %s: %s", al->rule, err);
            continue;
        }
        in_app_sent |= ch.type == MG_AL_CH_IN_APP;
        mg_al_deliver(a->sender, &ch, &n, on_sent, NULL);
        mg_al_channel_clear(&ch);
    }
    if (!in_app_sent) { /* the dashboard always hears about alerts */
        mg_al_channel in_app = {.type = MG_AL_CH_IN_APP, .name = (char *)"in_app"};
        mg_al_deliver(a->sender, &in_app, &n, NULL, NULL);
    }
    if (list)
        json_decref(list);
    json_decref(details);
    mg_buf_free(&text);
}

/* ---- history rows -------------------------------------------------------- */

typedef struct history_row {
    int64_t ts_ms;
    char *rule, *source, *key, *labels, *state, *severity, *metric, *op, *message;
    double threshold, value, window;
    int64_t samples;
    int notified;
} history_row;

static void row_free(history_row *h)
{
    free(h->rule);
    free(h->source);
    free(h->key);
    free(h->labels);
    free(h->state);
    free(h->severity);
    free(h->metric);
    free(h->op);
    free(h->message);
    free(h);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void insert_history(sqlite3 *db, void *ud)
{
    history_row *h = ud;
    static const char sql[] =
        "INSERT INTO alert_history (ts_ms, rule, source, alert_key, labels, state, severity,"
        " metric, op, threshold, value, samples, window_s, notified, message)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        mg_error("alerts: history: %s", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_int64(st, 1, h->ts_ms);
    bind_text(st, 2, h->rule);
    bind_text(st, 3, h->source);
    bind_text(st, 4, h->key);
    bind_text(st, 5, h->labels);
    bind_text(st, 6, h->state);
    bind_text(st, 7, h->severity);
    bind_text(st, 8, h->metric);
    bind_text(st, 9, h->op);
    sqlite3_bind_double(st, 10, h->threshold);
    sqlite3_bind_double(st, 11, h->value);
    sqlite3_bind_int64(st, 12, h->samples);
    sqlite3_bind_double(st, 13, h->window);
    sqlite3_bind_int(st, 14, h->notified);
    bind_text(st, 15, h->message);
    if (sqlite3_step(st) != SQLITE_DONE)
        mg_error("alerts: history: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

static void history_done(void *ud, int cancelled)
{
    MG_UNUSED(cancelled);
    row_free(ud);
}

static char *dup_or_null(const char *s) { return s ? mg_xstrdup(s) : NULL; }

void mg_al_history_add(mg_alerts *a, const mg_al_rule *r, const mg_al_change *c, int64_t now_ms)
{
    const mg_al_alert *al = c->alert;
    int firing = c->trans == MG_AL_T_FIRED;
    history_row *h = mg_xcalloc(1, sizeof *h);
    h->ts_ms = now_ms;
    h->rule = mg_xstrdup(al->rule);
    h->source = mg_xstrdup(al->source == MG_AL_SRC_API ? "api" : "policy");
    h->key = mg_xstrdup(al->key);
    h->labels = dup_or_null(al->labels);
    h->state = mg_xstrdup(firing ? "fired" : "resolved");
    h->severity = dup_or_null(al->severity);
    h->metric = dup_or_null(r ? (r->metric_name ? r->metric_name : "function") : NULL);
    h->op = dup_or_null(r ? mg_al_op_name(r->op) : NULL);
    h->threshold = r ? r->threshold : 0;
    h->window = r ? r->window : 0;
    h->value = al->value;
    h->samples = (int64_t)al->samples;
    h->notified = c->notify;
    mg_buf text = {0};
    describe(r, al, firing, &text);
    h->message = mg_xstrdup(mg_buf_cstr(&text));
    mg_buf_free(&text);
    if (mg_al_submit(a, insert_history, history_done, h) != MG_OK)
        row_free(h);
}
