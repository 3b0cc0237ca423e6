/* test_lua_host.c — the policy host end to end: generations built from a
 * temporary policies folder and a config made in C, route results of every
 * shape, load errors naming files and lines, the deadline (JIT-compilable
 * loops, pcall, load), sandbox escapes, the memory cap, refusals, the
 * synchronous hooks, on_log, lazy req fields, waits (mg.sleep) and
 * cancellation. mg.http.request: test_lua_http.c. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "core/common.h"
#include "lua/host.h"
#include "lua/shared_dict.h"
#include "lua_test_util.h"
#include "test.h"

static void test_route_forms(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "routing.lua",
             "return { route = function(req)\n"
             "  local m = req.model\n"
             "  if m == 'pm' then return 'openai/gpt-4o' end\n"
             "  if m == 'bare' then return 'gpt-4o-mini' end\n"
             "  if m == 'org' then return 'meta/llama-3' end\n"
             "  if m == 'tbl' then return { provider = 'anthropic', model = 'claude-haiku',\n"
             "                              timeout = 5, first_byte_timeout = 2, max_attempts = 2 } end\n"
             "  if m == 'list' then return { 'anthropic/claude-sonnet', 'gpt-4o',\n"
             "                               { provider = 'openai' } } end\n"
             "  if m == 'empty' then return {} end\n"
             "  if m == 'badfield' then return { { model = 'x', timout = 3 } } end\n"
             "  if m == 'badprov' then return { provider = 'nope', model = 'x' } end\n"
             "  if m == 'number' then return 42 end\n"
             "  return nil\n"
             "end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lt_result r;
    lt_route(g, "pm", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_STR(r.t[0].provider, "openai");
    CHECK_EQ_STR(r.t[0].model, "gpt-4o");

    lt_route(g, "bare", &r);
    CHECK_EQ_INT(r.n, 1);
    CHECK(r.t[0].provider == NULL);
    CHECK_EQ_STR(r.t[0].model, "gpt-4o-mini");

    lt_route(g, "org", &r); /* "meta" is not a provider: the whole thing is a model */
    CHECK(r.t[0].provider == NULL);
    CHECK_EQ_STR(r.t[0].model, "meta/llama-3");

    lt_route(g, "tbl", &r);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_STR(r.t[0].provider, "anthropic");
    CHECK_EQ_STR(r.t[0].model, "claude-haiku");
    CHECK(r.t[0].timeout_total == 5 && r.t[0].timeout_first_byte == 2);
    CHECK_EQ_INT(r.t[0].max_attempts, 2);

    lt_route(g, "list", &r);
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_STR(r.t[0].provider, "anthropic");
    CHECK_EQ_STR(r.t[0].model, "claude-sonnet");
    CHECK(r.t[1].provider == NULL);
    CHECK_EQ_STR(r.t[1].model, "gpt-4o");
    CHECK_EQ_STR(r.t[2].provider, "openai");
    CHECK(r.t[2].model == NULL);

    lt_route(g, "empty", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 0);
    lt_route(g, "other", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 0);

    lt_route(g, "badfield", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(strstr(r.msg, "policies/routing.lua: route: target 1: unknown field 'timout'") != NULL);
    lt_route(g, "badprov", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(strstr(r.msg, "unknown provider 'nope'") != NULL);
    lt_route(g, "number", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(strstr(r.msg, "not number") != NULL);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_no_hooks(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "empty.lua", "return {}\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    lt_result r;
    lt_route(g, "x", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_NO_HOOK);
    CHECK(!mg_lua_gen_has_hook(g, MG_LUA_HOOK_ROUTE));
    mg_lua_changes ch;
    mg_lua_target t = {0};
    CHECK_EQ_INT(mg_lua_before_upstream(g, &r.req, &t, "openai", &ch, NULL, 0), MG_LUA_NO_HOOK);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_load_errors(void)
{
    char err[MG_ERRLEN];
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "a.lua", "return { route = function() return 'gpt-4o' end }\n");
    lt_write(&d, "b.lua", "return {\n  route = function() return 'gpt-4o' end }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/b.lua") != NULL && strstr(err, "policies/a.lua") != NULL);
    CHECK(strstr(err, "route is already defined") != NULL);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "bad.lua", "local x = 1\nreturn { route = function( end }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strncmp(err, "policies/bad.lua:2:", 19) == 0);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "top.lua", "local t = nil\n\nreturn t.x\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strncmp(err, "policies/top.lua:3:", 19) == 0);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "typo.lua", "return { rout = function() end }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/typo.lua: unknown key 'rout'") != NULL);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "none.lua", "local x = 1\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/none.lua: must return a table (got nil)") != NULL);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "chk.lua", "return { check = function() return false, 'no key set' end }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/chk.lua") != NULL && strstr(err, "check failed: no key set"));
    lt_dir_free(&d);

    lt_dir_init(&d); /* a loop at load time is stopped by the load budget */
    lt_write(&d, "spin.lua", "while true do end\n");
    mg_lua_limits lim;
    mg_lua_limits_default(&lim);
    lim.load_budget = 0.05;
    CHECK(lt_build_err(&d, &lim, err) == NULL);
    CHECK(strstr(err, "policies/spin.lua:1: exceeded its time budget") != NULL);
    lt_dir_free(&d);
}

static void test_named_defs_and_lists(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "10_a.lua",
             "return { alerts = { budget = { threshold = 1 } },\n"
             "  on_log = function(r) mg.shared.dict('t_order'):set('seq', 'a') end }\n");
    lt_write(&d, "20_b.lua",
             "return { alerts = { { name = 'errors', threshold = 2 } },\n"
             "  on_log = { function(r)\n"
             "    local d = mg.shared.dict('t_order'); d:set('seq', d:get('seq') .. 'b') end } }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lua_State *L = mg_lua_gen_state(g);
    mg_lua_gen_push_defs(g, "alerts");
    lua_getfield(L, -1, "budget");
    lua_getfield(L, -1, "threshold");
    CHECK_EQ_INT(lua_tointeger(L, -1), 1);
    lua_pop(L, 2);
    lua_getfield(L, -1, "errors");
    CHECK(lua_istable(L, -1));
    lua_pop(L, 2);
    mg_record *rec = mg_record_new();
    CHECK_EQ_INT(mg_lua_on_log(g, rec), 0);
    mg_shv v;
    CHECK_EQ_INT(mg_shared_get("t_order", "seq", &v), MG_OK);
    CHECK_EQ_STR(v.str, "ab");
    mg_shv_clear(&v);
    mg_record_free(rec);
    mg_lua_gen_release(g);
    lt_dir_free(&d);

    char err[MG_ERRLEN];
    lt_dir_init(&d);
    lt_write(&d, "a.lua", "return { insights = { slow = {} } }\n");
    lt_write(&d, "b.lua", "return { insights = { slow = {} } }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/b.lua: insights 'slow' is already defined in policies/a.lua"));
    lt_dir_free(&d);
}

static void test_runtime_errors(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "x.lua",
             "return { route = function(req)\n"
             "  if req.model == 'boom' then\n"
             "    error('boom')\n"
             "  end\n"
             "  local t = nil\n"
             "  return t.field\n"
             "end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    lt_result r;
    lt_route(g, "boom", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK_EQ_STR(r.msg, "policies/x.lua:3: boom");
    lt_route(g, "nil", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(strncmp(r.msg, "policies/x.lua:6: attempt to index", 34) == 0);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

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

static void test_refusals(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "gate.lua",
             "return { on_request = function(req)\n"
             "  if req.model == 'deny' then return mg.refuse(403, 'not for you') end\n"
             "  if req.model == 'slow' then return { status = 429, message = 'slow down' } end\n"
             "  if req.model == 'weird' then return true end\n"
             "  if req.model == 'badstatus' then return { status = 200 } end\n"
             "end }\n");
    lt_write(&d, "route.lua", "return { route = function(req) return 'gpt-4o' end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    lt_result r;
    lt_route(g, "deny", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_REFUSED);
    CHECK_EQ_INT(r.status, 403);
    CHECK_EQ_STR(r.msg, "not for you");
    lt_route(g, "slow", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_REFUSED);
    CHECK_EQ_INT(r.status, 429);
    lt_route(g, "weird", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(r.msg && strstr(r.msg, "policies/gate.lua: on_request: must return nil or a refusal"));
    lt_route(g, "badstatus", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    lt_route(g, "fine", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 1);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_req_fields(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "fields.lua",
             "local kept = {}\n"
             "return { route = function(req)\n"
             "  if req.model == 'lazy' then\n"
             "    local before = rawget(req, 'body')\n"
             "    local m = req.body.messages[1].content\n"
             "    local after = rawget(req, 'body')\n"
             "    kept.req = req\n"
             "    return (before == nil and after ~= nil) and m or 'eager'\n"
             "  end\n"
             "  if req.model == 'stale' then\n"
             "    return kept.req.body_raw == nil and kept.req.headers == nil and 'invalid' or 'dangling'\n"
             "  end\n"
             "  if req.model == 'scalars' then\n"
             "    return table.concat({ req.method, req.path, req.format, tostring(req.stream),\n"
             "      tostring(req.tokens_in), req.key, req.user, req.session, req.environment,\n"
             "      req.headers['x-multi'], req.headers['content-type'], req.id }, '|')\n"
             "  end\n"
             "  if req.model == 'json' then return mg.json.encode({ m = req.model }) end\n"
             "end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    lt_result r;
    const char *body = "{\"model\":\"lazy\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    lt_route_body(g, "lazy", body, strlen(body), &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "hi");
    lt_route(g, "stale", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "invalid");
    lt_route(g, "scalars", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL,
                 "POST|/v1/chat/completions|openai|true|1234|key1|user1|sess1|test|a, b|"
                 "application/json|req-1");
    lt_route(g, "json", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "{\"m\":\"json\"}");
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_sync_hooks(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "hooks.lua",
             "return {\n"
             "  before_upstream = function(req, target)\n"
             "    if target.model == 'bad' then return { headers = { ['x-a'] = 'line\\nbreak' } } end\n"
             "    if target.model == 'same' then return nil end\n"
             "    local b = req.body\n"
             "    b.model = target.provider .. ':' .. target.model .. ':' .. target.format\n"
             "    return { body = b, headers = { ['x-policy'] = '1', authorization = false } }\n"
             "  end,\n"
             "  on_response = function(req, res)\n"
             "    return { body = res.provider .. ' ' .. res.status .. ' ' .. res.body.id }\n"
             "  end,\n"
             "  classify_error = function(res)\n"
             "    if res.status == 400 then return { retry = false, breaker = false } end\n"
             "    if res.error == 'timeout_total' then return { retry = true } end\n"
             "    if res.status == 418 then error('teapot') end\n"
             "  end,\n"
             "}\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    mg_lua_req req = lt_req("gpt-4o", "{\"model\":\"x\"}");
    mg_lua_target t = {.provider = "openai", .model = "gpt-4o"};
    mg_lua_changes ch;
    char err[MG_ERRLEN];
    CHECK_EQ_INT(mg_lua_before_upstream(g, &req, &t, "openai", &ch, err, sizeof err), MG_LUA_OK);
    CHECK_EQ_STR(ch.body, "{\"model\":\"openai:gpt-4o:openai\"}");
    CHECK_EQ_INT(ch.nheaders, 2);
    for (size_t i = 0; i < ch.nheaders; i++) {
        if (strcmp(ch.headers[i].name, "x-policy") == 0)
            CHECK_EQ_STR(ch.headers[i].value, "1");
        else
            CHECK(strcmp(ch.headers[i].name, "authorization") == 0 && !ch.headers[i].value);
    }
    mg_lua_changes_free(&ch);
    t.model = "same";
    CHECK_EQ_INT(mg_lua_before_upstream(g, &req, &t, "openai", &ch, err, sizeof err), MG_LUA_OK);
    CHECK(ch.body == NULL && ch.nheaders == 0);
    t.model = "bad";
    CHECK_EQ_INT(mg_lua_before_upstream(g, &req, &t, "openai", &ch, err, sizeof err),
                 MG_LUA_ERROR);
    CHECK(strstr(err, "policies/hooks.lua: before_upstream: header 'x-a'") != NULL);
    CHECK(ch.body == NULL && ch.nheaders == 0);

    mg_lua_res res = {.status = 200, .body = "{\"id\":\"r1\"}", .body_len = 11,
                      .provider = "openai", .model = "gpt-4o"};
    CHECK_EQ_INT(mg_lua_on_response(g, &req, &res, &ch, err, sizeof err), MG_LUA_OK);
    CHECK_EQ_STR(ch.body, "openai 200 r1");
    mg_lua_changes_free(&ch);

    int retry = 1, breaker = 1;
    res.status = 400;
    CHECK_EQ_INT(mg_lua_classify_error(g, &res, &retry, &breaker, err, sizeof err), MG_LUA_OK);
    CHECK(retry == 0 && breaker == 0);
    retry = 0, breaker = 1;
    res.status = 0;
    res.error = "timeout_total";
    CHECK_EQ_INT(mg_lua_classify_error(g, &res, &retry, &breaker, err, sizeof err), MG_LUA_OK);
    CHECK(retry == 1 && breaker == 1);
    res.status = 418;
    res.error = NULL;
    CHECK_EQ_INT(mg_lua_classify_error(g, &res, &retry, &breaker, err, sizeof err),
                 MG_LUA_ERROR);
    CHECK(strstr(err, "policies/hooks.lua:15: teapot") != NULL);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_on_log_fields(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "log.lua",
             "return { on_log = function(r)\n"
             "  local names = {}\n"
             "  for k in pairs(r) do names[#names + 1] = k end\n"
             "  table.sort(names)\n"
             "  mg.shared.dict('t_log'):set('names', table.concat(names, ','))\n"
             "  mg.shared.dict('t_log'):set('model', r.model_requested)\n"
             "  mg.shared.dict('t_log'):set('tokens', r.tokens_total)\n"
             "end }\n");
    lt_write(&d, "log2.lua", "return { on_log = function(r) error('second fails') end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    mg_record *rec = mg_record_new();
    /* every TEXT field set, so every field name must appear */
    for (size_t i = 0; i < mg_record_nfields; i++)
        if (mg_record_fields[i].kind == MG_REC_TEXT)
            mg_record_set_text((char **)(void *)((char *)rec + mg_record_fields[i].offset), "v");
    mg_record_set_text(&rec->model_requested, "gpt-4o");
    rec->tokens_total = 321;
    CHECK_EQ_INT(mg_lua_on_log(g, rec), 1); /* log2.lua failed, log.lua ran */
    char expect[4096] = "";
    const char *names[256];
    size_t n = mg_record_nfields;
    for (size_t i = 0; i < n; i++)
        names[i] = mg_record_fields[i].name;
    for (size_t i = 0; i < n; i++) /* sort like table.sort (byte order) */
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                const char *tmp = names[i];
                names[i] = names[j];
                names[j] = tmp;
            }
    for (size_t i = 0; i < n; i++) {
        strcat(expect, names[i]);
        if (i + 1 < n)
            strcat(expect, ",");
    }
    mg_shv v;
    CHECK_EQ_INT(mg_shared_get("t_log", "names", &v), MG_OK);
    CHECK_EQ_STR(v.str, expect);
    mg_shv_clear(&v);
    CHECK_EQ_INT(mg_shared_get("t_log", "model", &v), MG_OK);
    CHECK_EQ_STR(v.str, "gpt-4o");
    mg_shv_clear(&v);
    CHECK_EQ_INT(mg_shared_get("t_log", "tokens", &v), MG_OK);
    CHECK(v.type == MG_SHV_NUM && v.num == 321);
    mg_record_free(rec);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_waits_and_cancel(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "wait.lua",
             "return { route = function(req)\n"
             "  local t0 = mg.time.monotonic()\n"
             "  if req.model == 'long' then mg.sleep(30) end\n"
             "  local ok, err = pcall(mg.sleep, 0.02)\n"
             "  if not ok then error(err) end\n"
             "  mg.sleep(0)\n"
             "  if mg.time.monotonic() - t0 < 0.015 then return 'too-fast' end\n"
             "  return 'gpt-4o'\n"
             "end,\n"
             "  before_upstream = function() mg.sleep(1) end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lt_result r;
    lt_route(g, "short", &r); /* lt_route runs the loop until done */
    CHECK(r.was_pending);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "gpt-4o");

    int fired = lt_route_cancel(g, "long");
    CHECK_EQ_INT(fired, 0);

    mg_lua_req req = lt_req("x", NULL);
    mg_lua_target t = {.model = "x"};
    mg_lua_changes ch;
    char err[MG_ERRLEN];
    CHECK_EQ_INT(mg_lua_before_upstream(g, &req, &t, "openai", &ch, err, sizeof err),
                 MG_LUA_ERROR);
    CHECK(strstr(err, "policies/wait.lua:10: mg.sleep can only wait inside route/on_request"));
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_files_and_require(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "b.lua", "local cjson = require('cjson')\n"
                          "local ok = pcall(require, 'moongate.does_not_exist')\n"
                          "assert(not ok)\n"
                          "return { route = function() return cjson.encode({1}) end }\n");
    lt_write(&d, "a.lua", "return {}\n");
    lt_write(&d, ".hidden.lua", "syntax error here\n");
    lt_write(&d, "notes.txt", "not lua\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    size_t n;
    const mg_lua_file *f = mg_lua_gen_files(g, &n);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(f[0].name, "a.lua");
    CHECK_EQ_STR(f[1].name, "b.lua");
    CHECK_EQ_INT(f[0].size, 10);
    /* sha256("return {}\n") */
    CHECK_EQ_STR(f[0].sha256, "1232d8379de77e154ca533689af2e42629dd7574bda5a0a390799849f07607c3");
    CHECK(mg_lua_gen_load_ms(g) > 0);
    CHECK_EQ_INT(mg_lua_gen_number(g), 7);
    CHECK_EQ_STR(mg_lua_gen_hook_file(g, MG_LUA_HOOK_ROUTE), "policies/b.lua");
    lt_result r;
    lt_route(g, "x", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "[1]");
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void copy_file(const char *from, lt_dir *d, const char *name)
{
    FILE *f = fopen(from, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    lt_write(d, name, buf);
}

static void route_req(mg_lua_gen *g, const mg_lua_req *req, lt_result *r)
{
    memset(r, 0, sizeof *r);
    r->req = *req;
    mg_lua_call *c = mg_lua_call_route(g, &r->req, lt_on_done, r);
    CHECK(c == NULL); /* nothing here waits */
}

/* The bundled policies/routing.lua and every example load and route. */
static void test_bundled_policies(void)
{
    char path[512];
    lt_dir d;
    lt_dir_init(&d);
    snprintf(path, sizeof path, "%s/policies/routing.lua", lt_home());
    copy_file(path, &d, "routing.lua");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    mg_lua_req req = lt_req("gpt-4o", NULL);
    req.tokens_in_estimate = 10;
    lt_result r;
    route_req(g, &req, &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_STR(r.n ? r.t[0].provider : NULL, "openai");
    req.model = "anthropic/claude-haiku";
    route_req(g, &req, &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "claude-haiku");
    req.model = "unknown-model";
    route_req(g, &req, &r);
    CHECK(r.outcome == MG_LUA_OK && r.n == 0);
    /* the flag an insight action turns on: short prompts go cheap first */
    mg_shv on = {.type = MG_SHV_BOOL, .boolean = 1};
    mg_shared_set("routing", "cheap_small", &on, 0);
    req.model = "gpt-4o";
    route_req(g, &req, &r);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "gpt-4o-mini");
    CHECK_EQ_STR(r.n > 1 ? r.t[1].model : NULL, "gpt-4o");
    req.tokens_in_estimate = 5000; /* not short */
    route_req(g, &req, &r);
    CHECK_EQ_INT(r.n, 1);
    mg_shv off = {.type = MG_SHV_NIL};
    mg_shared_set("routing", "cheap_small", &off, 0);
    mg_lua_gen_release(g);
    lt_dir_free(&d);

    static const char *const examples[] = {"cost_by_size.lua", "failover_chain.lua",
                                           "ab_split.lua", "sticky_sessions.lua",
                                           "model_aliases.lua", "sensitive_words.lua"};
    for (size_t i = 0; i < MG_ARRAY_LEN(examples); i++) {
        lt_dir_init(&d);
        snprintf(path, sizeof path, "%s/examples/policies/%s", lt_home(), examples[i]);
        copy_file(path, &d, examples[i]);
        g = lt_build(&d, NULL);
        CHECK(g != NULL);
        if (g) {
            const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            req = lt_req("gpt-4o-mini", body);
            route_req(g, &req, &r);
            if (r.outcome == MG_LUA_ERROR)
                fprintf(stderr, "%s: %d %s\n", examples[i], r.outcome, r.msg ? r.msg : "");
            CHECK(r.outcome == MG_LUA_OK || r.outcome == MG_LUA_NO_HOOK);
            mg_lua_gen_release(g);
        }
        lt_dir_free(&d);
    }

    /* sensitive words refuse */
    lt_dir_init(&d);
    snprintf(path, sizeof path, "%s/examples/policies/sensitive_words.lua", lt_home());
    copy_file(path, &d, "words.lua");
    g = lt_build(&d, NULL);
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"my PassWord: x\"}]}";
    req = lt_req("gpt-4o", body);
    route_req(g, &req, &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_REFUSED);
    CHECK_EQ_INT(r.status, 400);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

TEST_MAIN(T(test_route_forms), T(test_no_hooks), T(test_load_errors),
          T(test_named_defs_and_lists), T(test_runtime_errors), T(test_deadline),
          T(test_escapes), T(test_memory_cap), T(test_refusals), T(test_req_fields),
          T(test_sync_hooks), T(test_on_log_fields), T(test_waits_and_cancel),
          T(test_files_and_require), T(test_bundled_policies))
