/* test_upstream_h1.c — what only the native HTTP/1.1 client has to get
 * right: which URLs it takes, responses split at every byte, keep-alive
 * decisions (Connection: close, stray bytes, body until EOF), the resend
 * on a pooled connection the upstream closed, HEAD, and hostile responses.
 * test_upstream.c covers the shared contract. */
#include <arpa/inet.h>

#include "upstream/up_internal.h"
#include "upstream_test_client.h"

static void test_target_urls(void)
{
    mg_up_h1_target t;
    CHECK(mg_up_h1_target_of("http://127.0.0.1:8080/v1/chat", &t) == MG_OK);
    CHECK_EQ_STR(t.path, "/v1/chat");
    CHECK_EQ_INT((int)t.authority_len, (int)strlen("127.0.0.1:8080"));
    CHECK_EQ_INT(t.addr.ss_family, AF_INET);
    CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&t.addr)->sin_port), 8080);

    CHECK(mg_up_h1_target_of("HTTP://10.0.0.2", &t) == MG_OK);
    CHECK_EQ_STR(t.path, "");
    CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&t.addr)->sin_port), 80);

    CHECK(mg_up_h1_target_of("http://[::1]:11434/api", &t) == MG_OK);
    CHECK_EQ_INT(t.addr.ss_family, AF_INET6);
    CHECK_EQ_INT(ntohs(((struct sockaddr_in6 *)&t.addr)->sin6_port), 11434);
    CHECK(mg_up_h1_target_of("http://[::1]/x", &t) == MG_OK);
    CHECK_EQ_INT(ntohs(((struct sockaddr_in6 *)&t.addr)->sin6_port), 80);
    CHECK(mg_up_h1_target_of("http://127.0.0.1?q=1", &t) == MG_OK);
    CHECK_EQ_STR(t.path, "?q=1");

    /* Left to libcurl: names (DNS), TLS, user info, odd forms. */
    const char *curl_urls[] = {
        "http://localhost:8080/", "https://127.0.0.1/", "http://user:pw@127.0.0.1/",
        "http://127.0.0.1:0/",    "http://127.0.0.1:65536/", "http://127.0.0.1:/",
        "http://127.1/",          "http://127.0.0.1/#frag", "http://[::1/",
        "http://api.openai.com/v1", "ftp://127.0.0.1/", "http://",
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(curl_urls); i++)
        CHECK(mg_up_h1_target_of(curl_urls[i], &t) != MG_OK);
}

/* One request on env e; returns after on_done (or the time limit). */
static void fetch(env *e, got *g, const char *method, const char *path)
{
    got_init(g, e->loop, e->u);
    CHECK(start(g, &e->s, method, path, NULL, 0, NULL, 2, 2, 5));
    CHECK(run_until(e->loop, &g->done, 5));
}

static int body_is(const got *g, const char *text)
{
    return g->body.len == strlen(text) && memcmp(g->body.data, text, g->body.len) == 0;
}

static void test_trickled_response(void)
{
    env e;
    env_up(&e);
    got g;
    fetch(&e, &g, "GET", "/trickle");
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.status, 200);
    CHECK_EQ_STR(g.xtest, "trickled value");
    CHECK(body_is(&g, "hello world"));
    CHECK_EQ_INT(g.order_errors, 0);
    got_free(&g);
    /* The connection is still good for the next request. */
    fetch(&e, &g, "GET", "/json");
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.tm.reused, 1);
    CHECK_EQ_INT(atomic_load(&e.s.accepts), 1);
    got_free(&g);
    env_down(&e);
}

/* Each path answers fine but leaves a connection nobody may reuse. */
static void test_not_reused(void)
{
    const char *paths[] = {"/close", "/extra", "/eof"};
    const char *bodies[] = {"ok", "ok", "until close"};
    for (size_t i = 0; i < MG_ARRAY_LEN(paths); i++) {
        env e;
        env_up(&e);
        got g;
        fetch(&e, &g, "GET", paths[i]);
        CHECK_EQ_INT(g.result, MG_UP_OK);
        CHECK(body_is(&g, bodies[i]));
        got_free(&g);
        fetch(&e, &g, "GET", "/json");
        CHECK_EQ_INT(g.result, MG_UP_OK);
        CHECK_EQ_INT(g.tm.reused, 0);
        CHECK_EQ_INT(atomic_load(&e.s.accepts), 2);
        got_free(&g);
        env_down(&e);
    }
}

static void test_resend_after_stale_connection(void)
{
    env e;
    env_up(&e);
    got g;
    fetch(&e, &g, "GET", "/die-next");
    CHECK_EQ_INT(g.result, MG_UP_OK);
    got_free(&g);
    /* Goes out on the pooled connection, which the server drops unanswered;
     * the request is sent again on a new one. */
    fetch(&e, &g, "POST", "/json");
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.status, 200);
    CHECK_EQ_INT(g.tm.reused, 0);
    CHECK_EQ_INT(g.responses, 1);
    CHECK_EQ_INT(atomic_load(&e.s.accepts), 2);
    got_free(&g);
    env_down(&e);
}

static void test_head(void)
{
    env e;
    env_up(&e);
    got g;
    fetch(&e, &g, "HEAD", "/head");
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.status, 200);
    CHECK_EQ_INT(g.data_calls, 0);
    got_free(&g);
    fetch(&e, &g, "GET", "/json");
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.tm.reused, 1);
    got_free(&g);
    env_down(&e);
}

static void test_hostile_responses(void)
{
    env e;
    env_up(&e);
    got g;
    fetch(&e, &g, "GET", "/manyheaders");
    CHECK_EQ_INT(g.result, MG_UP_ERR_IO);
    CHECK_EQ_INT(g.responses, 0);
    CHECK(strstr(g.errmsg, "response headers past") != NULL);
    got_free(&g);
    fetch(&e, &g, "GET", "/garbage");
    CHECK_EQ_INT(g.result, MG_UP_ERR_IO);
    CHECK_EQ_INT(g.responses, 0);
    CHECK(strstr(g.errmsg, "malformed response") != NULL);
    got_free(&g);
    const char *refused[] = {"/short-status", "/nul-header"};
    for (size_t i = 0; i < MG_ARRAY_LEN(refused); i++) {
        fetch(&e, &g, "GET", refused[i]);
        CHECK_EQ_INT(g.result, MG_UP_ERR_IO);
        CHECK_EQ_INT(g.responses, 0);
        CHECK(strstr(g.errmsg, "malformed response") != NULL);
        got_free(&g);
    }
    /* A 1xx never has a body, whatever it claims: the bytes after its head
     * are the real response. */
    fetch(&e, &g, "GET", "/interim-body");
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT(g.status, 200);
    CHECK(body_is(&g, "ok"));
    CHECK_EQ_INT(g.order_errors, 0);
    got_free(&g);
    fetch(&e, &g, "GET", "/cut");
    CHECK_EQ_INT(g.result, MG_UP_ERR_IO);
    CHECK(strstr(g.errmsg, "before the response was complete") != NULL);
    got_free(&g);
    CHECK_EQ_INT(mg_upstream_active(e.u), 0);
    env_down(&e);
}

/* A slow reader pausing on every piece gets every byte, in order. */
static void test_pause_keeps_order(void)
{
    env e;
    env_up(&e);
    got g;
    got_init(&g, e.loop, e.u);
    g.pause_mode = 1;
    g.first_pause_s = 0.05;
    CHECK(start(&g, &e.s, "GET", "/big?n=300000", NULL, 0, NULL, 2, 2, 10));
    CHECK(run_until(e.loop, &g.done, 10));
    CHECK_EQ_INT(g.result, MG_UP_OK);
    CHECK_EQ_INT((int)g.body.len, 300000);
    int same = 1;
    for (size_t i = 0; i < g.body.len && same; i++)
        same = (unsigned char)g.body.data[i] == pattern(i);
    CHECK(same);
    CHECK_EQ_INT(g.data_while_paused, 0);
    CHECK(g.tm.pauses > 0);
    got_free(&g);
    env_down(&e);
}

TEST_MAIN(T(test_target_urls), T(test_trickled_response), T(test_not_reused),
          T(test_resend_after_stale_connection), T(test_head), T(test_hostile_responses),
          T(test_pause_keeps_order))
