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

/* The request table's eager fields, in the order they are set (the order
 * decides the table's layout, so pairs() order stays what it was). The
 * interned keys sit in the shared metatable at these indices: filling a
 * request then hashes no key strings. */
enum {
    REQ_ID = 1,
    REQ_METHOD,
    REQ_PATH,
    REQ_QUERY,
    REQ_FORMAT,
    REQ_MODEL,
    REQ_STREAM,
    REQ_TOKENS_IN,
    REQ_KEY,
    REQ_USER,
    REQ_SESSION,
    REQ_ENVIRONMENT,
    REQ_NKEYS = REQ_ENVIRONMENT
};

static const char *const req_keys[REQ_NKEYS + 1] = {
    NULL, "id", "method", "path", "query", "format", "model", "stream", "tokens_in",
    "key", "user", "session", "environment",
};

void mg_lua_reqtab_init(lua_State *L, mg_lua_gen *g)
{
    lua_createtable(L, REQ_NKEYS, 2);
    for (int i = 1; i <= REQ_NKEYS; i++) {
        lua_pushstring(L, req_keys[i]);
        lua_rawseti(L, -2, i);
    }
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

/* t[keys[k]] = value on stack top; the table is at -3 with the key table
 * at -2 once the value is pushed. */
static void set_keyed(lua_State *L, int k)
{
    lua_rawgeti(L, -2, k);
    lua_insert(L, -2);
    lua_rawset(L, -4);
}

static void set_keyed_str(lua_State *L, int k, const char *value)
{
    if (!value)
        return;
    lua_pushstring(L, value);
    set_keyed(L, k);
}

mg_lua_box *mg_lua_push_req(lua_State *L, mg_lua_gen *g, const mg_lua_req *r)
{
    lua_createtable(L, 0, 16);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_req_mt); /* holds the keys */
    set_keyed_str(L, REQ_ID, r->id);
    set_keyed_str(L, REQ_METHOD, r->method);
    set_keyed_str(L, REQ_PATH, r->path);
    set_keyed_str(L, REQ_QUERY, r->query);
    set_keyed_str(L, REQ_FORMAT, r->client_format);
    set_keyed_str(L, REQ_MODEL, r->model);
    lua_pushboolean(L, r->stream);
    set_keyed(L, REQ_STREAM);
    lua_pushnumber(L, (lua_Number)r->tokens_in_estimate);
    set_keyed(L, REQ_TOKENS_IN);
    set_keyed_str(L, REQ_KEY, r->key_id);
    set_keyed_str(L, REQ_USER, r->user_id);
    set_keyed_str(L, REQ_SESSION, r->session_id);
    set_keyed_str(L, REQ_ENVIRONMENT, r->environment);
    lua_pop(L, 1);
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
