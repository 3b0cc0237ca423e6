/* fmt_gemini.c — Gemini generateContent and streamGenerateContent: the
 * GenerateContentResponse JSON with text, thought and functionCall parts,
 * finishReason and usageMetadata; streams as SSE (`?alt=sse`, events ended
 * by CRLF CRLF as Google sends them) or, without alt=sse, as one JSON array
 * written element by element. The model comes from the URL path. Errors use
 * Google's {"error":{code,message,status}}. Uses plan.c, gen.c, jansson. */
#include "mock_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

json_t *mg_mock_gemini_error(int kind, const char *msg)
{
    static const struct { int code; const char *status; } kinds[] = {
        [MG_MOCK_ERR_INVALID] = {400, "INVALID_ARGUMENT"},   [MG_MOCK_ERR_NOT_FOUND] = {404, "NOT_FOUND"},
        [MG_MOCK_ERR_METHOD] = {405, "INVALID_ARGUMENT"},    [MG_MOCK_ERR_RATE] = {429, "RESOURCE_EXHAUSTED"},
        [MG_MOCK_ERR_SERVER] = {500, "INTERNAL"},            [MG_MOCK_ERR_OVERLOADED] = {503, "UNAVAILABLE"},
    };
    return json_pack("{s:{s:i, s:o, s:s}}", "error", "code", kinds[kind].code, "message",
                     mg_mock_jstr(msg, strlen(msg)), "status", kinds[kind].status);
}

static const char *const finish_names[] = {
    [MG_MOCK_FINISH_END] = "STOP",
    [MG_MOCK_FINISH_MAX] = "MAX_TOKENS",
    [MG_MOCK_FINISH_STOP_SEQ] = "STOP",
    [MG_MOCK_FINISH_TOOL] = "STOP",
};

/* ---- request ---- */

static int model_from_path(mg_mock_plan *p, const char *path)
{
    const char *m = strstr(path, "/models/");
    const char *colon = m ? strchr(m + 8, ':') : NULL;
    if (!colon || colon == m + 8)
        return MG_ERR;
    mg_mock_plan_model(p, m + 8, (size_t)(colon - (m + 8)));
    return MG_OK;
}

static int has_part(const json_t *content, const char *key)
{
    size_t i;
    json_t *part;
    json_array_foreach(json_object_get(content, "parts"), i, part) if (json_object_get(part, key)) return 1;
    return 0;
}

static void gemini_tools(mg_mock_plan *p, json_t *root)
{
    json_t *cfg = json_object_get(json_object_get(root, "toolConfig"), "functionCallingConfig");
    const char *mode = json_string_value(json_object_get(cfg, "mode"));
    json_t *allowed = json_object_get(cfg, "allowedFunctionNames");
    if (mode && strcasecmp(mode, "NONE") == 0)
        return;
    p->tool_forced = mode && strcasecmp(mode, "ANY") == 0;
    p->parallel_ok = 1;
    size_t i, j, k;
    json_t *tool, *decl, *name;
    json_array_foreach(json_object_get(root, "tools"), i, tool) {
        json_array_foreach(json_object_get(tool, "functionDeclarations"), j, decl) {
            json_t *fname = json_object_get(decl, "name");
            int ok = !json_is_array(allowed) || json_array_size(allowed) == 0;
            json_array_foreach(allowed, k, name) ok |= json_equal(name, fname);
            if (!ok)
                continue;
            json_t *schema = json_object_get(decl, "parameters");
            mg_mock_plan_add_tool(p, fname, schema ? schema : json_object_get(decl, "parametersJsonSchema"));
        }
    }
}

static int gemini_parse(mg_mock_plan *p, json_t *root, const mg_mock_req *req, char *err)
{
    json_t *contents = json_object_get(root, "contents");
    if (model_from_path(p, req->path) != MG_OK || !json_is_array(contents) || json_array_size(contents) == 0) {
        snprintf(err, MG_ERRLEN, "* GenerateContentRequest.contents: contents is not specified");
        return MG_ERR;
    }
    mg_buf all = {0}, last = {0};
    mg_mock_collect_text(json_object_get(root, "systemInstruction"), &all, 0);
    size_t i;
    json_t *c;
    json_array_foreach(contents, i, c) {
        const char *role = json_string_value(json_object_get(c, "role"));
        mg_mock_collect_text(json_object_get(c, "parts"), &all, 0);
        p->last_is_tool_result = has_part(c, "functionResponse");
        if ((!role || strcmp(role, "user") == 0) && has_part(c, "text")) {
            mg_buf_reset(&last);
            mg_mock_collect_text(json_object_get(c, "parts"), &last, 0);
        }
    }
    mg_mock_plan_set_prompt(p, &all, last.len ? mg_buf_cstr(&last) : "");
    mg_buf_free(&all);
    mg_buf_free(&last);

    p->stream = strstr(req->path, ":streamGenerateContent") != NULL;
    p->sse = req->query && (strstr(req->query, "alt=sse") != NULL);
    if (json_is_string(json_object_get(root, "cachedContent")))
        p->cached_tokens = p->input_tokens / 2;
    json_t *gen = json_object_get(root, "generationConfig");
    p->max_tokens = mg_mock_json_long(json_object_get(gen, "maxOutputTokens"), -1);
    mg_mock_plan_stops(p, json_object_get(gen, "stopSequences"));
    json_t *thinking = json_object_get(gen, "thinkingConfig");
    long budget = mg_mock_json_long(json_object_get(thinking, "thinkingBudget"), -1);
    if ((thinking && budget != 0) || mg_mock_contains_ci(p->model, "thinking")) {
        p->think_tokens = budget > 0 ? MG_MIN(budget, MG_MOCK_THINK_WORDS) : MG_MOCK_THINK_WORDS;
        p->think_visible = json_is_true(json_object_get(thinking, "includeThoughts"));
    }
    gemini_tools(p, root);
    return MG_OK;
}

/* ---- reply ---- */

static json_t *usage(const mg_mock_gen *g)
{
    const mg_mock_plan *p = g->plan;
    long cand = g->text_tokens + g->tool_tokens;
    json_t *u = json_pack("{s:I, s:I, s:I, s:[{s:s, s:I}]}", "promptTokenCount", (json_int_t)p->input_tokens,
                          "candidatesTokenCount", (json_int_t)cand, "totalTokenCount",
                          (json_int_t)(p->input_tokens + cand + g->think_tokens), "promptTokensDetails",
                          "modality", "TEXT", "tokenCount", (json_int_t)p->input_tokens);
    if (g->think_tokens)
        json_object_set_new(u, "thoughtsTokenCount", json_integer(g->think_tokens));
    if (p->cached_tokens)
        json_object_set_new(u, "cachedContentTokenCount", json_integer(p->cached_tokens));
    return u;
}

static json_t *function_call(const mg_mock_gen *g, const mg_mock_block *b)
{
    const mg_mock_call *c = &g->plan->calls[b->call];
    json_t *args = json_loads(c->args, 0, NULL);
    return json_pack("{s:{s:s, s:o}}", "functionCall", "name", c->name, "args", args ? args : json_object());
}

/* A response holding parts; finish adds finishReason and usage. */
static json_t *reply(const mg_mock_gen *g, json_t *parts, int finish)
{
    const mg_mock_plan *p = g->plan;
    json_t *cand = json_pack("{s:{s:o, s:s}}", "content", "parts", parts, "role", "model");
    if (finish)
        json_object_set_new(cand, "finishReason", json_string(finish_names[g->finish]));
    json_object_set_new(cand, "index", json_integer(0));
    json_t *r = json_pack("{s:[o]}", "candidates", cand);
    if (finish)
        json_object_set_new(r, "usageMetadata", usage(g));
    json_object_set_new(r, "modelVersion", json_string(p->model));
    json_object_set_new(r, "responseId", json_string(p->id));
    return r;
}

static json_t *gemini_render(const mg_mock_gen *g)
{
    json_t *parts = json_array();
    for (int i = 0; i < g->nblocks; i++) {
        const mg_mock_block *b = &g->blocks[i];
        if (b->kind == MG_MOCK_BLK_THINKING && g->plan->think_visible)
            json_array_append_new(parts, json_pack("{s:o, s:b}", "text",
                                                   mg_mock_jstr(g->thinking.data ? g->thinking.data : "", g->thinking.len),
                                                   "thought", 1));
        else if (b->kind == MG_MOCK_BLK_TEXT)
            json_array_append_new(parts, json_pack("{s:o}", "text", mg_mock_jstr(g->text.data ? g->text.data : "", g->text.len)));
        else if (b->kind == MG_MOCK_BLK_TOOL)
            json_array_append_new(parts, function_call(g, b));
    }
    return reply(g, parts, 1);
}

static void gemini_start(mg_mock_gen *g)
{
    g->framing = g->plan->sse ? MG_MOCK_FRAME_SSE_CRLF : MG_MOCK_FRAME_JSON_ARRAY;
}

static void gemini_block_start(mg_mock_gen *g, const mg_mock_block *b)
{
    if (b->kind == MG_MOCK_BLK_TOOL) /* Gemini sends a call whole, never in pieces */
        mg_mock_emit_json(g, NULL, reply(g, json_pack("[o]", function_call(g, b)), 0));
}

static void gemini_delta(mg_mock_gen *g, const mg_mock_block *b, const char *s, size_t n)
{
    if (b->kind == MG_MOCK_BLK_TEXT)
        mg_mock_emit_json(g, NULL, reply(g, json_pack("[{s:o}]", "text", mg_mock_jstr(s, n)), 0));
    else if (b->kind == MG_MOCK_BLK_THINKING && g->plan->think_visible)
        mg_mock_emit_json(g, NULL, reply(g, json_pack("[{s:o, s:b}]", "text", mg_mock_jstr(s, n), "thought", 1), 0));
}

static void gemini_block_stop(mg_mock_gen *g, const mg_mock_block *b)
{
    MG_UNUSED(g);
    MG_UNUSED(b);
}

static void gemini_finish(mg_mock_gen *g)
{
    mg_mock_emit_json(g, NULL, reply(g, json_pack("[{s:s}]", "text", ""), 1));
    if (g->framing == MG_MOCK_FRAME_JSON_ARRAY)
        mg_mock_emit_raw(g, "]");
}

const mg_mock_fmt mg_mock_fmt_gemini = {
    .name = "gemini", .stream_ctype = "text/event-stream", .id_header = "x-request-id",
    .parse = gemini_parse, .render = gemini_render, .on_start = gemini_start,
    .on_block_start = gemini_block_start, .on_delta = gemini_delta, .on_block_stop = gemini_block_stop,
    .on_finish = gemini_finish, .error = mg_mock_gemini_error,
};
