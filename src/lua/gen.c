/* gen.c — policy generations: the capped allocator, building a state
 * (libraries, cjson, package.path, sandbox, mg API, policies), reference
 * counting and the accessors of host.h. Loading policy files: policies.c;
 * the sandbox: sandbox.c; calls: call.c and hooks.c.
 * Uses LuaJIT, lua-cjson, config and core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "../core/log.h"
#include "internal.h"
#include "json_codec.h"

extern int luaopen_cjson(lua_State *L);
extern int luaopen_cjson_safe(lua_State *L);

const char *const mg_lua_hook_names[MG_LUA_NHOOKS] = {
    "on_request", "route", "before_upstream", "on_response", "classify_error", "on_log",
};

const char *const mg_lua_def_kinds[] = {"alerts", "insights", "formats", "paradigms",
                                        "topologies", NULL};

void mg_lua_limits_default(mg_lua_limits *lim)
{
    lim->memory_max = (size_t)64 << 20;
    lim->hook_budget = 0.05;
    lim->load_budget = 1.0;
}

/* The state's allocator: every byte Lua holds is counted against the cap;
 * past it the allocation fails and Lua raises "not enough memory". */
static void *gen_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    mg_lua_gen *g = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        mg_lua_pool_realloc(&g->pool, ptr, old, 0);
        g->mem_used -= old;
        return NULL;
    }
    if (nsize > old && g->mem_used + (nsize - old) > g->lim.memory_max)
        return NULL;
    void *q = mg_lua_pool_realloc(&g->pool, ptr, old, nsize);
    if (!q)
        return NULL;
    g->mem_used = g->mem_used - old + nsize;
    if (g->mem_used > g->mem_peak)
        g->mem_peak = g->mem_used;
    return q;
}

mg_lua_gen *mg_lua_gen_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

static int on_panic(lua_State *L)
{
    /* Only reachable through a host bug: every entry into Lua is protected. */
    mg_error("lua: unprotected error: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    abort();
}

static void set_package_path(lua_State *L, const char *home)
{
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua", home, home);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath"); /* no C modules from disk */
    lua_pop(L, 1);
    mg_lua_preload_bundled(L);
}

void mg_lua_preload_bundled(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, luaopen_cjson_safe);
    lua_setfield(L, -2, "cjson.safe");
    lua_pushcfunction(L, luaopen_moongate_jsonc);
    lua_setfield(L, -2, "moongate.jsonc");
    lua_pop(L, 2);
}

/* A private cjson instance for the host's own encode/decode, so policies
 * changing their instance's settings cannot affect it. */
static void make_json(lua_State *L, mg_lua_gen *g)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "decode_max_depth");
    lua_pushinteger(L, 200);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "encode_max_depth");
    lua_pushinteger(L, 200);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode");
    g->ref_decode = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "encode");
    g->ref_encode = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 2);
}

typedef struct setup_ctx {
    mg_lua_gen *g;
    const mg_config *cfg;
} setup_ctx;

static int setup_state(lua_State *L)
{
    setup_ctx *ctx = lua_touserdata(L, 1);
    mg_lua_gen *g = ctx->g;
    luaL_openlibs(L);
    set_package_path(L, g->home);
    make_json(L, g);
    /* Bytecode must never be produced for, or reach, a policy. */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_newtable(L);
    g->ref_host = luaL_ref(L, LUA_REGISTRYINDEX);
    mg_lua_reqtab_init(L, g);
    mg_lua_providers_load(L, g, ctx->cfg);
    mg_lua_sandbox_init(L, g);
    mg_lua_deadline_install(L);
    return 0;
}

static char *label_of(const char *dir)
{
    if (!dir || !*dir)
        return mg_xstrdup("policies");
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    if (start == n || (n - start == 1 && dir[start] == '.'))
        return mg_xstrdup("policies");
    return mg_xstrndup(dir + start, n - start);
}

static void gen_free(mg_lua_gen *g)
{
    if (g->L)
        lua_close(g->L);
    mg_lua_pool_drain(&g->pool);
    for (size_t i = 0; i < g->nfiles; i++)
        free((char *)g->files[i].name);
    free(g->files);
    for (int i = 0; i < MG_LUA_NHOOKS; i++)
        free(g->hook_file[i]);
    for (size_t i = 0; i < g->nlog; i++)
        free(g->log_files[i]);
    free(g->log_files);
    free(g->home);
    free(g->label);
    free(g);
}

mg_lua_gen *mg_lua_gen_build_with(const mg_config *cfg, const mg_lua_limits *lim,
                                  uint64_t number, char *err, size_t errlen)
{
    double t0 = mg_now_mono();
    mg_lua_gen *g = mg_xcalloc(1, sizeof *g);
    atomic_init(&g->refs, 1);
    g->number = number;
    if (lim)
        g->lim = *lim;
    else
        mg_lua_limits_default(&g->lim);
    g->ref_host = g->ref_threads = g->ref_idle = g->ref_req_mt = LUA_NOREF;
    g->ref_decode = g->ref_encode = g->ref_provider_set = g->ref_body = LUA_NOREF;
    for (int i = 0; i < MG_LUA_NHOOKS; i++)
        g->hook_ref[i] = LUA_NOREF;
    g->home = mg_xstrdup(cfg->home ? cfg->home : ".");
    g->label = label_of(cfg->policies);

    g->L = lua_newstate(gen_alloc, g);
    if (!g->L) {
        snprintf(err, errlen, "lua: cannot create a state within %zu bytes", g->lim.memory_max);
        goto fail;
    }
    lua_atpanic(g->L, on_panic);
    setup_ctx ctx = {g, cfg};
    int st = lua_cpcall(g->L, setup_state, &ctx);
    if (st != 0) {
        mg_lua_error_text(g->L, st, g, "lua", "setup", err, errlen);
        goto fail;
    }
    if (mg_lua_policies_load(g, cfg->policies, err, errlen) != MG_OK)
        goto fail;
    lua_gc(g->L, LUA_GCCOLLECT, 0);
    g->load_ms = (mg_now_mono() - t0) * 1000;
    return g;
fail:
    gen_free(g);
    return NULL;
}

mg_lua_gen *mg_lua_gen_build(const mg_config *cfg, uint64_t number, char *err, size_t errlen)
{
    return mg_lua_gen_build_with(cfg, NULL, number, err, errlen);
}

void mg_lua_gen_retain(mg_lua_gen *g) { atomic_fetch_add(&g->refs, 1); }

void mg_lua_gen_release(mg_lua_gen *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1)
        gen_free(g);
}

void mg_lua_gen_bind(mg_lua_gen *g, struct ev_loop *loop, mg_upstream *upstream)
{
    g->loop = loop;
    g->upstream = upstream;
}

uint64_t mg_lua_gen_number(const mg_lua_gen *g) { return g->number; }
double mg_lua_gen_load_ms(const mg_lua_gen *g) { return g->load_ms; }
size_t mg_lua_gen_memory(const mg_lua_gen *g) { return g->mem_used; }
lua_State *mg_lua_gen_state(mg_lua_gen *g) { return g->L; }

const mg_lua_file *mg_lua_gen_files(const mg_lua_gen *g, size_t *n)
{
    *n = g->nfiles;
    return g->files;
}

int mg_lua_gen_has_hook(const mg_lua_gen *g, int hook)
{
    if (hook < 0 || hook >= MG_LUA_NHOOKS)
        return 0;
    if (hook == MG_LUA_HOOK_ON_LOG)
        return g->nlog > 0;
    return g->hook_ref[hook] != LUA_NOREF;
}

const char *mg_lua_gen_hook_file(const mg_lua_gen *g, int hook)
{
    return hook >= 0 && hook < MG_LUA_NHOOKS ? g->hook_file[hook] : NULL;
}

void mg_lua_gen_push_defs(mg_lua_gen *g, const char *kind)
{
    lua_State *L = g->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_host);
    lua_getfield(L, -1, "defs");
    lua_getfield(L, -1, kind); /* created for every known kind at build */
    lua_replace(L, -3);
    lua_pop(L, 1);
}

int mg_lua_gen_pcall(mg_lua_gen *g, int nargs, int nresults, double budget, char *err,
                     size_t errlen)
{
    lua_State *L = g->L;
    int base = lua_gettop(L) - nargs - 1;
    mg_lua_deadline_arm(g, budget);
    int st = lua_pcall(L, nargs, nresults, 0);
    if (st == 0 && !g->timed_out) {
        mg_lua_deadline_disarm(g);
        return MG_OK;
    }
    if (st == 0) { /* returned although past the deadline */
        lua_settop(L, base);
        lua_pushnil(L);
    }
    mg_lua_error_text(L, st, g, NULL, NULL, err, errlen);
    mg_lua_deadline_disarm(g);
    if (st == LUA_ERRMEM)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return MG_ERR;
}

int mg_lua_gen_pcall_trusted(mg_lua_gen *g, int nargs, int nresults, char *err, size_t errlen)
{
    lua_State *L = g->L;
    /* No count hook: with one installed the interpreter checks it on every
     * instruction; the standard library's own code runs at full speed. */
    lua_sethook(L, NULL, 0, 0);
    int st = lua_pcall(L, nargs, nresults, 0);
    mg_lua_deadline_install(L);
    if (st == 0)
        return MG_OK;
    mg_lua_error_text(L, st, g, NULL, NULL, err, errlen);
    if (st == LUA_ERRMEM)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return MG_ERR;
}

/* ---- small helpers shared by the API files ---- */

void mg_lua_set_str(lua_State *L, const char *field, const char *value)
{
    if (!value)
        return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, field);
}

void mg_lua_set_num(lua_State *L, const char *field, double value)
{
    lua_pushnumber(L, value);
    lua_setfield(L, -2, field);
}

int mg_lua_header_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 256)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0 || (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            !strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return 1;
}

int mg_lua_header_value_ok(const char *s, size_t n)
{
    if (n > 8192)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 0;
    return 1;
}
