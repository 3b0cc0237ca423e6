/* test_http_stream.c — the HTTP/1.1 server's responses over time and its
 * connection lifecycle: streamed (chunked and HTTP/1.0) responses,
 * backpressure with watermarks and on_writable, pipelined floods, client
 * aborts (FIN and RST), drain, free with requests held, upgrade, many
 * connections, the whole-request deadline, EMFILE back-off. Shares the
 * handler with test_http.c. */
#include <sys/resource.h>

#include "test.h"
#include "test_http_handler.h"

/* ---- tests ---- */

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
    cl_sends(&c, "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                 "Upgrade: echo\r\n\r\nping");
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

/* Send `s` one byte every `gap` seconds until it is all sent or the server
 * answers or closes; pumps the loop meanwhile. */
static void trickle(client *c, const char *s, double gap)
{
    for (; *s && !c->eof && !c->reset; s++) {
        if (cl_send(c, s, 1) != 0)
            return;
        double end = mg_now_mono() + gap;
        while (mg_now_mono() < end && !c->eof && !c->reset) {
            fx_pump(c->f, 0.002);
            if (cl_pull(c) > 0 && memmem(c->raw.data, c->raw.len, "HTTP/1.1 ", 9))
                return;
        }
    }
}

/* request_timeout bounds the whole request however the bytes trickle, and
 * only the request: it starts afresh for each request on a keep-alive
 * connection and does not touch responses or upgraded connections. */
static void test_request_deadline(void)
{
    fx f;
    client c;
    resp r;
    mg_http_limits lim;
    ts_reset();
    fx_limits(&lim);
    lim.header_timeout = 0.3;
    lim.body_timeout = 0.3;
    lim.request_timeout = 0.6;
    lim.keepalive_timeout = 2;
    CHECK(fx_start(&f, &lim, handler, NULL, NULL) == 0);

    /* A body trickled faster than body_timeout: 408 at request_timeout. */
    cl_connect(&f, &c, 0);
    double t0 = mg_now_mono();
    cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n");
    trickle(&c, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0.1);
    CHECK(cl_response(&c, &r, 1));
    double took = mg_now_mono() - t0;
    CHECK_EQ_INT(r.status, 408);
    CHECK(r.body.data && strstr(r.body.data, "in full") != NULL);
    CHECK(took > 0.55 && took < 1.5);
    CHECK(cl_wait_closed(&c, 3));
    CHECK_EQ_INT(ts.requests, 0);
    resp_free(&r);
    cl_close(&c);

    /* Keep-alive: two requests, each slow but within the deadline, with a
     * pause between them; together longer than request_timeout. */
    cl_connect(&f, &c, 0);
    for (int i = 0; i < 2; i++) {
        cl_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n");
        trickle(&c, "abc", 0.12);
        CHECK(cl_response(&c, &r, 1));
        CHECK_EQ_INT(r.status, 200);
        CHECK(r.body.data && strcmp(r.body.data, "abc") == 0);
        resp_free(&r);
        fx_pump(&f, 0.3);
    }
    cl_close(&c);

    /* A response held past request_timeout is not cut. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_pump(&f, 1.0);
    CHECK(ts.held != NULL);
    CHECK(!cl_wait_closed(&c, 0.01));
    if (ts.held) {
        mg_http_req *held = ts.held;
        ts.held = NULL;
        respond_text(held, 200, "late", 4);
    }
    CHECK(cl_response(&c, &r, 2));
    CHECK(r.body.data && strcmp(r.body.data, "late") == 0);
    resp_free(&r);
    cl_close(&c);

    /* Nor is an upgraded connection quiet for longer than it. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
    CHECK(cl_response(&c, &r, 2));
    CHECK_EQ_INT(r.status, 101);
    resp_free(&r);
    fx_pump(&f, 1.0);
    cl_sends(&c, "pingbye");
    CHECK(cl_wait_closed(&c, 2));
    CHECK(memmem(c.raw.data, c.raw.len, "pingbye", 7) != NULL);
    CHECK_EQ_INT(ts.aborts, 0);
    cl_close(&c);
    fx_pump(&f, 0.02);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
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

TEST_MAIN(T(test_streamed), T(test_backpressure), T(test_client_abort), T(test_drain),
          T(test_upgrade), T(test_many_connections), T(test_pipeline_flood),
          T(test_request_deadline), T(test_accept_emfile))
