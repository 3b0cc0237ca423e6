/* worker.c — one worker thread: its libev loop, its listeners, its upstream
 * multi handle and its current generation. The main thread talks to it
 * only through `wake` (ev_async) and the fields under handoff_lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../crosstalk/crosstalk.h"
#include "../analytics/analytics.h"
#include "../live/live.h"
#include "gateway.h"

mg_wgen *mg_wgen_retain(mg_wgen *g)
{
    g->refs++;
    return g;
}

void mg_wgen_release(mg_wgen *g)
{
    if (!g || --g->refs > 0)
        return;
    mg_gen_free_lua(g);
    mg_cfg_ref_release(g->cfg);
    free(g);
}

static void take_pending_gen(mg_worker *w)
{
    pthread_mutex_lock(&w->handoff_lock);
    mg_wgen *next = w->pending_gen;
    w->pending_gen = NULL;
    pthread_mutex_unlock(&w->handoff_lock);
    if (!next)
        return;
    mg_gen_adopt_lua(next, w);
    mg_wgen *old = w->gen;
    w->gen = next;          /* new requests start here */
    mg_wgen_release(old);   /* in-flight requests keep the old one alive */
}

static void finish_loop_if_idle(mg_worker *w)
{
    if (mg_http_server_active(w->http) == 0 &&
        (!w->https || mg_http_server_active(w->https) == 0) && mg_upstream_active(w->up) == 0)
        ev_break(w->loop, EVBREAK_ALL);
}

static void on_drain_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    finish_loop_if_idle(t->data);
}

static void begin_drain(mg_worker *w)
{
    mg_crosstalk_drain(w->gw->crosstalk, w);
    mg_live_subs_close_all(w->subs);
    mg_http_server_drain(w->http);
    if (w->https)
        mg_http_server_drain(w->https);
    ev_timer_init(&w->drain_timer, on_drain_tick, 0.05, 0.05);
    w->drain_timer.data = w;
    ev_timer_start(w->loop, &w->drain_timer);
    finish_loop_if_idle(w);
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
    MG_UNUSED(revents);
    mg_worker *w = a->data;
    take_pending_gen(w);
    int stop = atomic_load(&w->stop_requested);
    if (stop == 2)
        ev_break(loop, EVBREAK_ALL);
    else if (stop == 1 && !ev_is_active(&w->drain_timer))
        begin_drain(w);
}

static void *worker_main(void *arg)
{
    mg_worker *w = arg;
    mg_crosstalk_attach(w->gw->crosstalk, w);
    if (w->gw->analytics)
        mg_analytics_attach_loop(w->gw->analytics, w->loop);
    ev_run(w->loop, 0);
    /* Whatever is still open after the grace period is aborted: clients
     * get their connection closed, upstream transfers are cancelled, and
     * each aborted request still writes its record. */
    mg_http_server_free(w->http);
    w->http = NULL;
    if (w->https) {
        mg_http_server_free(w->https);
        w->https = NULL;
    }
    ev_timer_stop(w->loop, &w->drain_timer);
    ev_async_stop(w->loop, &w->wake);
    mg_live_subs_free(w->subs);
    w->subs = NULL;
    if (w->gw->analytics)
        mg_analytics_detach_loop(w->gw->analytics, w->loop);
    mg_crosstalk_detach(w->gw->crosstalk, w);
    mg_upstream_free(w->up);
    w->up = NULL;
    mg_wgen_release(w->gen);
    w->gen = NULL;
    return NULL;
}

int mg_worker_start(mg_worker *w, char *err)
{
    const mg_config *cfg = w->gen->cfg->cfg;
    mg_http_limits limits;
    mg_http_limits_default(&limits);
    limits.max_header_bytes = cfg->max_header_bytes;
    limits.max_headers = cfg->max_headers;
    limits.max_body_bytes = cfg->max_body_bytes;
    limits.header_timeout = cfg->header_timeout;
    limits.body_timeout = cfg->body_timeout;
    limits.request_timeout = cfg->request_timeout;
    limits.keepalive_timeout = cfg->keepalive_timeout;

    w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!w->loop) {
        snprintf(err, MG_ERRLEN, "cannot create an event loop for worker %d", w->id);
        return MG_ERR;
    }
    pthread_mutex_init(&w->handoff_lock, NULL);
    ev_async_init(&w->wake, on_wake);
    w->wake.data = w;
    ev_async_start(w->loop, &w->wake);
    ev_init(&w->drain_timer, on_drain_tick);
    w->up = mg_upstream_new(w->loop);
    w->subs = mg_live_subs_new(w->gw->live, w->loop);
    mg_gen_adopt_lua(w->gen, w);
    w->http = mg_http_server_new(w->loop, w->gw->listen_fd, NULL, &limits, mg_router_handle, w);
    if (w->gw->tls_fd >= 0)
        w->https = mg_http_server_new(w->loop, w->gw->tls_fd, w->gw->tls_ctx, &limits,
                                      mg_router_handle, w);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        snprintf(err, MG_ERRLEN, "cannot start worker thread %d", w->id);
        return MG_ERR;
    }
    char name[16];
    snprintf(name, sizeof name, "mg-worker-%d", w->id % 1000);
    pthread_setname_np(w->thread, name); /* top -H, perf, gdb: who is busy */
    return MG_OK;
}

void mg_worker_handoff(mg_worker *w, mg_wgen *gen)
{
    pthread_mutex_lock(&w->handoff_lock);
    mg_wgen *stale = w->pending_gen; /* never adopted: only this thread refs it */
    w->pending_gen = gen;
    pthread_mutex_unlock(&w->handoff_lock);
    if (stale)
        mg_wgen_release(stale);
    ev_async_send(w->loop, &w->wake);
}

void mg_worker_stop(mg_worker *w, int hard)
{
    atomic_store(&w->stop_requested, hard ? 2 : 1);
    ev_async_send(w->loop, &w->wake);
}
