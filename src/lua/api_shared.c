/* api_shared.c — mg.shared.dict(name [, {max_entries=, max_bytes=}]) and
 * the dictionary methods get/set/incr/delete/keys/ttl/count/flush, over
 * shared_dict.c: state shared by all workers that outlives reloads. One
 * handle per name and generation is cached. Uses shared_dict.h. */
#include <string.h>

#include "internal.h"
#include "shared_dict.h"

#define HANDLE_MT "moongate.shared_dict"

typedef struct handle {
    mg_shdict *d; /* process-wide; never freed while a generation lives */
} handle;

static mg_shdict *check_dict(lua_State *L)
{
    handle *h = luaL_checkudata(L, 1, HANDLE_MT);
    return h->d;
}

static const char *check_key(lua_State *L, size_t *len)
{
    int t = lua_type(L, 2);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
        luaL_argerror(L, 2, "key must be a string");
    return lua_tolstring(L, 2, len);
}

static void push_value(lua_State *L, const mg_shv *v)
{
    switch (v->type) {
    case MG_SHV_BOOL: lua_pushboolean(L, v->boolean); break;
    case MG_SHV_NUM: lua_pushnumber(L, v->num); break;
    case MG_SHV_STR: lua_pushlstring(L, v->str, v->len); break;
    default: lua_pushnil(L);
    }
}

static int d_get(lua_State *L)
{
    mg_shdict *d = check_dict(L);
    size_t klen;
    const char *key = check_key(L, &klen);
    mg_shv v;
    if (mg_shdict_get(d, key, klen, &v) != MG_OK) {
        lua_pushnil(L);
        return 1;
    }
    push_value(L, &v);
    mg_shv_clear(&v);
    return 1;
}

/* d:set(key, value [, ttl]) -> true, nil, evicted | nil, err */
static int d_set(lua_State *L)
{
    mg_shdict *d = check_dict(L);
    size_t klen;
    const char *key = check_key(L, &klen);
    double ttl = luaL_optnumber(L, 4, 0);
    mg_shv v = {0};
    switch (lua_type(L, 3)) {
    case LUA_TNIL: v.type = MG_SHV_NIL; break;
    case LUA_TBOOLEAN: v.type = MG_SHV_BOOL; v.boolean = lua_toboolean(L, 3); break;
    case LUA_TNUMBER: v.type = MG_SHV_NUM; v.num = lua_tonumber(L, 3); break;
    case LUA_TSTRING: v.type = MG_SHV_STR; v.str = (char *)lua_tolstring(L, 3, &v.len); break;
    default: return luaL_argerror(L, 3, "value must be a string, number or boolean");
    }
    if (!(ttl >= 0))
        return luaL_argerror(L, 4, "ttl must be >= 0");
    char err[MG_ERRLEN];
    int evicted = 0;
    if (mg_shdict_set(d, key, klen, &v, ttl, &evicted, err, sizeof err) != MG_OK) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_pushnil(L);
    lua_pushboolean(L, evicted > 0);
    return 3;
}

/* d:incr(key [, by = 1 [, init [, init_ttl]]]) -> new value | nil, err */
static int d_incr(lua_State *L)
{
    mg_shdict *d = check_dict(L);
    size_t klen;
    const char *key = check_key(L, &klen);
    double by = luaL_optnumber(L, 3, 1);
    double init = 0, out = 0;
    int has_init = !lua_isnoneornil(L, 4);
    if (has_init)
        init = luaL_checknumber(L, 4);
    double init_ttl = luaL_optnumber(L, 5, 0);
    char err[MG_ERRLEN];
    if (mg_shdict_incr(d, key, klen, by, has_init ? &init : NULL, init_ttl, &out, err,
                       sizeof err) != MG_OK) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushnumber(L, out);
    return 1;
}

static int d_delete(lua_State *L)
{
    mg_shdict *d = check_dict(L);
    size_t klen;
    const char *key = check_key(L, &klen);
    lua_pushboolean(L, mg_shdict_delete(d, key, klen) == MG_OK);
    return 1;
}

static int d_ttl(lua_State *L)
{
    mg_shdict *d = check_dict(L);
    size_t klen;
    const char *key = check_key(L, &klen);
    double left;
    if (mg_shdict_ttl(d, key, klen, &left) != MG_OK) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushnumber(L, left);
    return 1;
}

static int d_keys(lua_State *L)
{
    mg_shdict *d = check_dict(L);
    lua_Integer max = luaL_optinteger(L, 2, 1024);
    char **keys;
    size_t n = mg_shdict_keys(d, max > 0 ? (size_t)max : 0, &keys);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, keys[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    mg_shdict_keys_free(keys, n);
    return 1;
}

static int d_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)mg_shdict_count(check_dict(L)));
    return 1;
}

static int d_flush(lua_State *L)
{
    mg_shdict_flush(check_dict(L));
    return 0;
}

static int d_tostring(lua_State *L)
{
    lua_pushfstring(L, "shared dict '%s'", mg_shdict_name(check_dict(L)));
    return 1;
}

static size_t opt_size(lua_State *L, const char *field)
{
    lua_getfield(L, 2, field);
    lua_Number v = lua_isnil(L, -1) ? 0 : luaL_checknumber(L, -1);
    lua_pop(L, 1);
    if (v < 0 || v > 1e9)
        luaL_error(L, "mg.shared.dict: %s out of range", field);
    return (size_t)v;
}

/* mg.shared.dict(name [, opts]) — upvalue 1: handle cache of this generation. */
static int shared_dict(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_getfield(L, lua_upvalueindex(1), name);
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);
    size_t max_entries = 0, max_bytes = 0;
    if (lua_type(L, 2) == LUA_TTABLE) {
        max_entries = opt_size(L, "max_entries");
        max_bytes = opt_size(L, "max_bytes");
    }
    char err[MG_ERRLEN];
    mg_shdict *d = mg_shdict_open(name, max_entries, max_bytes, err, sizeof err);
    if (!d)
        return luaL_error(L, "mg.shared.dict: %s", err);
    handle *h = lua_newuserdata(L, sizeof *h);
    h->d = d;
    luaL_getmetatable(L, HANDLE_MT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, lua_upvalueindex(1), name);
    return 1;
}

void mg_lua_inject_shared(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"get", d_get},     {"set", d_set},   {"incr", d_incr},   {"delete", d_delete},
        {"ttl", d_ttl},     {"keys", d_keys}, {"count", d_count}, {"flush", d_flush},
        {NULL, NULL},
    };
    luaL_newmetatable(L, HANDLE_MT);
    lua_newtable(L);
    luaL_register(L, NULL, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, d_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_newtable(L); /* handle cache */
    lua_pushcclosure(L, shared_dict, 1);
    lua_setfield(L, -2, "dict");
    lua_setfield(L, -2, "shared");
}
