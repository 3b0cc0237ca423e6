/* test_lua_shared.c — mg.shared's store: value types, TTLs, incr rules,
 * LRU eviction and size bounds through the C API, exact counts when
 * threads increment at once (C and Lua, one generation per thread as the
 * workers have), and the Lua methods. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lua/shared_dict.h"
#include "lua_test_util.h"
#include "test.h"

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void test_types_and_ttl(void)
{
    char err[MG_ERRLEN];
    mg_shdict *d = mg_shdict_open("t_types", 0, 0, err, sizeof err);
    CHECK(d != NULL);
    mg_shv s = {.type = MG_SHV_STR, .str = "hello", .len = 5};
    mg_shv n = {.type = MG_SHV_NUM, .num = 2.5};
    mg_shv b = {.type = MG_SHV_BOOL, .boolean = 1};
    CHECK_EQ_INT(mg_shdict_set(d, "s", 1, &s, 0, NULL, err, sizeof err), MG_OK);
    CHECK_EQ_INT(mg_shdict_set(d, "n", 1, &n, 0, NULL, err, sizeof err), MG_OK);
    CHECK_EQ_INT(mg_shdict_set(d, "b", 1, &b, 0.05, NULL, err, sizeof err), MG_OK);
    mg_shv v;
    CHECK_EQ_INT(mg_shdict_get(d, "s", 1, &v), MG_OK);
    CHECK(v.type == MG_SHV_STR && v.len == 5 && strcmp(v.str, "hello") == 0);
    mg_shv_clear(&v);
    CHECK_EQ_INT(mg_shdict_get(d, "n", 1, &v), MG_OK);
    CHECK(v.type == MG_SHV_NUM && v.num == 2.5);
    double left;
    CHECK_EQ_INT(mg_shdict_ttl(d, "b", 1, &left), MG_OK);
    CHECK(left > 0 && left <= 0.05);
    CHECK_EQ_INT(mg_shdict_ttl(d, "n", 1, &left), MG_OK);
    CHECK(left == 0);
    nap(0.08);
    CHECK_EQ_INT(mg_shdict_get(d, "b", 1, &v), MG_ERR);
    CHECK_EQ_INT(mg_shdict_count(d), 2);
    CHECK_EQ_INT(mg_shdict_delete(d, "s", 1), MG_OK);
    CHECK_EQ_INT(mg_shdict_delete(d, "s", 1), MG_ERR);
    mg_shv nil = {.type = MG_SHV_NIL};
    CHECK_EQ_INT(mg_shdict_set(d, "n", 1, &nil, 0, NULL, err, sizeof err), MG_OK);
    CHECK_EQ_INT(mg_shdict_count(d), 0);
    /* the same name is the same dictionary */
    CHECK(mg_shdict_open("t_types", 5, 5, err, sizeof err) == d);
    CHECK(mg_shdict_open("", 0, 0, err, sizeof err) == NULL);
    CHECK(mg_shdict_open("has space", 0, 0, err, sizeof err) == NULL);
}

static void test_incr_rules(void)
{
    char err[MG_ERRLEN];
    mg_shdict *d = mg_shdict_open("t_incr", 0, 0, err, sizeof err);
    double out = 0, init = 10;
    CHECK_EQ_INT(mg_shdict_incr(d, "k", 1, 1, NULL, 0, &out, err, sizeof err), MG_ERR);
    CHECK_EQ_STR(err, "not found");
    CHECK_EQ_INT(mg_shdict_incr(d, "k", 1, 5, &init, 0, &out, err, sizeof err), MG_OK);
    CHECK(out == 15);
    CHECK_EQ_INT(mg_shdict_incr(d, "k", 1, -3, &init, 0, &out, err, sizeof err), MG_OK);
    CHECK(out == 12);
    mg_shv s = {.type = MG_SHV_STR, .str = "x", .len = 1};
    mg_shdict_set(d, "s", 1, &s, 0, NULL, err, sizeof err);
    CHECK_EQ_INT(mg_shdict_incr(d, "s", 1, 1, &init, 0, &out, err, sizeof err), MG_ERR);
    CHECK_EQ_STR(err, "not a number");
    CHECK_EQ_INT(mg_shared_incr("t_incr", "c", 2, 0, &out), MG_OK);
    CHECK(out == 2);
}

static void test_eviction_and_bounds(void)
{
    char err[MG_ERRLEN];
    mg_shdict *d = mg_shdict_open("t_lru", 3, 0, err, sizeof err);
    mg_shv one = {.type = MG_SHV_NUM, .num = 1};
    int evicted = -1;
    mg_shdict_set(d, "a", 1, &one, 0, NULL, err, sizeof err);
    mg_shdict_set(d, "b", 1, &one, 0, NULL, err, sizeof err);
    mg_shdict_set(d, "c", 1, &one, 0, NULL, err, sizeof err);
    mg_shv v;
    CHECK_EQ_INT(mg_shdict_get(d, "a", 1, &v), MG_OK); /* a is now most recent */
    CHECK_EQ_INT(mg_shdict_set(d, "d", 1, &one, 0, &evicted, err, sizeof err), MG_OK);
    CHECK_EQ_INT(evicted, 1);
    CHECK_EQ_INT(mg_shdict_get(d, "b", 1, &v), MG_ERR); /* least recently used went */
    CHECK_EQ_INT(mg_shdict_get(d, "a", 1, &v), MG_OK);
    CHECK_EQ_INT(mg_shdict_count(d), 3);
    char **keys;
    size_t n = mg_shdict_keys(d, 0, &keys);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(keys[0], "a");
    mg_shdict_keys_free(keys, n);

    char big[MG_SHARED_MAX_VALUE + 2];
    memset(big, 'x', sizeof big);
    mg_shv large = {.type = MG_SHV_STR, .str = big, .len = sizeof big};
    CHECK_EQ_INT(mg_shdict_set(d, "big", 3, &large, 0, NULL, err, sizeof err), MG_ERR);
    char key[MG_SHARED_MAX_KEY + 2];
    memset(key, 'k', sizeof key);
    CHECK_EQ_INT(mg_shdict_set(d, key, sizeof key, &one, 0, NULL, err, sizeof err), MG_ERR);

    /* a byte bound evicts too */
    mg_shdict *small = mg_shdict_open("t_bytes", 0, 4096, err, sizeof err);
    char val[1000];
    memset(val, 'v', sizeof val);
    mg_shv mid = {.type = MG_SHV_STR, .str = val, .len = sizeof val};
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        CHECK_EQ_INT(mg_shdict_set(small, k, strlen(k), &mid, 0, NULL, err, sizeof err), MG_OK);
    }
    CHECK(mg_shdict_count(small) <= 4);
    CHECK_EQ_INT(mg_shdict_get(small, "k19", 3, &v), MG_OK);
    mg_shv_clear(&v);
}

enum { THREADS = 4, PER_THREAD = 50000, LUA_CALLS = 5000 };

static void *incr_thread(void *arg)
{
    mg_shdict *d = arg;
    char err[MG_ERRLEN];
    double out, init = 0;
    for (int i = 0; i < PER_THREAD; i++)
        mg_shdict_incr(d, "n", 1, 1, &init, 0, &out, err, sizeof err);
    return NULL;
}

static void lua_done(mg_lua_call *c, void *ud)
{
    int *ok = ud;
    *ok += mg_lua_call_outcome(c) == MG_LUA_OK;
    mg_lua_call_free(c);
}

/* One generation per thread, as workers have; every call increments. */
static void *lua_thread(void *arg)
{
    const mg_config *cfg = arg; /* made by the main thread, read only here */
    char err[MG_ERRLEN];
    mg_lua_gen *g = mg_lua_gen_build(cfg, 1, err, sizeof err);
    if (!g)
        return (void *)1;
    int ok = 0;
    mg_lua_req req = lt_req("m", NULL);
    for (int i = 0; i < LUA_CALLS; i++)
        mg_lua_call_route(g, &req, lua_done, &ok);
    mg_lua_gen_release(g);
    return ok == LUA_CALLS ? NULL : (void *)1;
}

static void test_threads(void)
{
    char err[MG_ERRLEN];
    mg_shdict *d = mg_shdict_open("t_threads", 0, 0, err, sizeof err);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, incr_thread, d);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    mg_shv v;
    CHECK_EQ_INT(mg_shdict_get(d, "n", 1, &v), MG_OK);
    CHECK_EQ_INT((long)v.num, THREADS * PER_THREAD);

    lt_dir dir;
    lt_dir_init(&dir);
    lt_write(&dir, "count.lua",
             "local d = mg.shared.dict('t_lua_threads')\n"
             "return { route = function(req) d:incr('hits', 1, 0) return 'gpt-4o' end }\n");
    mg_config cfg = lt_config(dir.policies);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, lua_thread, &cfg);
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        failed += rc != NULL;
    }
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(mg_shared_get("t_lua_threads", "hits", &v), MG_OK);
    CHECK_EQ_INT((long)v.num, THREADS * LUA_CALLS);
    lt_dir_free(&dir);
}

static void test_lua_methods(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "m.lua",
             "local d = mg.shared.dict('t_methods', { max_entries = 100 })\n"
             "return { route = function(req)\n"
             "  assert(d:set('s', 'v', 10))\n"
             "  assert(d:set('n', 1))\n"
             "  assert(d:set('b', false))\n"
             "  assert(d:get('s') == 'v' and d:get('n') == 1 and d:get('b') == false)\n"
             "  assert(d:get('missing') == nil)\n"
             "  assert(d:incr('n', 2) == 3)\n"
             "  assert(d:incr('new', 1, 10) == 11)\n"
             "  local v, err = d:incr('s', 1)\n"
             "  assert(v == nil and err == 'not a number')\n"
             "  assert(d:ttl('s') > 9 and d:ttl('n') == 0 and d:ttl('missing') == nil)\n"
             "  assert(d:delete('b') == true and d:delete('b') == false)\n"
             "  assert(#d:keys() == 3 and d:count() == 3)\n"
             "  assert(not pcall(d.set, d, 'f', function() end))\n"
             "  assert(mg.shared.dict('t_methods') == d)\n"
             "  d:flush()\n"
             "  assert(d:count() == 0)\n"
             "  return tostring(d)\n"
             "end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lt_result r;
    lt_route(g, "x", &r);
    if (r.outcome != MG_LUA_OK)
        fprintf(stderr, "%s\n", r.msg);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "shared dict 't_methods'");
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_reset(void)
{
    mg_shared_reset();
    mg_shv v;
    CHECK_EQ_INT(mg_shared_get("t_incr", "c", &v), MG_ERR);
    mg_shared_reset();
}

TEST_MAIN(T(test_types_and_ttl), T(test_incr_rules), T(test_eviction_and_bounds),
          T(test_threads), T(test_lua_methods), T(test_reset))
