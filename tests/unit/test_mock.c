/* test_mock.c — the mock generator's API shapes at speed 0, checked with
 * jansson: OpenAI chat (JSON and chunk streams, usage, limits, tools,
 * parallel tools, reasoning), embeddings and models, Anthropic messages
 * (event order, thinking, tool_use, cache, count_tokens), Responses (event
 * order, sequence numbers, function calls, reasoning) and Gemini (JSON, SSE,
 * JSON-array streams, thoughts, function calls). Faults and flow control
 * are in test_mock_flow.c. */
#include "mock_harness.h"

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

    cap one = {0};
    run_opts(&one, "GET", "/v1/models/gpt-4o-mini", NULL, NULL, NULL, 0);
    j = body_json(&one);
    CHECK_EQ_STR(jstr(j, "id"), "gpt-4o-mini");
    json_decref(j);
    cap_free(&one);

    cap big = {0}; /* inputs x dimensions is bounded */
    run(&big, "/v1/embeddings", "{\"model\":\"e\",\"input\":[\"a\",\"b\",\"c\",\"d\"],\"dimensions\":4096}", NULL);
    CHECK_EQ_INT(big.status, 200);
    cap_free(&big);
}

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

TEST_MAIN(T(test_chat_json), T(test_chat_limits), T(test_chat_stream), T(test_chat_tools), T(test_chat_reasoning),
          T(test_embeddings_models), T(test_anthropic_json), T(test_anthropic_stream), T(test_responses),
          T(test_gemini))
