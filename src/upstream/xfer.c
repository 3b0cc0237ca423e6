/* xfer.c — the life of one upstream transfer: start (from a pool of idle
 * transfers whose easy handles are reset and reused, so the multi handle's
 * connection cache and our buffers carry over), pause/resume, cancel, our
 * own first-byte and idle timeouts, the single on_done, timings, and the
 * return to the pool. Uses up_internal.h; curl_loop.c drives curl, request.c
 * loads the request, xfer_io.c handles the bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "up_internal.h"

static void on_watch(struct ev_loop *loop, ev_timer *w, int revents);

/* ---- lists and pool ----------------------------------------------------- */

static void live_link(mg_up_xfer *x)
{
    mg_upstream *u = x->u;
    x->prev = NULL;
    x->next = u->live;
    if (u->live)
        u->live->prev = x;
    u->live = x;
}

static void live_unlink(mg_up_xfer *x)
{
    mg_upstream *u = x->u;
    if (x->prev)
        x->prev->next = x->next;
    else
        u->live = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

static mg_up_xfer *xfer_new(mg_upstream *u)
{
    CURL *easy = curl_easy_init();
    if (!easy)
        return NULL;
    mg_up_xfer *x = mg_xcalloc(1, sizeof *x);
    x->u = u;
    x->easy = easy;
    x->spans = mg_xcalloc(MG_UP_MAX_RESP_HEADERS, sizeof *x->spans);
    x->hdrs = mg_xcalloc(MG_UP_MAX_RESP_HEADERS, sizeof *x->hdrs);
    ev_init(&x->watch, on_watch);
    x->watch.data = x;
    return x;
}

/* Free everything, no callbacks. Unlinks from u->live unless pooled (the
 * caller has then taken it off u->pool). */
void mg_up_destroy(mg_up_xfer *x)
{
    mg_upstream *u = x->u;
    if (x->state != MG_UP_ST_POOLED)
        live_unlink(x);
    ev_timer_stop(u->loop, &x->watch);
    if (x->in_multi)
        curl_multi_remove_handle(u->multi, x->easy);
    if (x->native)
        mg_up_h1_detach(x);
    curl_easy_cleanup(x->easy);
    free(x->block);
    mg_buf_free(&x->hdr_bytes);
    mg_buf_free(&x->held);
    free(x->spans);
    free(x->hdrs);
    free(x);
}

/* Take the transfer out of the multi handle and park it for reuse. */
static void detach_and_pool(mg_up_xfer *x)
{
    mg_upstream *u = x->u;
    if (x->in_multi) {
        curl_multi_remove_handle(u->multi, x->easy);
        x->in_multi = 0;
    }
    live_unlink(x);
    x->state = MG_UP_ST_POOLED;
    if (x->native)
        mg_up_h1_detach(x);
    if (u->npool >= MG_UP_MAX_POOL || u->closing) {
        mg_up_destroy(x);
        return;
    }
    if (!x->native) /* a native transfer never touched its easy handle */
        curl_easy_reset(x->easy);
    if (x->block_cap > MG_UP_KEEP_BUF_BYTES) {
        free(x->block);
        x->block = NULL;
        x->block_cap = 0;
    }
    if (x->hdr_bytes.cap > MG_UP_KEEP_BUF_BYTES)
        mg_buf_free(&x->hdr_bytes);
    x->next = u->pool;
    u->pool = x;
    u->npool++;
}

static mg_up_xfer *xfer_get(mg_upstream *u)
{
    mg_up_xfer *x = u->pool;
    if (x) {
        u->pool = x->next;
        u->npool--;
    } else {
        x = xfer_new(u);
        if (!x)
            return NULL;
    }
    /* Clear per-transfer state; keep handle, buffers and watcher. */
    x->prev = x->next = x->defer_next = NULL;
    memset(&x->cb, 0, sizeof x->cb);
    x->ud = NULL;
    mg_up_reset_headers(x);
    x->watch_kind = MG_UP_WATCH_NONE;
    x->fail_result = x->local_result = x->socket_errno = 0;
    x->t_first = 0;
    memset(&x->timings, 0, sizeof x->timings);
    x->errbuf[0] = '\0';
    x->in_multi = x->cancelled = x->deferred = x->paused = 0;
    x->resume_wanted = x->responded = x->https = 0;
    x->native = x->h1_head = x->h1_complete = x->h1_keepalive = x->h1_retried = 0;
    x->h1_in_field = x->h1_interim = 0;
    x->h1 = NULL;
    x->req_len = x->req_sent = x->held_off = 0;
    x->t_connected = x->connect_ms = 0;
    x->h1_reused = 0;
    x->state = MG_UP_ST_ENDED; /* not live until mg_up_start links it */
    return x;
}

/* Park now, or after the curl call we are inside has returned. */
static void release_when_possible(mg_up_xfer *x)
{
    if (x->deferred)
        return; /* the deferred queue will see it ended */
    if (x->u->depth > 0) {
        mg_up_defer(x);
        return;
    }
    detach_and_pool(x);
}

/* ---- the watchdog: first byte, idle, asynchronous failure --------------- */

void mg_up_watch_arm(mg_up_xfer *x, int kind, double after)
{
    ev_timer_stop(x->u->loop, &x->watch);
    x->watch_kind = kind;
    ev_timer_set(&x->watch, after, 0.);
    ev_timer_start(x->u->loop, &x->watch);
}

void mg_up_watch_stop(mg_up_xfer *x)
{
    ev_timer_stop(x->u->loop, &x->watch);
    x->watch_kind = MG_UP_WATCH_NONE;
}

static void on_watch(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(revents);
    mg_up_xfer *x = w->data;
    switch (x->watch_kind) {
    case MG_UP_WATCH_FAIL:
        mg_up_finish(x, x->fail_result, x->errbuf);
        return;
    case MG_UP_WATCH_CONNECT:
        snprintf(x->errbuf, sizeof x->errbuf, "no connection within %.3g s",
                 x->t_connect > 0 ? x->t_connect : 300.0);
        mg_up_finish(x, MG_UP_ERR_TIMEOUT_CONNECT, x->errbuf);
        return;
    case MG_UP_WATCH_FIRST_BYTE:
        snprintf(x->errbuf, sizeof x->errbuf, "no response within %.3g s", x->t_first_byte);
        mg_up_finish(x, MG_UP_ERR_TIMEOUT_FIRST_BYTE, x->errbuf);
        return;
    case MG_UP_WATCH_IDLE: {
        /* Bytes only stamp last_activity; the timer catches up here. */
        double left = x->last_activity + x->t_idle - ev_now(loop);
        if (left > 1e-3) {
            mg_up_watch_arm(x, MG_UP_WATCH_IDLE, left);
            return;
        }
        snprintf(x->errbuf, sizeof x->errbuf, "no data for %.3g s", x->t_idle);
        mg_up_finish(x, MG_UP_ERR_TIMEOUT_IDLE, x->errbuf);
        return;
    }
    default:
        return;
    }
}

/* ---- timings ------------------------------------------------------------- */

static void read_timings(const mg_up_xfer *x, mg_up_timings *t)
{
    if (x->native) {
        mg_up_h1_timings(x, t);
        return;
    }
    long nconn = 0;
    curl_off_t tcp_us = 0, tls_us = 0, pre_us = 0;
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn);
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &tcp_us);
    curl_easy_getinfo(x->easy, CURLINFO_APPCONNECT_TIME_T, &tls_us);
    curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &pre_us);
    t->pauses = x->timings.pauses;
    t->ttfb_ms = x->t_first ? (x->t_first - x->t_start) * 1e3 : 0;
    /* No new connection, yet the request went out: the pool served it. */
    t->reused = nconn == 0 && (pre_us > 0 || x->t_first > 0);
    curl_off_t ready_us = tls_us > 0 ? tls_us : tcp_us;
    t->connect_ms = t->reused ? 0 : (double)ready_us / 1e3;
}

void mg_up_get_timings(const mg_up_xfer *x, mg_up_timings *out)
{
    if (x->state == MG_UP_ST_ENDED)
        *out = x->timings;
    else
        read_timings(x, out);
}

/* ---- start, end, cancel, resume ------------------------------------------ */

mg_up_xfer *mg_up_start(mg_upstream *u, const mg_up_request *req, const mg_up_callbacks *cb,
                        void *ud, char *err)
{
    char scratch[MG_ERRLEN];
    if (!err)
        err = scratch;
    if (!u || !req || !cb) {
        snprintf(err, MG_ERRLEN, "bad arguments");
        return NULL;
    }
    mg_up_xfer *x = xfer_get(u);
    if (!x) {
        snprintf(err, MG_ERRLEN, "curl_easy_init failed");
        return NULL;
    }
    live_link(x);
    mg_up_h1_target target;
    x->native = !u->curl_only && req && req->url && mg_up_h1_target_of(req->url, &target) == MG_OK;
    int prepared = x->native ? mg_up_h1_prepare(x, req, &target, err) : mg_up_prepare(x, req, err);
    if (prepared != MG_OK) {
        detach_and_pool(x);
        return NULL;
    }
    x->cb = *cb;
    x->ud = ud;
    x->t_start = mg_now_mono();
    x->last_activity = ev_now(u->loop);
    if (x->t_first_byte > 0)
        mg_up_watch_arm(x, MG_UP_WATCH_FIRST_BYTE, x->t_first_byte);
    u->nactive++;
    if (u->depth > 0) { /* inside a curl callback: add it afterwards */
        x->state = MG_UP_ST_QUEUED;
        mg_up_defer(x);
    } else {
        x->state = MG_UP_ST_RUNNING;
        mg_up_launch(x);
    }
    return x;
}

/* Ends the transfer: called outside libcurl (after info_read, or from our
 * watchdog), so the handle can leave the multi at once. */
void mg_up_finish(mg_up_xfer *x, int result, const char *errmsg)
{
    if (x->state != MG_UP_ST_RUNNING)
        return;
    if (result == MG_UP_OK && !x->responded) {
        mg_up_fire_response(x); /* on_response comes before on_done, always */
        if (x->state != MG_UP_ST_RUNNING)
            return; /* cancelled from on_response */
    }
    read_timings(x, &x->timings);
    mg_up_watch_stop(x);
    x->u->nactive--;
    x->state = MG_UP_ST_ENDED;
    if (!x->cancelled && x->cb.on_done)
        x->cb.on_done(x->ud, result, errmsg);
    release_when_possible(x);
}

void mg_up_cancel(mg_up_xfer *x)
{
    if (!x || (x->state != MG_UP_ST_RUNNING && x->state != MG_UP_ST_QUEUED))
        return;
    x->cancelled = 1;
    x->resume_wanted = 0;
    mg_up_watch_stop(x);
    x->u->nactive--;
    x->state = MG_UP_ST_ENDED;
    release_when_possible(x);
}

static void do_resume(mg_up_xfer *x)
{
    mg_upstream *u = x->u;
    if (x->state != MG_UP_ST_RUNNING || !x->paused)
        return;
    if (x->native) {
        mg_up_h1_resume(x);
        return;
    }
    x->paused = 0;
    x->last_activity = ev_now(u->loop);
    if (x->t_idle > 0)
        mg_up_watch_arm(x, MG_UP_WATCH_IDLE, x->t_idle);
    /* curl may deliver what it held right here, through our write callback,
     * which may pause again or cancel: hence the enter/leave bracket. x may
     * be gone after mg_up_leave. */
    mg_up_enter(u);
    CURLcode rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
    mg_up_leave(u);
    if (rc != CURLE_OK)
        mg_debug("upstream: curl_easy_pause(CONT): %s", curl_easy_strerror(rc));
}

void mg_up_resume(mg_up_xfer *x)
{
    if (!x || x->state != MG_UP_ST_RUNNING || !x->paused)
        return;
    if (x->u->depth > 0) {
        x->resume_wanted = 1;
        mg_up_defer(x);
        return;
    }
    do_resume(x);
}

/* Work queued while a curl call was running, now done at depth 0. */
void mg_up_run_deferred(mg_up_xfer *x)
{
    switch (x->state) {
    case MG_UP_ST_QUEUED:
        x->state = MG_UP_ST_RUNNING;
        mg_up_launch(x);
        return;
    case MG_UP_ST_RUNNING:
        if (x->resume_wanted) {
            x->resume_wanted = 0;
            do_resume(x);
        }
        return;
    case MG_UP_ST_ENDED:
        detach_and_pool(x);
        return;
    default:
        return;
    }
}
