/* lua_bridge.c — the host's calls into lua/moongate/crosstalk (the engine:
 * presets, topologies, paradigms), in the generation a session started on,
 * each under a deadline. A preset's Lua source is compiled here like a
 * policy: text only, its own environment (the engine's preset_env), JIT
 * off for every function in it so the deadline's count hook fires.
 * The session table lives in the state's registry (ct_session.lua_ref).
 * Uses lua/host.h, LuaJIT. */
#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lua/host.h"
#include "ct-t.h"

#define ENGINE_KEY "moongate.crosstalk"
#define MAX_HEADERS 16

void ct_info_free(ct_info *in)
{
    free(in->name);
    free(in->paradigm);
    free(in->topology);
    free(in->prompt);
    free(in->key_id);
    free(in->config_json);
    memset(in, 0, sizeof *in);
}

void ct_plan_free(ct_plan *p)
{
    free(p->speaker);
    free(p->name);
    free(p->model);
    free(p->role);
    free(p->body);
    free(p->hears_json);
    free(p->to_json);
    for (size_t i = 0; i < p->nheaders; i++) {
        free(p->headers[i].name);
        free(p->headers[i].value);
    }
    free(p->headers);
    memset(p, 0, sizeof *p);
}

/* Push engine[fn]. The engine is trusted standard library, loaded with the
 * state's own require (as format conversion loads moongate.bridge). */
static int push_engine_fn(lua_State *L, const char *fn, char *err, size_t errlen)
{
    lua_getfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushstring(L, ENGINE_KEY);
        if (lua_pcall(L, 1, 1, 0) != 0) {
            snprintf(err, errlen, "crosstalk engine failed to load: %s", lua_tostring(L, -1));
            lua_pop(L, 1);
            return MG_ERR;
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
    }
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    return MG_OK;
}

static char *dup_field(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    char *s = lua_type(L, -1) == LUA_TSTRING ? mg_xstrdup(lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return s;
}

static double num_field(lua_State *L, int t, const char *k, double dflt)
{
    lua_getfield(L, t, k);
    double v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

/* A Lua number as an int, clamped (a cast of an out-of-range double is
 * undefined behaviour). */
static int int_field(lua_State *L, int t, const char *k, int dflt)
{
    double v = num_field(L, t, k, dflt);
    if (!(v > -1e9)) /* also NaN */
        return v != v ? dflt : -1000000000;
    return v < 1e9 ? (int)v : 1000000000;
}

/* Compile and run the preset; leaves its table (or what it returned). */
static int push_preset(mg_lua_gen *g, const ct_create *in, char *err, size_t errlen)
{
    lua_State *L = mg_lua_gen_state(g);
    if (in->kind == CT_SRC_JSON) {
        lua_getglobal(L, "require");
        lua_pushstring(L, "cjson.safe");
        if (mg_lua_gen_pcall(g, 1, 1, CT_LUA_BUDGET, err, errlen) != MG_OK)
            return MG_ERR;
        lua_getfield(L, -1, "decode");
        lua_remove(L, -2);
        lua_pushlstring(L, in->text, in->len);
        if (mg_lua_gen_pcall(g, 1, 2, CT_LOAD_BUDGET, err, errlen) != MG_OK)
            return MG_ERR;
        if (lua_isnil(L, -2)) {
            snprintf(err, errlen, "%s: not JSON: %s", in->file, lua_tostring(L, -1));
            lua_pop(L, 2);
            return MG_ERR;
        }
        lua_pop(L, 1);
        return MG_OK;
    }
    if (push_engine_fn(L, "preset_env", err, errlen) != MG_OK ||
        mg_lua_gen_pcall(g, 0, 1, CT_LUA_BUDGET, err, errlen) != MG_OK)
        return MG_ERR;
    char chunk[160];
    snprintf(chunk, sizeof chunk, "@%s", in->file);
    if (luaL_loadbufferx(L, in->text, in->len, chunk, "t") != 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 2);
        return MG_ERR;
    }
    lua_insert(L, -2);
    lua_setfenv(L, -2);
    luaJIT_setmode(L, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
    return mg_lua_gen_pcall(g, 0, 1, CT_LOAD_BUDGET, err, errlen);
}

static void push_ctx(mg_lua_gen *g, const ct_create *in)
{
    lua_State *L = mg_lua_gen_state(g);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, in->file);
    lua_setfield(L, -2, "file");
    lua_pushstring(L, in->id);
    lua_setfield(L, -2, "id");
    if (in->kind == CT_SRC_LUA) {
        lua_pushlstring(L, in->text, in->len);
        lua_setfield(L, -2, "source");
    }
    if (in->rounds > 0) {
        lua_pushinteger(L, in->rounds);
        lua_setfield(L, -2, "rounds");
    }
    if (in->budget_usd >= 0) {
        lua_pushnumber(L, in->budget_usd);
        lua_setfield(L, -2, "budget_usd");
    }
    mg_lua_gen_push_defs(g, "paradigms");
    lua_setfield(L, -2, "paradigms");
    mg_lua_gen_push_defs(g, "topologies");
    lua_setfield(L, -2, "topologies");
}

/* Engine function fn(session) → one value, left on the stack. */
static int call_on_session(mg_lua_gen *g, int ref, const char *fn, char *err, size_t errlen)
{
    lua_State *L = mg_lua_gen_state(g);
    if (push_engine_fn(L, fn, err, errlen) != MG_OK)
        return MG_ERR;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    return mg_lua_gen_pcall(g, 1, 1, CT_LUA_BUDGET, err, errlen);
}

static int read_info(mg_lua_gen *g, int ref, ct_info *info, char *err, size_t errlen)
{
    lua_State *L = mg_lua_gen_state(g);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    int s = lua_gettop(L);
    info->name = dup_field(L, s, "name");
    info->paradigm = dup_field(L, s, "paradigm_name");
    info->topology = dup_field(L, s, "topology_name");
    info->prompt = dup_field(L, s, "prompt");
    info->key_id = dup_field(L, s, "key_id");
    info->rounds = int_field(L, s, "rounds", 0);
    info->budget_usd = num_field(L, s, "budget_usd", -1);
    lua_pop(L, 1);
    if (call_on_session(g, ref, "planned_turns", err, errlen) != MG_OK)
        return MG_ERR;
    double planned = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    info->planned_turns = planned > 0 && planned < 1e9 ? (int)planned : 0;
    lua_pop(L, 1);
    if (call_on_session(g, ref, "describe", err, errlen) != MG_OK)
        return MG_ERR;
    info->config_json = mg_xstrdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "{}");
    lua_pop(L, 1);
    if (!info->name)
        info->name = mg_xstrdup("preset");
    return MG_OK;
}

int ct_lua_create(mg_lua_gen *g, const ct_create *in, int *ref, ct_info *info, char *err,
                  size_t errlen)
{
    lua_State *L = mg_lua_gen_state(g);
    int top = lua_gettop(L);
    memset(info, 0, sizeof *info);
    *ref = LUA_NOREF;
    if (push_engine_fn(L, "new", err, errlen) != MG_OK)
        goto fail;
    if (push_preset(g, in, err, errlen) != MG_OK)
        goto fail;
    push_ctx(g, in);
    if (mg_lua_gen_pcall(g, 2, 2, CT_LUA_BUDGET * 4, err, errlen) != MG_OK)
        goto fail;
    if (lua_isnil(L, -2)) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "invalid preset");
        goto fail;
    }
    lua_pop(L, 1);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (read_info(g, *ref, info, err, errlen) != MG_OK)
        goto fail;
    lua_settop(L, top);
    return MG_OK;
fail:
    lua_settop(L, top);
    if (*ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    *ref = LUA_NOREF;
    ct_info_free(info);
    return MG_ERR;
}

/* turn.hears / turn.to as a JSON array of strings. */
static char *ids_json(lua_State *L, int t, const char *k)
{
    mg_buf b = {0};
    mg_buf_append_str(&b, "[");
    lua_getfield(L, t, k);
    if (lua_istable(L, -1)) {
        int n = (int)lua_objlen(L, -1);
        for (int i = 1; i <= n && i <= 64; i++) {
            lua_rawgeti(L, -1, i);
            size_t len;
            const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            if (s) {
                if (b.len > 1)
                    mg_buf_append_str(&b, ",");
                mg_buf_append_json_str(&b, s, len);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    mg_buf_append_str(&b, "]");
    char *out = mg_xstrndup(b.data, b.len);
    mg_buf_free(&b);
    return out;
}

static void read_headers(lua_State *L, int t, ct_plan *p)
{
    lua_getfield(L, t, "headers");
    if (lua_istable(L, -1)) {
        p->headers = mg_xcalloc(MAX_HEADERS, sizeof *p->headers);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (p->nheaders < MAX_HEADERS && lua_type(L, -2) == LUA_TSTRING &&
                lua_type(L, -1) == LUA_TSTRING) {
                p->headers[p->nheaders].name = mg_xstrdup(lua_tostring(L, -2));
                p->headers[p->nheaders].value = mg_xstrdup(lua_tostring(L, -1));
                p->nheaders++;
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static void read_plan(lua_State *L, int t, ct_plan *p)
{
    p->round = int_field(L, t, "round", 0);
    p->index = int_field(L, t, "index", 0);
    p->seq = int_field(L, t, "seq", 0);
    p->max_tokens = int_field(L, t, "max_tokens", 0);
    p->turns_in_round = int_field(L, t, "turns_in_round", 0);
    p->speaker = dup_field(L, t, "speaker");
    p->name = dup_field(L, t, "name");
    p->model = dup_field(L, t, "model");
    p->role = dup_field(L, t, "role");
    lua_getfield(L, t, "body");
    size_t n = 0;
    const char *body = lua_tolstring(L, -1, &n);
    p->body = body ? mg_xstrndup(body, n) : mg_xstrdup("{}");
    p->body_len = body ? n : 2;
    lua_pop(L, 1);
    p->hears_json = ids_json(L, t, "hears");
    p->to_json = ids_json(L, t, "to");
    read_headers(L, t, p);
}

int ct_lua_next(mg_lua_gen *g, int ref, ct_plan *plan, char *reason, size_t rlen, char *err,
                size_t errlen)
{
    lua_State *L = mg_lua_gen_state(g);
    int top = lua_gettop(L);
    if (push_engine_fn(L, "next_turn", err, errlen) != MG_OK)
        return -1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    if (mg_lua_gen_pcall(g, 1, 2, CT_LUA_BUDGET, err, errlen) != MG_OK) {
        lua_settop(L, top);
        return -1;
    }
    int rc;
    if (lua_istable(L, -2)) {
        memset(plan, 0, sizeof *plan);
        read_plan(L, lua_gettop(L) - 1, plan);
        rc = plan->speaker && plan->model ? 1 : -1;
        if (rc < 0) {
            snprintf(err, errlen, "the engine planned a turn without a speaker or model");
            ct_plan_free(plan);
        }
    } else {
        snprintf(reason, rlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "done");
        rc = 0;
    }
    lua_settop(L, top);
    return rc;
}

int ct_lua_commit(mg_lua_gen *g, int ref, const char *text, size_t len, int *round_done,
                  char *err, size_t errlen)
{
    lua_State *L = mg_lua_gen_state(g);
    int top = lua_gettop(L);
    if (push_engine_fn(L, "commit", err, errlen) != MG_OK)
        return MG_ERR;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushlstring(L, text, len);
    if (mg_lua_gen_pcall(g, 2, 1, CT_LUA_BUDGET, err, errlen) != MG_OK) {
        lua_settop(L, top);
        return MG_ERR;
    }
    *round_done = lua_toboolean(L, -1);
    lua_settop(L, top);
    return MG_OK;
}

void ct_lua_release(mg_lua_gen *g, int ref)
{
    if (g && ref != LUA_NOREF && ref != LUA_REFNIL)
        luaL_unref(mg_lua_gen_state(g), LUA_REGISTRYINDEX, ref);
}
