/* json_codec.c — moongate.jsonc: the C JSON codec behind
 * lua/moongate/formats/json.lua, with exactly the contract of that file's
 * pure-Lua codec (the fallback, and the reference the tests and
 * tests/fuzz/fuzz_jsonc.c compare against):
 *
 *   local codec = require("moongate.jsonc").new(json.array_mt)
 *   codec.decode(text)      -> value | nil, "json.decode: <what> at byte <n>"
 *                              (never raises)
 *   codec.encode(value)     -> text; raises "json.encode: ..."
 *   codec.encode_string(s)  -> s quoted and escaped
 *
 * new() returns closures holding array_mt and one output buffer as
 * upvalues: decoded arrays get array_mt, tables carrying it encode as
 * arrays, and the buffer is reused call after call (one allocation only
 * when an output outgrows it; past 256 KiB it is freed after the call).
 * The encoder is json_codec_enc.c, the decoder json_codec_dec.c.
 * Uses LuaJIT's C API. */
#include <lauxlib.h>
#include <string.h>

#include "json_codec.h"
#include "json_codec_int.h"

#define BUF_MT "moongate.jsonc.buf"
#define BUF_KEEP_MAX ((size_t)256 << 10) /* a bigger buffer is freed after use */

static int buf_gc(lua_State *L)
{
    mg_lua_jsonc_buf *b = luaL_checkudata(L, 1, BUF_MT);
    if (b->data)
        b->alloc(b->alloc_ud, b->data, b->cap, 0);
    b->data = NULL;
    b->cap = b->len = 0;
    return 0;
}

static mg_lua_jsonc_buf *buf_push_new(lua_State *L)
{
    mg_lua_jsonc_buf *b = lua_newuserdata(L, sizeof *b);
    memset(b, 0, sizeof *b);
    b->alloc = lua_getallocf(L, &b->alloc_ud);
    if (luaL_newmetatable(L, BUF_MT)) {
        lua_pushcfunction(L, buf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

int mg_lua_jsonc_buf_grow(mg_lua_jsonc_buf *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need < b->len)
        return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    char *q = b->alloc(b->alloc_ud, b->data, b->data ? b->cap : 0, cap);
    if (!q)
        return -1;
    b->data = q;
    b->cap = cap;
    return 0;
}

static void buf_release(mg_lua_jsonc_buf *b)
{
    b->busy = 0;
    if (b->cap > BUF_KEEP_MAX) {
        b->alloc(b->alloc_ud, b->data, b->cap, 0);
        b->data = NULL;
        b->cap = 0;
    }
    b->len = 0;
}

/* The codec's buffer (upvalue 2), or, when an encode is already writing
 * into it, a fresh one left on the stack for the GC. */
static mg_lua_jsonc_buf *buf_acquire(lua_State *L)
{
    mg_lua_jsonc_buf *b = lua_touserdata(L, lua_upvalueindex(2));
    if (b->busy)
        b = buf_push_new(L);
    b->busy = 1;
    b->len = 0;
    return b;
}

/* Pushes the buffer as a string, or raises err; releases b either way. */
static int enc_finish(lua_State *L, mg_lua_jsonc_buf *b, int rc, const char *err)
{
    if (rc == 0) {
        lua_pushlstring(L, b->data ? b->data : "", b->len);
        buf_release(b);
        return 1;
    }
    buf_release(b);
    lua_pushstring(L, err ? err : "json.encode: not enough memory");
    return lua_error(L);
}

/* encode(value) — upvalues: array_mt, buffer. */
static int codec_encode(lua_State *L)
{
    lua_settop(L, 1);
    mg_lua_jsonc_buf *b = buf_acquire(L);
    const char *err = NULL;
    char msg[80];
    int rc = mg_lua_jsonc_encode(L, b, lua_upvalueindex(1), 1, &err, msg, sizeof msg);
    return enc_finish(L, b, rc, err);
}

/* encode_string(s) — upvalues: array_mt, buffer. A number is taken as a
 * string, as string.find would. */
static int codec_encode_string(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    mg_lua_jsonc_buf *b = buf_acquire(L);
    return enc_finish(L, b, mg_lua_jsonc_quote(b, s, n), NULL);
}

/* The decoder proper, run under lua_pcall by codec_decode (a memory error
 * must not escape): stack 1 the text. Upvalue 1: array_mt. */
static int decode_text(lua_State *L)
{
    size_t len, pos;
    const char *s = lua_tolstring(L, 1, &len), *what;
    lua_pushvalue(L, lua_upvalueindex(1));
    if (mg_lua_jsonc_decode(L, s, len, 2, &what, &pos) == 0)
        return 1;
    lua_settop(L, 0);
    lua_pushnil(L);
    lua_pushfstring(L, "json.decode: %s at byte %d%s", what, (int)pos,
                    pos > len ? " (end of text)" : "");
    return 2;
}

/* decode(text) — upvalue 1: decode_text as a closure over array_mt. */
static int codec_decode(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushnil(L);
        lua_pushliteral(L, "json.decode: expected a string");
        return 2;
    }
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int rc = lua_pcall(L, 1, LUA_MULTRET, 0);
    if (rc == 0)
        return lua_gettop(L);
    const char *msg = rc == LUA_ERRMEM ? "not enough memory" : lua_tostring(L, -1);
    lua_pushnil(L);
    lua_pushfstring(L, "json.decode: %s", msg ? msg : "failed");
    return 2;
}

/* ------------------------------------------------------------- module -- */

/* new(array_mt) -> {decode, encode, encode_string} */
static int jsonc_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_createtable(L, 0, 3);
    buf_push_new(L);
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, decode_text, 1);
    lua_pushcclosure(L, codec_decode, 1);
    lua_setfield(L, 2, "decode");
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_pushcclosure(L, codec_encode, 2);
    lua_setfield(L, 2, "encode");
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_pushcclosure(L, codec_encode_string, 2);
    lua_setfield(L, 2, "encode_string");
    lua_settop(L, 2);
    return 1;
}

int luaopen_moongate_jsonc(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, jsonc_new);
    lua_setfield(L, -2, "new");
    return 1;
}
