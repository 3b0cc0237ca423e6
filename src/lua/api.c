/* api.c — the one list of everything policies can reach through `mg`: each
 * area is a file (api_<area>.c) with one inject function; reading this list
 * is reading the whole surface. Also mg.api_version and mg.refuse.
 * Uses the api_*.c files. */
#include <string.h>

#include "internal.h"

static const struct {
    const char *area;
    void (*inject)(lua_State *L);
} areas[] = {
    {"log", mg_lua_inject_log},           /* mg.log.debug/info/warn/error, print */
    {"time", mg_lua_inject_time},         /* mg.time.now/monotonic, mg.sleep */
    {"json", mg_lua_inject_json},         /* mg.json.encode/decode/null */
    {"shared", mg_lua_inject_shared},     /* mg.shared.dict(name) */
    {"providers", mg_lua_inject_providers}, /* mg.providers.*, mg.models */
    {"http", mg_lua_inject_http},         /* mg.http.request */
    {"metrics", mg_lua_inject_metrics},   /* mg.metrics.sum/avg/count/rate/percentile */
};

/* mg.refuse(status, message) -> the refusal table on_request/route return. */
static int api_refuse(lua_State *L)
{
    lua_Integer status = luaL_checkinteger(L, 1);
    const char *msg = luaL_optstring(L, 2, "refused by policy");
    if (status < 400 || status > 599)
        return luaL_argerror(L, 1, "status must be 400..599");
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "message");
    return 1;
}

void mg_lua_push_api(lua_State *L, mg_lua_gen *g)
{
    MG_UNUSED(g);
    lua_createtable(L, 0, 12);
    for (size_t i = 0; i < MG_ARRAY_LEN(areas); i++)
        areas[i].inject(L);
    lua_pushinteger(L, MG_LUA_API_VERSION);
    lua_setfield(L, -2, "api_version");
    lua_pushcfunction(L, api_refuse);
    lua_setfield(L, -2, "refuse");
}

/* Registered once at startup, before any worker runs Lua; read-only after. */
static mg_lua_host_ops host_ops;

void mg_lua_set_host_ops(const mg_lua_host_ops *ops)
{
    if (ops)
        host_ops = *ops;
    else
        memset(&host_ops, 0, sizeof host_ops);
}

const mg_lua_host_ops *mg_lua_host_ops_get(void) { return &host_ops; }
