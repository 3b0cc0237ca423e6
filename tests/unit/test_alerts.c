/* test_alerts.c — the alert engine's logic: the metrics ring (sums,
 * percentiles, filters, groups, the hour slots), rule parsing, the state
 * machine (fires once per cooldown, resolves, flapping, mute) and whole
 * evaluation passes on a real engine (temporary database, live hub):
 * min_samples, grouping, notifications counted on the live stream, and
 * the history rows. */
#include <ev.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/alerts/al-t.h"
#include "../../src/live/live-t.h"
#include "../../src/store/store.h"
#include "test.h"

static mg_record *rec(const char *provider, const char *status, double duration, double cost)
{
    mg_record *r = mg_record_new();
    mg_record_set_text(&r->provider, provider);
    mg_record_set_text(&r->status, status);
    mg_record_set_text(&r->model_requested, "gpt-4o");
    mg_record_set_text(&r->model_routed, strcmp(provider, "cheap") ? "gpt-4o" : "gpt-4o-mini");
    r->duration_ms = duration;
    r->cost = cost;
    r->tokens_input = 100;
    r->tokens_cached_read = 25;
    r->tokens_total = 150;
    return r;
}

static void add(mg_al_ring *ring, const char *provider, const char *status, double duration,
                double cost, int64_t at)
{
    mg_record *r = rec(provider, status, duration, cost);
    mg_al_ring_add(ring, r, at);
    mg_record_free(r);
}

static double q(mg_al_ring *ring, int agg, const char *field, double window, double pct,
                const mg_al_filter *f, size_t nf, int64_t now, uint64_t *n, int *rc)
{
    mg_al_query qq = {.agg = agg, .num = field ? mg_al_num_of(field) : -1, .window = window,
                      .q = pct, .filters = f, .nfilters = nf};
    double v = -1;
    uint64_t samples = 0;
    *rc = mg_al_ring_query(ring, &qq, now, &v, &samples);
    if (n)
        *n = samples;
    return v;
}

static void test_ring_sums_and_percentiles(void)
{
    mg_al_ring *ring = mg_al_ring_new(1000);
    int64_t now = 1700000000000LL;
    for (int i = 1; i <= 100; i++)
        add(ring, "openai", i % 10 == 0 ? "error" : "success", (double)i, 0.01, now - 1000);
    add(ring, "anthropic", "success", 5000, 1.0, now);
    int rc;
    uint64_t n;
    double v = q(ring, MG_AL_SUM, "cost", 60, 0, NULL, 0, now, &n, &rc);
    CHECK(rc == MG_OK && n == 101 && v > 1.999 && v < 2.001);
    mg_al_filter openai = {"provider", "openai"};
    v = q(ring, MG_AL_PCT, "duration_ms", 60, 95, &openai, 1, now, &n, &rc);
    CHECK(rc == MG_OK && n == 100 && v == 95.0); /* nearest rank */
    v = q(ring, MG_AL_ERRORS, NULL, 60, 0, &openai, 1, now, &n, &rc);
    CHECK_EQ_INT((long)v, 10);
    v = q(ring, MG_AL_AVG, "duration_ms", 60, 0, &openai, 1, now, &n, &rc);
    CHECK(v == 50.5);
    mg_al_filter nobody = {"provider", "nobody"};
    q(ring, MG_AL_AVG, "duration_ms", 60, 0, &nobody, 1, now, &n, &rc);
    CHECK(rc == MG_ERR && n == 0); /* nothing to average */
    v = q(ring, MG_AL_COUNT, NULL, 60, 0, &nobody, 1, now, &n, &rc);
    CHECK(rc == MG_OK && v == 0);
    /* the window excludes what is older */
    v = q(ring, MG_AL_COUNT, NULL, 1, 0, NULL, 0, now, &n, &rc);
    CHECK_EQ_INT((long)v, 1);
    mg_al_filter bad = {"endpoint", "/v1/x"};
    q(ring, MG_AL_COUNT, NULL, 60, 0, &bad, 1, now, &n, &rc);
    CHECK(rc == MG_ERR); /* a text field the ring does not keep */
    char **groups;
    size_t ng = mg_al_ring_groups(ring, MG_AL_L_PROVIDER, 60, NULL, 0, now, 10, &groups);
    CHECK_EQ_INT(ng, 2);
    mg_al_strings_free(groups, ng);
    mg_al_ring_free(ring);
}

static void test_ring_hours(void)
{
    mg_al_ring *ring = mg_al_ring_new(100);
    int64_t now = 1700000000000LL;
    int64_t hour = (now / 3600000) * 3600000;
    double sums[MG_AL_MAX_NUM] = {0};
    sums[mg_al_num_of("cost")] = 10.0;
    const char *labels[MG_AL_NLABELS] = {"openai"};
    mg_al_ring_seed_hour(ring, hour - 5 * 3600000LL, labels, 20, 2, sums);
    int rc;
    uint64_t n;
    /* 6 hours back covers the seeded hour whole; 1 hour does not see it */
    double v = q(ring, MG_AL_SUM, "cost", 6 * 3600, 0, NULL, 0, now, &n, &rc);
    CHECK(v > 9.999 && v < 10.001 && n == 20);
    v = q(ring, MG_AL_SUM, "cost", 3600, 0, NULL, 0, now, &n, &rc);
    CHECK(v == 0);
    mg_al_ring_free(ring);
}

/* Windows read seconds (last 5 min), then minutes (last hour), then hours:
 * one record a minute for 3 hours, each costing 1, is counted exactly by
 * windows that end on tier boundaries and within one record elsewhere. The
 * samples ring is kept tiny so the totals come from the slots. */
static void test_ring_tiers(void)
{
    mg_al_ring *ring = mg_al_ring_new(1);
    int64_t now = 1700000000000LL - 1700000000000LL % 3600000 + 30 * 60000; /* hh:30:00 */
    for (int m = 179; m >= 0; m--) /* oldest first, as time runs */
        add(ring, m % 2 ? "openai" : "anthropic", "success", 10, 1.0, now - m * 60000LL - 500);
    int rc;
    uint64_t n;
    const struct { double window, lo, hi; } cases[] = {
        {60, 1, 1},            /* seconds only */
        {300, 5, 5},           /* seconds, whole */
        {301, 5, 6},           /* into the minutes */
        {30 * 60, 30, 30},     /* minutes, on a boundary */
        {45 * 60 + 20, 45, 46},
        {3600, 60, 60},        /* the whole minute tier */
        {2 * 3600, 119, 121},  /* into the hours (prorated) */
        /* The oldest hour is prorated as if its records were spread
         * evenly; here they began half-way through it: 29 records, half
         * counted. */
        {3 * 3600, 164, 165},
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
        double v = q(ring, MG_AL_SUM, "cost", cases[i].window, 0, NULL, 0, now, &n, &rc);
        if (!(rc == MG_OK && v >= cases[i].lo - 1e-9 && v <= cases[i].hi + 1e-9))
            fprintf(stderr, "window %.0f s: cost %.3f, want %.0f..%.0f\n", cases[i].window, v,
                    cases[i].lo, cases[i].hi);
        CHECK(rc == MG_OK && v >= cases[i].lo - 1e-9 && v <= cases[i].hi + 1e-9);
    }
    /* Groups come from every tier the window reaches. */
    mg_al_filter ant = {"provider", "anthropic"};
    double v = q(ring, MG_AL_COUNT, NULL, 30 * 60, 0, &ant, 1, now, &n, &rc);
    CHECK(rc == MG_OK && v == 15);
    char **groups;
    size_t ng = mg_al_ring_groups(ring, MG_AL_L_PROVIDER, 90, NULL, 0, now, 10, &groups);
    CHECK_EQ_INT(ng, 2); /* 90 s back: the records at -0.5 s and -60.5 s */
    mg_al_strings_free(groups, ng);
    ng = mg_al_ring_groups(ring, MG_AL_L_PROVIDER, 2 * 3600, NULL, 0, now, 10, &groups);
    CHECK_EQ_INT(ng, 2);
    mg_al_strings_free(groups, ng);
    mg_al_ring_free(ring);
}

static void test_rule_parse(void)
{
    char err[512];
    mg_al_rule r;
    json_t *j = json_pack("{s:s,s:s,s:s,s:f}", "name", "slow", "metric", "p95_latency", "window",
                          "5m", "threshold", 2000.0);
    CHECK(mg_al_rule_parse(j, NULL, MG_AL_SRC_API, 0, &r, err, sizeof err) == MG_OK);
    CHECK(r.window == 300 && r.op == MG_AL_OP_GT && r.min_samples == 1 && r.cooldown == 600);
    CHECK(r.metric.agg == MG_AL_PCT && r.metric.q == 95);
    CHECK_EQ_STR(r.severity, "warning");
    CHECK_EQ_STR(r.channels, "[\"in_app\"]");
    mg_al_rule_clear(&r);
    json_decref(j);
    j = json_pack("{s:s,s:s,s:f}", "name", "x", "metrc", "cost", "threshold", 1.0);
    CHECK(mg_al_rule_parse(j, NULL, MG_AL_SRC_API, 0, &r, err, sizeof err) == MG_ERR);
    CHECK(strstr(err, "metrc") != NULL); /* typos are errors, not silent */
    json_decref(j);
    j = json_pack("{s:s,s:s,s:s}", "name", "x", "metric", "error_rate", "op", "~");
    CHECK(mg_al_rule_parse(j, NULL, MG_AL_SRC_API, 0, &r, err, sizeof err) == MG_ERR);
    json_decref(j);
    j = json_pack("{s:s,s:s}", "name", "bad name!", "metric", "cost");
    CHECK(mg_al_rule_parse(j, NULL, MG_AL_SRC_API, 0, &r, err, sizeof err) == MG_ERR);
    json_decref(j);
    j = json_pack("{s:s,s:s,s:s}", "name", "g", "metric", "sum:tokens_output", "group_by",
                  "provider");
    CHECK(mg_al_rule_parse(j, NULL, MG_AL_SRC_API, 0, &r, err, sizeof err) == MG_OK);
    CHECK(r.ngroup == 1 && r.group_by[0] == MG_AL_L_PROVIDER && r.metric.agg == MG_AL_SUM);
    mg_al_rule_clear(&r);
    json_decref(j);
    j = json_pack("{s:s}", "metric", "p95:nope");
    CHECK(mg_al_rule_parse(j, "n", MG_AL_SRC_POLICY, 0, &r, err, sizeof err) == MG_ERR);
    json_decref(j);
}

static void test_state_cooldown_and_resolve(void)
{
    mg_al_states s = {0};
    mg_al_change c;
    int64_t t = 1000000;
    int notified = 0;
    /* firing for 25 minutes with a 10 minute cooldown: 3 notifications */
    for (int minute = 0; minute < 25; minute++) {
        mg_al_states_begin(&s);
        mg_al_states_observe(&s, "r", "r", 0, "{}", "warning", MG_AL_HOLDS, 5, 10, 600, 0,
                             t + minute * 60000LL, &c);
        if (minute == 0)
            CHECK(c.trans == MG_AL_T_FIRED && c.notify);
        else if (c.notify)
            CHECK(c.trans == MG_AL_T_REMINDER);
        notified += c.notify;
    }
    CHECK_EQ_INT(notified, 3); /* at 0, 10 and 20 minutes */
    mg_al_states_observe(&s, "r", "r", 0, "{}", "warning", MG_AL_CLEAR, 1, 10, 600, 0,
                         t + 25 * 60000LL, &c);
    CHECK(c.trans == MG_AL_T_RESOLVED && c.notify);
    /* flapping right after: a new episode, but no notification inside the cooldown */
    mg_al_states_observe(&s, "r", "r", 0, "{}", "warning", MG_AL_HOLDS, 5, 10, 600, 0,
                         t + 26 * 60000LL, &c);
    CHECK(c.trans == MG_AL_T_FIRED && !c.notify);
    mg_al_states_observe(&s, "r", "r", 0, "{}", "warning", MG_AL_CLEAR, 1, 10, 600, 0,
                         t + 27 * 60000LL, &c);
    CHECK(c.trans == MG_AL_T_RESOLVED && !c.notify); /* its start was not notified either */
    /* no data counts as clear; a key never firing creates nothing */
    mg_al_states_observe(&s, "q", "q", 0, "{}", "warning", MG_AL_NODATA, 0, 0, 600, 0, t, &c);
    CHECK(c.trans == MG_AL_T_NONE && mg_al_states_find(&s, "q") == NULL);
    /* compact forgets the resolved alert only once its cooldown passed */
    mg_al_states_compact(&s, t + 28 * 60000LL);
    CHECK(mg_al_states_find(&s, "r") != NULL);
    mg_al_states_compact(&s, t + 40 * 60000LL);
    CHECK(mg_al_states_find(&s, "r") == NULL);
    mg_al_states_free(&s);
}

static int rule_evaluated(void *ud, const char *rule)
{
    MG_UNUSED(ud);
    return strcmp(rule, "gone") == 0 ? -1 : 1;
}

static void count_change(void *ud, const mg_al_change *c)
{
    if (c->trans == MG_AL_T_RESOLVED)
        ++*(int *)ud;
}

static void test_state_mute_and_sweep(void)
{
    mg_al_states s = {0};
    mg_al_change c;
    int64_t t = 1000000;
    mg_al_states_begin(&s);
    mg_al_states_observe(&s, "r{p=a}", "r", 0, "{}", "warning", MG_AL_HOLDS, 5, 1, 60, t + 5000,
                         t, &c);
    CHECK(c.trans == MG_AL_T_FIRED && !c.notify); /* muted */
    mg_al_states_observe(&s, "r{p=b}", "r", 0, "{}", "warning", MG_AL_HOLDS, 5, 1, 60, 0, t, &c);
    CHECK(c.notify);
    mg_al_states_observe(&s, "gone", "gone", 0, "{}", "warning", MG_AL_HOLDS, 5, 1, 60, 0, t, &c);
    mg_al_states_begin(&s);
    mg_al_states_observe(&s, "r{p=a}", "r", 0, "{}", "warning", MG_AL_HOLDS, 5, 1, 60, t + 5000,
                         t + 6000, &c);
    CHECK(c.trans == MG_AL_T_REMINDER && c.notify); /* mute over: told once */
    int resolved = 0;
    /* r{p=b} and the removed rule's alert were not observed: both resolve */
    mg_al_states_sweep(&s, rule_evaluated, NULL, t + 6000, count_change, &resolved);
    CHECK_EQ_INT(resolved, 2);
    CHECK(mg_al_states_find(&s, "r{p=a}")->firing);
    CHECK(!mg_al_states_find(&s, "r{p=b}")->firing);
    mg_al_states_free(&s);
}

/* ---- whole passes on an engine ---------------------------------------------- */

typedef struct fixture {
    char dir[64], db[128];
    struct ev_loop *loop;
    mg_live *live;
    mg_alerts *a;
} fixture;

static int setup_with(fixture *f, const char *pre_sql)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mg-alerts-XXXXXX");
    if (!mkdtemp(f->dir))
        return MG_ERR;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    sqlite3 *db = NULL;
    char err[MG_ERRLEN] = "";
    sqlite3_open(f->db, &db);
    const char *home = getenv("MOONGATE_HOME") ? getenv("MOONGATE_HOME") : ".";
    char schema[512];
    snprintf(schema, sizeof schema, "%s/schema", home);
    int v = mg_store_migrate(db, schema, err);
    if (pre_sql && sqlite3_exec(db, pre_sql, NULL, NULL, NULL) != SQLITE_OK)
        fprintf(stderr, "pre_sql: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    if (v < 5) {
        fprintf(stderr, "migrate: %s\n", err);
        return MG_ERR;
    }
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->live = mg_live_new();
    mg_alerts_opts o = {.loop = f->loop, .live = f->live, .db_path = f->db, .home = home,
                        .interval = 3600, .insight_interval = -1};
    f->a = mg_alerts_new(&o, err);
    if (!f->a)
        fprintf(stderr, "alerts: %s\n", err);
    /* let the start-up jobs (saved rules, applied insights) finish */
    for (int i = 0; i < 50 && f->a && !f->a->loaded; i++) {
        usleep(2000);
        ev_run(f->loop, EVRUN_NOWAIT);
    }
    return f->a ? MG_OK : MG_ERR;
}

static int setup(fixture *f) { return setup_with(f, NULL); }

static void teardown(fixture *f)
{
    mg_alerts_free(f->a);
    mg_live_free(f->live);
    ev_loop_destroy(f->loop);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
}

static void add_rule(mg_alerts *a, const char *js)
{
    json_t *j = json_loads(js, 0, NULL);
    char err[256];
    mg_al_rule r;
    CHECK(mg_al_rule_parse(j, NULL, MG_AL_SRC_API, 0, &r, err, sizeof err) == MG_OK);
    json_decref(j);
    a->api_rules = mg_xrealloc(a->api_rules, (a->napi + 1) * sizeof *a->api_rules);
    a->api_rules[a->napi++] = r;
}

static int live_events(mg_live *l, const char *type)
{
    int n = 0;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < MG_LIVE_RING; i++)
        n += l->ring[i].seq && !strcmp(l->ring[i].type, type);
    pthread_mutex_unlock(&l->lock);
    return n;
}

static int firing(mg_alerts *a)
{
    int n = 0;
    for (size_t i = 0; i < a->states.n; i++)
        n += a->states.a[i].firing;
    return n;
}

static void feed(mg_alerts *a, const char *provider, const char *status, int n, double ms)
{
    for (int i = 0; i < n; i++) {
        mg_record *r = rec(provider, status, ms, 0.001);
        mg_alerts_record(a, r);
        mg_record_free(r);
    }
}

static long history_rows(const char *db_path, const char *state)
{
    long long n = -1;
    sqlite3 *db;
    sqlite3_open(db_path, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM alert_history WHERE state = ?", -1, &st, NULL);
    sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return (long)n;
}

static void drain(fixture *f)
{
    for (int i = 0; i < 20; i++) {
        usleep(2000);
        ev_run(f->loop, EVRUN_NOWAIT);
    }
}

/* History rows are written by the database thread: wait (up to 5 s) until
 * `state` has n rows, and return the count seen last. */
static long wait_rows(fixture *f, const char *state, long n)
{
    long got = -1;
    for (int i = 0; i < 500 && (got = history_rows(f->db, state)) != n; i++) {
        usleep(10000);
        ev_run(f->loop, EVRUN_NOWAIT);
    }
    return got;
}

static void test_engine_min_samples_grouping_cooldown(void)
{
    fixture f;
    if (setup(&f) != MG_OK) {
        CHECK(0);
        return;
    }
    add_rule(f.a, "{\"name\":\"errors\",\"metric\":\"error_rate\",\"window\":60,\"op\":\">\","
                  "\"threshold\":0.5,\"min_samples\":5,\"group_by\":\"provider\","
                  "\"cooldown\":3600,\"channels\":[\"in_app\"]}");
    /* 4 failures: below min_samples, nothing fires */
    feed(f.a, "openai", "error", 4, 10);
    mg_alerts_evaluate(f.a);
    CHECK_EQ_INT(firing(f.a), 0);
    /* 100 failures of one provider are one alert; a healthy provider none */
    feed(f.a, "openai", "error", 96, 10);
    feed(f.a, "anthropic", "success", 50, 10);
    mg_alerts_evaluate(f.a);
    CHECK_EQ_INT(firing(f.a), 1);
    CHECK(mg_al_states_find(&f.a->states, "errors{provider=openai}") != NULL);
    /* evaluating again inside the cooldown notifies nothing new */
    for (int i = 0; i < 5; i++)
        mg_alerts_evaluate(f.a);
    CHECK_EQ_INT(live_events(f.live, "alert_triggered"), 1);
    /* a second provider failing is a second alert */
    feed(f.a, "anthropic", "error", 200, 10);
    mg_alerts_evaluate(f.a);
    CHECK_EQ_INT(firing(f.a), 2);
    CHECK_EQ_INT(live_events(f.live, "alert_triggered"), 2);
    /* openai recovers: successes push its error rate under 0.5 → resolved */
    feed(f.a, "openai", "success", 200, 10);
    mg_alerts_evaluate(f.a);
    CHECK_EQ_INT(firing(f.a), 1);
    CHECK_EQ_INT(live_events(f.live, "alert_resolved"), 1);
    CHECK_EQ_INT(wait_rows(&f, "fired", 2), 2);
    CHECK_EQ_INT(wait_rows(&f, "resolved", 1), 1);
    teardown(&f);
}

static void test_engine_history_and_rule_removal(void)
{
    fixture f;
    if (setup(&f) != MG_OK) {
        CHECK(0);
        return;
    }
    add_rule(f.a, "{\"name\":\"slow\",\"metric\":\"p95_latency\",\"window\":60,"
                  "\"threshold\":1000,\"min_samples\":3,\"cooldown\":600}");
    feed(f.a, "openai", "success", 10, 3000);
    mg_alerts_evaluate(f.a);
    CHECK_EQ_INT(firing(f.a), 1);
    /* removing the rule resolves its alert at the next pass */
    mg_al_rule_clear(&f.a->api_rules[0]);
    f.a->napi = 0;
    mg_alerts_evaluate(f.a);
    CHECK_EQ_INT(firing(f.a), 0);
    CHECK_EQ_INT(wait_rows(&f, "fired", 1), 1);
    CHECK_EQ_INT(wait_rows(&f, "resolved", 1), 1);
    teardown(&f);
}

static void test_engine_seeds_ring_from_rollups(void)
{
    /* 5 hours ago: $7 of openai traffic, 10 requests of which 2 failed */
    char sql[512];
    long long minute = mg_now_wall_ms() / 60000 - 300;
    snprintf(sql, sizeof sql,
             "INSERT INTO rollup_minute (minute, provider, model, status, requests, errors, cost)"
             " VALUES (%lld, 'openai', 'gpt-4o', 'success', 8, 0, 5.0),"
             " (%lld, 'openai', 'gpt-4o', 'error', 2, 2, 2.0)", minute, minute);
    fixture f;
    if (setup_with(&f, sql) != MG_OK) {
        CHECK(0);
        return;
    }
    mg_lua_metric_query q = {.op = MG_LUA_METRIC_SUM, .metric = "cost", .window = 86400};
    double v = 0;
    for (int i = 0; i < 200 && v < 7; i++) {
        drain(&f);
        mg_alerts_metric(f.a, &q, &v);
    }
    CHECK(v > 6.999 && v < 7.001);
    q.window = 3600; /* the last hour has nothing from before the start */
    CHECK(mg_alerts_metric(f.a, &q, &v) == MG_OK && v == 0);
    mg_kv filter = {(char *)"provider", (char *)"openai"};
    q.op = MG_LUA_METRIC_COUNT;
    q.window = 86400;
    q.filters = &filter;
    q.nfilters = 1;
    CHECK(mg_alerts_metric(f.a, &q, &v) == MG_OK && v == 10);
    CHECK(mg_alerts_metric(NULL, &q, &v) == MG_ERR);
    teardown(&f);
}

/* The ring holds every numeric field of the record (MG_AL_MAX_NUM is
 * sized to the record; a field added past it would silently go missing). */
static void test_ring_holds_every_numeric_field(void)
{
    int numeric = 0;
    for (size_t i = 0; i < mg_record_nfields; i++) {
        if (mg_record_fields[i].kind == MG_REC_TEXT)
            continue;
        numeric++;
        if (mg_al_num_of(mg_record_fields[i].name) < 0)
            fprintf(stderr, "the alerts ring does not hold %s\n", mg_record_fields[i].name);
        CHECK(mg_al_num_of(mg_record_fields[i].name) >= 0);
    }
    CHECK(numeric <= MG_AL_MAX_NUM);
}

TEST_MAIN(T(test_ring_holds_every_numeric_field), T(test_ring_sums_and_percentiles), T(test_ring_tiers), T(test_ring_hours), T(test_rule_parse),
          T(test_state_cooldown_and_resolve), T(test_state_mute_and_sweep),
          T(test_engine_min_samples_grouping_cooldown), T(test_engine_history_and_rule_removal),
          T(test_engine_seeds_ring_from_rollups))
