/* fmt_anthropic.c — Anthropic Messages: the message JSON, the event stream
 * (message_start, content_block_start, ping, content_block_delta with
 * text_delta / thinking_delta + signature_delta / input_json_delta,
 * content_block_stop, message_delta, message_stop), count_tokens, and the
 * {"type":"error"} shape. Uses plan.c, gen.c and jansson. */
#include "mock_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *mg_mock_anthropic_error(int kind, const char *msg)
{
    static const char *const types[] = {
        [MG_MOCK_ERR_INVALID] = "invalid_request_error", [MG_MOCK_ERR_NOT_FOUND] = "not_found_error",
        [MG_MOCK_ERR_METHOD] = "invalid_request_error",  [MG_MOCK_ERR_RATE] = "rate_limit_error",
        [MG_MOCK_ERR_SERVER] = "api_error",              [MG_MOCK_ERR_OVERLOADED] = "overloaded_error",
    };
    return json_pack("{s:s, s:{s:s, s:o}}", "type", "error", "error", "type", types[kind], "message",
                     mg_mock_jstr(msg, strlen(msg)));
}

static const char *const stop_names[] = {
    [MG_MOCK_FINISH_END] = "end_turn",
    [MG_MOCK_FINISH_MAX] = "max_tokens",
    [MG_MOCK_FINISH_STOP_SEQ] = "stop_sequence",
    [MG_MOCK_FINISH_TOOL] = "tool_use",
};

/* ---- request ---- */

static int has_cache_control(const json_t *v, int depth)
{
    if (depth > 12)
        return 0;
    const char *key;
    size_t i;
    json_t *sub;
    if (json_is_object(v)) {
        if (json_object_get(v, "cache_control"))
            return 1;
        json_object_foreach((json_t *)v, key, sub) if (has_cache_control(sub, depth + 1)) return 1;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, sub) if (has_cache_control(sub, depth + 1)) return 1;
    }
    return 0;
}

/* Text blocks of a user message (tool results are not the user speaking). */
static void user_text(const json_t *content, mg_buf *out)
{
    if (json_is_string(content)) {
        mg_mock_collect_text(content, out, 0);
        return;
    }
    size_t i;
    json_t *block;
    json_array_foreach(content, i, block) {
        const char *type = json_string_value(json_object_get(block, "type"));
        if (type && strcmp(type, "text") == 0)
            mg_mock_collect_text(json_object_get(block, "text"), out, 0);
    }
}

static int ends_with_tool_result(const json_t *msg)
{
    size_t i;
    json_t *block;
    json_array_foreach(json_object_get(msg, "content"), i, block) {
        const char *type = json_string_value(json_object_get(block, "type"));
        if (type && strcmp(type, "tool_result") == 0)
            return 1;
    }
    return 0;
}

static void anthropic_tools(mg_mock_plan *p, json_t *root)
{
    json_t *choice = json_object_get(root, "tool_choice");
    const char *type = json_string_value(json_object_get(choice, "type"));
    const char *only = NULL;
    if (type && strcmp(type, "none") == 0)
        return;
    if (type && (strcmp(type, "any") == 0 || strcmp(type, "tool") == 0))
        p->tool_forced = 1;
    if (type && strcmp(type, "tool") == 0)
        only = json_string_value(json_object_get(choice, "name"));
    size_t i;
    json_t *tool;
    json_array_foreach(json_object_get(root, "tools"), i, tool) {
        json_t *name = json_object_get(tool, "name");
        if (only && (!json_is_string(name) || strcmp(json_string_value(name), only) != 0))
            continue;
        mg_mock_plan_add_tool(p, name, json_object_get(tool, "input_schema"));
    }
    p->parallel_ok = !json_is_true(json_object_get(choice, "disable_parallel_tool_use"));
}

static int anthropic_parse(mg_mock_plan *p, json_t *root, const mg_mock_req *req, char *err)
{
    MG_UNUSED(req);
    json_t *model = json_object_get(root, "model");
    json_t *messages = json_object_get(root, "messages");
    if (!json_is_string(model) || !json_is_array(messages) || json_array_size(messages) == 0) {
        snprintf(err, MG_ERRLEN, "model: Field required; messages: a non-empty list is required");
        return MG_ERR;
    }
    mg_mock_plan_model(p, json_string_value(model), json_string_length(model));
    mg_buf all = {0}, last = {0};
    mg_mock_collect_text(json_object_get(root, "system"), &all, 0);
    size_t i;
    json_t *msg;
    json_array_foreach(messages, i, msg) {
        const char *role = json_string_value(json_object_get(msg, "role"));
        mg_mock_collect_text(json_object_get(msg, "content"), &all, 0);
        int is_user = role && strcmp(role, "user") == 0;
        p->last_is_tool_result = is_user && ends_with_tool_result(msg);
        if (is_user && !p->last_is_tool_result) {
            mg_buf_reset(&last);
            user_text(json_object_get(msg, "content"), &last);
        }
    }
    mg_mock_plan_set_prompt(p, &all, last.len ? mg_buf_cstr(&last) : "");
    mg_buf_free(&all);
    mg_buf_free(&last);

    if (has_cache_control(root, 0))
        p->cached_tokens = p->input_tokens / 2;
    p->stream = json_is_true(json_object_get(root, "stream"));
    p->max_tokens = mg_mock_json_long(json_object_get(root, "max_tokens"), -1);
    mg_mock_plan_stops(p, json_object_get(root, "stop_sequences"));
    json_t *thinking = json_object_get(root, "thinking");
    const char *ttype = json_string_value(json_object_get(thinking, "type"));
    if (ttype && strcmp(ttype, "enabled") == 0) {
        long budget = mg_mock_json_long(json_object_get(thinking, "budget_tokens"), MG_MOCK_THINK_WORDS);
        p->think_tokens = MG_MAX(1, MG_MIN(budget, MG_MOCK_THINK_WORDS));
        p->think_visible = 1;
    }
    anthropic_tools(p, root);
    return MG_OK;
}

/* ---- reply ---- */

static json_t *usage(const mg_mock_gen *g, long output_tokens)
{
    const mg_mock_plan *p = g->plan;
    return json_pack("{s:I, s:i, s:I, s:I, s:s}", "input_tokens",
                     (json_int_t)(p->input_tokens - p->cached_tokens), "cache_creation_input_tokens", 0,
                     "cache_read_input_tokens", (json_int_t)p->cached_tokens, "output_tokens",
                     (json_int_t)output_tokens, "service_tier", "standard");
}

static json_t *signature(const mg_mock_block *b)
{
    char *sig = mg_mock_base64((const unsigned char *)b->hex, strlen(b->hex));
    json_t *s = json_string(sig);
    free(sig);
    return s;
}

static json_t *tool_use(const mg_mock_gen *g, const mg_mock_block *b, int with_input)
{
    const mg_mock_call *c = &g->plan->calls[b->call];
    char id[MG_MOCK_HEX + 8];
    snprintf(id, sizeof id, "toolu_%s", b->hex);
    json_t *input = with_input ? json_loads(c->args, 0, NULL) : NULL;
    return json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id", id, "name", c->name, "input",
                     input ? input : json_object());
}

static json_t *message(const mg_mock_gen *g, int final)
{
    const mg_mock_plan *p = g->plan;
    json_t *content = json_array();
    for (int i = 0; final && i < g->nblocks; i++) {
        const mg_mock_block *b = &g->blocks[i];
        if (b->kind == MG_MOCK_BLK_THINKING)
            json_array_append_new(content, json_pack("{s:s, s:o, s:o}", "type", "thinking", "thinking",
                                                     mg_mock_jstr(g->thinking.data ? g->thinking.data : "", g->thinking.len),
                                                     "signature", signature(b)));
        else if (b->kind == MG_MOCK_BLK_TEXT)
            json_array_append_new(content, json_pack("{s:s, s:o}", "type", "text", "text",
                                                     mg_mock_jstr(g->text.data ? g->text.data : "", g->text.len)));
        else
            json_array_append_new(content, tool_use(g, b, 1));
    }
    char id[MG_MOCK_HEX + 8];
    snprintf(id, sizeof id, "msg_%s", p->id);
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", id, "type", "message", "role", "assistant",
                          "model", p->model, "content", content);
    json_object_set_new(m, "stop_reason", final ? json_string(stop_names[g->finish]) : json_null());
    json_object_set_new(m, "stop_sequence", final && g->stop_hit >= 0 ? json_string(p->stops[g->stop_hit]) : json_null());
    json_object_set_new(m, "usage", usage(g, final ? mg_mock_gen_output_tokens(g) : 1));
    return m;
}

static json_t *anthropic_render(const mg_mock_gen *g) { return message(g, 1); }

static void anthropic_start(mg_mock_gen *g)
{
    mg_mock_emit_json(g, "message_start", json_pack("{s:s, s:o}", "type", "message_start", "message", message(g, 0)));
}

static int block_index(const mg_mock_gen *g, const mg_mock_block *b) { return (int)(b - g->blocks); }

static void anthropic_block_start(mg_mock_gen *g, const mg_mock_block *b)
{
    json_t *block;
    if (b->kind == MG_MOCK_BLK_THINKING)
        block = json_pack("{s:s, s:s, s:s}", "type", "thinking", "thinking", "", "signature", "");
    else if (b->kind == MG_MOCK_BLK_TEXT)
        block = json_pack("{s:s, s:s}", "type", "text", "text", "");
    else
        block = tool_use(g, b, 0);
    mg_mock_emit_json(g, "content_block_start", json_pack("{s:s, s:i, s:o}", "type", "content_block_start",
                                                          "index", block_index(g, b), "content_block", block));
    if (!g->ping_sent) {
        mg_mock_emit_json(g, "ping", json_pack("{s:s}", "type", "ping"));
        g->ping_sent = 1;
    }
}

static void block_delta(mg_mock_gen *g, const mg_mock_block *b, json_t *delta)
{
    mg_mock_emit_json(g, "content_block_delta", json_pack("{s:s, s:i, s:o}", "type", "content_block_delta",
                                                          "index", block_index(g, b), "delta", delta));
}

static void anthropic_delta(mg_mock_gen *g, const mg_mock_block *b, const char *s, size_t n)
{
    json_t *piece = mg_mock_jstr(s, n);
    if (b->kind == MG_MOCK_BLK_THINKING)
        block_delta(g, b, json_pack("{s:s, s:o}", "type", "thinking_delta", "thinking", piece));
    else if (b->kind == MG_MOCK_BLK_TEXT)
        block_delta(g, b, json_pack("{s:s, s:o}", "type", "text_delta", "text", piece));
    else
        block_delta(g, b, json_pack("{s:s, s:o}", "type", "input_json_delta", "partial_json", piece));
}

static void anthropic_block_stop(mg_mock_gen *g, const mg_mock_block *b)
{
    if (b->kind == MG_MOCK_BLK_THINKING)
        block_delta(g, b, json_pack("{s:s, s:o}", "type", "signature_delta", "signature", signature(b)));
    mg_mock_emit_json(g, "content_block_stop",
                      json_pack("{s:s, s:i}", "type", "content_block_stop", "index", block_index(g, b)));
}

static void anthropic_finish(mg_mock_gen *g)
{
    const mg_mock_plan *p = g->plan;
    json_t *delta = json_pack("{s:s}", "stop_reason", stop_names[g->finish]);
    json_object_set_new(delta, "stop_sequence", g->stop_hit >= 0 ? json_string(p->stops[g->stop_hit]) : json_null());
    json_t *u = usage(g, mg_mock_gen_output_tokens(g));
    json_object_del(u, "service_tier");
    mg_mock_emit_json(g, "message_delta", json_pack("{s:s, s:o, s:o}", "type", "message_delta", "delta", delta,
                                                    "usage", u));
    mg_mock_emit_json(g, "message_stop", json_pack("{s:s}", "type", "message_stop"));
}

const mg_mock_fmt mg_mock_fmt_anthropic = {
    .name = "anthropic", .stream_ctype = "text/event-stream", .id_header = "request-id",
    .parse = anthropic_parse, .render = anthropic_render, .on_start = anthropic_start,
    .on_block_start = anthropic_block_start, .on_delta = anthropic_delta,
    .on_block_stop = anthropic_block_stop, .on_finish = anthropic_finish,
    .error = mg_mock_anthropic_error,
};

/* ---- count_tokens ---- */

static int count_parse(mg_mock_plan *p, json_t *root, const mg_mock_req *req, char *err)
{
    if (anthropic_parse(p, root, req, err) != MG_OK)
        return MG_ERR;
    p->stream = 0;
    p->direct = json_pack("{s:I}", "input_tokens", (json_int_t)p->input_tokens);
    return MG_OK;
}

const mg_mock_fmt mg_mock_fmt_count = {
    .name = "anthropic", .stream_ctype = "application/json", .id_header = "request-id",
    .parse = count_parse, .render = anthropic_render, .on_start = anthropic_start,
    .on_block_start = anthropic_block_start, .on_delta = anthropic_delta,
    .on_block_stop = anthropic_block_stop, .on_finish = anthropic_finish,
    .error = mg_mock_anthropic_error,
};
