/* test_http.c — the HTTP/1.1 server (src/net) against raw client sockets:
 * keep-alive, pipelining, requests split at every byte, chunked bodies,
 * 100-continue, limits (431, 413, 408), malformed and mutated input
 * (obs-fold, CL+TE, bad method, Host), Connection handling, listen. The
 * server runs on a libev loop in this thread; every client wait pumps it.
 * Streaming, backpressure and connection lifecycle: test_http_stream.c. */
#include "test.h"
#include "test_http_handler.h"

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
    snprintf(want, sizeof want,
             "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"", type);
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



TEST_MAIN(T(test_get_keepalive), T(test_pipelined), T(test_chunked_body_split_everywhere),
          T(test_request_fields), T(test_expect_continue), T(test_header_limits),
          T(test_body_limits), T(test_malformed), T(test_timeouts), T(test_connection_header),
          T(test_mutations), T(test_listen_and_reason))
