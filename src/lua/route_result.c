/* route_result.c — turns what on_request and route return into the call's
 * outcome: a refusal ({status = 4xx/5xx, message = ...}, as mg.refuse
 * builds), or an ordered list of targets from "provider/model", "model" or
 * {provider=, model=, timeout=, first_byte_timeout=, max_attempts=}, one or
 * a list. Shapes are checked strictly (unknown target fields are errors) so
 * a typo fails loudly instead of routing somewhere unexpected.
 * Runs inside the request coroutine; raises plain messages that call.c
 * prefixes with the policy file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Raise "policies/x.lua: route: target n: ..." (no line: the value was
 * returned, not raised). */
static int fail_in(lua_State *L, int hook, const char *fmt, const char *a, int n)
{
    mg_lua_gen *g = mg_lua_gen_of(L);
    char msg[MG_LUA_MAX_MSG];
    const char *file = g->hook_file[hook] ? g->hook_file[hook] : g->label;
    snprintf(msg, sizeof msg, "%s: %s: ", file, mg_lua_hook_names[hook]);
    if (n > 0) {
        size_t used = strlen(msg);
        snprintf(msg + used, sizeof msg - used, "target %d: ", n);
    }
    size_t used = strlen(msg);
    snprintf(msg + used, sizeof msg - used, fmt, a ? a : "");
    lua_pushstring(L, msg);
    return lua_error(L);
}

static int fail(lua_State *L, const char *fmt, const char *a, int n)
{
    return fail_in(L, MG_LUA_HOOK_ROUTE, fmt, a, n);
}

/* A refusal table at idx? Fills the call and returns 1. */
static int parse_refusal(lua_State *L, mg_lua_call *c, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        return 0;
    lua_pushliteral(L, "status");
    lua_rawget(L, idx);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_Number status = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || status < 400 || status > 599 ||
        status != (int)status)
        fail(L, "refusal status must be an integer 400..599", NULL, 0);
    lua_pushliteral(L, "message");
    lua_rawget(L, idx);
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "refused by policy";
    c->outcome = MG_LUA_REFUSED;
    c->status = (int)status;
    free(c->message);
    c->message = mg_xstrndup(msg, MG_MIN(strlen(msg), MG_LUA_MAX_MSG));
    lua_pop(L, 2);
    return 1;
}

static mg_lua_target *new_target(lua_State *L, mg_lua_call *c)
{
    if (c->ntargets == MG_LUA_MAX_TARGETS)
        fail(L, "more than 32 targets%s", NULL, 0);
    c->targets = mg_xrealloc(c->targets, (c->ntargets + 1) * sizeof *c->targets);
    mg_lua_target *t = &c->targets[c->ntargets++];
    memset(t, 0, sizeof *t);
    return t;
}

static int is_provider(lua_State *L, mg_lua_gen *g, const char *name, size_t n)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_provider_set);
    lua_pushlstring(L, name, n);
    lua_rawget(L, -2);
    int yes = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return yes;
}

/* "provider/model" when the part before the first '/' is a configured
 * provider; otherwise the whole string is a model ("org/model" names). */
static void target_from_string(lua_State *L, mg_lua_call *c, int idx, int n)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (len == 0 || len > 512)
        fail(L, "target string must be 1..512 bytes%s", NULL, n);
    const char *slash = memchr(s, '/', len);
    mg_lua_target *t = new_target(L, c);
    if (slash && slash > s && is_provider(L, c->gen, s, (size_t)(slash - s))) {
        t->provider = mg_xstrndup(s, (size_t)(slash - s));
        if (slash + 1 < s + len)
            t->model = mg_xstrndup(slash + 1, len - (size_t)(slash + 1 - s));
    } else {
        t->model = mg_xstrndup(s, len);
    }
}

static double opt_seconds(lua_State *L, int idx, const char *field, int n)
{
    lua_getfield(L, idx, field);
    double v = 0;
    if (!lua_isnil(L, -1)) {
        v = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(v > 0 && v <= 3600))
            fail(L, "%s must be seconds in (0, 3600]", field, n);
    }
    lua_pop(L, 1);
    return v;
}

static char *opt_string(lua_State *L, int idx, const char *field, int n)
{
    lua_getfield(L, idx, field);
    char *v = NULL;
    if (!lua_isnil(L, -1)) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING || len == 0 || len > 256)
            fail(L, "%s must be a non-empty string", field, n);
        v = mg_xstrndup(s, len);
    }
    lua_pop(L, 1);
    return v;
}

static void check_fields(lua_State *L, int idx, int n)
{
    static const char *const known[] = {"provider", "model", "timeout", "first_byte_timeout",
                                        "max_attempts", NULL};
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int ok = 0;
        for (int i = 0; k && known[i] && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok)
            fail(L, "unknown field '%s' (provider, model, timeout, first_byte_timeout, "
                    "max_attempts)", k ? k : "?", n);
    }
}

static void target_from_table(lua_State *L, mg_lua_call *c, int idx, int n)
{
    check_fields(L, idx, n);
    mg_lua_target *t = new_target(L, c);
    /* A failing field leaves a partial target; the call frees it all. */
    t->provider = opt_string(L, idx, "provider", n);
    t->model = opt_string(L, idx, "model", n);
    if (!t->provider && !t->model)
        fail(L, "a target table needs provider or model%s", NULL, n);
    if (t->provider && !is_provider(L, c->gen, t->provider, strlen(t->provider)))
        fail(L, "unknown provider '%s'", t->provider, n);
    t->timeout_total = opt_seconds(L, idx, "timeout", n);
    t->timeout_first_byte = opt_seconds(L, idx, "first_byte_timeout", n);
    lua_getfield(L, idx, "max_attempts");
    if (!lua_isnil(L, -1)) {
        lua_Number a = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || a < 1 || a > 10 || a != (int)a)
            fail(L, "max_attempts must be an integer 1..10%s", NULL, n);
        t->max_attempts = (int)a;
    }
    lua_pop(L, 1);
}

static void one_target(lua_State *L, mg_lua_call *c, int idx, int n)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: target_from_string(L, c, idx, n); break;
    case LUA_TTABLE: target_from_table(L, c, idx, n); break;
    default: fail(L, "must be a string or a table, not %s", luaL_typename(L, idx), n);
    }
}

static void parse_route(lua_State *L, mg_lua_call *c, int idx)
{
    int type = lua_type(L, idx);
    if (type == LUA_TNIL)
        return;
    if (type == LUA_TSTRING) {
        one_target(L, c, idx, 0);
        return;
    }
    if (type != LUA_TTABLE)
        fail(L, "must return a target, a list of targets or nil, not %s",
             luaL_typename(L, idx), 0);
    lua_rawgeti(L, idx, 1);
    int is_list = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!is_list) {
        lua_pushnil(L);
        int empty = !lua_next(L, idx);
        if (!empty)
            lua_pop(L, 2);
        if (!empty)
            one_target(L, c, idx, 0);
        return;
    }
    int n = (int)lua_objlen(L, idx);
    if (n > MG_LUA_MAX_TARGETS)
        fail(L, "more than 32 targets%s", NULL, 0);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        one_target(L, c, lua_gettop(L), i);
        lua_pop(L, 1);
    }
}

int mg_lua_route_finish(lua_State *L)
{
    mg_lua_call *c = lua_touserdata(L, 1);
    int stage = (int)lua_tointeger(L, 2);
    lua_settop(L, 3);
    if (parse_refusal(L, c, 3))
        return 0;
    if (stage == 1)
        return fail_in(L, MG_LUA_HOOK_ON_REQUEST,
                       "must return nil or a refusal like mg.refuse(403, 'why')%s", NULL, 0);
    parse_route(L, c, 3);
    c->outcome = MG_LUA_OK;
    return 0;
}
