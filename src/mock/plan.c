/* plan.c — the parts of reading a request that every API shares: the
 * x-mock-* headers (faults, lengths, timing, echo), the model's @fault
 * suffix, prompt and input tokens, stop sequences, and the decision to
 * answer with tool calls, including arguments made up from each tool's JSON
 * schema. Uses jansson; the per-API parse() functions call in here. */
#include "mock_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_WANT_TOKENS 10000000L
#define MAX_BODY_TOKENS 1000000L /* a whole (non-stream) reply is built in memory */
#define MAX_STREAM_BYTES (4ull << 30)
#define SCHEMA_DEPTH 5

const char *mg_mock_req_header(const mg_mock_req *req, const char *name, char *tmp, size_t tmplen)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        const mg_header *h = &req->headers[i];
        size_t nlen = h->name_len ? h->name_len : strlen(h->name);
        if (!mg_strncaseeq(h->name, nlen, name))
            continue;
        size_t n = MG_MIN(h->value_len, tmplen - 1);
        memcpy(tmp, h->value, n);
        tmp[n] = '\0';
        return tmp;
    }
    return NULL;
}

/* A non-negative number from a header, or -1. */
static long header_long(const mg_mock_req *req, const char *name, long max)
{
    char tmp[32];
    const char *v = mg_mock_req_header(req, name, tmp, sizeof tmp);
    if (!v)
        return -1;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || n < 0)
        return -1;
    return n > max ? max : (long)n;
}

static int fault_by_name(const char *s)
{
    static const struct { const char *name; int fault; } faults[] = {
        {"429", MG_MOCK_FAULT_429},         {"500", MG_MOCK_FAULT_500},
        {"503", MG_MOCK_FAULT_503},         {"timeout", MG_MOCK_FAULT_TIMEOUT},
        {"stall", MG_MOCK_FAULT_STALL},     {"cut", MG_MOCK_FAULT_CUT},
        {"malformed", MG_MOCK_FAULT_MALFORMED}, {"wrongtype", MG_MOCK_FAULT_WRONGTYPE},
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(faults); i++)
        if (strcasecmp(s, faults[i].name) == 0)
            return faults[i].fault;
    return -1;
}

void mg_mock_plan_model(mg_mock_plan *p, const char *model, size_t n)
{
    free(p->model);
    const char *at = memrchr(model, '@', n);
    if (at) {
        char *suffix = mg_xstrndup(at + 1, n - (size_t)(at + 1 - model));
        int fault = fault_by_name(suffix);
        int big = strcasecmp(suffix, "big") == 0;
        free(suffix);
        if (fault >= 0 || big) {
            if (fault >= 0)
                p->fault = fault;
            else
                p->stream_bytes = MG_MOCK_BIG_BYTES;
            n = (size_t)(at - model);
        }
    }
    p->model = mg_xstrndup(model, n);
    mg_mock_ascii_fix(p->model, n); /* it goes into every JSON reply */
}

void mg_mock_plan_set_prompt(mg_mock_plan *p, const mg_buf *all_text, const char *last_user)
{
    free(p->prompt);
    p->prompt = mg_xstrdup(last_user ? last_user : "");
    p->input_tokens = mg_mock_tokens_of(all_text->len);
}

void mg_mock_plan_add_tool(mg_mock_plan *p, json_t *name, json_t *schema)
{
    if (!json_is_string(name) || p->ntools >= MG_ARRAY_LEN(p->tool_names))
        return;
    p->tool_names[p->ntools] = name;
    p->tool_schemas[p->ntools] = schema;
    p->ntools++;
}

void mg_mock_plan_stops(mg_mock_plan *p, const json_t *stop)
{
    if (json_is_string(stop) && json_string_length(stop) > 0) {
        p->stops[p->nstops++] = mg_xstrdup(json_string_value(stop));
        return;
    }
    size_t i;
    json_t *s;
    json_array_foreach(stop, i, s) {
        if (p->nstops < MG_MOCK_MAX_STOPS && json_is_string(s) && json_string_length(s) > 0)
            p->stops[p->nstops++] = mg_xstrdup(json_string_value(s));
    }
}

long mg_mock_json_long(const json_t *v, long dflt)
{
    if (json_is_integer(v))
        return (long)json_integer_value(v);
    if (json_is_real(v))
        return (long)json_real_value(v);
    return dflt;
}

static char *echo_text(const mg_mock_req *req)
{
    json_t *o = json_object(), *hdrs = json_object();
    for (size_t i = 0; i < req->nheaders; i++) {
        const mg_header *h = &req->headers[i];
        size_t nlen = h->name_len ? h->name_len : strlen(h->name);
        char *name = mg_xstrndup(h->name, nlen);
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        json_t *val = mg_mock_jstr(h->value, h->value_len);
        if (json_is_string(json_object_get(hdrs, name))) { /* repeated header: join */
            mg_buf joined = {0};
            const json_t *prev = json_object_get(hdrs, name);
            mg_buf_append(&joined, json_string_value(prev), json_string_length(prev));
            mg_buf_append(&joined, ", ", 2);
            mg_buf_append(&joined, json_string_value(val), json_string_length(val));
            json_decref(val);
            val = mg_mock_jstr(joined.data, joined.len);
            mg_buf_free(&joined);
        }
        json_object_set_new(hdrs, name, val);
        free(name);
    }
    json_object_set_new(o, "method", json_string(req->method ? req->method : ""));
    json_object_set_new(o, "path", mg_mock_jstr(req->path ? req->path : "", req->path ? strlen(req->path) : 0));
    json_object_set_new(o, "headers", hdrs);
    json_t *body = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
    json_object_set_new(o, "body", body ? body : mg_mock_jstr(req->body ? req->body : "", req->body_len));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s ? s : mg_xstrdup("{}");
}

int mg_mock_plan_headers(mg_mock_plan *p, const mg_mock_req *req, const mg_mock_opts *opts)
{
    char tmp[64];
    const char *fault = mg_mock_req_header(req, "x-mock-fault", tmp, sizeof tmp);
    if (fault) {
        int f = fault_by_name(fault);
        if (f < 0)
            return MG_ERR;
        p->fault = f;
    }
    long n = header_long(req, "x-mock-output-tokens", MAX_WANT_TOKENS);
    p->want_tokens = n >= 0 ? n : MG_MOCK_DEFAULT_TOKENS;
    if (!p->stream)
        p->want_tokens = MG_MIN(p->want_tokens, MAX_BODY_TOKENS);
    if ((n = header_long(req, "x-mock-cached", MAX_WANT_TOKENS)) >= 0)
        p->cached_tokens = MG_MIN(n, p->input_tokens);
    if ((n = header_long(req, "x-mock-stream-bytes", (long)MAX_STREAM_BYTES)) >= 0)
        p->stream_bytes = (size_t)n;
    if (!p->stream && p->stream_bytes > MG_MOCK_BODY_MAX)
        p->stream_bytes = MG_MOCK_BODY_MAX;
    const char *echo = mg_mock_req_header(req, "x-mock-echo", tmp, sizeof tmp);
    if (echo && strcmp(echo, "0") != 0)
        p->echo = echo_text(req);

    double speed = opts ? opts->speed : 1.0;
    if (speed < 0)
        speed = 0;
    long ttft_ms = header_long(req, "x-mock-ttft-ms", 3600000L);
    p->ttft = ttft_ms >= 0 ? (double)ttft_ms / 1000.0 : 0.2 * speed;
    long tps = header_long(req, "x-mock-tps", 100000000L);
    p->tps = tps > 0 ? (double)tps : (speed > 0 ? 100.0 / speed : 0.0);
    mg_mock_hex(p->id);
    p->created = (long)time(NULL);
    return MG_OK;
}

/* Lower-case type name of a schema ("STRING" in Gemini's OpenAPI dialect). */
static int type_is(const json_t *schema, const char *want)
{
    const json_t *t = json_object_get(schema, "type");
    if (json_is_array(t)) { /* ["string","null"]: the first real type */
        size_t i;
        json_t *item;
        json_array_foreach(t, i, item) {
            if (json_is_string(item) && strcasecmp(json_string_value(item), "null") != 0) {
                t = item;
                break;
            }
        }
    }
    return json_is_string(t) && strcasecmp(json_string_value(t), want) == 0;
}

static json_t *sample_value(const json_t *schema, const char *prop, int depth)
{
    const json_t *choices = json_object_get(schema, "enum");
    if (json_is_array(choices) && json_array_size(choices) > 0)
        return json_deep_copy(json_array_get(choices, 0));
    const json_t *any = json_object_get(schema, "anyOf");
    if (!any)
        any = json_object_get(schema, "oneOf");
    if (json_is_array(any) && json_array_size(any) > 0 && depth < SCHEMA_DEPTH)
        return sample_value(json_array_get(any, 0), prop, depth + 1);
    if (type_is(schema, "integer") || type_is(schema, "number"))
        return json_integer(42);
    if (type_is(schema, "boolean"))
        return json_true();
    if (type_is(schema, "null"))
        return json_null();
    if (type_is(schema, "array")) {
        json_t *arr = json_array();
        if (depth < SCHEMA_DEPTH)
            json_array_append_new(arr, sample_value(json_object_get(schema, "items"), prop, depth + 1));
        return arr;
    }
    const json_t *props = json_object_get(schema, "properties");
    if (type_is(schema, "object") || json_is_object(props)) {
        json_t *obj = json_object();
        const char *key;
        json_t *sub;
        if (depth < SCHEMA_DEPTH)
            json_object_foreach((json_t *)props, key, sub)
                json_object_set_new(obj, key, sample_value(sub, key, depth + 1));
        return obj;
    }
    char text[96];
    snprintf(text, sizeof text, "mock %s", prop && *prop ? prop : "value");
    return mg_mock_jstr(text, strlen(text));
}

static char *sample_args(const json_t *schema)
{
    json_t *args = json_is_object(schema) ? sample_value(schema, "", 0) : json_object();
    if (!json_is_object(args)) { /* arguments are always an object */
        json_decref(args);
        args = json_object();
    }
    char *s = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    return s ? s : mg_xstrdup("{}");
}

static int prompt_asks_tool(const char *prompt)
{
    static const char *const asks[] = {"use tool", "call tool", "use the tool", "call the tool",
                                       "use a tool", "call a tool", "parallel"};
    for (size_t i = 0; i < MG_ARRAY_LEN(asks); i++)
        if (mg_mock_contains_ci(prompt, asks[i]))
            return 1;
    return 0;
}

void mg_mock_plan_tools(mg_mock_plan *p, const mg_mock_req *req)
{
    if (p->ntools == 0 || p->echo)
        return;
    long hdr = header_long(req, "x-mock-parallel", MG_MOCK_MAX_CALLS);
    /* After a tool's output the conversation wants words, or an agent loop
     * driven by the mock would never end. A forced choice still forces. */
    int asked = hdr > 0 || prompt_asks_tool(p->prompt);
    if (!p->tool_forced && (p->last_is_tool_result || !asked))
        return;
    size_t n = 1;
    if (hdr > 0)
        n = (size_t)hdr;
    else if (p->ntools > 1 && mg_mock_contains_ci(p->prompt, "parallel"))
        n = p->ntools;
    if (!p->parallel_ok)
        n = 1;
    n = MG_MIN(n, (size_t)MG_MOCK_MAX_CALLS);
    for (size_t i = 0; i < n; i++) {
        size_t t = i % p->ntools;
        p->calls[i].name = mg_xstrdup(json_string_value(p->tool_names[t]));
        p->calls[i].args = sample_args(p->tool_schemas[t]);
    }
    p->ncalls = n;
}

void mg_mock_plan_free(mg_mock_plan *p)
{
    free(p->model);
    free(p->prompt);
    free(p->echo);
    for (size_t i = 0; i < p->ncalls; i++) {
        free(p->calls[i].name);
        free(p->calls[i].args);
    }
    for (size_t i = 0; i < p->nstops; i++)
        free(p->stops[i]);
    json_decref(p->extra);
    json_decref(p->direct);
    memset(p, 0, sizeof *p);
}
