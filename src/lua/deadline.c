/* deadline.c — runs Lua under a time budget and turns Lua errors into the
 * messages the host reports. A count hook (set once per state, every
 * MG_LUA_HOOK_COUNT instructions) compares the monotonic clock with the
 * deadline; past it, the hook raises an error on every instruction, so a
 * policy's pcall cannot swallow it, and the host treats the call as failed
 * even when user code returned normally. User chunks run with the JIT off
 * (see sandbox.c), so the hook fires inside their loops too.
 * Uses LuaJIT and core time. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "internal.h"

static void deadline_hook(lua_State *L, lua_Debug *ar);

static void where(lua_State *L, char *out, size_t n)
{
    lua_Debug ar;
    out[0] = '\0';
    for (int level = 0; level < 3; level++) {
        if (!lua_getstack(L, level, &ar) || !lua_getinfo(L, "Sl", &ar))
            return;
        if (ar.currentline > 0) {
            snprintf(out, n, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
}

static void deadline_hook(lua_State *L, lua_Debug *ar)
{
    MG_UNUSED(ar);
    mg_lua_gen *g = mg_lua_gen_of(L);
    if (g->deadline == 0 || mg_now_mono() < g->deadline)
        return;
    if (!g->timed_out) {
        char pos[256];
        where(L, pos, sizeof pos);
        snprintf(g->timeout_msg, sizeof g->timeout_msg, "%sexceeded its time budget of %.0f ms",
                 pos, g->budget * 1000);
        g->timed_out = 1;
        /* From now on every instruction raises: nothing in user code runs
         * to completion, whatever pcall levels it stacked up. */
        lua_sethook(L, deadline_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushstring(L, g->timeout_msg);
    lua_error(L);
}

void mg_lua_deadline_install(lua_State *L)
{
    lua_sethook(L, deadline_hook, LUA_MASKCOUNT, MG_LUA_HOOK_COUNT);
}

void mg_lua_deadline_arm(mg_lua_gen *g, double budget)
{
    if (budget <= 0)
        budget = g->lim.hook_budget;
    g->budget = budget;
    g->deadline = mg_now_mono() + budget;
    g->timed_out = 0;
}

int mg_lua_deadline_disarm(mg_lua_gen *g)
{
    int timed_out = g->timed_out;
    g->deadline = 0;
    g->timed_out = 0;
    if (timed_out)
        lua_sethook(g->L, deadline_hook, LUA_MASKCOUNT, MG_LUA_HOOK_COUNT);
    return timed_out;
}

static void copy_clean(char *out, size_t outlen, const char *s)
{
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 1 < outlen; i++)
        out[j++] = (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') ? ' ' : s[i];
    out[j] = '\0';
}

void mg_lua_error_text(lua_State *L, int status, mg_lua_gen *g, const char *file,
                       const char *hook, char *out, size_t outlen)
{
    char msg[MG_LUA_MAX_MSG];
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (g && g->timed_out)
        s = g->timeout_msg;
    else if (status == LUA_ERRMEM)
        s = "not enough memory (policy memory limit reached)";
    else if (!s)
        s = lua_isnil(L, -1) ? "error with no message" : "error object is not a string";
    copy_clean(msg, sizeof msg, s);
    lua_pop(L, 1);
    /* A message that starts with a policy file ("policies/x.lua:12: ..." or
     * one the host composed) is complete; anything else (code made by load,
     * the standard library, memory errors) gets the hook's file in front. */
    size_t label_len = g && g->label ? strlen(g->label) : 0;
    int named = label_len && strncmp(msg, g->label, label_len) == 0 && msg[label_len] == '/';
    if (named || !file)
        snprintf(out, outlen, "%s", msg);
    else if (hook)
        snprintf(out, outlen, "%s: %s: %s", file, hook, msg);
    else
        snprintf(out, outlen, "%s: %s", file, msg);
}

int mg_lua_run(mg_lua_gen *g, lua_CFunction fn, void *ud, double budget, const char *file,
               const char *hook, mg_lua_box *const *boxes, int nboxes, char *err, size_t errlen)
{
    lua_State *L = g->L;
    mg_lua_deadline_arm(g, budget);
    int st = lua_cpcall(L, fn, ud);
    /* Before anything can collect garbage: the tables holding these boxes
     * are unreachable now. */
    for (int i = 0; i < nboxes; i++)
        if (boxes[i])
            boxes[i]->valid = 0;
    if (st == 0 && !g->timed_out) {
        mg_lua_deadline_disarm(g);
        mg_lua_gen_relieve(g);
        return MG_OK;
    }
    if (st == 0)
        lua_pushnil(L); /* returned although past the deadline: caught it */
    mg_lua_error_text(L, st, g, file, hook, err, errlen);
    mg_lua_deadline_disarm(g);
    if (st == LUA_ERRMEM)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return MG_ERR;
}

void mg_lua_gen_relieve(mg_lua_gen *g)
{
    /* LuaJIT has no emergency collection when an allocation fails, so
     * collect at a call boundary once garbage fills most of the cap. */
    if (g->mem_used > g->lim.memory_max / 4 * 3)
        lua_gc(g->L, LUA_GCCOLLECT, 0);
}

int mg_lua_raise_at(lua_State *L, int level, const char *fmt, ...)
{
    char msg[MG_LUA_MAX_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* The first Lua frame from `level` up that is policy code, not the
     * host's boot chunk (a tail call may have removed the policy's frame). */
    lua_Debug ar;
    char pos[256] = "";
    for (int l = level; l < level + 8 && lua_getstack(L, l, &ar); l++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0 ||
            strcmp(ar.source, MG_LUA_BOOT_CHUNK) == 0)
            continue;
        snprintf(pos, sizeof pos, "%s:%d: ", ar.short_src, ar.currentline);
        break;
    }
    lua_pushfstring(L, "%s%s", pos, msg);
    return lua_error(L);
}
