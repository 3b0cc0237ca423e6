/* json_codec_enc.c — moongate.jsonc's encoder: a Lua value to JSON text
 * in the codec's buffer, exactly as json.lua's Lua encoder writes it. A
 * table is an array when it carries the array metatable (length #t) or is
 * a non-empty sequence, else an object whose string and number keys
 * (tostring(k)) are written in lua_next order; other keys are skipped.
 * Non-finite numbers, nil and null (lightuserdata NULL) are null; integral
 * numbers below 1e15 are integers, others "%.14g" or, when that does not
 * read back, "%.17g" with LuaJIT's rounding. Strings: " \ \b \f \n \r \t
 * short, other control bytes and 0x7f as \u00xx, all else verbatim.
 * Functions, threads, userdata and nesting deeper than 200 are errors.
 * snprintf/strtod assume the C locale (the host never calls setlocale).
 * Uses LuaJIT's C API. */
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_codec_int.h"

/* Per byte: 0 verbatim, else the letter after the backslash ('u': \u00xx). */
static const char escape_letter[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\', [0x7f] = 'u',
};

/* One encode's state. */
typedef struct jenc {
    lua_State *L;
    mg_lua_jsonc_buf *b;
    int mt;          /* index of the array metatable */
    const char *err; /* on failure: the message, static or in msg */
    char *msg;
    size_t msglen;
} jenc;

static int enc_fail(jenc *e, const char *msg)
{
    e->err = msg;
    return -1;
}

static int put(jenc *e, const char *s, size_t n)
{
    if (mg_lua_jsonc_buf_reserve(e->b, n) != 0)
        return enc_fail(e, "json.encode: not enough memory");
    memcpy(e->b->data + e->b->len, s, n);
    e->b->len += n;
    return 0;
}

/* Room is made once for the plain string; an escape makes more as it goes. */
static int put_string(jenc *e, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    mg_lua_jsonc_buf *b = e->b;
    if (mg_lua_jsonc_buf_reserve(b, n + 2) != 0)
        return enc_fail(e, "json.encode: not enough memory");
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    for (;;) {
        size_t run = i;
        while (run < n && !escape_letter[s[run]])
            run++;
        memcpy(o, s + i, run - i);
        o += run - i;
        if (run == n)
            break;
        /* 6 bytes for the escape, then the rest and the closing quote */
        b->len = (size_t)(o - b->data);
        if (mg_lua_jsonc_buf_reserve(b, 6 + (n - run - 1) + 1) != 0)
            return enc_fail(e, "json.encode: not enough memory");
        o = b->data + b->len;
        char letter = escape_letter[s[run]];
        *o++ = '\\';
        *o++ = letter;
        if (letter == 'u') {
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[s[run] >> 4];
            *o++ = hex[s[run] & 15];
        }
        i = run + 1;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

/* When |v|'s exact decimal expansion has exactly 18 significant digits (the
 * last one a 5, so "%.17g" meets a tie), sets *digits18 to them and *xs to
 * the decimal exponent of the first; else 0. v = m * 2^-f with m odd has
 * the expansion m * 5^f * 10^-f, whose digits are those of m * 5^f. */
static int tie_at_17_digits(double v, uint64_t *digits18, int *xs)
{
    const uint64_t lo = 100000000000000000ull, hi = 10 * lo; /* 10^17, 10^18 */
    int e2;
    double fr = frexp(fabs(v), &e2);
    uint64_t m = (uint64_t)ldexp(fr, 53);
    int f = 53 - e2;
    while (f > 0 && !(m & 1)) {
        m >>= 1;
        f--;
    }
    if (f <= 0)
        return 0; /* an integer: below 2^53 it has at most 16 digits */
    for (int i = 0; i < f; i++) {
        if (m > hi / 5)
            return 0;
        m *= 5;
    }
    if (m < lo || m >= hi)
        return 0;
    *digits18 = m;
    *xs = 17 - f;
    return 1;
}

/* "%.17g" of a tie rounded half away from zero, as LuaJIT's string.format
 * does (glibc rounds half to even): q the 17 digits (below 10^17), xs the
 * decimal exponent of the first. Returns the length written to out (which
 * has room for 40). */
static int format_g17(char *out, int neg, uint64_t q, int xs)
{
    char dig[17], *o = out;
    for (int i = 16; i >= 0; i--) {
        dig[i] = (char)('0' + q % 10);
        q /= 10;
    }
    int nd = 17; /* %g drops trailing zeros */
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    if (neg)
        *o++ = '-';
    if (xs < -4 || xs >= 17) {
        *o++ = dig[0];
        if (nd > 1)
            *o++ = '.';
        for (int i = 1; i < nd; i++)
            *o++ = dig[i];
        *o++ = 'e';
        *o++ = xs < 0 ? '-' : '+';
        int ax = xs < 0 ? -xs : xs;
        if (ax >= 100)
            *o++ = (char)('0' + ax / 100);
        *o++ = (char)('0' + ax / 10 % 10);
        *o++ = (char)('0' + ax % 10);
    } else if (xs >= 0) {
        for (int i = 0; i <= xs; i++)
            *o++ = i < nd ? dig[i] : '0';
        if (nd > xs + 1)
            *o++ = '.';
        for (int i = xs + 1; i < nd; i++)
            *o++ = dig[i];
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -xs - 1; i++)
            *o++ = '0';
        for (int i = 0; i < nd; i++)
            *o++ = dig[i];
    }
    return (int)(o - out);
}

/* As json.lua: integers below 1e15 whole, else "%.14g" if it reads back,
 * else "%.17g" (with LuaJIT's rounding of ties). */
static int put_number(jenc *e, double v)
{
    char tmp[40];
    int n, xs;
    uint64_t digits18;
    if (!isfinite(v))
        return put(e, "null", 4);
    if (v > -1e15 && v < 1e15 && floor(v) == v) {
        long long i = (long long)v;
        unsigned long long u = i < 0 ? 0ull - (unsigned long long)i : (unsigned long long)i;
        char *p = tmp + sizeof tmp;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (i < 0)
            *--p = '-';
        return put(e, p, (size_t)(tmp + sizeof tmp - p));
    }
    n = snprintf(tmp, sizeof tmp, "%.14g", v);
    if (strtod(tmp, NULL) == v)
        return put(e, tmp, (size_t)n);
    if (tie_at_17_digits(v, &digits18, &xs)) {
        uint64_t q = digits18 / 10 + 1;
        if (q == 100000000000000000ull) { /* 99..9|5 carried into a new digit */
            q /= 10;
            xs++;
        }
        n = format_g17(tmp, v < 0, q, xs);
    } else {
        n = snprintf(tmp, sizeof tmp, "%.17g", v);
    }
    return put(e, tmp, (size_t)n);
}

static int enc_value(jenc *e, int idx, int depth);

/* A table without the array mark is an array when its keys are exactly 1..n. */
static int is_sequence(lua_State *L, int idx, size_t n)
{
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (++count > n) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return count == n;
}

static int enc_array(jenc *e, int idx, size_t n, int depth)
{
    lua_State *L = e->L;
    if (put(e, "[", 1) != 0)
        return -1;
    for (size_t i = 1; i <= n; i++) {
        if (i > 1 && put(e, ",", 1) != 0)
            return -1;
        lua_rawgeti(L, idx, (int)i);
        if (enc_value(e, lua_gettop(L), depth + 1) != 0)
            return -1;
        lua_pop(L, 1);
    }
    return put(e, "]", 1);
}

static int enc_key(jenc *e, int key)
{
    lua_State *L = e->L;
    size_t n;
    if (lua_type(L, key) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, key, &n);
        return put_string(e, (const unsigned char *)s, n);
    }
    /* A number key is written as tostring(k); convert a copy, since
     * converting the key itself would confuse lua_next. */
    lua_pushvalue(L, key);
    const char *s = lua_tolstring(L, -1, &n);
    int rc = put_string(e, (const unsigned char *)s, n);
    lua_pop(L, 1);
    return rc;
}

static int enc_object(jenc *e, int idx, int depth)
{
    lua_State *L = e->L;
    int first = 1;
    if (put(e, "{", 1) != 0)
        return -1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt == LUA_TSTRING || kt == LUA_TNUMBER) {
            if ((!first && put(e, ",", 1) != 0) || enc_key(e, lua_gettop(L) - 1) != 0 ||
                put(e, ":", 1) != 0 || enc_value(e, lua_gettop(L), depth + 1) != 0)
                return -1;
            first = 0;
        }
        lua_pop(L, 1);
    }
    return put(e, "}", 1);
}

static int enc_table(jenc *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (depth > MG_LUA_JSONC_ENCODE_MAX_DEPTH)
        return enc_fail(e, "json.encode: nesting deeper than 200");
    if (!lua_checkstack(L, 4))
        return enc_fail(e, "json.encode: Lua stack exhausted");
    size_t n = lua_objlen(L, idx);
    int array = 0;
    if (lua_getmetatable(L, idx)) {
        array = lua_rawequal(L, -1, e->mt);
        lua_pop(L, 1);
    }
    if (!array && n > 0)
        array = is_sequence(L, idx, n);
    return array ? enc_array(e, idx, n, depth) : enc_object(e, idx, depth);
}

static int enc_value(jenc *e, int idx, int depth)
{
    lua_State *L = e->L;
    size_t n;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        return put_string(e, (const unsigned char *)s, n);
    case LUA_TNUMBER:
        return put_number(e, lua_tonumber(L, idx));
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? put(e, "true", 4) : put(e, "false", 5);
    case LUA_TTABLE:
        return enc_table(e, idx, depth);
    case LUA_TNIL:
    case LUA_TNONE:
        return put(e, "null", 4);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL)
            return put(e, "null", 4);
        break;
    default:
        break;
    }
    snprintf(e->msg, e->msglen, "json.encode: cannot encode a %s", luaL_typename(L, idx));
    return enc_fail(e, e->msg);
}

int mg_lua_jsonc_encode(lua_State *L, mg_lua_jsonc_buf *b, int mt, int idx, const char **err,
                        char *msg, size_t msglen)
{
    jenc e = {.L = L, .b = b, .mt = mt, .msg = msg, .msglen = msglen};
    int rc = enc_value(&e, idx, 0);
    *err = e.err;
    return rc;
}

int mg_lua_jsonc_quote(mg_lua_jsonc_buf *b, const char *s, size_t n)
{
    jenc e = {.b = b};
    return put_string(&e, (const unsigned char *)s, n);
}
