/* policies.c — loads every policies/NAME.lua file of a generation in name
 * order, each in its own sandboxed environment with the JIT off and a load
 * deadline, and merges what the files return: single hooks (a second
 * definition is an error naming both files), the on_log list in file order,
 * named definitions merged by name (duplicates are errors), and check()
 * functions run once everything is loaded. Errors read
 * "policies/x.lua:12: message". Uses policy_files.c and sandbox.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "policy_files.h"

typedef struct load_ctx {
    mg_lua_gen *g;
    const mg_policy_file *f;
    const char *file; /* "policies/x.lua" */
} load_ctx;

static void push_host(lua_State *L, mg_lua_gen *g, const char *field)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_host);
    lua_getfield(L, -1, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, field);
    }
    lua_replace(L, -2);
}

static int single_hook(const char *name)
{
    for (int i = 0; i < MG_LUA_HOOK_ON_LOG; i++)
        if (strcmp(mg_lua_hook_names[i], name) == 0)
            return i;
    return -1;
}

static int def_kind(const char *name)
{
    for (int i = 0; mg_lua_def_kinds[i]; i++)
        if (strcmp(mg_lua_def_kinds[i], name) == 0)
            return i;
    return -1;
}

static void append(lua_State *L, int list, int value)
{
    lua_pushvalue(L, value);
    lua_rawseti(L, list, (int)lua_objlen(L, list) + 1);
}

/* The value at -1 is a single hook named key. */
static void merge_single(lua_State *L, mg_lua_gen *g, const char *file, const char *key)
{
    if (lua_type(L, -1) != LUA_TFUNCTION)
        luaL_error(L, "%s: %s must be a function", file, key);
    push_host(L, g, "hook_files");
    lua_getfield(L, -1, key);
    if (!lua_isnil(L, -1))
        luaL_error(L, "%s: %s is already defined in %s", file, key, lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushstring(L, file);
    lua_setfield(L, -2, key);
    lua_pop(L, 1);
    push_host(L, g, "hooks");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, key);
    lua_pop(L, 1);
}

static void merge_on_log(lua_State *L, mg_lua_gen *g, const char *file)
{
    int v = lua_gettop(L);
    push_host(L, g, "on_log");
    push_host(L, g, "on_log_files");
    lua_pushstring(L, file);
    int fname = lua_gettop(L);
    if (lua_type(L, v) == LUA_TFUNCTION) {
        append(L, v + 1, v);
        append(L, v + 2, fname);
    } else if (lua_type(L, v) == LUA_TTABLE) {
        int n = (int)lua_objlen(L, v);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, v, i);
            if (lua_type(L, -1) != LUA_TFUNCTION)
                luaL_error(L, "%s: on_log[%d] must be a function", file, i);
            append(L, v + 1, lua_gettop(L));
            append(L, v + 2, fname);
            lua_pop(L, 1);
        }
    } else {
        luaL_error(L, "%s: on_log must be a function or a list of functions", file);
    }
    lua_settop(L, v);
}

static void merge_def(lua_State *L, mg_lua_gen *g, const char *file, const char *kind,
                      int defs, int origins, int def)
{
    const char *name = NULL;
    if (lua_type(L, def - 1) == LUA_TSTRING) {
        name = lua_tostring(L, def - 1);
    } else if (lua_type(L, def) == LUA_TTABLE) {
        lua_getfield(L, def, "name");
        name = lua_tostring(L, -1); /* stays on the stack until settop */
    }
    if (!name)
        luaL_error(L, "%s: each entry of %s needs a name (a string key or a name field)", file,
                   kind);
    lua_getfield(L, origins, name);
    if (!lua_isnil(L, -1))
        luaL_error(L, "%s: %s '%s' is already defined in %s", file, kind, name,
                   lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushstring(L, file);
    lua_setfield(L, origins, name);
    lua_pushvalue(L, def);
    lua_setfield(L, defs, name);
    MG_UNUSED(g);
}

static void merge_defs(lua_State *L, mg_lua_gen *g, const char *file, const char *kind)
{
    int v = lua_gettop(L);
    if (lua_type(L, v) != LUA_TTABLE)
        luaL_error(L, "%s: %s must be a table of definitions", file, kind);
    mg_lua_gen_push_defs(g, kind);
    int defs = lua_gettop(L);
    push_host(L, g, "def_files");
    lua_getfield(L, -1, kind);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, kind);
    }
    int origins = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, v)) {
        int top = lua_gettop(L);
        merge_def(L, g, file, kind, defs, origins, top);
        lua_settop(L, top - 1);
    }
    lua_settop(L, v);
}

static void merge(lua_State *L, mg_lua_gen *g, const char *file, int t)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "%s: the returned table may only have named keys", file);
        const char *key = lua_tostring(L, -2);
        if (single_hook(key) >= 0) {
            merge_single(L, g, file, key);
        } else if (strcmp(key, "on_log") == 0) {
            merge_on_log(L, g, file);
        } else if (def_kind(key) >= 0) {
            merge_defs(L, g, file, key);
        } else if (strcmp(key, "check") == 0) {
            if (lua_type(L, -1) != LUA_TFUNCTION)
                luaL_error(L, "%s: check must be a function", file);
            push_host(L, g, "checks");
            lua_createtable(L, 2, 0);
            lua_pushstring(L, file);
            lua_rawseti(L, -2, 1);
            lua_pushvalue(L, -3);
            lua_rawseti(L, -2, 2);
            lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
            lua_pop(L, 1);
        } else {
            luaL_error(L, "%s: unknown key '%s' (expected on_request, route, before_upstream, "
                          "on_response, classify_error, on_log, check, alerts, insights, "
                          "formats, paradigms or topologies)", file, key);
        }
        lua_pop(L, 1);
    }
}

static int load_one(lua_State *L)
{
    load_ctx *ctx = lua_touserdata(L, 1);
    mg_lua_gen *g = ctx->g;
    char chunk[300];
    snprintf(chunk, sizeof chunk, "@%s", ctx->file);
    mg_lua_sandbox_push_env(L, g, 1);
    if (mg_lua_sandbox_load(L, g, ctx->f->data, ctx->f->len, chunk, 2, 1) != 0)
        return lua_error(L);
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
        return luaL_error(L, "%s: must return a table (got %s)", ctx->file, luaL_typename(L, -1));
    merge(L, g, ctx->file, lua_gettop(L));
    return 0;
}

typedef struct check_ctx {
    mg_lua_gen *g;
    int index;
    char file[300];
} check_ctx;

static int run_check(lua_State *L)
{
    check_ctx *ctx = lua_touserdata(L, 1);
    push_host(L, ctx->g, "checks");
    lua_rawgeti(L, -1, ctx->index);
    lua_rawgeti(L, -1, 2);
    lua_call(L, 0, 2);
    if (lua_toboolean(L, -2) || lua_isnil(L, -2)) /* nothing or true: fine */
        return 0;
    return luaL_error(L, "check failed: %s", lua_isstring(L, -1) ? lua_tostring(L, -1)
                                                                 : "returned false");
}

static int check_file(lua_State *L)
{
    check_ctx *ctx = lua_touserdata(L, 1);
    push_host(L, ctx->g, "checks");
    int n = (int)lua_objlen(L, -1);
    if (ctx->index <= n) {
        lua_rawgeti(L, -1, ctx->index);
        lua_rawgeti(L, -1, 1);
        snprintf(ctx->file, sizeof ctx->file, "%s", lua_tostring(L, -1));
    }
    return 0;
}

static int run_checks(mg_lua_gen *g, char *err, size_t errlen)
{
    for (int i = 1;; i++) {
        check_ctx ctx = {.g = g, .index = i};
        if (lua_cpcall(g->L, check_file, &ctx) != 0) {
            mg_lua_error_text(g->L, LUA_ERRMEM, g, "policies", "check", err, errlen);
            return MG_ERR;
        }
        if (!ctx.file[0])
            return MG_OK;
        if (mg_lua_run(g, run_check, &ctx, g->lim.load_budget, ctx.file, NULL, NULL, 0, err,
                       errlen) != MG_OK)
            return MG_ERR;
    }
}

/* Staging tables -> the generation's refs and file names; the route body. */
static int finalize(lua_State *L)
{
    mg_lua_gen *g = lua_touserdata(L, 1);
    push_host(L, g, "hooks");
    push_host(L, g, "hook_files");
    for (int i = 0; i < MG_LUA_HOOK_ON_LOG; i++) {
        lua_getfield(L, 3, mg_lua_hook_names[i]);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        lua_getfield(L, 2, mg_lua_hook_names[i]);
        g->hook_ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
        g->hook_file[i] = mg_xstrdup(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    push_host(L, g, "on_log_files");
    g->nlog = lua_objlen(L, -1);
    g->log_files = mg_xcalloc(g->nlog ? g->nlog : 1, sizeof *g->log_files);
    for (size_t i = 0; i < g->nlog; i++) {
        lua_rawgeti(L, -1, (int)i + 1);
        g->log_files[i] = mg_xstrdup(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    push_host(L, g, "on_log");
    g->hook_ref[MG_LUA_HOOK_ON_LOG] = luaL_ref(L, LUA_REGISTRYINDEX);
    push_host(L, g, "boot");
    lua_getfield(L, -1, "route_body");
    lua_getfield(L, 2, "on_request");
    lua_getfield(L, 2, "route");
    lua_pushcfunction(L, mg_lua_route_finish);
    lua_call(L, 3, 1);
    g->ref_body = luaL_ref(L, LUA_REGISTRYINDEX);
    mg_lua_sandbox_seal(L, g);
    return 0;
}

static void keep_file_list(mg_lua_gen *g, const mg_policy_file *files, size_t n)
{
    g->files = mg_xcalloc(n ? n : 1, sizeof *g->files);
    g->nfiles = n;
    for (size_t i = 0; i < n; i++) {
        g->files[i].name = mg_xstrdup(files[i].name);
        memcpy(g->files[i].sha256, files[i].sha256, sizeof g->files[i].sha256);
        g->files[i].size = files[i].len;
    }
}

int mg_lua_policies_load(mg_lua_gen *g, const char *dir, char *err, size_t errlen)
{
    mg_policy_file *files = NULL;
    size_t n = 0;
    if (dir && mg_policy_files_read(dir, &files, &n, err, errlen) != MG_OK)
        return MG_ERR;
    keep_file_list(g, files, n);
    int rc = MG_OK;
    for (size_t i = 0; i < n && rc == MG_OK; i++) {
        char file[300];
        snprintf(file, sizeof file, "%s/%s", g->label, files[i].name);
        load_ctx ctx = {g, &files[i], file};
        rc = mg_lua_run(g, load_one, &ctx, g->lim.load_budget, file, NULL, NULL, 0, err, errlen);
    }
    mg_policy_files_free(files, n);
    if (rc == MG_OK)
        rc = run_checks(g, err, errlen);
    if (rc == MG_OK && lua_cpcall(g->L, finalize, g) != 0) {
        mg_lua_error_text(g->L, LUA_ERRMEM, g, "policies", NULL, err, errlen);
        rc = MG_ERR;
    }
    return rc;
}
