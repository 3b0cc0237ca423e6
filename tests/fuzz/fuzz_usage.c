/* fuzz_usage.c — libFuzzer harness for the JSON the C side reads from
 * provider responses (src/proxy/usage.c): mg_px_usage_from_body on a whole
 * response body, mg_px_event_may_have_usage + jansson +
 * mg_px_usage_from_json on one stream event. Input layout: byte 0 picks the
 * provider format; the bytes up to the first '\n' are the SSE event name,
 * the rest is the body / event data. Checks beyond the sanitizers: a body
 * that carries no usage key leaves usage untouched, and whenever the
 * per-event reader finds usage, the cheap pre-check said it might be there
 * (a false "no" would silently drop token counts).
 * Uses src/proxy/usage.c, src/core, jansson. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"

static const int formats[] = {MG_FMT_OPENAI, MG_FMT_ANTHROPIC, MG_FMT_RESPONSES, MG_FMT_GEMINI,
                              MG_FMT_MOCK, MG_FMT_UNKNOWN};

static int usage_empty(const mg_usage *u)
{
    static const mg_usage zero;
    return memcmp(u, &zero, sizeof zero) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int format = formats[data[0] % (sizeof formats / sizeof formats[0])];
    const char *rest = (const char *)data + 1;
    size_t rest_len = size - 1;
    const char *nl = memchr(rest, '\n', rest_len);
    size_t event_len = nl ? (size_t)(nl - rest) : 0;
    const char *payload = nl ? nl + 1 : rest;
    size_t payload_len = rest_len - (nl ? event_len + 1 : 0);

    /* Exact-size copies so ASan catches a read one past the end. */
    char *event = malloc(event_len + 1);
    memcpy(event, rest, event_len);
    event[event_len] = '\0';
    char *body = malloc(payload_len ? payload_len : 1);
    memcpy(body, payload, payload_len);

    /* Whole body. */
    mg_usage u = {0};
    mg_px_usage_from_body(format, body, payload_len, &u);
    const char *key = format == MG_FMT_GEMINI ? "usageMetadata" : "usage";
    if (!memmem(body, payload_len, key, strlen(key)) && !usage_empty(&u)) {
        fprintf(stderr, "fuzz_usage: usage read from a body without a \"%s\" key\n", key);
        abort();
    }

    /* One stream event. */
    mg_usage ev = {0};
    int maybe = mg_px_event_may_have_usage(format, event, event_len, body, payload_len);
    mg_px_usage_from_event(format, body, payload_len, &ev);
    /* The stream readers only look where the pre-check points; only OpenAI
     * and Gemini decide from the data alone, so only there must a found
     * usage imply "maybe". A key spelled with \u escapes is left out: no
     * provider writes one. */
    if ((format == MG_FMT_OPENAI || format == MG_FMT_GEMINI) && ev.seen && !maybe &&
        !memchr(body, '\\', payload_len)) {
        fprintf(stderr, "fuzz_usage: pre-check said no usage, reader found it: %.*s\n",
                (int)payload_len, body);
        abort();
    }
    /* Whatever the reader found in a valid event, jansson agrees it is JSON. */
    if (ev.seen) {
        json_error_t je;
        json_t *obj = json_loadb(body, payload_len, JSON_DECODE_ANY, &je);
        if (!obj && !strstr(je.text, "too big") && !strstr(je.text, "overflow") &&
            !strstr(je.text, "uplicate")) {
            fprintf(stderr, "fuzz_usage: usage read from text jansson refuses (%s)\n", je.text);
            abort();
        }
        if (obj)
            json_decref(obj);
    }
    free(event);
    free(body);
    return 0;
}
