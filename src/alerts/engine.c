/* engine.c — the alerts engine's life (alerts.h): creation, the timers of
 * the main loop, the admin inbox, the record feed, mg.metrics, budget
 * events, and adopting a reloaded config (prices + a policy generation). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../keys/keys.h"
#include "al-t.h"

/* ---- timers ---------------------------------------------------------------- */

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_alerts_evaluate(t->data);
}

static void on_insight_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_alerts *a = t->data;
    if (a->gen && !a->insights_running)
        mg_al_insights_run(a, NULL);
}

/* ---- admin inbox ----------------------------------------------------------- */

void mg_al_cmd_free(mg_al_cmd *c)
{
    free(c->method);
    free(c->path);
    free(c->query);
    free(c->body);
    free(c);
}

void mg_al_inbox_push(mg_alerts *a, mg_al_cmd *c)
{
    pthread_mutex_lock(&a->inbox_lock);
    if (a->inbox_closed || a->inbox_n >= MG_AL_INBOX_MAX) {
        pthread_mutex_unlock(&a->inbox_lock);
        mg_al_reply_error(c->reply, 503, "the alerts engine is busy or stopping");
        mg_al_cmd_free(c);
        return;
    }
    c->next = NULL;
    if (a->inbox_tail)
        a->inbox_tail->next = c;
    else
        a->inbox_head = c;
    a->inbox_tail = c;
    a->inbox_n++;
    ev_async_send(a->loop, &a->inbox_wake);
    pthread_mutex_unlock(&a->inbox_lock);
}

void mg_al_dispatch(mg_alerts *a, mg_al_cmd *c); /* admin.c */

static void on_inbox(struct ev_loop *loop, ev_async *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_alerts *a = w->data;
    for (;;) {
        pthread_mutex_lock(&a->inbox_lock);
        mg_al_cmd *c = a->inbox_head;
        if (c) {
            a->inbox_head = c->next;
            if (!a->inbox_head)
                a->inbox_tail = NULL;
            a->inbox_n--;
        }
        pthread_mutex_unlock(&a->inbox_lock);
        if (!c)
            return;
        mg_al_dispatch(a, c);
        mg_al_cmd_free(c);
    }
}

int mg_al_submit(mg_alerts *a, mg_al_job_run run, mg_al_job_done done, void *ud)
{
    if (mg_al_db_submit(a->db, run, done, ud) == MG_OK)
        return MG_OK;
    mg_warn("alerts: database queue full; a write or query was skipped");
    return MG_AGAIN;
}

/* ---- life ------------------------------------------------------------------ */

mg_alerts *mg_alerts_new(const mg_alerts_opts *o, char *err)
{
    mg_al_db *db = mg_al_db_open(o->db_path, o->loop, err);
    if (!db)
        return NULL;
    mg_alerts *a = mg_xcalloc(1, sizeof *a);
    a->loop = o->loop;
    a->live = o->live;
    a->db = db;
    a->db_path = mg_xstrdup(o->db_path);
    a->home = mg_xstrdup(o->home ? o->home : ".");
    a->interval = o->interval > 0 ? o->interval : 5.0;
    a->insight_interval = o->insight_interval == 0 ? 3600.0 : o->insight_interval;
    a->ring = mg_al_ring_new(o->ring_samples);
    a->sender = mg_al_sender_new(o->loop, o->live);
    a->channels = json_object();
    a->mutes = json_object();
    a->runner_ref = a->helper_ref = a->insights_ref = -2; /* LUA_NOREF */
    pthread_mutex_init(&a->inbox_lock, NULL);
    pthread_mutex_init(&a->budget_lock, NULL);
    ev_async_init(&a->inbox_wake, on_inbox);
    a->inbox_wake.data = a;
    ev_async_start(a->loop, &a->inbox_wake);
    ev_unref(a->loop);
    ev_timer_init(&a->tick, on_tick, a->interval, a->interval);
    a->tick.data = a;
    ev_timer_start(a->loop, &a->tick);
    ev_unref(a->loop);
    if (a->insight_interval > 0) {
        /* The first run a minute after start: the data is there by then. */
        ev_timer_init(&a->insight_tick, on_insight_tick, MG_MIN(60.0, a->insight_interval),
                      a->insight_interval);
        a->insight_tick.data = a;
        ev_timer_start(a->loop, &a->insight_tick);
        ev_unref(a->loop);
    }
    mg_al_load_saved(a);
    mg_al_seed_ring(a);
    mg_al_insights_restore(a);
    return a;
}

static void free_prices(mg_alerts *a)
{
    for (size_t i = 0; i < a->nprices; i++)
        free(a->prices[i].name);
    free(a->prices);
    a->prices = NULL;
    a->nprices = 0;
}

void mg_alerts_free(mg_alerts *a)
{
    if (!a)
        return;
    a->closing = 1;
    mg_al_whatif_stop(a);
    pthread_mutex_lock(&a->inbox_lock);
    a->inbox_closed = 1;
    mg_al_cmd *c = a->inbox_head;
    a->inbox_head = a->inbox_tail = NULL;
    pthread_mutex_unlock(&a->inbox_lock);
    while (c) {
        mg_al_cmd *next = c->next;
        mg_al_reply_error(c->reply, 503, "shutting down");
        mg_al_cmd_free(c);
        c = next;
    }
    ev_ref(a->loop);
    ev_timer_stop(a->loop, &a->tick);
    if (a->insight_interval > 0) {
        ev_ref(a->loop);
        ev_timer_stop(a->loop, &a->insight_tick);
    }
    ev_ref(a->loop);
    ev_async_stop(a->loop, &a->inbox_wake);
    mg_al_sender_free(a->sender); /* before the Lua state: nothing calls back after */
    mg_al_db_close(a->db);        /* pending history writes still land */
    for (size_t i = 0; i < a->nwaiters; i++)
        mg_al_reply_error(a->insight_waiters[i], 503, "shutting down");
    free(a->insight_waiters);
    mg_al_lua_drop(a);
    for (size_t i = 0; i < a->napi; i++)
        mg_al_rule_clear(&a->api_rules[i]);
    free(a->api_rules);
    for (size_t i = 0; i < a->nevaluated; i++)
        free(a->evaluated[i]);
    free(a->evaluated);
    json_decref(a->channels);
    json_decref(a->mutes);
    mg_al_states_free(&a->states);
    mg_al_ring_free(a->ring);
    free_prices(a);
    free(a->config_path);
    free(a->db_path);
    free(a->home);
    pthread_mutex_destroy(&a->inbox_lock);
    pthread_mutex_destroy(&a->budget_lock);
    free(a);
}

/* ---- config ---------------------------------------------------------------- */

static void copy_prices(mg_alerts *a, const mg_config *cfg)
{
    free_prices(a);
    a->prices = mg_xcalloc(cfg->nmodels + 1, sizeof *a->prices);
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const mg_model_info *m = &cfg->models[i];
        mg_al_price *p = &a->prices[a->nprices++];
        p->name = mg_xstrdup(m->name);
        p->input = m->price_input;
        p->output = m->price_output;
        p->cached_read = m->price_cached_read;
        p->cache_write = m->price_cache_write;
        p->reasoning = m->price_reasoning;
        p->context = m->context_window;
        p->served = mg_config_provider_for_model(cfg, m->name) != NULL;
    }
}

static int suffix_boundary(char ch) { return ch == '-' || ch == '@' || ch == ':' || ch == '_'; }

static const mg_al_price *lookup(const mg_alerts *a, const char *model)
{
    const mg_al_price *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < a->nprices; i++) {
        size_t n = strlen(a->prices[i].name);
        if (strncmp(model, a->prices[i].name, n) != 0)
            continue;
        if (model[n] == 0)
            return &a->prices[i];
        if (n > best_len && suffix_boundary(model[n])) {
            best = &a->prices[i];
            best_len = n;
        }
    }
    return best;
}

/* The same matching as mg_config_model (config.h), over the copied table. */
const mg_al_price *mg_al_price_of(const mg_alerts *a, const char *model)
{
    if (!model || !*model)
        return NULL;
    const mg_al_price *p = lookup(a, model);
    const char *slash = strrchr(model, '/');
    if (!p && slash && slash[1])
        p = lookup(a, slash + 1);
    return p;
}

int mg_alerts_set_config(mg_alerts *a, const mg_config *cfg, uint64_t number)
{
    if (!a || !cfg)
        return MG_ERR;
    copy_prices(a, cfg);
    free(a->config_path);
    a->config_path = cfg->path && !cfg->is_demo ? mg_xstrdup(cfg->path) : NULL;
    char err[1024] = "";
    mg_lua_gen *g = mg_lua_gen_build(cfg, number, err, sizeof err);
    if (!g) {
        mg_error("alerts: policies for generation %llu failed to load, keeping the previous "
                 "rules: %s", (unsigned long long)number, err);
        return MG_ERR;
    }
    mg_lua_gen_bind(g, a->loop, NULL);
    mg_al_lua_adopt(a, g);
    return MG_OK;
}

/* ---- feeds from any thread ------------------------------------------------- */

void mg_alerts_record(mg_alerts *a, const mg_record *r)
{
    if (a && r)
        mg_al_ring_add(a->ring, r, mg_now_wall_ms());
}

static int to_agg(int op)
{
    switch (op) {
    case MG_LUA_METRIC_SUM: return MG_AL_SUM;
    case MG_LUA_METRIC_AVG: return MG_AL_AVG;
    case MG_LUA_METRIC_COUNT: return MG_AL_COUNT;
    case MG_LUA_METRIC_RATE: return MG_AL_RATE;
    case MG_LUA_METRIC_PERCENTILE: return MG_AL_PCT;
    default: return -1;
    }
}

int mg_alerts_metric(void *ud, const mg_lua_metric_query *q, double *out)
{
    mg_alerts *a = ud;
    if (!a || !q || q->nfilters > MG_AL_MAX_FILTERS)
        return MG_ERR;
    mg_al_filter f[MG_AL_MAX_FILTERS];
    for (size_t i = 0; i < q->nfilters; i++) {
        f[i].field = q->filters[i].name;
        f[i].value = q->filters[i].value;
    }
    mg_al_query rq = {.agg = to_agg(q->op), .num = q->metric ? mg_al_num_of(q->metric) : -1,
                      .window = q->window, .q = q->q, .filters = f, .nfilters = q->nfilters};
    if (rq.agg < 0)
        return MG_ERR;
    uint64_t n = 0;
    return mg_al_ring_query(a->ring, &rq, mg_now_wall_ms(), out, &n);
}

void mg_alerts_on_budget(void *ud, const struct mg_budget_event *ev)
{
    mg_alerts *a = ud;
    if (!a || !ev || !ev->scope || !ev->period || !(ev->budget > 0))
        return;
    char scope[192];
    if (ev->key_id)
        snprintf(scope, sizeof scope, "%s:%s/%s", ev->scope,
                 ev->key_name ? ev->key_name : ev->key_id, ev->period);
    else
        snprintf(scope, sizeof scope, "%s/%s", ev->scope, ev->period);
    pthread_mutex_lock(&a->budget_lock);
    mg_al_budget *b = NULL;
    for (size_t i = 0; i < a->nbudgets && !b; i++)
        if (!strcmp(a->budgets[i].scope, scope))
            b = &a->budgets[i];
    if (!b && a->nbudgets < MG_AL_MAX_BUDGETS)
        b = &a->budgets[a->nbudgets++];
    if (b) {
        snprintf(b->scope, sizeof b->scope, "%s", scope);
        b->spent = ev->spent;
        b->budget = ev->budget;
        b->period_end_ms = ev->period_end_ms;
    }
    pthread_mutex_unlock(&a->budget_lock);
}

size_t mg_al_budget_snapshot(mg_alerts *a, mg_al_budget *out, size_t max, int64_t now_ms)
{
    size_t n = 0;
    pthread_mutex_lock(&a->budget_lock);
    for (size_t i = 0; i < a->nbudgets && n < max; i++) {
        out[n] = a->budgets[i];
        if (out[n].period_end_ms && now_ms >= out[n].period_end_ms)
            out[n].spent = 0; /* a new period started: nothing known spent yet */
        n++;
    }
    pthread_mutex_unlock(&a->budget_lock);
    return n;
}
