/* test_upstream.c — the upstream client against a small scripted HTTP
 * server running in threads of this process (upstream_test_server.h). Covers
 * responses, streaming, every failure class, backpressure, cancel, deferred
 * work inside callbacks and connection reuse. Its 127.0.0.1 URLs take the
 * native HTTP/1.1 path; ctest runs it a second time with
 * MOONGATE_UPSTREAM_CLIENT=curl for the libcurl path. */
#include "upstream_test_client.h"

/* ---- tests --------------------------------------------------------------- */

static void test_json_response(void)
{
    env e;
    env_up(&e);
    got g;
    got_init(&g, e.loop, e.u);
    const char *hdrs[] = {"Content-Type: application/json", "X-Custom: hello there",
                          "Accept-Encoding: gzip", "Expect: 100-continue"};
    CHECK(start(&g, &e.s, "POST", "/json", hdrs, 4, "{\"model\":\"m\"}", 2, 2, 5));
    CHECK_EQ_INT(mg_upstream_active(e.u), 1);
    CHECK_EQ_INT(g.responses, 0); /* never calls back before returning */
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.status, 200);
    CHECK_EQ_INT(g.responses, 1);
    CHECK_EQ_INT(g.order_errors, 0);
    CHECK_EQ_STR(g.ctype, "application/json");
    CHECK_EQ_STR(g.xtest, "padded value");
    CHECK_EQ_STR(g.saw_expect, "none");
    CHECK_EQ_STR(g.saw_ae, "identity");
    CHECK_EQ_STR(g.saw_custom, "hello there");
    CHECK_EQ_STR(mg_buf_cstr(&g.body), "{\"ok\":true,\"method\":\"POST\",\"body_len\":13}");
    CHECK(g.tm.ttfb_ms > 0);
    CHECK_EQ_INT(g.tm.reused, 0);
    CHECK_EQ_INT(mg_upstream_active(e.u), 0);
    got_free(&g);

    /* GET and a custom method, body-less. */
    got_init(&g, e.loop, e.u);
    CHECK(start(&g, &e.s, "GET", "/json", NULL, 0, NULL, 2, 2, 5));
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK_EQ_STR(mg_buf_cstr(&g.body), "{\"ok\":true,\"method\":\"GET\",\"body_len\":0}");
    CHECK_EQ_INT(g.tm.reused, 1);
    got_free(&g);
    got_init(&g, e.loop, e.u);
    CHECK(start(&g, &e.s, "DELETE", "/json", NULL, 0, "x=1", 2, 2, 5));
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK_EQ_STR(mg_buf_cstr(&g.body), "{\"ok\":true,\"method\":\"DELETE\",\"body_len\":3}");
    got_free(&g);
    env_down(&e);
}

static void test_interim_and_empty(void)
{
    env e;
    env_up(&e);
    got g;
    got_init(&g, e.loop, e.u);
    CHECK(start(&g, &e.s, "GET", "/interim", NULL, 0, NULL, 2, 2, 5));
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.responses, 1);
    CHECK_EQ_INT(g.status, 201);
    CHECK_EQ_STR(g.xfinal, "yes");
    CHECK_EQ_STR(mg_buf_cstr(&g.body), "ok");
    got_free(&g);

    got_init(&g, e.loop, e.u);
    CHECK(start(&g, &e.s, "GET", "/nocontent", NULL, 0, NULL, 2, 2, 5));
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.responses, 1);
    CHECK_EQ_INT(g.status, 204);
    CHECK_EQ_INT(g.data_calls, 0);
    CHECK_EQ_INT(g.order_errors, 0);
    got_free(&g);
    env_down(&e);
}

static void test_chunked_stream(void)
{
    env e;
    env_up(&e);
    got g;
    got_init(&g, e.loop, e.u);
    /* Idle limit well above the 20 ms gaps, well below the whole stream. */
    CHECK(start(&g, &e.s, "POST", "/stream", NULL, 0, "{}", 2, 0.5, 5));
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_STR(g.ctype, "text/event-stream");
    CHECK_EQ_STR(mg_buf_cstr(&g.body), "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
    CHECK(g.data_calls >= 3); /* delivered as it came, not all at once */
    CHECK_EQ_INT(g.order_errors, 0);
    got_free(&g);
    env_down(&e);
}

static void test_connection_refused(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    mg_upstream *u = mg_upstream_new(loop);
    int port;
    int fd = listen_local(1, &port);
    close(fd); /* nothing listens there now */
    got g;
    got_init(&g, loop, u);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/json", port);
    mg_up_request req = {.method = "POST", .url = url, .t_connect = 2, .t_total = 5};
    char err[MG_ERRLEN];
    g.x = mg_up_start(u, &req, &callbacks, &g, err);
    CHECK(g.x != NULL);
    CHECK(run_until(loop, &g.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_ERR_CONNECT);
    CHECK_EQ_STR(mg_up_result_name(g.result), "connect_error");
    CHECK_EQ_INT(g.responses, 0);
    CHECK(g.errmsg[0] != '\0');
    got_free(&g);
    mg_upstream_free(u);
    ev_loop_destroy(loop);
}

/* A listener whose accept queue is full drops SYNs: connect never ends. */
static void test_connect_timeout(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    mg_upstream *u = mg_upstream_new(loop);
    int port;
    int lfd = listen_local(0, &port);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(50000);
    got g;
    got_init(&g, loop, u);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/json", port);
    mg_up_request req = {.method = "GET", .url = url, .t_connect = 0.3, .t_total = 5};
    char err[MG_ERRLEN];
    g.x = mg_up_start(u, &req, &callbacks, &g, err);
    double t0 = mg_now_mono();
    CHECK(run_until(loop, &g.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_ERR_TIMEOUT_CONNECT);
    CHECK_EQ_STR(mg_up_result_name(g.result), "connect_timeout");
    CHECK(g.t_done - t0 < 2);
    got_free(&g);
    mg_upstream_free(u);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
    ev_loop_destroy(loop);
}

static void test_first_byte_timeout(void)
{
    env e;
    env_up(&e);
    got g;
    got_init(&g, e.loop, e.u);
    double t0 = mg_now_mono();
    CHECK(start(&g, &e.s, "POST", "/silent", NULL, 0, "{}", 0.2, 0.05, 5));
    CHECK(run_until(e.loop, &g.done, 5));
    double took = g.t_done - t0;
    CHECK_EQ_INT(g.result, MG_UP_ERR_TIMEOUT_FIRST_BYTE);
    CHECK_EQ_STR(mg_up_result_name(g.result), "first_byte_timeout");
    CHECK(mg_up_result_is_timeout(g.result));
    CHECK(took >= 0.18 && took < 1.5);
    CHECK_EQ_INT(g.responses, 0);
    CHECK_EQ_INT(mg_upstream_active(e.u), 0);
    got_free(&g);
    env_down(&e);
}

static void test_idle_timeout(void)
{
    env e;
    env_up(&e);
    got g;
    got_init(&g, e.loop, e.u);
    double t0 = mg_now_mono();
    CHECK(start(&g, &e.s, "GET", "/stall", NULL, 0, NULL, 1, 0.2, 5));
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_ERR_TIMEOUT_IDLE);
    CHECK_EQ_STR(mg_up_result_name(g.result), "idle_timeout");
    CHECK_EQ_INT(g.responses, 1);
    CHECK_EQ_STR(mg_buf_cstr(&g.body), "0123456789");
    CHECK(g.t_done - t0 >= 0.18 && g.t_done - t0 < 1.5);
    got_free(&g);
    env_down(&e);
}

static void test_total_timeout(void)
{
    env e;
    env_up(&e);
    got g;
    got_init(&g, e.loop, e.u);
    CHECK(start(&g, &e.s, "GET", "/stall", NULL, 0, NULL, 1, 0, 0.3));
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_ERR_TIMEOUT_TOTAL);
    CHECK_EQ_STR(mg_up_result_name(g.result), "total_timeout");
    got_free(&g);
    env_down(&e);
}

static void test_cut_mid_body(void)
{
    env e;
    env_up(&e);
    got g;
    got_init(&g, e.loop, e.u);
    CHECK(start(&g, &e.s, "GET", "/cut", NULL, 0, NULL, 2, 2, 5));
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_ERR_IO);
    CHECK_EQ_STR(mg_up_result_name(g.result), "upstream_cut");
    CHECK_EQ_INT(g.body.len, 50);
    CHECK(g.errmsg[0] != '\0');
    got_free(&g);
    env_down(&e);
}

static int body_is_pattern(const mg_buf *b, size_t n)
{
    if (b->len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)b->data[i] != pattern(i))
            return 0;
    return 1;
}

static void test_pause_resume(void)
{
    env e;
    env_up(&e);
    got g;
    got_init(&g, e.loop, e.u);
    g.pause_mode = 1;
    /* The first pause outlasts the idle limit: a paused transfer is not idle. */
    g.first_pause_s = 0.3;
    size_t n = 300000;
    char path[64];
    snprintf(path, sizeof path, "/big?n=%zu", n);
    CHECK(start(&g, &e.s, "GET", path, NULL, 0, NULL, 2, 0.1, 20));
    /* Nothing may arrive during the first pause. */
    CHECK(run_until(e.loop, &g.any_data, 5));
    CHECK_EQ_INT(g.data_calls, 1);
    run_for(e.loop, 0.15);
    CHECK_EQ_INT(g.data_calls, 1);
    CHECK(g.paused);
    CHECK(run_until(e.loop, &g.done, 20));
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.data_while_paused, 0);
    CHECK(body_is_pattern(&g.body, n));
    /* Paused after every piece; a piece is at most one read (64 KiB). */
    CHECK(g.data_calls > 4);
    CHECK_EQ_INT(g.tm.pauses, g.data_calls);
    CHECK_EQ_INT(g.order_errors, 0);
    got_free(&g);
    env_down(&e);
}

/* B's on_data (inside a curl call) resumes A: the resume is deferred. */
static void test_resume_from_other_callback(void)
{
    env e;
    env_up(&e);
    got a, b;
    got_init(&a, e.loop, e.u);
    got_init(&b, e.loop, e.u);
    a.pause_mode = 1;
    a.resume_timer.data = NULL; /* no timer: only B resumes A */
    b.resume_other = &a;
    CHECK(start(&a, &e.s, "GET", "/big?n=100000", NULL, 0, NULL, 2, 0, 20));
    CHECK(run_until(e.loop, &a.any_data, 5));
    a.pause_mode = 0; /* from now on A takes everything */
    CHECK(start(&b, &e.s, "GET", "/stream", NULL, 0, NULL, 2, 0, 5));
    CHECK(run_until(e.loop, &a.done, 10));
    CHECK(run_until(e.loop, &b.done, 10));
    CHECK_EQ_INT(a.result, MG_UP_OK);
    CHECK_EQ_INT(b.result, MG_UP_OK);
    CHECK_EQ_INT(a.tm.pauses, 1);
    CHECK_EQ_INT(a.data_while_paused, 0);
    CHECK(body_is_pattern(&a.body, 100000));
    got_free(&a);
    got_free(&b);
    env_down(&e);
}

static void test_cancel(void)
{
    env e;
    env_up(&e);
    got g;
    /* From inside on_data. */
    got_init(&g, e.loop, e.u);
    g.cancel_in_data = 1;
    CHECK(start(&g, &e.s, "GET", "/big?n=2000000", NULL, 0, NULL, 2, 2, 20));
    CHECK(run_until(e.loop, &g.cancelled, 5));
    run_for(e.loop, 0.2);
    CHECK_EQ_INT(g.calls_after_cancel, 0);
    CHECK_EQ_INT(g.done, 0);
    CHECK_EQ_INT(mg_upstream_active(e.u), 0);
    got_free(&g);

    /* From inside on_response. */
    got_init(&g, e.loop, e.u);
    g.cancel_in_response = 1;
    CHECK(start(&g, &e.s, "GET", "/json", NULL, 0, NULL, 2, 2, 5));
    CHECK(run_until(e.loop, &g.cancelled, 5));
    run_for(e.loop, 0.1);
    CHECK_EQ_INT(g.calls_after_cancel, 0);
    CHECK_EQ_INT(g.data_calls, 0);
    got_free(&g);

    /* Right after start, and while paused. */
    got_init(&g, e.loop, e.u);
    CHECK(start(&g, &e.s, "GET", "/json", NULL, 0, NULL, 2, 2, 5));
    mg_up_cancel(g.x);
    run_for(e.loop, 0.1);
    CHECK_EQ_INT(g.responses + g.data_calls + g.done, 0);
    got_free(&g);
    got_init(&g, e.loop, e.u);
    g.pause_mode = 1;
    g.resume_timer.data = NULL;
    CHECK(start(&g, &e.s, "GET", "/big?n=100000", NULL, 0, NULL, 2, 0.05, 5));
    CHECK(run_until(e.loop, &g.any_data, 5));
    run_for(e.loop, 0.1); /* longer than the idle limit: paused is not idle */
    CHECK_EQ_INT(g.done, 0);
    mg_up_cancel(g.x);
    g.cancelled = 1;
    run_for(e.loop, 0.1);
    CHECK_EQ_INT(g.calls_after_cancel, 0);
    CHECK_EQ_INT(mg_upstream_active(e.u), 0);
    got_free(&g);

    /* Freeing the upstream with transfers running: no callbacks. */
    got_init(&g, e.loop, e.u);
    CHECK(start(&g, &e.s, "GET", "/silent", NULL, 0, NULL, 0, 0, 0));
    run_for(e.loop, 0.05);
    g.cancelled = 1;
    env_down(&e);
    CHECK_EQ_INT(g.calls_after_cancel, 0);
    got_free(&g);
}

/* Starting a transfer from inside a curl callback (on_response). */
static got nested;
static srv *nested_srv;
static void on_response_start_nested(void *ud, int status, const mg_header *h, size_t n)
{
    got *g = ud;
    on_response(ud, status, h, n);
    got_init(&nested, g->loop, g->u);
    CHECK(start(&nested, nested_srv, "GET", "/json", NULL, 0, NULL, 2, 2, 5));
    CHECK_EQ_INT(nested.responses, 0);
}

static void test_start_inside_callback(void)
{
    env e;
    env_up(&e);
    nested_srv = &e.s;
    got g;
    got_init(&g, e.loop, e.u);
    static const mg_up_callbacks cb = {on_response_start_nested, on_data, on_done};
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stream", e.s.port);
    mg_up_request req = {.method = "GET", .url = url, .t_total = 5};
    char err[MG_ERRLEN];
    g.x = mg_up_start(e.u, &req, &cb, &g, err);
    CHECK(run_until(e.loop, &g.done, 5));
    CHECK(run_until(e.loop, &nested.done, 5));
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(nested.result, MG_UP_OK);
    CHECK_EQ_INT(nested.status, 200);
    got_free(&g);
    got_free(&nested);
    env_down(&e);
}

/* 100 sequential requests, each started from the previous one's on_done. */
static srv *chain_srv;
static int chain_left, chain_reused, chain_ok, chain_finished;
static got chain_g;
static void chain_next(got *g)
{
    if (g->result == MG_UP_OK && g->status == 200)
        chain_ok++;
    chain_reused += g->tm.reused;
    if (--chain_left == 0) {
        chain_finished = 1;
        return;
    }
    struct ev_loop *loop = g->loop;
    mg_upstream *u = g->u;
    got_free(g);
    got_init(g, loop, u);
    g->then = chain_next;
    CHECK(start(g, chain_srv, "POST", "/json", NULL, 0, "{\"n\":1}", 2, 2, 5));
}

static void test_keepalive_reuse(void)
{
    env e;
    env_up(&e);
    chain_srv = &e.s;
    chain_left = 100;
    chain_reused = chain_ok = chain_finished = 0;
    got_init(&chain_g, e.loop, e.u);
    chain_g.then = chain_next;
    CHECK(start(&chain_g, &e.s, "POST", "/json", NULL, 0, "{\"n\":1}", 2, 2, 5));
    CHECK(run_until(e.loop, &chain_finished, 20));
    CHECK_EQ_INT(chain_ok, 100);
    CHECK_EQ_INT(chain_reused, 99);
    CHECK_EQ_INT(atomic_load(&e.s.accepts), 1);
    got_free(&chain_g);
    env_down(&e);
}

static void test_bad_requests(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    mg_upstream *u = mg_upstream_new(loop);
    got g;
    got_init(&g, loop, u);
    char err[MG_ERRLEN];
    const char *crlf[] = {"X-A: ok", "X-B: evil\r\nX-Injected: 1"};
    const char *noname[] = {": value"};
    struct {
        mg_up_request req;
    } bad[] = {
        {{.method = "PO ST", .url = "http://127.0.0.1:1/"}},
        {{.method = "", .url = "http://127.0.0.1:1/"}},
        {{.method = "POST", .url = "ftp://127.0.0.1/"}},
        {{.method = "POST", .url = "http://127.0.0.1/a b"}},
        {{.method = "POST", .url = "127.0.0.1/"}},
        {{.method = "POST", .url = NULL}},
        {{.method = "POST", .url = "http://127.0.0.1:1/", .headers = crlf, .nheaders = 2}},
        {{.method = "POST", .url = "http://127.0.0.1:1/", .headers = noname, .nheaders = 1}},
        {{.method = "POST", .url = "http://127.0.0.1:1/", .nheaders = 1}},
        {{.method = "POST", .url = "http://127.0.0.1:1/", .body_len = 3}},
        {{.method = "POST", .url = "http://127.0.0.1:1/", .t_idle = -1}},
        {{.method = "POST", .url = "http://127.0.0.1:1/", .t_total = NAN}},
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        mg_up_xfer *x = mg_up_start(u, &bad[i].req, &callbacks, &g, err);
        CHECK(x == NULL);
        CHECK(err[0] != '\0');
        if (x)
            mg_up_cancel(x);
    }
    CHECK_EQ_INT(mg_upstream_active(u), 0);
    run_for(loop, 0.05);
    CHECK_EQ_INT(g.responses + g.data_calls + g.done, 0);
    got_free(&g);
    mg_upstream_free(u);
    ev_loop_destroy(loop);
}

static void test_result_names(void)
{
    CHECK_EQ_STR(mg_up_result_name(MG_UP_OK), "ok");
    CHECK_EQ_STR(mg_up_result_name(MG_UP_ERR_CONNECT), "connect_error");
    CHECK_EQ_STR(mg_up_result_name(MG_UP_ERR_TIMEOUT_CONNECT), "connect_timeout");
    CHECK_EQ_STR(mg_up_result_name(MG_UP_ERR_TIMEOUT_FIRST_BYTE), "first_byte_timeout");
    CHECK_EQ_STR(mg_up_result_name(MG_UP_ERR_TIMEOUT_IDLE), "idle_timeout");
    CHECK_EQ_STR(mg_up_result_name(MG_UP_ERR_TIMEOUT_TOTAL), "total_timeout");
    CHECK_EQ_STR(mg_up_result_name(MG_UP_ERR_IO), "upstream_cut");
    CHECK_EQ_STR(mg_up_result_name(MG_UP_ERR_INTERNAL), "internal");
    CHECK_EQ_STR(mg_up_result_name(99), "internal");
    CHECK_EQ_STR(mg_up_result_name(-1), "internal");
    CHECK(!mg_up_result_is_timeout(MG_UP_OK));
    CHECK(!mg_up_result_is_timeout(MG_UP_ERR_IO));
    CHECK(mg_up_result_is_timeout(MG_UP_ERR_TIMEOUT_TOTAL));
}

TEST_MAIN(T(test_result_names), T(test_bad_requests), T(test_json_response),
          T(test_interim_and_empty), T(test_chunked_stream), T(test_connection_refused),
          T(test_connect_timeout), T(test_first_byte_timeout), T(test_idle_timeout),
          T(test_total_timeout), T(test_cut_mid_body), T(test_pause_resume),
          T(test_resume_from_other_callback), T(test_cancel), T(test_start_inside_callback),
          T(test_keepalive_reuse))
