/* jscan.c — the validating scanner of jscan.h: one pass, no allocation,
 * an explicit stack of open containers (so hostile nesting cannot grow
 * the C stack), spans for the top-level object's members. */
#include "jscan.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define NO_MEMBER SIZE_MAX

typedef struct scan {
    const char *s;
    size_t len, i;
    mg_js_error *err;
    mg_js_object *top;
    uint64_t escaped_keys; /* bit k: top-level key k has a backslash */
} scan;

static int fail(scan *sc, const char *what)
{
    int line = 1, col = 1;
    for (size_t k = 0; k < sc->i && k < sc->len; k++) {
        if (sc->s[k] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)sc->s[k] & 0xc0) != 0x80) {
            col++; /* count characters, not UTF-8 continuation bytes */
        }
    }
    if (sc->err) {
        sc->err->line = line;
        sc->err->column = col;
        snprintf(sc->err->text, sizeof sc->err->text, "%s", what);
    }
    return MG_ERR;
}

static void skip_ws(scan *sc)
{
    while (sc->i < sc->len) {
        char c = sc->s[sc->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        sc->i++;
    }
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Length of the valid UTF-8 sequence at p (at most left bytes), 0 when
 * invalid: overlong forms, surrogates and code points past U+10FFFF too. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (left < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return n;
}

static int scan_escape(scan *sc)
{
    const char *s = sc->s;
    sc->i++; /* the backslash */
    if (sc->i >= sc->len)
        return fail(sc, "unterminated string");
    char e = s[sc->i];
    if (e && strchr("\"\\/bfnrt", e)) {
        sc->i++;
        return MG_OK;
    }
    if (e != 'u')
        return fail(sc, "invalid escape in a string");
    unsigned cp;
    if (sc->len - sc->i < 5 || !hex4(s + sc->i + 1, &cp))
        return fail(sc, "invalid \\u escape");
    sc->i += 5;
    if (cp == 0)
        return fail(sc, "\\u0000 is not allowed in strings");
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(sc, "invalid Unicode: a lone low surrogate");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        unsigned lo;
        if (sc->len - sc->i < 6 || s[sc->i] != '\\' || s[sc->i + 1] != 'u' ||
            !hex4(s + sc->i + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return fail(sc, "invalid Unicode: a high surrogate without its low half");
        sc->i += 6;
    }
    return MG_OK;
}

/* 1 for bytes that stand for themselves inside a string: not '"', '\\',
 * a control character or the start of a multi-byte UTF-8 sequence. */
static const unsigned char plain_byte[256] = {
#define P4 1, 1, 1, 1
#define P16 P4, P4, P4, P4
    /* 0x00-0x1f */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20-0x2f */ 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x30-0x5b */ P16, P16, P4, P4, P4,
    /* 0x5c '\\' */ 0,
    /* 0x5d-0x7f */ 1, 1, 1, P16, P16,
#undef P16
#undef P4
};

static int scan_string(scan *sc)
{
    const unsigned char *s = (const unsigned char *)sc->s;
    sc->i++; /* the opening quote */
    while (sc->i < sc->len) {
        /* Most string bytes are plain ASCII: skip runs of them first. */
        size_t i = sc->i, len = sc->len;
        while (i < len && plain_byte[s[i]])
            i++;
        sc->i = i;
        if (i == len)
            break;
        unsigned char c = s[sc->i];
        if (c == '"') {
            sc->i++;
            return MG_OK;
        }
        if (c < 0x20)
            return fail(sc, "control character in a string");
        if (c == '\\') {
            if (scan_escape(sc) != MG_OK)
                return MG_ERR;
        } else if (c >= 0x80) {
            size_t n = utf8_len(s + sc->i, sc->len - sc->i);
            if (n == 0)
                return fail(sc, "invalid UTF-8 in a string");
            sc->i += n;
        } else {
            sc->i++;
        }
    }
    return fail(sc, "unterminated string");
}

static int digits(scan *sc)
{
    size_t from = sc->i;
    while (sc->i < sc->len && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
        sc->i++;
    return sc->i > from;
}

static int scan_number(scan *sc)
{
    const char *s = sc->s;
    if (s[sc->i] == '-')
        sc->i++;
    if (sc->i < sc->len && s[sc->i] == '0')
        sc->i++;
    else if (!digits(sc))
        return fail(sc, "invalid number");
    if (sc->i < sc->len && s[sc->i] == '.') {
        sc->i++;
        if (!digits(sc))
            return fail(sc, "invalid number: digits must follow the point");
    }
    if (sc->i < sc->len && (s[sc->i] == 'e' || s[sc->i] == 'E')) {
        sc->i++;
        if (sc->i < sc->len && (s[sc->i] == '+' || s[sc->i] == '-'))
            sc->i++;
        if (!digits(sc))
            return fail(sc, "invalid number: digits must follow the exponent");
    }
    return MG_OK;
}

static int scan_literal(scan *sc, const char *word)
{
    size_t n = strlen(word);
    if (sc->len - sc->i < n || memcmp(sc->s + sc->i, word, n) != 0)
        return fail(sc, "invalid literal");
    sc->i += n;
    return MG_OK;
}

mg_js_type mg_js_type_at(char c)
{
    switch (c) {
    case '{': return MG_JS_OBJECT;
    case '[': return MG_JS_ARRAY;
    case '"': return MG_JS_STRING;
    case 't': return MG_JS_TRUE;
    case 'f': return MG_JS_FALSE;
    case 'n': return MG_JS_NULL;
    default: return (c == '-' || (c >= '0' && c <= '9')) ? MG_JS_NUMBER : MG_JS_NONE;
    }
}

static int scan_scalar(scan *sc, mg_js_type t)
{
    switch (t) {
    case MG_JS_STRING: return scan_string(sc);
    case MG_JS_NUMBER: return scan_number(sc);
    case MG_JS_TRUE: return scan_literal(sc, "true");
    case MG_JS_FALSE: return scan_literal(sc, "false");
    case MG_JS_NULL: return scan_literal(sc, "null");
    default: return fail(sc, "expected a value");
    }
}

/* ---- keys ------------------------------------------------------------------ */

static size_t utf8_encode(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes a string span (quotes included) into out (at most cap bytes);
 * returns the decoded length, or SIZE_MAX when it does not fit. */
static size_t decode_into(const mg_js_span *v, char *out, size_t cap)
{
    const char *p = v->p + 1, *end = v->p + v->n - 1;
    size_t n = 0;
    while (p < end) {
        char tmp[4];
        size_t k = 1;
        tmp[0] = *p;
        if (*p != '\\') {
            p++;
        } else if (p[1] != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *f = strchr(from, p[1]);
            tmp[0] = f ? to[f - from] : p[1];
            p += 2;
        } else {
            unsigned cp = 0, lo = 0;
            hex4(p + 2, &cp);
            p += 6;
            if (cp >= 0xd800 && cp <= 0xdbff && hex4(p + 2, &lo)) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            k = utf8_encode(cp, tmp);
        }
        if (n + k > cap)
            return SIZE_MAX;
        memcpy(out + n, tmp, k);
        n += k;
    }
    return n;
}

static int key_is(const mg_js_span *key, const char *name, size_t len)
{
    if (!memchr(key->p, '\\', key->n))
        return key->n == len + 2 && memcmp(key->p + 1, name, len) == 0;
    char buf[256];
    size_t n = decode_into(key, buf, sizeof buf);
    return n == len && memcmp(buf, name, len) == 0;
}

static int keys_equal(const mg_js_span *a, const mg_js_span *b)
{
    if (!memchr(b->p, '\\', b->n))
        return key_is(a, b->p + 1, b->n - 2);
    char buf[256];
    size_t n = decode_into(b, buf, sizeof buf);
    return n != SIZE_MAX ? key_is(a, buf, n) : a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/* Keys without escapes (nearly all) are equal only byte for byte; the
 * decoding comparison is for pairs where either side has a backslash.
 * sc->escaped_keys remembers which stored keys had one. */
_Static_assert(MG_JS_MAX_MEMBERS <= 64, "escaped_keys has a bit per stored key");

static int note_key(scan *sc, size_t from)
{
    mg_js_object *o = sc->top;
    mg_js_span key = {sc->s + from, sc->i - from, MG_JS_STRING};
    int escaped = memchr(key.p, '\\', key.n) != NULL;
    for (size_t k = 0; k < o->n; k++) {
        const mg_js_span *old = &o->members[k].key;
        int same = escaped || ((sc->escaped_keys >> k) & 1)
                       ? keys_equal(old, &key)
                       : old->n == key.n && memcmp(old->p, key.p, key.n) == 0;
        if (same) {
            sc->i = from;
            return fail(sc, "duplicate key in the object");
        }
    }
    if (o->n < MG_JS_MAX_MEMBERS)
        o->members[o->n].key = key;
    if (escaped && o->n < MG_JS_MAX_MEMBERS)
        sc->escaped_keys |= (uint64_t)1 << o->n;
    o->total++;
    return MG_OK;
}

/* A member's key and colon; at the top level the key is indexed. */
static int scan_key(scan *sc, int top_level)
{
    skip_ws(sc);
    if (sc->i >= sc->len || sc->s[sc->i] != '"')
        return fail(sc, sc->i >= sc->len ? "unexpected end of input" : "expected a string key");
    size_t from = sc->i;
    if (scan_string(sc) != MG_OK)
        return MG_ERR;
    if (top_level && sc->top && note_key(sc, from) != MG_OK)
        return MG_ERR;
    skip_ws(sc);
    if (sc->i >= sc->len || sc->s[sc->i] != ':')
        return fail(sc, "expected ':' after a key");
    sc->i++;
    return MG_OK;
}

/* ---- the scan ---------------------------------------------------------------- */

static void close_member(scan *sc, size_t *mstart, mg_js_type mtype)
{
    mg_js_object *o = sc->top;
    if (*mstart != NO_MEMBER && o && o->total - 1 < MG_JS_MAX_MEMBERS) {
        mg_js_span *v = &o->members[o->total - 1].value;
        v->p = sc->s + *mstart;
        v->n = sc->i - *mstart;
        v->type = mtype;
        o->n = o->total;
    }
    *mstart = NO_MEMBER;
}

static int scan_doc(const char *s, size_t len, mg_js_object *out, mg_js_error *err, size_t *used)
{
    scan sc = {s, len, 0, err, out, 0};
    char stack[MG_JS_MAX_DEPTH]; /* '{' or '[' per open container */
    size_t depth = 0, mstart = NO_MEMBER, vstart0 = 0;
    mg_js_type mtype = MG_JS_NONE;
    if (out)
        memset(&out->whole, 0, sizeof out->whole), out->n = out->total = 0;
    for (;;) {
        /* A value starts here. */
        skip_ws(&sc);
        if (sc.i >= len)
            return fail(&sc, "unexpected end of input");
        mg_js_type t = mg_js_type_at(s[sc.i]);
        if (depth == 0)
            vstart0 = sc.i;
        if (depth == 1 && stack[0] == '{') {
            mstart = sc.i;
            mtype = t;
        }
        if (t == MG_JS_OBJECT || t == MG_JS_ARRAY) {
            if (depth == MG_JS_MAX_DEPTH)
                return fail(&sc, "JSON nested too deeply (more than 2048 levels)");
            char open = s[sc.i++];
            stack[depth++] = open;
            skip_ws(&sc);
            if (sc.i < len && s[sc.i] == (open == '{' ? '}' : ']')) {
                sc.i++;
                depth--;
            } else {
                if (open == '{' && scan_key(&sc, depth == 1) != MG_OK)
                    return MG_ERR;
                continue;
            }
        } else if (scan_scalar(&sc, t) != MG_OK) {
            return MG_ERR;
        }
        /* A value ended: close what it completes, then find the next one. */
        for (;;) {
            if (depth == 1 && stack[0] == '{')
                close_member(&sc, &mstart, mtype);
            if (depth == 0) {
                if (out)
                    out->whole = (mg_js_span){s + vstart0, sc.i - vstart0,
                                              mg_js_type_at(s[vstart0])};
                if (used) {
                    *used = sc.i;
                    return MG_OK;
                }
                skip_ws(&sc);
                if (sc.i != len)
                    return fail(&sc, "unexpected text after the JSON value");
                return MG_OK;
            }
            skip_ws(&sc);
            if (sc.i >= len)
                return fail(&sc, "unexpected end of input");
            char c = s[sc.i], open = stack[depth - 1];
            if (c == ',') {
                sc.i++;
                if (open == '{' && scan_key(&sc, depth == 1) != MG_OK)
                    return MG_ERR;
                break;
            }
            if (c != (open == '{' ? '}' : ']'))
                return fail(&sc, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
            sc.i++;
            depth--;
        }
    }
}

int mg_js_scan(const char *s, size_t len, mg_js_object *out, mg_js_error *err)
{
    return scan_doc(s, len, out, err, NULL);
}

int mg_js_scan_prefix(const char *s, size_t len, mg_js_object *out, size_t *used)
{
    return scan_doc(s, len, out, NULL, used);
}

int mg_js_object_of(const mg_js_span *v, mg_js_object *out)
{
    if (!v || v->type != MG_JS_OBJECT)
        return MG_ERR;
    return mg_js_scan(v->p, v->n, out, NULL);
}

const mg_js_span *mg_js_get(const mg_js_object *o, const char *key)
{
    size_t len = strlen(key);
    for (size_t k = 0; o && k < o->n; k++)
        if (key_is(&o->members[k].key, key, len))
            return &o->members[k].value;
    return NULL;
}

char *mg_js_strdup(const mg_js_span *v)
{
    if (!v || v->type != MG_JS_STRING)
        return NULL;
    char *out = mg_xmalloc(v->n); /* decoding never grows a string */
    size_t n = decode_into(v, out, v->n);
    out[n == SIZE_MAX ? 0 : n] = '\0';
    return out;
}

int mg_js_int(const mg_js_span *v, long long *out)
{
    char buf[32];
    if (!v || v->type != MG_JS_NUMBER || v->n >= sizeof buf || memchr(v->p, '.', v->n) ||
        memchr(v->p, 'e', v->n) || memchr(v->p, 'E', v->n))
        return 0;
    memcpy(buf, v->p, v->n);
    buf[v->n] = '\0';
    errno = 0;
    long long x = strtoll(buf, NULL, 10);
    if (errno == ERANGE)
        return 0;
    *out = x;
    return 1;
}

int mg_js_is_true(const mg_js_span *v) { return v && v->type == MG_JS_TRUE; }

void mg_js_apply(const char *src, size_t len, const mg_js_edit *edits, size_t nedits,
                 mg_buf *out)
{
    size_t at = 0;
    mg_buf_reserve(out, len + 64);
    for (size_t k = 0; k < nedits; k++) {
        mg_buf_append(out, src + at, edits[k].at - at);
        mg_buf_append(out, edits[k].text, edits[k].len);
        at = edits[k].at + edits[k].cut;
    }
    mg_buf_append(out, src + at, len - at);
}
