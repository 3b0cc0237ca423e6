/* test_lua_sandbox.c — what a policy cannot do: run past its time budget
 * (JIT-compilable loops, pcall/xpcall, code made with load, its own
 * coroutines), reach the host (os, io, ffi, debug, package, bytecode,
 * getfenv/setfenv, metatables of the environment or of strings, the host's
 * coroutine), create globals from a hook, or exhaust memory beyond its cap
 * without the generation staying usable. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "core/common.h"
#include "lua/host.h"
#include "lua/shared_dict.h"
#include "lua_test_util.h"
#include "test.h"

static void test_deadline(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "spin.lua",
             "local function spin() while true do end end\n"
             "return { route = function(req)\n"
             "  local m = req.model\n"
             "  if m == 'plain' then spin() end\n"
             "  if m == 'for' then local x = 0 for i = 1, 1e12 do x = x + i end end\n"
             "  if m == 'pcall' then\n"
             "    for i = 1, 1e9 do pcall(spin) end\n"
             "    return 'escaped'\n"
             "  end\n"
             "  if m == 'swallow' then return pcall(spin) end\n"
             "  if m == 'xpcall' then return xpcall(spin, function() while true do end end) end\n"
             "  if m == 'load' then load('while true do end')() end\n"
             "  if m == 'loadfn' then\n"
             "    local f = loadstring('local n = 0 while true do n = n + 1 end') f() end\n"
             "  if m == 'coroutine' then\n"
             "    local co = coroutine.wrap(spin) co() end\n"
             "  return 'gpt-4o'\n"
             "end }\n");
    mg_lua_limits lim;
    mg_lua_limits_default(&lim);
    lim.hook_budget = 0.05;
    mg_lua_gen *g = lt_build(&d, &lim);
    CHECK(g != NULL);
    if (!g)
        return;
    static const char *const cases[] = {"plain", "for", "pcall", "swallow", "xpcall",
                                        "load", "loadfn", "coroutine"};
    for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
        lt_result r;
        double t0 = mg_now_mono();
        lt_route(g, cases[i], &r);
        double took = mg_now_mono() - t0;
        if (r.outcome != MG_LUA_ERROR || !strstr(r.msg, "time budget of 50 ms"))
            fprintf(stderr, "deadline case %s: outcome %d msg %s\n", cases[i], r.outcome,
                    r.msg ? r.msg : "");
        CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
        CHECK(r.msg && strstr(r.msg, "exceeded its time budget of 50 ms"));
        CHECK(r.msg && strncmp(r.msg, "policies/spin.lua:", 18) == 0);
        CHECK(took < 1.0);
        /* only that call failed: the generation still routes */
        lt_route(g, "ok", &r);
        CHECK_EQ_INT(r.outcome, MG_LUA_OK);
        CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "gpt-4o");
    }
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

/* Each case returns 'blocked' when the escape failed. */
static const char escapes_src[] =
    "local cases = {\n"
    "  os = function() return os.execute('true') end,\n"
    "  io = function() return io.open('/etc/passwd') end,\n"
    "  ffi = function() return require('ffi') end,\n"
    "  req_os = function() return require('os').execute end,\n"
    "  req_io = function() return require('io').open end,\n"
    "  req_debug = function() return require('debug').getregistry() end,\n"
    "  req_jit = function() return require('jit').on end,\n"
    "  req_path = function() return require('moongate/../../etc/passwd') end,\n"
    "  loadlib = function() return package.loadlib('libc.so.6', 'system') end,\n"
    "  debug = function() return debug.getregistry() end,\n"
    "  dump = function() return string.dump(function() end) end,\n"
    "  dump_method = function() return (''):dump() end,\n"
    "  getfenv = function() return getfenv(0).os.execute end,\n"
    "  setfenv = function() return setfenv(1, {}) end,\n"
    "  rawget = function() return rawget(_G, 'os').execute end,\n"
    "  g_os = function() return _G.os.execute end,\n"
    "  env_mt = function() return getmetatable(_G).__index.os.execute end,\n"
    "  str_mt = function() return getmetatable('').__index.dump end,\n"
    "  set_mt = function() return setmetatable(_G, nil) end,\n"
    "  jit = function() return jit.off end,\n"
    "  newproxy = function() return newproxy(true) end,\n"
    "  collect = function() return collectgarbage('count') end,\n"
    "  dofile = function() return dofile('/etc/passwd') end,\n"
    "  loadfile = function() return loadfile('/etc/passwd') end,\n"
    "  module = function() return module('x') end,\n"
    "  bin_load = function(req) return assert(load(req.body_raw)) end,\n"
    "  bin_loadstring = function(req) return assert(loadstring(req.body_raw)) end,\n"
    "  bin_reader = function(req)\n"
    "    local done = false\n"
    "    return assert(load(function() if done then return nil end done = true\n"
    "                                  return req.body_raw end)) end,\n"
    "  bin_mode = function(req) return assert(load(req.body_raw, 'x', 'b')) end,\n"
    "  host_co = function() return coroutine.running() and coroutine.resume(coroutine.running()) end,\n"
    "  http_sync = function() return mg.http.request end,\n"
    "}\n"
    "return { route = function(req)\n"
    "  local f = cases[req.model]\n"
    "  local ok, res = pcall(f, req)\n"
    "  if ok and res and req.model ~= 'http_sync' then return 'escaped' end\n"
    "  return 'blocked'\n"
    "end }\n";

static void test_escapes(void)
{
    static const char *const cases[] = {
        "os",       "io",          "ffi",        "req_os",    "req_io",   "req_debug",
        "req_jit",  "req_path",    "loadlib",    "debug",     "dump",     "dump_method",
        "getfenv",  "setfenv",     "rawget",     "g_os",      "env_mt",   "str_mt",
        "set_mt",   "jit",         "newproxy",   "collect",   "dofile",   "loadfile",
        "module",   "bin_load",    "bin_loadstring", "bin_reader", "bin_mode", "host_co",
    };
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "escape.lua", escapes_src);
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    /* Real bytecode, made by a separate plain state. */
    lua_State *P = luaL_newstate();
    luaL_openlibs(P);
    CHECK(luaL_dostring(P, "return string.dump(function() return os.execute end)") == 0);
    size_t bclen;
    const char *bc = lua_tolstring(P, -1, &bclen);
    CHECK(bc && bclen > 4 && memcmp(bc, "\033LJ", 3) == 0);
    for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
        lt_result r;
        lt_route_body(g, cases[i], bc, bclen, &r);
        int blocked = r.outcome == MG_LUA_OK && r.n == 1 && strcmp(r.t[0].model, "blocked") == 0;
        if (!blocked)
            fprintf(stderr, "escape case %s: outcome %d %s %s\n", cases[i], r.outcome,
                    r.msg ? r.msg : "", r.n ? r.t[0].model : "");
        CHECK(blocked);
    }
    lua_close(P);
    mg_lua_gen_release(g);
    lt_dir_free(&d);

    /* Yielding the host coroutine from the top of route is an error. */
    lt_dir_init(&d);
    lt_write(&d, "y.lua", "return { route = function() coroutine.yield('x') return 'm' end }\n");
    g = lt_build(&d, NULL);
    lt_result r;
    lt_route(g, "x", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(r.msg && strstr(r.msg, "policies/y.lua:1: attempt to yield from outside a coroutine"));
    mg_lua_gen_release(g);
    lt_dir_free(&d);

    /* Globals cannot be created once loaded (a forgotten local). */
    lt_dir_init(&d);
    lt_write(&d, "gl.lua", "counter = 0\nreturn { route = function() counter = counter + 1\n"
                           "  leaked = true return 'm' end }\n");
    g = lt_build(&d, NULL);
    lt_route(g, "x", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(r.msg && strstr(r.msg, "policies/gl.lua:3: assignment to undeclared global 'leaked'"));
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_memory_cap(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "mem.lua",
             "return { route = function(req)\n"
             "  if req.model == 'grow' then\n"
             "    local t = {}\n"
             "    while true do t[#t + 1] = string.rep('x', 1000) .. #t end\n"
             "  end\n"
             "  if req.model == 'caught' then\n"
             "    local ok = pcall(function() local t = {} while true do t[#t+1] = {} end end)\n"
             "    return ok and 'no' or 'caught'\n"
             "  end\n"
             "  return 'gpt-4o'\n"
             "end }\n");
    mg_lua_limits lim;
    mg_lua_limits_default(&lim);
    lim.memory_max = 16u << 20;
    lim.hook_budget = 5; /* let the allocation hit the cap, not the clock */
    mg_lua_gen *g = lt_build(&d, &lim);
    CHECK(g != NULL);
    if (!g)
        return;
    for (int round = 0; round < 3; round++) {
        lt_result r;
        lt_route(g, "grow", &r);
        CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
        CHECK(r.msg && strstr(r.msg, "not enough memory"));
        lt_route(g, "ok", &r);
        CHECK_EQ_INT(r.outcome, MG_LUA_OK);
        /* Caught by the policy: it goes on, or fails cleanly when the
         * garbage is not collected yet (LuaJIT has no emergency GC). */
        lt_route(g, "caught", &r);
        CHECK(r.outcome == MG_LUA_OK || (r.msg && strstr(r.msg, "not enough memory")));
        CHECK(r.outcome != MG_LUA_OK || strcmp(r.t[0].model, "caught") == 0);
    }
    CHECK(mg_lua_gen_memory(g) < (16u << 20));
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

TEST_MAIN(T(test_deadline), T(test_escapes), T(test_memory_cap))
