/* curl_loop.c — one libcurl multi handle per worker, driven by the
 * worker's libev loop (the pattern of curl's evhiperfifo.c): curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION, one ev_io each, found
 * again through curl_multi_assign) and when to wake it
 * (CURLMOPT_TIMERFUNCTION, one ev_timer); libev events go back to curl
 * through curl_multi_socket_action, after which finished transfers are
 * drained with curl_multi_info_read. Uses up_internal.h; xfer.c does the rest. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "up_internal.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- deferred work ---------------------------------------------------- */

void mg_up_enter(mg_upstream *u) { u->depth++; }

void mg_up_defer(mg_up_xfer *x)
{
    mg_upstream *u = x->u;
    if (x->deferred)
        return;
    x->deferred = 1;
    x->defer_next = NULL;
    if (u->deferred_tail)
        u->deferred_tail->defer_next = x;
    else
        u->deferred = x;
    u->deferred_tail = x;
}

static void run_deferred(mg_upstream *u)
{
    /* Each item is unlinked before it runs: running it may call back into
     * user code, which may queue more (handled by this same loop). */
    while (u->depth == 0 && u->deferred) {
        mg_up_xfer *x = u->deferred;
        u->deferred = x->defer_next;
        if (!u->deferred)
            u->deferred_tail = NULL;
        x->defer_next = NULL;
        x->deferred = 0;
        mg_up_run_deferred(x);
    }
}

void mg_up_leave(mg_upstream *u)
{
    if (--u->depth == 0)
        run_deferred(u);
}

void mg_up_launch(mg_up_xfer *x)
{
    if (x->native)
        mg_up_h1_launch(x);
    else
        mg_up_add_to_multi(x);
}

void mg_up_add_to_multi(mg_up_xfer *x)
{
    CURLMcode mc = curl_multi_add_handle(x->u->multi, x->easy);
    if (mc != CURLM_OK) {
        x->fail_result = MG_UP_ERR_INTERNAL;
        snprintf(x->errbuf, sizeof x->errbuf, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        mg_up_watch_arm(x, MG_UP_WATCH_FAIL, 0);
        return;
    }
    x->in_multi = 1;
}

/* ---- driving curl ----------------------------------------------------- */

static void drain_finished(mg_upstream *u)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(u->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        mg_up_xfer *x = NULL;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x || x->state != MG_UP_ST_RUNNING)
            continue;
        const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
        mg_up_finish(x, mg_up_map_curl_result(x, rc), rc == CURLE_OK ? NULL : why);
    }
}

static void socket_action(mg_upstream *u, curl_socket_t fd, int flags)
{
    int running = 0;
    mg_up_enter(u);
    CURLMcode mc = curl_multi_socket_action(u->multi, fd, flags, &running);
    mg_up_leave(u);
    if (mc != CURLM_OK)
        mg_warn("upstream: curl_multi_socket_action: %s", curl_multi_strerror(mc));
    drain_finished(u);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    MG_UNUSED(loop);
    mg_up_sock *s = w->data;
    int flags = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
                (revents & EV_WRITE ? CURL_CSELECT_OUT : 0) |
                (revents & EV_ERROR ? CURL_CSELECT_ERR : 0);
    /* s may be freed inside (CURL_POLL_REMOVE); it is not used after. */
    socket_action(s->u, s->fd, flags);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    socket_action(w->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: only re-arm our timer; calling libcurl from here
 * is not allowed. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    MG_UNUSED(multi);
    mg_upstream *u = userp;
    ev_timer_stop(u->loop, &u->timer);
    if (timeout_ms >= 0 && !u->closing) {
        ev_timer_set(&u->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(u->loop, &u->timer);
    }
    return 0;
}

static void sock_free(mg_upstream *u, mg_up_sock *s)
{
    ev_io_stop(u->loop, &s->io);
    if (s->prev)
        s->prev->next = s->next;
    else
        u->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
}

static mg_up_sock *sock_new(mg_upstream *u, curl_socket_t fd)
{
    mg_up_sock *s = mg_xcalloc(1, sizeof *s);
    s->u = u;
    s->fd = fd;
    ev_init(&s->io, on_io);
    s->io.data = s;
    s->next = u->socks;
    if (u->socks)
        u->socks->prev = s;
    u->socks = s;
    curl_multi_assign(u->multi, fd, s);
    return s;
}

/* CURLMOPT_SOCKETFUNCTION: create, re-arm or free the socket's watcher. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    MG_UNUSED(easy);
    mg_upstream *u = userp;
    mg_up_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_free(u, s);
        return 0;
    }
    if (!s)
        s = sock_new(u, fd);
    int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    ev_io_stop(u->loop, &s->io);
    if (events && !u->closing) {
        ev_io_set(&s->io, fd, events);
        ev_io_start(u->loop, &s->io);
    }
    return 0;
}

/* ---- life of the upstream --------------------------------------------- */

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

/* libcurl for everything when asked to, or when a proxy is configured in
 * the environment (only libcurl honours http_proxy and no_proxy). */
static int wants_curl_only(void)
{
    const char *client = getenv("MOONGATE_UPSTREAM_CLIENT");
    if (client && strcmp(client, "curl") == 0)
        return 1;
    return env_set("http_proxy") || env_set("HTTP_PROXY") || env_set("all_proxy") ||
           env_set("ALL_PROXY");
}

mg_upstream *mg_upstream_new(struct ev_loop *loop)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK) {
        mg_error("upstream: curl_global_init: %s", curl_easy_strerror(curl_init_result));
        return NULL;
    }
    mg_upstream *u = mg_xcalloc(1, sizeof *u);
    u->loop = loop;
    u->multi = curl_multi_init();
    u->share = curl_share_init();
    if (!u->multi || !u->share) {
        mg_error("upstream: curl_multi_init/curl_share_init failed");
        if (u->multi)
            curl_multi_cleanup(u->multi);
        if (u->share)
            curl_share_cleanup(u->share);
        free(u);
        return NULL;
    }
    /* One thread uses the share, so it needs no lock callbacks. */
    curl_share_setopt(u->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    ev_init(&u->timer, on_timer);
    u->timer.data = u;
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, (long)MG_UP_MAX_CONNECTS);
    u->curl_only = wants_curl_only();
    u->h1_rbuf = mg_xmalloc(MG_UP_H1_READ_BYTES);
    return u;
}

void mg_upstream_free(mg_upstream *u)
{
    if (!u)
        return;
    u->closing = 1;
    while (u->live)
        mg_up_destroy(u->live); /* unlinks itself, no callbacks */
    while (u->pool) {
        mg_up_xfer *x = u->pool;
        u->pool = x->next;
        mg_up_destroy(x);
    }
    mg_up_h1_pool_free(u);
    free(u->h1_rbuf);
    curl_multi_cleanup(u->multi);
    CURLSHcode sc = curl_share_cleanup(u->share);
    if (sc != CURLSHE_OK)
        mg_warn("upstream: curl_share_cleanup: %s", curl_share_strerror(sc));
    while (u->socks)
        sock_free(u, u->socks);
    ev_timer_stop(u->loop, &u->timer);
    free(u);
}

size_t mg_upstream_active(const mg_upstream *u) { return u ? u->nactive : 0; }
