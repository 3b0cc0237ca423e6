/* fuzz_jsonc.c — libFuzzer harness for the C JSON codec moongate.jsonc
 * (src/lua/json_codec.c), differential against the pure-Lua codec of
 * lua/moongate/formats/json.lua (json._lua_*), in one LuaJIT state made
 * once. The first input byte picks the mode:
 *  - even: the rest is JSON text. The C and the Lua decoder must agree:
 *    same value (array marks included) or the same error message. A value
 *    is then encoded by both encoders — same text or the same error — and
 *    the text decodes back to the value (non-finite numbers as null).
 *  - odd: the rest is a little program building a Lua value the decoder
 *    never makes (any double, number keys, sparse and mixed tables,
 *    unmarked sequences, NaN). Both encoders must give the same text or
 *    the same error, and the C decoder must read the text back.
 * A disagreement prints both sides and aborts.
 * Uses src/lua/json_codec.c, lua/moongate/formats/json.lua, LuaJIT. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/json_codec.h"

#ifndef MG_HOME
#error "MG_HOME (the repository root) must be defined"
#endif

static lua_State *L;
static int ref_check_text, ref_check_value, ref_array_mt;

/* The checks, in Lua; each raises with a description on a disagreement. */
static const char check_src[] =
    "local json = ...\n"
    "local function same(a, b, lenient)\n"
    "  if lenient and type(a) == 'number' and (a ~= a or a == 1/0 or a == -1/0) then\n"
    "    return b == json.null end\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then return a == b and (a ~= 0 or lenient or 1/a == 1/b) end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
    "  for k, v in pairs(a) do if not same(v, b[k], lenient) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "local function both_encode(v)\n"
    "  local ok_c, s_c = pcall(json.encode, v)\n"
    "  local ok_l, s_l = pcall(json._lua_encode, v)\n"
    "  if ok_c ~= ok_l or s_c ~= s_l then\n"
    "    error('encoders differ:\\n C: ' .. tostring(s_c) .. '\\n L: ' .. tostring(s_l), 0) end\n"
    "  if not ok_c and not s_c:find('^json%.encode: nesting deeper than 200') then\n"
    "    error('unexpected encode error: ' .. s_c, 0) end\n"
    "  return ok_c and s_c\n"
    "end\n"
    "local function check_text(text)\n"
    "  local v_c, e_c = json.decode(text)\n"
    "  local v_l, e_l = json._lua_decode(text)\n"
    "  if e_c ~= e_l or not same(v_c, v_l) then\n"
    "    error('decoders differ: C ' .. tostring(e_c) .. ' / L ' .. tostring(e_l), 0) end\n"
    "  if e_c then return end\n"
    "  local s = both_encode(v_c)\n"
    "  if not s then return end\n"
    "  local back, err = json.decode(s)\n"
    "  if err or not same(v_c, back, true) then\n"
    "    error('no round trip through ' .. s .. ': ' .. tostring(err), 0) end\n"
    "end\n"
    "local function check_value(v)\n"
    "  local s = both_encode(v)\n"
    "  if not s then return end\n"
    "  local back, err = json.decode(s)\n"
    "  if err then error('cannot read back ' .. s .. ': ' .. err, 0) end\n"
    "end\n"
    "return check_text, check_value\n";

static int stub_cjson(lua_State *S)
{
    /* json.lua only needs cjson.null when moongate.jsonc is present. */
    lua_createtable(S, 0, 1);
    lua_pushlightuserdata(S, NULL);
    lua_setfield(S, -2, "null");
    return 1;
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_jsonc: %s: %s\n", what, lua_tostring(L, -1));
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushstring(L, MG_HOME "/lua/?.lua;" MG_HOME "/lua/?/init.lua");
    lua_setfield(L, -2, "path");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, stub_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, luaopen_moongate_jsonc);
    lua_setfield(L, -2, "moongate.jsonc");
    lua_pop(L, 2);
    lua_getglobal(L, "require");
    lua_pushstring(L, "moongate.formats.json");
    if (lua_pcall(L, 1, 1, 0) != 0)
        die("cannot load moongate.formats.json");
    lua_getfield(L, -1, "array_mt");
    ref_array_mt = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "codec");
    if (!lua_isstring(L, -1) || strcmp(lua_tostring(L, -1), "c") != 0)
        die("json.lua did not pick up moongate.jsonc");
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, check_src, sizeof check_src - 1, "=fuzz_jsonc checks") != 0)
        die("checks do not compile");
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 2, 0) != 0)
        die("checks do not load");
    ref_check_value = luaL_ref(L, LUA_REGISTRYINDEX);
    ref_check_text = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Reads the program in p..end and leaves one value (an array of what the
 * program left) on the stack. Ops, one byte each, then their operands:
 * 0 any double (8 bytes), 1 short string, 2 small integer, 3 boolean,
 * 4 null, 5 plain table of the last k values, 6 marked array of them,
 * 7 table of the last k key/value pairs (keys that cannot be keys are
 * dropped), 8 a table with holes. */
static void build_value(const uint8_t *p, const uint8_t *end)
{
    int base = lua_gettop(L);
    while (p < end && lua_gettop(L) - base < 200) {
        int op = *p++ % 9, avail = lua_gettop(L) - base;
        int k = p < end ? *p % 8 : 0;
        k = k < avail ? k : avail;
        if (op == 0 && end - p >= 8) {
            double d;
            memcpy(&d, p, 8);
            p += 8;
            lua_pushnumber(L, d);
        } else if (op == 1) {
            size_t n = p < end ? *p++ % 16 : 0;
            n = n < (size_t)(end - p) ? n : (size_t)(end - p);
            lua_pushlstring(L, (const char *)p, n);
            p += n;
        } else if (op == 2 && p < end) {
            lua_pushnumber(L, (double)(*p++) - 128.0);
        } else if (op == 3 && p < end) {
            lua_pushboolean(L, *p++ & 1);
        } else if (op == 4) {
            lua_pushlightuserdata(L, NULL);
        } else if ((op == 5 || op == 6 || op == 8) && p < end) {
            p++;
            lua_createtable(L, k, 0);
            lua_insert(L, -k - 1);
            int t = lua_gettop(L) - k;
            for (int i = k; i >= 1; i--)
                lua_rawseti(L, t, op == 8 ? 2 * i : i);
            if (op == 6) {
                lua_rawgeti(L, LUA_REGISTRYINDEX, ref_array_mt);
                lua_setmetatable(L, t);
            }
        } else if (op == 7 && p < end) {
            p++;
            k -= k % 2;
            lua_newtable(L);
            lua_insert(L, -k - 1);
            int t = lua_gettop(L) - k;
            while (lua_gettop(L) > t) {
                int kt = lua_type(L, -2);
                double kn = kt == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
                if (kn != kn) /* NaN cannot be a key; nil is never pushed */
                    lua_pop(L, 2);
                else
                    lua_rawset(L, t);
            }
        }
    }
    int n = lua_gettop(L) - base;
    lua_createtable(L, n, 0);
    lua_insert(L, base + 1);
    for (int i = n; i >= 1; i--)
        lua_rawseti(L, base + 1, i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int top = lua_gettop(L);
    if (data[0] & 1) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref_check_value);
        if (!lua_checkstack(L, 220))
            abort();
        build_value(data + 1, data + size);
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref_check_text);
        lua_pushlstring(L, (const char *)data + 1, size - 1);
    }
    if (lua_pcall(L, 1, 0, 0) != 0)
        die("check failed");
    lua_settop(L, top);
    return 0;
}
