/* test_http.c — the HTTP/1.1 server (src/net) against raw client sockets:
 * keep-alive, pipelining, chunked bodies, 100-continue, limits (431, 413,
 * 408), malformed input (obs-fold, CL+TE, bad method), streamed responses,
 * backpressure, client aborts, drain, upgrade. The server runs on a libev
 * loop in this thread; every client wait pumps it. */
#include <sys/resource.h>

#include "test.h"
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

/* ---- tests ---- */

static void test_get_keepalive(void)
{
    fx f;
    client c;
    resp r;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    CHECK(cl_connect(&f, &c, 0) == 0);
    for (int i = 1; i <= 3; i++) {
        cl_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(cl_response(&c, &r, 3));
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_STR(r.body.data, "hello");
        CHECK(r.has_cl);
        CHECK(!r.conn_close);
        CHECK_EQ_INT(atoi(hdr(&r, "x-seq") ? hdr(&r, "x-seq") : "0"), i);
        CHECK(hdr(&r, "date") != NULL);
        CHECK_EQ_STR(hdr(&r, "content-type"), "text/plain");
        resp_free(&r);
    }
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 1);
    CHECK_EQ_INT(mg_http_server_active(f.srv), 0);
    CHECK_EQ_STR(ts.method, "GET");
    cl_close(&c);
    fx_pump(&f, 0.02);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
    fx_stop(&f);
}

static void test_pipelined(void)
{
    fx f;
    client c;
    resp r;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    CHECK(cl_connect(&f, &c, 0) == 0);
    /* Three requests in one write; the first is answered late (async),
     * the others must still come after it. */
    cl_sends(&c, "GET /async HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                 "GET /hello?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *want[] = {"async", "abc", "hello"};
    for (int i = 0; i < 3; i++) {
        CHECK(cl_response(&c, &r, 3));
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_STR(r.body.data, want[i]);
        CHECK_EQ_INT(atoi(hdr(&r, "x-seq") ? hdr(&r, "x-seq") : "0"), i + 1);
        resp_free(&r);
    }
    CHECK_EQ_STR(ts.query, "x=1");
    CHECK_EQ_INT(ts.requests, 3);
    cl_close(&c);
    fx_stop(&f);
}

static const char split_req[] =
    "POST /echo?a=1&b=2 HTTP/1.1\r\nHost: example\r\nX-Test:  spaced value  \r\n"
    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    "GET /hello HTTP/1.1\r\nHost: example\r\n\r\n";

static void test_chunked_body_split_everywhere(void)
{
    fx f;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    size_t total = sizeof split_req - 1;
    int bad = 0;
    /* Every split point: URL, names, values, chunk sizes and the pipeline
     * boundary all arrive in two pieces at some k. */
    for (size_t k = 1; k < total && bad < 3; k++) {
        client c;
        resp r1, r2;
        cl_connect(&f, &c, 0);
        cl_send(&c, split_req, k);
        cl_send(&c, split_req + k, total - k);
        int ok = cl_response(&c, &r1, 2) && cl_response(&c, &r2, 2) && r1.status == 200 &&
                 strcmp(r1.body.data, "hello world") == 0 && r2.status == 200 &&
                 strcmp(r2.body.data, "hello") == 0;
        if (!ok) {
            bad++;
            fprintf(stderr, "split at %zu failed (status %d/%d)\n", k, r1.status, r2.status);
        }
        CHECK(ok);
        resp_free(&r1);
        resp_free(&r2);
        cl_close(&c);
    }
    /* One byte at a time as well. */
    client c;
    resp r;
    cl_connect(&f, &c, 0);
    for (size_t i = 0; i < total; i++)
        cl_send(&c, split_req + i, 1);
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_STR(r.body.data, "hello world");
    resp_free(&r);
    CHECK(cl_response(&c, &r, 2));
    resp_free(&r);
    cl_close(&c);
    /* The first request of the last connection is what ts saw before the GET. */
    CHECK_EQ_STR(ts.path, "/hello");
    fx_stop(&f);
}

static void test_request_fields(void)
{
    fx f;
    client c;
    resp r;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    cl_connect(&f, &c, 0);
    cl_sends(&c, "PUT /echo?q=%20x#frag HTTP/1.1\r\nhost: h\r\nx-test:\tTabbed  \r\n"
                 "Empty:\r\nContent-Length: 4\r\n\r\nbody");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_STR(ts.method, "PUT");
    CHECK_EQ_STR(ts.path, "/echo");
    CHECK_EQ_STR(ts.query, "q=%20x");
    CHECK_EQ_STR(ts.hdr, "Tabbed");
    CHECK_EQ_STR(ts.body, "body");
    resp_free(&r);
    /* Absolute-form target. */
    cl_sends(&c, "GET http://example.com/hello?z=9 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(ts.path, "/hello");
    CHECK_EQ_STR(ts.query, "z=9");
    CHECK_EQ_STR(ts.hdr, "(none)");
    resp_free(&r);
    /* HEAD: Content-Length of the body, no body bytes, connection reusable. */
    c.head_req = 1;
    cl_sends(&c, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_STR(hdr(&r, "content-length"), "5");
    CHECK_EQ_INT(r.body.len, 0);
    resp_free(&r);
    c.head_req = 0;
    cl_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_STR(r.body.data, "hello");
    resp_free(&r);
    cl_close(&c);
    fx_stop(&f);
}

static void test_expect_continue(void)
{
    fx f;
    client c;
    resp r;
    mg_http_limits lim;
    ts_reset();
    fx_limits(&lim);
    lim.max_body_bytes = 1000;
    CHECK(fx_start(&f, &lim, handler, NULL, NULL) == 0);
    cl_connect(&f, &c, 0);
    cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                 "Expect: 100-continue\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 100);
    resp_free(&r);
    CHECK_EQ_INT(ts.requests, 0);
    cl_sends(&c, "hello");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body.data, "hello");
    resp_free(&r);
    /* Too large: 413 at once, no 100. */
    cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                 "Expect: 100-continue\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 413);
    CHECK(r.conn_close);
    CHECK(strstr(r.body.data, "\"type\":\"request_too_large\"") != NULL);
    resp_free(&r);
    CHECK(cl_wait_closed(&c, 3));
    mg_buf_cstr(&c.raw);
    const char *first = strstr(c.raw.data, "100 Continue");
    CHECK(first != NULL && strstr(first + 1, "100 Continue") == NULL); /* none for the 413 */
    cl_close(&c);
    fx_stop(&f);
}

/* Send `req`, expect a server error reply with `status` and error `type`,
 * Connection: close, then the close. */
static void expect_reject(fx *f, const char *req, size_t len, int status, const char *type,
                          const char *msg_part)
{
    client c;
    resp r;
    char want[96];
    cl_connect(f, &c, 0);
    cl_send(&c, req, len);
    int got = cl_response(&c, &r, 3);
    CHECK(got);
    CHECK_EQ_INT(r.status, status);
    CHECK(r.conn_close);
    CHECK_EQ_STR(hdr(&r, "content-type"), "application/json");
    snprintf(want, sizeof want, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"", type);
    CHECK(r.body.data && strncmp(r.body.data, want, strlen(want)) == 0);
    if (msg_part && !(r.body.data && strstr(r.body.data, msg_part))) {
        fprintf(stderr, "expected \"%s\" in %s\n", msg_part, r.body.data ? r.body.data : "(none)");
        CHECK(0);
    }
    CHECK(cl_wait_closed(&c, 3));
    resp_free(&r);
    cl_close(&c);
}

static void expect_reject_str(fx *f, const char *req, int status, const char *type,
                              const char *msg_part)
{
    expect_reject(f, req, strlen(req), status, type, msg_part);
}

static void test_header_limits(void)
{
    fx f;
    mg_http_limits lim;
    mg_buf req = {0};
    ts_reset();
    fx_limits(&lim);
    lim.max_headers = 10;
    lim.max_header_bytes = 1024;
    CHECK(fx_start(&f, &lim, handler, NULL, NULL) == 0);
    mg_buf_append_str(&req, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 20; i++)
        mg_buf_printf(&req, "X-H%d: v\r\n", i);
    mg_buf_append_str(&req, "\r\n");
    expect_reject(&f, req.data, req.len, 431, "invalid_request_error", "too many header");
    mg_buf_reset(&req);
    mg_buf_append_str(&req, "GET /hello HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < 2000; i++)
        mg_buf_append(&req, "a", 1);
    mg_buf_append_str(&req, "\r\n\r\n");
    expect_reject(&f, req.data, req.len, 431, "invalid_request_error", "too large");
    /* Exactly at the limit is fine: 10 headers. */
    mg_buf_reset(&req);
    mg_buf_append_str(&req, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    for (int i = 1; i < 10; i++)
        mg_buf_printf(&req, "X-H%d: v\r\n", i);
    mg_buf_append_str(&req, "\r\n");
    client c;
    resp r;
    cl_connect(&f, &c, 0);
    cl_send(&c, req.data, req.len);
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 200);
    resp_free(&r);
    cl_close(&c);
    CHECK_EQ_INT(ts.requests, 1);
    mg_buf_free(&req);
    fx_stop(&f);
}

static void test_body_limits(void)
{
    fx f;
    mg_http_limits lim;
    ts_reset();
    fx_limits(&lim);
    lim.max_body_bytes = 64 * 1024;
    CHECK(fx_start(&f, &lim, handler, NULL, NULL) == 0);
    expect_reject_str(&f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\nabc",
                      413, "request_too_large", "65536");
    /* Chunked: the limit trips while reading. */
    mg_buf req = {0};
    mg_buf_append_str(&req, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[4096];
    memset(chunk, 'b', sizeof chunk);
    for (int i = 0; i < 40; i++) {
        mg_buf_printf(&req, "%zx\r\n", sizeof chunk);
        mg_buf_append(&req, chunk, sizeof chunk);
        mg_buf_append_str(&req, "\r\n");
    }
    mg_buf_append_str(&req, "0\r\n\r\n");
    expect_reject(&f, req.data, req.len, 413, "request_too_large", NULL);
    mg_buf_free(&req);
    CHECK_EQ_INT(ts.requests, 0);
    fx_stop(&f);
}

static void test_malformed(void)
{
    fx f;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    expect_reject_str(&f, "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n", 400,
                      "invalid_request_error", "folding");
    expect_reject_str(&f, "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n", 400,
                      "invalid_request_error", "folding");
    expect_reject_str(&f,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                      400, "invalid_request_error", "Content-Length");
    expect_reject_str(&f,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      "Content-Length: 6\r\n\r\nhello!",
                      400, "invalid_request_error", NULL);
    expect_reject_str(&f, "FOO /hello HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request_error",
                      "method");
    expect_reject_str(&f, "GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", 400, "invalid_request_error",
                      "version");
    expect_reject_str(&f, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400,
                      "invalid_request_error", NULL);
    expect_reject_str(&f, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxx",
                      400, "invalid_request_error", NULL);
    expect_reject_str(&f, "GET /hello HTTP/1.1\r\n\r\n", 400, "invalid_request_error", "Host");
    expect_reject_str(&f, "GET /hello HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400,
                      "invalid_request_error", "Host");
    /* Bare LF line ends are tolerated (RFC 9112 allows it). */
    client lf;
    resp lr;
    cl_connect(&f, &lf, 0);
    cl_sends(&lf, "GET /hello HTTP/1.1\nHost: x\n\n");
    CHECK(cl_response(&lf, &lr, 2));
    CHECK_EQ_INT(lr.status, 200);
    resp_free(&lr);
    cl_close(&lf);
    /* A pipelined good request before a bad one is still answered. */
    client c;
    resp r;
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nBAD\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 200);
    resp_free(&r);
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 400);
    resp_free(&r);
    CHECK(cl_wait_closed(&c, 2));
    cl_close(&c);
    CHECK_EQ_INT(ts.requests, 2);
    fx_stop(&f);
}

static void test_timeouts(void)
{
    fx f;
    mg_http_limits lim;
    client c;
    resp r;
    ts_reset();
    fx_limits(&lim);
    lim.header_timeout = 0.2;
    lim.body_timeout = 0.2;
    lim.keepalive_timeout = 0.3;
    CHECK(fx_start(&f, &lim, handler, NULL, NULL) == 0);

    /* Slow headers: 408 and close, even though bytes keep trickling. */
    cl_connect(&f, &c, 0);
    double t0 = mg_now_mono();
    cl_sends(&c, "GET /hello HTTP/1.1\r\n");
    fx_pump(&f, 0.1);
    cl_sends(&c, "Host: x\r\n");
    CHECK(cl_response(&c, &r, 2));
    double took = mg_now_mono() - t0;
    CHECK_EQ_INT(r.status, 408);
    CHECK(strstr(r.body.data, "\"timeout_error\"") != NULL);
    CHECK(took > 0.15 && took < 1.0);
    CHECK(cl_wait_closed(&c, 2));
    resp_free(&r);
    cl_close(&c);

    /* Slow body. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 408);
    CHECK(strstr(r.body.data, "body") != NULL);
    CHECK(cl_wait_closed(&c, 2));
    resp_free(&r);
    cl_close(&c);

    /* Idle keep-alive: closed silently. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    resp_free(&r);
    t0 = mg_now_mono();
    CHECK(cl_wait_closed(&c, 2));
    took = mg_now_mono() - t0;
    CHECK(took > 0.2 && took < 1.0);
    CHECK_EQ_INT(mg_buf_unread(&c.in), 0);
    cl_close(&c);

    /* A connection that never sends: closed silently after header_timeout. */
    cl_connect(&f, &c, 0);
    CHECK(cl_wait_closed(&c, 2));
    CHECK_EQ_INT(c.raw.len, 0);
    cl_close(&c);
    fx_pump(&f, 0.01);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
    CHECK_EQ_INT(ts.requests, 1);
    fx_stop(&f);
}

static void test_streamed(void)
{
    fx f;
    client c;
    resp r;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_response(&c, &r, 3));
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.chunked);
    CHECK(!r.has_cl);
    CHECK_EQ_STR(r.body.data, "hello world!");
    CHECK_EQ_STR(hdr(&r, "cache-control"), "no-cache");
    mg_buf_cstr(&c.raw);
    CHECK(strstr(c.raw.data, "\r\nTransfer-Encoding: chunked\r\n") != NULL);
    const char *framing = "\r\n\r\n5\r\nhello\r\n6\r\n world\r\n1\r\n!\r\n0\r\n\r\n";
    size_t fl = strlen(framing);
    CHECK(c.raw.len > fl && memcmp(c.raw.data + c.raw.len - fl, framing, fl) == 0);
    resp_free(&r);
    /* The connection stays usable after a streamed response. */
    cl_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_STR(r.body.data, "hello");
    resp_free(&r);
    cl_close(&c);

    /* HTTP/1.0: no chunks, the close ends the body. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /stream HTTP/1.0\r\n\r\n");
    CHECK(cl_response(&c, &r, 3));
    CHECK_EQ_INT(r.status, 200);
    CHECK(!r.chunked && !r.has_te && !r.has_cl);
    CHECK(r.conn_close);
    CHECK_EQ_STR(r.body.data, "hello world!");
    resp_free(&r);
    cl_close(&c);
    fx_stop(&f);
}

static void test_connection_header(void)
{
    fx f;
    client c;
    resp r;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    /* HTTP/1.1 with Connection: close. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK(r.conn_close);
    CHECK(cl_wait_closed(&c, 2));
    resp_free(&r);
    cl_close(&c);
    /* HTTP/1.0 default: close. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /hello HTTP/1.0\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_STR(r.body.data, "hello");
    CHECK(r.conn_close);
    CHECK(cl_wait_closed(&c, 2));
    resp_free(&r);
    cl_close(&c);
    /* HTTP/1.0 keep-alive. */
    cl_connect(&f, &c, 0);
    for (int i = 0; i < 2; i++) {
        cl_sends(&c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        CHECK(cl_response(&c, &r, 2));
        CHECK(r.conn_keepalive);
        CHECK(!r.conn_close);
        CHECK_EQ_STR(r.body.data, "hello");
        resp_free(&r);
    }
    CHECK(!c.eof);
    cl_close(&c);
    fx_stop(&f);
}

static void test_backpressure(void)
{
    fx f;
    client c;
    resp r;
    mg_http_limits lim;
    ts_reset();
    fx_limits(&lim);
    lim.out_high_watermark = 64 * 1024;
    lim.out_low_watermark = 16 * 1024;
    CHECK(fx_start(&f, &lim, handler, NULL, NULL) == 0);
    ts.big_target = 16 * 1024 * 1024;
    cl_connect(&f, &c, 4096);
    cl_sends(&c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    /* The client reads nothing: the kernel buffers fill, then the server's
     * output stays above the low watermark and on_writable stops. */
    fx_pump(&f, 0.3);
    int writables = ts.writables;
    CHECK(ts.again_seen >= 1);
    CHECK_EQ_INT(ts.again_seen, writables + 1); /* one MG_AGAIN outstanding */
    CHECK(ts.big_total < ts.big_target);
    CHECK(ts.big_req && mg_http_pending(ts.big_req) > lim.out_low_watermark);
    fx_pump(&f, 0.1);
    CHECK_EQ_INT(ts.writables, writables);
    CHECK_EQ_INT(mg_http_server_active(f.srv), 1);
    CHECK(cl_response(&c, &r, 20));
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.body.len, ts.big_target);
    CHECK(ts.writables > writables);
    CHECK_EQ_INT(ts.writables, ts.again_seen);
    CHECK_EQ_INT(ts.aborts, 0);
    resp_free(&r);
    cl_close(&c);
    fx_stop(&f);
}

static void test_client_abort(void)
{
    fx f;
    client c;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    /* Orderly close while the handler holds the request. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_pump(&f, 0.02);
    CHECK(ts.held != NULL);
    CHECK_EQ_INT(mg_http_server_active(f.srv), 1);
    cl_close(&c);
    fx_pump(&f, 0.05);
    CHECK_EQ_INT(ts.aborts, 1);
    CHECK_EQ_INT(ts.abort_write_rc, MG_ERR);
    CHECK(ts.held == NULL);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);

    /* Reset (RST) while a big response is blocked on the client. */
    mg_http_limits lim;
    fx_stop(&f);
    ts_reset();
    fx_limits(&lim);
    lim.out_high_watermark = 32 * 1024;
    lim.out_low_watermark = 8 * 1024;
    CHECK(fx_start(&f, &lim, handler, NULL, NULL) == 0);
    ts.big_target = 64 * 1024 * 1024;
    cl_connect(&f, &c, 4096);
    cl_sends(&c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_pump(&f, 0.1);
    CHECK(ts.again_seen >= 1);
    struct linger lg = {1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    cl_close(&c);
    fx_pump(&f, 0.1);
    CHECK_EQ_INT(ts.aborts, 1);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);

    /* Server freed with a request still held: on_abort once. */
    ts_reset();
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_pump(&f, 0.02);
    CHECK(ts.held != NULL);
    mg_http_server_free(f.srv);
    f.srv = NULL;
    CHECK_EQ_INT(ts.aborts, 1);
    cl_close(&c);
    fx_stop(&f);
}

static void test_drain(void)
{
    fx f;
    client idle, busy;
    resp r;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    cl_connect(&f, &idle, 0);
    cl_sends(&idle, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_response(&idle, &r, 2));
    resp_free(&r);
    cl_connect(&f, &busy, 0);
    cl_sends(&busy, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_pump(&f, 0.02);
    CHECK(ts.held != NULL);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 2);
    CHECK_EQ_INT(mg_http_server_active(f.srv), 1);

    size_t idle_bytes = idle.raw.len;
    mg_http_server_drain(f.srv);
    CHECK(cl_wait_closed(&idle, 1));
    CHECK_EQ_INT(idle.raw.len, idle_bytes); /* closed without a word */
    fx_pump(&f, 0.02);
    CHECK(!busy.eof);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 1);
    CHECK_EQ_INT(mg_http_server_active(f.srv), 1);
    /* The busy one finishes its response, with Connection: close. */
    mg_http_req *held = ts.held;
    ts.held = NULL;
    respond_text(held, 200, "late", 4);
    CHECK(cl_response(&busy, &r, 2));
    CHECK_EQ_STR(r.body.data, "late");
    CHECK(r.conn_close);
    CHECK(cl_wait_closed(&busy, 2));
    resp_free(&r);
    fx_pump(&f, 0.01);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
    CHECK_EQ_INT(mg_http_server_active(f.srv), 0);
    CHECK_EQ_INT(ts.aborts, 0);
    cl_close(&idle);
    cl_close(&busy);
    fx_stop(&f);
}

static void test_upgrade(void)
{
    fx f;
    client c;
    resp r;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    cl_connect(&f, &c, 0);
    /* Bytes right behind the request belong to the new protocol. */
    cl_sends(&c, "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nping");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 101);
    CHECK_EQ_STR(hdr(&r, "upgrade"), "echo");
    resp_free(&r);
    double end = mg_now_mono() + 2;
    while (mg_now_mono() < end && !memmem(c.raw.data, c.raw.len, "\r\n\r\nping", 8)) {
        fx_pump(&f, 0.001);
        cl_pull(&c);
    }
    CHECK(memmem(c.raw.data, c.raw.len, "\r\n\r\nping", 8) != NULL);
    cl_sends(&c, "bye");
    CHECK(cl_wait_closed(&c, 2));
    CHECK(memmem(c.raw.data, c.raw.len, "pingbye", 7) != NULL);
    CHECK_EQ_INT(ts.aborts, 0);
    cl_close(&c);
    /* Without the Upgrade headers, mg_http_upgrade refuses. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /upgrade HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 400);
    resp_free(&r);
    cl_close(&c);
    fx_stop(&f);
}

static void test_many_connections(void)
{
    fx f;
    enum { N = 40 };
    client cs[N];
    resp r;
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    for (int i = 0; i < N; i++)
        cl_connect(&f, &cs[i], 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++)
            cl_sends(&cs[i], "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        int ok = 0;
        for (int i = 0; i < N; i++) {
            if (cl_response(&cs[i], &r, 2) && r.status == 200)
                ok++;
            resp_free(&r);
        }
        CHECK_EQ_INT(ok, N);
    }
    CHECK_EQ_INT(mg_http_server_conns(f.srv), N);
    for (int i = 0; i < N; i++)
        cl_close(&cs[i]);
    fx_pump(&f, 0.02);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
    fx_stop(&f);
}

static void test_listen_and_reason(void)
{
    char err[MG_ERRLEN];
    int port = 0;
    int fd = mg_http_listen("127.0.0.1", 0, &port, err);
    CHECK(fd >= 0);
    CHECK(port > 0);
    if (fd >= 0)
        close(fd);
    fd = mg_http_listen("[::1]", 0, &port, err);
    if (fd >= 0) /* IPv6 may be off in a container */
        close(fd);
    fd = mg_http_listen("256.1.1.1", 0, NULL, err);
    CHECK_EQ_INT(fd, -1);
    CHECK(strstr(err, "256.1.1.1") != NULL);
    fd = mg_http_listen("127.0.0.1", 70000, NULL, err);
    CHECK_EQ_INT(fd, -1);
    CHECK_EQ_STR(mg_http_reason(200), "OK");
    CHECK_EQ_STR(mg_http_reason(431), "Request Header Fields Too Large");
    CHECK_EQ_STR(mg_http_reason(599), "Server Error");
    mg_http_limits l;
    mg_http_limits_default(&l);
    CHECK(l.out_low_watermark < l.out_high_watermark);
    CHECK(l.max_header_bytes > 0 && l.max_headers > 0 && l.max_body_bytes > 0);
}

static uint32_t rng_state = 12345;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

/* Hostile input: mutated copies of a valid pipelined pair, sent in random
 * pieces. The server must answer or close every one, never crash or leak
 * (ASan watches), and end with no connections. */
static void test_mutations(void)
{
    fx f;
    mg_http_limits lim;
    ts_reset();
    fx_limits(&lim);
    lim.header_timeout = 0.2;
    lim.body_timeout = 0.2;
    lim.keepalive_timeout = 0.2;
    lim.max_body_bytes = 4096;
    lim.max_header_bytes = 512;
    lim.max_headers = 8;
    CHECK(fx_start(&f, &lim, handler, NULL, NULL) == 0);
    static const char alphabet[] = "\r\n :\t\x00\x80\xff""0123456789abcdefABCDEF;/?#%-";
    enum { BATCH = 25, ROUNDS = 12 };
    for (int round = 0; round < ROUNDS; round++) {
        client cs[BATCH];
        for (int i = 0; i < BATCH; i++) {
            char buf[512];
            size_t len = sizeof split_req - 1;
            memcpy(buf, split_req, len);
            int edits = 1 + (int)rnd(4);
            for (int e = 0; e < edits; e++) {
                size_t at = rnd((uint32_t)len);
                char ch = alphabet[rnd(sizeof alphabet - 1)];
                switch (rnd(3)) {
                case 0:
                    buf[at] = ch;
                    break;
                case 1:
                    if (len + 1 < sizeof buf) {
                        memmove(buf + at + 1, buf + at, len - at);
                        buf[at] = ch;
                        len++;
                    }
                    break;
                default:
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                    break;
                }
            }
            cl_connect(&f, &cs[i], 0);
            size_t cut = rnd((uint32_t)len);
            cl_send(&cs[i], buf, cut);
            cl_send(&cs[i], buf + cut, len - cut);
        }
        fx_pump(&f, 0.02);
        for (int i = 0; i < BATCH; i++)
            cl_close(&cs[i]);
    }
    fx_pump(&f, 0.1);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
    CHECK(ts.requests > 0); /* some mutations stay valid */
    fx_stop(&f);
}

/* Thousands of pipelined requests (more than the input bound) from a
 * client that does not read, with responses larger than the kernel
 * buffers: the server stops parsing and reading while output piles up,
 * then answers all, in order. */
static void test_pipeline_flood(void)
{
    fx f;
    client c;
    resp r;
    mg_http_limits lim;
    ts_reset();
    fx_limits(&lim);
    lim.out_high_watermark = 8 * 1024;
    lim.out_low_watermark = 2 * 1024;
    CHECK(fx_start(&f, &lim, handler, NULL, NULL) == 0);
    cl_connect(&f, &c, 4096);
    enum { N = 3000 };
    mg_buf all = {0};
    for (int i = 0; i < N; i++)
        mg_buf_append_str(&all, "GET /pad HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_send(&c, all.data, all.len) == 0);
    fx_pump(&f, 0.05);
    CHECK(ts.requests < N); /* held back by the unread output */
    int in_order = 1;
    for (int i = 1; i <= N && in_order; i++) {
        in_order = cl_response(&c, &r, 3) && r.status == 200 && r.body.len == 8192 &&
                   hdr(&r, "x-seq") && atoi(hdr(&r, "x-seq")) == i;
        if (!in_order)
            fprintf(stderr, "flood: response %d: status %d seq %s\n", i, r.status,
                    hdr(&r, "x-seq") ? hdr(&r, "x-seq") : "-");
        resp_free(&r);
    }
    CHECK(in_order);
    CHECK_EQ_INT(ts.requests, N);
    mg_buf_free(&all);
    cl_close(&c);
    fx_stop(&f);
}

/* Out of file descriptors: accept pauses (no busy loop) and resumes. */
static void test_accept_emfile(void)
{
    fx f;
    enum { K = 6 };
    int fds[K];
    ts_reset();
    CHECK(fx_start(&f, NULL, handler, NULL, NULL) == 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)f.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < K; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(fds[i], (struct sockaddr *)&a, sizeof a) == 0);
    }
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    int lowest = dup(0);
    close(lowest);
    low = old;
    low.rlim_cur = (rlim_t)lowest + 2;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    int room = 0, probe[8];
    while (room < 8 && (probe[room] = dup(0)) >= 0)
        room++;
    for (int i = 0; i < room; i++)
        close(probe[i]);
    fx_pump(&f, 0.05);
    size_t got = mg_http_server_conns(f.srv);
    CHECK_EQ_INT(got, room);
    fx_pump(&f, 0.25); /* retries hit the limit again: nothing changes */
    CHECK_EQ_INT(mg_http_server_conns(f.srv), room);
    setrlimit(RLIMIT_NOFILE, &old);
    fx_pump(&f, 0.3);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), K);
    for (int i = 0; i < K; i++)
        close(fds[i]);
    fx_pump(&f, 0.05);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
    fx_stop(&f);
}

TEST_MAIN(T(test_get_keepalive), T(test_pipelined), T(test_chunked_body_split_everywhere),
          T(test_request_fields), T(test_expect_continue), T(test_header_limits),
          T(test_body_limits), T(test_malformed), T(test_timeouts), T(test_streamed),
          T(test_connection_header), T(test_backpressure), T(test_client_abort), T(test_drain),
          T(test_upgrade), T(test_many_connections), T(test_mutations),
          T(test_pipeline_flood), T(test_accept_emfile), T(test_listen_and_reason))
