/* api_time.c — mg.time.now() (wall clock, seconds with fractions),
 * mg.time.monotonic() (for durations) and mg.sleep(seconds), which waits
 * without blocking the loop and so only works where a hook may wait
 * (route, on_request). Uses call.c's wait mechanism and libev. */
#include <time.h>

#include "internal.h"

#define SLEEP_MAX 300.0

static int time_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    return 1;
}

static int time_monotonic(lua_State *L)
{
    lua_pushnumber(L, mg_now_mono());
    return 1;
}

/* A sleep needs no data of its own: the call's wake timer is the wait. */
static void sleep_release(struct mg_lua_call *c) { MG_UNUSED(c); }

static int sleep_start(lua_State *L)
{
    double secs = luaL_checknumber(L, 2);
    if (!(secs >= 0 && secs <= SLEEP_MAX))
        return luaL_argerror(L, 1, "seconds must be 0..300");
    struct mg_lua_call *c = mg_lua_call_waitable(L, "mg.sleep", lua_toboolean(L, 1));
    mg_lua_call_wait(c, NULL, sleep_release);
    mg_lua_call_wake(c, secs);
    lua_pushboolean(L, 1);
    return 1;
}

static int sleep_finish(lua_State *L)
{
    mg_lua_gen *g = mg_lua_gen_of(L);
    if (g->running)
        mg_lua_call_take_wait(g->running);
    lua_pushboolean(L, 1);
    return 1;
}

void mg_lua_inject_time(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, time_now);
    lua_setfield(L, -2, "now");
    lua_pushcfunction(L, time_monotonic);
    lua_setfield(L, -2, "monotonic");
    lua_setfield(L, -2, "time");
    mg_lua_push_waiter(L, sleep_start, sleep_finish);
    lua_setfield(L, -2, "sleep");
}
