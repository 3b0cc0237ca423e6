/* api_json.c — mg.json.encode(value), mg.json.decode(text) and
 * mg.json.null, from a lua-cjson instance of their own (settings changed
 * through require("cjson") do not reach them). decode raises on invalid
 * JSON, like cjson; wrap it in pcall for untrusted text.
 * Uses lua-cjson (preloaded by gen.c). */
#include "internal.h"

void mg_lua_inject_json(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_createtable(L, 0, 3);
    static const char *const fields[] = {"encode", "decode", "null", NULL};
    for (int i = 0; fields[i]; i++) {
        lua_getfield(L, -2, fields[i]);
        lua_setfield(L, -2, fields[i]);
    }
    lua_setfield(L, -4, "json");
    lua_pop(L, 2);
}

/* Host-side helpers on the private instance (gen.c made it). */
static int decode_protected(lua_State *L)
{
    lua_call(L, 1, 1);
    return 1;
}

int mg_lua_json_decode(lua_State *L, mg_lua_gen *g, const char *s, size_t n)
{
    lua_pushcfunction(L, decode_protected);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_decode);
    lua_pushlstring(L, s, n);
    if (lua_pcall(L, 2, 1, 0) != 0) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return MG_ERR;
    }
    return MG_OK;
}

int mg_lua_json_encode(lua_State *L, mg_lua_gen *g, int idx)
{
    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = lua_gettop(L) + idx + 1;
    lua_pushcfunction(L, decode_protected);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_encode);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 2, 1, 0) != 0)
        return MG_ERR; /* message on the stack */
    return MG_OK;
}
