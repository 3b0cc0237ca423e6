/* hooks.c — the synchronous hooks: before_upstream(req, target),
 * on_response(req, res), classify_error(res) and the on_log list. Each runs
 * protected on the generation's main thread under the hook budget; what it
 * returns is copied into C (mg_lua_changes, flags) before the call ends, and
 * the req/res views are invalidated. They cannot wait: mg.http.request and
 * mg.sleep raise a clear error there. Uses deadline.c and reqtab.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "internal.h"

#define MAX_CHANGED_HEADERS 64
#define MAX_BODY ((size_t)64 << 20)

typedef struct sync_ctx {
    mg_lua_gen *g;
    int hook;
    const mg_lua_req *req;
    const mg_lua_res *res;
    const mg_lua_target *target;
    const char *provider_format;
    mg_lua_changes *changes;
    int *retry, *breaker;
    mg_lua_box *boxes[2]; /* invalidated after the call */
} sync_ctx;

void mg_lua_changes_free(mg_lua_changes *ch)
{
    if (!ch)
        return;
    free(ch->body);
    for (size_t i = 0; i < ch->nheaders; i++) {
        free(ch->headers[i].name);
        free(ch->headers[i].value);
    }
    free(ch->headers);
    memset(ch, 0, sizeof *ch);
}

static int hook_fail(lua_State *L, sync_ctx *ctx, const char *msg, const char *arg)
{
    lua_pushfstring(L, "%s: %s: ", ctx->g->hook_file[ctx->hook], mg_lua_hook_names[ctx->hook]);
    lua_pushfstring(L, msg, arg ? arg : "");
    lua_concat(L, 2);
    return lua_error(L);
}

static void read_body(lua_State *L, sync_ctx *ctx, int t)
{
    lua_getfield(L, t, "body");
    if (lua_type(L, -1) == LUA_TTABLE) {
        if (mg_lua_json_encode(L, ctx->g, -1) != MG_OK)
            hook_fail(L, ctx, "body cannot be encoded as JSON: %s", lua_tostring(L, -1));
        lua_replace(L, -2);
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (n > MAX_BODY)
            hook_fail(L, ctx, "body larger than 64 MiB%s", NULL);
        ctx->changes->body = mg_xstrndup(s, n);
        ctx->changes->body_len = n;
    } else if (!lua_isnil(L, -1)) {
        hook_fail(L, ctx, "body must be a string or a table, not %s", luaL_typename(L, -1));
    }
    lua_pop(L, 1);
}

static void read_headers(lua_State *L, sync_ctx *ctx, int t)
{
    lua_getfield(L, t, "headers");
    int h = lua_gettop(L);
    if (lua_isnil(L, h)) {
        lua_pop(L, 1);
        return;
    }
    if (lua_type(L, h) != LUA_TTABLE)
        hook_fail(L, ctx, "headers must be a table of name = value%s", NULL);
    mg_lua_changes *ch = ctx->changes;
    lua_pushnil(L);
    while (lua_next(L, h)) {
        size_t nlen = 0, vlen = 0;
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &nlen) : NULL;
        if (!name || !mg_lua_header_name_ok(name, nlen))
            hook_fail(L, ctx, "invalid header name '%s'", name ? name : "?");
        int remove = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
        const char *value = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &vlen) : NULL;
        if (!remove && (!value || !mg_lua_header_value_ok(value, vlen)))
            hook_fail(L, ctx, "header '%s' needs a one-line string value (false removes it)",
                      name);
        if (ch->nheaders == MAX_CHANGED_HEADERS)
            hook_fail(L, ctx, "more than 64 headers%s", NULL);
        ch->headers = mg_xrealloc(ch->headers, (ch->nheaders + 1) * sizeof *ch->headers);
        ch->headers[ch->nheaders].name = mg_xstrndup(name, nlen);
        ch->headers[ch->nheaders].value = remove ? NULL : mg_xstrndup(value, vlen);
        ch->nheaders++;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void read_changes(lua_State *L, sync_ctx *ctx, int idx)
{
    if (lua_isnil(L, idx))
        return;
    if (lua_type(L, idx) != LUA_TTABLE)
        hook_fail(L, ctx, "must return nil or { body = ..., headers = ... }, not %s",
                  luaL_typename(L, idx));
    read_body(L, ctx, idx);
    read_headers(L, ctx, idx);
}

static void push_hook(lua_State *L, sync_ctx *ctx)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->g->hook_ref[ctx->hook]);
}

static int before_upstream_body(lua_State *L)
{
    sync_ctx *ctx = lua_touserdata(L, 1);
    push_hook(L, ctx);
    ctx->boxes[0] = mg_lua_push_req(L, ctx->g, ctx->req);
    mg_lua_push_target(L, ctx->target, ctx->provider_format);
    lua_call(L, 2, 1);
    read_changes(L, ctx, lua_gettop(L));
    return 0;
}

static int on_response_body(lua_State *L)
{
    sync_ctx *ctx = lua_touserdata(L, 1);
    push_hook(L, ctx);
    ctx->boxes[0] = mg_lua_push_req(L, ctx->g, ctx->req);
    ctx->boxes[1] = mg_lua_push_res(L, ctx->g, ctx->res);
    lua_call(L, 2, 1);
    read_changes(L, ctx, lua_gettop(L));
    return 0;
}

static void read_flag(lua_State *L, sync_ctx *ctx, int t, const char *field, int *out)
{
    lua_getfield(L, t, field);
    if (lua_type(L, -1) == LUA_TBOOLEAN)
        *out = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1))
        hook_fail(L, ctx, "%s must be a boolean", field);
    lua_pop(L, 1);
}

static int classify_body(lua_State *L)
{
    sync_ctx *ctx = lua_touserdata(L, 1);
    push_hook(L, ctx);
    ctx->boxes[0] = mg_lua_push_res(L, ctx->g, ctx->res);
    lua_call(L, 1, 1);
    int t = lua_gettop(L);
    if (lua_isnil(L, t))
        return 0;
    if (lua_type(L, t) != LUA_TTABLE)
        hook_fail(L, ctx, "must return nil or { retry = bool, breaker = bool }, not %s",
                  luaL_typename(L, t));
    int retry = *ctx->retry, breaker = *ctx->breaker;
    read_flag(L, ctx, t, "retry", &retry);
    read_flag(L, ctx, t, "breaker", &breaker);
    *ctx->retry = retry; /* both or neither: a bad field changes nothing */
    *ctx->breaker = breaker;
    return 0;
}

static int run_sync(sync_ctx *ctx, lua_CFunction body, char *err, size_t errlen)
{
    mg_lua_gen *g = ctx->g;
    if (g->hook_ref[ctx->hook] == LUA_NOREF)
        return MG_LUA_NO_HOOK;
    char msg[MG_LUA_MAX_MSG];
    int rc = mg_lua_run(g, body, ctx, 0, g->hook_file[ctx->hook], mg_lua_hook_names[ctx->hook],
                        ctx->boxes, 2, msg, sizeof msg);
    if (rc != MG_OK) {
        if (ctx->changes)
            mg_lua_changes_free(ctx->changes);
        if (err && errlen)
            snprintf(err, errlen, "%s", msg);
        return MG_LUA_ERROR;
    }
    return MG_LUA_OK;
}

int mg_lua_before_upstream(mg_lua_gen *g, const mg_lua_req *req, const mg_lua_target *target,
                           const char *provider_format, mg_lua_changes *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    sync_ctx ctx = {.g = g, .hook = MG_LUA_HOOK_BEFORE_UPSTREAM, .req = req, .target = target,
                    .provider_format = provider_format, .changes = out};
    return run_sync(&ctx, before_upstream_body, err, errlen);
}

int mg_lua_on_response(mg_lua_gen *g, const mg_lua_req *req, const mg_lua_res *res,
                       mg_lua_changes *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    sync_ctx ctx = {.g = g, .hook = MG_LUA_HOOK_ON_RESPONSE, .req = req, .res = res,
                    .changes = out};
    return run_sync(&ctx, on_response_body, err, errlen);
}

int mg_lua_classify_error(mg_lua_gen *g, const mg_lua_res *res, int *retry, int *breaker,
                          char *err, size_t errlen)
{
    sync_ctx ctx = {.g = g, .hook = MG_LUA_HOOK_CLASSIFY_ERROR, .res = res, .retry = retry,
                    .breaker = breaker};
    return run_sync(&ctx, classify_body, err, errlen);
}

/* ---- on_log ---- */

typedef struct log_ctx {
    mg_lua_gen *g;
    const mg_record *rec;
    int rec_ref;
    size_t index;
} log_ctx;

static int log_build(lua_State *L)
{
    log_ctx *ctx = lua_touserdata(L, 1);
    mg_lua_push_record(L, ctx->rec);
    ctx->rec_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static int log_call(lua_State *L)
{
    log_ctx *ctx = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->g->hook_ref[MG_LUA_HOOK_ON_LOG]);
    lua_rawgeti(L, -1, (int)ctx->index + 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->rec_ref);
    lua_call(L, 1, 0);
    return 0;
}

int mg_lua_on_log(mg_lua_gen *g, const mg_record *rec)
{
    if (g->nlog == 0)
        return 0;
    log_ctx ctx = {.g = g, .rec = rec, .rec_ref = LUA_NOREF};
    char msg[MG_LUA_MAX_MSG];
    if (mg_lua_run(g, log_build, &ctx, 0, "lua", "on_log", NULL, 0, msg, sizeof msg) != MG_OK) {
        mg_warn("lua: on_log: %s", msg);
        return (int)g->nlog;
    }
    int failed = 0;
    for (ctx.index = 0; ctx.index < g->nlog; ctx.index++) {
        if (mg_lua_run(g, log_call, &ctx, 0, g->log_files[ctx.index], "on_log", NULL, 0, msg,
                       sizeof msg) != MG_OK) {
            mg_warn("lua: %s", msg);
            failed++;
        }
    }
    luaL_unref(g->L, LUA_REGISTRYINDEX, ctx.rec_ref);
    return failed;
}
