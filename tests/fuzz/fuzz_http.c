/* fuzz_http.c — libFuzzer harness for the HTTP/1.1 server side (src/net):
 * the fuzz input is what one client sends on one connection. The harness
 * hands the server one end of a socketpair (mg_conn_new, the seam accept
 * uses), writes the input into the other end in pieces whose sizes come
 * from a hash of the input (so a run is reproducible and split points
 * move), half-closes, and runs the loop until the server has closed the
 * connection. The handler answers in several ways chosen by path: whole
 * response, chunked stream, WebSocket-style upgrade with echo, and a
 * response deferred to a later loop iteration (so aborts happen while the
 * handler holds the request), and a WebSocket session (/ws, src/live/ws.c)
 * when that part is built.
 * Checks beyond the sanitizers: the connection always ends (no hang),
 * whatever comes back starts with an HTTP/1.x status line, and the server
 * never answers more requests than the input could hold.
 * Uses src/net (internal net.h for mg_conn_new), src/core, libev. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "live/ws.h"
#include "net/net.h"

/* Seconds one input may take before the harness calls it a hang. */
#define HANG_SECONDS 20.0

static struct ev_loop *loop;
static mg_http_server *srv;
static int idle_pipe[2]; /* stands in for a listening socket: never readable */

/* The request a deferred response is owed to, and the timer that sends it. */
static mg_http_req *deferred;
static ev_timer defer_timer;
static unsigned requests_seen;

static void on_abort(mg_http_req *req)
{
    if (deferred == req)
        deferred = NULL;
    ev_timer_stop(loop, &defer_timer);
}

static void on_upgraded_data(mg_http_req *req, const char *data, size_t len)
{
    if (mg_http_write(req, data, len > 512 ? 512 : len) == MG_ERR)
        return;
    if (memchr(data, 'q', len))
        mg_http_finish(req);
}

/* /ws: a WebSocket session (src/live/ws.c) on top of the upgrade: echoes
 * messages, closes on one that starts with 'q'. */
static void on_ws_message(mg_ws_session *ws, int opcode, const char *data, size_t len, void *ud)
{
    (void)ud;
    if (len && data[0] == 'q')
        mg_ws_close(ws, MG_WS_NORMAL, "bye");
    else
        mg_ws_send(ws, opcode, data, len);
}

static const mg_ws_handlers ws_handlers = {.on_message = on_ws_message};

static void on_defer_timer(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
    mg_http_req *req = deferred;
    deferred = NULL;
    if (req)
        mg_http_respond(req, 202, "text/plain", NULL, "later\n", 6);
}

static void respond_echo(mg_http_req *req)
{
    mg_buf out = {0};
    size_t host_len = 0;
    const char *host = mg_http_header(req, "host", &host_len);
    mg_buf_printf(&out, "%s %s?%s HTTP/1.%d host=%.*s headers=%zu body=%zu\n", req->method,
                  req->path, req->query, req->http_minor, (int)host_len, host ? host : "",
                  req->nheaders, req->body.len);
    for (size_t i = 0; i < req->nheaders; i++) {
        const mg_header *h = &req->headers[i];
        /* The server promises NUL-terminated names and values of the
         * stated lengths. */
        if (strlen(h->name) != h->name_len || strlen(h->value) != h->value_len)
            abort();
        mg_buf_printf(&out, "%s: %s\n", h->name, h->value);
    }
    mg_buf_append(&out, req->body.data ? req->body.data : "", req->body.len > 1024 ? 1024 : req->body.len);
    mg_http_respond(req, 200, "text/plain", "X-Fuzz: 1\r\n", out.data ? out.data : "", out.len);
    mg_buf_free(&out);
}

static void handler(mg_http_req *req, void *ud)
{
    (void)ud;
    requests_seen++;
    req->on_abort = on_abort;
    if (strcmp(req->path, "/stream") == 0) {
        mg_http_begin(req, 200, "text/event-stream", NULL);
        for (int i = 0; i < 3; i++)
            if (mg_http_write(req, "data: x\n\n", 9) == MG_ERR)
                break;
        mg_http_finish(req);
    } else if (strcmp(req->path, "/upgrade") == 0) {
        if (mg_http_upgrade(req, "Upgrade: websocket\r\nConnection: Upgrade\r\n",
                            on_upgraded_data) != MG_OK)
            mg_http_respond(req, 400, "text/plain", NULL, "no upgrade\n", 11);
    } else if (strcmp(req->path, "/ws") == 0) {
        mg_ws_accept(req, &ws_handlers, 256); /* answers a bad handshake itself */
    } else if (strcmp(req->path, "/defer") == 0) {
        deferred = req;
        ev_timer_set(&defer_timer, 0., 0.);
        ev_timer_start(loop, &defer_timer);
    } else if (strcmp(req->path, "/empty") == 0) {
        mg_http_respond(req, 204, NULL, NULL, NULL, 0);
    } else {
        respond_echo(req);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    mg_log_set_level(MG_LOG_ERROR + 1);
    loop = ev_loop_new(EVFLAG_AUTO);
    if (!loop || pipe(idle_pipe) != 0)
        abort();
    mg_http_limits lim;
    mg_http_limits_default(&lim);
    /* Small limits, so inputs of a few KiB reach every limit path. */
    lim.max_header_bytes = 2048;
    lim.max_headers = 16;
    lim.max_body_bytes = 8192;
    lim.header_timeout = 3;
    lim.body_timeout = 3;
    lim.keepalive_timeout = 3;
    lim.out_high_watermark = 4096;
    lim.out_low_watermark = 1024;
    srv = mg_http_server_new(loop, idle_pipe[0], NULL, &lim, handler, NULL);
    ev_timer_init(&defer_timer, on_defer_timer, 0., 0.);
    return 0;
}

/* Deterministic piece sizes: xorshift seeded with FNV-1a of the input. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void rng_seed(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    rng_state = h ? h : 1;
}

static size_t piece_size(size_t left)
{
    uint64_t r = rng_next();
    size_t n = (r & 3) == 0 ? left : 1 + (size_t)((r >> 8) % 97);
    return n < left ? n : left;
}

/* What the client has received so far: the first bytes, for the check. */
typedef struct client_view {
    int fd;
    char head[16];
    size_t got;
} client_view;

static void drain_client(client_view *cv)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(cv->fd, buf, sizeof buf);
        if (n <= 0)
            return;
        if (cv->got < sizeof cv->head) {
            size_t take = sizeof cv->head - cv->got;
            memcpy(cv->head + cv->got, buf, (size_t)n < take ? (size_t)n : take);
        }
        cv->got += (size_t)n;
    }
}

static void pump(client_view *cv, int mode)
{
    drain_client(cv);
    ev_run(loop, mode);
    drain_client(cv);
}

static void check_reply(const client_view *cv, size_t input_size)
{
    if (cv->got >= 7 && memcmp(cv->head, "HTTP/1.", 7) != 0) {
        fprintf(stderr, "fuzz_http: reply does not start with a status line: %.16s\n", cv->head);
        abort();
    }
    /* A request needs at least "GET / HTTP/1.0\n\n"-like bytes; far more
     * answers than that would mean input is parsed twice. */
    if (requests_seen > input_size / 14 + 1) {
        fprintf(stderr, "fuzz_http: %u requests handled from %zu bytes\n", requests_seen,
                input_size);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    requests_seen = 0;
    rng_seed(data, size);
    if (!mg_conn_new(srv, sv[0], NULL))
        abort();
    client_view cv = {.fd = sv[1]};
    double start = mg_now_mono();

    size_t off = 0;
    while (off < size && mg_http_server_conns(srv) > 0) {
        ssize_t n = write(cv.fd, data + off, piece_size(size - off));
        if (n > 0) {
            off += (size_t)n;
            pump(&cv, EVRUN_NOWAIT);
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            pump(&cv, EVRUN_ONCE); /* the server reads when it can */
        } else {
            break; /* the server closed its end */
        }
        if (mg_now_mono() - start > HANG_SECONDS) {
            fprintf(stderr, "fuzz_http: server stopped reading (%zu of %zu bytes sent)\n", off, size);
            abort();
        }
    }
    shutdown(cv.fd, SHUT_WR);
    while (mg_http_server_conns(srv) > 0) {
        pump(&cv, EVRUN_ONCE);
        if (mg_now_mono() - start > HANG_SECONDS) {
            fprintf(stderr, "fuzz_http: connection never closed after the client's EOF\n");
            abort();
        }
    }
    ev_run(loop, EVRUN_NOWAIT); /* the reaper frees the closed connection */
    drain_client(&cv);
    check_reply(&cv, size);
    close(cv.fd);
    deferred = NULL;
    ev_timer_stop(loop, &defer_timer);
    return 0;
}
