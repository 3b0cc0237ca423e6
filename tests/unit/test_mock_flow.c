/* test_mock_flow.c — the mock generator's behaviour around the shapes:
 * errors in each API's format, every fault (429/500/503, timeout, stall,
 * cut, malformed, wrongtype, model@suffix), pause/resume on MG_AGAIN, cancel
 * from inside and outside a callback, determinism, echo, a 50 MB stream
 * produced in small pieces while the loop keeps turning, and pacing. */
#include "mock_harness.h"

/* ---- errors and faults ---- */

static void test_errors(void)
{
    cap c = {0};
    run(&c, "/v1/nope", "{}", NULL);
    CHECK_EQ_INT(c.status, 404);
    json_t *j = body_json(&c);
    CHECK(jstr(j, "error.message") != NULL);
    json_decref(j);
    cap_free(&c);

    cap b = {0};
    run(&b, "/v1/chat/completions", "{\"model\": ", NULL);
    CHECK_EQ_INT(b.status, 400);
    j = body_json(&b);
    CHECK_EQ_STR(jstr(j, "error.type"), "invalid_request_error");
    json_decref(j);
    cap_free(&b);

    cap a = {0};
    run(&a, "/v1/messages", "{not json", NULL);
    CHECK_EQ_INT(a.status, 400);
    j = body_json(&a);
    CHECK_EQ_STR(jstr(j, "type"), "error");
    CHECK_EQ_STR(jstr(j, "error.type"), "invalid_request_error");
    json_decref(j);
    cap_free(&a);

    cap g = {0};
    run(&g, "/v1beta/models/x:generateContent", "[1]", NULL);
    CHECK_EQ_INT(g.status, 400);
    j = body_json(&g);
    CHECK_EQ_STR(jstr(j, "error.status"), "INVALID_ARGUMENT");
    json_decref(j);
    cap_free(&g);

    cap m = {0};
    run_opts(&m, "GET", "/v1/chat/completions", NULL, NULL, NULL, 0);
    CHECK_EQ_INT(m.status, 405);
    cap_free(&m);

    /* bytes that are not UTF-8 still give valid JSON */
    cap u = {0};
    run(&u, "/v1/\xff\xfe", "{}", NULL);
    CHECK_EQ_INT(u.status, 404);
    j = body_json(&u);
    json_decref(j);
    cap_free(&u);
    cap gm = {0};
    run(&gm, "/v1beta/models/g\xff:generateContent", GEM, NULL);
    j = body_json(&gm);
    CHECK_EQ_STR(jstr(j, "modelVersion"), "g?");
    json_decref(j);
    cap_free(&gm);
}

static void test_faults(void)
{
    static const struct { const char *fault; int status; const char *path, *type_path, *type; } errs[] = {
        {"429", 429, "/v1/chat/completions", "error.code", "rate_limit_exceeded"},
        {"500", 500, "/v1/messages", "error.type", "api_error"},
        {"503", 503, "/v1/messages", "error.type", "overloaded_error"},
        {"429", 429, "/v1beta/models/g:generateContent", "error.status", "RESOURCE_EXHAUSTED"},
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(errs); i++) {
        cap c = {0};
        const char *const h[] = {"x-mock-fault", errs[i].fault, NULL};
        const char *body = strstr(errs[i].path, "v1beta") ? GEM : strstr(errs[i].path, "messages") ? MSG("") : CHAT("");
        run(&c, errs[i].path, body, h);
        CHECK_EQ_INT(c.status, errs[i].status);
        CHECK_EQ_INT(c.result, MG_UP_OK);
        json_t *j = body_json(&c);
        CHECK_EQ_STR(jstr(j, errs[i].type_path), errs[i].type);
        json_decref(j);
        if (errs[i].status == 429)
            CHECK_EQ_STR(c.retry_after, "1");
        cap_free(&c);
    }

    cap s = {0}; /* model suffix */
    run(&s, "/v1/chat/completions", "{\"model\":\"gpt-4o-mini@500\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL);
    CHECK_EQ_INT(s.status, 500);
    cap_free(&s);

    cap t = {0};
    const char *const ht[] = {"x-mock-fault", "timeout", NULL};
    run(&t, "/v1/chat/completions", CHAT(",\"stream\":true"), ht);
    CHECK_EQ_INT(t.responses, 0);
    CHECK_EQ_INT(t.ndata, 0);
    CHECK_EQ_INT(t.done, 0);
    cap_free(&t);

    cap st = {0};
    const char *const hs[] = {"x-mock-fault", "stall", NULL};
    run(&st, "/v1/chat/completions", CHAT(",\"stream\":true"), hs);
    CHECK_EQ_INT(st.responses, 1);
    CHECK(st.ndata > 10 && st.ndata < 60);
    CHECK_EQ_INT(st.done, 0);
    CHECK(strstr(mg_buf_cstr(&st.data), "[DONE]") == NULL);
    cap_free(&st);

    cap cu = {0};
    const char *const hc[] = {"x-mock-fault", "cut", NULL};
    run(&cu, "/v1/messages", MSG(",\"stream\":true"), hc);
    CHECK_EQ_INT(cu.done, 1);
    CHECK_EQ_INT(cu.result, MG_UP_ERR_IO);
    CHECK(cu.ndata > 10);
    CHECK(strstr(mg_buf_cstr(&cu.data), "message_stop") == NULL);
    cap_free(&cu);

    cap cj = {0}; /* non-stream cut: half a body */
    run(&cj, "/v1/chat/completions", CHAT(""), hc);
    CHECK_EQ_INT(cj.result, MG_UP_ERR_IO);
    CHECK(json_loadb(cj.data.data, cj.data.len, 0, NULL) == NULL);
    cap_free(&cj);

    cap mf = {0};
    const char *const hm[] = {"x-mock-fault", "malformed", NULL};
    run(&mf, "/v1/chat/completions", CHAT(",\"stream\":true"), hm);
    CHECK_EQ_INT(mf.result, MG_UP_OK);
    json_t *ev = sse(&mf, "\n\n");
    int broken = 0;
    for (size_t i = 0; i < json_array_size(ev); i++)
        broken += !json_is_true(json_object_get(json_array_get(ev, i), "json")) &&
                  i + 1 < json_array_size(ev); /* the last is [DONE] */
    CHECK_EQ_INT(broken, 1);
    CHECK(strstr(mg_buf_cstr(&mf.data), "data: [DONE]") != NULL);
    json_decref(ev);
    cap_free(&mf);

    cap w = {0};
    const char *const hw[] = {"x-mock-fault", "wrongtype", NULL};
    run(&w, "/v1/chat/completions", CHAT(",\"stream\":true"), hw);
    CHECK_EQ_INT(w.status, 200);
    CHECK(strncmp(w.ctype, "text/html", 9) == 0);
    CHECK(strstr(mg_buf_cstr(&w.data), "<html>") != NULL);
    cap_free(&w);

    cap bad = {0};
    const char *const hb[] = {"x-mock-fault", "nonsense", NULL};
    run(&bad, "/v1/chat/completions", CHAT(""), hb);
    CHECK_EQ_INT(bad.status, 400);
    cap_free(&bad);
}

/* ---- flow control, lifetime, pacing ---- */

static void test_pause_resume(void)
{
    cap c = {0};
    c.pause_each = 1;
    const char *const h[] = {"name", "v", NULL};
    mg_header hd = {h[0], h[1], 4, 1};
    mg_mock_req req = {"POST", "/v1/messages", "", &hd, 1, MSG(",\"stream\":true"), strlen(MSG(",\"stream\":true"))};
    mg_mock_opts opts = {0};
    c.loop = ev_loop_new(EVFLAG_AUTO);
    c.x = mg_mock_start(c.loop, &req, &opts, &cbs, &c);
    long rounds = 0;
    while (!c.done) {
        ev_run(c.loop, 0); /* returns when paused: nothing is armed */
        if (c.done)
            break;
        CHECK(c.paused);
        long before = c.ndata;
        ev_run(c.loop, EVRUN_NOWAIT);
        CHECK_EQ_INT(c.ndata, before); /* nothing while paused */
        CHECK_EQ_INT(mg_mock_pauses(c.x), c.ndata);
        c.paused = 0;
        mg_mock_resume(c.x);
        rounds++;
    }
    CHECK(rounds > 60);
    CHECK_EQ_INT(c.result, MG_UP_OK);
    CHECK(strstr(mg_buf_cstr(&c.data), "message_stop") != NULL);
    ev_loop_destroy(c.loop);
    mg_buf_free(&c.data);
}

static void test_cancel(void)
{
    cap c = {0};
    c.cancel_after = 5;
    run(&c, "/v1/chat/completions", CHAT(",\"stream\":true"), NULL);
    CHECK_EQ_INT(c.ndata, 5);
    CHECK_EQ_INT(c.done, 0);
    cap_free(&c);

    /* cancel from outside while a delay is pending */
    cap d = {0};
    mg_mock_req req = {"POST", "/v1/chat/completions", "", NULL, 0, CHAT(""), strlen(CHAT(""))};
    mg_mock_opts opts = {1.0};
    d.loop = ev_loop_new(EVFLAG_AUTO);
    d.x = mg_mock_start(d.loop, &req, &opts, &cbs, &d);
    mg_mock_cancel(d.x);
    ev_run(d.loop, 0);
    CHECK_EQ_INT(d.responses + d.ndata + d.done, 0);
    ev_loop_destroy(d.loop);
}

static void collect_text(cap *c, mg_buf *out)
{
    json_t *ev = sse(c, "\n\n");
    for (size_t i = 0; i < json_array_size(ev); i++) {
        const char *t = jstr(ev_data(ev, i), "delta.text");
        if (t)
            mg_buf_append_str(out, t);
    }
    json_decref(ev);
}

static void test_determinism(void)
{
    cap a = {0}, b = {0}, o = {0};
    run(&a, "/v1/messages", MSG(",\"stream\":true"), NULL);
    run(&b, "/v1/messages", MSG(",\"stream\":true"), NULL);
    run(&o, "/v1/messages", "{\"model\":\"c\",\"max_tokens\":100,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"other\"}]}", NULL);
    mg_buf ta = {0}, tb = {0}, to = {0};
    collect_text(&a, &ta);
    collect_text(&b, &tb);
    collect_text(&o, &to);
    CHECK(ta.len > 100);
    CHECK_EQ_STR(mg_buf_cstr(&ta), mg_buf_cstr(&tb));
    CHECK(strcmp(mg_buf_cstr(&ta) + 20, mg_buf_cstr(&to) + 20) != 0);
    CHECK_EQ_INT(a.ndata, b.ndata);
    mg_buf_free(&ta);
    mg_buf_free(&tb);
    mg_buf_free(&to);
    cap_free(&a);
    cap_free(&b);
    cap_free(&o);
}

static void test_echo(void)
{
    cap c = {0};
    const char *const h[] = {"X-Mock-Echo", "1", "Authorization", "Bearer forwarded", NULL};
    run(&c, "/v1/chat/completions", CHAT(",\"stream\":true"), h);
    json_t *ev = sse(&c, "\n\n");
    mg_buf text = {0};
    for (size_t i = 0; i < json_array_size(ev); i++) {
        const char *t = jstr(ev_data(ev, i), "choices.0.delta.content");
        if (t)
            mg_buf_append_str(&text, t);
    }
    json_t *echo = json_loads(mg_buf_cstr(&text), 0, NULL);
    CHECK(echo != NULL);
    CHECK_EQ_STR(jstr(echo, "headers.authorization"), "Bearer forwarded");
    CHECK_EQ_STR(jstr(echo, "body.model"), "gpt-4o-mini");
    CHECK(json_is_true(jget(echo, "body.stream")));
    json_decref(echo);
    json_decref(ev);
    mg_buf_free(&text);
    cap_free(&c);
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    (*(long *)w->data)++;
}

static void test_big_stream(void)
{
    cap c = {0};
    const char *const h[] = {"x-mock-stream-bytes", "50000000", NULL};
    mg_header hd[1] = {{h[0], h[1], strlen(h[0]), strlen(h[1])}};
    const char *body = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"big\"}]}";
    mg_mock_req req = {"POST", "/v1/chat/completions", "", hd, 1, body, strlen(body)};
    mg_mock_opts opts = {0};
    c.loop = ev_loop_new(EVFLAG_AUTO);
    long ticks = 0;
    ev_timer t;
    ev_timer_init(&t, tick, 0., 0.0001);
    t.data = &ticks;
    ev_timer_start(c.loop, &t);
    c.x = mg_mock_start(c.loop, &req, &opts, &cbs, &c);
    size_t bytes = 0;
    while (!c.done) {
        ev_run(c.loop, EVRUN_ONCE);
        bytes += c.data.len;
        mg_buf_reset(&c.data); /* keep the test's own memory flat */
    }
    ev_timer_stop(c.loop, &t);
    CHECK(bytes > 50000000);
    CHECK(bytes < 60000000);
    CHECK(c.max_chunk < 8192); /* produced incrementally */
    CHECK(ticks > 100);        /* the loop kept turning */
    ev_loop_destroy(c.loop);
    mg_buf_free(&c.data);
}

static void test_pacing(void)
{
    cap c = {0};
    const char *const h[] = {"x-mock-ttft-ms", "80", "x-mock-tps", "500", NULL};
    double t0 = mg_now_mono();
    run_opts(&c, "POST", "/v1/chat/completions", NULL, CHAT(",\"stream\":true,\"max_tokens\":50"), h, 1.0);
    double took = mg_now_mono() - t0;
    CHECK(took >= 0.08 + 0.09); /* ttft + ~50 tokens at 500/s */
    CHECK(took < 1.0);
    CHECK_EQ_INT(c.done, 1);
    cap_free(&c);

    cap d = {0}; /* speed scales the default ttft (200 ms) */
    t0 = mg_now_mono();
    run_opts(&d, "POST", "/v1/embeddings", NULL, "{\"model\":\"e\",\"input\":\"x\"}", NULL, 0.5);
    took = mg_now_mono() - t0;
    CHECK(took >= 0.1 && took < 0.5);
    cap_free(&d);
}

TEST_MAIN(T(test_errors), T(test_faults), T(test_pause_resume), T(test_cancel), T(test_determinism),
          T(test_echo), T(test_big_stream), T(test_pacing))
