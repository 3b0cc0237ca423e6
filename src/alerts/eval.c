/* eval.c — one evaluation pass (mg_alerts_evaluate): every enabled rule,
 * policy rules first, then API rules a policy rule does not shadow. A
 * declarative rule is evaluated per group (group_by labels seen in the
 * window) over the ring; a function rule runs in Lua (lua_rules.c). Each
 * value goes through the state machine (state.c); transitions are
 * written to the history and notified (notify.c). */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "al-t.h"

const mg_al_rule *mg_al_find_rule(const mg_alerts *a, const char *name)
{
    for (size_t i = 0; i < a->nlua; i++)
        if (!strcmp(a->lua_rules[i].name, name))
            return &a->lua_rules[i];
    for (size_t i = 0; i < a->napi; i++)
        if (!strcmp(a->api_rules[i].name, name))
            return &a->api_rules[i];
    return NULL;
}

static json_t *labels_json(const char *const *names, const char *const *values, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, names[i], json_string(values[i] ? values[i] : ""));
    return o;
}

/* One value of one rule (one alert key). forced: -1, or the firing state a
 * Lua function decided itself (0/1). */
static void observe(mg_alerts *a, const mg_al_rule *r, const char *const *names,
                    const char *const *values, size_t n, int has_value, double value,
                    uint64_t samples, int forced)
{
    int cond;
    if (forced >= 0)
        cond = forced ? MG_AL_HOLDS : MG_AL_CLEAR;
    else if (!has_value || (long)samples < r->min_samples)
        cond = MG_AL_NODATA;
    else
        cond = mg_al_rule_holds(r, value) ? MG_AL_HOLDS : MG_AL_CLEAR;
    char *key = mg_al_alert_key(r->name, names, values, n);
    json_t *lj = labels_json(names, values, n);
    char *labels = json_dumps(lj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(lj);
    mg_al_change c;
    int64_t now = a->last_eval_ms;
    int64_t mute = MG_MAX(r->mute_until_ms, mg_al_rule_mute(a, r->name));
    if (mg_al_states_observe(&a->states, key, r->name, r->source, labels, r->severity, cond,
                             value, samples, r->cooldown, mute, now, &c) != MG_OK)
        mg_warn("alerts: too many alerts at once; %s not tracked", key);
    else if (c.trans == MG_AL_T_FIRED || c.trans == MG_AL_T_RESOLVED)
        mg_al_history_add(a, r, &c, now);
    if (c.notify)
        mg_al_notify(a, r, &c, now);
    free(labels);
    free(key);
}

typedef struct group_walk {
    mg_alerts *a;
    const mg_al_rule *r;
    mg_al_filter filters[MG_AL_MAX_FILTERS + MG_AL_MAX_GROUP];
    const char *names[MG_AL_MAX_GROUP];
    const char *values[MG_AL_MAX_GROUP];
    size_t observed;
} group_walk;

static void eval_value(group_walk *w, size_t nf, size_t depth)
{
    double v = 0;
    uint64_t n = 0;
    int rc = mg_al_metric_eval(w->a->ring, &w->r->metric, w->r->window, w->filters, nf,
                               w->a->last_eval_ms, &v, &n);
    observe(w->a, w->r, w->names, w->values, depth, rc == MG_OK, v, n, -1);
    w->observed++;
}

static void walk_groups(group_walk *w, size_t nf, size_t depth)
{
    if (depth == w->r->ngroup) {
        eval_value(w, nf, depth);
        return;
    }
    int label = w->r->group_by[depth];
    char **groups = NULL;
    size_t n = mg_al_ring_groups(w->a->ring, label, w->r->window, w->filters, nf,
                                 w->a->last_eval_ms, MG_AL_MAX_GROUPS, &groups);
    for (size_t i = 0; i < n && w->observed < MG_AL_MAX_GROUPS; i++) {
        w->filters[nf].field = mg_al_label_name(label);
        w->filters[nf].value = groups[i];
        w->names[depth] = mg_al_label_name(label);
        w->values[depth] = groups[i];
        walk_groups(w, nf + 1, depth + 1);
    }
    mg_al_strings_free(groups, n);
}

static void eval_budget(mg_alerts *a, const mg_al_rule *r)
{
    mg_al_budget b[MG_AL_MAX_BUDGETS];
    size_t n = mg_al_budget_snapshot(a, b, MG_AL_MAX_BUDGETS, a->last_eval_ms);
    static const char *const names[] = {"budget"};
    for (size_t i = 0; i < n; i++) {
        const char *values[] = {b[i].scope};
        observe(a, r, names, values, 1, 1, b[i].spent / b[i].budget, 1, -1);
    }
}

static void eval_declarative(mg_alerts *a, const mg_al_rule *r)
{
    if (r->metric.kind == MG_AL_M_BUDGET_USAGE) {
        eval_budget(a, r);
        return;
    }
    group_walk w = {.a = a, .r = r};
    for (size_t i = 0; i < r->nfilters; i++)
        w.filters[i] = r->filters[i];
    walk_groups(&w, r->nfilters, 0);
}

static void note_evaluated(mg_alerts *a, const char *name)
{
    a->evaluated = mg_xrealloc(a->evaluated, (a->nevaluated + 1) * sizeof *a->evaluated);
    a->evaluated[a->nevaluated++] = mg_xstrdup(name);
}

/* 1: evaluated this pass; 0: exists but was skipped; -1: gone or disabled. */
static int rule_state(void *ud, const char *name)
{
    mg_alerts *a = ud;
    for (size_t i = 0; i < a->nevaluated; i++)
        if (!strcmp(a->evaluated[i], name))
            return 1;
    const mg_al_rule *r = mg_al_find_rule(a, name);
    return r && r->enabled ? 0 : -1;
}

static void on_sweep(void *ud, const mg_al_change *c)
{
    mg_alerts *a = ud;
    const mg_al_rule *r = mg_al_find_rule(a, c->alert->rule);
    mg_al_history_add(a, r, c, a->last_eval_ms);
    if (c->notify)
        mg_al_notify(a, r, c, a->last_eval_ms);
}

static int shadowed(const mg_alerts *a, const mg_al_rule *api_rule)
{
    for (size_t i = 0; i < a->nlua; i++)
        if (!strcmp(a->lua_rules[i].name, api_rule->name))
            return 1;
    return 0;
}

static void reset_evaluated(mg_alerts *a)
{
    for (size_t i = 0; i < a->nevaluated; i++)
        free(a->evaluated[i]);
    a->nevaluated = 0;
}

void mg_alerts_evaluate(mg_alerts *a)
{
    if (!a || a->closing)
        return;
    a->last_eval_ms = mg_now_wall_ms();
    a->evaluations++;
    reset_evaluated(a);
    mg_al_states_begin(&a->states);
    for (size_t i = 0; i < a->nlua; i++) {
        const mg_al_rule *r = &a->lua_rules[i];
        if (!r->enabled)
            continue;
        if (r->is_function && mg_al_lua_run_rule(a, i, a->last_eval_ms, observe) != MG_OK)
            continue;
        if (!r->is_function)
            eval_declarative(a, r);
        note_evaluated(a, r->name);
    }
    for (size_t i = 0; i < a->napi; i++) {
        const mg_al_rule *r = &a->api_rules[i];
        if (!r->enabled || shadowed(a, r))
            continue;
        eval_declarative(a, r);
        note_evaluated(a, r->name);
    }
    mg_al_states_sweep(&a->states, rule_state, a, a->last_eval_ms, on_sweep, a);
    mg_al_states_compact(&a->states, a->last_eval_ms);
}
