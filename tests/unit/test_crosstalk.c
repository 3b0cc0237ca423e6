/* test_crosstalk.c — the crosstalk host parts that run without a gateway:
 * the Lua bridge in a real policy generation (preset source and JSON,
 * planned turns and their request bodies, file:line errors, the preset
 * sandbox, runaway presets and paradigms stopped by the deadline, user
 * paradigms from policies/), and the database side (rows written in order
 * by the crosstalk thread, the admin reads, sessions left running by a
 * crash marked interrupted, preset files). */
#include <jansson.h>
#include <lua.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crosstalk/ct-t.h"
#include "lua/host.h"
#include "lua_test_util.h"
#include "store/store.h"
#include "test.h"

static const char relay_src[] =
    "-- a relay for the test\n"
    "return {\n"
    "  name = 'pair',\n"
    "  prompt = 'Is water wet?',\n"
    "  participants = {\n"
    "    { id = 'a', model = 'gpt-4o-mini', template = 'skeptic', headers = { ['X-Mock-Echo'] = '1' } },\n"
    "    { id = 'b', model = 'mock/mock-small', system = 'You are brief.', max_tokens = 77 },\n"
    "  },\n"
    "  topology = 'ring', paradigm = 'relay', rounds = 2, budget_usd = 0.5,\n"
    "}\n";

static int create(mg_lua_gen *g, const char *file, const char *src, int kind, int *ref,
                  ct_info *info, char *err)
{
    ct_create in = {.kind = kind, .text = src, .len = strlen(src), .file = file,
                    .id = "0123456789abcdef0123456789abcdef", .budget_usd = -1};
    return ct_lua_create(g, &in, ref, info, err, 512);
}

static void test_lua_session_flow(void)
{
    lt_dir d;
    lt_dir_init(&d);
    mg_lua_gen *g = lt_build(&d, NULL);
    CHECK(g != NULL);
    if (!g)
        return;
    lua_State *L = mg_lua_gen_state(g);
    int top = lua_gettop(L);
    int ref;
    ct_info info;
    char err[512] = "";
    CHECK_EQ_INT(create(g, "pair.lua", relay_src, CT_SRC_LUA, &ref, &info, err), MG_OK);
    if (err[0])
        fprintf(stderr, "%s\n", err);
    CHECK_EQ_STR(info.name, "pair");
    CHECK_EQ_STR(info.paradigm, "relay");
    CHECK_EQ_STR(info.topology, "ring");
    CHECK_EQ_INT(info.rounds, 2);
    CHECK_EQ_INT(info.planned_turns, 4);
    CHECK(info.budget_usd == 0.5);
    CHECK(strstr(info.config_json, "\"speakers\":[\"a\",\"b\"]") != NULL);
    const char *order[] = {"a", "b", "a", "b"};
    for (int k = 0; k < 4; k++) {
        ct_plan p;
        char reason[64];
        CHECK_EQ_INT(ct_lua_next(g, ref, &p, reason, sizeof reason, err, sizeof err), 1);
        CHECK_EQ_STR(p.speaker, order[k]);
        CHECK_EQ_INT(p.round, k / 2 + 1);
        CHECK_EQ_INT(p.index, k % 2 + 1);
        CHECK_EQ_INT(p.turns_in_round, 2);
        CHECK_EQ_STR(p.hears_json, k % 2 ? "[\"a\"]" : "[\"b\"]");
        CHECK_EQ_STR(p.to_json, k % 2 ? "[\"a\"]" : "[\"b\"]");
        json_t *body = json_loadb(p.body, p.body_len, 0, NULL);
        CHECK(json_is_true(json_object_get(body, "stream")));
        CHECK(json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage")));
        CHECK_EQ_INT(json_integer_value(json_object_get(body, "max_tokens")), k % 2 ? 77 : 400);
        CHECK_EQ_STR(json_string_value(json_object_get(body, "model")),
                     k % 2 ? "mock/mock-small" : "gpt-4o-mini");
        const char *user = json_string_value(
            json_object_get(json_array_get(json_object_get(body, "messages"), 1), "content"));
        CHECK(user && strstr(user, "Topic: Is water wet?"));
        if (k == 1)
            CHECK(user && strstr(user, "a passed you this:\n\nreply 0"));
        json_decref(body);
        CHECK_EQ_INT(p.nheaders, k % 2 ? 0 : 1);
        if (p.nheaders) {
            CHECK_EQ_STR(p.headers[0].name, "x-mock-echo");
            CHECK_EQ_STR(p.headers[0].value, "1");
        }
        /* Asking again before the reply returns the same turn (a retry). */
        ct_plan again;
        CHECK_EQ_INT(ct_lua_next(g, ref, &again, reason, sizeof reason, err, sizeof err), 1);
        CHECK_EQ_INT(again.seq, p.seq);
        ct_plan_free(&again);
        char reply[32];
        snprintf(reply, sizeof reply, "reply %d", k);
        int round_done = -1;
        CHECK_EQ_INT(ct_lua_commit(g, ref, reply, strlen(reply), &round_done, err, sizeof err), MG_OK);
        CHECK_EQ_INT(round_done, k % 2);
        ct_plan_free(&p);
    }
    ct_plan p;
    char reason[64] = "";
    CHECK_EQ_INT(ct_lua_next(g, ref, &p, reason, sizeof reason, err, sizeof err), 0);
    CHECK_EQ_STR(reason, "rounds");
    CHECK_EQ_INT(lua_gettop(L), top); /* the bridge leaves the stack as it found it */
    ct_lua_release(g, ref);
    ct_info_free(&info);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_lua_json_preset_and_overrides(void)
{
    lt_dir d;
    lt_dir_init(&d);
    mg_lua_gen *g = lt_build(&d, NULL);
    if (!g)
        return;
    const char *json = "{\"prompt\":\"x\",\"rounds\":9,\"participants\":[{\"id\":\"a\",\"model\":"
                       "\"gpt-4o\"},{\"id\":\"b\",\"model\":\"gpt-4o\"}],\"topology\":{\"name\":"
                       "\"star\",\"center\":\"b\"},\"paradigm\":\"relay\"}";
    ct_create in = {.kind = CT_SRC_JSON, .text = json, .len = strlen(json), .file = "api",
                    .id = "x", .rounds = 3, .budget_usd = 0.25};
    int ref;
    ct_info info;
    char err[512] = "";
    CHECK_EQ_INT(ct_lua_create(g, &in, &ref, &info, err, sizeof err), MG_OK);
    CHECK_EQ_INT(info.rounds, 3);
    CHECK(info.budget_usd == 0.25);
    CHECK_EQ_STR(info.name, "api");
    ct_plan p;
    char reason[64];
    CHECK_EQ_INT(ct_lua_next(g, ref, &p, reason, sizeof reason, err, sizeof err), 1);
    CHECK_EQ_STR(p.speaker, "b"); /* the centre speaks first */
    ct_plan_free(&p);
    ct_lua_release(g, ref);
    ct_info_free(&info);
    CHECK_EQ_INT(create(g, "api", "{not json", CT_SRC_JSON, &ref, &info, err), MG_ERR);
    CHECK(strncmp(err, "api: not JSON", 13) == 0);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_lua_errors_name_file_and_line(void)
{
    lt_dir d;
    lt_dir_init(&d);
    mg_lua_gen *g = lt_build(&d, NULL);
    if (!g)
        return;
    int ref;
    ct_info info;
    char err[512];
    const char *bad = "return {\n  prompt = 'x', topology = 'ring', paradigm = 'relay',\n"
                      "  participants = {\n    { id = 'a', model = 'm', max_tokens = -4 },\n  },\n}\n";
    CHECK_EQ_INT(create(g, "bad.lua", bad, CT_SRC_LUA, &ref, &info, err), MG_ERR);
    CHECK_EQ_STR(err, "bad.lua:4: participants[1].max_tokens: expected an integer from 1 to 32768, got -4");
    CHECK_EQ_INT(create(g, "syn.lua", "return {\n  prompt = 'x',,\n}", CT_SRC_LUA, &ref, &info, err),
                 MG_ERR);
    CHECK(strncmp(err, "syn.lua:2:", 10) == 0);
    CHECK_EQ_INT(create(g, "p.lua", "return { prompt = 'x', participants = { { id = 'a', model = 'm' } },"
                                    " topology = 'ring', paradigm = 'gossip' }",
                        CT_SRC_LUA, &ref, &info, err),
                 MG_ERR);
    CHECK(strstr(err, "unknown paradigm \"gossip\"") != NULL);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_preset_sandbox(void)
{
    lt_dir d;
    lt_dir_init(&d);
    mg_lua_gen *g = lt_build(&d, NULL);
    if (!g)
        return;
    char marker[128], src[512], err[512];
    snprintf(marker, sizeof marker, "%s/escaped", d.root);
    const char *tries[] = {
        "os.execute('touch %s')", "io.open('%s', 'w'):write('x')", "load('return 1')",
        "loadstring('return 1')", "require('os')", "dofile('%s')", "package.loaded.os",
        "getmetatable('').__index.rep('x', 1)", "debug.getinfo(1)", "mg.log.info('x')",
        "require('moongate.crosstalk.util').name = nil", "string.dump(function() end)",
    };
    /* Each would be a valid preset if its first line ran: it must not. */
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        char code[256];
        snprintf(code, sizeof code, tries[i], marker);
        snprintf(src, sizeof src,
                 "local x = %s\nreturn { prompt = 'x', participants = { { id = 'a', model = 'm' } },"
                 " topology = 'chain', paradigm = 'relay', rounds = 1 }", code);
        int ref;
        ct_info info;
        int rc = create(g, "esc.lua", src, CT_SRC_LUA, &ref, &info, err);
        CHECK_EQ_INT(rc, MG_ERR);
        if (rc == MG_OK) {
            fprintf(stderr, "sandbox let through: %s\n", code);
            ct_lua_release(g, ref);
            ct_info_free(&info);
        } else {
            CHECK(strncmp(err, "esc.lua:1: ", 11) == 0 || strstr(err, "may require only"));
        }
    }
    CHECK(access(marker, F_OK) != 0);
    /* The helpers a preset may use are there. */
    int ref;
    ct_info info;
    const char *ok = "local u = require('moongate.crosstalk.util')\n"
                     "local t = require('moongate.crosstalk.templates')\n"
                     "assert(type(u.heard) == 'function' and t.skeptic)\n"
                     "return { prompt = string.rep('x', 3), participants = { { id = 'a', model = 'm' } },"
                     " topology = 'chain', paradigm = 'relay', rounds = 1 }";
    CHECK_EQ_INT(create(g, "ok.lua", ok, CT_SRC_LUA, &ref, &info, err), MG_OK);
    ct_lua_release(g, ref);
    ct_info_free(&info);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_runaway_code_is_stopped(void)
{
    lt_dir d;
    lt_dir_init(&d);
    mg_lua_gen *g = lt_build(&d, NULL);
    if (!g)
        return;
    int ref;
    ct_info info;
    char err[512];
    double t0 = mg_now_mono();
    CHECK_EQ_INT(create(g, "loop.lua", "local n = 0\nwhile true do n = n + 1 end", CT_SRC_LUA,
                        &ref, &info, err),
                 MG_ERR);
    CHECK(mg_now_mono() - t0 < 3.0);
    CHECK(strstr(err, "time budget") != NULL);
    const char *slow = "return { prompt = 'x', participants = { { id = 'a', model = 'm' } },\n"
                       "  topology = 'chain', rounds = 2,\n"
                       "  paradigm = { name = 'spin', messages = function(s, t)\n"
                       "    local i = 0\n    while true do i = i + 1 end\n  end } }";
    CHECK_EQ_INT(create(g, "spin.lua", slow, CT_SRC_LUA, &ref, &info, err), MG_OK);
    ct_plan p;
    char reason[64];
    t0 = mg_now_mono();
    CHECK_EQ_INT(ct_lua_next(g, ref, &p, reason, sizeof reason, err, sizeof err), -1);
    CHECK(mg_now_mono() - t0 < 2.0);
    CHECK(strstr(err, "spin.lua:5:") != NULL);
    ct_lua_release(g, ref);
    ct_info_free(&info);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

static void test_user_paradigm_from_policies(void)
{
    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "shout.lua",
             "return { paradigms = { shout = { messages = function(s, t)\n"
             "  return { { role = 'user', content = 'SHOUT ' .. t.speaker } } end } },\n"
             "  topologies = { solo = function(speakers) return { { speaker = speakers[1] } } end } }\n");
    mg_lua_gen *g = lt_build(&d, NULL);
    if (!g)
        return;
    int ref;
    ct_info info;
    char err[512] = "";
    const char *src = "return { prompt = 'x', participants = { { id = 'a', model = 'm' }, "
                      "{ id = 'b', model = 'm' } }, topology = 'solo', paradigm = 'shout', rounds = 1 }";
    CHECK_EQ_INT(create(g, "u.lua", src, CT_SRC_LUA, &ref, &info, err), MG_OK);
    ct_plan p;
    char reason[64];
    CHECK_EQ_INT(ct_lua_next(g, ref, &p, reason, sizeof reason, err, sizeof err), 1);
    CHECK(strstr(p.body, "SHOUT a") != NULL);
    CHECK_EQ_STR(info.paradigm, "shout");
    CHECK_EQ_STR(info.topology, "solo");
    ct_plan_free(&p);
    ct_lua_release(g, ref);
    ct_info_free(&info);
    mg_lua_gen_release(g);
    lt_dir_free(&d);
}

/* ---- database side ---------------------------------------------------------- */

typedef struct db_env {
    lt_dir d;
    char db[160];
    mg_config cfg;
    mg_cfg_ref ref;
    mg_gateway gw;
} db_env;

static int db_env_init(db_env *e)
{
    memset(e, 0, sizeof *e);
    lt_dir_init(&e->d);
    snprintf(e->db, sizeof e->db, "%s/ct.db", e->d.root);
    char schema[512], err[MG_ERRLEN];
    snprintf(schema, sizeof schema, "%s/schema", lt_home());
    sqlite3 *db;
    if (sqlite3_open(e->db, &db) != SQLITE_OK || mg_store_migrate(db, schema, err) < 0) {
        fprintf(stderr, "migrate: %s\n", err);
        sqlite3_close(db);
        return MG_ERR;
    }
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    sqlite3_close(db);
    e->cfg.db = e->db;
    e->ref.cfg = &e->cfg;
    atomic_init(&e->ref.refs, 1);
    e->gw.cfg = &e->ref;
    e->gw.home = (char *)lt_home();
    return MG_OK;
}

static void fake_session(ct_session *s, mg_crosstalk *ct, mg_wgen *gen, const char *id)
{
    memset(s, 0, sizeof *s);
    s->ct = ct;
    s->gen = gen;
    snprintf(s->id, sizeof s->id, "%s", id);
    s->info.name = "pair";
    s->info.paradigm = "debate";
    s->info.topology = "mesh";
    s->info.prompt = "Is water wet?";
    s->info.config_json = "{\"participants\":[]}";
    s->info.rounds = 3;
    s->info.budget_usd = -1;
    s->state = MG_CT_RUNNING;
    s->created_ms = 1000;
}

static void add_turn(ct_session *s, int round, int index, const char *speaker, const char *model,
                     double cost, const char *status)
{
    ct_turn t;
    memset(&t, 0, sizeof t);
    s->plan.round = round;
    s->plan.index = index;
    s->plan.speaker = (char *)speaker;
    s->plan.model = (char *)model;
    s->plan.hears_json = "[\"x\"]";
    s->plan.to_json = "[]";
    t.out.ok = strcmp(status, "success") == 0;
    snprintf(t.out.status, sizeof t.out.status, "%s", status);
    snprintf(t.out.model_routed, sizeof t.out.model_routed, "%s", model);
    snprintf(t.out.error, sizeof t.out.error, "boom");
    t.out.cost = cost;
    t.out.tokens_in = 10;
    t.out.tokens_out = 20;
    t.out.duration_ms = 100;
    ct_row_event(s, &t);
    if (t.out.ok)
        ct_row_message(s, "participant", speaker, speaker, model, round, index, "hello", 5);
    s->cost += cost;
    s->requests++;
}

static json_t *read_json(int (*fn)(sqlite3 *, const char *, mg_buf *, int *), const char *path,
                         const char *arg, int *status)
{
    sqlite3 *db;
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    mg_buf out = {0};
    fn(db, arg, &out, status);
    sqlite3_close(db);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    mg_buf_free(&out);
    return j;
}

static int stats_adapter(sqlite3 *db, const char *arg, mg_buf *out, int *status)
{
    (void)arg;
    return ct_read_stats(db, out, status);
}

static void test_rows_and_reads(void)
{
    db_env e;
    if (db_env_init(&e) != MG_OK) {
        CHECK(0);
        return;
    }
    char err[MG_ERRLEN];
    mg_crosstalk *ct = mg_crosstalk_new(&e.gw, err);
    CHECK(ct != NULL);
    if (!ct)
        return;
    mg_wgen gen = {.refs = 1, .number = 42};
    ct_session s;
    const char *id = "0123456789abcdef0123456789abcdef";
    fake_session(&s, ct, &gen, id);
    ct_row_insert(&s);
    ct_row_message(&s, "prompt", NULL, "prompt", NULL, 0, 0, "Is water wet?", 13);
    add_turn(&s, 1, 1, "ada", "gpt-4o", 0.25, "success");
    add_turn(&s, 1, 2, "basil", "claude", 0.5, "error");
    add_turn(&s, 1, 2, "basil", "claude", 0.125, "success");
    add_turn(&s, 2, 1, "ada", "gpt-4o", 0.0625, "cancelled");
    s.state = MG_CT_STOPPED;
    s.rounds_done = 1;
    s.turns_done = 2;
    snprintf(s.reason, sizeof s.reason, "operator");
    s.ended_ms = 2000;
    ct_row_update(&s);
    mg_crosstalk_free(ct); /* every queued write lands first */

    int status;
    json_t *j = read_json(ct_read_session, e.db, id, &status);
    CHECK_EQ_INT(status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "state")), "stopped");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "reason")), "operator");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "policy_generation")), 42);
    CHECK(json_real_value(json_object_get(j, "cost")) == 0.9375);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "transcript")), 3);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "events")), 4);
    CHECK(json_is_array(json_object_get(json_array_get(json_object_get(j, "events"), 0), "heard")));
    CHECK(json_is_object(json_object_get(j, "config")));
    json_t *rounds = json_object_get(j, "by_round");
    CHECK_EQ_INT(json_array_size(rounds), 2);
    CHECK(json_real_value(json_object_get(json_array_get(rounds, 0), "cost")) == 0.875);
    json_t *models = json_object_get(j, "by_model");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(models, 0), "model")), "claude");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(models, 0), "requests")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(models, 0), "turns")), 1);
    json_decref(j);

    j = read_json(ct_read_session, e.db, "ffffffffffffffffffffffffffffffff", &status);
    CHECK_EQ_INT(status, 404);
    json_decref(j);
    j = read_json(ct_read_list, e.db, "state=st%6Fpped&limit=5", &status);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "sessions")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "limit")), 5);
    json_decref(j);
    j = read_json(ct_read_list, e.db, "paradigm=relay", &status);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "sessions")), 0);
    json_decref(j);
    j = read_json(stats_adapter, e.db, NULL, &status);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "sessions")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "turns")), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(j, "by_paradigm"), 0), "paradigm")),
                 "debate");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "by_model")), 2);
    json_decref(j);
    lt_dir_free(&e.d);
}

static void test_unfinished_sessions_are_interrupted_at_start(void)
{
    db_env e;
    if (db_env_init(&e) != MG_OK) {
        CHECK(0);
        return;
    }
    sqlite3 *db;
    sqlite3_open(e.db, &db);
    sqlite3_exec(db,
                 "INSERT INTO crosstalk_sessions (id, preset, paradigm, topology, config_json, state,"
                 " created_ms) VALUES ('a', 'p', 'relay', 'ring', '{}', 'running', 1),"
                 " ('b', 'p', 'relay', 'ring', '{}', 'paused', 1),"
                 " ('c', 'p', 'relay', 'ring', '{}', 'finished', 1)",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    char err[MG_ERRLEN];
    mg_crosstalk *ct = mg_crosstalk_new(&e.gw, err);
    CHECK(ct != NULL);
    mg_crosstalk_free(ct);
    sqlite3_open(e.db, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT group_concat(id || ':' || state || ':' || COALESCE(reason, '-'), ' ')"
                           " FROM (SELECT * FROM crosstalk_sessions ORDER BY id)", -1, &st, NULL);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0),
                 "a:interrupted:restart b:interrupted:restart c:finished:-");
    sqlite3_finalize(st);
    sqlite3_close(db);
    lt_dir_free(&e.d);
}

static void test_missing_tables_are_reported(void)
{
    lt_dir d;
    lt_dir_init(&d);
    char path[160], err[MG_ERRLEN] = "";
    snprintf(path, sizeof path, "%s/empty.db", d.root);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_close(db);
    mg_config cfg = {.db = path};
    mg_cfg_ref ref = {.cfg = &cfg};
    mg_gateway gw = {.cfg = &ref, .home = (char *)lt_home()};
    CHECK(mg_crosstalk_new(&gw, err) == NULL);
    CHECK(strstr(err, "006_crosstalk.sql") != NULL);
    lt_dir_free(&d);
}

static void test_preset_files(void)
{
    char *text = NULL, err[256];
    size_t len = 0;
    int status = 0;
    CHECK_EQ_INT(ct_read_preset_file(lt_home(), "debate", &text, &len, &status, err, sizeof err),
                 MG_OK);
    CHECK(text && strstr(text, "paradigm = { \"debate\"") != NULL);
    free(text);
    CHECK_EQ_INT(ct_read_preset_file(lt_home(), "debate.lua", &text, &len, &status, err, sizeof err),
                 MG_OK);
    free(text);
    const char *bad[] = {"../demo", "", "a/b", "x.y", ".."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(ct_read_preset_file(lt_home(), bad[i], &text, &len, &status, err, sizeof err),
                     MG_ERR);
        CHECK_EQ_INT(status, 400);
    }
    CHECK_EQ_INT(ct_read_preset_file(lt_home(), "nope", &text, &len, &status, err, sizeof err),
                 MG_ERR);
    CHECK_EQ_INT(status, 404);
    mg_buf out = {0};
    CHECK_EQ_INT(ct_read_presets(lt_home(), &out, &status), MG_OK);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    json_t *list = json_object_get(j, "presets");
    CHECK_EQ_INT(json_array_size(list), 5);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(list, 0), "name")), "debate");
    CHECK(strstr(json_string_value(json_object_get(json_array_get(list, 0), "description")),
                 "argue") != NULL);
    json_decref(j);
    mg_buf_free(&out);
}

static void test_state_names(void)
{
    CHECK_EQ_STR(mg_ct_state_name(MG_CT_STEPPING), "stepping");
    CHECK_EQ_STR(mg_ct_state_name(MG_CT_INTERRUPTED), "interrupted");
    CHECK_EQ_STR(mg_ct_state_name(99), "unknown");
    CHECK(!mg_ct_state_is_final(MG_CT_PAUSED));
    CHECK(mg_ct_state_is_final(MG_CT_FAILED));
    mg_crosstalk_attach(NULL, NULL); /* every entry point takes NULL */
    mg_crosstalk_drain(NULL, NULL);
    mg_crosstalk_detach(NULL, NULL);
    mg_crosstalk_free(NULL);
}

TEST_MAIN(T(test_lua_session_flow), T(test_lua_json_preset_and_overrides),
          T(test_lua_errors_name_file_and_line), T(test_preset_sandbox),
          T(test_runaway_code_is_stopped), T(test_user_paradigm_from_policies),
          T(test_rows_and_reads), T(test_unfinished_sessions_are_interrupted_at_start),
          T(test_missing_tables_are_reported), T(test_preset_files), T(test_state_names))
