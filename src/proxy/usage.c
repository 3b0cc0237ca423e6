/* usage.c — token usage read from provider responses and stream events,
 * normalised to one meaning: input includes cached tokens, output includes
 * reasoning. Each provider counts differently:
 *   OpenAI chat: prompt_tokens includes cached; completion_tokens includes
 *     reasoning.
 *   Anthropic: input_tokens excludes cache reads and writes; message_delta
 *     usage is cumulative.
 *   Responses: like OpenAI, under input/output_tokens_details.
 *   Gemini: candidatesTokenCount excludes thoughtsTokenCount. */
#include <string.h>

#include "../core/jscan.h"
#include "proxy.h"

/* Token counts come from the upstream: a negative or absurd one must not
 * turn into a negative cost or overflow the sums below. */
#define MG_USAGE_MAX_TOKENS 1000000000000L

static long num(const mg_js_object *obj, const char *key)
{
    long long n;
    if (!obj || !mg_js_int(mg_js_get(obj, key), &n))
        return 0;
    return n < 0 ? 0 : n > MG_USAGE_MAX_TOKENS ? MG_USAGE_MAX_TOKENS : (long)n;
}

static int has(const mg_js_object *obj, const char *key)
{
    long long n;
    return obj && mg_js_int(mg_js_get(obj, key), &n);
}

/* The object under key in o, indexed into out; NULL when absent or not an
 * object (num() and has() read NULL as empty). */
static const mg_js_object *sub(const mg_js_object *o, const char *key, mg_js_object *out)
{
    return o && mg_js_object_of(mg_js_get(o, key), out) == MG_OK ? out : NULL;
}

static void openai_usage(const mg_js_object *u, mg_usage *out)
{
    mg_js_object pdo, cdo;
    const mg_js_object *pd = sub(u, "prompt_tokens_details", &pdo);
    const mg_js_object *cd = sub(u, "completion_tokens_details", &cdo);
    out->input = num(u, "prompt_tokens");
    out->output = num(u, "completion_tokens");
    out->cached_read = num(pd, "cached_tokens");
    out->audio = num(pd, "audio_tokens") + num(cd, "audio_tokens");
    out->reasoning = num(cd, "reasoning_tokens");
    out->seen = 1;
}

static void responses_usage(const mg_js_object *u, mg_usage *out)
{
    mg_js_object d;
    out->input = num(u, "input_tokens");
    out->output = num(u, "output_tokens");
    out->cached_read = num(sub(u, "input_tokens_details", &d), "cached_tokens");
    out->reasoning = num(sub(u, "output_tokens_details", &d), "reasoning_tokens");
    out->seen = 1;
}

/* Anthropic: fields present replace what we had (message_delta repeats the
 * cumulative output count and, in newer API versions, the input counts). */
static void anthropic_usage(const mg_js_object *u, mg_usage *out)
{
    long in = num(u, "input_tokens"), cr = num(u, "cache_read_input_tokens");
    long cw = num(u, "cache_creation_input_tokens");
    if (has(u, "input_tokens") || has(u, "cache_read_input_tokens")) {
        if (has(u, "cache_read_input_tokens"))
            out->cached_read = cr;
        if (has(u, "cache_creation_input_tokens"))
            out->cache_write = cw;
        if (has(u, "input_tokens"))
            out->input = in + out->cached_read + out->cache_write;
    }
    if (has(u, "output_tokens"))
        out->output = num(u, "output_tokens");
    out->seen = 1;
}

static void gemini_usage(const mg_js_object *u, mg_usage *out)
{
    out->input = num(u, "promptTokenCount");
    out->reasoning = num(u, "thoughtsTokenCount");
    out->output = num(u, "candidatesTokenCount") + out->reasoning;
    out->cached_read = num(u, "cachedContentTokenCount");
    out->tool_use = num(u, "toolUsePromptTokenCount");
    out->seen = 1;
}

/* The usage object itself, per format. */
static void usage_object(int format, const mg_js_object *u, mg_usage *out)
{
    switch (format) {
    case MG_FMT_OPENAI: openai_usage(u, out); break;
    case MG_FMT_RESPONSES: responses_usage(u, out); break;
    case MG_FMT_ANTHROPIC: anthropic_usage(u, out); break;
    case MG_FMT_GEMINI: gemini_usage(u, out); break;
    default: break;
    }
}

/* Where the usage object sits in a whole body or event of each format. */
static void usage_in(int format, const mg_js_object *obj, mg_usage *u)
{
    mg_js_object outer, usage;
    const char *key = format == MG_FMT_GEMINI ? "usageMetadata" : "usage";
    if (format == MG_FMT_RESPONSES && sub(obj, "response", &outer))
        obj = &outer;
    else if (format == MG_FMT_ANTHROPIC && sub(obj, "message", &outer))
        obj = &outer;
    if (sub(obj, key, &usage))
        usage_object(format, &usage, u);
}

/* An OpenAI chunk with "choices": [] and a usage object: the one the
 * gateway asked for on the client's behalf. */
static int usage_only(const mg_js_object *obj)
{
    mg_js_object usage;
    const mg_js_span *choices = mg_js_get(obj, "choices");
    if (!choices || choices->type != MG_JS_ARRAY)
        return 0;
    for (size_t k = 1; k + 1 < choices->n; k++)
        if (choices->p[k] != ' ' && choices->p[k] != '\n' && choices->p[k] != '\t' &&
            choices->p[k] != '\r')
            return 0; /* not empty */
    return sub(obj, "usage", &usage) != NULL;
}

int mg_px_usage_from_chunk(int format, const char *data, size_t len, mg_usage *u)
{
    mg_js_object obj;
    if (mg_js_scan(data, len, &obj, NULL) != MG_OK || obj.whole.type != MG_JS_OBJECT)
        return 0;
    usage_in(format, &obj, u);
    return format == MG_FMT_OPENAI && usage_only(&obj);
}

void mg_px_usage_from_event(int format, const char *data, size_t len, mg_usage *u)
{
    mg_px_usage_from_chunk(format, data, len, u);
}

int mg_px_is_usage_only_chunk(const char *data, size_t len)
{
    mg_js_object obj;
    if (mg_js_scan(data, len, &obj, NULL) != MG_OK || obj.whole.type != MG_JS_OBJECT)
        return 0;
    return usage_only(&obj);
}

/* True when `"key"` followed by optional spaces, ':' and spaces, then '{'
 * appears in data. Avoids parsing the JSON of every stream chunk. */
static int has_object_key(const char *data, size_t len, const char *key)
{
    size_t klen = strlen(key);
    const char *end = data + len;
    const char *p = data;
    while ((p = memmem(p, (size_t)(end - p), key, klen)) != NULL) {
        const char *q = p + klen;
        while (q < end && (*q == ' ' || *q == ':' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        if (q < end && *q == '{')
            return 1;
        p += klen;
    }
    return 0;
}

/* An OpenAI stream asked for usage carries "usage":null as the last member
 * of every chunk but the usage one. Ending so, the top-level usage is null
 * (a valid document cannot close a nested object there, and duplicate
 * top-level keys are refused by the parser), so the scan can be skipped. */
static int ends_with_null_usage(const char *data, size_t len)
{
    static const char tail[] = "\"usage\":null}";
    size_t n = sizeof tail - 1;
    while (len && (data[len - 1] == ' ' || data[len - 1] == '\n' || data[len - 1] == '\r' ||
                   data[len - 1] == '\t'))
        len--;
    return len >= n && memcmp(data + len - n, tail, n) == 0;
}

int mg_px_event_may_have_usage(int format, const char *event, size_t event_len,
                               const char *data, size_t len)
{
    switch (format) {
    case MG_FMT_OPENAI:
        if (ends_with_null_usage(data, len))
            return 0;
        return has_object_key(data, len, "\"usage\"");
    case MG_FMT_ANTHROPIC:
        return (event_len == 13 && memcmp(event, "message_start", 13) == 0) ||
               (event_len == 13 && memcmp(event, "message_delta", 13) == 0);
    case MG_FMT_RESPONSES:
        return event_len >= 18 && memcmp(event, "response.completed", 18) == 0;
    case MG_FMT_GEMINI:
        return has_object_key(data, len, "\"usageMetadata\"");
    default:
        return 0;
    }
}

/* The usage object's key in a whole response body, per format. */
static const char *usage_key(int format)
{
    return format == MG_FMT_GEMINI ? "\"usageMetadata\"" : "\"usage\"";
}

/* Providers put usage last in their bodies; parsing only that object from
 * its last unescaped key saves parsing the whole (possibly long) answer.
 * Anything unexpected falls back to a full parse. */
void mg_px_usage_from_body(int format, const char *body, size_t len, mg_usage *u)
{
    const char *key = usage_key(format);
    size_t klen = strlen(key);
    const char *hit = NULL;
    for (const char *p = body; (p = memmem(p, (size_t)(body + len - p), key, klen)) != NULL;
         p += klen)
        if (p == body || p[-1] != '\\')
            hit = p;
    if (hit) {
        const char *q = hit + klen, *end = body + len;
        while (q < end && (*q == ' ' || *q == ':' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        mg_js_object obj;
        size_t used;
        if (q < end && *q == '{' && mg_js_scan_prefix(q, (size_t)(end - q), &obj, &used) == MG_OK) {
            usage_object(format, &obj, u);
            return;
        }
    }
    mg_px_usage_from_event(format, body, len, u);
}
