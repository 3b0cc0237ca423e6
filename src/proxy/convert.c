/* convert.c — the convert stages: when the client and the provider speak
 * different formats, the request, the response and every stream event go
 * through moongate.bridge (Lua, lua/moongate/bridge.lua) in the generation
 * the request started on. Same-format requests never come here. The stream
 * converter lives in the Lua registry for the request's life (px->conv_ref);
 * plain text deltas may skip it through the lane (convert_lane.c), which
 * each call into the converter brings up to date.
 * Uses: lua/host.h (state, deadline-guarded pcall). */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "convert_lane.h"
#include "px-t.h"

/* Request and response bodies can be large (images in base64); events
 * are small and each gets the normal hook budget. */
#define MG_PX_CONVERT_BODY_BUDGET 2.0

static int push_bridge_fn(lua_State *L, const char *fn, char *err, size_t errlen)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "moongate.bridge");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushstring(L, "moongate.bridge");
        if (lua_pcall(L, 1, 1, 0) != 0) {
            snprintf(err, errlen, "format converters failed to load: %s", lua_tostring(L, -1));
            lua_pop(L, 1);
            return MG_ERR;
        }
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "moongate.bridge");
    }
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    return MG_OK;
}

/* After a pcall with 2 results (text | nil, message): copy text to out. */
static int take_text_result(lua_State *L, mg_buf *out, char *err, size_t errlen)
{
    int rc = MG_OK;
    if (lua_type(L, -2) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -2, &n);
        mg_buf_reset(out);
        mg_buf_append(out, s, n);
    } else {
        const char *msg = lua_tostring(L, -1);
        snprintf(err, errlen, "%s", msg ? msg : "conversion failed");
        rc = MG_ERR;
    }
    lua_pop(L, 2);
    return rc;
}

/* Bundled converters run without the deadline hook (at JIT speed); a
 * format a policy registered runs under the hook like any policy code. */
static int bridge_pcall(mg_px *px, int nargs, int nresults, double budget, char *err,
                        size_t errlen)
{
    mg_lua_gen *g = px->gen->lua;
    if (px->conv_trusted)
        return mg_lua_gen_pcall_trusted(g, nargs, nresults, err, errlen);
    return mg_lua_gen_pcall(g, nargs, nresults, budget, err, errlen);
}

static void check_trusted(mg_px *px)
{
    mg_lua_gen *g = px->gen->lua;
    lua_State *L = mg_lua_gen_state(g);
    char err[256];
    px->conv_trusted = 0;
    if (push_bridge_fn(L, "trusted", err, sizeof err) != MG_OK)
        return;
    lua_pushstring(L, mg_format_name(px->ep.format));
    lua_pushstring(L, mg_format_name(px->up_format));
    if (mg_lua_gen_pcall(g, 2, 1, 0, err, sizeof err) != MG_OK)
        return;
    px->conv_trusted = lua_toboolean(L, -1);
    lua_pop(L, 1);
}

int mg_px_convert_request(mg_px *px, const char *model, mg_buf *out, char *err, size_t errlen)
{
    mg_lua_gen *g = px->gen->lua;
    if (!g) {
        snprintf(err, errlen, "format conversion needs the policy host, which is not loaded");
        return MG_ERR;
    }
    lua_State *L = mg_lua_gen_state(g);
    check_trusted(px);
    if (push_bridge_fn(L, "request", err, errlen) != MG_OK)
        return MG_ERR;
    lua_pushstring(L, mg_format_name(px->ep.format));
    lua_pushstring(L, mg_format_name(px->up_format));
    lua_pushlstring(L, px->raw_body, px->raw_body_len);
    lua_pushstring(L, model);
    lua_pushboolean(L, px->stream);
    lua_pushinteger(L, px->cfg->default_max_tokens);
    if (px->ep.format == MG_FMT_GEMINI)
        lua_pushstring(L, px->ep.model);
    else
        lua_pushnil(L);
    if (bridge_pcall(px, 7, 2, MG_PX_CONVERT_BODY_BUDGET, err, errlen) != MG_OK)
        return MG_ERR;
    return take_text_result(L, out, err, errlen);
}

int mg_px_convert_response(mg_px *px, const char *body, size_t len, mg_buf *out, char *err,
                           size_t errlen)
{
    mg_lua_gen *g = px->gen->lua;
    lua_State *L = mg_lua_gen_state(g);
    if (push_bridge_fn(L, "response", err, errlen) != MG_OK)
        return MG_ERR;
    lua_pushstring(L, mg_format_name(px->ep.format));
    lua_pushstring(L, mg_format_name(px->up_format));
    lua_pushlstring(L, body, len);
    lua_pushstring(L, px->cur->model);
    lua_pushstring(L, px->rec->id);
    if (bridge_pcall(px, 5, 2, MG_PX_CONVERT_BODY_BUDGET, err, errlen) != MG_OK)
        return MG_ERR;
    return take_text_result(L, out, err, errlen);
}

int mg_px_convert_stream_open(mg_px *px, char *err, size_t errlen)
{
    mg_lua_gen *g = px->gen->lua;
    lua_State *L = mg_lua_gen_state(g);
    if (push_bridge_fn(L, "stream_new", err, errlen) != MG_OK)
        return MG_ERR;
    lua_pushstring(L, mg_format_name(px->ep.format));
    lua_pushstring(L, mg_format_name(px->up_format));
    lua_pushstring(L, px->model);
    lua_pushstring(L, px->rec->id);
    lua_pushboolean(L, px->client_wants_usage);
    if (bridge_pcall(px, 5, 3, 0, err, errlen) != MG_OK)
        return MG_ERR;
    if (lua_isnil(L, -3)) {
        snprintf(err, errlen, "%s", lua_tostring(L, -2) ? lua_tostring(L, -2) : "no converter");
        lua_pop(L, 3);
        return MG_ERR;
    }
    int has_lane = lua_toboolean(L, -1);
    lua_pop(L, 2);
    px->conv_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    mg_px_lane_free(px->conv_lane); /* a previous attempt's */
    px->conv_lane = has_lane ? mg_xcalloc(1, sizeof *px->conv_lane) : NULL;
    return MG_OK;
}

/* After a stream_feed_batch call: its results 3..5 (lane prefix, suffix,
 * provider block index) at the top of the stack say whether the lane is
 * open now. */
static void update_lane(mg_px *px, lua_State *L)
{
    mg_px_lane *lane = px->conv_lane;
    if (!lane)
        return;
    size_t np, ns;
    const char *p = lua_type(L, -3) == LUA_TSTRING ? lua_tolstring(L, -3, &np) : NULL;
    const char *s = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &ns) : NULL;
    lane->on = p && s;
    if (!lane->on)
        return;
    mg_buf_reset(&lane->prefix);
    mg_buf_append(&lane->prefix, p, np);
    mg_buf_reset(&lane->suffix);
    mg_buf_append(&lane->suffix, s, ns);
    lane->up_index = lua_type(L, -1) == LUA_TNUMBER ? (long long)lua_tointeger(L, -1) : 0;
}

/* The end of the upstream stream: what the converter still holds. */
int mg_px_convert_stream_finish(mg_px *px, mg_buf *out)
{
    lua_State *L = mg_lua_gen_state(px->gen->lua);
    char err[256];
    if (push_bridge_fn(L, "stream_finish", err, sizeof err) != MG_OK)
        return MG_ERR;
    lua_rawgeti(L, LUA_REGISTRYINDEX, px->conv_ref);
    if (bridge_pcall(px, 1, 1, 0, err, sizeof err) != MG_OK) {
        mg_px_error_event(px->ep.format, 502, "api_error", err, out);
        return MG_ERR;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (s)
        mg_buf_append(out, s, n);
    lua_pop(L, 1);
    return MG_OK;
}

/* Events are converted a network chunk at a time: one call into Lua per
 * chunk instead of one per event (an upstream chunk often carries dozens),
 * which is where the per-call cost of crossing into Lua went. */
void mg_px_convert_stream_queue(mg_px *px, const char *event, size_t elen, const char *data,
                                size_t dlen)
{
    uint32_t lens[2] = {(uint32_t)elen, (uint32_t)dlen};
    mg_buf_append(&px->conv_batch, lens, sizeof lens);
    mg_buf_append(&px->conv_batch, event, elen);
    mg_buf_append(&px->conv_batch, data, dlen);
    px->conv_nbatch++;
}

static void push_batch(lua_State *L, const mg_buf *b, size_t n)
{
    lua_createtable(L, (int)(2 * n), 0);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t lens[2];
        memcpy(lens, b->data + at, sizeof lens);
        at += sizeof lens;
        lua_pushlstring(L, b->data + at, lens[0]);
        lua_rawseti(L, -2, (int)(2 * i + 1));
        at += lens[0];
        lua_pushlstring(L, b->data + at, lens[1]);
        lua_rawseti(L, -2, (int)(2 * i + 2));
        at += lens[1];
    }
}

/* Converts the queued events; the text for the client is appended to out,
 * ending with the format's error event if a converter failed. */
int mg_px_convert_stream_flush(mg_px *px, mg_buf *out)
{
    size_t n = px->conv_nbatch;
    if (n == 0)
        return MG_OK;
    mg_lua_gen *g = px->gen->lua;
    lua_State *L = mg_lua_gen_state(g);
    char err[256];
    int rc = push_bridge_fn(L, "stream_feed_batch", err, sizeof err);
    if (rc == MG_OK) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, px->conv_ref);
        push_batch(L, &px->conv_batch, n);
        rc = bridge_pcall(px, 2, 5, 0, err, sizeof err);
    }
    mg_buf_reset(&px->conv_batch);
    px->conv_nbatch = 0;
    if (rc != MG_OK) {
        if (px->conv_lane)
            px->conv_lane->on = 0;
        mg_px_error_event(px->ep.format, 502, "api_error", err, out);
        return MG_ERR;
    }
    update_lane(px, L);
    size_t len;
    const char *s = lua_tolstring(L, -5, &len);
    if (s)
        mg_buf_append(out, s, len);
    if (lua_isstring(L, -4)) { /* converted up to the event that failed */
        snprintf(err, sizeof err, "%s", lua_tostring(L, -4));
        mg_px_error_event(px->ep.format, 502, "api_error", err, out);
        rc = MG_ERR;
    }
    lua_pop(L, 5);
    return rc;
}


void mg_px_convert_close(mg_px *px)
{
    if (px->conv_ref > 0 && px->gen->lua)
        luaL_unref(mg_lua_gen_state(px->gen->lua), LUA_REGISTRYINDEX, px->conv_ref);
    px->conv_ref = 0;
    mg_buf_free(&px->conv_batch);
    px->conv_nbatch = 0;
    mg_px_lane_free(px->conv_lane);
    px->conv_lane = NULL;
}
