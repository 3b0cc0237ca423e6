/* test_lua_pool.c — the small-block pool under Lua states (src/lua/pool.c):
 * contents survive every kind of resize, freed blocks come back, the cache
 * stays within its bound, drain empties it. Run under ASan in CI, which
 * catches any block handed out twice or lost. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "lua/pool.h"
#include "test.h"

static void fill(unsigned char *b, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(v + i);
}

static int holds(const unsigned char *b, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(v + i))
            return 0;
    return 1;
}

static void test_resizes_keep_contents(void)
{
    mg_lua_pool p = {0};
    const size_t sizes[] = {1, 15, 16, 17, 100, 512, 513, 4096, 40, 8, 700, 3};
    unsigned char *b = mg_lua_pool_realloc(&p, NULL, 0, 24);
    fill(b, 24, 7);
    size_t have = 24;
    for (size_t i = 0; i < MG_ARRAY_LEN(sizes); i++) {
        b = mg_lua_pool_realloc(&p, b, have, sizes[i]);
        CHECK(b != NULL);
        size_t kept = have < sizes[i] ? have : sizes[i];
        CHECK(holds(b, kept, 7));
        fill(b, sizes[i], 7);
        have = sizes[i];
    }
    CHECK(mg_lua_pool_realloc(&p, b, have, 0) == NULL);
    mg_lua_pool_drain(&p);
    CHECK_EQ_INT(p.cached, 0);
}

static void test_reuse_and_bound(void)
{
    mg_lua_pool p = {0};
    void *a = mg_lua_pool_realloc(&p, NULL, 0, 64);
    mg_lua_pool_realloc(&p, a, 64, 0);
    CHECK_EQ_INT(p.cached, 64);
    void *b = mg_lua_pool_realloc(&p, NULL, 0, 60); /* same class */
    CHECK(a == b);
    CHECK_EQ_INT(p.cached, 0);
    mg_lua_pool_realloc(&p, b, 60, 0);
    /* Free far more than the bound allows: the cache stops at the bound. */
    enum { N = 20000 };
    void **blocks = malloc(N * sizeof *blocks);
    for (size_t i = 0; i < N; i++)
        blocks[i] = mg_lua_pool_realloc(&p, NULL, 0, 512);
    for (size_t i = 0; i < N; i++)
        mg_lua_pool_realloc(&p, blocks[i], 512, 0);
    CHECK(p.cached <= MG_LUA_POOL_MAX_CACHED);
    CHECK(p.cached >= MG_LUA_POOL_MAX_CACHED - 512);
    free(blocks);
    mg_lua_pool_drain(&p);
    CHECK_EQ_INT(p.cached, 0);
    for (size_t c = 0; c < MG_LUA_POOL_CLASSES; c++)
        CHECK(p.free[c] == NULL);
}

TEST_MAIN(T(test_resizes_keep_contents), T(test_reuse_and_bound))
