/* test_mock.c — the mock generator on a real libev loop at speed 0: every
 * endpoint, streaming and not, checked with jansson (fields, usage, event
 * order), tool calls, reasoning, every fault, pause/resume, cancel, pacing,
 * determinism and the bounded big stream. */
#include <ev.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "mock/mock.h"
#include "test.h"

/* ---- harness ---- */

typedef struct cap {
    struct ev_loop *loop;
    mg_mock_xfer *x;
    int in_start;          /* a callback during mg_mock_start is a bug */
    int early;
    int responses, status;
    char ctype[128], retry_after[16], request_id[64];
    mg_buf data;
    long ndata;
    size_t max_chunk;
    int done, result;
    int pause_each;        /* on_data returns MG_AGAIN every time */
    int paused;            /* waiting for the test to resume */
    long cancel_after;     /* cancel inside on_data after this many chunks */
    int cancelled;
} cap;

static void copy_value(char *dst, size_t cap, const mg_header *h)
{
    snprintf(dst, cap, "%.*s", (int)h->value_len, h->value);
}

static void on_response(void *ud, int status, const mg_header *h, size_t n)
{
    cap *c = ud;
    c->early |= c->in_start;
    c->responses++;
    c->status = status;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(h[i].name, "content-type") == 0)
            copy_value(c->ctype, sizeof c->ctype, &h[i]);
        else if (strcmp(h[i].name, "retry-after") == 0)
            copy_value(c->retry_after, sizeof c->retry_after, &h[i]);
        else if (strcmp(h[i].name, "x-request-id") == 0 || strcmp(h[i].name, "request-id") == 0)
            copy_value(c->request_id, sizeof c->request_id, &h[i]);
    }
}

static int on_data(void *ud, const char *d, size_t n)
{
    cap *c = ud;
    c->early |= c->in_start;
    CHECK(c->responses == 1);
    CHECK(!c->paused);
    mg_buf_append(&c->data, d, n);
    c->ndata++;
    c->max_chunk = MG_MAX(c->max_chunk, n);
    if (c->cancel_after && c->ndata == c->cancel_after) {
        mg_mock_cancel(c->x);
        c->cancelled = 1;
        return MG_OK;
    }
    if (c->pause_each) {
        c->paused = 1;
        return MG_AGAIN;
    }
    return MG_OK;
}

static void on_done(void *ud, int result, const char *msg)
{
    cap *c = ud;
    MG_UNUSED(msg);
    c->early |= c->in_start;
    c->done++;
    c->result = result;
}

static const mg_up_callbacks cbs = {on_response, on_data, on_done};

/* Run one request to the end (or until nothing more can happen). Headers
 * are "name", "value" pairs ended by NULL. */
static void run_opts(cap *c, const char *method, const char *path, const char *query, const char *body,
                     const char *const *hdrs, double speed)
{
    mg_header h[16];
    size_t nh = 0;
    for (; hdrs && hdrs[2 * nh]; nh++) {
        h[nh].name = hdrs[2 * nh];
        h[nh].name_len = strlen(h[nh].name);
        h[nh].value = hdrs[2 * nh + 1];
        h[nh].value_len = strlen(h[nh].value);
    }
    mg_mock_req req = {method, path, query ? query : "", h, nh, body, body ? strlen(body) : 0};
    mg_mock_opts opts = {speed};
    c->loop = ev_loop_new(EVFLAG_AUTO);
    c->in_start = 1;
    c->x = mg_mock_start(c->loop, &req, &opts, &cbs, c);
    c->in_start = 0;
    for (;;) {
        ev_run(c->loop, 0);
        if (!c->paused || c->cancelled || c->done)
            break;
        c->paused = 0;
        mg_mock_resume(c->x);
    }
    CHECK(!c->early);
}

static void run(cap *c, const char *path, const char *body, const char *const *hdrs)
{
    run_opts(c, "POST", path, NULL, body, hdrs, 0);
}

static void cap_free(cap *c)
{
    if (!c->done && !c->cancelled)
        mg_mock_cancel(c->x); /* stalled or timed out: still owned by us */
    ev_loop_destroy(c->loop);
    mg_buf_free(&c->data);
}

static json_t *body_json(cap *c)
{
    json_t *j = json_loadb(c->data.data ? c->data.data : "", c->data.len, 0, NULL);
    CHECK(j != NULL);
    return j;
}

/* Parsed SSE events: [{"event": name or "", "data": parsed JSON or string}]. */
static json_t *sse(cap *c, const char *sep)
{
    json_t *events = json_array();
    const char *p = c->data.data ? mg_buf_cstr(&c->data) : "";
    size_t seplen = strlen(sep);
    while (*p) {
        const char *end = strstr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *block = strndup(p, len);
        json_t *ev = json_object();
        for (char *save = NULL, *line = strtok_r(block, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
            if (strncmp(line, "event: ", 7) == 0)
                json_object_set_new(ev, "event", json_string(line + 7));
            else if (strncmp(line, "data: ", 6) == 0) {
                json_t *d = json_loads(line + 6, JSON_DECODE_ANY, NULL);
                json_object_set_new(ev, "data", d ? d : json_string(line + 6));
                json_object_set_new(ev, "json", json_boolean(d != NULL));
            }
        }
        json_array_append_new(events, ev);
        free(block);
        p += len + (end ? seplen : 0);
    }
    return events;
}

static const char *ev_name(json_t *events, size_t i)
{
    return json_string_value(json_object_get(json_array_get(events, i), "event"));
}

static json_t *ev_data(json_t *events, size_t i) { return json_object_get(json_array_get(events, i), "data"); }

/* Value at a dotted path; numeric parts index arrays ("choices.0.delta"). */
static json_t *jget(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        cur = (*k >= '0' && *k <= '9') ? json_array_get(cur, (size_t)atoi(k)) : json_object_get(cur, k);
    return cur;
}

static long jint(json_t *o, const char *path)
{
    json_t *v = jget(o, path);
    return json_is_integer(v) ? (long)json_integer_value(v) : -999;
}

static const char *jstr(json_t *o, const char *path) { return json_string_value(jget(o, path)); }

static size_t jlen(json_t *o, const char *path) { return json_array_size(jget(o, path)); }

static long count_words(const char *s)
{
    long n = 0;
    for (int in = 0; s && *s; s++) {
        if (*s != ' ' && !in)
            n++;
        in = *s != ' ';
    }
    return n;
}

#define CHAT(extra) "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"}," \
                    "{\"role\":\"user\",\"content\":\"Say hello to the gateway\"}]" extra "}"
#define TOOLS "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"," \
              "\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"},\"unit\":{\"enum\":[\"c\",\"f\"]}}}}}," \
              "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]"

/* ---- OpenAI chat ---- */

static void test_chat_json(void)
{
    cap c = {0};
    run(&c, "/v1/chat/completions", CHAT(""), NULL);
    CHECK_EQ_INT(c.status, 200);
    CHECK_EQ_STR(c.ctype, "application/json");
    CHECK(strncmp(c.request_id, "req_", 4) == 0);
    CHECK_EQ_INT(c.done, 1);
    CHECK_EQ_INT(c.result, MG_UP_OK);
    json_t *j = body_json(&c);
    CHECK_EQ_STR(jstr(j, "object"), "chat.completion");
    CHECK(strncmp(jstr(j, "id"), "chatcmpl-", 9) == 0);
    CHECK_EQ_STR(jstr(j, "model"), "gpt-4o-mini");
    CHECK_EQ_STR(jstr(j, "choices.0.message.role"), "assistant");
    const char *text = jstr(j, "choices.0.message.content");
    CHECK(text && strncmp(text, "Mock reply to: Say hello to the gateway", 39) == 0);
    CHECK_EQ_STR(jstr(j, "choices.0.finish_reason"), "stop");
    /* "be brief" + "Say hello to the gateway": 8 + 24 bytes (+1 separator) */
    CHECK_EQ_INT(jint(j, "usage.prompt_tokens"), (8 + 1 + 24 + 3) / 4);
    CHECK_EQ_INT(jint(j, "usage.completion_tokens"), 64);
    CHECK_EQ_INT(count_words(text), 64);
    CHECK_EQ_INT(jint(j, "usage.total_tokens"), jint(j, "usage.prompt_tokens") + 64);
    CHECK_EQ_INT(jint(j, "usage.prompt_tokens_details.cached_tokens"), 0);
    CHECK_EQ_INT(jint(j, "usage.completion_tokens_details.reasoning_tokens"), 0);
    json_decref(j);
    cap_free(&c);
}

static void test_chat_limits(void)
{
    cap c = {0};
    const char *const h[] = {"x-mock-cached", "3", NULL};
    run(&c, "/v1/chat/completions", CHAT(",\"max_completion_tokens\":5"), h);
    json_t *j = body_json(&c);
    CHECK_EQ_STR(jstr(j, "choices.0.finish_reason"), "length");
    CHECK_EQ_INT(jint(j, "usage.completion_tokens"), 5);
    CHECK_EQ_INT(count_words(jstr(j, "choices.0.message.content")), 5);
    CHECK_EQ_INT(jint(j, "usage.prompt_tokens_details.cached_tokens"), 3);
    json_decref(j);
    cap_free(&c);

    cap d = {0};
    const char *const h2[] = {"x-mock-output-tokens", "200", NULL};
    run(&d, "/v1/chat/completions", CHAT(",\"max_tokens\":1000"), h2);
    j = body_json(&d);
    CHECK_EQ_STR(jstr(j, "choices.0.finish_reason"), "stop");
    CHECK_EQ_INT(jint(j, "usage.completion_tokens"), 200);
    json_decref(j);
    cap_free(&d);
}

static void test_chat_stream(void)
{
    cap c = {0};
    run(&c, "/v1/chat/completions", CHAT(",\"stream\":true"), NULL);
    CHECK_EQ_STR(c.ctype, "text/event-stream");
    json_t *ev = sse(&c, "\n\n");
    size_t n = json_array_size(ev);
    CHECK(n > 60);
    CHECK(c.ndata == (long)n); /* one event per on_data */
    CHECK_EQ_STR(json_string_value(ev_data(ev, n - 1)), "[DONE]");
    CHECK_EQ_STR(jstr(ev_data(ev, 0), "choices.0.delta.role"), "assistant");
    CHECK_EQ_STR(jstr(ev_data(ev, 0), "object"), "chat.completion.chunk");
    mg_buf text = {0};
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *d = ev_data(ev, i);
        CHECK(json_object_get(d, "usage") == NULL);
        CHECK_EQ_INT(json_array_size(json_object_get(d, "choices")), 1);
        const char *piece = jstr(d, "choices.0.delta.content");
        if (piece)
            mg_buf_append_str(&text, piece);
    }
    CHECK_EQ_STR(jstr(ev_data(ev, n - 2), "choices.0.finish_reason"), "stop");
    CHECK(strncmp(mg_buf_cstr(&text), "Mock reply to: Say hello", 24) == 0);
    CHECK_EQ_INT(count_words(mg_buf_cstr(&text)), 64);
    mg_buf_free(&text);
    json_decref(ev);
    cap_free(&c);

    cap u = {0};
    run(&u, "/v1/chat/completions", CHAT(",\"stream\":true,\"stream_options\":{\"include_usage\":true}"), NULL);
    ev = sse(&u, "\n\n");
    n = json_array_size(ev);
    json_t *last = ev_data(ev, n - 2);
    CHECK_EQ_INT(json_array_size(json_object_get(last, "choices")), 0);
    CHECK_EQ_INT(jint(last, "usage.completion_tokens"), 64);
    CHECK(json_is_null(json_object_get(ev_data(ev, 1), "usage")));
    json_decref(ev);
    cap_free(&u);
}

static void check_args_object(const char *args)
{
    json_t *a = json_loads(args ? args : "", 0, NULL);
    CHECK(json_is_object(a));
    json_decref(a);
}

static void test_chat_tools(void)
{
    cap c = {0};
    run(&c, "/v1/chat/completions", CHAT(",\"tool_choice\":\"required\"," TOOLS), NULL);
    json_t *j = body_json(&c);
    CHECK_EQ_STR(jstr(j, "choices.0.finish_reason"), "tool_calls");
    CHECK(json_is_null(jget(j, "choices.0.message.content")));
    CHECK_EQ_INT(jlen(j, "choices.0.message.tool_calls"), 1);
    CHECK_EQ_STR(jstr(j, "choices.0.message.tool_calls.0.function.name"), "get_weather");
    CHECK(strncmp(jstr(j, "choices.0.message.tool_calls.0.id"), "call_", 5) == 0);
    json_t *args = json_loads(jstr(j, "choices.0.message.tool_calls.0.function.arguments"), 0, NULL);
    CHECK_EQ_STR(jstr(args, "unit"), "c");
    CHECK_EQ_INT(jint(args, "days"), 42);
    CHECK(json_is_string(json_object_get(args, "city")));
    json_decref(args);
    json_decref(j);
    cap_free(&c);

    /* streamed, parallel by prompt: two calls, arguments in fragments */
    cap s = {0};
    run(&s, "/v1/chat/completions",
        "{\"model\":\"m\",\"stream\":true," TOOLS ",\"messages\":[{\"role\":\"user\",\"content\":\"call tools in parallel\"}]}", NULL);
    json_t *ev = sse(&s, "\n\n");
    mg_buf argbuf[2] = {{0}, {0}};
    int frags[2] = {0, 0}, ids = 0;
    size_t n = json_array_size(ev);
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *tc = jget(ev_data(ev, i), "choices.0.delta.tool_calls");
        if (!tc)
            continue;
        long idx = jint(json_array_get(tc, 0), "index");
        CHECK(idx == 0 || idx == 1);
        if (idx < 0 || idx > 1)
            continue;
        ids += jstr(json_array_get(tc, 0), "id") != NULL;
        const char *frag = jstr(json_array_get(tc, 0), "function.arguments");
        if (frag && *frag) {
            mg_buf_append_str(&argbuf[idx], frag);
            frags[idx]++;
        }
    }
    CHECK_EQ_INT(ids, 2);
    CHECK(frags[0] >= 2);
    check_args_object(mg_buf_cstr(&argbuf[0]));
    check_args_object(mg_buf_cstr(&argbuf[1]));
    CHECK_EQ_STR(jstr(ev_data(ev, n - 2), "choices.0.finish_reason"), "tool_calls");
    mg_buf_free(&argbuf[0]);
    mg_buf_free(&argbuf[1]);
    json_decref(ev);
    cap_free(&s);

    /* header asks for 3; parallel_tool_calls:false allows 1; tool output ends the loop */
    cap h = {0};
    const char *const hp[] = {"x-mock-parallel", "3", NULL};
    run(&h, "/v1/chat/completions", CHAT(",\"tool_choice\":\"required\"," TOOLS), hp);
    j = body_json(&h);
    CHECK_EQ_INT(jlen(j, "choices.0.message.tool_calls"), 3);
    json_decref(j);
    cap_free(&h);
    cap one = {0};
    run(&one, "/v1/chat/completions", CHAT(",\"tool_choice\":\"required\",\"parallel_tool_calls\":false," TOOLS), hp);
    j = body_json(&one);
    CHECK_EQ_INT(jlen(j, "choices.0.message.tool_calls"), 1);
    json_decref(j);
    cap_free(&one);
    cap after = {0};
    run(&after, "/v1/chat/completions",
        "{\"model\":\"m\"," TOOLS ",\"messages\":[{\"role\":\"user\",\"content\":\"use tool\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},{\"role\":\"tool\",\"tool_call_id\":\"x\",\"content\":\"22C\"}]}", NULL);
    j = body_json(&after);
    CHECK_EQ_STR(jstr(j, "choices.0.finish_reason"), "stop");
    json_decref(j);
    cap_free(&after);
}

static void test_chat_reasoning(void)
{
    cap c = {0};
    run(&c, "/v1/chat/completions", "{\"model\":\"o3-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                                    "\"messages\":[{\"role\":\"user\",\"content\":\"think\"}]}", NULL);
    json_t *ev = sse(&c, "\n\n");
    size_t n = json_array_size(ev), reasoning = 0;
    for (size_t i = 0; i < n; i++)
        reasoning += jstr(ev_data(ev, i), "choices.0.delta.reasoning_content") != NULL;
    CHECK_EQ_INT(reasoning, 24);
    json_t *u = ev_data(ev, n - 2);
    CHECK_EQ_INT(jint(u, "usage.completion_tokens_details.reasoning_tokens"), 24);
    CHECK_EQ_INT(jint(u, "usage.completion_tokens"), 64 + 24);
    json_decref(ev);
    cap_free(&c);

    cap e = {0};
    run(&e, "/v1/chat/completions", CHAT(",\"reasoning_effort\":\"low\""), NULL);
    json_t *j = body_json(&e);
    CHECK(jstr(j, "choices.0.message.reasoning_content") != NULL);
    CHECK_EQ_INT(jint(j, "usage.completion_tokens_details.reasoning_tokens"), 24);
    json_decref(j);
    cap_free(&e);
}

static void test_embeddings_models(void)
{
    cap c = {0};
    run(&c, "/v1/embeddings", "{\"model\":\"text-embedding-3-small\",\"input\":[\"hello\",\"world\"]}", NULL);
    json_t *j = body_json(&c);
    CHECK_EQ_STR(jstr(j, "object"), "list");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "data")), 2);
    CHECK_EQ_INT(jlen(j, "data.0.embedding"), 8);
    CHECK_EQ_INT(jint(j, "usage.prompt_tokens"), 4);
    cap c2 = {0};
    run(&c2, "/v1/embeddings", "{\"model\":\"text-embedding-3-small\",\"input\":[\"hello\",\"world\"]}", NULL);
    json_t *j2 = body_json(&c2);
    CHECK(json_equal(j, j2)); /* deterministic */
    json_decref(j);
    json_decref(j2);
    cap_free(&c);
    cap_free(&c2);

    cap b = {0};
    run(&b, "/v1/embeddings", "{\"model\":\"e\",\"input\":\"hi\",\"dimensions\":16,\"encoding_format\":\"base64\"}", NULL);
    j = body_json(&b);
    const char *b64 = jstr(j, "data.0.embedding");
    CHECK(b64 && strlen(b64) == (16 * 4 + 2) / 3 * 4);
    json_decref(j);
    cap_free(&b);

    cap m = {0};
    run_opts(&m, "GET", "/v1/models", NULL, NULL, NULL, 0);
    j = body_json(&m);
    CHECK_EQ_STR(jstr(j, "object"), "list");
    CHECK(json_array_size(json_object_get(j, "data")) >= 3);
    CHECK_EQ_STR(jstr(j, "data.0.object"), "model");
    json_decref(j);
    cap_free(&m);
}

/* ---- Anthropic ---- */

#define MSG(extra) "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":100,\"system\":\"sys\"," \
                   "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi there\"}]}]" extra "}"
#define ANT_TOOLS "\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}," \
                  "{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}}}}]"

static void test_anthropic_json(void)
{
    cap c = {0};
    run(&c, "/v1/messages", MSG(""), NULL);
    json_t *j = body_json(&c);
    CHECK_EQ_STR(jstr(j, "type"), "message");
    CHECK(strncmp(jstr(j, "id"), "msg_", 4) == 0);
    CHECK_EQ_STR(jstr(j, "role"), "assistant");
    CHECK_EQ_STR(jstr(j, "content.0.type"), "text");
    CHECK(strncmp(jstr(j, "content.0.text"), "Mock reply to: hi there", 23) == 0);
    CHECK_EQ_STR(jstr(j, "stop_reason"), "end_turn");
    CHECK(json_is_null(json_object_get(j, "stop_sequence")));
    CHECK_EQ_INT(jint(j, "usage.input_tokens"), (3 + 1 + 8 + 3) / 4);
    CHECK_EQ_INT(jint(j, "usage.output_tokens"), 64);
    CHECK_EQ_INT(jint(j, "usage.cache_read_input_tokens"), 0);
    CHECK_EQ_INT(jint(j, "usage.cache_creation_input_tokens"), 0);
    CHECK(c.request_id[0] != '\0');
    json_decref(j);
    cap_free(&c);

    cap m = {0};
    run(&m, "/v1/messages", "{\"model\":\"c\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL);
    j = body_json(&m);
    CHECK_EQ_STR(jstr(j, "stop_reason"), "max_tokens");
    CHECK_EQ_INT(jint(j, "usage.output_tokens"), 3);
    json_decref(j);
    cap_free(&m);

    /* "to:" is the third word of every reply */
    cap s = {0};
    run(&s, "/v1/messages", MSG(",\"stop_sequences\":[\"zzz\",\"to:\"]"), NULL);
    j = body_json(&s);
    CHECK_EQ_STR(jstr(j, "stop_reason"), "stop_sequence");
    CHECK_EQ_STR(jstr(j, "stop_sequence"), "to:");
    CHECK_EQ_STR(jstr(j, "content.0.text"), "Mock reply");
    json_decref(j);
    cap_free(&s);

    cap k = {0};
    run(&k, "/v1/messages", "{\"model\":\"c\",\"max_tokens\":10,\"system\":[{\"type\":\"text\",\"text\":\"0123456789012345678901234567890123456789\","
                            "\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL);
    j = body_json(&k);
    CHECK_EQ_INT(jint(j, "usage.cache_read_input_tokens"), 11 / 2);
    CHECK_EQ_INT(jint(j, "usage.input_tokens"), 11 - 11 / 2);
    json_decref(j);
    cap_free(&k);

    cap t = {0};
    run(&t, "/v1/messages/count_tokens", "{\"model\":\"c\",\"messages\":[{\"role\":\"user\",\"content\":\"count me please\"}]}", NULL);
    j = body_json(&t);
    CHECK_EQ_INT(jint(j, "input_tokens"), 4);
    json_decref(j);
    cap_free(&t);
}

/* Event names in order with runs of content_block_delta collapsed to one. */
static void event_shape(json_t *ev, mg_buf *out)
{
    const char *prev = "";
    for (size_t i = 0; i < json_array_size(ev); i++) {
        const char *name = ev_name(ev, i);
        CHECK(name != NULL);
        if (!name)
            continue;
        json_t *d = ev_data(ev, i);
        CHECK_EQ_STR(jstr(d, "type"), name); /* the data's type names its event */
        if (strcmp(name, prev) == 0 && strstr(name, "delta"))
            continue;
        mg_buf_printf(out, "%s%s", out->len ? " " : "", name);
        prev = name;
    }
}

static void test_anthropic_stream(void)
{
    cap c = {0};
    run(&c, "/v1/messages", MSG(",\"stream\":true"), NULL);
    json_t *ev = sse(&c, "\n\n");
    mg_buf shape = {0};
    event_shape(ev, &shape);
    CHECK_EQ_STR(mg_buf_cstr(&shape), "message_start content_block_start ping content_block_delta "
                                      "content_block_stop message_delta message_stop");
    size_t n = json_array_size(ev);
    CHECK_EQ_INT(jint(ev_data(ev, 0), "message.usage.input_tokens"), 3);
    CHECK_EQ_INT(jint(ev_data(ev, n - 2), "usage.output_tokens"), 64);
    CHECK_EQ_STR(jstr(ev_data(ev, n - 2), "delta.stop_reason"), "end_turn");
    CHECK_EQ_STR(jstr(ev_data(ev, 3), "delta.type"), "text_delta");
    mg_buf_free(&shape);
    json_decref(ev);
    cap_free(&c);

    /* thinking, then text */
    cap t = {0};
    run(&t, "/v1/messages", MSG(",\"stream\":true,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024}"), NULL);
    ev = sse(&t, "\n\n");
    event_shape(ev, &shape);
    CHECK_EQ_STR(mg_buf_cstr(&shape), "message_start content_block_start ping content_block_delta content_block_stop "
                                      "content_block_start content_block_delta content_block_stop message_delta message_stop");
    CHECK_EQ_STR(jstr(ev_data(ev, 1), "content_block.type"), "thinking");
    CHECK_EQ_STR(jstr(ev_data(ev, 3), "delta.type"), "thinking_delta");
    int sig = 0;
    for (size_t i = 0; i < json_array_size(ev); i++)
        sig += jstr(ev_data(ev, i), "delta.signature") != NULL;
    CHECK_EQ_INT(sig, 1);
    n = json_array_size(ev);
    CHECK_EQ_INT(jint(ev_data(ev, n - 2), "usage.output_tokens"), 64 + 24);
    mg_buf_free(&shape);
    json_decref(ev);
    cap_free(&t);

    /* tool_use, two blocks when asked for parallel */
    cap u = {0};
    run(&u, "/v1/messages", "{\"model\":\"c\",\"max_tokens\":100,\"stream\":true,\"tool_choice\":{\"type\":\"any\"}," ANT_TOOLS
                            ",\"messages\":[{\"role\":\"user\",\"content\":\"weather in parallel\"}]}", NULL);
    ev = sse(&u, "\n\n");
    event_shape(ev, &shape);
    CHECK_EQ_STR(mg_buf_cstr(&shape), "message_start content_block_start ping content_block_delta content_block_stop "
                                      "content_block_start content_block_delta content_block_stop message_delta message_stop");
    mg_buf json1 = {0};
    for (size_t i = 0; i < json_array_size(ev); i++)
        if (jint(ev_data(ev, i), "index") == 1 && jstr(ev_data(ev, i), "delta.partial_json"))
            mg_buf_append_str(&json1, jstr(ev_data(ev, i), "delta.partial_json"));
    check_args_object(mg_buf_cstr(&json1));
    CHECK_EQ_STR(jstr(ev_data(ev, 1), "content_block.type"), "tool_use");
    CHECK(strncmp(jstr(ev_data(ev, 1), "content_block.id"), "toolu_", 6) == 0);
    n = json_array_size(ev);
    CHECK_EQ_STR(jstr(ev_data(ev, n - 2), "delta.stop_reason"), "tool_use");
    mg_buf_free(&json1);
    mg_buf_free(&shape);
    json_decref(ev);
    cap_free(&u);

    cap j1 = {0};
    run(&j1, "/v1/messages", "{\"model\":\"c\",\"max_tokens\":100,\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_time\"}," ANT_TOOLS
                             ",\"messages\":[{\"role\":\"user\",\"content\":\"what time\"}]}", NULL);
    json_t *j = body_json(&j1);
    CHECK_EQ_STR(jstr(j, "content.0.type"), "tool_use");
    CHECK_EQ_STR(jstr(j, "content.0.name"), "get_time");
    CHECK_EQ_STR(jstr(j, "content.0.input.tz"), "mock tz");
    CHECK_EQ_STR(jstr(j, "stop_reason"), "tool_use");
    json_decref(j);
    cap_free(&j1);
}

/* ---- OpenAI Responses ---- */

static void test_responses(void)
{
    cap c = {0};
    run(&c, "/v1/responses", "{\"model\":\"gpt-4o\",\"instructions\":\"be nice\",\"input\":\"hello responses\"}", NULL);
    json_t *j = body_json(&c);
    CHECK_EQ_STR(jstr(j, "object"), "response");
    CHECK(strncmp(jstr(j, "id"), "resp_", 5) == 0);
    CHECK_EQ_STR(jstr(j, "status"), "completed");
    CHECK_EQ_STR(jstr(j, "output.0.type"), "message");
    CHECK_EQ_STR(jstr(j, "output.0.content.0.type"), "output_text");
    CHECK(strncmp(jstr(j, "output.0.content.0.text"), "Mock reply to: hello responses", 30) == 0);
    CHECK_EQ_INT(jint(j, "usage.input_tokens"), (7 + 1 + 15 + 3) / 4);
    CHECK_EQ_INT(jint(j, "usage.output_tokens"), 64);
    CHECK_EQ_INT(jint(j, "usage.total_tokens"), 6 + 64);
    CHECK_EQ_INT(jint(j, "usage.input_tokens_details.cached_tokens"), 0);
    CHECK_EQ_INT(jint(j, "usage.output_tokens_details.reasoning_tokens"), 0);
    json_decref(j);
    cap_free(&c);

    cap s = {0};
    run(&s, "/v1/responses", "{\"model\":\"gpt-4o\",\"stream\":true,\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]}]}", NULL);
    json_t *ev = sse(&s, "\n\n");
    mg_buf shape = {0};
    event_shape(ev, &shape);
    CHECK_EQ_STR(mg_buf_cstr(&shape), "response.created response.in_progress response.output_item.added "
                                      "response.content_part.added response.output_text.delta response.output_text.done "
                                      "response.content_part.done response.output_item.done response.completed");
    for (size_t i = 0; i < json_array_size(ev); i++)
        CHECK_EQ_INT(jint(ev_data(ev, i), "sequence_number"), (long)i);
    size_t n = json_array_size(ev);
    json_t *done = ev_data(ev, n - 1);
    CHECK_EQ_INT(jint(done, "response.usage.output_tokens"), 64);
    CHECK_EQ_STR(jstr(done, "response.output.0.content.0.text"), jstr(ev_data(ev, n - 4), "text"));
    CHECK_EQ_STR(jstr(ev_data(ev, 4), "item_id"), jstr(ev_data(ev, 2), "item.id"));
    mg_buf_free(&shape);
    json_decref(ev);
    cap_free(&s);

    /* function calls + reasoning with a summary */
    cap f = {0};
    run(&f, "/v1/responses", "{\"model\":\"o4-mini\",\"stream\":true,\"reasoning\":{\"effort\":\"low\",\"summary\":\"auto\"},"
                             "\"tool_choice\":\"required\",\"tools\":[{\"type\":\"function\",\"name\":\"lookup\",\"parameters\":"
                             "{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}}],\"input\":\"find it\"}", NULL);
    ev = sse(&f, "\n\n");
    event_shape(ev, &shape);
    CHECK_EQ_STR(mg_buf_cstr(&shape), "response.created response.in_progress response.output_item.added "
                                      "response.reasoning_summary_part.added response.reasoning_summary_text.delta "
                                      "response.reasoning_summary_text.done response.reasoning_summary_part.done "
                                      "response.output_item.done response.output_item.added "
                                      "response.function_call_arguments.delta response.function_call_arguments.done "
                                      "response.output_item.done response.completed");
    n = json_array_size(ev);
    done = ev_data(ev, n - 1);
    CHECK_EQ_STR(jstr(done, "response.output.0.type"), "reasoning");
    CHECK_EQ_STR(jstr(done, "response.output.1.type"), "function_call");
    CHECK_EQ_STR(jstr(done, "response.output.1.name"), "lookup");
    CHECK(strncmp(jstr(done, "response.output.1.call_id"), "call_", 5) == 0);
    check_args_object(jstr(done, "response.output.1.arguments"));
    CHECK_EQ_INT(jint(done, "response.usage.output_tokens_details.reasoning_tokens"), 24);
    mg_buf_free(&shape);
    json_decref(ev);
    cap_free(&f);

    cap m = {0};
    run(&m, "/v1/responses", "{\"model\":\"gpt-4o\",\"stream\":true,\"max_output_tokens\":4,\"input\":\"x\"}", NULL);
    ev = sse(&m, "\n\n");
    n = json_array_size(ev);
    CHECK_EQ_STR(ev_name(ev, n - 1), "response.incomplete");
    CHECK_EQ_STR(jstr(ev_data(ev, n - 1), "response.incomplete_details.reason"), "max_output_tokens");
    json_decref(ev);
    cap_free(&m);
}

/* ---- Gemini ---- */

#define GEM "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hello gemini\"}]}]}"
#define GEM_TOOLS "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"weather\"}]}],\"tools\":[{\"functionDeclarations\":" \
                  "[{\"name\":\"get_weather\",\"parameters\":{\"type\":\"OBJECT\",\"properties\":{\"city\":{\"type\":\"STRING\"}}}}]}]," \
                  "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\"}}}"

static void test_gemini(void)
{
    cap c = {0};
    run(&c, "/v1beta/models/gemini-2.5-flash:generateContent", GEM, NULL);
    json_t *j = body_json(&c);
    CHECK(strncmp(jstr(j, "candidates.0.content.parts.0.text"), "Mock reply to: hello gemini", 27) == 0);
    CHECK_EQ_STR(jstr(j, "candidates.0.content.role"), "model");
    CHECK_EQ_STR(jstr(j, "candidates.0.finishReason"), "STOP");
    CHECK_EQ_INT(jint(j, "usageMetadata.promptTokenCount"), 3);
    CHECK_EQ_INT(jint(j, "usageMetadata.candidatesTokenCount"), 64);
    CHECK_EQ_INT(jint(j, "usageMetadata.totalTokenCount"), 67);
    CHECK_EQ_STR(jstr(j, "modelVersion"), "gemini-2.5-flash");
    json_decref(j);
    cap_free(&c);

    cap s = {0};
    run_opts(&s, "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse",
             "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],\"generationConfig\":{\"maxOutputTokens\":5,"
             "\"thinkingConfig\":{\"includeThoughts\":true,\"thinkingBudget\":8}}}", NULL, 0);
    CHECK_EQ_STR(s.ctype, "text/event-stream");
    CHECK(strstr(mg_buf_cstr(&s.data), "\r\n\r\n") != NULL);
    json_t *ev = sse(&s, "\r\n\r\n");
    size_t n = json_array_size(ev), thoughts = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(json_is_true(json_object_get(json_array_get(ev, i), "json")));
        thoughts += json_is_true(jget(ev_data(ev, i), "candidates.0.content.parts.0.thought"));
    }
    CHECK_EQ_INT(thoughts, 8);
    CHECK_EQ_INT(n, 8 + 5 + 1);
    CHECK_EQ_STR(jstr(ev_data(ev, n - 1), "candidates.0.finishReason"), "MAX_TOKENS");
    CHECK_EQ_INT(jint(ev_data(ev, n - 1), "usageMetadata.thoughtsTokenCount"), 8);
    CHECK_EQ_INT(jint(ev_data(ev, n - 1), "usageMetadata.candidatesTokenCount"), 5);
    json_decref(ev);
    cap_free(&s);

    cap f = {0};
    run(&f, "/v1beta/models/gemini-2.5-pro:streamGenerateContent", GEM_TOOLS, NULL);
    CHECK_EQ_STR(f.ctype, "application/json");
    j = body_json(&f); /* without alt=sse: one JSON array */
    CHECK(json_is_array(j));
    CHECK_EQ_STR(jstr(j, "0.candidates.0.content.parts.0.functionCall.name"), "get_weather");
    CHECK_EQ_STR(jstr(j, "0.candidates.0.content.parts.0.functionCall.args.city"), "mock city");
    json_decref(j);
    cap_free(&f);
}

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

TEST_MAIN(T(test_chat_json), T(test_chat_limits), T(test_chat_stream), T(test_chat_tools), T(test_chat_reasoning),
          T(test_embeddings_models), T(test_anthropic_json), T(test_anthropic_stream), T(test_responses),
          T(test_gemini), T(test_errors), T(test_faults), T(test_pause_resume), T(test_cancel),
          T(test_determinism), T(test_echo), T(test_big_stream), T(test_pacing))
