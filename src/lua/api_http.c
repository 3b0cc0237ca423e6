/* api_http.c — mg.http.request{ method=, url=, headers=, body=, timeout=,
 * max_body= } -> { status, headers, body } | nil, err. It waits without
 * blocking: the transfer runs on the worker's upstream client and the
 * request coroutine sleeps until it ends, so it only works inside hooks
 * that run in a coroutine (route, on_request). An HTTP error status is a
 * response, not an error; err is for transport failures and limits.
 * Uses upstream.h (mg_up_start/cancel) and call.c's wait mechanism. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_TIMEOUT 30.0
#define MAX_TIMEOUT 300.0
#define DEFAULT_MAX_BODY ((size_t)8 << 20)
#define MAX_BODY ((size_t)64 << 20)
#define MAX_REQ_HEADERS 64
#define MAX_RESP_HEADERS 128

/* One transfer; owned by the call's wait until finish or cancel frees it. */
typedef struct http_wait {
    mg_lua_call *c;
    mg_up_xfer *xfer;      /* running transfer; NULL once it ended */
    char *method, *url;    /* request data libcurl may read until the end */
    char *body;
    size_t body_len;
    char **headers;        /* "Name: value" */
    size_t nheaders;
    int status;            /* response */
    mg_kv *rheaders;
    size_t nrheaders;
    mg_buf rbody;
    size_t max_body;
    int failed;
    char err[256];
} http_wait;

static void wait_free(http_wait *w)
{
    if (w->xfer)
        mg_up_cancel(w->xfer);
    free(w->method);
    free(w->url);
    free(w->body);
    for (size_t i = 0; i < w->nheaders; i++)
        free(w->headers[i]);
    free(w->headers);
    for (size_t i = 0; i < w->nrheaders; i++) {
        free(w->rheaders[i].name);
        free(w->rheaders[i].value);
    }
    free(w->rheaders);
    mg_buf_free(&w->rbody);
    free(w);
}

static void http_release(mg_lua_call *c) { wait_free(c->wait_data); }

static void on_response(void *ud, int status, const mg_header *headers, size_t n)
{
    http_wait *w = ud;
    w->status = status;
    n = MG_MIN(n, (size_t)MAX_RESP_HEADERS);
    w->rheaders = mg_xcalloc(n ? n : 1, sizeof *w->rheaders);
    for (size_t i = 0; i < n; i++) {
        char *name = mg_xstrndup(headers[i].name, headers[i].name_len);
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        w->rheaders[i].name = name;
        w->rheaders[i].value = mg_xstrndup(headers[i].value, headers[i].value_len);
    }
    w->nrheaders = n;
}

static int on_data(void *ud, const char *data, size_t len)
{
    http_wait *w = ud;
    if (w->rbody.len + len > w->max_body) {
        snprintf(w->err, sizeof w->err, "response body larger than %zu bytes", w->max_body);
        w->failed = 1;
        mg_up_cancel(w->xfer); /* no callback follows: wake the call ourselves */
        w->xfer = NULL;
        mg_lua_call_wake(w->c, 0);
        return MG_OK;
    }
    mg_buf_append(&w->rbody, data, len);
    return MG_OK;
}

static void on_done(void *ud, int result, const char *errmsg)
{
    http_wait *w = ud;
    w->xfer = NULL;
    if (result != MG_UP_OK) {
        w->failed = 1;
        snprintf(w->err, sizeof w->err, "%s%s%s", mg_up_result_name(result),
                 errmsg ? ": " : "", errmsg ? errmsg : "");
    }
    mg_lua_call_wake(w->c, 0);
}

static const mg_up_callbacks http_callbacks = {on_response, on_data, on_done};

static void add_header(http_wait *w, const char *name, size_t nlen, const char *value,
                       size_t vlen)
{
    w->headers = mg_xrealloc(w->headers, (w->nheaders + 1) * sizeof *w->headers);
    char *line = mg_xmalloc(nlen + vlen + 3);
    memcpy(line, name, nlen);
    memcpy(line + nlen, ": ", 2);
    memcpy(line + nlen + 2, value, vlen);
    line[nlen + vlen + 2] = '\0';
    w->headers[w->nheaders++] = line;
}

static int has_header(const http_wait *w, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < w->nheaders; i++)
        if (strncasecmp(w->headers[i], name, n) == 0 && w->headers[i][n] == ':')
            return 1;
    return 0;
}

static void read_headers(lua_State *L, http_wait *w, int opts)
{
    lua_getfield(L, opts, "headers");
    int h = lua_gettop(L);
    if (!lua_isnil(L, h) && lua_type(L, h) != LUA_TTABLE)
        mg_lua_raise_at(L, 2, "mg.http.request: headers must be a table");
    if (lua_type(L, h) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, h)) {
            size_t nlen = 0, vlen = 0;
            const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &nlen) : NULL;
            const char *value = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &vlen)
                                                               : NULL;
            if (!name || !value || !mg_lua_header_name_ok(name, nlen) ||
                !mg_lua_header_value_ok(value, vlen))
                mg_lua_raise_at(L, 2, "mg.http.request: header %s must be name = one-line string",
                                name ? name : "?");
            if (w->nheaders == MAX_REQ_HEADERS)
                mg_lua_raise_at(L, 2, "mg.http.request: more than %d headers", MAX_REQ_HEADERS);
            add_header(w, name, nlen, value, vlen);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static void read_body(lua_State *L, http_wait *w, int opts)
{
    lua_getfield(L, opts, "body");
    if (lua_type(L, -1) == LUA_TTABLE) {
        if (mg_lua_json_encode(L, mg_lua_gen_of(L), -1) != MG_OK)
            mg_lua_raise_at(L, 2, "mg.http.request: body cannot be encoded as JSON: %s",
                            lua_tostring(L, -1));
        if (!has_header(w, "content-type"))
            add_header(w, "Content-Type", 12, "application/json", 16);
    } else if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
        mg_lua_raise_at(L, 2, "mg.http.request: body must be a string or a table");
    }
    if (!lua_isnil(L, -1)) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        w->body = mg_xstrndup(s, n);
        w->body_len = n;
    }
    lua_pop(L, 1);
}

static double read_number(lua_State *L, int opts, const char *field, double def, double max)
{
    lua_getfield(L, opts, field);
    double v = def;
    if (!lua_isnil(L, -1)) {
        v = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(v > 0 && v <= max))
            mg_lua_raise_at(L, 2, "mg.http.request: %s must be a number in (0, %.0f]", field,
                            max);
    }
    lua_pop(L, 1);
    return v;
}

static void read_target(lua_State *L, http_wait *w, int opts)
{
    lua_getfield(L, opts, "url");
    size_t n;
    const char *url = lua_tolstring(L, -1, &n);
    if (lua_type(L, -1) != LUA_TSTRING || n > 8192 ||
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        mg_lua_raise_at(L, 2, "mg.http.request: url must be an http:// or https:// URL");
    w->url = mg_xstrndup(url, n);
    lua_pop(L, 1);
    lua_getfield(L, opts, "method");
    const char *method = lua_tolstring(L, -1, &n);
    if (!lua_isnil(L, -1) && (lua_type(L, -1) != LUA_TSTRING || n > 16 ||
                              !mg_lua_header_name_ok(method, n)))
        mg_lua_raise_at(L, 2, "mg.http.request: method must be a word like GET or POST");
    w->method = method ? mg_xstrdup(method) : NULL; /* NULL: GET, or POST with a body */
    lua_pop(L, 1);
}

/* start(yieldable, opts) -> true | nil, err */
static int http_start(lua_State *L)
{
    mg_lua_call *c = mg_lua_call_waitable(L, "mg.http.request", lua_toboolean(L, 1));
    if (lua_type(L, 2) != LUA_TTABLE)
        mg_lua_raise_at(L, 2, "mg.http.request expects a table { url = ..., ... }");
    http_wait *w = mg_xcalloc(1, sizeof *w);
    w->c = c;
    w->max_body = DEFAULT_MAX_BODY;
    mg_lua_gen *g = c->gen;
    /* Owned by the call from here: if an option below raises, the call's
     * end (or the next wait) frees it. */
    mg_lua_call_wait(c, w, http_release);
    read_target(L, w, 2);
    read_headers(L, w, 2);
    read_body(L, w, 2);
    if (!w->method)
        w->method = mg_xstrdup(w->body ? "POST" : "GET");
    double timeout = read_number(L, 2, "timeout", DEFAULT_TIMEOUT, MAX_TIMEOUT);
    w->max_body = (size_t)read_number(L, 2, "max_body", (double)DEFAULT_MAX_BODY, (double)MAX_BODY);
    if (!g->upstream) {
        mg_lua_call_take_wait(c);
        wait_free(w);
        lua_pushnil(L);
        lua_pushliteral(L, "no upstream client bound to this generation");
        return 2;
    }
    mg_up_request req = {
        .method = w->method, .url = w->url, .headers = (const char *const *)w->headers,
        .nheaders = w->nheaders, .body = w->body, .body_len = w->body_len,
        .t_connect = MG_MIN(timeout, 10.0), .t_first_byte = timeout, .t_idle = timeout,
        .t_total = timeout,
    };
    char err[MG_ERRLEN] = "";
    w->xfer = mg_up_start(g->upstream, &req, &http_callbacks, w, err);
    if (!w->xfer) {
        mg_lua_call_take_wait(c);
        wait_free(w);
        lua_pushnil(L);
        lua_pushstring(L, err[0] ? err : "cannot start the request");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int http_finish(lua_State *L)
{
    mg_lua_call *c = mg_lua_gen_of(L)->running;
    if (!c || c->wait_release != http_release) {
        lua_pushnil(L);
        lua_pushliteral(L, "mg.http.request: no transfer");
        return 2;
    }
    /* The call keeps owning w until everything is pushed (a push may raise
     * on memory, and the call's end then frees w). */
    http_wait *w = c->wait_data;
    if (w->failed) {
        lua_pushnil(L);
        lua_pushstring(L, w->err);
    } else {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, w->status);
        lua_setfield(L, -2, "status");
        lua_createtable(L, 0, (int)w->nrheaders);
        for (size_t i = 0; i < w->nrheaders; i++) {
            lua_pushstring(L, w->rheaders[i].value);
            lua_setfield(L, -2, w->rheaders[i].name);
        }
        lua_setfield(L, -2, "headers");
        lua_pushlstring(L, w->rbody.data ? w->rbody.data : "", w->rbody.len);
        lua_setfield(L, -2, "body");
        lua_pushnil(L);
    }
    mg_lua_call_take_wait(c);
    wait_free(w);
    return 2;
}

void mg_lua_inject_http(lua_State *L)
{
    lua_createtable(L, 0, 1);
    mg_lua_push_waiter(L, http_start, http_finish);
    lua_setfield(L, -2, "request");
    lua_setfield(L, -2, "http");
}
