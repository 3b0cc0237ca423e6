/* h1_xfer.c — one transfer over a native HTTP/1.1 connection (h1_conn.c):
 * the request written as one block, the response read with http_parser
 * into the same callbacks and the same timers the libcurl path uses.
 * libcurl stays for TLS, host names and proxies; for an http:// upstream at
 * an IP literal this path skips curl's per-request URL parsing, header
 * formatting, connection-cache scans and liveness polls, which cost more
 * than the rest of a proxied request.
 *
 * The response is parsed by h1_parse.c; body bytes decoded from one read
 * are gathered in x->held and handed to on_data in one call after the read
 * is parsed. Backpressure: when on_data asks for a pause, reading stops;
 * what is held (at most one read's worth, MG_UP_H1_READ_BYTES) waits for
 * the resume.
 *
 * A request that finds its pooled connection closed by the upstream before
 * any response byte is sent again, once, on a new connection (the race of
 * a keep-alive timeout; libcurl does the same).
 *
 * Failures end the transfer through the watchdog (MG_UP_WATCH_FAIL), so no
 * callback ever runs inside mg_up_start. Uses up_internal.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "up_internal.h"

#define CURL_DEFAULT_CONNECT_SECONDS 300.0 /* what libcurl uses when given 0 */

/* ---- building the request ----------------------------------------------- */

static int is_header(const char *h, size_t name_len, const char *name)
{
    return strlen(name) == name_len && strncasecmp(h, name, name_len) == 0;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_str(char *p, const char *s) { return put(p, s, strlen(s)); }

static int wants_length(const mg_up_request *req)
{
    return req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
           strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0;
}

int mg_up_h1_prepare(mg_up_xfer *x, const mg_up_request *req, const mg_up_h1_target *t,
                     char *err)
{
    int https = 0;
    size_t hdr_bytes = 0;
    if (mg_up_check_request(req, &https, &hdr_bytes, err) != MG_OK)
        return MG_ERR;
    size_t need = strlen(req->method) + strlen(t->path) + t->authority_len + hdr_bytes +
                  req->nheaders * 2 + req->body_len + 128;
    if (need > x->block_cap) {
        free(x->block);
        x->block = mg_xmalloc(need);
        x->block_cap = need;
    }
    char *p = x->block;
    p = put_str(p, req->method);
    p = put_str(p, t->path[0] == '/' ? " " : " /");
    p = put_str(p, t->path);
    p = put_str(p, " HTTP/1.1\r\n");
    int has_host = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *h = req->headers[i];
        size_t name_len = mg_up_header_name_len(h);
        if (mg_up_header_is_ours(h, name_len))
            continue;
        has_host |= is_header(h, name_len, "host");
        p = put_str(p, h);
        p = put(p, "\r\n", 2);
    }
    if (!has_host) {
        p = put_str(p, "Host: ");
        p = put(p, t->authority, t->authority_len);
        p = put(p, "\r\n", 2);
    }
    /* No compression: the gateway reads and forwards the bytes as they come. */
    p = put_str(p, "Accept-Encoding: identity\r\n");
    if (wants_length(req))
        p += sprintf(p, "Content-Length: %zu\r\n", req->body_len);
    p = put(p, "\r\n", 2);
    if (req->body_len)
        p = put(p, req->body, req->body_len);
    x->req_len = (size_t)(p - x->block);
    x->req_sent = 0;
    x->h1_target.addr = t->addr;
    x->h1_target.addr_len = t->addr_len;
    x->h1_head = strcmp(req->method, "HEAD") == 0;
    x->t_connect = req->t_connect;
    x->t_first_byte = req->t_first_byte;
    x->t_idle = req->t_idle;
    x->t_total = req->t_total;
    return MG_OK;
}

/* ---- ending ------------------------------------------------------------- */

static void describe_target(const mg_up_xfer *x, char *out, size_t outsz)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    const struct sockaddr_storage *a = &x->h1_target.addr;
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof ip);
        port = ntohs(a6->sin6_port);
        snprintf(out, outsz, "[%s]:%u", ip, port);
        return;
    }
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
    inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof ip);
    port = ntohs(a4->sin_port);
    snprintf(out, outsz, "%s:%u", ip, port);
}

/* Drop the connection: back to the pool when it can carry another request. */
static void release_conn(mg_up_xfer *x, int reusable)
{
    mg_up_h1_conn *c = x->h1;
    if (!c)
        return;
    x->h1 = NULL;
    if (reusable && x->req_sent == x->req_len)
        mg_up_h1_conn_park(c);
    else
        mg_up_h1_conn_close(c);
}

/* End with an error on the next loop turn (never inside mg_up_start). */
static void fail(mg_up_xfer *x, int result, const char *fmt, ...)
{
    release_conn(x, 0);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->errbuf, sizeof x->errbuf, fmt, ap);
    va_end(ap);
    x->fail_result = result;
    mg_up_watch_arm(x, MG_UP_WATCH_FAIL, 0);
}

static void complete(mg_up_xfer *x) { mg_up_finish(x, MG_UP_OK, NULL); }

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_up_xfer *x = w->data;
    snprintf(x->errbuf, sizeof x->errbuf, "no complete response within %.3g s", x->t_total);
    mg_up_finish(x, MG_UP_ERR_TIMEOUT_TOTAL, x->errbuf);
}

void mg_up_h1_detach(mg_up_xfer *x)
{
    ev_timer_stop(x->u->loop, &x->deadline);
    release_conn(x, 0);
    if (x->held.cap > MG_UP_KEEP_BUF_BYTES)
        mg_buf_free(&x->held);
    mg_buf_reset(&x->held);
    x->held_off = 0;
}

void mg_up_h1_timings(const mg_up_xfer *x, mg_up_timings *t)
{
    t->pauses = x->timings.pauses;
    t->ttfb_ms = x->t_first ? (x->t_first - x->t_start) * 1e3 : 0;
    t->reused = x->h1_reused;
    t->connect_ms = x->h1_reused ? 0 : x->connect_ms;
}

/* ---- sending ------------------------------------------------------------ */

static void attach_new(mg_up_xfer *x);

/* The connection broke before the response was complete. */
static void broken(mg_up_xfer *x, int err_no, const char *doing)
{
    mg_up_h1_conn *c = x->h1;
    if (c && c->reused && !x->t_first && !x->h1_retried) {
        /* A pooled connection the upstream had already closed. */
        x->h1_retried = 1;
        release_conn(x, 0);
        x->req_sent = 0;
        http_parser_init(&x->h1p, HTTP_RESPONSE);
        x->h1p.data = x;
        mg_up_reset_headers(x);
        attach_new(x);
        return;
    }
    char where[INET6_ADDRSTRLEN + 16];
    describe_target(x, where, sizeof where);
    if (err_no)
        fail(x, MG_UP_ERR_IO, "connection to %s lost while %s: %s", where, doing, strerror(err_no));
    else
        fail(x, MG_UP_ERR_IO, "%s closed the connection %s", where,
             x->t_first ? "before the response was complete" : "without responding");
}

/* MG_OK while the same connection goes on carrying the request. */
static int send_request(mg_up_xfer *x)
{
    mg_up_h1_conn *c = x->h1;
    while (x->req_sent < x->req_len) {
        ssize_t n = send(c->fd, x->block + x->req_sent, x->req_len - x->req_sent, MSG_NOSIGNAL);
        if (n > 0) {
            x->req_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            mg_up_h1_conn_watch(c, x->paused ? EV_WRITE : EV_READ | EV_WRITE);
            return MG_OK;
        }
        broken(x, n < 0 ? errno : EPIPE, "sending the request");
        return MG_ERR;
    }
    mg_up_h1_conn_watch(c, x->paused ? 0 : EV_READ);
    return MG_OK;
}

static double elapsed(const mg_up_xfer *x) { return mg_now_mono() - x->t_start; }

/* While connecting, whichever of the connect and first-byte limits ends first. */
static void arm_connect_watch(mg_up_xfer *x)
{
    double spent = elapsed(x);
    double connect_limit = x->t_connect > 0 ? x->t_connect : CURL_DEFAULT_CONNECT_SECONDS;
    double connect_left = connect_limit - spent;
    if (x->t_first_byte > 0 && x->t_first_byte - spent < connect_left) {
        double left = x->t_first_byte - spent;
        mg_up_watch_arm(x, MG_UP_WATCH_FIRST_BYTE, left > 0 ? left : 0);
        return;
    }
    mg_up_watch_arm(x, MG_UP_WATCH_CONNECT, connect_left > 0 ? connect_left : 0);
}

static void connected(mg_up_xfer *x)
{
    mg_up_h1_conn *c = x->h1;
    c->connecting = 0;
    x->t_connected = mg_now_mono();
    x->connect_ms = (x->t_connected - c->t_open) * 1e3;
    if (x->t_first_byte > 0) {
        double left = x->t_first_byte - elapsed(x);
        mg_up_watch_arm(x, MG_UP_WATCH_FIRST_BYTE, left > 0 ? left : 0);
    } else {
        mg_up_watch_stop(x);
    }
    send_request(x);
}

static int out_of_local_resources(int err_no)
{
    return err_no == EMFILE || err_no == ENFILE || err_no == ENOBUFS || err_no == ENOMEM;
}

static void attach_new(mg_up_xfer *x)
{
    int err_no = 0;
    mg_up_h1_conn *c = mg_up_h1_conn_open(x->u, &x->h1_target, &err_no);
    char where[INET6_ADDRSTRLEN + 16];
    if (!c) {
        describe_target(x, where, sizeof where);
        if (out_of_local_resources(err_no))
            fail(x, MG_UP_ERR_LOCAL_LIMIT, "no socket for a connection to %s: %s", where,
                 strerror(err_no));
        else
            fail(x, MG_UP_ERR_CONNECT, "connect to %s: %s", where, strerror(err_no));
        return;
    }
    c->x = x;
    x->h1 = c;
    x->h1_reused = 0;
    if (c->connecting) {
        arm_connect_watch(x);
        mg_up_h1_conn_watch(c, EV_WRITE);
        return;
    }
    connected(x);
}

void mg_up_h1_launch(mg_up_xfer *x)
{
    mg_upstream *u = x->u;
    http_parser_init(&x->h1p, HTTP_RESPONSE);
    x->h1p.data = x;
    ev_init(&x->deadline, on_deadline);
    x->deadline.data = x;
    if (x->t_total > 0) {
        ev_timer_set(&x->deadline, x->t_total, 0.);
        ev_timer_start(u->loop, &x->deadline);
    }
    mg_up_h1_conn *c = mg_up_h1_conn_take(u, &x->h1_target);
    if (!c) {
        attach_new(x);
        return;
    }
    c->x = x;
    x->h1 = c;
    x->h1_reused = 1;
    send_request(x);
}

static void finish_connect(mg_up_xfer *x)
{
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(x->h1->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        so_error = errno;
    if (so_error == 0) {
        connected(x);
        return;
    }
    char where[INET6_ADDRSTRLEN + 16];
    describe_target(x, where, sizeof where);
    fail(x, MG_UP_ERR_CONNECT, "connect to %s: %s", where, strerror(so_error));
}

/* ---- receiving ---------------------------------------------------------- */

static void pause_receiving(mg_up_xfer *x)
{
    x->paused = 1;
    x->timings.pauses++;
    mg_up_watch_stop(x); /* waiting for our client is not upstream idleness */
    if (x->h1)
        mg_up_h1_conn_watch(x->h1, x->req_sent < x->req_len ? EV_WRITE : 0);
}

/* Hand body bytes over; -1 when the transfer was cancelled meanwhile. */
static int deliver(mg_up_xfer *x, const char *data, size_t len)
{
    int rc = x->cb.on_data ? x->cb.on_data(x->ud, data, len) : MG_OK;
    if (x->state != MG_UP_ST_RUNNING)
        return -1;
    if (rc == MG_AGAIN)
        pause_receiving(x);
    return 0;
}

static int held_pending(const mg_up_xfer *x) { return x->held_off < x->held.len; }

/* Everything held goes in one call: it was taken either way. */
static void deliver_held(mg_up_xfer *x)
{
    const char *data = x->held.data + x->held_off;
    size_t len = x->held.len - x->held_off;
    x->held_off = x->held.len;
    if (deliver(x, data, len) == 0 && !x->paused) {
        mg_buf_reset(&x->held);
        x->held_off = 0;
    }
}

/* The parser saw the end: free the connection now, end once all is delivered. */
static void response_parsed(mg_up_xfer *x, int extra_bytes)
{
    release_conn(x, x->h1_keepalive && !extra_bytes);
    if (!x->paused && !held_pending(x))
        complete(x);
}

/* Parse n bytes; n == 0 means the upstream closed its side. */
static void feed(mg_up_xfer *x, const char *data, size_t n)
{
    size_t used = http_parser_execute(&x->h1p, &mg_up_h1_parser_settings, data, n);
    if (x->state != MG_UP_ST_RUNNING)
        return; /* cancelled from a callback */
    if (!x->paused && held_pending(x)) {
        deliver_held(x);
        if (x->state != MG_UP_ST_RUNNING)
            return;
    }
    if (x->h1_complete) {
        response_parsed(x, used < n);
        return;
    }
    if (x->local_result) { /* errbuf says why */
        release_conn(x, 0);
        x->fail_result = x->local_result;
        mg_up_watch_arm(x, MG_UP_WATCH_FAIL, 0);
        return;
    }
    if (n == 0) { /* the parser calls an early end an invalid EOF; say what happened */
        broken(x, 0, "reading the response");
        return;
    }
    enum http_errno e = HTTP_PARSER_ERRNO(&x->h1p);
    if (e != HPE_OK) {
        char where[INET6_ADDRSTRLEN + 16];
        describe_target(x, where, sizeof where);
        fail(x, MG_UP_ERR_IO, "malformed response from %s: %s", where, http_errno_description(e));
    }
}

static void read_response(mg_up_xfer *x)
{
    mg_up_h1_conn *c = x->h1;
    char *buf = x->u->h1_rbuf;
    for (int round = 0; round < 4; round++) {
        ssize_t n = recv(c->fd, buf, MG_UP_H1_READ_BYTES, 0);
        if (n > 0) {
            mg_up_note_activity(x);
            feed(x, buf, (size_t)n);
            if (x->state != MG_UP_ST_RUNNING || x->h1 != c || x->paused ||
                (size_t)n < MG_UP_H1_READ_BYTES)
                return;
            continue;
        }
        if (n == 0) {
            feed(x, NULL, 0);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            broken(x, errno, "reading the response");
        return;
    }
}

void mg_up_h1_io(mg_up_h1_conn *c, int revents)
{
    mg_up_xfer *x = c->x;
    mg_upstream *u = c->u;
    mg_up_enter(u);
    if (c->connecting) {
        finish_connect(x);
    } else {
        int same = MG_OK;
        if ((revents & EV_WRITE) && x->req_sent < x->req_len)
            same = send_request(x);
        if (same == MG_OK && (revents & EV_READ) && x->state == MG_UP_ST_RUNNING && !x->paused)
            read_response(x);
    }
    mg_up_leave(u);
}

void mg_up_h1_resume(mg_up_xfer *x)
{
    mg_upstream *u = x->u;
    x->paused = 0;
    x->last_activity = ev_now(u->loop);
    mg_up_enter(u);
    if (held_pending(x))
        deliver_held(x);
    if (x->state == MG_UP_ST_RUNNING && !x->paused) {
        if (x->h1_complete) {
            if (!x->h1)
                complete(x);
        } else if (x->h1) {
            if (x->t_first && x->t_idle > 0)
                mg_up_watch_arm(x, MG_UP_WATCH_IDLE, x->t_idle);
            mg_up_h1_conn_watch(x->h1, x->req_sent < x->req_len ? EV_READ | EV_WRITE : EV_READ);
        }
    }
    mg_up_leave(u);
}
