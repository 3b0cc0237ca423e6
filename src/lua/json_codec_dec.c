/* json_codec_dec.c — moongate.jsonc's decoder: JSON text straight into
 * Lua tables, exactly as json.lua's Lua decoder reads it. Every array gets
 * the array metatable, objects are plain tables (a repeated key: the last
 * wins), null is lightuserdata NULL (cjson.null), numbers are doubles
 * (RFC 8259 syntax only), \u escapes become UTF-8 with lone surrogates as
 * U+FFFD, raw bytes in strings pass through, nesting stops at 1000, and
 * only whitespace may follow the value. Errors say what and where.
 * strtod assumes the C locale (the host never calls setlocale).
 * Uses LuaJIT's C API. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_codec_int.h"

/* One decode's state. */
typedef struct jdec {
    lua_State *L;
    const char *s, *p, *end; /* the text, the cursor, one past the end */
    int mt;                  /* stack index of the array metatable */
    const char *what, *at;   /* on failure: what was wrong, and where */
} jdec;

static int dec_fail(jdec *d, const char *at, const char *what)
{
    d->at = at;
    d->what = what;
    return -1;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* The value of 4 hex digits at p, or -1. */
static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], h;
        if (c >= '0' && c <= '9')
            h = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            h = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Writes the string body p..q (escapes already checked by dec_string) to
 * out, which has room for q - p bytes: no escape decodes longer than it is
 * written. Returns the end of the output. */
static char *unescape(const char *p, const char *q, char *out)
{
    while (p < q) {
        const char *bs = memchr(p, '\\', (size_t)(q - p));
        if (!bs)
            bs = q;
        memcpy(out, p, (size_t)(bs - p));
        out += bs - p;
        p = bs;
        if (p == q)
            break;
        char c = p[1];
        p += 2;
        switch (c) {
        case 'b': *out++ = '\b'; continue;
        case 'f': *out++ = '\f'; continue;
        case 'n': *out++ = '\n'; continue;
        case 'r': *out++ = '\r'; continue;
        case 't': *out++ = '\t'; continue;
        case 'u': break;
        default: *out++ = c; continue; /* " \ / */
        }
        unsigned cp = (unsigned)hex4(p);
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            int lo = q - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
                p += 6;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        out = put_utf8(out, cp);
    }
    return out;
}

/* d->p is just past the opening quote; pushes the string. */
static int dec_string(jdec *d)
{
    const char *p = d->p, *q, *end = d->end;
    /* Most strings have no escape: two memchr passes find that out. */
    q = memchr(p, '"', (size_t)(end - p));
    if (q && !memchr(p, '\\', (size_t)(q - p))) {
        d->p = q + 1;
        lua_pushlstring(d->L, p, (size_t)(q - p));
        return 0;
    }
    q = p;
    for (;;) {
        if (q >= end)
            return dec_fail(d, p - 1, "unterminated string");
        char c = *q;
        if (c == '"')
            break;
        if (c != '\\') {
            q++;
            continue;
        }
        c = q + 1 < end ? q[1] : 0;
        if (c == 'u') {
            if (end - q < 6 || hex4(q + 2) < 0)
                return dec_fail(d, q, "invalid \\u escape");
            q += 6;
        } else if (c && strchr("\"\\/bfnrt", c)) {
            q += 2;
        } else {
            return dec_fail(d, q, "invalid escape");
        }
    }
    d->p = q + 1;
    char small[512];
    small[0] = '\0'; /* quiets gcc's maybe-uninitialized; unescape writes it */
    size_t room = (size_t)(q - p);
    char *out = room <= sizeof small ? small : lua_newuserdata(d->L, room);
    char *out_end = unescape(p, q, out);
    lua_pushlstring(d->L, out, (size_t)(out_end - out));
    if (out != small)
        lua_remove(d->L, -2);
    return 0;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A number, strictly -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. Up to
 * 19 significant digits are gathered in mant; with no digit dropped, mant
 * exact in a double and a power of ten up to 22, one multiply or divide is
 * correctly rounded. Anything else goes to strtod. */
static int dec_number(jdec *d)
{
    const char *start = d->p, *p = start, *end = d->end;
    uint64_t mant = 0;
    int sig = 0, scale = 0, expo = 0, exp_neg = 0, dropped = 0, neg = *p == '-';
    if (neg)
        p++;
    if (!is_digit(p, end))
        return dec_fail(d, start, "invalid number");
    if (*p == '0') {
        p++;
    } else {
        for (; is_digit(p, end); p++) {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                sig++;
            } else {
                scale++;
                dropped = 1;
            }
        }
    }
    if (p < end && *p == '.') {
        if (!is_digit(++p, end))
            return dec_fail(d, start, "invalid number");
        for (; is_digit(p, end); p++) {
            if (sig == 0 && *p == '0') {
                scale--; /* a leading zero: 0.00x */
            } else if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                sig++;
                scale--;
            } else {
                dropped = 1;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            exp_neg = *p++ == '-';
        if (!is_digit(p, end))
            return dec_fail(d, start, "invalid number");
        for (; is_digit(p, end); p++)
            expo = expo < 100000 ? expo * 10 + (*p - '0') : expo;
    }
    d->p = p;
    int e10 = scale + (exp_neg ? -expo : expo);
    double v;
    if (!dropped && mant <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
        v = e10 >= 0 ? (double)mant * pow10_exact[e10] : (double)mant / pow10_exact[-e10];
        v = neg ? -v : v;
    } else {
        /* A NUL-terminated copy, so strtod reads exactly the token. */
        size_t n = (size_t)(p - start);
        char small[64];
        char *tmp = n < sizeof small ? small : lua_newuserdata(d->L, n + 1);
        memcpy(tmp, start, n);
        tmp[n] = '\0';
        v = strtod(tmp, NULL);
        if (tmp != small)
            lua_pop(d->L, 1);
    }
    lua_pushnumber(d->L, v);
    return 0;
}

static int dec_value(jdec *d, int depth);

static int dec_open(jdec *d, int depth, int narr)
{
    if (depth >= MG_LUA_JSONC_DECODE_MAX_DEPTH)
        return dec_fail(d, d->p, "nesting deeper than 1000");
    if (!lua_checkstack(d->L, 4))
        return dec_fail(d, d->p, "nesting too deep for the Lua stack");
    lua_createtable(d->L, narr, narr ? 0 : 4);
    d->p = skip_ws(d->p + 1, d->end);
    return 0;
}

static int dec_array(jdec *d, int depth)
{
    lua_State *L = d->L;
    if (dec_open(d, depth, 2) != 0)
        return -1;
    int t = lua_gettop(L);
    lua_pushvalue(L, d->mt);
    lua_setmetatable(L, t);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        return 0;
    }
    for (int n = 1;; n++) {
        if (dec_value(d, depth + 1) != 0)
            return -1;
        lua_rawseti(L, t, n);
        d->p = skip_ws(d->p, d->end);
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            return 0;
        }
        if (d->p >= d->end || *d->p != ',')
            return dec_fail(d, d->p, "expected ',' or ']'");
        d->p++;
    }
}

static int dec_object(jdec *d, int depth)
{
    lua_State *L = d->L;
    if (dec_open(d, depth, 0) != 0)
        return -1;
    int t = lua_gettop(L);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        return 0;
    }
    for (;;) {
        if (d->p >= d->end || *d->p != '"')
            return dec_fail(d, d->p, "expected a string key");
        d->p++;
        if (dec_string(d) != 0)
            return -1;
        d->p = skip_ws(d->p, d->end);
        if (d->p >= d->end || *d->p != ':')
            return dec_fail(d, d->p, "expected ':'");
        d->p++;
        if (dec_value(d, depth + 1) != 0)
            return -1;
        lua_rawset(L, t);
        d->p = skip_ws(d->p, d->end);
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            return 0;
        }
        if (d->p >= d->end || *d->p != ',')
            return dec_fail(d, d->p, "expected ',' or '}'");
        d->p = skip_ws(d->p + 1, d->end);
    }
}

static int dec_literal(jdec *d, const char *word, size_t n)
{
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return dec_fail(d, d->p, "expected a value");
    d->p += n;
    return 0;
}

static int dec_value(jdec *d, int depth)
{
    lua_State *L = d->L;
    d->p = skip_ws(d->p, d->end);
    if (d->p >= d->end)
        return dec_fail(d, d->p, "expected a value");
    switch (*d->p) {
    case '{':
        return dec_object(d, depth);
    case '[':
        return dec_array(d, depth);
    case '"':
        d->p++;
        return dec_string(d);
    case 't':
        if (dec_literal(d, "true", 4) != 0)
            return -1;
        lua_pushboolean(L, 1);
        return 0;
    case 'f':
        if (dec_literal(d, "false", 5) != 0)
            return -1;
        lua_pushboolean(L, 0);
        return 0;
    case 'n':
        if (dec_literal(d, "null", 4) != 0)
            return -1;
        lua_pushlightuserdata(L, NULL);
        return 0;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return dec_number(d);
    default:
        return dec_fail(d, d->p, "expected a value");
    }
}

int mg_lua_jsonc_decode(lua_State *L, const char *s, size_t len, int mt, const char **what,
                        size_t *pos)
{
    jdec d = {.L = L, .s = s, .p = s, .end = s + len, .mt = mt};
    if (dec_value(&d, 0) == 0) {
        d.p = skip_ws(d.p, d.end);
        if (d.p == d.end)
            return 0;
        dec_fail(&d, d.p, "trailing data after the value");
    }
    *what = d.what;
    *pos = (size_t)(d.at - d.s) + 1;
    return -1;
}
