/* lua_test.c — `moongate lua-test DIR`: run the Lua standard library's unit
 * tests (DIR/runner.lua) in the same LuaJIT build, with cjson preloaded
 * and package.path on <home>/lua, exactly as policies see them. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

#include "gateway.h"

int luaopen_cjson(lua_State *L);

int mg_lua_test_main(const char *home, const char *dir)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "moongate: cannot create a Lua state\n");
        return 1;
    }
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pop(L, 1);
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua", home, home, dir);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushstring(L, dir);
    lua_rawseti(L, -2, 1);
    lua_setglobal(L, "arg");
    char runner[1024];
    snprintf(runner, sizeof runner, "%s/runner.lua", dir);
    int rc = luaL_dofile(L, runner);
    if (rc != 0) {
        fprintf(stderr, "moongate lua-test: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lua_close(L);
    return 0;
}
