/* test_http_util.h — what the HTTP server tests share: a server on a libev
 * loop in the test's own thread, and raw non-blocking client sockets. Every
 * client wait pumps the loop (ev_run EVRUN_NOWAIT) so server and client
 * take turns without threads, and every wait has a deadline. Responses are
 * read with http-parser in HTTP_RESPONSE mode, one at a time, so pipelined
 * responses can be checked in order. */
#ifndef MG_TEST_HTTP_UTIL_H
#define MG_TEST_HTTP_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "net/http.h"

typedef struct fx {
    struct ev_loop *loop;
    mg_http_server *srv;
    int lfd, port;
    mg_http_limits lim;
} fx;

static inline void fx_pump(fx *f, double seconds)
{
    double end = mg_now_mono() + seconds;
    do {
        ev_run(f->loop, EVRUN_NOWAIT);
        if (seconds > 0)
            usleep(500);
    } while (mg_now_mono() < end);
}

static inline void fx_limits(mg_http_limits *l)
{
    mg_http_limits_default(l);
    l->header_timeout = 5;
    l->body_timeout = 5;
    l->keepalive_timeout = 5;
}

static inline int fx_start(fx *f, const mg_http_limits *lim, mg_http_handler h, void *ud, void *tls)
{
    char err[MG_ERRLEN];
    memset(f, 0, sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    if (lim)
        f->lim = *lim;
    else
        fx_limits(&f->lim);
    f->lfd = mg_http_listen("127.0.0.1", 0, &f->port, err);
    if (f->lfd < 0) {
        fprintf(stderr, "listen: %s\n", err);
        return -1;
    }
    f->srv = mg_http_server_new(f->loop, f->lfd, tls, &f->lim, h, ud);
    return 0;
}

static inline void fx_stop(fx *f)
{
    if (f->srv)
        mg_http_server_free(f->srv);
    f->srv = NULL;
    ev_run(f->loop, EVRUN_NOWAIT);
    if (f->lfd >= 0)
        close(f->lfd);
    ev_loop_destroy(f->loop);
}

/* ---- raw client ---- */

typedef struct resp {
    int status;
    int complete;
    int chunked;
    int conn_close;     /* Connection: close */
    int conn_keepalive; /* Connection: keep-alive */
    int has_cl;
    int has_te;
    uint64_t content_length;
    mg_buf head;        /* "name: value\n" lines, names lowercased */
    mg_buf body;
    char field[128];
    size_t field_len;
    int in_value;
} resp;

typedef struct client {
    fx *f;
    int fd;
    mg_buf in;     /* bytes read, not yet parsed */
    mg_buf raw;    /* every byte ever read (for framing checks) */
    http_parser p;
    resp *cur;
    int eof;
    int reset;
    int head_req; /* the next response answers HEAD: no body follows */
    SSL *ssl;     /* set: every byte goes through TLS */
} client;

static inline void resp_free(resp *r)
{
    mg_buf_free(&r->head);
    mg_buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

static inline int cl_connect(fx *f, client *c, int rcvbuf)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)f->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fx_pump(f, 0); /* let the server accept */
    return 0;
}

static inline void cl_close(client *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    mg_buf_free(&c->in);
    mg_buf_free(&c->raw);
}

static inline int cl_send(client *c, const char *s, size_t n)
{
    double end = mg_now_mono() + 5;
    while (n > 0 && mg_now_mono() < end) {
        ssize_t w;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, s, (int)n);
            int e = r > 0 ? 0 : SSL_get_error(c->ssl, r);
            w = r > 0 ? r : -1;
            errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPIPE;
        } else {
            w = send(c->fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        if (w > 0) {
            s += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        fx_pump(c->f, 0.001);
    }
    fx_pump(c->f, 0);
    return n == 0 ? 0 : -1;
}

static inline int cl_sends(client *c, const char *s) { return cl_send(c, s, strlen(s)); }

/* Read what is there now; 1 if bytes came, 0 if none, -1 on EOF/reset. */
static inline int cl_pull(client *c)
{
    char buf[65536];
    ssize_t n;
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, sizeof buf);
        int e = r > 0 ? 0 : SSL_get_error(c->ssl, r);
        /* The client context sets SSL_OP_IGNORE_UNEXPECTED_EOF: a bare
         * close reads as ZERO_RETURN. */
        n = r > 0 ? r : e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
        errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : ECONNRESET;
    } else {
        n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
    }
    if (n > 0) {
        mg_buf_append(&c->in, buf, (size_t)n);
        mg_buf_append(&c->raw, buf, (size_t)n);
        return 1;
    }
    if (n == 0) {
        c->eof = 1;
        return -1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    c->reset = 1;
    return -1;
}

static int rp_begin(http_parser *p)
{
    client *c = p->data;
    MG_UNUSED(c);
    return 0;
}

static void rp_end_header(resp *r)
{
    if (!r->field_len)
        return;
    mg_buf_append(&r->head, "\n", 1);
    r->field_len = 0;
    r->in_value = 0;
}

static int rp_field(http_parser *p, const char *at, size_t len)
{
    client *c = p->data;
    resp *r = c->cur;
    if (r->in_value)
        rp_end_header(r);
    for (size_t i = 0; i < len; i++) {
        char ch = at[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        mg_buf_append(&r->head, &ch, 1);
        if (r->field_len < sizeof r->field - 1)
            r->field[r->field_len++] = ch;
    }
    r->field[r->field_len] = '\0';
    return 0;
}

static int rp_value(http_parser *p, const char *at, size_t len)
{
    client *c = p->data;
    resp *r = c->cur;
    if (!r->in_value)
        mg_buf_append(&r->head, ": ", 2);
    r->in_value = 1;
    mg_buf_append(&r->head, at, len);
    return 0;
}

static int rp_headers_done(http_parser *p)
{
    client *c = p->data;
    resp *r = c->cur;
    rp_end_header(r);
    mg_buf_cstr(&r->head);
    r->status = (int)p->status_code;
    r->chunked = (p->flags & F_CHUNKED) != 0;
    r->conn_close = (p->flags & F_CONNECTION_CLOSE) != 0;
    r->conn_keepalive = (p->flags & F_CONNECTION_KEEP_ALIVE) != 0;
    r->has_cl = strstr(r->head.data, "content-length:") != NULL;
    r->has_te = strstr(r->head.data, "transfer-encoding:") != NULL;
    r->content_length = p->content_length;
    return c->head_req ? 1 : 0;
}

static int rp_body(http_parser *p, const char *at, size_t len)
{
    client *c = p->data;
    mg_buf_append(&c->cur->body, at, len);
    return 0;
}

static int rp_complete(http_parser *p)
{
    client *c = p->data;
    c->cur->complete = 1;
    mg_buf_cstr(&c->cur->body);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings rp_settings = {
    .on_message_begin = rp_begin,
    .on_header_field = rp_field,
    .on_header_value = rp_value,
    .on_headers_complete = rp_headers_done,
    .on_body = rp_body,
    .on_message_complete = rp_complete,
};

/* Parse buffered bytes into r; returns 1 when r is complete. */
static inline int cl_parse(client *c, resp *r)
{
    c->cur = r;
    size_t n = http_parser_execute(&c->p, &rp_settings, mg_buf_rptr(&c->in), mg_buf_unread(&c->in));
    mg_buf_consume(&c->in, n);
    if (HTTP_PARSER_ERRNO(&c->p) == HPE_PAUSED)
        http_parser_pause(&c->p, 0);
    return r->complete;
}

/* Read one complete response (pumping the server loop) within timeout
 * seconds. A close-delimited body completes at EOF. 1 on success. */
static inline int cl_response(client *c, resp *r, double timeout)
{
    memset(r, 0, sizeof *r);
    if (c->p.data == NULL) {
        http_parser_init(&c->p, HTTP_RESPONSE);
        c->p.data = c;
    }
    double end = mg_now_mono() + timeout;
    for (;;) {
        if (mg_buf_unread(&c->in) && cl_parse(c, r))
            return 1;
        if (c->eof || c->reset) {
            c->cur = r;
            http_parser_execute(&c->p, &rp_settings, NULL, 0); /* EOF ends a close-delimited body */
            return r->complete;
        }
        if (mg_now_mono() > end)
            return 0;
        ev_run(c->f->loop, EVRUN_NOWAIT);
        if (cl_pull(c) == 0)
            usleep(300);
    }
}

/* Wait until the server closes the connection. 1 if it did within timeout
 * (bytes that arrive meanwhile are kept in c->in). */
static inline int cl_wait_closed(client *c, double timeout)
{
    double end = mg_now_mono() + timeout;
    while (!c->eof && !c->reset && mg_now_mono() < end) {
        ev_run(c->f->loop, EVRUN_NOWAIT);
        if (cl_pull(c) == 0)
            usleep(300);
    }
    return c->eof || c->reset;
}

/* Value of header `name` (lowercase) in r, copied into out; NULL if none. */
static inline const char *resp_header(resp *r, const char *name, char *out, size_t outlen)
{
    if (!r->head.data)
        return NULL;
    size_t nl = strlen(name);
    const char *p = r->head.data;
    while (p && *p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

#endif
