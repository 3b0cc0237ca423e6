/* lua_test.c — `moongate lua-test DIR`: run the Lua standard library's unit
 * tests (DIR/runner.lua) in the same LuaJIT build, with the bundled C
 * modules (cjson, moongate.jsonc) preloaded
 * and package.path on <home>/lua, exactly as policies see them. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

#include "../lua/host.h"
#include "gateway.h"

/* os.exit would skip lua_close (leaking what cjson and others hold), so
 * the runner's exit becomes an error carrying the code, caught below. */
static int exit_as_error(lua_State *L)
{
    lua_newtable(L);
    lua_pushinteger(L, luaL_optinteger(L, 1, 0));
    lua_setfield(L, -2, "mg_exit_code");
    return lua_error(L);
}

int mg_lua_test_main(const char *home, const char *dir)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "moongate: cannot create a Lua state\n");
        return 1;
    }
    luaL_openlibs(L);
    mg_lua_preload_bundled(L);
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua", home, home, dir);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushstring(L, dir);
    lua_rawseti(L, -2, 1);
    lua_setglobal(L, "arg");
    lua_getglobal(L, "os");
    lua_pushcfunction(L, exit_as_error);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);
    char runner[1024];
    snprintf(runner, sizeof runner, "%s/runner.lua", dir);
    int code = 0;
    if (luaL_dofile(L, runner) != 0) {
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "mg_exit_code");
            code = (int)lua_tointeger(L, -1);
        } else {
            fprintf(stderr, "moongate lua-test: %s\n", lua_tostring(L, -1));
            code = 1;
        }
    }
    lua_close(L);
    return code;
}
