/* fuzz_upstream.c — libFuzzer harness for the native HTTP/1.1 upstream
 * client (src/upstream/h1_*.c): the fuzz input is what a hostile upstream
 * answers on one connection. A listener on 127.0.0.1 in this process
 * accepts the client's connection, reads its request, writes the input in
 * pieces (one per loop turn, sizes from a hash of the input, so split
 * points move) and closes. The client side plays a proxy: it pauses on
 * some data calls (resumed on the next loop turn) and, when the input says
 * so, cancels from inside a callback. Pooled connections carry over from
 * one input to the next, so stale-connection resends are reached too.
 * Checks beyond the sanitizers: the transfer always ends (no hang), the
 * callback contract holds (on_response once, before any data; on_done
 * exactly once and last; nothing after a cancel; no data while paused),
 * a status is a 3-digit code, and no more body bytes come out than went in.
 * Uses src/upstream, src/core, libev, http_parser, libcurl (linked, idle). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "upstream/upstream.h"

#define HANG_SECONDS 20.0

static struct ev_loop *loop;
static mg_upstream *up;
static int listen_fd;
static char url[64];

/* ---- the hostile upstream ------------------------------------------------ */

typedef struct server {
    ev_io accept_io, conn_io;
    ev_timer piece_timer;
    int fd;
    const uint8_t *data;
    size_t size, sent;
    uint64_t rng;
} server;

static server srv;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void server_close(void)
{
    if (srv.fd < 0)
        return;
    ev_io_stop(loop, &srv.conn_io);
    ev_timer_stop(loop, &srv.piece_timer);
    close(srv.fd);
    srv.fd = -1;
}

/* One piece per loop turn; the connection closes after the last one. */
static void on_piece(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
    if (srv.fd < 0)
        return;
    size_t left = srv.size - srv.sent;
    uint64_t r = rng_next(&srv.rng);
    size_t n = (r & 3) == 0 ? left : 1 + (size_t)((r >> 8) % 61);
    if (n > left)
        n = left;
    if (n) {
        ssize_t w2 = send(srv.fd, srv.data + srv.sent, n, MSG_NOSIGNAL);
        if (w2 < 0 && errno != EAGAIN && errno != EINTR) {
            server_close(); /* the client hung up: nothing more to say */
            return;
        }
        if (w2 > 0)
            srv.sent += (size_t)w2;
    }
    if (srv.sent >= srv.size) {
        server_close();
        return;
    }
    ev_timer_set(&srv.piece_timer, 0., 0.);
    ev_timer_start(loop, &srv.piece_timer);
}

/* The request is read and ignored; answering starts at once. */
static void on_conn_readable(struct ev_loop *l, ev_io *w, int revents)
{
    (void)l;
    (void)revents;
    char buf[4096];
    while (read(w->fd, buf, sizeof buf) > 0) {
    }
}

static void on_accept(struct ev_loop *l, ev_io *w, int revents)
{
    (void)l;
    (void)revents;
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (srv.fd >= 0 || !srv.data) { /* one answer per input */
        close(fd);
        return;
    }
    srv.fd = fd;
    ev_io_init(&srv.conn_io, on_conn_readable, fd, EV_READ);
    ev_io_start(loop, &srv.conn_io);
    on_piece(loop, &srv.piece_timer, 0);
}

/* ---- the client ---------------------------------------------------------- */

typedef struct client {
    mg_up_xfer *x;
    int responses, done, cancelled, paused;
    size_t body;
    uint64_t rng;
    int cancel_at; /* cancel on this data call (1-based), 0 never */
    int data_calls;
    ev_timer resume_timer;
} client;

static client cl;

static void on_resume(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
    cl.paused = 0;
    mg_up_resume(cl.x);
}

static void on_response(void *ud, int status, const mg_header *h, size_t n)
{
    (void)ud;
    if (cl.cancelled || cl.done || cl.responses || cl.data_calls)
        abort();
    if (status < 100 || status > 999)
        abort();
    for (size_t i = 0; i < n; i++)
        if (strlen(h[i].name) != h[i].name_len || strlen(h[i].value) != h[i].value_len)
            abort();
    cl.responses++;
}

static int on_data(void *ud, const char *data, size_t len)
{
    (void)ud;
    (void)data;
    if (cl.cancelled || cl.done || !cl.responses || cl.paused)
        abort();
    cl.data_calls++;
    cl.body += len;
    if (cl.cancel_at && cl.data_calls == cl.cancel_at) {
        mg_up_cancel(cl.x);
        cl.cancelled = 1;
        return MG_OK;
    }
    if (rng_next(&cl.rng) % 3 == 0) {
        cl.paused = 1;
        ev_timer_set(&cl.resume_timer, 0., 0.);
        ev_timer_start(loop, &cl.resume_timer);
        return MG_AGAIN;
    }
    return MG_OK;
}

static void on_done(void *ud, int result, const char *errmsg)
{
    (void)ud;
    (void)result;
    if (cl.cancelled || cl.done)
        abort();
    if (errmsg && strlen(errmsg) > 4096)
        abort();
    cl.done = 1;
}

static const mg_up_callbacks callbacks = {on_response, on_data, on_done};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    mg_log_set_level(MG_LOG_ERROR + 1);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    unsetenv("MOONGATE_UPSTREAM_CLIENT");
    loop = ev_loop_new(EVFLAG_AUTO);
    up = loop ? mg_upstream_new(loop) : NULL;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (!up || listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(listen_fd, 64) != 0 || getsockname(listen_fd, (struct sockaddr *)&a, &alen) != 0)
        abort();
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", ntohs(a.sin_port));
    srv.fd = -1;
    ev_io_init(&srv.accept_io, on_accept, listen_fd, EV_READ);
    ev_io_start(loop, &srv.accept_io);
    ev_timer_init(&srv.piece_timer, on_piece, 0., 0.);
    ev_timer_init(&cl.resume_timer, on_resume, 0., 0.);
    return 0;
}

static uint64_t hash(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h ? h : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = hash(data, size);
    srv.data = data;
    srv.size = size;
    srv.sent = 0;
    srv.rng = h;
    ev_timer_stop(loop, &cl.resume_timer);
    memset(&cl, 0, offsetof(client, resume_timer));
    cl.rng = h * 31 + 7;
    cl.cancel_at = (h >> 60) == 0 ? 1 + (int)((h >> 8) % 4) : 0;
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Authorization: Bearer k"};
    static const char body[] = "{\"model\":\"m\",\"stream\":true}";
    mg_up_request req = {.method = (h & 16) ? "POST" : "HEAD", .url = url, .headers = headers,
                         .nheaders = 2, .body = body, .body_len = (h & 16) ? sizeof body - 1 : 0,
                         .t_connect = 5, .t_first_byte = 5, .t_idle = 5, .t_total = 10};
    char err[MG_ERRLEN];
    cl.x = mg_up_start(up, &req, &callbacks, NULL, err);
    if (!cl.x)
        abort();
    double end = ev_time() + HANG_SECONDS;
    while (!cl.done && !cl.cancelled && ev_time() < end)
        ev_run(loop, EVRUN_ONCE);
    if (!cl.done && !cl.cancelled)
        abort(); /* a hang */
    if (cl.body > size)
        abort();
    /* Let the server finish writing and close before the next input. */
    while (srv.fd >= 0 && ev_time() < end)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &cl.resume_timer);
    srv.data = NULL;
    return 0;
}
