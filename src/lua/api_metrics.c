/* api_metrics.c — mg.metrics.sum/avg/count/rate/percentile over the
 * gateway's recent request records: (metric, window_seconds [, filters])
 * where metric is a numeric record field ("cost", "tokens_total",
 * "duration_ms", ...) and filters a table of record fields that must match
 * ({ provider = "openai", status = "error" }). Names are checked against
 * the record definition, so a typo fails loudly. Answered by
 * mg_lua_host_ops.metric; without it sum/count/rate are 0 and avg and
 * percentile nil. Uses store/record.h and api.c's host ops. */
#include <string.h>

#include "internal.h"

#define MAX_FILTERS 8
#define MAX_WINDOW (31.0 * 86400)

static const mg_record_field *record_field(const char *name)
{
    for (size_t i = 0; i < mg_record_nfields; i++)
        if (strcmp(mg_record_fields[i].name, name) == 0)
            return &mg_record_fields[i];
    return NULL;
}

static int read_filters(lua_State *L, int idx, mg_kv *filters)
{
    int n = 0;
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        luaL_checkstack(L, 3, "mg.metrics: filters");
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "mg.metrics: filter names must be strings");
        const char *name = lua_tostring(L, -2);
        if (!record_field(name))
            luaL_error(L, "mg.metrics: unknown filter field '%s'", name);
        if (n == MAX_FILTERS)
            luaL_error(L, "mg.metrics: at most %d filters", MAX_FILTERS);
        int t = lua_type(L, -1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
            luaL_error(L, "mg.metrics: filter '%s' must be a string or number", name);
        if (t == LUA_TBOOLEAN) { /* stream = true reads as the INT field's 1 */
            lua_pushstring(L, lua_toboolean(L, -1) ? "1" : "0");
            lua_replace(L, -2);
        }
        filters[n].name = (char *)name;
        filters[n].value = (char *)lua_tostring(L, -1);
        n++;
        /* keep the value alive on the stack: re-push the key for lua_next */
        lua_pushvalue(L, -2);
    }
    return n;
}

static int metric(lua_State *L, int op)
{
    mg_lua_metric_query q = {.op = op};
    int arg = 1;
    if (op != MG_LUA_METRIC_COUNT) {
        q.metric = luaL_checkstring(L, arg++);
        const mg_record_field *f = record_field(q.metric);
        if (!f || f->kind == MG_REC_TEXT)
            return luaL_error(L, "mg.metrics: '%s' is not a numeric record field", q.metric);
    }
    if (op == MG_LUA_METRIC_PERCENTILE) {
        q.q = luaL_checknumber(L, arg++);
        if (!(q.q >= 0 && q.q <= 100))
            return luaL_argerror(L, arg - 1, "percentile must be 0..100");
    }
    q.window = luaL_checknumber(L, arg++);
    if (!(q.window > 0 && q.window <= MAX_WINDOW))
        return luaL_argerror(L, arg - 1, "window must be 0 < seconds <= 31 days");
    mg_kv filters[MAX_FILTERS];
    int top = lua_gettop(L);
    q.nfilters = (size_t)read_filters(L, arg, filters);
    q.filters = filters;
    const mg_lua_host_ops *ops = mg_lua_host_ops_get();
    double out = 0;
    int rc = ops->metric ? ops->metric(ops->ud, &q, &out) : MG_ERR;
    lua_settop(L, top);
    if (rc == MG_OK)
        lua_pushnumber(L, out);
    else if (op == MG_LUA_METRIC_AVG || op == MG_LUA_METRIC_PERCENTILE)
        lua_pushnil(L);
    else
        lua_pushnumber(L, 0);
    return 1;
}

static int m_sum(lua_State *L) { return metric(L, MG_LUA_METRIC_SUM); }
static int m_avg(lua_State *L) { return metric(L, MG_LUA_METRIC_AVG); }
static int m_count(lua_State *L) { return metric(L, MG_LUA_METRIC_COUNT); }
static int m_rate(lua_State *L) { return metric(L, MG_LUA_METRIC_RATE); }
static int m_percentile(lua_State *L) { return metric(L, MG_LUA_METRIC_PERCENTILE); }

void mg_lua_inject_metrics(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"sum", m_sum},   {"avg", m_avg},   {"count", m_count},
        {"rate", m_rate}, {"percentile", m_percentile}, {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_setfield(L, -2, "metrics");
}
