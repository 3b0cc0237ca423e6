/* test_http_handler.h — the request handler the HTTP server tests share,
 * routed by path: /hello, /echo, /pad (8 KiB), /stream (chunks on a
 * timer), /async (late reply), /big (writes until MG_AGAIN, resumes in
 * on_writable), /hang (held until the test answers or the client goes),
 * /upgrade (raw echo after 101). What it saw lands in `ts`. */
#ifndef MG_TEST_HTTP_HANDLER_H
#define MG_TEST_HTTP_HANDLER_H

#include "test_http_util.h"

/* What the handler saw and did; reset by each test. */
typedef struct tstate {
    int requests, aborts, writables, again_seen, abort_write_rc;
    mg_http_req *held, *big_req;
    size_t big_total, big_target;
    ev_timer timer;
    mg_http_req *timed;
    int step;
    char method[16], path[256], query[256], hdr[256], body[256];
    uint64_t seq;
} tstate;

static tstate ts;

static void ts_reset(void)
{
    memset(&ts, 0, sizeof ts);
    ts.abort_write_rc = 12345;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void respond_text(mg_http_req *req, int status, const char *body, size_t len)
{
    char extra[64];
    snprintf(extra, sizeof extra, "X-Seq: %llu\r\n", (unsigned long long)req->seq);
    mg_http_respond(req, status, "text/plain", extra, body, len);
}

static void on_abort(mg_http_req *req)
{
    ts.aborts++;
    /* Output after the client is gone must fail, not crash. */
    ts.abort_write_rc = mg_http_write(req, "x", 1);
    if (ts.held == req)
        ts.held = NULL;
}

/* Streamed or delayed responses step on a timer, as upstream data would. */
static void on_step(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(w);
    MG_UNUSED(revents);
    mg_http_req *req = ts.timed;
    if (!req)
        return;
    if (strcmp(req->path, "/async") == 0) {
        ts.timed = NULL;
        respond_text(req, 200, "async", 5);
        return;
    }
    ts.step++;
    if (ts.step == 1) {
        mg_http_write(req, " world", 6);
    } else if (ts.step == 2) {
        mg_http_write(req, "!", 1);
    } else {
        ts.timed = NULL;
        mg_http_finish(req);
        return;
    }
    ev_timer_set(&ts.timer, 0.02, 0.);
    ev_timer_start(req->loop, &ts.timer);
}

static void start_timer(mg_http_req *req, double after)
{
    ts.timed = req;
    ts.step = 0;
    ev_timer_init(&ts.timer, on_step, after, 0.);
    ev_timer_start(req->loop, &ts.timer);
}

static void big_pump(mg_http_req *req)
{
    static char block[16384];
    memset(block, 'x', sizeof block);
    while (ts.big_total < ts.big_target) {
        size_t n = MG_MIN(sizeof block, ts.big_target - ts.big_total);
        int rc = mg_http_write(req, block, n);
        if (rc == MG_ERR)
            return;
        ts.big_total += n;
        if (rc == MG_AGAIN) {
            ts.again_seen++;
            return;
        }
    }
    mg_http_finish(req);
}

static void big_writable(mg_http_req *req)
{
    ts.writables++;
    big_pump(req);
}

static void upgrade_data(mg_http_req *req, const char *data, size_t len)
{
    mg_http_write(req, data, len);
    if (len >= 3 && memmem(data, len, "bye", 3))
        mg_http_finish(req);
}

static void handler(mg_http_req *req, void *ud)
{
    MG_UNUSED(ud);
    ts.requests++;
    ts.seq = req->seq;
    copy_str(ts.method, sizeof ts.method, req->method, strlen(req->method));
    copy_str(ts.path, sizeof ts.path, req->path, strlen(req->path));
    copy_str(ts.query, sizeof ts.query, req->query, strlen(req->query));
    copy_str(ts.body, sizeof ts.body, req->body.data ? req->body.data : "", req->body.len);
    size_t hl = 0;
    const char *hv = mg_http_header(req, "X-TEST", &hl);
    copy_str(ts.hdr, sizeof ts.hdr, hv ? hv : "(none)", hv ? hl : 6);

    const char *p = req->path;
    if (strcmp(p, "/hello") == 0) {
        respond_text(req, 200, "hello", 5);
    } else if (strcmp(p, "/pad") == 0) {
        static char pad[8192];
        memset(pad, 'p', sizeof pad);
        respond_text(req, 200, pad, sizeof pad);
    } else if (strcmp(p, "/echo") == 0) {
        respond_text(req, 200, req->body.data ? req->body.data : "", req->body.len);
    } else if (strcmp(p, "/stream") == 0) {
        mg_http_begin(req, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
        mg_http_write(req, "hello", 5);
        start_timer(req, 0.02);
    } else if (strcmp(p, "/async") == 0) {
        start_timer(req, 0.05);
    } else if (strcmp(p, "/big") == 0) {
        ts.big_req = req;
        req->on_writable = big_writable;
        req->on_abort = on_abort;
        mg_http_begin(req, 200, "application/octet-stream", NULL);
        big_pump(req);
    } else if (strcmp(p, "/hang") == 0) {
        ts.held = req;
        req->on_abort = on_abort;
    } else if (strcmp(p, "/upgrade") == 0) {
        req->on_abort = on_abort;
        if (mg_http_upgrade(req, "Upgrade: echo\r\n", upgrade_data) != MG_OK)
            respond_text(req, 400, "no upgrade", 10);
    } else {
        respond_text(req, 404, "nope", 4);
    }
}

static const char *hdr(resp *r, const char *name)
{
    static char buf[256];
    return resp_header(r, name, buf, sizeof buf);
}

#endif
