/* upstream_test_server.h — a scripted HTTP/1.1 server for test_upstream.c,
 * run in threads of the test process with blocking sockets. The request
 * path picks the behaviour:
 *   /json        200 JSON (Content-Length) echoing what it saw of the request
 *   /stream      chunked text/event-stream, 5 events 20 ms apart
 *   /big?n=N     N pattern bytes (pattern(i)), chunked in 4 KiB chunks
 *   /interim     103 Early Hints, then 201 with a 2-byte body
 *   /nocontent   204
 *   /silent      reads the request, never answers
 *   /stall       headers + 10 of 100 promised bytes, then silence
 *   /cut         headers + 50 of 100 promised bytes, then close
 *   /trickle     a chunked response written one byte at a time
 *   /close       200 with Connection: close, then close
 *   /extra       200 "ok" followed by bytes no request asked for
 *   /die-next    200 "ok", kept alive; the next request on that connection
 *                is read and the connection closed without an answer
 *   /eof         200 whose body ends when the connection closes
 *   /head        headers promising 5 bytes and no body (for HEAD)
 *   /manyheaders 200 with 300 header lines
 *   /garbage     a status line that is not HTTP
 *   /short-status  a two-digit status code
 *   /nul-header  a header value holding a NUL byte
 *   /interim-body  a 103 claiming a 2-byte body, then the real 200 "ok"
 * Keep-alive is honoured for the answers that complete. Header-only (static
 * functions): it is included by one test file. */
#ifndef MG_UPSTREAM_TEST_SERVER_H
#define MG_UPSTREAM_TEST_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/common.h"

typedef struct srv {
    int fd, port;
    pthread_t acceptor;
    atomic_int accepts;
    pthread_mutex_t mu;
    pthread_t conns[512];
    int nconns;
} srv;

static void send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }

static void wait_client_close(int fd)
{
    char tmp[512];
    while (recv(fd, tmp, sizeof tmp, 0) > 0) {
    }
}

/* Value of a request header (case-insensitive name) or "none". */
static void req_header(const char *head, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nlen) == 0 && p[2 + nlen] == ':') {
            const char *v = p + 3 + nlen;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r");
            snprintf(out, outsz, "%.*s", (int)n, v);
            return;
        }
    }
    snprintf(out, outsz, "none");
}

static unsigned char pattern(size_t i) { return (unsigned char)(i % 251); }

static void respond_json(int fd, const char *method, const char *head, size_t body_len)
{
    char expect[64], ae[64], custom[64], body[256], hdr[1024];
    req_header(head, "Expect", expect, sizeof expect);
    req_header(head, "Accept-Encoding", ae, sizeof ae);
    req_header(head, "X-Custom", custom, sizeof custom);
    int blen = snprintf(body, sizeof body, "{\"ok\":true,\"method\":\"%s\",\"body_len\":%zu}",
                        method, body_len);
    snprintf(hdr, sizeof hdr,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
             "X-Test:  padded value  \r\nX-Saw-Expect: %s\r\nX-Saw-AE: %s\r\n"
             "X-Saw-Custom: %s\r\n\r\n",
             blen, expect, ae, custom);
    send_str(fd, hdr);
    send_all(fd, body, (size_t)blen);
}

static void respond_stream(int fd)
{
    send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++) {
        char ev[64], chunk[96];
        int n = snprintf(ev, sizeof ev, "data: %d\n\n", i);
        int m = snprintf(chunk, sizeof chunk, "%x\r\n%s\r\n", n, ev);
        send_all(fd, chunk, (size_t)m);
        usleep(20000);
    }
    send_str(fd, "0\r\n\r\n");
}

/* n pattern bytes, chunked in 4 KiB chunks. */
static void respond_big(int fd, size_t n)
{
    send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
    unsigned char buf[4096];
    for (size_t off = 0; off < n;) {
        size_t k = MG_MIN(sizeof buf, n - off);
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(off + i);
        char sz[32];
        send_all(fd, sz, (size_t)snprintf(sz, sizeof sz, "%zx\r\n", k));
        send_all(fd, buf, k);
        send_str(fd, "\r\n");
        off += k;
    }
    send_str(fd, "0\r\n\r\n");
}

static void respond_trickle(int fd)
{
    const char *r = "HTTP/1.1 200 OK\r\nX-Test: trickled value\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    for (; *r; r++) {
        send_all(fd, r, 1);
        usleep(500);
    }
}

static void respond_many_headers(int fd)
{
    send_str(fd, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 300; i++) {
        char line[64];
        send_all(fd, line, (size_t)snprintf(line, sizeof line, "X-H%d: v\r\n", i));
    }
    send_str(fd, "Content-Length: 0\r\n\r\n");
}

#define SERVE_CLOSE 0
#define SERVE_KEEP 1
#define SERVE_DROP_NEXT 2 /* keep, but close on the next request without answering */

/* Paths added for the native client's edge cases. */
static int serve_edge(int fd, const char *path)
{
    if (strcmp(path, "/trickle") == 0) {
        respond_trickle(fd);
        return SERVE_KEEP;
    }
    if (strcmp(path, "/close") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
        return SERVE_CLOSE;
    }
    if (strcmp(path, "/extra") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK");
        return SERVE_KEEP;
    }
    if (strcmp(path, "/die-next") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        return SERVE_DROP_NEXT;
    }
    if (strcmp(path, "/eof") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
        return SERVE_CLOSE;
    }
    if (strcmp(path, "/head") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        return SERVE_KEEP;
    }
    if (strcmp(path, "/manyheaders") == 0) {
        respond_many_headers(fd);
        return SERVE_KEEP;
    }
    if (strcmp(path, "/short-status") == 0) {
        send_str(fd, "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n");
        return SERVE_CLOSE;
    }
    if (strcmp(path, "/nul-header") == 0) {
        static const char r[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n";
        send_all(fd, r, sizeof r - 1);
        return SERVE_CLOSE;
    }
    if (strcmp(path, "/interim-body") == 0) {
        send_str(fd, "HTTP/1.1 103 Early Hints\r\nContent-Length: 2\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        return SERVE_KEEP;
    }
    if (strcmp(path, "/garbage") == 0) {
        send_str(fd, "HTTP/1.1 abc what\r\n\r\n");
        return SERVE_CLOSE;
    }
    send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return SERVE_KEEP;
}

/* Handle one request; returns SERVE_KEEP to keep the connection for another. */
static int serve_request(int fd, const char *head, size_t body_len)
{
    char method[16] = "", path[256] = "";
    if (sscanf(head, "%15s %255s", method, path) != 2)
        return 0;
    if (strcmp(path, "/json") == 0) {
        respond_json(fd, method, head, body_len);
        return 1;
    }
    if (strcmp(path, "/stream") == 0) {
        respond_stream(fd);
        return 1;
    }
    if (strncmp(path, "/big?n=", 7) == 0) {
        respond_big(fd, (size_t)strtoul(path + 7, NULL, 10));
        return 1;
    }
    if (strcmp(path, "/interim") == 0) {
        send_str(fd, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                     "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Final: yes\r\n\r\nok");
        return 1;
    }
    if (strcmp(path, "/nocontent") == 0) {
        send_str(fd, "HTTP/1.1 204 No Content\r\nX-Empty: 1\r\n\r\n");
        return 1;
    }
    if (strcmp(path, "/silent") == 0) {
        wait_client_close(fd);
        return 0;
    }
    if (strcmp(path, "/stall") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        wait_client_close(fd);
        return 0;
    }
    if (strcmp(path, "/cut") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        char half[50];
        memset(half, 'c', sizeof half);
        send_all(fd, half, sizeof half);
        return 0;
    }
    return serve_edge(fd, path);
}

/* Read one request head and body; returns body length or -1. */
static long read_request(int fd, char *buf, size_t cap, size_t *have, char *head, size_t headcap)
{
    char *end;
    while (!(end = memmem(buf, *have, "\r\n\r\n", 4))) {
        if (*have == cap)
            return -1;
        ssize_t r = recv(fd, buf + *have, cap - *have, 0);
        if (r <= 0)
            return -1;
        *have += (size_t)r;
    }
    size_t hlen = (size_t)(end - buf) + 4;
    snprintf(head, headcap, "%.*s", (int)hlen, buf);
    char cl[32];
    req_header(head, "Content-Length", cl, sizeof cl);
    size_t body = strcmp(cl, "none") ? (size_t)strtoul(cl, NULL, 10) : 0;
    while (*have < hlen + body) {
        if (*have == cap)
            return -1;
        ssize_t r = recv(fd, buf + *have, cap - *have, 0);
        if (r <= 0)
            return -1;
        *have += (size_t)r;
    }
    memmove(buf, buf + hlen + body, *have - hlen - body);
    *have -= hlen + body;
    return (long)body;
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct timeval tv = {10, 0}; /* a stuck test cannot hang the thread forever */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1; /* headers and body go in separate writes */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char *buf = malloc(1 << 16), *head = malloc(1 << 16);
    size_t have = 0;
    int how = SERVE_KEEP;
    for (;;) {
        long body = read_request(fd, buf, 1 << 16, &have, head, 1 << 16);
        if (body < 0 || how == SERVE_DROP_NEXT)
            break;
        how = serve_request(fd, head, (size_t)body);
        if (how == SERVE_CLOSE)
            break;
    }
    free(buf);
    free(head);
    close(fd);
    return NULL;
}

static void *accept_main(void *arg)
{
    srv *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        atomic_fetch_add(&s->accepts, 1);
        pthread_mutex_lock(&s->mu);
        if (s->nconns < (int)MG_ARRAY_LEN(s->conns))
            pthread_create(&s->conns[s->nconns++], NULL, conn_main, (void *)(intptr_t)c);
        else
            close(c);
        pthread_mutex_unlock(&s->mu);
    }
}

static int listen_local(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0)
        abort();
    getsockname(fd, (struct sockaddr *)&a, &alen);
    *port = ntohs(a.sin_port);
    return fd;
}

static void srv_start(srv *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->fd = listen_local(64, &s->port);
    pthread_create(&s->acceptor, NULL, accept_main, s);
}

/* Call after mg_upstream_free, so every client socket is closed. */
static void srv_stop(srv *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    close(s->fd);
    for (int i = 0; i < s->nconns; i++)
        pthread_join(s->conns[i], NULL);
    pthread_mutex_destroy(&s->mu);
}

#endif
