/* lua_rules.c — the engine's policy generation (built by
 * mg_alerts_set_config, bound to the main loop): loading the policies'
 * `alerts` through lua/moongate/alerts/runner.lua, running function rules
 * with the `m` helper (two C functions over the ring), and running the
 * insight generators (lua/moongate/insights). The standard library
 * modules are trusted code loaded with the state's own `require` (package
 * path <home>/lua); user functions stay in their sandbox. Every call runs
 * under mg_lua_gen_pcall's deadline. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "al-t.h"

/* ---- the host functions behind `m` ---------------------------------------- */

static mg_alerts *engine_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* filters table at idx → f[] (strings live on the Lua stack: the table
 * keeps them). budget receives the "budget" filter. Returns the count. */
static size_t read_filters(lua_State *L, int idx, mg_al_filter *f, const char **budget)
{
    size_t n = 0;
    *budget = NULL;
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING &&
                                               lua_type(L, -1) != LUA_TNUMBER))
            luaL_error(L, "metrics: filters are { field = string or number }");
        const char *k = lua_tostring(L, -2);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            /* Store the text form in the table (an existing key: allowed
             * while traversing), so the string lives as long as the table. */
            lua_pushvalue(L, -2);
            lua_pushstring(L, lua_tostring(L, -2));
            lua_rawset(L, idx);
        }
        const char *v = lua_tostring(L, -1);
        if (!strcmp(k, "budget"))
            *budget = v;
        else if (n == MG_AL_MAX_FILTERS)
            luaL_error(L, "metrics: at most %d filters", MG_AL_MAX_FILTERS);
        else if (mg_al_label_of(k) < 0 && mg_al_num_of(k) < 0)
            luaL_error(L, "metrics: cannot filter on '%s'", k);
        else {
            f[n].field = k;
            f[n].value = v;
            n++;
        }
        lua_pop(L, 1);
    }
    return n;
}

static int budget_value(mg_alerts *a, const char *scope, double *v)
{
    mg_al_budget b[MG_AL_MAX_BUDGETS];
    size_t n = mg_al_budget_snapshot(a, b, MG_AL_MAX_BUDGETS, mg_now_wall_ms());
    int found = 0;
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (scope && strcmp(scope, b[i].scope) != 0)
            continue;
        double u = b[i].spent / b[i].budget;
        *v = found ? MG_MAX(*v, u) : u;
        found = 1;
    }
    return found ? MG_OK : MG_ERR;
}

/* query(metric, window, filters) → value | nil, samples */
static int l_query(lua_State *L)
{
    mg_alerts *a = engine_of(L);
    const char *name = luaL_checkstring(L, 1);
    double window = luaL_checknumber(L, 2);
    if (!(window >= 1 && window <= MG_AL_MAX_WINDOW))
        return luaL_argerror(L, 2, "window must be 1 s .. 31 days");
    mg_al_metric m;
    char err[512];
    if (mg_al_metric_parse(name, &m, err, sizeof err) != MG_OK)
        return luaL_error(L, "%s", err);
    mg_al_filter f[MG_AL_MAX_FILTERS];
    const char *budget;
    size_t nf = read_filters(L, 3, f, &budget);
    double v = 0;
    uint64_t samples = 0;
    int rc;
    if (m.kind == MG_AL_M_BUDGET_USAGE) {
        rc = budget_value(a, budget, &v);
        samples = rc == MG_OK;
    } else {
        rc = mg_al_metric_eval(a->ring, &m, window, f, nf, mg_now_wall_ms(), &v, &samples);
    }
    if (rc == MG_OK)
        lua_pushnumber(L, v);
    else
        lua_pushnil(L);
    lua_pushnumber(L, (lua_Number)samples);
    return 2;
}

/* groups(label, window, filters) → { value, ... } */
static int l_groups(lua_State *L)
{
    mg_alerts *a = engine_of(L);
    int label = mg_al_label_of(luaL_checkstring(L, 1));
    if (label < 0)
        return luaL_argerror(L, 1, "not a label (provider, model_routed, status, ...)");
    double window = luaL_checknumber(L, 2);
    if (!(window >= 1 && window <= MG_AL_MAX_WINDOW))
        return luaL_argerror(L, 2, "window must be 1 s .. 31 days");
    mg_al_filter f[MG_AL_MAX_FILTERS];
    const char *budget;
    size_t nf = read_filters(L, 3, f, &budget);
    char **names = NULL;
    size_t n = mg_al_ring_groups(a->ring, label, window, f, nf, mg_now_wall_ms(),
                                 MG_AL_MAX_GROUPS, &names);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    mg_al_strings_free(names, n);
    return 1;
}

/* ---- adopting a generation ------------------------------------------------ */

static void drop_rules(mg_alerts *a)
{
    for (size_t i = 0; i < a->nlua; i++)
        mg_al_rule_clear(&a->lua_rules[i]);
    free(a->lua_rules);
    free(a->lua_refs);
    a->lua_rules = NULL;
    a->lua_refs = NULL;
    a->nlua = 0;
}

void mg_al_lua_drop(mg_alerts *a)
{
    drop_rules(a);
    if (a->gen)
        mg_lua_gen_release(a->gen); /* closes the state with every ref in it */
    a->gen = NULL;
    a->runner_ref = a->helper_ref = a->insights_ref = LUA_NOREF;
}

/* require(module) in g's state → registry ref, or LUA_NOREF (logged). */
static int require_ref(mg_lua_gen *g, const char *module)
{
    lua_State *L = mg_lua_gen_state(g);
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    char err[512];
    if (mg_lua_gen_pcall(g, 1, 1, 1.0, err, sizeof err) != MG_OK) {
        mg_error("alerts: cannot load %s: %s", module, err);
        return LUA_NOREF;
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static int make_helper(mg_alerts *a, mg_lua_gen *g)
{
    lua_State *L = mg_lua_gen_state(g);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->runner_ref);
    lua_getfield(L, -1, "helper");
    lua_remove(L, -2);
    lua_pushlightuserdata(L, a);
    lua_pushcclosure(L, l_query, 1);
    lua_pushlightuserdata(L, a);
    lua_pushcclosure(L, l_groups, 1);
    char err[512];
    if (mg_lua_gen_pcall(g, 2, 1, 1.0, err, sizeof err) != MG_OK) {
        mg_error("alerts: %s", err);
        return LUA_NOREF;
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* One entry of collect()'s list, on top of the stack. */
static void adopt_entry(mg_alerts *a, lua_State *L)
{
    lua_getfield(L, -1, "name");
    lua_getfield(L, -2, "json");
    lua_getfield(L, -3, "error");
    const char *name = lua_tostring(L, -3), *js = lua_tostring(L, -2), *lerr = lua_tostring(L, -1);
    char err[512] = "";
    json_t *spec = js ? json_loads(js, 0, NULL) : NULL;
    lua_getfield(L, -4, "fn");
    int is_fn = lua_isfunction(L, -1);
    mg_al_rule r;
    if (lerr)
        snprintf(err, sizeof err, "%s", lerr);
    else if (!spec || mg_al_rule_parse(spec, name, MG_AL_SRC_POLICY, is_fn, &r, err,
                                       sizeof err) != MG_OK)
        ;
    else if (a->nlua >= MG_AL_MAX_RULES)
        snprintf(err, sizeof err, "too many rules"), mg_al_rule_clear(&r);
    if (err[0] || !spec) {
        mg_error("alerts: policy rule %s: %s (rule skipped)", name ? name : "?",
                 err[0] ? err : "not valid JSON");
        lua_pop(L, 4);
    } else {
        a->lua_rules[a->nlua] = r;
        a->lua_refs[a->nlua] = is_fn ? luaL_ref(L, LUA_REGISTRYINDEX) : LUA_NOREF;
        if (!is_fn)
            lua_pop(L, 1);
        a->nlua++;
        lua_pop(L, 3);
    }
    if (spec)
        json_decref(spec);
}

static void load_rules(mg_alerts *a, mg_lua_gen *g)
{
    lua_State *L = mg_lua_gen_state(g);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->runner_ref);
    lua_getfield(L, -1, "collect");
    lua_remove(L, -2);
    mg_lua_gen_push_defs(g, "alerts");
    char err[512];
    if (mg_lua_gen_pcall(g, 1, 1, 1.0, err, sizeof err) != MG_OK) {
        mg_error("alerts: reading the policies' alerts: %s", err);
        return;
    }
    size_t n = lua_objlen(L, -1);
    a->lua_rules = mg_xcalloc(n + 1, sizeof *a->lua_rules);
    a->lua_refs = mg_xcalloc(n + 1, sizeof *a->lua_refs);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        adopt_entry(a, L);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void mg_al_lua_adopt(mg_alerts *a, mg_lua_gen *g)
{
    mg_al_lua_drop(a);
    a->gen = g;
    a->runner_ref = require_ref(g, "moongate.alerts.runner");
    a->insights_ref = require_ref(g, "moongate.insights");
    if (a->runner_ref == LUA_NOREF)
        return;
    a->helper_ref = make_helper(a, g);
    load_rules(a, g);
    mg_info("alerts: generation %llu: %zu policy rule%s", (unsigned long long)mg_lua_gen_number(g),
            a->nlua, a->nlua == 1 ? "" : "s");
}

/* ---- running a function rule ---------------------------------------------- */

/* Observation table on top → obs(). */
static void observation(mg_alerts *a, const mg_al_rule *r, lua_State *L, mg_al_obs_fn obs)
{
    const char *names[MG_AL_MAX_GROUP + 5], *values[MG_AL_MAX_GROUP + 5];
    size_t n = 0;
    lua_getfield(L, -1, "labels");
    size_t nl = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
    for (size_t i = 1; i <= nl && n < MG_ARRAY_LEN(names); i++) {
        lua_rawgeti(L, -1, (int)i);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        names[n] = lua_tostring(L, -2);
        values[n] = lua_tostring(L, -1);
        lua_pop(L, 3); /* strings stay referenced by the labels table */
        if (names[n] && values[n])
            n++;
    }
    lua_getfield(L, -2, "value");
    lua_getfield(L, -3, "samples");
    lua_getfield(L, -4, "firing");
    int has_value = lua_isnumber(L, -3);
    double value = has_value ? lua_tonumber(L, -3) : 0;
    double samples = lua_isnumber(L, -2) ? lua_tonumber(L, -2) : 0;
    int forced = lua_isboolean(L, -1) ? lua_toboolean(L, -1) : -1;
    if (!has_value && forced >= 0)
        value = forced;
    obs(a, r, names, values, n, has_value || forced >= 0, value,
        samples > 0 ? (uint64_t)samples : 0, forced);
    lua_pop(L, 4);
}

int mg_al_lua_run_rule(mg_alerts *a, size_t index, int64_t now_ms, mg_al_obs_fn obs)
{
    MG_UNUSED(now_ms);
    const mg_al_rule *r = &a->lua_rules[index];
    if (!a->gen || a->lua_refs[index] == LUA_NOREF || a->helper_ref == LUA_NOREF)
        return MG_ERR;
    lua_State *L = mg_lua_gen_state(a->gen);
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->runner_ref);
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->lua_refs[index]);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->helper_ref);
    char err[512];
    if (mg_lua_gen_pcall(a->gen, 2, 1, MG_AL_RULE_BUDGET, err, sizeof err) != MG_OK) {
        mg_warn("alerts: rule %s: %s", r->name, err);
        lua_settop(L, top);
        return MG_ERR;
    }
    size_t n = lua_objlen(L, -1);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        observation(a, r, L, obs);
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    return MG_OK;
}

/* ---- insights --------------------------------------------------------------- */

int mg_al_lua_insights(mg_alerts *a, const char *data_json, json_t **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    if (!a->gen || a->insights_ref == LUA_NOREF) {
        snprintf(err, errlen, "no policy generation loaded yet");
        return MG_ERR;
    }
    lua_State *L = mg_lua_gen_state(a->gen);
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->insights_ref);
    lua_getfield(L, -1, "run_json");
    lua_remove(L, -2);
    lua_pushstring(L, data_json);
    mg_lua_gen_push_defs(a->gen, "insights");
    if (mg_lua_gen_pcall(a->gen, 2, 1, MG_AL_INSIGHT_BUDGET, err, errlen) != MG_OK) {
        lua_settop(L, top);
        return MG_ERR;
    }
    size_t len = 0;
    const char *s = lua_tolstring(L, -1, &len);
    json_error_t jerr;
    *out = s ? json_loadb(s, len, 0, &jerr) : NULL;
    lua_settop(L, top);
    if (!json_is_object(*out)) {
        snprintf(err, errlen, "insights: the generators' result is not a JSON object");
        if (*out)
            json_decref(*out);
        *out = NULL;
        return MG_ERR;
    }
    return MG_OK;
}
