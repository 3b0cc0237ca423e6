/* test_lua_bench.c — micro benchmark of the policy host: building a
 * generation with the bundled policies, and the cost of one route call
 * (trivial hook; the bundled routing.lua; no hook) and of one synchronous
 * hook. Prints the numbers; fails only past generous bounds (10x what a
 * sanitizer build needs), so it catches a regression by orders of
 * magnitude, not noise. */
#include <stdio.h>
#include <string.h>

#include "lua_test_util.h"
#include "test.h"

static void count_done(mg_lua_call *c, void *ud)
{
    int *n = ud;
    *n += mg_lua_call_outcome(c) == MG_LUA_OK || mg_lua_call_outcome(c) == MG_LUA_NO_HOOK;
    mg_lua_call_free(c);
}

static double per_call_us(mg_lua_gen *g, int calls)
{
    mg_lua_req req = lt_req("gpt-4o", "{\"model\":\"gpt-4o\"}");
    int ok = 0;
    for (int i = 0; i < calls / 10; i++) /* warm up (and let the JIT settle) */
        mg_lua_call_route(g, &req, count_done, &ok);
    ok = 0;
    double t0 = mg_now_mono();
    for (int i = 0; i < calls; i++)
        mg_lua_call_route(g, &req, count_done, &ok);
    double us = (mg_now_mono() - t0) / calls * 1e6;
    CHECK_EQ_INT(ok, calls);
    return us;
}

static void test_bench(void)
{
    char path[512];
    lt_dir bundled;
    lt_dir_init(&bundled);
    snprintf(path, sizeof path, "%s/policies", lt_home());
    mg_config cfg = lt_config(path);
    char err[MG_ERRLEN];
    const int builds = 20;
    double t0 = mg_now_mono(), load_ms = 0;
    for (int i = 0; i < builds; i++) {
        mg_lua_gen *g = mg_lua_gen_build(&cfg, 1, err, sizeof err);
        CHECK(g != NULL);
        if (!g) {
            fprintf(stderr, "%s\n", err);
            return;
        }
        load_ms += mg_lua_gen_load_ms(g);
        mg_lua_gen_release(g);
    }
    double build_ms = (mg_now_mono() - t0) * 1000 / builds;
    printf("  build with bundled policies: %.2f ms (load_ms %.2f, incl. close)\n", build_ms,
           load_ms / builds);
    CHECK(build_ms < 2000);

    mg_lua_gen *g = mg_lua_gen_build(&cfg, 1, err, sizeof err);
    double bundled_us = per_call_us(g, 100000);
    printf("  route call, bundled routing.lua: %.2f us\n", bundled_us);
    mg_lua_target t = {.provider = "openai", .model = "gpt-4o"};
    mg_lua_req req = lt_req("gpt-4o", "{}");
    mg_lua_gen_release(g);

    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "trivial.lua",
             "return { route = function(req) return 'openai/gpt-4o' end,\n"
             "         before_upstream = function(req, target) return nil end }\n");
    g = lt_build(&d, NULL);
    double trivial_us = per_call_us(g, 200000);
    printf("  route call, trivial hook: %.2f us\n", trivial_us);
    CHECK(trivial_us < 1000);
    mg_lua_changes ch;
    const int syncs = 200000;
    t0 = mg_now_mono();
    for (int i = 0; i < syncs; i++)
        mg_lua_before_upstream(g, &req, &t, "openai", &ch, err, sizeof err);
    printf("  before_upstream call, trivial hook: %.2f us\n",
           (mg_now_mono() - t0) / syncs * 1e6);
    printf("  generation memory: %zu KiB\n", mg_lua_gen_memory(g) / 1024);
    mg_lua_gen_release(g);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "none.lua", "return {}\n");
    g = lt_build(&d, NULL);
    printf("  route call, no hook: %.3f us\n", per_call_us(g, 200000));
    mg_lua_gen_release(g);
    lt_dir_free(&d);
    lt_dir_free(&bundled);
}

TEST_MAIN(T(test_bench))
