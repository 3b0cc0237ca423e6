/* test_jsonc.c — the C JSON codec moongate.jsonc (src/lua/json_codec*.c)
 * from C: every cut of a document fails cleanly, an encode re-entered
 * from a finalizer (which shares the codec's buffer) stays correct, a
 * state at its memory cap gets "not enough memory" (decode returns it,
 * encode raises it) and the codec keeps working, and a policy's
 * require("moongate.formats.json") inside the sandbox gets the C codec.
 * The codec's exact outputs are tested in tests/lua/test_json.lua. */
#include <lauxlib.h>
#include <lualib.h>

#include "lua/json_codec.h"
#include "lua_test_util.h"
#include "test.h"

/* A state with moongate.jsonc and a codec in the global `codec`. */
static void open_codec(lua_State *L)
{
    luaL_openlibs(L);
    lua_pushcfunction(L, luaopen_moongate_jsonc);
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "new");
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "array_mt");
    lua_call(L, 1, 1);
    lua_setglobal(L, "codec");
    lua_pop(L, 1);
}

static int run(lua_State *L, const char *src)
{
    if (luaL_dostring(L, src) != 0) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

static void test_every_cut_fails_cleanly(void)
{
    lua_State *L = luaL_newstate();
    open_codec(L);
    CHECK(run(L, "local doc = '{\"a\":[1,-2.5e3,\"x\\\\u00e9\\\\n\",true,false,null],\"b\":{},\"c\":[[]]}'\n"
                 "assert(codec.decode(doc), 'whole document')\n"
                 "for i = 0, #doc - 1 do\n"
                 "  local v, err = codec.decode(doc:sub(1, i))\n"
                 "  assert(v == nil and err:find('^json%.decode: .* at byte %d+'), i .. ': ' .. tostring(err))\n"
                 "end\n"));
    lua_close(L);
}

/* Finalizers that encode while the outer encode converts number keys
 * (each conversion may run a GC step) must not disturb either result. */
static void test_reentrant_encode(void)
{
    lua_State *L = luaL_newstate();
    open_codec(L);
    CHECK(run(L, "collectgarbage('setpause', 50)\n"
                 "collectgarbage('setstepmul', 1000)\n"
                 "local inner = 0\n"
                 "local t = {}\n"
                 "for i = 1, 2000 do t[i + 0.5] = i end\n"
                 "local want\n"
                 "for round = 1, 3 do\n"
                 "  for i = 1, 2000 do\n"
                 "    local p = newproxy(true)\n"
                 "    getmetatable(p).__gc = function()\n"
                 "      assert(codec.encode({ k = { 1, 2 } }) == '{\"k\":[1,2]}')\n"
                 "      inner = inner + 1\n"
                 "    end\n"
                 "  end\n"
                 "  local s = codec.encode(t)\n"
                 "  want = want or s\n"
                 "  assert(s == want, 'outer encode changed')\n"
                 "end\n"
                 "collectgarbage()\n"
                 "assert(inner > 0, 'no finalizer ran')\n"
                 "local back = codec.decode(want)\n"
                 "assert(back['1.5'] == 1 and back['2000.5'] == 2000)\n"));
    lua_close(L);
}

typedef struct capped {
    size_t used, cap;
} capped;

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    capped *c = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        c->used -= old;
        return NULL;
    }
    if (nsize > old && c->used + (nsize - old) > c->cap)
        return NULL;
    void *q = realloc(ptr, nsize);
    if (q)
        c->used = c->used - old + nsize;
    return q;
}

static void test_memory_cap(void)
{
    capped cap = {0, (size_t)24 << 20};
    lua_State *L = lua_newstate(capped_alloc, &cap);
    CHECK(L != NULL);
    if (!L)
        return;
    open_codec(L);
    CHECK(run(L, "local text = '[' .. string.rep('[1,2,3],', 300000) .. '1]'\n"
                 "local v, err = codec.decode(text)\n"
                 "assert(v == nil and err == 'json.decode: not enough memory', tostring(err))\n"
                 "text = nil\n"
                 "collectgarbage()\n"
                 "local big = string.rep('x', 1000000)\n"
                 "local many = {}\n"
                 "for i = 1, 40 do many[i] = big end\n"
                 "local ok, e = pcall(codec.encode, many)\n"
                 "assert(not ok and e == 'json.encode: not enough memory', tostring(e))\n"
                 "many = nil\n"
                 "collectgarbage()\n"
                 "assert(codec.encode({ a = codec.decode('[1]') }) == '{\"a\":[1]}')\n"));
    lua_close(L);
    CHECK_EQ_INT(cap.used, 0);
}

static const char policy_src[] =
    "local json = require('moongate.formats.json')\n"
    "return { route = function(req)\n"
    "  local v = json.decode('{\"a\":[]}')\n"
    "  if json.codec == 'c' and json.encode(v) == '{\"a\":[]}' then return 'gpt-4o' end\n"
    "  return 'gpt-4o-mini'\n"
    "end }\n";

static void test_policy_gets_c_codec(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "json.lua", policy_src);
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (g) {
        lt_result r;
        lt_route(g, "x", &r);
        CHECK_EQ_INT(r.outcome, MG_LUA_OK);
        CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "gpt-4o");
        mg_lua_gen_release(g);
    }
    lt_dir_free(&d);
}

TEST_MAIN(T(test_every_cut_fails_cleanly), T(test_reentrant_encode), T(test_memory_cap),
          T(test_policy_gets_c_codec))
