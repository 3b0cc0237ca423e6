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

#include "proxy.h"

/* Token counts come from the upstream: a negative or absurd one must not
 * turn into a negative cost or overflow the sums below. */
#define MG_USAGE_MAX_TOKENS 1000000000000L

static long num(const json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!json_is_integer(v))
        return 0;
    json_int_t n = json_integer_value(v);
    return n < 0 ? 0 : n > MG_USAGE_MAX_TOKENS ? MG_USAGE_MAX_TOKENS : (long)n;
}

static int has(const json_t *obj, const char *key)
{
    return obj && json_is_integer(json_object_get(obj, key));
}

static void openai_usage(const json_t *u, mg_usage *out)
{
    if (!json_is_object(u))
        return;
    const json_t *pd = json_object_get(u, "prompt_tokens_details");
    const json_t *cd = json_object_get(u, "completion_tokens_details");
    out->input = num(u, "prompt_tokens");
    out->output = num(u, "completion_tokens");
    out->cached_read = num(pd, "cached_tokens");
    out->audio = num(pd, "audio_tokens") + num(cd, "audio_tokens");
    out->reasoning = num(cd, "reasoning_tokens");
    out->seen = 1;
}

static void responses_usage(const json_t *u, mg_usage *out)
{
    if (!json_is_object(u))
        return;
    out->input = num(u, "input_tokens");
    out->output = num(u, "output_tokens");
    out->cached_read = num(json_object_get(u, "input_tokens_details"), "cached_tokens");
    out->reasoning = num(json_object_get(u, "output_tokens_details"), "reasoning_tokens");
    out->seen = 1;
}

/* Anthropic: fields present replace what we had (message_delta repeats the
 * cumulative output count and, in newer API versions, the input counts). */
static void anthropic_usage(const json_t *u, mg_usage *out)
{
    if (!json_is_object(u))
        return;
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

static void gemini_usage(const json_t *u, mg_usage *out)
{
    if (!json_is_object(u))
        return;
    out->input = num(u, "promptTokenCount");
    out->reasoning = num(u, "thoughtsTokenCount");
    out->output = num(u, "candidatesTokenCount") + out->reasoning;
    out->cached_read = num(u, "cachedContentTokenCount");
    out->tool_use = num(u, "toolUsePromptTokenCount");
    out->seen = 1;
}

void mg_px_usage_from_json(int format, const json_t *obj, mg_usage *u)
{
    if (!json_is_object(obj))
        return;
    switch (format) {
    case MG_FMT_OPENAI:
        openai_usage(json_object_get(obj, "usage"), u);
        break;
    case MG_FMT_RESPONSES: {
        const json_t *resp = json_object_get(obj, "response");
        responses_usage(json_object_get(resp ? resp : obj, "usage"), u);
        break;
    }
    case MG_FMT_ANTHROPIC: {
        const json_t *msg = json_object_get(obj, "message");
        anthropic_usage(json_object_get(msg ? msg : obj, "usage"), u);
        break;
    }
    case MG_FMT_GEMINI:
        gemini_usage(json_object_get(obj, "usageMetadata"), u);
        break;
    default:
        break;
    }
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

int mg_px_event_may_have_usage(int format, const char *event, size_t event_len,
                               const char *data, size_t len)
{
    switch (format) {
    case MG_FMT_OPENAI:
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

static void usage_object(int format, const json_t *u, mg_usage *out)
{
    switch (format) {
    case MG_FMT_OPENAI: openai_usage(u, out); break;
    case MG_FMT_RESPONSES: responses_usage(u, out); break;
    case MG_FMT_ANTHROPIC: anthropic_usage(u, out); break;
    case MG_FMT_GEMINI: gemini_usage(u, out); break;
    default: break;
    }
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
        json_t *obj = q < end && *q == '{'
                          ? json_loadb(q, (size_t)(end - q), JSON_DISABLE_EOF_CHECK, NULL)
                          : NULL;
        if (obj) {
            usage_object(format, obj, u);
            json_decref(obj);
            return;
        }
    }
    json_t *whole = json_loadb(body, len, 0, NULL);
    if (whole) {
        mg_px_usage_from_json(format, whole, u);
        json_decref(whole);
    }
}
