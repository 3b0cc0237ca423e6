/* upstream_test_client.h — the client side of the upstream tests: a
 * `got` recorder whose callbacks check the contract order, behaviours
 * (pause, cancel, resume another) switched on per test, and an `env` with
 * a loop, an upstream and the scripted server of upstream_test_server.h.
 * Header-only (static functions), included by test_upstream.c and
 * test_upstream_h1.c. */
#ifndef MG_UPSTREAM_TEST_CLIENT_H
#define MG_UPSTREAM_TEST_CLIENT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "test.h"
#include "upstream/upstream.h"
#include "upstream_test_server.h"

/* The tests talk to 127.0.0.1 directly, whatever proxy the shell names. */
__attribute__((constructor)) static void no_proxy_env(void)
{
    const char *vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                          "ALL_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

/* ---- the client side ----------------------------------------------------- */

typedef struct got {
    struct ev_loop *loop;
    mg_upstream *u;
    mg_up_xfer *x;
    int responses, status, data_calls, done, result;
    int any_data;           /* data_calls > 0, as a flag for run_until */
    int order_errors;       /* callbacks out of contract order */
    char errmsg[256];
    char ctype[64], xtest[64], saw_expect[64], saw_ae[64], saw_custom[64], xfinal[16];
    mg_buf body;
    mg_up_timings tm;
    double t_done;

    /* Behaviours. */
    int pause_mode;         /* 0 none, 1 pause on every data call */
    double first_pause_s;   /* length of the first pause; later ones ~1 ms */
    int paused;             /* we returned MG_AGAIN and have not resumed */
    int data_while_paused;
    ev_timer resume_timer;
    int cancel_in_data, cancel_in_response;
    int calls_after_cancel, cancelled;
    struct got *resume_other; /* resume this one's transfer from our on_data */
    void (*then)(struct got *g); /* run from on_done */
} got;

static void copy_header(const mg_header *h, size_t n, const char *name, char *out, size_t sz)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(h[i].name, name) == 0 && strlen(h[i].name) == h[i].name_len) {
            snprintf(out, sz, "%.*s", (int)h[i].value_len, h[i].value);
            return;
        }
}

static void on_response(void *ud, int status, const mg_header *h, size_t n)
{
    got *g = ud;
    if (g->cancelled)
        g->calls_after_cancel++;
    if (g->responses || g->data_calls || g->done)
        g->order_errors++;
    g->responses++;
    g->status = status;
    copy_header(h, n, "Content-Type", g->ctype, sizeof g->ctype);
    copy_header(h, n, "X-Test", g->xtest, sizeof g->xtest);
    copy_header(h, n, "X-Saw-Expect", g->saw_expect, sizeof g->saw_expect);
    copy_header(h, n, "X-Saw-AE", g->saw_ae, sizeof g->saw_ae);
    copy_header(h, n, "X-Saw-Custom", g->saw_custom, sizeof g->saw_custom);
    copy_header(h, n, "X-Final", g->xfinal, sizeof g->xfinal);
    if (g->cancel_in_response) {
        mg_up_cancel(g->x);
        mg_up_cancel(g->x); /* twice is harmless */
        g->cancelled = 1;
    }
}

static void on_resume_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    got *g = w->data;
    g->paused = 0;
    mg_up_resume(g->x);
}

static int on_data(void *ud, const char *data, size_t len)
{
    got *g = ud;
    if (g->cancelled)
        g->calls_after_cancel++;
    if (!g->responses || g->done)
        g->order_errors++;
    if (g->paused)
        g->data_while_paused++;
    g->data_calls++;
    g->any_data = 1;
    mg_buf_append(&g->body, data, len);
    if (g->resume_other && g->resume_other->paused) {
        g->resume_other->paused = 0;
        mg_up_resume(g->resume_other->x); /* inside a curl call: deferred */
    }
    if (g->cancel_in_data) {
        mg_up_cancel(g->x);
        g->cancelled = 1;
        return MG_OK;
    }
    if (g->pause_mode) {
        g->paused = 1;
        if (g->resume_timer.data) {
            double wait = g->data_calls == 1 ? g->first_pause_s : 0.001;
            ev_timer_set(&g->resume_timer, wait, 0.);
            ev_timer_start(g->loop, &g->resume_timer);
        }
        return MG_AGAIN;
    }
    return MG_OK;
}

static void on_done(void *ud, int result, const char *errmsg)
{
    got *g = ud;
    if (g->cancelled)
        g->calls_after_cancel++;
    if (g->done)
        g->order_errors++;
    g->done++;
    g->result = result;
    g->t_done = mg_now_mono();
    snprintf(g->errmsg, sizeof g->errmsg, "%s", errmsg ? errmsg : "");
    mg_up_get_timings(g->x, &g->tm);
    if (g->then)
        g->then(g);
}

static const mg_up_callbacks callbacks = {on_response, on_data, on_done};

static void got_init(got *g, struct ev_loop *loop, mg_upstream *u)
{
    memset(g, 0, sizeof *g);
    g->loop = loop;
    g->u = u;
    g->result = -1;
    ev_timer_init(&g->resume_timer, on_resume_timer, 0., 0.);
    g->resume_timer.data = g;
}

static void got_free(got *g)
{
    ev_timer_stop(g->loop, &g->resume_timer);
    mg_buf_free(&g->body);
}

static mg_up_xfer *start(got *g, const srv *s, const char *method, const char *path,
                         const char *const *hdrs, size_t nh, const char *body, double t_first,
                         double t_idle, double t_total)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s ? s->port : 9, path);
    mg_up_request req = {
        .method = method, .url = url, .headers = hdrs, .nheaders = nh,
        .body = body, .body_len = body ? strlen(body) : 0,
        .t_connect = 2, .t_first_byte = t_first, .t_idle = t_idle, .t_total = t_total,
    };
    char err[MG_ERRLEN] = "";
    g->x = mg_up_start(g->u, &req, &callbacks, g, err);
    if (!g->x)
        fprintf(stderr, "mg_up_start: %s\n", err);
    return g->x;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(w);
    MG_UNUSED(revents);
}

/* Run the loop until *flag or the deadline; returns *flag. */
static int run_until(struct ev_loop *loop, const int *flag, double seconds)
{
    ev_timer tick;
    ev_timer_init(&tick, on_tick, 0.01, 0.01);
    ev_timer_start(loop, &tick);
    double end = mg_now_mono() + seconds;
    while (!*flag && mg_now_mono() < end)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &tick);
    return *flag;
}

static inline void run_for(struct ev_loop *loop, double seconds)
{
    int never = 0;
    run_until(loop, &never, seconds);
}

typedef struct env {
    struct ev_loop *loop;
    mg_upstream *u;
    srv s;
} env;

static void env_up(env *e)
{
    e->loop = ev_loop_new(EVFLAG_AUTO);
    e->u = mg_upstream_new(e->loop);
    srv_start(&e->s);
}

static void env_down(env *e)
{
    mg_upstream_free(e->u);
    srv_stop(&e->s);
    ev_loop_destroy(e->loop);
}

#endif
