/* reqtab.c — the tables hooks receive: `req` (request), `res` (upstream
 * response), the on_log record and the before_upstream target. Scalars are
 * set up front; headers, body (JSON-decoded) and body_raw are built on
 * first read through a shared __index, so a policy that never reads the
 * body never pays for decoding it. The borrowed C data sits behind a box
 * the host invalidates when the hook ends.
 * Uses record.h (field list) and the host cjson instance (api_json.c). */
#include <ctype.h>
#include <string.h>

#include "internal.h"

#define MAX_HEADER_NAME 256

/* Registry key of the weak map table -> box (kept out of the table itself
 * so pairs() and mg.json.encode(req) see only the fields). */
static const char boxes_key = 0;

static void push_boxes(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&boxes_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

static mg_lua_box *box_of(lua_State *L, int t)
{
    push_boxes(L);
    lua_pushvalue(L, t);
    lua_rawget(L, -2);
    mg_lua_box *b = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return b && b->valid ? b : NULL;
}

static void push_headers(lua_State *L, const mg_lua_box *b)
{
    lua_createtable(L, 0, (int)b->nheaders);
    for (size_t i = 0; i < b->nheaders; i++) {
        const mg_header *h = &b->headers[i];
        char name[MAX_HEADER_NAME];
        size_t n = MG_MIN(h->name_len, sizeof name);
        for (size_t j = 0; j < n; j++)
            name[j] = (char)tolower((unsigned char)h->name[j]);
        lua_pushlstring(L, name, n);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) { /* first of its name */
            lua_pop(L, 1);
            lua_pushlstring(L, h->value, h->value_len);
        } else { /* repeated header: join as HTTP allows */
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, h->value, h->value_len);
            lua_concat(L, 3);
        }
        lua_rawset(L, -3);
    }
}

/* __index(t, k): the lazy fields. Anything else reads as nil. */
static int lazy_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (!k || lua_type(L, 2) != LUA_TSTRING)
        return 0;
    mg_lua_box *b = box_of(L, 1);
    if (!b)
        return 0;
    if (strcmp(k, "headers") == 0)
        push_headers(L, b);
    else if (strcmp(k, "body_raw") == 0)
        lua_pushlstring(L, b->body ? b->body : "", b->body ? b->body_len : 0);
    else if (strcmp(k, "body") == 0 && b->body && b->body_len)
        mg_lua_json_decode(L, mg_lua_gen_of(L), b->body, b->body_len);
    else
        return 0;
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1); /* read once: cached in the table */
    return 1;
}

void mg_lua_reqtab_init(lua_State *L, mg_lua_gen *g)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, lazy_index);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    g->ref_req_mt = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, (void *)&boxes_key);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

static mg_lua_box *attach_box(lua_State *L, mg_lua_gen *g, const mg_header *headers,
                              size_t nheaders, const char *body, size_t body_len)
{
    push_boxes(L);
    lua_pushvalue(L, -2);
    mg_lua_box *b = lua_newuserdata(L, sizeof *b);
    b->valid = 1;
    b->headers = headers;
    b->nheaders = headers ? nheaders : 0;
    b->body = body;
    b->body_len = body ? body_len : 0;
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_req_mt);
    lua_setmetatable(L, -2);
    return b;
}

mg_lua_box *mg_lua_push_req(lua_State *L, mg_lua_gen *g, const mg_lua_req *r)
{
    lua_createtable(L, 0, 16);
    mg_lua_set_str(L, "id", r->id);
    mg_lua_set_str(L, "method", r->method);
    mg_lua_set_str(L, "path", r->path);
    mg_lua_set_str(L, "query", r->query);
    mg_lua_set_str(L, "format", r->client_format);
    mg_lua_set_str(L, "model", r->model);
    lua_pushboolean(L, r->stream);
    lua_setfield(L, -2, "stream");
    mg_lua_set_num(L, "tokens_in", (double)r->tokens_in_estimate);
    mg_lua_set_str(L, "key", r->key_id);
    mg_lua_set_str(L, "user", r->user_id);
    mg_lua_set_str(L, "session", r->session_id);
    mg_lua_set_str(L, "environment", r->environment);
    return attach_box(L, g, r->headers, r->nheaders, r->body, r->body_len);
}

mg_lua_box *mg_lua_push_res(lua_State *L, mg_lua_gen *g, const mg_lua_res *r)
{
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    mg_lua_set_str(L, "provider", r->provider);
    mg_lua_set_str(L, "model", r->model);
    mg_lua_set_str(L, "error", r->error);
    return attach_box(L, g, r->headers, r->nheaders, r->body, r->body_len);
}

void mg_lua_push_record(lua_State *L, const mg_record *rec)
{
    lua_createtable(L, 0, (int)mg_record_nfields);
    for (size_t i = 0; i < mg_record_nfields; i++) {
        const mg_record_field *f = &mg_record_fields[i];
        const char *base = (const char *)rec + f->offset;
        switch (f->kind) {
        case MG_REC_TEXT: {
            const char *s = *(char *const *)(const void *)base;
            if (!s)
                continue;
            lua_pushstring(L, s);
            break;
        }
        case MG_REC_INT: {
            int64_t v;
            memcpy(&v, base, sizeof v);
            lua_pushnumber(L, (lua_Number)v);
            break;
        }
        default: {
            double v;
            memcpy(&v, base, sizeof v);
            lua_pushnumber(L, v);
        }
        }
        lua_setfield(L, -2, f->name);
    }
}

void mg_lua_push_target(lua_State *L, const mg_lua_target *t, const char *provider_format)
{
    lua_createtable(L, 0, 6);
    mg_lua_set_str(L, "provider", t->provider);
    mg_lua_set_str(L, "model", t->model);
    mg_lua_set_str(L, "format", provider_format);
    if (t->timeout_total > 0)
        mg_lua_set_num(L, "timeout", t->timeout_total);
    if (t->timeout_first_byte > 0)
        mg_lua_set_num(L, "first_byte_timeout", t->timeout_first_byte);
    if (t->max_attempts > 0)
        mg_lua_set_num(L, "max_attempts", t->max_attempts);
}
