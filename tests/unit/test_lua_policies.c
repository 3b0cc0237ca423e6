/* test_lua_policies.c — the shipped Lua: policies/routing.lua (including
 * the routing.cheap_small flag), every examples/policies file, every
 * example in docs/lua-api.md (loaded with the bundled demo config), and
 * mg.providers / mg.metrics over the host callbacks. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "core/common.h"
#include "lua/host.h"
#include "lua/shared_dict.h"
#include "lua_test_util.h"
#include "test.h"

static void copy_file(const char *from, lt_dir *d, const char *name)
{
    FILE *f = fopen(from, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    lt_write(d, name, buf);
}

static void route_req(mg_lua_gen *g, const mg_lua_req *req, lt_result *r)
{
    memset(r, 0, sizeof *r);
    r->req = *req;
    mg_lua_call *c = mg_lua_call_route(g, &r->req, lt_on_done, r);
    CHECK(c == NULL); /* nothing here waits */
}

/* The bundled policies/routing.lua and every example load and route. */
static void test_bundled_policies(void)
{
    char path[512];
    lt_dir d;
    lt_dir_init(&d);
    snprintf(path, sizeof path, "%s/policies/routing.lua", lt_home());
    copy_file(path, &d, "routing.lua");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    mg_lua_req req = lt_req("gpt-4o", NULL);
    req.tokens_in_estimate = 10;
    lt_result r;
    /* The common case returns nothing: the gateway's own routing (every
     * provider serving the model, breakers honoured) is the fast path. */
    route_req(g, &req, &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 0);
    req.model = "anthropic/claude-haiku";
    route_req(g, &req, &r);
    CHECK_EQ_INT(r.n, 0);
    req.model = "unknown-model";
    route_req(g, &req, &r);
    CHECK(r.outcome == MG_LUA_OK && r.n == 0);
    /* the flag an insight action turns on: short prompts go cheap first */
    mg_shv on = {.type = MG_SHV_BOOL, .boolean = 1};
    mg_shared_set("routing", "cheap_small", &on, 0);
    req.model = "gpt-4o";
    route_req(g, &req, &r);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "gpt-4o-mini");
    CHECK_EQ_STR(r.n > 1 ? r.t[1].model : NULL, "gpt-4o");
    req.tokens_in_estimate = 5000; /* not short: back to the gateway's routing */
    route_req(g, &req, &r);
    CHECK_EQ_INT(r.n, 0);
    mg_shv off = {.type = MG_SHV_NIL};
    mg_shared_set("routing", "cheap_small", &off, 0);
    mg_lua_gen_release(g);
    lt_dir_free(&d);

    static const char *const examples[] = {"cost_by_size.lua", "failover_chain.lua",
                                           "ab_split.lua", "sticky_sessions.lua",
                                           "model_aliases.lua", "sensitive_words.lua"};
    for (size_t i = 0; i < MG_ARRAY_LEN(examples); i++) {
        lt_dir_init(&d);
        snprintf(path, sizeof path, "%s/examples/policies/%s", lt_home(), examples[i]);
        copy_file(path, &d, examples[i]);
        g = lt_build(&d, NULL);
        CHECK(g != NULL);
        if (g) {
            const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            req = lt_req("gpt-4o-mini", body);
            route_req(g, &req, &r);
            if (r.outcome == MG_LUA_ERROR)
                fprintf(stderr, "%s: %d %s\n", examples[i], r.outcome, r.msg ? r.msg : "");
            CHECK(r.outcome == MG_LUA_OK || r.outcome == MG_LUA_NO_HOOK);
            mg_lua_gen_release(g);
        }
        lt_dir_free(&d);
    }

    /* sensitive words refuse */
    lt_dir_init(&d);
    snprintf(path, sizeof path, "%s/examples/policies/sensitive_words.lua", lt_home());
    copy_file(path, &d, "words.lua");
    g = lt_build(&d, NULL);
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"my PassWord: x\"}]}";
    req = lt_req("gpt-4o", body);
    route_req(g, &req, &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_REFUSED);
    CHECK_EQ_INT(r.status, 400);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static mg_lua_metric_query last_query;
static char sum_filters[256]; /* "name=value;" of the last sum query */

static int fake_metric(void *ud, const mg_lua_metric_query *q, double *out)
{
    MG_UNUSED(ud);
    last_query = *q;
    if (q->op == MG_LUA_METRIC_SUM) {
        sum_filters[0] = '\0';
        for (size_t i = 0; i < q->nfilters; i++) {
            strcat(sum_filters, q->filters[i].name);
            strcat(sum_filters, "=");
            strcat(sum_filters, q->filters[i].value);
            strcat(sum_filters, ";");
        }
    }
    if (q->op == MG_LUA_METRIC_AVG)
        return MG_ERR; /* no data */
    *out = q->op == MG_LUA_METRIC_PERCENTILE ? q->q : 42.5;
    return MG_OK;
}

static void fake_state(void *ud, const char *provider, mg_lua_provider_state *st)
{
    MG_UNUSED(ud);
    if (strcmp(provider, "openai") == 0) {
        st->healthy = 0;
        st->breaker = MG_LUA_BREAKER_OPEN;
        st->latency_ms = 812.5;
    }
}

/* mg.providers and mg.metrics over the callbacks the gateway registers. */
static void test_host_ops(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "ops.lua",
             "return { route = function(req)\n"
             "  local m = req.model\n"
             "  if m == 'providers' then\n"
             "    local o, a = mg.providers.get('openai'), mg.providers.get('anthropic')\n"
             "    local list = mg.providers.list()\n"
             "    return table.concat({ tostring(o.healthy), o.breaker, tostring(o.latency_ms),\n"
             "      tostring(a.healthy), a.breaker, tostring(a.latency_ms), o.format,\n"
             "      table.concat(o.models, '+'), table.concat(a.tags, '+'), #list,\n"
             "      list[3].name, tostring(mg.providers.get('nope')),\n"
             "      table.concat(mg.providers.for_model('gpt-4o'), '+'),\n"
             "      mg.models['gpt-4o-mini'].price_input, mg.models['claude-haiku'].context_window,\n"
             "      tostring(o.api_key), tostring(o.base_url) }, '|')\n"
             "  end\n"
             "  if m == 'metrics' then\n"
             "    return table.concat({ mg.metrics.sum('cost', 3600, { provider = 'openai', stream = true }),\n"
             "      tostring(mg.metrics.avg('duration_ms', 60)), mg.metrics.percentile('ttft_ms', 95, 300),\n"
             "      mg.metrics.count(10), mg.metrics.rate('tokens_total', 60) }, '|')\n"
             "  end\n"
             "  if m == 'badmetric' then return mg.metrics.sum('provider', 60) end\n"
             "  if m == 'badfilter' then return mg.metrics.sum('cost', 60, { nope = 1 }) end\n"
             "  if m == 'badwindow' then return mg.metrics.sum('cost', 0) end\n"
             "  if m == 'unset' then\n"
             "    return mg.metrics.sum('cost', 60) .. '|' .. tostring(mg.metrics.avg('cost', 60))\n"
             "  end\n"
             "end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lt_result r;
    lt_route(g, "unset", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : r.msg, "0|nil");
    lt_route(g, "providers", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : r.msg,
                 "true|closed|nil|true|closed|nil|openai|gpt-4o+gpt-4o-mini|cloud|3|mock|nil|"
                 "openai|0.15|200000|nil|nil");
    mg_lua_host_ops ops = {.metric = fake_metric, .provider_state = fake_state};
    mg_lua_set_host_ops(&ops);
    lt_route(g, "providers", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : r.msg,
                 "false|open|812.5|true|closed|nil|openai|gpt-4o+gpt-4o-mini|cloud|3|mock|nil|"
                 "openai|0.15|200000|nil|nil");
    lt_route(g, "metrics", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : r.msg, "42.5|nil|95|42.5|42.5");
    CHECK_EQ_INT(last_query.op, MG_LUA_METRIC_RATE);
    CHECK(strstr(sum_filters, "provider=openai;") && strstr(sum_filters, "stream=1;"));
    CHECK_EQ_STR(last_query.metric, "tokens_total");
    CHECK(last_query.window == 60);
    lt_route(g, "badmetric", &r);
    CHECK(r.msg && strstr(r.msg, "'provider' is not a numeric record field"));
    lt_route(g, "badfilter", &r);
    CHECK(r.msg && strstr(r.msg, "unknown filter field 'nope'"));
    lt_route(g, "badwindow", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    mg_lua_set_host_ops(NULL);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

/* Every ```lua block of docs/lua-api.md is a policy file that loads with
 * the bundled demo config (the providers and models a new user has). */
static void test_doc_examples(void)
{
    char path[512], cerr[4096];
    snprintf(path, sizeof path, "%s/examples/demo.lua", lt_home());
    mg_config *demo = mg_config_load(path, lt_home(), cerr, sizeof cerr);
    CHECK(demo != NULL);
    if (!demo) {
        fprintf(stderr, "demo config: %s\n", cerr);
        return;
    }
    char *policies = demo->policies;
    snprintf(path, sizeof path, "%s/docs/lua-api.md", lt_home());
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char block[16384];
    char line[1024];
    size_t len = 0;
    int in_block = 0, blocks = 0;
    while (fgets(line, sizeof line, f)) {
        if (!in_block && strncmp(line, "```lua", 6) == 0) {
            in_block = 1;
            len = 0;
            continue;
        }
        if (in_block && strncmp(line, "```", 3) == 0) {
            in_block = 0;
            block[len] = '\0';
            lt_dir d;
            lt_dir_init(&d);
            lt_write(&d, "example.lua", block);
            char err[MG_ERRLEN];
            demo->policies = d.policies;
            mg_lua_gen *g = mg_lua_gen_build(demo, 1, err, sizeof err);
            if (!g)
                fprintf(stderr, "doc example %d: %s\n", blocks + 1, err);
            CHECK(g != NULL);
            mg_lua_gen_release(g);
            lt_dir_free(&d);
            blocks++;
            continue;
        }
        if (in_block && len + strlen(line) < sizeof block) {
            memcpy(block + len, line, strlen(line));
            len += strlen(line);
        }
    }
    fclose(f);
    CHECK(blocks >= 15);
    demo->policies = policies;
    mg_config_free(demo);
}

TEST_MAIN(T(test_bundled_policies), T(test_host_ops), T(test_doc_examples))
