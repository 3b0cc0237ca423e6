/* json_codec_int.h — what the files of moongate.jsonc share:
 * json_codec.c (the Lua module: its closures and their output buffer),
 * json_codec_enc.c (Lua value -> JSON text) and json_codec_dec.c (JSON
 * text -> Lua value). Not for use outside these three files. */
#ifndef MG_LUA_JSON_CODEC_INT_H
#define MG_LUA_JSON_CODEC_INT_H

#include <lua.h>
#include <stddef.h>

#define MG_LUA_JSONC_DECODE_MAX_DEPTH 1000
#define MG_LUA_JSONC_ENCODE_MAX_DEPTH 200

/* The encoder's output buffer. Owner: a full userdata made by
 * json_codec.c, whose __gc frees data with the allocator it was made with
 * (the Lua state's, so a policy state's memory cap counts it). */
typedef struct mg_lua_jsonc_buf {
    char *data;
    size_t len, cap;
    lua_Alloc alloc;
    void *alloc_ud;
    int busy; /* an encode is writing into it (a finalizer may re-enter) */
} mg_lua_jsonc_buf;

/* Grows b to hold extra more bytes; -1 when the allocator refuses. */
int mg_lua_jsonc_buf_grow(mg_lua_jsonc_buf *b, size_t extra);

/* Room for extra more bytes; -1 when the allocator refuses. */
static inline int mg_lua_jsonc_buf_reserve(mg_lua_jsonc_buf *b, size_t extra)
{
    return b->cap - b->len >= extra ? 0 : mg_lua_jsonc_buf_grow(b, extra);
}

/* Appends the JSON text of the value at stack index idx (absolute) to b;
 * mt is the index of the array metatable (an upvalue index will do).
 * Returns 0, or -1 with *err a message ("json.encode: ..."), static or
 * written into msg. Raises only if Lua itself runs out of memory. */
int mg_lua_jsonc_encode(lua_State *L, mg_lua_jsonc_buf *b, int mt, int idx, const char **err,
                        char *msg, size_t msglen);

/* Appends s[0..n) as a JSON string, quoted. 0, or -1 without memory. */
int mg_lua_jsonc_quote(mg_lua_jsonc_buf *b, const char *s, size_t n);

/* Decodes s[0..len) and pushes the value (arrays get the metatable at
 * stack index mt). Returns 0, or -1 with *what saying what was wrong and
 * *pos its 1-based byte (len + 1: the text ended); the stack may then hold
 * partial results above where it was. Raises only on a memory error. */
int mg_lua_jsonc_decode(lua_State *L, const char *s, size_t len, int mt, const char **what,
                        size_t *pos);

#endif
