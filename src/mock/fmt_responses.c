/* fmt_responses.c — OpenAI Responses: the response object with message,
 * function_call and reasoning output items, and its semantic event stream
 * (response.created, response.in_progress, output_item.added/done,
 * content_part.added/done, output_text.delta/done, function_call_arguments
 * delta/done, reasoning summary events, response.completed or
 * response.incomplete), each with a sequence_number. Errors use OpenAI's
 * shape. Uses plan.c, gen.c and jansson. */
#include "mock_int.h"

#include <stdio.h>
#include <string.h>

/* ---- request ---- */

static void input_items(mg_mock_plan *p, const json_t *input, mg_buf *all, mg_buf *last)
{
    if (json_is_string(input)) {
        mg_mock_collect_text(input, all, 0);
        mg_mock_collect_text(input, last, 0);
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(input, i, item) {
        const char *type = json_string_value(json_object_get(item, "type"));
        const char *role = json_string_value(json_object_get(item, "role"));
        mg_mock_collect_text(json_object_get(item, "content"), all, 0);
        mg_mock_collect_text(json_object_get(item, "output"), all, 0);
        p->last_is_tool_result = type && strcmp(type, "function_call_output") == 0;
        if (role && strcmp(role, "user") == 0) {
            mg_buf_reset(last);
            mg_mock_collect_text(json_object_get(item, "content"), last, 0);
        }
    }
}

static void responses_tools(mg_mock_plan *p, json_t *root)
{
    json_t *choice = json_object_get(root, "tool_choice");
    const char *only = NULL;
    if (json_is_string(choice) && strcmp(json_string_value(choice), "none") == 0)
        return;
    if (json_is_string(choice) && strcmp(json_string_value(choice), "required") == 0)
        p->tool_forced = 1;
    if (json_is_object(choice)) {
        only = json_string_value(json_object_get(choice, "name"));
        p->tool_forced = 1;
    }
    size_t i;
    json_t *tool;
    json_array_foreach(json_object_get(root, "tools"), i, tool) {
        const char *type = json_string_value(json_object_get(tool, "type"));
        json_t *name = json_object_get(tool, "name");
        if (!type || strcmp(type, "function") != 0)
            continue;
        if (only && (!json_is_string(name) || strcmp(json_string_value(name), only) != 0))
            continue;
        mg_mock_plan_add_tool(p, name, json_object_get(tool, "parameters"));
    }
    p->parallel_ok = !json_is_false(json_object_get(root, "parallel_tool_calls"));
}

static int responses_parse(mg_mock_plan *p, json_t *root, const mg_mock_req *req, char *err)
{
    MG_UNUSED(req);
    json_t *model = json_object_get(root, "model");
    json_t *input = json_object_get(root, "input");
    if (!json_is_string(model) || !(json_is_string(input) || json_is_array(input))) {
        snprintf(err, MG_ERRLEN, "'model' and 'input' (a string or a list of items) are required");
        return MG_ERR;
    }
    mg_mock_plan_model(p, json_string_value(model), json_string_length(model));
    mg_buf all = {0}, last = {0};
    mg_mock_collect_text(json_object_get(root, "instructions"), &all, 0);
    input_items(p, input, &all, &last);
    mg_mock_plan_set_prompt(p, &all, last.len ? mg_buf_cstr(&last) : "");
    mg_buf_free(&all);
    mg_buf_free(&last);

    p->stream = json_is_true(json_object_get(root, "stream"));
    p->max_tokens = mg_mock_json_long(json_object_get(root, "max_output_tokens"), -1);
    json_t *reasoning = json_object_get(root, "reasoning");
    if (json_is_string(json_object_get(reasoning, "effort")) || mg_mock_model_reasons(p->model)) {
        p->think_tokens = MG_MOCK_THINK_WORDS;
        p->think_visible = json_is_string(json_object_get(reasoning, "summary"));
    }
    responses_tools(p, root);
    return MG_OK;
}

/* ---- reply ---- */

static void item_id(const mg_mock_block *b, char *out, size_t n)
{
    const char *prefix = b->kind == MG_MOCK_BLK_THINKING ? "rs" : b->kind == MG_MOCK_BLK_TEXT ? "msg" : "fc";
    snprintf(out, n, "%s_%s", prefix, b->hex);
}

static json_t *text_of(const mg_buf *b) { return mg_mock_jstr(b->data ? b->data : "", b->len); }

static json_t *output_text(const mg_mock_gen *g, int done)
{
    return json_pack("{s:s, s:[], s:[], s:o}", "type", "output_text", "annotations", "logprobs", "text",
                     done ? text_of(&g->text) : json_string(""));
}

static json_t *summary_part(const mg_mock_gen *g, int done)
{
    return json_pack("{s:s, s:o}", "type", "summary_text", "text", done ? text_of(&g->thinking) : json_string(""));
}

/* The output item for block b, as first announced (done=0) or finished. */
static json_t *item(const mg_mock_gen *g, const mg_mock_block *b, int done)
{
    char id[MG_MOCK_HEX + 8];
    item_id(b, id, sizeof id);
    const char *status = !done ? "in_progress" : g->finish == MG_MOCK_FINISH_MAX ? "incomplete" : "completed";
    if (b->kind == MG_MOCK_BLK_THINKING) {
        json_t *summary = json_array();
        if (done && g->plan->think_visible)
            json_array_append_new(summary, summary_part(g, 1));
        return json_pack("{s:s, s:s, s:o}", "id", id, "type", "reasoning", "summary", summary);
    }
    if (b->kind == MG_MOCK_BLK_TEXT) {
        json_t *content = json_array();
        if (done)
            json_array_append_new(content, output_text(g, 1));
        return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", id, "type", "message", "status", status, "role",
                         "assistant", "content", content);
    }
    const mg_mock_call *c = &g->plan->calls[b->call];
    char call_id[MG_MOCK_HEX + 8];
    snprintf(call_id, sizeof call_id, "call_%s", b->hex);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "type", "function_call", "status",
                     done ? "completed" : "in_progress", "arguments", done ? c->args : "", "call_id", call_id,
                     "name", c->name);
}

static json_t *usage(const mg_mock_gen *g)
{
    const mg_mock_plan *p = g->plan;
    long out = mg_mock_gen_output_tokens(g);
    return json_pack("{s:I, s:{s:I}, s:I, s:{s:I}, s:I}", "input_tokens", (json_int_t)p->input_tokens,
                     "input_tokens_details", "cached_tokens", (json_int_t)p->cached_tokens, "output_tokens",
                     (json_int_t)out, "output_tokens_details", "reasoning_tokens", (json_int_t)g->think_tokens,
                     "total_tokens", (json_int_t)(p->input_tokens + out));
}

static json_t *response(const mg_mock_gen *g, int final)
{
    const mg_mock_plan *p = g->plan;
    int incomplete = final && g->finish == MG_MOCK_FINISH_MAX;
    char id[MG_MOCK_HEX + 8];
    snprintf(id, sizeof id, "resp_%s", p->id);
    json_t *output = json_array();
    for (int i = 0; final && i < g->nblocks; i++)
        json_array_append_new(output, item(g, &g->blocks[i], 1));
    json_t *r = json_pack("{s:s, s:s, s:I, s:s, s:b, s:n}", "id", id, "object", "response", "created_at",
                          (json_int_t)p->created, "status",
                          !final ? "in_progress" : incomplete ? "incomplete" : "completed", "background", 0,
                          "error");
    json_object_set_new(r, "incomplete_details",
                        incomplete ? json_pack("{s:s}", "reason", "max_output_tokens") : json_null());
    json_object_set_new(r, "instructions", json_null());
    json_object_set_new(r, "max_output_tokens", p->max_tokens >= 0 ? json_integer(p->max_tokens) : json_null());
    json_object_set_new(r, "model", json_string(p->model));
    json_object_set_new(r, "output", output);
    json_object_set_new(r, "parallel_tool_calls", json_boolean(p->parallel_ok || !p->ntools));
    json_object_set_new(r, "previous_response_id", json_null());
    json_object_set_new(r, "reasoning", json_pack("{s:n, s:n}", "effort", "summary"));
    json_object_set_new(r, "store", json_false());
    json_object_set_new(r, "temperature", json_real(1.0));
    json_object_set_new(r, "text", json_pack("{s:{s:s}}", "format", "type", "text"));
    json_object_set_new(r, "tool_choice", json_string("auto"));
    json_object_set_new(r, "tools", json_array());
    json_object_set_new(r, "top_p", json_real(1.0));
    json_object_set_new(r, "truncation", json_string("disabled"));
    json_object_set_new(r, "usage", final ? usage(g) : json_null());
    json_object_set_new(r, "user", json_null());
    json_object_set_new(r, "metadata", json_object());
    return r;
}

static json_t *responses_render(const mg_mock_gen *g) { return response(g, 1); }

/* Emit one event: {"type": type, "sequence_number": n, ...fields}. */
static void event(mg_mock_gen *g, const char *type, json_t *fields)
{
    json_t *e = json_pack("{s:s, s:I}", "type", type, "sequence_number", (json_int_t)g->seq++);
    json_object_update(e, fields);
    json_decref(fields);
    mg_mock_emit_json(g, type, e);
}

/* Fields naming the item and its place: item_id, output_index (+ index key). */
static json_t *where(const mg_mock_gen *g, const mg_mock_block *b, const char *index_key)
{
    char id[MG_MOCK_HEX + 8];
    item_id(b, id, sizeof id);
    json_t *w = json_pack("{s:s, s:i}", "item_id", id, "output_index", (int)(b - g->blocks));
    if (index_key)
        json_object_set_new(w, index_key, json_integer(0));
    return w;
}

static void responses_start(mg_mock_gen *g)
{
    event(g, "response.created", json_pack("{s:o}", "response", response(g, 0)));
    event(g, "response.in_progress", json_pack("{s:o}", "response", response(g, 0)));
}

static void responses_block_start(mg_mock_gen *g, const mg_mock_block *b)
{
    event(g, "response.output_item.added",
          json_pack("{s:i, s:o}", "output_index", (int)(b - g->blocks), "item", item(g, b, 0)));
    if (b->kind == MG_MOCK_BLK_TEXT) {
        json_t *w = where(g, b, "content_index");
        json_object_set_new(w, "part", output_text(g, 0));
        event(g, "response.content_part.added", w);
    } else if (b->kind == MG_MOCK_BLK_THINKING && g->plan->think_visible) {
        json_t *w = where(g, b, "summary_index");
        json_object_set_new(w, "part", summary_part(g, 0));
        event(g, "response.reasoning_summary_part.added", w);
    }
}

static void responses_delta(mg_mock_gen *g, const mg_mock_block *b, const char *s, size_t n)
{
    json_t *w;
    if (b->kind == MG_MOCK_BLK_TEXT) {
        w = where(g, b, "content_index");
        json_object_set_new(w, "delta", mg_mock_jstr(s, n));
        json_object_set_new(w, "logprobs", json_array());
        event(g, "response.output_text.delta", w);
    } else if (b->kind == MG_MOCK_BLK_TOOL) {
        w = where(g, b, NULL);
        json_object_set_new(w, "delta", mg_mock_jstr(s, n));
        event(g, "response.function_call_arguments.delta", w);
    } else if (g->plan->think_visible) {
        w = where(g, b, "summary_index");
        json_object_set_new(w, "delta", mg_mock_jstr(s, n));
        event(g, "response.reasoning_summary_text.delta", w);
    }
}

static void responses_block_stop(mg_mock_gen *g, const mg_mock_block *b)
{
    json_t *w;
    if (b->kind == MG_MOCK_BLK_TEXT) {
        w = where(g, b, "content_index");
        json_object_set_new(w, "text", text_of(&g->text));
        json_object_set_new(w, "logprobs", json_array());
        event(g, "response.output_text.done", w);
        w = where(g, b, "content_index");
        json_object_set_new(w, "part", output_text(g, 1));
        event(g, "response.content_part.done", w);
    } else if (b->kind == MG_MOCK_BLK_TOOL) {
        w = where(g, b, NULL);
        json_object_set_new(w, "name", json_string(g->plan->calls[b->call].name));
        json_object_set_new(w, "arguments", json_string(g->plan->calls[b->call].args));
        event(g, "response.function_call_arguments.done", w);
    } else if (g->plan->think_visible) {
        w = where(g, b, "summary_index");
        json_object_set_new(w, "text", text_of(&g->thinking));
        event(g, "response.reasoning_summary_text.done", w);
        w = where(g, b, "summary_index");
        json_object_set_new(w, "part", summary_part(g, 1));
        event(g, "response.reasoning_summary_part.done", w);
    }
    event(g, "response.output_item.done",
          json_pack("{s:i, s:o}", "output_index", (int)(b - g->blocks), "item", item(g, b, 1)));
}

static void responses_finish(mg_mock_gen *g)
{
    int incomplete = g->finish == MG_MOCK_FINISH_MAX;
    event(g, incomplete ? "response.incomplete" : "response.completed",
          json_pack("{s:o}", "response", response(g, 1)));
}

const mg_mock_fmt mg_mock_fmt_responses = {
    .name = "responses", .stream_ctype = "text/event-stream", .id_header = "x-request-id",
    .stream_keeps_text = 1, .parse = responses_parse, .render = responses_render,
    .on_start = responses_start, .on_block_start = responses_block_start,
    .on_delta = responses_delta, .on_block_stop = responses_block_stop,
    .on_finish = responses_finish, .error = mg_mock_openai_error,
};
