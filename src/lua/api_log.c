/* api_log.c — mg.log.debug/info/warn/error(...) (and print): the arguments
 * joined by spaces, written to the host log with the policy's file:line.
 * Control characters are escaped so a line stays one line. Uses core log. */
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "internal.h"

#define LOG_MAX 900

static void append(char *out, size_t *len, const char *s, size_t n)
{
    for (size_t i = 0; i < n && *len + 3 < LOG_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            out[(*len)++] = '\\';
            out[(*len)++] = c == '\n' ? 'n' : c == '\t' ? 't' : '?';
        } else {
            out[(*len)++] = (char)c;
        }
    }
    out[*len] = '\0';
}

static void append_value(lua_State *L, int i, char *out, size_t *len)
{
    char tmp[64];
    size_t n;
    switch (lua_type(L, i)) {
    case LUA_TSTRING:
    case LUA_TNUMBER: {
        const char *s = lua_tolstring(L, i, &n);
        append(out, len, s, n);
        return;
    }
    case LUA_TBOOLEAN:
        append(out, len, lua_toboolean(L, i) ? "true" : "false", lua_toboolean(L, i) ? 4 : 5);
        return;
    case LUA_TNIL:
        append(out, len, "nil", 3);
        return;
    default:
        snprintf(tmp, sizeof tmp, "%s: %p", luaL_typename(L, i), lua_topointer(L, i));
        append(out, len, tmp, strlen(tmp));
    }
}

static int log_at(lua_State *L, int level)
{
    if (level < mg_log_get_level())
        return 0;
    char msg[LOG_MAX];
    size_t len = 0;
    msg[0] = '\0';
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            append(msg, &len, " ", 1);
        append_value(L, i, msg, &len);
    }
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
        mg_log(level, "lua: %s:%d: %s", ar.short_src, ar.currentline, msg);
    else
        mg_log(level, "lua: %s", msg);
    return 0;
}

static int log_debug(lua_State *L) { return log_at(L, MG_LOG_DEBUG); }
static int log_info(lua_State *L) { return log_at(L, MG_LOG_INFO); }
static int log_warn(lua_State *L) { return log_at(L, MG_LOG_WARN); }
static int log_error(lua_State *L) { return log_at(L, MG_LOG_ERROR); }

void mg_lua_inject_log(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"debug", log_debug}, {"info", log_info}, {"warn", log_warn}, {"error", log_error},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_setfield(L, -2, "log");
}
