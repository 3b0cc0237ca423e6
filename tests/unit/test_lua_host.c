/* test_lua_host.c — the policy host end to end: generations built from a
 * temporary policies folder and a config made in C, route results of every
 * shape, load errors naming files and lines, named definitions and list
 * hooks, refusals, lazy req fields, the synchronous hooks, on_log, waits
 * (mg.sleep) and cancellation, and the calls other parts use (pcall,
 * mg_lua_call_start). Sandbox and limits: test_lua_sandbox.c; bundled
 * policies, docs and host callbacks: test_lua_policies.c; mg.http:
 * test_lua_http.c. */
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

static void test_route_forms(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "routing.lua",
             "return { route = function(req)\n"
             "  local m = req.model\n"
             "  if m == 'pm' then return 'openai/gpt-4o' end\n"
             "  if m == 'bare' then return 'gpt-4o-mini' end\n"
             "  if m == 'org' then return 'meta/llama-3' end\n"
             "  if m == 'tbl' then return { provider = 'anthropic', model = 'claude-haiku',\n"
             "                              timeout = 5, first_byte_timeout = 2, max_attempts = 2 } end\n"
             "  if m == 'list' then return { 'anthropic/claude-sonnet', 'gpt-4o',\n"
             "                               { provider = 'openai' } } end\n"
             "  if m == 'empty' then return {} end\n"
             "  if m == 'badfield' then return { { model = 'x', timout = 3 } } end\n"
             "  if m == 'badprov' then return { provider = 'nope', model = 'x' } end\n"
             "  if m == 'number' then return 42 end\n"
             "  return nil\n"
             "end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lt_result r;
    lt_route(g, "pm", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_STR(r.t[0].provider, "openai");
    CHECK_EQ_STR(r.t[0].model, "gpt-4o");

    lt_route(g, "bare", &r);
    CHECK_EQ_INT(r.n, 1);
    CHECK(r.t[0].provider == NULL);
    CHECK_EQ_STR(r.t[0].model, "gpt-4o-mini");

    lt_route(g, "org", &r); /* "meta" is not a provider: the whole thing is a model */
    CHECK(r.t[0].provider == NULL);
    CHECK_EQ_STR(r.t[0].model, "meta/llama-3");

    lt_route(g, "tbl", &r);
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_STR(r.t[0].provider, "anthropic");
    CHECK_EQ_STR(r.t[0].model, "claude-haiku");
    CHECK(r.t[0].timeout_total == 5 && r.t[0].timeout_first_byte == 2);
    CHECK_EQ_INT(r.t[0].max_attempts, 2);

    lt_route(g, "list", &r);
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_STR(r.t[0].provider, "anthropic");
    CHECK_EQ_STR(r.t[0].model, "claude-sonnet");
    CHECK(r.t[1].provider == NULL);
    CHECK_EQ_STR(r.t[1].model, "gpt-4o");
    CHECK_EQ_STR(r.t[2].provider, "openai");
    CHECK(r.t[2].model == NULL);

    lt_route(g, "empty", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 0);
    lt_route(g, "other", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 0);

    lt_route(g, "badfield", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(strstr(r.msg, "policies/routing.lua: route: target 1: unknown field 'timout'") != NULL);
    lt_route(g, "badprov", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(strstr(r.msg, "unknown provider 'nope'") != NULL);
    lt_route(g, "number", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(strstr(r.msg, "not number") != NULL);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_no_hooks(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "empty.lua", "return {}\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    lt_result r;
    lt_route(g, "x", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_NO_HOOK);
    CHECK(!mg_lua_gen_has_hook(g, MG_LUA_HOOK_ROUTE));
    mg_lua_changes ch;
    mg_lua_target t = {0};
    CHECK_EQ_INT(mg_lua_before_upstream(g, &r.req, &t, "openai", &ch, NULL, 0), MG_LUA_NO_HOOK);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_load_errors(void)
{
    char err[MG_ERRLEN];
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "a.lua", "return { route = function() return 'gpt-4o' end }\n");
    lt_write(&d, "b.lua", "return {\n  route = function() return 'gpt-4o' end }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/b.lua") != NULL && strstr(err, "policies/a.lua") != NULL);
    CHECK(strstr(err, "route is already defined") != NULL);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "bad.lua", "local x = 1\nreturn { route = function( end }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strncmp(err, "policies/bad.lua:2:", 19) == 0);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "top.lua", "local t = nil\n\nreturn t.x\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strncmp(err, "policies/top.lua:3:", 19) == 0);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "typo.lua", "return { rout = function() end }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/typo.lua: unknown key 'rout'") != NULL);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "none.lua", "local x = 1\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/none.lua: must return a table (got nil)") != NULL);
    lt_dir_free(&d);

    lt_dir_init(&d);
    lt_write(&d, "chk.lua", "return { check = function() return false, 'no key set' end }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/chk.lua") != NULL && strstr(err, "check failed: no key set"));
    lt_dir_free(&d);

    lt_dir_init(&d); /* a loop at load time is stopped by the load budget */
    lt_write(&d, "spin.lua", "while true do end\n");
    mg_lua_limits lim;
    mg_lua_limits_default(&lim);
    lim.load_budget = 0.05;
    CHECK(lt_build_err(&d, &lim, err) == NULL);
    CHECK(strstr(err, "policies/spin.lua:1: exceeded its time budget") != NULL);
    lt_dir_free(&d);
}

static void test_named_defs_and_lists(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "10_a.lua",
             "return { alerts = { budget = { threshold = 1 } },\n"
             "  on_log = function(r) mg.shared.dict('t_order'):set('seq', 'a') end }\n");
    lt_write(&d, "20_b.lua",
             "return { alerts = { { name = 'errors', threshold = 2 } },\n"
             "  on_log = { function(r)\n"
             "    local d = mg.shared.dict('t_order'); d:set('seq', d:get('seq') .. 'b') end } }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lua_State *L = mg_lua_gen_state(g);
    mg_lua_gen_push_defs(g, "alerts");
    lua_getfield(L, -1, "budget");
    lua_getfield(L, -1, "threshold");
    CHECK_EQ_INT(lua_tointeger(L, -1), 1);
    lua_pop(L, 2);
    lua_getfield(L, -1, "errors");
    CHECK(lua_istable(L, -1));
    lua_pop(L, 2);
    mg_record *rec = mg_record_new();
    CHECK_EQ_INT(mg_lua_on_log(g, rec), 0);
    mg_shv v;
    CHECK_EQ_INT(mg_shared_get("t_order", "seq", &v), MG_OK);
    CHECK_EQ_STR(v.str, "ab");
    mg_shv_clear(&v);
    mg_record_free(rec);
    mg_lua_gen_release(g);
    lt_dir_free(&d);

    char err[MG_ERRLEN];
    lt_dir_init(&d);
    lt_write(&d, "a.lua", "return { insights = { slow = {} } }\n");
    lt_write(&d, "b.lua", "return { insights = { slow = {} } }\n");
    CHECK(lt_build_err(&d, NULL, err) == NULL);
    CHECK(strstr(err, "policies/b.lua: insights 'slow' is already defined in policies/a.lua"));
    lt_dir_free(&d);
}

static void test_runtime_errors(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "x.lua",
             "return { route = function(req)\n"
             "  if req.model == 'boom' then\n"
             "    error('boom')\n"
             "  end\n"
             "  local t = nil\n"
             "  return t.field\n"
             "end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    lt_result r;
    lt_route(g, "boom", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK_EQ_STR(r.msg, "policies/x.lua:3: boom");
    lt_route(g, "nil", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(strncmp(r.msg, "policies/x.lua:6: attempt to index", 34) == 0);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_refusals(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "gate.lua",
             "return { on_request = function(req)\n"
             "  if req.model == 'deny' then return mg.refuse(403, 'not for you') end\n"
             "  if req.model == 'slow' then return { status = 429, message = 'slow down' } end\n"
             "  if req.model == 'weird' then return true end\n"
             "  if req.model == 'badstatus' then return { status = 200 } end\n"
             "end }\n");
    lt_write(&d, "route.lua", "return { route = function(req) return 'gpt-4o' end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    lt_result r;
    lt_route(g, "deny", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_REFUSED);
    CHECK_EQ_INT(r.status, 403);
    CHECK_EQ_STR(r.msg, "not for you");
    lt_route(g, "slow", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_REFUSED);
    CHECK_EQ_INT(r.status, 429);
    lt_route(g, "weird", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(r.msg && strstr(r.msg, "policies/gate.lua: on_request: must return nil or a refusal"));
    lt_route(g, "badstatus", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    lt_route(g, "fine", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_INT(r.n, 1);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_req_fields(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "fields.lua",
             "local kept = {}\n"
             "return { route = function(req)\n"
             "  if req.model == 'lazy' then\n"
             "    local before = rawget(req, 'body')\n"
             "    local m = req.body.messages[1].content\n"
             "    local after = rawget(req, 'body')\n"
             "    kept.req = req\n"
             "    return (before == nil and after ~= nil) and m or 'eager'\n"
             "  end\n"
             "  if req.model == 'stale' then\n"
             "    return kept.req.body_raw == nil and kept.req.headers == nil and 'invalid' or 'dangling'\n"
             "  end\n"
             "  if req.model == 'scalars' then\n"
             "    return table.concat({ req.method, req.path, req.format, tostring(req.stream),\n"
             "      tostring(req.tokens_in), req.key, req.user, req.session, req.environment,\n"
             "      req.headers['x-multi'], req.headers['content-type'], req.id }, '|')\n"
             "  end\n"
             "  if req.model == 'json' then return mg.json.encode({ m = req.model }) end\n"
             "end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    lt_result r;
    const char *body = "{\"model\":\"lazy\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    lt_route_body(g, "lazy", body, strlen(body), &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "hi");
    lt_route(g, "stale", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "invalid");
    lt_route(g, "scalars", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL,
                 "POST|/v1/chat/completions|openai|true|1234|key1|user1|sess1|test|a, b|"
                 "application/json|req-1");
    lt_route(g, "json", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "{\"m\":\"json\"}");
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_sync_hooks(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "hooks.lua",
             "return {\n"
             "  before_upstream = function(req, target)\n"
             "    if target.model == 'bad' then return { headers = { ['x-a'] = 'line\\nbreak' } } end\n"
             "    if target.model == 'same' then return nil end\n"
             "    local b = req.body\n"
             "    b.model = target.provider .. ':' .. target.model .. ':' .. target.format\n"
             "    return { body = b, headers = { ['x-policy'] = '1', authorization = false } }\n"
             "  end,\n"
             "  on_response = function(req, res)\n"
             "    return { body = res.provider .. ' ' .. res.status .. ' ' .. res.body.id }\n"
             "  end,\n"
             "  classify_error = function(res)\n"
             "    if res.status == 400 then return { retry = false, breaker = false } end\n"
             "    if res.error == 'total_timeout' then return { retry = true } end\n"
             "    if res.status == 418 then error('teapot') end\n"
             "  end,\n"
             "}\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    mg_lua_req req = lt_req("gpt-4o", "{\"model\":\"x\"}");
    mg_lua_target t = {.provider = "openai", .model = "gpt-4o"};
    mg_lua_changes ch;
    char err[MG_ERRLEN];
    CHECK_EQ_INT(mg_lua_before_upstream(g, &req, &t, "openai", &ch, err, sizeof err), MG_LUA_OK);
    CHECK_EQ_STR(ch.body, "{\"model\":\"openai:gpt-4o:openai\"}");
    CHECK_EQ_INT(ch.nheaders, 2);
    for (size_t i = 0; i < ch.nheaders; i++) {
        if (strcmp(ch.headers[i].name, "x-policy") == 0)
            CHECK_EQ_STR(ch.headers[i].value, "1");
        else
            CHECK(strcmp(ch.headers[i].name, "authorization") == 0 && !ch.headers[i].value);
    }
    mg_lua_changes_free(&ch);
    t.model = "same";
    CHECK_EQ_INT(mg_lua_before_upstream(g, &req, &t, "openai", &ch, err, sizeof err), MG_LUA_OK);
    CHECK(ch.body == NULL && ch.nheaders == 0);
    t.model = "bad";
    CHECK_EQ_INT(mg_lua_before_upstream(g, &req, &t, "openai", &ch, err, sizeof err),
                 MG_LUA_ERROR);
    CHECK(strstr(err, "policies/hooks.lua: before_upstream: header 'x-a'") != NULL);
    CHECK(ch.body == NULL && ch.nheaders == 0);

    mg_lua_res res = {.status = 200, .body = "{\"id\":\"r1\"}", .body_len = 11,
                      .provider = "openai", .model = "gpt-4o"};
    CHECK_EQ_INT(mg_lua_on_response(g, &req, &res, &ch, err, sizeof err), MG_LUA_OK);
    CHECK_EQ_STR(ch.body, "openai 200 r1");
    mg_lua_changes_free(&ch);

    int retry = 1, breaker = 1;
    res.status = 400;
    CHECK_EQ_INT(mg_lua_classify_error(g, &res, &retry, &breaker, err, sizeof err), MG_LUA_OK);
    CHECK(retry == 0 && breaker == 0);
    retry = 0, breaker = 1;
    res.status = 0;
    res.error = "total_timeout";
    CHECK_EQ_INT(mg_lua_classify_error(g, &res, &retry, &breaker, err, sizeof err), MG_LUA_OK);
    CHECK(retry == 1 && breaker == 1);
    res.status = 418;
    res.error = NULL;
    CHECK_EQ_INT(mg_lua_classify_error(g, &res, &retry, &breaker, err, sizeof err),
                 MG_LUA_ERROR);
    CHECK(strstr(err, "policies/hooks.lua:15: teapot") != NULL);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_on_log_fields(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "log.lua",
             "return { on_log = function(r)\n"
             "  local names = {}\n"
             "  for k in pairs(r) do names[#names + 1] = k end\n"
             "  table.sort(names)\n"
             "  mg.shared.dict('t_log'):set('names', table.concat(names, ','))\n"
             "  mg.shared.dict('t_log'):set('model', r.model_requested)\n"
             "  mg.shared.dict('t_log'):set('tokens', r.tokens_total)\n"
             "end }\n");
    lt_write(&d, "log2.lua", "return { on_log = function(r) error('second fails') end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    mg_record *rec = mg_record_new();
    /* every TEXT field set, so every field name must appear */
    for (size_t i = 0; i < mg_record_nfields; i++)
        if (mg_record_fields[i].kind == MG_REC_TEXT)
            mg_record_set_text((char **)(void *)((char *)rec + mg_record_fields[i].offset), "v");
    mg_record_set_text(&rec->model_requested, "gpt-4o");
    rec->tokens_total = 321;
    CHECK_EQ_INT(mg_lua_on_log(g, rec), 1); /* log2.lua failed, log.lua ran */
    char expect[4096] = "";
    const char *names[256];
    size_t n = mg_record_nfields;
    for (size_t i = 0; i < n; i++)
        names[i] = mg_record_fields[i].name;
    for (size_t i = 0; i < n; i++) /* sort like table.sort (byte order) */
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                const char *tmp = names[i];
                names[i] = names[j];
                names[j] = tmp;
            }
    for (size_t i = 0; i < n; i++) {
        strcat(expect, names[i]);
        if (i + 1 < n)
            strcat(expect, ",");
    }
    mg_shv v;
    CHECK_EQ_INT(mg_shared_get("t_log", "names", &v), MG_OK);
    CHECK_EQ_STR(v.str, expect);
    mg_shv_clear(&v);
    CHECK_EQ_INT(mg_shared_get("t_log", "model", &v), MG_OK);
    CHECK_EQ_STR(v.str, "gpt-4o");
    mg_shv_clear(&v);
    CHECK_EQ_INT(mg_shared_get("t_log", "tokens", &v), MG_OK);
    CHECK(v.type == MG_SHV_NUM && v.num == 321);
    mg_record_free(rec);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_waits_and_cancel(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "wait.lua",
             "return { route = function(req)\n"
             "  local t0 = mg.time.monotonic()\n"
             "  if req.model == 'long' then mg.sleep(30) end\n"
             "  local ok, err = pcall(mg.sleep, 0.02)\n"
             "  if not ok then error(err) end\n"
             "  mg.sleep(0)\n"
             "  if mg.time.monotonic() - t0 < 0.015 then return 'too-fast' end\n"
             "  return 'gpt-4o'\n"
             "end,\n"
             "  before_upstream = function() mg.sleep(1) end }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lt_result r;
    lt_route(g, "short", &r); /* lt_route runs the loop until done */
    CHECK(r.was_pending);
    CHECK_EQ_INT(r.outcome, MG_LUA_OK);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "gpt-4o");

    int fired = lt_route_cancel(g, "long");
    CHECK_EQ_INT(fired, 0);

    mg_lua_req req = lt_req("x", NULL);
    mg_lua_target t = {.model = "x"};
    mg_lua_changes ch;
    char err[MG_ERRLEN];
    CHECK_EQ_INT(mg_lua_before_upstream(g, &req, &t, "openai", &ch, err, sizeof err),
                 MG_LUA_ERROR);
    CHECK(strstr(err, "policies/wait.lua:10: mg.sleep can only wait inside route/on_request"));
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_files_and_require(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "b.lua", "local cjson = require('cjson')\n"
                          "local ok = pcall(require, 'moongate.does_not_exist')\n"
                          "assert(not ok)\n"
                          "return { route = function() return cjson.encode({1}) end }\n");
    lt_write(&d, "a.lua", "return {}\n");
    lt_write(&d, ".hidden.lua", "syntax error here\n");
    lt_write(&d, "notes.txt", "not lua\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    size_t n;
    const mg_lua_file *f = mg_lua_gen_files(g, &n);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(f[0].name, "a.lua");
    CHECK_EQ_STR(f[1].name, "b.lua");
    CHECK_EQ_INT(f[0].size, 10);
    /* sha256("return {}\n") */
    CHECK_EQ_STR(f[0].sha256, "1232d8379de77e154ca533689af2e42629dd7574bda5a0a390799849f07607c3");
    CHECK(mg_lua_gen_load_ms(g) > 0);
    CHECK_EQ_INT(mg_lua_gen_number(g), 7);
    CHECK_EQ_STR(mg_lua_gen_hook_file(g, MG_LUA_HOOK_ROUTE), "policies/b.lua");
    lt_result r;
    lt_route(g, "x", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : NULL, "[1]");
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}


typedef struct generic_result {
    mg_lua_gen *g;
    int n; /* -1 until done; 100 when the results were (7, "slept") */
} generic_result;

static void generic_done(mg_lua_call *c, void *ud)
{
    generic_result *res = ud;
    int *n = &res->n;
    lua_State *L = mg_lua_gen_state(res->g);
    int top = lua_gettop(L);
    *n = mg_lua_call_push_results(c);
    if (*n == 2 && lua_tointeger(L, -2) == 7 && strcmp(lua_tostring(L, -1), "slept") == 0)
        *n = 100;
    lua_settop(L, top);
    mg_lua_call_free(c);
}

/* What alerts/insights/crosstalk use: definitions, pcall, waiting calls. */
static void test_generic_calls(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "defs.lua",
             "return { insights = { nap = { run = function(x) mg.sleep(0.01) return x + 1, 'slept' end },\n"
             "                      add = { run = function(a, b) return a + b end },\n"
             "                      spin = { run = function() while true do end end } } }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lua_State *L = mg_lua_gen_state(g);
    char err[MG_ERRLEN];
    int top = lua_gettop(L);
    mg_lua_gen_push_defs(g, "insights");
    lua_getfield(L, -1, "add");
    lua_getfield(L, -1, "run");
    lua_pushinteger(L, 2);
    lua_pushinteger(L, 3);
    CHECK_EQ_INT(mg_lua_gen_pcall(g, 2, 1, 0, err, sizeof err), MG_OK);
    CHECK_EQ_INT(lua_tointeger(L, -1), 5);
    lua_settop(L, top);

    mg_lua_gen_push_defs(g, "insights");
    lua_getfield(L, -1, "spin");
    lua_getfield(L, -1, "run");
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    CHECK_EQ_INT(mg_lua_gen_pcall(g, 0, 1, 0.02, err, sizeof err), MG_ERR);
    CHECK(strstr(err, "policies/defs.lua:3: exceeded its time budget of 20 ms") != NULL);
    CHECK_EQ_INT(lua_gettop(L), top);

    mg_lua_gen_push_defs(g, "insights");
    lua_getfield(L, -1, "nap");
    lua_getfield(L, -1, "run");
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    lua_pushinteger(L, 6);
    generic_result res = {g, -1};
    mg_lua_call *c = mg_lua_call_start(g, 1, 0, generic_done, &res);
    CHECK(c != NULL);
    CHECK_EQ_INT(lua_gettop(L), top);
    double until = mg_now_mono() + 5;
    while (res.n < 0 && mg_now_mono() < until)
        ev_run(lt_loop(), EVRUN_ONCE);
    CHECK_EQ_INT(res.n, 100);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

/* Route coroutines are reused once they return: whatever ran before (a
 * normal return, an error, a timeout that left a coroutine mid-loop) must
 * not leak into the next call. Policies cannot see host coroutines
 * (coroutine.running() is nil there), so reuse is invisible to them. */
static void test_coroutine_reuse(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "x.lua",
             "local depth = 0\n"
             "return { route = function(req)\n"
             "  if req.model == 'boom' then error('boom') end\n"
             "  if req.model == 'spin' then while true do end end\n"
             "  assert(coroutine.running() == nil, 'host coroutine visible')\n"
             "  depth = depth + 1\n"
             "  return 'openai/' .. req.model\n"
             "end }\n");
    mg_lua_limits lim;
    mg_lua_limits_default(&lim);
    lim.hook_budget = 0.02;
    mg_lua_gen *g = lt_build(&d, &lim);
    lt_result r;
    const char *order[] = {"a", "boom", "b", "spin", "c", "d", "boom", "e"};
    for (int round = 0; round < 100; round++) {
        for (size_t i = 0; i < MG_ARRAY_LEN(order); i++) {
            if (round > 0 && strcmp(order[i], "spin") == 0)
                continue; /* one timeout is enough; each costs the budget */
            lt_route(g, order[i], &r);
            if (strcmp(order[i], "boom") == 0 || strcmp(order[i], "spin") == 0) {
                CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
                continue;
            }
            CHECK_EQ_INT(r.outcome, MG_LUA_OK);
            CHECK_EQ_INT(r.n, 1);
            if (r.n != 1)
                continue;
            CHECK_EQ_STR(r.t[0].provider, "openai");
            CHECK_EQ_STR(r.t[0].model, order[i]);
        }
    }
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

TEST_MAIN(T(test_route_forms), T(test_no_hooks), T(test_load_errors),
          T(test_named_defs_and_lists), T(test_runtime_errors), T(test_refusals),
          T(test_req_fields), T(test_sync_hooks), T(test_on_log_fields),
          T(test_waits_and_cancel), T(test_files_and_require), T(test_generic_calls),
          T(test_coroutine_reuse))
