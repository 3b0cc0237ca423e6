/* state.c — the alert state machine of state.h. A linear table: alerts
 * are few (bounded by MG_AL_MAX_ALERTS) and every pass touches them all. */
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "rule.h"
#include "state.h"

static void alert_clear(mg_al_alert *a)
{
    free(a->key);
    free(a->rule);
    free(a->labels);
    free(a->severity);
    memset(a, 0, sizeof *a);
}

void mg_al_states_free(mg_al_states *s)
{
    for (size_t i = 0; i < s->n; i++)
        alert_clear(&s->a[i]);
    free(s->a);
    memset(s, 0, sizeof *s);
}

void mg_al_states_begin(mg_al_states *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->a[i].seen = 0;
}

mg_al_alert *mg_al_states_find(mg_al_states *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->a[i].key, key) == 0)
            return &s->a[i];
    return NULL;
}

static mg_al_alert *add(mg_al_states *s, const char *key, const char *rule, int source,
                        const char *labels)
{
    if (s->n >= MG_AL_MAX_ALERTS)
        return NULL;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->a = mg_xrealloc(s->a, s->cap * sizeof *s->a);
    }
    mg_al_alert *a = &s->a[s->n++];
    memset(a, 0, sizeof *a);
    a->key = mg_xstrdup(key);
    a->rule = mg_xstrdup(rule);
    a->source = source;
    a->labels = mg_xstrdup(labels ? labels : "{}");
    return a;
}

static int muted(const mg_al_alert *a, int64_t rule_mute, int64_t now)
{
    return now < rule_mute || now < a->mute_until_ms;
}

static int cooled(const mg_al_alert *a, int64_t now)
{
    return a->last_notified_ms == 0 || now - a->last_notified_ms >= a->cooldown_ms;
}

static void set_severity(mg_al_alert *a, const char *severity)
{
    if (severity && (!a->severity || strcmp(a->severity, severity) != 0)) {
        free(a->severity);
        a->severity = mg_xstrdup(severity);
    }
}

int mg_al_states_observe(mg_al_states *s, const char *key, const char *rule, int source,
                         const char *labels, const char *severity, int cond, double value,
                         uint64_t samples, double cooldown, int64_t rule_mute_until_ms,
                         int64_t now_ms, mg_al_change *out)
{
    memset(out, 0, sizeof *out);
    mg_al_alert *a = mg_al_states_find(s, key);
    if (!a && cond != MG_AL_HOLDS)
        return MG_OK;
    if (!a && !(a = add(s, key, rule, source, labels)))
        return MG_ERR;
    a->seen = 1;
    a->value = value;
    a->samples = samples;
    a->cooldown_ms = (int64_t)(cooldown * 1000.0);
    set_severity(a, severity);
    out->alert = a;
    int quiet = muted(a, rule_mute_until_ms, now_ms);
    if (cond == MG_AL_HOLDS && !a->firing) {
        a->firing = 1;
        a->since_ms = now_ms;
        out->trans = MG_AL_T_FIRED;
        out->notify = !quiet && cooled(a, now_ms);
        a->notified = out->notify;
    } else if (cond == MG_AL_HOLDS) {
        if (!quiet && cooled(a, now_ms)) {
            out->trans = MG_AL_T_REMINDER;
            out->notify = 1;
            a->notified = 1;
        }
    } else if (a->firing) {
        a->firing = 0;
        out->trans = MG_AL_T_RESOLVED;
        out->notify = a->notified && !quiet;
        a->notified = 0;
    }
    if (out->notify) {
        a->last_notified_ms = now_ms;
        a->notifications++;
    }
    return MG_OK;
}

void mg_al_states_sweep(mg_al_states *s, int (*rule_state)(void *ud, const char *rule),
                        void *ud, int64_t now_ms, mg_al_change_fn fn, void *fn_ud)
{
    for (size_t i = 0; i < s->n; i++) {
        mg_al_alert *a = &s->a[i];
        if (a->seen || !a->firing || rule_state(ud, a->rule) == 0)
            continue;
        mg_al_change c = {.trans = MG_AL_T_RESOLVED, .alert = a};
        c.notify = a->notified && !muted(a, 0, now_ms);
        a->firing = 0;
        a->notified = 0;
        if (c.notify) {
            a->last_notified_ms = now_ms;
            a->notifications++;
        }
        fn(fn_ud, &c);
    }
}

void mg_al_states_compact(mg_al_states *s, int64_t now_ms)
{
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        mg_al_alert *a = &s->a[i];
        if (!a->firing && cooled(a, now_ms) && now_ms >= a->mute_until_ms) {
            alert_clear(a);
            continue;
        }
        if (w != i)
            s->a[w] = *a;
        w++;
    }
    s->n = w;
}

char *mg_al_alert_key(const char *rule, const char *const *names, const char *const *values,
                      size_t n)
{
    mg_buf b = {0};
    mg_buf_append_str(&b, rule);
    for (size_t i = 0; i < n; i++) {
        mg_buf_append_str(&b, i ? "," : "{");
        mg_buf_printf(&b, "%s=%s", names[i], values[i] ? values[i] : "");
    }
    if (n)
        mg_buf_append_str(&b, "}");
    char *key = mg_xstrdup(mg_buf_cstr(&b));
    mg_buf_free(&b);
    return key;
}
