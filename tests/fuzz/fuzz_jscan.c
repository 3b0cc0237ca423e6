/* fuzz_jscan.c — the validating JSON scanner that reads every request
 * body (src/core/jscan.c), against jansson as the reference: whatever
 * jansson accepts (duplicate keys refused) the scanner accepts; whatever
 * the scanner accepts, jansson accepts unless its reason is one the
 * scanner leaves to providers (nested duplicates, number range) or a NUL
 * byte, where jansson stops reading. Every
 * member span must lie inside the text and decode; splicing a member's
 * value with itself must give the text back. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/jscan.h"

static void check_members(const char *s, size_t len, const mg_js_object *o)
{
    for (size_t k = 0; k < o->n; k++) {
        const mg_js_member *m = &o->members[k];
        if (m->key.p < s || m->key.p + m->key.n > s + len || m->value.p < s ||
            m->value.p + m->value.n > s + len || m->value.n == 0) {
            fprintf(stderr, "member %zu: span outside the text\n", k);
            abort();
        }
        char *key = mg_js_strdup(&m->key);
        /* A key finds its own member (lookups are by short names: keys that
         * decode to 256 bytes or more are never looked up). */
        if (!key || (strlen(key) < 256 && mg_js_get(o, key) == NULL)) {
            fprintf(stderr, "member %zu: key %.*s not found by its decoded name\n", k,
                    (int)m->key.n, m->key.p);
            abort();
        }
        free(key);
        /* A nested object indexes too, unless it repeats a key of its own
         * (allowed below the top level, refused when indexed). */
        mg_js_object sub;
        mg_js_error why;
        if (m->value.type == MG_JS_OBJECT &&
            mg_js_scan(m->value.p, m->value.n, &sub, &why) != MG_OK &&
            !strstr(why.text, "duplicate")) {
            fprintf(stderr, "member %zu: object value does not index: %s\n", k, why.text);
            abort();
        }
        mg_js_edit e = {(size_t)(m->value.p - s), m->value.n, m->value.p, m->value.n};
        mg_buf out = {0};
        mg_js_apply(s, len, &e, 1, &out);
        if (out.len != len || memcmp(out.data, s, len) != 0) {
            fprintf(stderr, "member %zu: splicing the value with itself changed the text\n", k);
            abort();
        }
        mg_buf_free(&out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    mg_js_object o;
    mg_js_error e;
    int ours = mg_js_scan(s, size, &o, &e) == MG_OK;
    json_error_t je;
    json_t *j = json_loadb(s, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    int theirs = j != NULL;
    if (j)
        json_decref(j);
    int excused = !theirs && (strstr(je.text, "uplicate") || strstr(je.text, "too big") ||
                              strstr(je.text, "overflow") || strstr(je.text, "depth"));
    /* jansson stops at a NUL byte as if the text ended there; the scanner
     * refuses it, as a request body with one is not JSON. */
    if (theirs && !ours && !memchr(s, '\0', size)) {
        fprintf(stderr, "jscan refused what jansson accepts: %s (line %d col %d)\n", e.text,
                e.line, e.column);
        abort();
    }
    if (ours && !theirs && !excused) {
        fprintf(stderr, "jscan accepted what jansson refuses: %s\n", je.text);
        abort();
    }
    if (ours)
        check_members(s, size, &o);
    return 0;
}
