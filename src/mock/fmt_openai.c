/* fmt_openai.c — OpenAI chat completions (JSON and chat.completion.chunk
 * streams with role, content, reasoning_content and tool_call deltas, a
 * finish chunk, the optional usage chunk and [DONE]), embeddings (floats or
 * base64 float32, as the official SDK asks by default), the model list, and
 * OpenAI's error shape. Uses plan.c, gen.c and jansson. */
#include "mock_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMBED_DIMS 8
#define EMBED_MAX_DIMS 4096
#define EMBED_MAX_INPUTS 2048
#define EMBED_MAX_VALUES (1 << 20) /* inputs x dimensions: bounds the reply */

json_t *mg_mock_openai_error(int kind, const char *msg)
{
    static const struct { const char *type, *code; } kinds[] = {
        [MG_MOCK_ERR_INVALID] = {"invalid_request_error", NULL},
        [MG_MOCK_ERR_NOT_FOUND] = {"invalid_request_error", "unknown_url"},
        [MG_MOCK_ERR_METHOD] = {"invalid_request_error", "method_not_allowed"},
        [MG_MOCK_ERR_RATE] = {"requests", "rate_limit_exceeded"},
        [MG_MOCK_ERR_SERVER] = {"server_error", NULL},
        [MG_MOCK_ERR_OVERLOADED] = {"server_error", "overloaded"},
    };
    json_t *e = json_pack("{s:o, s:s, s:n}", "message", mg_mock_jstr(msg, strlen(msg)), "type", kinds[kind].type,
                          "param");
    json_object_set_new(e, "code", kinds[kind].code ? json_string(kinds[kind].code) : json_null());
    return json_pack("{s:o}", "error", e);
}

int mg_mock_model_reasons(const char *model)
{
    static const char *const marks[] = {"reason", "o1", "o3", "o4"};
    for (size_t i = 0; i < MG_ARRAY_LEN(marks); i++)
        if (mg_mock_contains_ci(model, marks[i]))
            return 1;
    return 0;
}

static const char *const finish_names[] = {
    [MG_MOCK_FINISH_END] = "stop",
    [MG_MOCK_FINISH_MAX] = "length",
    [MG_MOCK_FINISH_STOP_SEQ] = "stop",
    [MG_MOCK_FINISH_TOOL] = "tool_calls",
};

/* ---- chat completions: request ---- */

static void chat_tools(mg_mock_plan *p, json_t *root)
{
    json_t *choice = json_object_get(root, "tool_choice");
    const char *only = NULL;
    if (json_is_string(choice) && strcmp(json_string_value(choice), "none") == 0)
        return;
    if (json_is_string(choice) && strcmp(json_string_value(choice), "required") == 0)
        p->tool_forced = 1;
    if (json_is_object(choice)) {
        only = json_string_value(json_object_get(json_object_get(choice, "function"), "name"));
        p->tool_forced = 1;
    }
    size_t i;
    json_t *tool;
    json_array_foreach(json_object_get(root, "tools"), i, tool) {
        json_t *fn = json_object_get(tool, "function");
        json_t *name = json_object_get(fn, "name");
        if (only && (!json_is_string(name) || strcmp(json_string_value(name), only) != 0))
            continue;
        mg_mock_plan_add_tool(p, name, json_object_get(fn, "parameters"));
    }
    p->parallel_ok = !json_is_false(json_object_get(root, "parallel_tool_calls"));
}

static int chat_parse(mg_mock_plan *p, json_t *root, const mg_mock_req *req, char *err)
{
    MG_UNUSED(req);
    json_t *model = json_object_get(root, "model");
    json_t *messages = json_object_get(root, "messages");
    if (!json_is_string(model) || !json_is_array(messages) || json_array_size(messages) == 0) {
        snprintf(err, MG_ERRLEN, "'model' and a non-empty 'messages' array are required");
        return MG_ERR;
    }
    mg_mock_plan_model(p, json_string_value(model), json_string_length(model));
    mg_buf all = {0}, last = {0};
    size_t i;
    json_t *msg;
    json_array_foreach(messages, i, msg) {
        const char *role = json_string_value(json_object_get(msg, "role"));
        mg_mock_collect_text(json_object_get(msg, "content"), &all, 0);
        if (role && strcmp(role, "user") == 0) {
            mg_buf_reset(&last);
            mg_mock_collect_text(json_object_get(msg, "content"), &last, 0);
        }
        p->last_is_tool_result = role && (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0);
    }
    mg_mock_plan_set_prompt(p, &all, last.len ? mg_buf_cstr(&last) : "");
    mg_buf_free(&all);
    mg_buf_free(&last);

    p->stream = json_is_true(json_object_get(root, "stream"));
    p->include_usage = json_is_true(json_object_get(json_object_get(root, "stream_options"), "include_usage"));
    p->max_tokens = mg_mock_json_long(json_object_get(root, "max_completion_tokens"),
                                      mg_mock_json_long(json_object_get(root, "max_tokens"), -1));
    mg_mock_plan_stops(p, json_object_get(root, "stop"));
    chat_tools(p, root);
    if (json_is_string(json_object_get(root, "reasoning_effort")) || mg_mock_model_reasons(p->model)) {
        p->think_tokens = MG_MOCK_THINK_WORDS;
        p->think_visible = 1;
    }
    return MG_OK;
}

/* ---- chat completions: reply ---- */

static json_t *chat_usage(const mg_mock_gen *g)
{
    const mg_mock_plan *p = g->plan;
    long out = mg_mock_gen_output_tokens(g);
    return json_pack("{s:I, s:I, s:I, s:{s:I, s:i}, s:{s:I, s:i, s:i, s:i}}",
                     "prompt_tokens", (json_int_t)p->input_tokens,
                     "completion_tokens", (json_int_t)out,
                     "total_tokens", (json_int_t)(p->input_tokens + out),
                     "prompt_tokens_details", "cached_tokens", (json_int_t)p->cached_tokens,
                     "audio_tokens", 0,
                     "completion_tokens_details", "reasoning_tokens", (json_int_t)g->think_tokens,
                     "audio_tokens", 0, "accepted_prediction_tokens", 0,
                     "rejected_prediction_tokens", 0);
}

static json_t *tool_call(const mg_mock_gen *g, const mg_mock_block *b, const char *args)
{
    const mg_mock_call *c = &g->plan->calls[b->call];
    char id[MG_MOCK_HEX + 8];
    snprintf(id, sizeof id, "call_%s", b->hex);
    return json_pack("{s:i, s:s, s:s, s:{s:s, s:s}}", "index", b->call, "id", id, "type", "function",
                     "function", "name", c->name, "arguments", args);
}

static json_t *chat_render(const mg_mock_gen *g)
{
    const mg_mock_plan *p = g->plan;
    json_t *msg = json_pack("{s:s}", "role", "assistant");
    json_object_set_new(msg, "content", p->ncalls ? json_null() : mg_mock_jstr(g->text.data ? g->text.data : "", g->text.len));
    json_object_set_new(msg, "refusal", json_null());
    json_object_set_new(msg, "annotations", json_array());
    if (p->think_tokens && p->think_visible)
        json_object_set_new(msg, "reasoning_content", mg_mock_jstr(g->thinking.data ? g->thinking.data : "", g->thinking.len));
    if (p->ncalls) {
        json_t *calls = json_array();
        for (int i = 0; i < g->nblocks; i++) {
            if (g->blocks[i].kind != MG_MOCK_BLK_TOOL)
                continue;
            json_t *call = tool_call(g, &g->blocks[i], p->calls[g->blocks[i].call].args);
            json_object_del(call, "index");
            json_array_append_new(calls, call);
        }
        json_object_set_new(msg, "tool_calls", calls);
    }
    char id[MG_MOCK_HEX + 16];
    snprintf(id, sizeof id, "chatcmpl-%s", p->id);
    json_t *choice = json_pack("{s:i, s:o, s:n, s:s}", "index", 0, "message", msg, "logprobs",
                               "finish_reason", finish_names[g->finish]);
    return json_pack("{s:s, s:s, s:I, s:s, s:[o], s:o, s:s, s:s}", "id", id, "object", "chat.completion",
                     "created", (json_int_t)p->created, "model", p->model, "choices", choice, "usage",
                     chat_usage(g), "service_tier", "default", "system_fingerprint", "fp_mock");
}

/* One chat.completion.chunk; delta NULL means an empty choices list. */
static void chunk(mg_mock_gen *g, json_t *delta, const char *finish, json_t *usage)
{
    const mg_mock_plan *p = g->plan;
    char id[MG_MOCK_HEX + 16];
    snprintf(id, sizeof id, "chatcmpl-%s", p->id);
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "id", id, "object", "chat.completion.chunk",
                          "created", (json_int_t)p->created, "model", p->model, "service_tier", "default",
                          "system_fingerprint", "fp_mock");
    json_t *choices = json_array();
    if (delta) {
        json_t *choice = json_pack("{s:i, s:o, s:n}", "index", 0, "delta", delta, "logprobs");
        json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
        json_array_append_new(choices, choice);
    }
    json_object_set_new(c, "choices", choices);
    if (p->include_usage)
        json_object_set_new(c, "usage", usage ? usage : json_null());
    else
        json_decref(usage);
    mg_mock_emit_json(g, NULL, c);
}

static void chat_start(mg_mock_gen *g)
{
    chunk(g, json_pack("{s:s, s:s, s:n}", "role", "assistant", "content", "", "refusal"), NULL, NULL);
}

static void chat_block_start(mg_mock_gen *g, const mg_mock_block *b)
{
    if (b->kind == MG_MOCK_BLK_TOOL)
        chunk(g, json_pack("{s:[o]}", "tool_calls", tool_call(g, b, "")), NULL, NULL);
}

static void chat_delta(mg_mock_gen *g, const mg_mock_block *b, const char *s, size_t n)
{
    json_t *piece = mg_mock_jstr(s, n);
    if (b->kind == MG_MOCK_BLK_TEXT)
        chunk(g, json_pack("{s:o}", "content", piece), NULL, NULL);
    else if (b->kind == MG_MOCK_BLK_THINKING)
        chunk(g, json_pack("{s:o}", "reasoning_content", piece), NULL, NULL);
    else
        chunk(g, json_pack("{s:[{s:i, s:{s:o}}]}", "tool_calls", "index", b->call, "function", "arguments", piece),
              NULL, NULL);
}

static void chat_block_stop(mg_mock_gen *g, const mg_mock_block *b)
{
    MG_UNUSED(g);
    MG_UNUSED(b);
}

static void chat_finish(mg_mock_gen *g)
{
    chunk(g, json_object(), finish_names[g->finish], NULL);
    if (g->plan->include_usage)
        chunk(g, NULL, NULL, chat_usage(g));
    mg_mock_emit_raw(g, "data: [DONE]\n\n");
}

const mg_mock_fmt mg_mock_fmt_chat = {
    .name = "openai", .stream_ctype = "text/event-stream", .id_header = "x-request-id",
    .parse = chat_parse, .render = chat_render, .on_start = chat_start,
    .on_block_start = chat_block_start, .on_delta = chat_delta, .on_block_stop = chat_block_stop,
    .on_finish = chat_finish, .error = mg_mock_openai_error,
};

/* ---- embeddings ---- */

static json_t *embedding(const json_t *input, long dims, int base64)
{
    char *text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
    uint64_t rng = mg_mock_hash(text, strlen(text), 7);
    free(text);
    float *v = mg_xcalloc((size_t)dims, sizeof *v);
    double norm = 0;
    for (long i = 0; i < dims; i++) {
        v[i] = (float)((double)(mg_mock_rand(&rng) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        norm += (double)v[i] * v[i];
    }
    norm = norm > 0 ? sqrt(norm) : 1;
    json_t *out;
    if (base64) { /* little-endian float32, what the SDK decodes */
        for (long i = 0; i < dims; i++)
            v[i] = (float)(v[i] / norm);
        char *b = mg_mock_base64((const unsigned char *)v, (size_t)dims * sizeof *v);
        out = json_string(b);
        free(b);
    } else {
        out = json_array();
        for (long i = 0; i < dims; i++)
            json_array_append_new(out, json_real((double)(float)(v[i] / norm)));
    }
    free(v);
    return out;
}

static int embed_parse(mg_mock_plan *p, json_t *root, const mg_mock_req *req, char *err)
{
    MG_UNUSED(req);
    json_t *model = json_object_get(root, "model");
    json_t *input = json_object_get(root, "input");
    json_t *list = json_is_array(input) && json_array_size(input) > 0 &&
                           !json_is_integer(json_array_get(input, 0))
                       ? json_incref(input)
                       : json_pack("[O]", input);
    if (!json_is_string(model) || !input || json_array_size(list) > EMBED_MAX_INPUTS ||
        (json_is_array(input) && json_array_size(input) == 0)) {
        json_decref(list);
        snprintf(err, MG_ERRLEN, "'model' and a non-empty 'input' (at most %d items) are required",
                 EMBED_MAX_INPUTS);
        return MG_ERR;
    }
    mg_mock_plan_model(p, json_string_value(model), json_string_length(model));
    long dims = mg_mock_json_long(json_object_get(root, "dimensions"), EMBED_DIMS);
    if (dims < 1 || dims > EMBED_MAX_DIMS || (size_t)dims * json_array_size(list) > EMBED_MAX_VALUES) {
        json_decref(list);
        snprintf(err, MG_ERRLEN, "'dimensions' must be between 1 and %d (and inputs x dimensions at most %d)",
                 EMBED_MAX_DIMS, EMBED_MAX_VALUES);
        return MG_ERR;
    }
    const char *enc = json_string_value(json_object_get(root, "encoding_format"));
    int base64 = enc && strcmp(enc, "base64") == 0;
    json_t *data = json_array();
    long tokens = 0;
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        tokens += json_is_string(item) ? mg_mock_tokens_of(json_string_length(item))
                                       : (long)MG_MAX(json_array_size(item), 1);
        json_array_append_new(data, json_pack("{s:s, s:i, s:o}", "object", "embedding", "index", (int)i,
                                              "embedding", embedding(item, dims, base64)));
    }
    json_decref(list);
    p->input_tokens = tokens;
    p->direct = json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model",
                          p->model, "usage", "prompt_tokens", (json_int_t)tokens, "total_tokens",
                          (json_int_t)tokens);
    return MG_OK;
}

/* Embeddings and the model list answer with plan->direct; their stream
 * hooks are never called and only keep the table complete. */
const mg_mock_fmt mg_mock_fmt_embed = {
    .name = "openai", .stream_ctype = "application/json", .id_header = "x-request-id",
    .parse = embed_parse, .render = chat_render, .on_start = chat_start,
    .on_block_start = chat_block_start, .on_delta = chat_delta, .on_block_stop = chat_block_stop,
    .on_finish = chat_finish, .error = mg_mock_openai_error,
};

/* ---- model list ---- */

static json_t *model_object(const char *id, size_t n)
{
    return json_pack("{s:o, s:s, s:i, s:s}", "id", mg_mock_jstr(id, n), "object", "model", "created",
                     1700000000, "owned_by", "moongate-mock");
}

/* GET /v1/models lists a few ids; GET /v1/models/{id} knows every id. */
static int models_parse(mg_mock_plan *p, json_t *root, const mg_mock_req *req, char *err)
{
    MG_UNUSED(root);
    MG_UNUSED(err);
    static const char *const ids[] = {
        "mock-fast", "mock-smart", "mock-reasoner", "gpt-4o-mini", "o3-mini",
        "claude-sonnet-4-5", "gemini-2.5-flash", "text-embedding-3-small",
    };
    const char *one = strncmp(req->path, "/v1/models/", 11) == 0 ? req->path + 11 : NULL;
    p->model = mg_xstrdup(one ? one : "");
    if (one) {
        p->direct = model_object(one, strlen(one));
        return MG_OK;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < MG_ARRAY_LEN(ids); i++)
        json_array_append_new(data, model_object(ids[i], strlen(ids[i])));
    p->direct = json_pack("{s:s, s:o}", "object", "list", "data", data);
    return MG_OK;
}

const mg_mock_fmt mg_mock_fmt_models = {
    .name = "openai", .stream_ctype = "application/json", .id_header = "x-request-id",
    .parse = models_parse, .render = chat_render, .on_start = chat_start,
    .on_block_start = chat_block_start, .on_delta = chat_delta, .on_block_stop = chat_block_stop,
    .on_finish = chat_finish, .error = mg_mock_openai_error,
};
