/* convert_lane.c — the text lane (convert_lane.h): which upstream events
 * are plain text deltas, and the routing of each converted event to the
 * lane or to the Lua converter's queue. The checks mirror what the
 * bundled decoders read (lua/moongate/formats/openai_stream.lua and
 * anthropic_stream.lua): an event is taken only when every field they
 * look at says "text delta and nothing else"; whenever in doubt (escaped
 * or repeated keys, an odd index, invalid JSON) the event goes to Lua,
 * which answers exactly as it always did. Uses core/jscan.h. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "convert_lane.h"

/* Keys compared as written: an object whose keys hold an escape, or that
 * has more members than jscan indexes, is left to Lua. */
static int plain_keys(const mg_js_object *o)
{
    if (o->n != o->total)
        return 0;
    for (size_t k = 0; k < o->n; k++)
        if (memchr(o->members[k].key.p, '\\', o->members[k].key.n))
            return 0;
    return 1;
}

/* *v: the member named key, NULL when absent. -1 when it appears twice
 * (Lua would take the last one; jscan refuses that only at the top). */
static int lookup(const mg_js_object *o, const char *key, const mg_js_span **v)
{
    size_t len = strlen(key);
    *v = NULL;
    for (size_t k = 0; k < o->n; k++) {
        const mg_js_span *kp = &o->members[k].key;
        if (kp->n == len + 2 && memcmp(kp->p + 1, key, len) == 0) {
            if (*v)
                return -1;
            *v = &o->members[k].value;
        }
    }
    return 0;
}

static int absent(const mg_js_span *v) { return !v || v->type == MG_JS_NULL; }

/* Absent or null, and not repeated. */
static int none(const mg_js_object *o, const char *key)
{
    const mg_js_span *v;
    return lookup(o, key, &v) == 0 && absent(v);
}

/* Present exactly once, with the type wanted. */
static const mg_js_span *one(const mg_js_object *o, const char *key, mg_js_type type)
{
    const mg_js_span *v;
    if (lookup(o, key, &v) != 0 || !v || v->type != type)
        return NULL;
    return v;
}

static int is_literal(const mg_js_span *v, const char *quoted)
{
    size_t n = strlen(quoted);
    return v && v->n == n && memcmp(v->p, quoted, n) == 0;
}

/* A text the decoders would emit: a string other than "". */
static int nonempty_text(const mg_js_span *v, mg_js_span *text)
{
    if (!v || v->type != MG_JS_STRING || v->n <= 2)
        return 0;
    *text = *v;
    return 1;
}

/* ---- walking text mg_js_scan has already validated ----
 * The nested objects the checks read lie inside an event jscan has just
 * validated whole, so they are indexed by skipping values, not checked
 * again (that would double the lane's cost). */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Past the closing quote of the valid string whose body starts at p: the
 * first quote not escaped, found with memchr. */
static const char *string_end(const char *p, const char *end)
{
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return end;
        size_t backslashes = 0;
        while (q - backslashes > p && q[-1 - (ptrdiff_t)backslashes] == '\\')
            backslashes++;
        if (backslashes % 2 == 0)
            return q + 1;
        p = q + 1;
    }
}

/* The end of the valid value starting at p. */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;
    while (p < end) {
        char c = *p++;
        if (c == '"') {
            p = string_end(p, end);
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (depth == 0) { /* a number or literal alone */
            while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
                   *p != '\r' && *p != '\n')
                p++;
        }
        if (depth == 0)
            return p;
    }
    return end;
}

/* Indexes the members of the valid object v (as mg_js_object_of would). */
static int index_object(const mg_js_span *v, mg_js_object *out)
{
    const char *end = v->p + v->n, *p = skip_ws(v->p + 1, end);
    out->whole = *v;
    out->n = out->total = 0;
    while (p < end && *p == '"') {
        const char *k = p;
        p = skip_value(p, end);
        mg_js_span key = {k, (size_t)(p - k), MG_JS_STRING};
        p = skip_ws(skip_ws(p, end) + 1, end); /* past the colon */
        const char *val = p;
        p = skip_value(p, end);
        if (out->n < MG_JS_MAX_MEMBERS) {
            out->members[out->n].key = key;
            out->members[out->n].value = (mg_js_span){val, (size_t)(p - val), mg_js_type_at(*val)};
            out->n++;
        }
        out->total++;
        p = skip_ws(p, end);
        if (p < end && *p == ',')
            p = skip_ws(p + 1, end);
    }
    return MG_OK;
}

static int object_at(const mg_js_span *v, mg_js_object *out)
{
    return v && v->type == MG_JS_OBJECT && index_object(v, out) == MG_OK && plain_keys(out);
}

/* The only element of an array span, when it is an object. */
static int single_object(const mg_js_span *arr, mg_js_object *out)
{
    const char *end = arr->p + arr->n, *p = skip_ws(arr->p + 1, end);
    if (p == end || *p != '{')
        return 0;
    mg_js_span elem = {p, 0, MG_JS_OBJECT};
    p = skip_value(p, end);
    elem.n = (size_t)(p - elem.p);
    return skip_ws(p, end) + 1 == end && object_at(&elem, out); /* only ']' left */
}

/* OpenAI: one choice with index 0 (or none given) whose delta holds text
 * and nothing a decoder would act on, no finish_reason, and no usage or
 * error object at the top. */
static int openai_text(const char *data, size_t dlen, mg_js_span *text)
{
    mg_js_object chunk, choice, delta;
    mg_js_error err;
    if (mg_js_scan(data, dlen, &chunk, &err) != MG_OK || !plain_keys(&chunk))
        return 0;
    const mg_js_span *choices = one(&chunk, "choices", MG_JS_ARRAY), *v;
    if (!choices || !none(&chunk, "usage") || lookup(&chunk, "error", &v) != 0 ||
        (v && (v->type == MG_JS_OBJECT || v->type == MG_JS_ARRAY)))
        return 0;
    if (!single_object(choices, &choice) || lookup(&choice, "index", &v) != 0 ||
        (v && !is_literal(v, "0")) || !none(&choice, "finish_reason"))
        return 0;
    const mg_js_span *d = one(&choice, "delta", MG_JS_OBJECT);
    if (!object_at(d, &delta))
        return 0;
    if (!none(&delta, "reasoning_content") || !none(&delta, "reasoning") ||
        !none(&delta, "refusal") || !none(&delta, "tool_calls"))
        return 0;
    return nonempty_text(one(&delta, "content", MG_JS_STRING), text);
}

/* Anthropic: a content_block_delta of the lane's block carrying a
 * text_delta. up_index < 0: any block (the shape alone). */
static int anthropic_text(long long up_index, const char *data, size_t dlen, mg_js_span *text)
{
    mg_js_object ev, delta;
    mg_js_error err;
    long long index;
    if (mg_js_scan(data, dlen, &ev, &err) != MG_OK || !plain_keys(&ev) ||
        !is_literal(one(&ev, "type", MG_JS_STRING), "\"content_block_delta\""))
        return 0;
    if (!mg_js_int(one(&ev, "index", MG_JS_NUMBER), &index) ||
        (up_index >= 0 && index != up_index))
        return 0;
    const mg_js_span *d = one(&ev, "delta", MG_JS_OBJECT);
    if (!object_at(d, &delta) || !is_literal(one(&delta, "type", MG_JS_STRING), "\"text_delta\""))
        return 0;
    return nonempty_text(one(&delta, "text", MG_JS_STRING), text);
}

int mg_px_lane_match(int up_format, long long up_index, const char *data, size_t dlen,
                     mg_js_span *text)
{
    if (up_format == MG_FMT_OPENAI)
        return openai_text(data, dlen, text);
    if (up_format == MG_FMT_ANTHROPIC)
        return anthropic_text(up_index, data, dlen, text);
    return 0;
}

static void remember_template(mg_px_lane *lane, const char *data, size_t dlen,
                              const mg_js_span *text)
{
    size_t head = (size_t)(text->p - data), tail = dlen - head - text->n;
    mg_buf_reset(&lane->tpl_head);
    mg_buf_append(&lane->tpl_head, data, head);
    mg_buf_reset(&lane->tpl_tail);
    mg_buf_append(&lane->tpl_tail, text->p + text->n, tail);
    lane->tpl_ok = 1;
}

/* data is the template's bytes around one valid, non-empty JSON string. */
static int template_match(const mg_px_lane *lane, const char *data, size_t dlen,
                          mg_js_span *text)
{
    size_t head = lane->tpl_head.len, tail = lane->tpl_tail.len;
    if (dlen < head + tail + 3 || memcmp(data, lane->tpl_head.data, head) != 0 ||
        memcmp(data + dlen - tail, lane->tpl_tail.data, tail) != 0)
        return 0;
    const char *s = data + head;
    size_t n = dlen - head - tail;
    mg_js_object one_string;
    if (s[0] != '"' || s[n - 1] != '"' || mg_js_scan(s, n, &one_string, NULL) != MG_OK ||
        one_string.whole.type != MG_JS_STRING || one_string.whole.n != n)
        return 0;
    *text = (mg_js_span){s, n, MG_JS_STRING};
    return 1;
}

int mg_px_lane_match_cached(mg_px_lane *lane, int up_format, long long up_index,
                            const char *data, size_t dlen, mg_js_span *text)
{
    if (up_format != MG_FMT_OPENAI)
        return mg_px_lane_match(up_format, up_index, data, dlen, text);
    if (lane->tpl_ok && template_match(lane, data, dlen, text))
        return 1;
    if (!mg_px_lane_match(up_format, up_index, data, dlen, text))
        return 0;
    remember_template(lane, data, dlen, text);
    return 1;
}

void mg_px_convert_stream_event(mg_px *px, const char *event, size_t elen, const char *data,
                                size_t dlen, mg_buf *out)
{
    mg_px_lane *lane = px->conv_lane;
    mg_js_span text;
    /* With events queued, the lane may open once Lua has seen them: a
     * text delta is worth flushing for (its block is checked after). */
    if (!lane || !(lane->on || px->conv_nbatch) ||
        !mg_px_lane_match_cached(lane, px->up_format, px->conv_nbatch ? -1 : lane->up_index,
                                 data, dlen, &text))
        goto queue;
    if (px->conv_nbatch) {
        mg_px_convert_stream_flush(px, out); /* brings the lane up to date */
        if (!lane->on ||
            !mg_px_lane_match_cached(lane, px->up_format, lane->up_index, data, dlen, &text))
            goto queue;
    }
    mg_buf_append(out, lane->prefix.data, lane->prefix.len);
    mg_buf_append(out, text.p, text.n);
    mg_buf_append(out, lane->suffix.data, lane->suffix.len);
    return;
queue:
    mg_px_convert_stream_queue(px, event, elen, data, dlen);
}

void mg_px_lane_free(mg_px_lane *lane)
{
    if (!lane)
        return;
    mg_buf_free(&lane->prefix);
    mg_buf_free(&lane->suffix);
    mg_buf_free(&lane->tpl_head);
    mg_buf_free(&lane->tpl_tail);
    free(lane);
}
