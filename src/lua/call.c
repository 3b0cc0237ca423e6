/* call.c — hooks that may wait: each call is a coroutine (lua_newthread,
 * anchored in the registry, marked as a host coroutine so the sandbox's
 * coroutine library cannot yield or resume it). An API that waits starts
 * its I/O, registers the wait here and yields the private sentinel; when
 * the I/O ends the call is resumed from its own loop timer — never inside
 * another component's callback. Every resume runs under the call's
 * remaining time budget. done fires exactly once, last; cancel stops the
 * wait and frees the call without it.
 * Uses libev, sandbox.c (sentinel, host coroutine set), deadline.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents);

static mg_lua_call *call_new(mg_lua_gen *g, int kind, double budget, mg_lua_done_fn done,
                             void *ud)
{
    mg_lua_call *c = mg_xcalloc(1, sizeof *c);
    mg_lua_gen_retain(g);
    c->gen = g;
    c->kind = kind;
    c->co_ref = LUA_NOREF;
    c->budget = budget > 0 ? budget : g->lim.hook_budget;
    c->outcome = kind == MG_LUA_CALL_ROUTE ? MG_LUA_NO_HOOK : MG_LUA_OK;
    c->done = done;
    c->ud = ud;
    ev_timer_init(&c->wake, wake_cb, 0, 0);
    c->wake.data = c;
    return c;
}

static void set_error(mg_lua_call *c, const char *msg)
{
    c->outcome = MG_LUA_ERROR;
    free(c->message);
    c->message = mg_xstrdup(msg);
    for (size_t i = 0; i < c->ntargets; i++) {
        free(c->targets[i].provider);
        free(c->targets[i].model);
    }
    c->ntargets = 0;
}

/* Protected: create the coroutine, mark and anchor it; for a route call
 * also push body(call, req) onto it. */
static lua_State *take_idle_thread(lua_State *L, mg_lua_gen *g)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_idle);
    lua_rawgeti(L, -1, g->nidle);
    lua_pushnil(L);
    lua_rawseti(L, -3, g->nidle--);
    lua_remove(L, -2);
    return lua_tothread(L, -1);
}

static int create_thread(lua_State *L)
{
    mg_lua_call *c = lua_touserdata(L, 1);
    mg_lua_gen *g = c->gen;
    lua_State *co;
    if (c->kind == MG_LUA_CALL_ROUTE && g->nidle > 0) {
        co = take_idle_thread(L, g); /* still in the host coroutine set */
    } else {
        co = lua_newthread(L);
        lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_threads);
        lua_pushvalue(L, -2);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    if (c->kind == MG_LUA_CALL_ROUTE) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_body);
        lua_pushlightuserdata(L, c);
        c->box = mg_lua_push_req(L, g, c->req);
        lua_xmove(L, co, 3);
    }
    c->co = co;
    c->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* A coroutine that returned normally is as good as new once emptied;
 * one that failed, timed out or still waits is dropped. */
static int keep_idle(mg_lua_call *c)
{
    mg_lua_gen *g = c->gen;
    if (c->kind != MG_LUA_CALL_ROUTE || c->outcome == MG_LUA_ERROR || g->timed_out ||
        g->nidle >= MG_LUA_IDLE_MAX || lua_status(c->co) != 0)
        return 0;
    lua_State *L = g->L;
    lua_settop(c->co, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_idle);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->co_ref);
    lua_rawseti(L, -2, ++g->nidle); /* within the preallocated array part */
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, c->co_ref);
    c->co_ref = LUA_NOREF;
    c->co = NULL;
    return 1;
}

static void drop_thread(mg_lua_call *c)
{
    if (c->co_ref == LUA_NOREF)
        return;
    if (keep_idle(c))
        return;
    lua_State *L = c->gen->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->gen->ref_threads);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->co_ref);
    lua_pushnil(L);
    lua_rawset(L, -3); /* existing key: no allocation */
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, c->co_ref);
    c->co_ref = LUA_NOREF;
    c->co = NULL;
}

/* Stop whatever the call waits for and its timer; the box goes invalid. */
static void call_end(mg_lua_call *c)
{
    if (c->wait_release) {
        void (*release)(mg_lua_call *) = c->wait_release;
        c->wait_release = NULL;
        release(c);
        c->wait_data = NULL;
    }
    if (c->gen->loop)
        ev_timer_stop(c->gen->loop, &c->wake);
    if (c->box) {
        c->box->valid = 0;
        c->box = NULL;
    }
    if (c->kind == MG_LUA_CALL_ROUTE)
        drop_thread(c); /* FUNC keeps it: its results sit on its stack */
    c->state = MG_LUA_CS_DONE;
}

static const char *error_file(mg_lua_call *c)
{
    mg_lua_gen *g = c->gen;
    if (c->kind != MG_LUA_CALL_ROUTE)
        return NULL;
    return g->hook_file[MG_LUA_HOOK_ROUTE] ? g->hook_file[MG_LUA_HOOK_ROUTE]
                                           : g->hook_file[MG_LUA_HOOK_ON_REQUEST];
}

/* Resume the coroutine once. Returns 1 when the call finished (done has
 * been called and c may be gone), 0 when it waits. */
static int step(mg_lua_call *c, int nargs)
{
    mg_lua_gen *g = c->gen;
    lua_State *co = c->co;
    double t0 = mg_now_mono();
    double left = c->budget - c->used;
    g->running = c;
    mg_lua_deadline_arm(g, left > 1e-6 ? left : 1e-6);
    g->budget = c->budget; /* messages name the whole budget */
    int st = lua_resume(co, nargs);
    c->used += mg_now_mono() - t0;
    g->running = NULL;
    if (st == LUA_YIELD && !g->timed_out && lua_gettop(co) == 1 &&
        lua_touserdata(co, 1) == mg_lua_yield_sentinel() && c->wait_release) {
        mg_lua_deadline_disarm(g);
        lua_settop(co, 0);
        c->state = MG_LUA_CS_WAITING;
        return 0;
    }
    if (st == 0 && !g->timed_out) {
        mg_lua_deadline_disarm(g);
        if (c->kind == MG_LUA_CALL_FUNC)
            c->nresults = lua_gettop(co);
    } else {
        char msg[MG_LUA_MAX_MSG];
        if (st == 0 || st == LUA_YIELD) {
            lua_settop(co, 0);
            if (!g->timed_out)
                lua_pushliteral(co, "yielded outside a coroutine");
            else
                lua_pushnil(co);
        }
        mg_lua_error_text(co, st, g, error_file(c), "route", msg, sizeof msg);
        mg_lua_deadline_disarm(g);
        set_error(c, msg);
    }
    call_end(c);
    if (st == LUA_ERRMEM) /* after call_end: the dead coroutine held the garbage */
        lua_gc(g->L, LUA_GCCOLLECT, 0);
    else
        mg_lua_gen_relieve(g);
    c->done(c, c->ud); /* last: done may free c */
    return 1;
}

static mg_lua_call *fail_early(mg_lua_call *c, int status)
{
    char msg[MG_LUA_MAX_MSG];
    mg_lua_error_text(c->gen->L, status, c->gen, error_file(c), "route", msg, sizeof msg);
    set_error(c, msg);
    call_end(c);
    c->done(c, c->ud);
    return NULL;
}

mg_lua_call *mg_lua_call_route(mg_lua_gen *g, const mg_lua_req *req, mg_lua_done_fn done,
                               void *ud)
{
    mg_lua_call *c = call_new(g, MG_LUA_CALL_ROUTE, 0, done, ud);
    c->req = req;
    if (g->hook_ref[MG_LUA_HOOK_ROUTE] == LUA_NOREF &&
        g->hook_ref[MG_LUA_HOOK_ON_REQUEST] == LUA_NOREF) {
        c->state = MG_LUA_CS_DONE;
        done(c, ud);
        return NULL;
    }
    int st = lua_cpcall(g->L, create_thread, c);
    if (st == LUA_ERRMEM) { /* garbage a previous call left near the cap */
        lua_gc(g->L, LUA_GCCOLLECT, 0);
        st = lua_cpcall(g->L, create_thread, c);
    }
    if (st != 0)
        return fail_early(c, st);
    return step(c, 2) ? NULL : c;
}

mg_lua_call *mg_lua_call_start(mg_lua_gen *g, int nargs, double budget, mg_lua_done_fn done,
                               void *ud)
{
    mg_lua_call *c = call_new(g, MG_LUA_CALL_FUNC, budget, done, ud);
    if (nargs < 0 || nargs > MG_LUA_MAX_CALL_ARGS) {
        lua_pop(g->L, nargs < 0 ? 1 : nargs + 1);
        set_error(c, "mg_lua_call_start: too many arguments");
        call_end(c);
        done(c, ud);
        return NULL;
    }
    int st = lua_cpcall(g->L, create_thread, c);
    if (st != 0) {
        lua_pop(g->L, nargs + 1);
        return fail_early(c, st);
    }
    lua_xmove(g->L, c->co, nargs + 1);
    return step(c, nargs) ? NULL : c;
}

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_lua_call *c = w->data;
    step(c, 0);
}

mg_lua_call *mg_lua_call_waitable(lua_State *L, const char *what, int yieldable)
{
    mg_lua_gen *g = mg_lua_gen_of(L);
    mg_lua_call *c = g->running;
    if (c && c->co != L)
        mg_lua_raise_at(L, 2, "%s cannot wait inside a coroutine of your own", what);
    if (!c)
        mg_lua_raise_at(L, 2, "%s can only wait inside route/on_request hooks", what);
    if (!yieldable)
        mg_lua_raise_at(L, 2, "%s cannot wait here: it was called through a C function "
                              "(table.sort, string.gsub, a metamethod)", what);
    if (!g->loop)
        mg_lua_raise_at(L, 2, "%s: no event loop is bound to this generation", what);
    return c;
}

void mg_lua_call_wait(mg_lua_call *c, void *data, void (*release)(mg_lua_call *c))
{
    if (c->wait_release) { /* left by a wait whose start raised and was caught */
        void (*old)(mg_lua_call *) = c->wait_release;
        c->wait_release = NULL;
        old(c);
    }
    c->wait_data = data;
    c->wait_release = release;
}

void mg_lua_call_wake(mg_lua_call *c, double delay)
{
    ev_timer_stop(c->gen->loop, &c->wake);
    if (delay > 0) /* the loop's cached time may be stale after long Lua work */
        ev_now_update(c->gen->loop);
    ev_timer_set(&c->wake, delay, 0);
    ev_timer_start(c->gen->loop, &c->wake);
}

void *mg_lua_call_take_wait(mg_lua_call *c)
{
    void *data = c->wait_data;
    c->wait_data = NULL;
    c->wait_release = NULL;
    return data;
}

void mg_lua_call_free(mg_lua_call *c)
{
    if (!c)
        return;
    if (c->state != MG_LUA_CS_DONE)
        call_end(c);
    drop_thread(c);
    for (size_t i = 0; i < c->ntargets; i++) {
        free(c->targets[i].provider);
        free(c->targets[i].model);
    }
    free(c->targets);
    free(c->message);
    mg_lua_gen *g = c->gen;
    free(c);
    mg_lua_gen_release(g);
}

void mg_lua_call_cancel(mg_lua_call *c) { mg_lua_call_free(c); }

int mg_lua_call_outcome(const mg_lua_call *c)
{
    return c->state == MG_LUA_CS_DONE ? c->outcome : MG_LUA_PENDING;
}

int mg_lua_call_status(const mg_lua_call *c) { return c->status; }

const char *mg_lua_call_message(const mg_lua_call *c) { return c->message; }

const mg_lua_target *mg_lua_call_targets(const mg_lua_call *c, size_t *n)
{
    *n = c->outcome == MG_LUA_OK ? c->ntargets : 0;
    return c->targets;
}

double mg_lua_call_cpu(const mg_lua_call *c) { return c->used; }

int mg_lua_call_push_results(mg_lua_call *c)
{
    if (c->kind != MG_LUA_CALL_FUNC || c->outcome != MG_LUA_OK || !c->co || !c->nresults)
        return 0;
    int n = c->nresults;
    if (!lua_checkstack(c->gen->L, n))
        return 0;
    lua_xmove(c->co, c->gen->L, n);
    c->nresults = 0;
    return n;
}
