/* gateway.c — `moongate serve`: load config, open the store, bind the
 * listeners, start the workers, then run the main thread's control loop
 * (signals, reloads, shutdown). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../admin/admin.h"
#include "../alerts/alerts.h"
#include "../admin/sessions.h"
#include "../admin/static.h"
#include "../analytics/analytics.h"
#include "../core/log.h"
#include "../crosstalk/crosstalk.h"
#include "../keys/keys.h"
#include "../live/live.h"
#include "../lua/host.h"
#include "../proxy/breaker.h"
#include "gateway.h"

static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            mg_warn("cannot raise the open-file limit: %s", strerror(errno));
    }
}

/* Budget thresholds reached (any worker, outside keys locks): a live
 * event for the dashboard; the alerts engine subscribes on its own. */
static void publish_budget_warning(void *ud, const mg_budget_event *ev)
{
    mg_gateway *gw = ud;
    mg_buf b = {0};
    mg_buf_printf(&b, "{\"scope\":\"%s\",\"period\":\"%s\",\"threshold\":%.2f,"
                      "\"spent\":%.6f,\"budget\":%.2f,\"key_id\":",
                  ev->scope, ev->period, ev->threshold, ev->spent, ev->budget);
    if (ev->key_id)
        mg_buf_append_json_str(&b, ev->key_id, strlen(ev->key_id));
    else
        mg_buf_append_str(&b, "null");
    mg_buf_append_str(&b, ",\"key_name\":");
    if (ev->key_name)
        mg_buf_append_json_str(&b, ev->key_name, strlen(ev->key_name));
    else
        mg_buf_append_str(&b, "null");
    mg_buf_append_str(&b, "}");
    mg_live_publish(gw->live, "budget_warning", b.data, b.len);
    mg_buf_free(&b);
}

static int open_store(mg_gateway *gw, const mg_config *cfg, char *err)
{
    char schema_dir[1024];
    snprintf(schema_dir, sizeof schema_dir, "%s/schema", gw->home);
    mg_store_opts so = {
        .db_path = cfg->db,
        .schema_dir = schema_dir,
        .access_log = cfg->access_log,
        .queue_capacity = cfg->queue_capacity,
        .flush_interval = cfg->flush_interval,
        .retention_days = cfg->retention_days,
    };
    gw->store = mg_store_open(&so, err);
    if (!gw->store)
        return MG_ERR;
    /* After the store: it applied schema/003_keys.sql. */
    mg_keys_opts ko;
    mg_keys_opts_default(&ko);
    ko.db_path = cfg->db;
    ko.auth_mode = mg_keys_auth_from_name(cfg->auth);
    ko.budget_day_usd = cfg->budget_daily_usd;
    ko.budget_month_usd = cfg->budget_monthly_usd;
    ko.warn_at[0] = cfg->budget_warn_at;
    gw->keys = mg_keys_open(&ko, err);
    if (!gw->keys)
        return MG_ERR;
    mg_keys_on_budget(gw->keys, publish_budget_warning, gw);
    char aerr[MG_ERRLEN] = "";
    gw->analytics = mg_analytics_open(cfg->db, aerr);
    if (!gw->analytics)
        mg_warn("analytics unavailable: %s", aerr);
    return MG_OK;
}

static int open_alerts(mg_gateway *gw, const mg_config *cfg)
{
    mg_alerts_opts ao = {.loop = gw->main_loop, .live = gw->live, .db_path = cfg->db,
                         .home = gw->home};
    char aerr[MG_ERRLEN] = "";
    gw->alerts = mg_alerts_new(&ao, aerr);
    if (!gw->alerts)
        mg_warn("alerts unavailable: %s", aerr);
    else if (gw->keys)
        mg_keys_on_budget(gw->keys, mg_alerts_on_budget, gw->alerts);
    return MG_OK; /* the gateway runs without alerts */
}

static int open_listeners(mg_gateway *gw, const mg_config *cfg, char *err)
{
    gw->tls_fd = -1;
    gw->listen_fd = mg_http_listen(cfg->listen_host, cfg->listen_port, &gw->bound_port, err);
    if (gw->listen_fd < 0)
        return MG_ERR;
    if (!cfg->tls_addr_host)
        return MG_OK;
    gw->tls_ctx = mg_tls_ctx_new(cfg->tls_cert, cfg->tls_key, err);
    if (!gw->tls_ctx)
        return MG_ERR;
    gw->tls_fd = mg_http_listen(cfg->tls_addr_host, cfg->tls_port, &gw->tls_bound_port, err);
    return gw->tls_fd < 0 ? MG_ERR : MG_OK;
}

static int setup_admin_token(mg_gateway *gw, const mg_config *cfg, char *err)
{
    if (cfg->admin_token) {
        snprintf(gw->admin_token, sizeof gw->admin_token, "%s", cfg->admin_token);
        return MG_OK;
    }
    int created = 0;
    if (mg_admin_token_load_or_create(cfg->admin_token_file, gw->admin_token,
                                      sizeof gw->admin_token, &created, err) != MG_OK)
        return MG_ERR;
    if (created)
        fprintf(stderr,
                "moongate: generated an admin token (shown once; saved to %s, mode 0600):\n"
                "  %s\n",
                cfg->admin_token_file, gw->admin_token);
    return MG_OK;
}

static int start_workers(mg_gateway *gw, char *err)
{
    mg_wgen **gens = mg_xcalloc((size_t)gw->nworkers, sizeof *gens);
    char lerr[2048] = "";
    uint64_t number = atomic_fetch_add(&gw->generation, 1) + 1;
    int rc = mg_gen_build_all(gw, gw->cfg, number, gens, lerr, sizeof lerr);
    if (rc != MG_OK) {
        fprintf(stderr, "moongate: policies failed to load:\n%s\n", lerr);
        snprintf(err, MG_ERRLEN, "fix the policy above (moongate check shows every problem)");
        free(gens);
        return MG_ERR;
    }
    gw->reload.generation = number;
    gw->reload.loaded_at_ms = mg_now_wall_ms();
    mg_gen_set_status_source(gw, gens[0]);
    gw->workers = mg_xcalloc((size_t)gw->nworkers, sizeof *gw->workers);
    /* Workers must not take the process's signals: the main loop does. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < gw->nworkers && rc == MG_OK; i++) {
        mg_worker *w = &gw->workers[i];
        w->gw = gw;
        w->id = i;
        w->gen = gens[i];
        gens[i] = NULL;
        rc = mg_worker_start(w, err);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < gw->nworkers; i++)
        if (gens[i])
            mg_wgen_release(gens[i]);
    free(gens);
    return rc;
}

static void on_shutdown_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(revents);
    mg_gateway *gw = t->data;
    int alive = 0;
    for (int i = 0; i < gw->nworkers; i++) {
        mg_worker *w = &gw->workers[i];
        if (w->thread && pthread_tryjoin_np(w->thread, NULL) == 0)
            w->thread = 0;
        alive += w->thread != 0;
    }
    double waited = mg_now_mono() - gw->shutdown_started;
    if (alive && waited > gw->cfg->cfg->shutdown_grace && !gw->shutdown_forced) {
        mg_warn("grace period of %.0fs over: aborting %d worker(s) with requests in flight",
                gw->cfg->cfg->shutdown_grace, alive);
        for (int i = 0; i < gw->nworkers; i++)
            if (gw->workers[i].thread)
                mg_worker_stop(&gw->workers[i], 1);
        gw->shutdown_forced = 1;
    }
    if (!alive)
        ev_break(loop, EVBREAK_ALL);
}

static void begin_shutdown(mg_gateway *gw)
{
    if (gw->shutting_down)
        return;
    gw->shutting_down = 1;
    ev_timer_stop(gw->main_loop, &gw->live_tick);
    gw->shutdown_started = mg_now_mono();
    mg_info("shutting down: no new connections, finishing requests in flight");
    for (int i = 0; i < gw->nworkers; i++)
        mg_worker_stop(&gw->workers[i], 0);
    ev_timer_init(&gw->shutdown_timer, on_shutdown_tick, 0.02, 0.02);
    gw->shutdown_timer.data = gw;
    ev_timer_start(gw->main_loop, &gw->shutdown_timer);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_gateway *gw = s->data;
    if (s->signum == SIGHUP)
        mg_gateway_reload(gw, "SIGHUP");
    else if (gw->shutting_down) /* a second Ctrl-C: stop now */
        for (int i = 0; i < gw->nworkers; i++)
            mg_worker_stop(&gw->workers[i], 1);
    else
        begin_shutdown(gw);
}

static void on_reload_async(struct ev_loop *loop, ev_async *a, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_gateway *gw = a->data;
    if (atomic_exchange(&gw->reload_requested, 0))
        mg_gateway_reload(gw, "admin API");
}

void mg_gateway_request_reload(mg_gateway *gw)
{
    atomic_store(&gw->reload_requested, 1);
    ev_async_send(gw->main_loop, &gw->reload_async);
}

static void on_live_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_gateway *gw = t->data;
    uint64_t active = 0;
    for (int i = 0; i < gw->nworkers; i++)
        active += atomic_load(&gw->workers[i].stats.active);
    mg_live_tick(gw->live, active);
}

static void watch_signals(mg_gateway *gw)
{
    ev_timer_init(&gw->live_tick, on_live_tick, 1.0, 1.0);
    gw->live_tick.data = gw;
    ev_timer_start(gw->main_loop, &gw->live_tick);
    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&gw->sig_int, on_signal, SIGINT);
    ev_signal_init(&gw->sig_term, on_signal, SIGTERM);
    ev_signal_init(&gw->sig_hup, on_signal, SIGHUP);
    gw->sig_int.data = gw->sig_term.data = gw->sig_hup.data = gw;
    ev_signal_start(gw->main_loop, &gw->sig_int);
    ev_signal_start(gw->main_loop, &gw->sig_term);
    ev_signal_start(gw->main_loop, &gw->sig_hup);
    ev_async_init(&gw->reload_async, on_reload_async);
    gw->reload_async.data = gw;
    ev_async_start(gw->main_loop, &gw->reload_async);
}

static void teardown(mg_gateway *gw)
{
    for (int i = 0; gw->workers && i < gw->nworkers; i++) {
        mg_worker *w = &gw->workers[i];
        if (w->thread)
            pthread_join(w->thread, NULL);
        if (w->loop) {
            pthread_mutex_lock(&w->handoff_lock);
            mg_wgen *pending = w->pending_gen;
            w->pending_gen = NULL;
            pthread_mutex_unlock(&w->handoff_lock);
            if (pending)
                mg_wgen_release(pending);
            ev_loop_destroy(w->loop);
            pthread_mutex_destroy(&w->handoff_lock);
        }
    }
    free(gw->workers);
    mg_gateway_watch_stop(gw);
    if (gw->analytics)
        mg_analytics_close(gw->analytics);
    mg_crosstalk_free(gw->crosstalk);
    if (gw->store)
        mg_store_close(gw->store); /* flushes every accepted record */
    mg_keys_close(gw->keys);
    if (gw->listen_fd >= 0)
        close(gw->listen_fd);
    if (gw->tls_fd >= 0)
        close(gw->tls_fd);
    if (gw->tls_ctx)
        mg_tls_ctx_free(gw->tls_ctx);
    mg_gen_set_status_source(gw, NULL);
    mg_breakers_free(gw->breakers);
    mg_alerts_free(gw->alerts);
    mg_live_free(gw->live);
    mg_static_free(gw->dashboard);
    mg_sessions_free(gw->sessions);
    mg_cfg_ref_release(gw->cfg);
    free(gw->reload.last_error);
    free(gw->reload.restart_needed);
    free(gw->config_path);
    pthread_mutex_destroy(&gw->status_lock);
}

/* What policies see through mg.providers: live breaker state. */
static void provider_state(void *ud, const char *provider, mg_lua_provider_state *st)
{
    mg_gateway *gw = ud;
    int state = mg_breaker_state(gw->breakers, provider, mg_now_mono());
    st->breaker = state == MG_BREAKER_OPEN        ? MG_LUA_BREAKER_OPEN
                  : state == MG_BREAKER_HALF_OPEN ? MG_LUA_BREAKER_HALF_OPEN
                                                  : MG_LUA_BREAKER_CLOSED;
    st->healthy = state != MG_BREAKER_OPEN;
}

static int metric_op(void *ud, const mg_lua_metric_query *q, double *out)
{
    return mg_alerts_metric(((mg_gateway *)ud)->alerts, q, out);
}

static void register_host_ops(mg_gateway *gw)
{
    mg_lua_host_ops ops = {.ud = gw, .provider_state = provider_state, .metric = metric_op};
    mg_lua_set_host_ops(&ops);
}

static void load_dashboard(mg_gateway *gw)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/dashboard", gw->home);
    gw->dashboard = mg_static_load(dir);
    gw->sessions = mg_sessions_new();
}

static int startup(mg_gateway *gw, const mg_serve_opts *opts, char *err)
{
    char cerr[8192] = "";
    mg_config *cfg = mg_config_load(opts->config_path, gw->home, cerr, sizeof cerr);
    if (cfg && mg_config_override(cfg, opts->listen, opts->db, cerr, sizeof cerr) != MG_OK) {
        mg_config_free(cfg);
        cfg = NULL;
    }
    if (!cfg) {
        /* Every problem the loader found, not just what fits in err. */
        fprintf(stderr, "moongate: cannot start:\n%s\n", cerr);
        snprintf(err, MG_ERRLEN, "fix the configuration above, then start again "
                                 "(moongate check -c FILE lists the problems)");
        return MG_ERR;
    }
    gw->cfg = mg_cfg_ref_new(cfg);
    gw->breakers = mg_breakers_new();
    gw->live = mg_live_new();
    register_host_ops(gw);
    gw->nworkers = cfg->workers > 0 ? cfg->workers : 1;
    if (cfg->log_level)
        mg_log_set_level(mg_log_level_from_name(cfg->log_level));
    mg_provider_state_load(gw);
    load_dashboard(gw);
    if (setup_admin_token(gw, cfg, err) != MG_OK || open_store(gw, cfg, err) != MG_OK ||
        open_alerts(gw, cfg) != MG_OK)
        return MG_ERR;
    char xerr[MG_ERRLEN] = "";
    gw->crosstalk = mg_crosstalk_new(gw, xerr);
    if (!gw->crosstalk)
        mg_warn("crosstalk unavailable: %s", xerr);
    if (open_listeners(gw, cfg, err) != MG_OK || start_workers(gw, err) != MG_OK)
        return MG_ERR;
    mg_alerts_set_config(gw->alerts, cfg, gw->reload.generation);
    watch_signals(gw);
    mg_provider_state_watch(gw);
    mg_gateway_watch_start(gw);
    mg_info("moongate %s listening on http://%s:%d/ (%d worker%s, config %s, db %s)", MG_VERSION,
            cfg->listen_host, gw->bound_port, gw->nworkers, gw->nworkers > 1 ? "s" : "",
            cfg->path, cfg->db);
    if (gw->tls_fd >= 0)
        mg_info("TLS listener on https://%s:%d/", cfg->tls_addr_host, gw->tls_bound_port);
    return MG_OK;
}

int mg_gateway_serve(const mg_serve_opts *opts)
{
    mg_gateway gw;
    memset(&gw, 0, sizeof gw);
    gw.listen_fd = gw.tls_fd = -1;
    gw.home = getenv("MOONGATE_HOME") ? getenv("MOONGATE_HOME") : MG_HOME;
    gw.config_path = opts->config_path ? mg_xstrdup(opts->config_path) : NULL;
    gw.opts = *opts;
    gw.started_at_ms = mg_now_wall_ms();
    gw.started_mono = mg_now_mono();
    gw.main_loop = ev_default_loop(EVFLAG_AUTO);
    gw.exit_code = 0;
    pthread_mutex_init(&gw.status_lock, NULL);
    raise_nofile_limit();
    char err[MG_ERRLEN] = "";
    if (startup(&gw, opts, err) != MG_OK) {
        fprintf(stderr, "moongate: %s\n", err);
        for (int i = 0; gw.workers && i < gw.nworkers; i++)
            if (gw.workers[i].thread)
                mg_worker_stop(&gw.workers[i], 1);
        teardown(&gw);
        return 1;
    }
    ev_run(gw.main_loop, 0);
    teardown(&gw);
    mg_info("stopped");
    return gw.exit_code;
}
