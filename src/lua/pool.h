/* pool.h — small-block recycling under a Lua state's allocator. LuaJIT
 * allocates and frees tables, strings and closures by the thousand per
 * converted stream, and its garbage collector frees them in bursts of one
 * size; glibc's per-thread cache holds seven blocks per size, so most of
 * those went through malloc's slow paths (a quarter of the worker's time
 * in a conversion profile). Freed blocks up to MG_LUA_POOL_MAX_BLOCK bytes
 * are kept on per-size lists, up to MG_LUA_POOL_MAX_CACHED bytes in all,
 * and handed out again. One pool per state: a state is only ever used by
 * one thread at a time, so the pool takes no lock. */
#ifndef MG_LUA_POOL_H
#define MG_LUA_POOL_H

#include <stddef.h>

#define MG_LUA_POOL_STEP 16
#define MG_LUA_POOL_MAX_BLOCK 512
#define MG_LUA_POOL_CLASSES (MG_LUA_POOL_MAX_BLOCK / MG_LUA_POOL_STEP)
#define MG_LUA_POOL_MAX_CACHED ((size_t)1 << 20)

typedef struct mg_lua_pool {
    void *free[MG_LUA_POOL_CLASSES]; /* owned: lists linked through each block's first word */
    size_t cached;                   /* bytes on the lists */
} mg_lua_pool;

/* realloc semantics (nsize 0 frees, ptr NULL allocates) with Lua's osize,
 * the old block's size exactly as the state passes it. NULL on failure. */
void *mg_lua_pool_realloc(mg_lua_pool *p, void *ptr, size_t osize, size_t nsize);

/* Gives every cached block back to malloc. */
void mg_lua_pool_drain(mg_lua_pool *p);

#endif
