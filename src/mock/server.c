/* server.c — `moongate mock --listen HOST:PORT`: the mock generator behind
 * the host's own HTTP server (net/http.h), so gateways, SDKs and tests can
 * talk to it over a socket. Each request starts one mock transfer whose
 * callbacks become mg_http_begin / write / finish; MG_AGAIN from the socket
 * pauses the transfer until on_writable. SIGINT/SIGTERM drain (in-flight
 * replies finish, for at most DRAIN_SECONDS), a second signal stops at once.
 * Ownership: the server struct lives on mg_mock_serve's stack; each request
 * has a mock_exchange that owns its transfer.
 * Uses mock.c, net/http.h and libev's default loop (for signals). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "mock.h"

#define DRAIN_SECONDS 3.0
#define DRAIN_POLL 0.05

typedef struct mock_server {
    struct ev_loop *loop;
    mg_http_server *http;
    mg_mock_opts opts;
    ev_signal sigint, sigterm;
    ev_timer drain_poll;
    double drain_deadline;
    int draining;
} mock_server;

/* One request being answered. Owned by itself: freed when the transfer
 * ends (on_done), the socket fails, or the client goes (on_abort). */
typedef struct mock_exchange {
    mg_http_req *req;
    mg_mock_xfer *x;
} mock_exchange;

/* Detach from the request (before finishing it: after that the request
 * is no longer ours to touch) and free. Returns the request. */
static mg_http_req *exchange_release(mock_exchange *e)
{
    mg_http_req *req = e->req;
    req->ud = NULL;
    req->on_abort = NULL;
    req->on_writable = NULL;
    free(e);
    return req;
}

static void on_response(void *ud, int status, const mg_header *h, size_t n)
{
    mock_exchange *e = ud;
    const char *ctype = "application/json";
    mg_buf extra = {0};
    for (size_t i = 0; i < n; i++) {
        if (mg_strncaseeq(h[i].name, h[i].name_len, "content-type"))
            ctype = h[i].value;
        else
            mg_buf_printf(&extra, "%.*s: %.*s\r\n", (int)h[i].name_len, h[i].name, (int)h[i].value_len,
                          h[i].value);
    }
    mg_http_begin(e->req, status, ctype, extra.len ? mg_buf_cstr(&extra) : NULL);
    mg_buf_free(&extra);
}

static int on_data(void *ud, const char *data, size_t len)
{
    mock_exchange *e = ud;
    int rc = mg_http_write(e->req, data, len);
    if (rc == MG_ERR) { /* client gone: stop generating for it */
        mg_mock_cancel(e->x);
        mg_http_finish(exchange_release(e));
        return MG_OK;
    }
    return rc;
}

static void on_done(void *ud, int result, const char *errmsg)
{
    mock_exchange *e = ud;
    if (result != MG_UP_OK)
        mg_debug("mock: %s %s ends early: %s", e->req->method, e->req->path, errmsg ? errmsg : "");
    /* The cut fault ends the connection where it stands, as a broken
     * upstream would: no end of the chunked body. */
    mg_http_req *req = exchange_release(e);
    if (result == MG_UP_ERR_IO)
        mg_http_abort(req);
    else
        mg_http_finish(req);
}

static void on_writable(mg_http_req *req)
{
    mock_exchange *e = req->ud;
    if (e)
        mg_mock_resume(e->x);
}

static void on_abort(mg_http_req *req)
{
    mock_exchange *e = req->ud;
    if (!e)
        return;
    mg_mock_cancel(e->x);
    exchange_release(e);
}

static const mg_up_callbacks exchange_cbs = {on_response, on_data, on_done};

static void handle(mg_http_req *req, void *handler_ud)
{
    mock_server *ms = handler_ud;
    mock_exchange *e = mg_xcalloc(1, sizeof *e);
    e->req = req;
    req->ud = e;
    req->on_writable = on_writable;
    req->on_abort = on_abort;
    mg_mock_req mreq = {
        .method = req->method,
        .path = req->path,
        .query = req->query ? req->query : "",
        .headers = req->headers,
        .nheaders = req->nheaders,
        .body = req->body.data ? mg_buf_rptr(&req->body) : "",
        .body_len = mg_buf_unread(&req->body),
    };
    e->x = mg_mock_start(ms->loop, &mreq, &ms->opts, &exchange_cbs, e);
}

static void on_drain_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(revents);
    mock_server *ms = w->data;
    if (mg_http_server_active(ms->http) == 0 || ev_now(loop) >= ms->drain_deadline)
        ev_break(loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    MG_UNUSED(revents);
    mock_server *ms = w->data;
    if (ms->draining) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    mg_info("mock: signal %d, finishing replies in flight", w->signum);
    ms->draining = 1;
    ms->drain_deadline = ev_now(loop) + DRAIN_SECONDS;
    mg_http_server_drain(ms->http);
    ev_timer_start(loop, &ms->drain_poll);
}

int mg_mock_serve(const char *host, int port, const mg_mock_opts *opts)
{
    char err[MG_ERRLEN];
    int bound = port;
    int fd = mg_http_listen(host, port, &bound, err);
    if (fd < 0) {
        mg_error("mock: cannot listen on %s:%d: %s", host, port, err);
        return MG_ERR;
    }
    mock_server ms = {.loop = ev_default_loop(0)};
    ms.opts.speed = opts ? opts->speed : 1.0;
    mg_http_limits limits;
    mg_http_limits_default(&limits);
    ms.http = mg_http_server_new(ms.loop, fd, NULL, &limits, handle, &ms);
    if (!ms.http) {
        mg_error("mock: cannot start the HTTP server");
        close(fd);
        return MG_ERR;
    }
    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&ms.sigint, on_signal, SIGINT);
    ev_signal_init(&ms.sigterm, on_signal, SIGTERM);
    ms.sigint.data = ms.sigterm.data = &ms;
    ev_signal_start(ms.loop, &ms.sigint);
    ev_signal_start(ms.loop, &ms.sigterm);
    ev_timer_init(&ms.drain_poll, on_drain_poll, DRAIN_POLL, DRAIN_POLL);
    ms.drain_poll.data = &ms;
    mg_info("mock: listening on http://%s:%d (speed %g)", host, bound, ms.opts.speed);

    ev_run(ms.loop, 0);

    ev_signal_stop(ms.loop, &ms.sigint);
    ev_signal_stop(ms.loop, &ms.sigterm);
    ev_timer_stop(ms.loop, &ms.drain_poll);
    mg_http_server_free(ms.http); /* aborts what is left: on_abort cancels */
    close(fd);
    mg_info("mock: stopped");
    return MG_OK;
}
