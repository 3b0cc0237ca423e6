/* jscan.h — a validating JSON scanner that builds no tree. The proxy path
 * needs a handful of top-level fields of every request body (model,
 * stream, max_tokens, ...) and must refuse any body that is not valid JSON;
 * parsing the whole body into a jansson tree for that cost more than a
 * tenth of the gateway's instructions per request. mg_js_scan checks the
 * whole text (grammar, UTF-8, escapes, depth) in one pass without
 * allocating and indexes the members of the top-level object as spans
 * into the text; nested objects are indexed the same way on demand.
 * Uses core buf (decoded strings, edits). */
#ifndef MG_CORE_JSCAN_H
#define MG_CORE_JSCAN_H

#include <stddef.h>

#include "buf.h"

#define MG_JS_MAX_DEPTH 2048  /* as jansson: deeper nesting is refused */
#define MG_JS_MAX_MEMBERS 32  /* top-level members indexed; more are checked, not kept */

typedef enum mg_js_type {
    MG_JS_NONE = 0,
    MG_JS_OBJECT,
    MG_JS_ARRAY,
    MG_JS_STRING,
    MG_JS_NUMBER,
    MG_JS_TRUE,
    MG_JS_FALSE,
    MG_JS_NULL,
} mg_js_type;

/* A value in the text: p points at its first byte (the quote of a string,
 * the brace of an object), n covers it whole. */
typedef struct mg_js_span {
    const char *p;
    size_t n;
    mg_js_type type;
} mg_js_span;

typedef struct mg_js_member {
    mg_js_span key; /* the key's string, quotes included */
    mg_js_span value;
} mg_js_member;

/* The members of one object. Keys compare by their decoded text, so
 * "mod\u0065l" is "model" (duplicates are refused on that basis). */
typedef struct mg_js_object {
    mg_js_span whole;
    mg_js_member members[MG_JS_MAX_MEMBERS];
    size_t n;        /* members indexed */
    size_t total;    /* members in the object */
} mg_js_object;

typedef struct mg_js_error {
    int line, column; /* 1-based, where the problem was found */
    char text[96];
} mg_js_error;

/* The type of the JSON value that starts with byte c (MG_JS_NONE when no
 * value can start so). */
mg_js_type mg_js_type_at(char c);

/* Validates s[0..len) as one JSON object (surrounding whitespace allowed)
 * and indexes its members. Refuses invalid grammar or UTF-8, lone
 * surrogates, \u0000, nesting past MG_JS_MAX_DEPTH and duplicate
 * top-level keys. MG_OK or MG_ERR with err filled. */
int mg_js_scan(const char *s, size_t len, mg_js_object *out, mg_js_error *err);

/* Like mg_js_scan for the one value at the start of s; what follows it is
 * not looked at. *used: the value's end. */
int mg_js_scan_prefix(const char *s, size_t len, mg_js_object *out, size_t *used);

/* Indexes a nested object span already validated by mg_js_scan. */
int mg_js_object_of(const mg_js_span *v, mg_js_object *out);

/* The member named key, or NULL. */
const mg_js_span *mg_js_get(const mg_js_object *o, const char *key);

/* A string value decoded (escapes resolved) into a new string the caller
 * frees, or NULL when v is not a string. */
char *mg_js_strdup(const mg_js_span *v);

/* An integer value (no fraction or exponent, in range): 1, else 0. */
int mg_js_int(const mg_js_span *v, long long *out);

int mg_js_is_true(const mg_js_span *v);

/* Edits of a text, applied in one copy: replace [at, at+cut) with text. */
typedef struct mg_js_edit {
    size_t at, cut;
    const char *text;
    size_t len;
} mg_js_edit;

/* Writes src with the edits applied into out; edits sorted by at and not
 * overlapping. */
void mg_js_apply(const char *src, size_t len, const mg_js_edit *edits, size_t nedits,
                 mg_buf *out);

#endif
