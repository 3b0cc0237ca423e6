/* sandbox.c — the environment policies and the standard library run in.
 * An allow-list of globals (no os, io, package, debug, jit, ffi, getfenv,
 * setfenv, dofile, loadfile, collectgarbage, newproxy), one fresh globals
 * table per file sharing a read-only base, `load`/`loadstring` that accept
 * text only and switch the JIT off for what they produce, `require` limited
 * to mg, cjson and lua/moongate/ modules, a coroutine library that cannot yield or
 * resume the host's request coroutines, and a guard against creating
 * globals after loading. A small trusted Lua chunk (boot) holds the parts
 * that must be Lua so waits can yield: coroutine wrappers, the waiter
 * shape of mg.http.request/mg.sleep, and the route body.
 * Uses LuaJIT (luaJIT_setmode) and policy_files.c to read modules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <luajit.h>

#include "internal.h"
#include "policy_files.h"

/* A value only host code can produce: the first value of every host yield. */
static const char yield_sentinel = 0;
/* Marks a module being loaded, to catch require loops. */
static const char loading_mark = 0;

static const char boot_src[] =
    "local real, threads, SENTINEL = ...\n"
    "local running, yield, resume, isyieldable =\n"
    "  real.running, real.yield, real.resume, real.isyieldable\n"
    "local error = error\n"
    "local co = {}\n"
    "for k, v in pairs(real) do co[k] = v end\n"
    "local function in_host()\n"
    "  local c = running()\n"
    "  return c == nil or threads[c] ~= nil\n"
    "end\n"
    "function co.running()\n"
    "  local c = running()\n"
    "  if c ~= nil and threads[c] then return nil end\n"
    "  return c\n"
    "end\n"
    "function co.yield(...)\n"
    "  if in_host() then error('attempt to yield from outside a coroutine', 2) end\n"
    "  return yield(...)\n"
    "end\n"
    "function co.resume(c, ...)\n"
    "  if threads[c] then return false, 'cannot resume non-suspended coroutine' end\n"
    "  return resume(c, ...)\n"
    "end\n"
    "function co.isyieldable()\n"
    "  return not in_host() and isyieldable()\n"
    "end\n"
    "-- A handler given to the real xpcall runs inside the deadline hook's\n"
    "-- context when the hook raised, where hooks do not fire: an endless\n"
    "-- handler would never stop. Run it after unwinding instead.\n"
    "local pcall = pcall\n"
    "local function xpcall_safe(f, handler, ...)\n"
    "  local function finish(ok, ...)\n"
    "    if ok then return true, ... end\n"
    "    local hok, res = pcall(handler, (...))\n"
    "    if not hok then return false, 'error in error handling' end\n"
    "    return false, res\n"
    "  end\n"
    "  return finish(pcall(f, ...))\n"
    "end\n"
    "local function waiter(start, finish)\n"
    "  return function(...)\n"
    "    local ok, err = start(isyieldable(), ...)\n"
    "    if not ok then return nil, err end\n"
    "    yield(SENTINEL)\n"
    "    return finish()\n"
    "  end\n"
    "end\n"
    "local function route_body(on_request, route, finish)\n"
    "  return function(call, req)\n"
    "    if on_request then\n"
    "      local r = on_request(req)\n"
    "      if r ~= nil then return finish(call, 1, r) end\n"
    "    end\n"
    "    if route then return finish(call, 2, (route(req))) end\n"
    "  end\n"
    "end\n"
    "return { coroutine = co, waiter = waiter, route_body = route_body,\n"
    "         xpcall = xpcall_safe }\n";

static const char *const safe_globals[] = {
    "assert", "error",    "ipairs",   "next",         "pairs",        "pcall",
    "select", "tonumber", "tostring",     "type",         "unpack",
    "rawequal", "rawget", "rawset",   "setmetatable", "getmetatable", "_VERSION",
    NULL,
};
static const char *const copied_libs[] = {"string", "table", "math", "bit", NULL};

void *mg_lua_yield_sentinel(void) { return (void *)&yield_sentinel; }

static void host_field(lua_State *L, mg_lua_gen *g, const char *name)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_host);
    lua_getfield(L, -1, name);
    lua_replace(L, -2);
}

static void set_host_field(lua_State *L, mg_lua_gen *g, const char *name)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_host);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

int mg_lua_sandbox_load(lua_State *L, mg_lua_gen *g, const char *src, size_t len,
                        const char *chunkname, int env, int user_code)
{
    MG_UNUSED(g);
    if (env < 0 && env > LUA_REGISTRYINDEX) /* relative, not a pseudo-index */
        env = lua_gettop(L) + env + 1;
    if (len > 0 && src[0] == LUA_SIGNATURE[0]) {
        lua_pushstring(L, "binary chunks are not allowed");
        return LUA_ERRSYNTAX;
    }
    int st = luaL_loadbufferx(L, src, len, chunkname, "t");
    if (st != 0)
        return st;
    lua_pushvalue(L, env);
    lua_setfenv(L, -2);
    if (user_code) /* interpreted, so the deadline's count hook fires */
        luaJIT_setmode(L, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
    return 0;
}

/* Text of a load() argument: a string, or the pieces a reader returns. */
static const char *load_text(lua_State *L, size_t *len)
{
    if (lua_type(L, 1) == LUA_TSTRING)
        return lua_tolstring(L, 1, len);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "reader function must return a string");
        size_t n;
        lua_tolstring(L, -1, &n);
        if (n == 0) {
            lua_pop(L, 1);
            break;
        }
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_replace(L, 1);
    return lua_tolstring(L, 1, len);
}

/* load(chunk [, chunkname [, mode [, env]]]) and loadstring(s [, name]):
 * upvalue 1 the default environment, upvalue 2 whether it is user code. */
static int sb_load(lua_State *L)
{
    mg_lua_gen *g = mg_lua_gen_of(L);
    size_t len;
    const char *src = load_text(L, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    int env = lua_upvalueindex(1);
    if (lua_type(L, 4) == LUA_TTABLE)
        env = 4;
    int st = mg_lua_sandbox_load(L, g, src, len, name, env,
                                 lua_toboolean(L, lua_upvalueindex(2)));
    if (st != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

static int sb_global_guard(lua_State *L)
{
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    return luaL_error(L, "assignment to undeclared global '%s' (declare it with local)", k);
}

static void guard_env(lua_State *L, int env)
{
    if (!lua_getmetatable(L, env))
        return;
    lua_pushcfunction(L, sb_global_guard);
    lua_setfield(L, -2, "__newindex");
    lua_pop(L, 1);
}

void mg_lua_sandbox_push_env(lua_State *L, mg_lua_gen *g, int user_code)
{
    lua_createtable(L, 0, 4);
    int env = lua_gettop(L);
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
    for (int i = 0; i < 2; i++) {
        lua_pushvalue(L, env);
        lua_pushboolean(L, user_code);
        lua_pushcclosure(L, sb_load, 2);
        lua_setfield(L, env, i ? "loadstring" : "load");
    }
    lua_createtable(L, 0, 2);
    host_field(L, g, "base");
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, env);
    if (user_code) { /* sealed once every file has loaded */
        host_field(L, g, "envs");
        lua_pushvalue(L, env);
        lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
        lua_pop(L, 1);
    }
}

void mg_lua_sandbox_seal(lua_State *L, mg_lua_gen *g)
{
    host_field(L, g, "envs");
    int n = (int)lua_objlen(L, -1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        guard_env(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int module_name_ok(const char *s)
{
    if (strncmp(s, "moongate", 8) != 0 || (s[8] != '\0' && s[8] != '.'))
        return 0;
    for (const char *p = s; *p; p++) {
        int word = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '_';
        if (!word && !(*p == '.' && p[1] && p[1] != '.'))
            return 0;
    }
    return strlen(s) < 200;
}

/* Read lua/<name>.lua or lua/<name>/init.lua under home. */
static int read_module(mg_lua_gen *g, const char *name, char **src, size_t *len, char *rel,
                       size_t rellen)
{
    char path[1024], err[MG_ERRLEN];
    char sub[256];
    snprintf(sub, sizeof sub, "%s", name);
    for (char *p = sub; *p; p++)
        if (*p == '.')
            *p = '/';
    snprintf(rel, rellen, "lua/%s.lua", sub);
    snprintf(path, sizeof path, "%s/%s", g->home, rel);
    if (mg_policy_read_file(path, MG_POLICY_MAX_BYTES, src, len, err, sizeof err) == MG_OK)
        return MG_OK;
    snprintf(rel, rellen, "lua/%s/init.lua", sub);
    snprintf(path, sizeof path, "%s/%s", g->home, rel);
    return mg_policy_read_file(path, MG_POLICY_MAX_BYTES, src, len, err, sizeof err);
}

/* require(name) — upvalue 1 the module cache. */
static int sb_require(lua_State *L)
{
    mg_lua_gen *g = mg_lua_gen_of(L);
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, lua_upvalueindex(1), name);
    if (lua_touserdata(L, -1) == &loading_mark)
        return luaL_error(L, "loop while requiring '%s'", name);
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);
    if (!module_name_ok(name))
        return luaL_error(L, "module '%s' not available (policies may require mg, cjson and "
                             "moongate.*)", name);
    char *src, rel[300], chunk[310];
    size_t len;
    if (read_module(g, name, &src, &len, rel, sizeof rel) != MG_OK)
        return luaL_error(L, "module '%s' not found under %s/lua", name, g->home);
    snprintf(chunk, sizeof chunk, "@%s", rel);
    lua_pushlightuserdata(L, (void *)&loading_mark);
    lua_setfield(L, lua_upvalueindex(1), name);
    mg_lua_sandbox_push_env(L, g, 0);
    int st = mg_lua_sandbox_load(L, g, src, len, chunk, -1, 0);
    free(src);
    if (st != 0) {
        lua_pushnil(L);
        lua_setfield(L, lua_upvalueindex(1), name);
        return lua_error(L);
    }
    lua_pushstring(L, name);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        lua_pushnil(L);
        lua_setfield(L, lua_upvalueindex(1), name);
        return lua_error(L);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, lua_upvalueindex(1), name);
    guard_env(L, 2);
    return 1;
}

static void copy_table(lua_State *L, const char *global)
{
    lua_getglobal(L, global);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_replace(L, -2);
}

static void run_boot(lua_State *L, mg_lua_gen *g)
{
    if (luaL_loadbufferx(L, boot_src, sizeof boot_src - 1, MG_LUA_BOOT_CHUNK, "t") != 0)
        lua_error(L);
    lua_getglobal(L, "coroutine");
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_threads);
    lua_pushlightuserdata(L, mg_lua_yield_sentinel());
    lua_call(L, 3, 1);
    set_host_field(L, g, "boot");
}

void mg_lua_push_waiter(lua_State *L, lua_CFunction start, lua_CFunction finish)
{
    mg_lua_gen *g = mg_lua_gen_of(L);
    host_field(L, g, "boot");
    lua_getfield(L, -1, "waiter");
    lua_replace(L, -2);
    lua_pushcfunction(L, start);
    lua_pushcfunction(L, finish);
    lua_call(L, 2, 1);
}

static void make_module_cache(lua_State *L, mg_lua_gen *g, int mg)
{
    lua_newtable(L);
    lua_pushvalue(L, mg);
    lua_setfield(L, -2, "mg");
    static const char *const preloaded[] = {"cjson", "cjson.safe", "moongate.jsonc", NULL};
    for (int i = 0; preloaded[i]; i++) {
        lua_getglobal(L, "require");
        lua_pushstring(L, preloaded[i]);
        lua_call(L, 1, 1);
        lua_setfield(L, -2, preloaded[i]);
    }
    lua_pushvalue(L, -1);
    set_host_field(L, g, "modules");
}

static void make_base(lua_State *L, mg_lua_gen *g, int mg)
{
    lua_newtable(L);
    int base = lua_gettop(L);
    for (int i = 0; safe_globals[i]; i++) {
        lua_getglobal(L, safe_globals[i]);
        lua_setfield(L, base, safe_globals[i]);
    }
    for (int i = 0; copied_libs[i]; i++) {
        copy_table(L, copied_libs[i]);
        lua_setfield(L, base, copied_libs[i]);
    }
    host_field(L, g, "boot");
    lua_getfield(L, -1, "coroutine");
    lua_setfield(L, base, "coroutine");
    lua_getfield(L, -1, "xpcall");
    lua_setfield(L, base, "xpcall");
    lua_pop(L, 1);
    lua_pushvalue(L, mg);
    lua_setfield(L, base, "mg");
    lua_getfield(L, mg, "log");
    lua_getfield(L, -1, "info");
    lua_setfield(L, base, "print");
    lua_pop(L, 1);
    make_module_cache(L, g, mg);
    lua_pushcclosure(L, sb_require, 1);
    lua_setfield(L, base, "require");
    set_host_field(L, g, "base");
}

/* Strings' metatable must not hand out the real string table. */
static void protect_string_mt(lua_State *L)
{
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void mg_lua_sandbox_init(lua_State *L, mg_lua_gen *g)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    g->ref_threads = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, MG_LUA_IDLE_MAX, 0); /* sized now: storing never allocates */
    g->ref_idle = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    set_host_field(L, g, "envs");
    lua_newtable(L);
    for (int i = 0; mg_lua_def_kinds[i]; i++) {
        lua_newtable(L);
        lua_setfield(L, -2, mg_lua_def_kinds[i]);
    }
    set_host_field(L, g, "defs");
    run_boot(L, g);
    mg_lua_push_api(L, g);
    int mg = lua_gettop(L);
    lua_pushvalue(L, mg);
    set_host_field(L, g, "mg");
    make_base(L, g, mg);
    lua_pop(L, 1);
    protect_string_mt(L);
}
