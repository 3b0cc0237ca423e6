/* pool.c — the small-block lists of pool.h. */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

/* Size class of a request of n bytes (1 <= n <= MG_LUA_POOL_MAX_BLOCK). */
static size_t class_of(size_t n) { return (n - 1) / MG_LUA_POOL_STEP; }

static size_t class_bytes(size_t c) { return (c + 1) * MG_LUA_POOL_STEP; }

static void *take(mg_lua_pool *p, size_t n)
{
    size_t c = class_of(n);
    void *b = p->free[c];
    if (!b)
        return malloc(class_bytes(c));
    memcpy(&p->free[c], b, sizeof(void *));
    p->cached -= class_bytes(c);
    return b;
}

static void give(mg_lua_pool *p, void *b, size_t n)
{
    size_t c = class_of(n);
    if (p->cached + class_bytes(c) > MG_LUA_POOL_MAX_CACHED) {
        free(b);
        return;
    }
    memcpy(b, &p->free[c], sizeof(void *));
    p->free[c] = b;
    p->cached += class_bytes(c);
}

static int small(size_t n) { return n > 0 && n <= MG_LUA_POOL_MAX_BLOCK; }

void *mg_lua_pool_realloc(mg_lua_pool *p, void *ptr, size_t osize, size_t nsize)
{
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        if (small(osize))
            give(p, ptr, osize);
        else
            free(ptr);
        return NULL;
    }
    if (small(osize) && small(nsize) && class_of(osize) == class_of(nsize))
        return ptr;
    if (!small(osize) && !small(nsize))
        return realloc(ptr, nsize); /* both large: malloc's own realloc */
    void *q = small(nsize) ? take(p, nsize) : malloc(nsize);
    if (!q)
        return NULL;
    if (ptr) {
        memcpy(q, ptr, osize < nsize ? osize : nsize);
        if (small(osize))
            give(p, ptr, osize);
        else
            free(ptr);
    }
    return q;
}

void mg_lua_pool_drain(mg_lua_pool *p)
{
    for (size_t c = 0; c < MG_LUA_POOL_CLASSES; c++) {
        void *b = p->free[c];
        while (b) {
            void *next;
            memcpy(&next, b, sizeof next);
            free(b);
            b = next;
        }
        p->free[c] = NULL;
    }
    p->cached = 0;
}
