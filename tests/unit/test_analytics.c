/* test_analytics.c — the analytics engine end to end: a database written
 * by the real store (300 seeded rows whose values follow simple rules),
 * then every endpoint through the reader thread and a loop's inbox, its
 * numbers checked against sums computed here from the same rules; filters,
 * percentiles, bucket filling, the rollup and per-request paths agreeing,
 * paging, CSV/JSON export, hostile parameters (SQL injection, bad escapes),
 * cancel, attach/detach, a full queue, a second loop on its own thread.
 * MG_ANALYTICS_BENCH=N also seeds N rows and prints query timings. */
#include <ev.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "core/common.h"
#include "store/store.h"
#include "test.h"

#define BASE_MS 1699999200000LL /* 2023-11-14T22:00:00Z, a whole hour */
#define MIN_MS 60000LL
#define NROWS 300
#define ALL_RANGE "from=1699999200000&to=1700017200000" /* BASE .. BASE + 300 min */

/* ---- the seeded rows: row i follows these rules ------------------------------------ */

static const char *const PROVIDERS[] = {"openai", "anthropic", "gemini"};
static const char *const MODELS[] = {"gpt-4o", "claude-sonnet", "gemini-pro", "gpt-4o-mini"};

typedef struct seed {
    int64_t ts_ms, tin, tout, treason, tcread, tcwrite;
    const char *provider, *model, *status;
    char key[16], user[16], id[40];
    const char *environment, *session;
    double cost, original_cost, savings, duration_ms, ttft_ms;
    int rerouted;
} seed;

static seed seed_row(int i)
{
    seed s;
    memset(&s, 0, sizeof s);
    s.ts_ms = BASE_MS + i * MIN_MS + 1000; /* one a minute, 1 s into it */
    s.provider = PROVIDERS[i % 3];
    s.model = MODELS[i % 4];
    s.status = i % 10 == 7 ? "error" : i % 10 == 9 ? "timeout" : "success";
    s.tin = 100 + i;
    s.tout = 2 * i;
    s.treason = i % 7;
    s.tcread = i % 11;
    s.tcwrite = i % 13;
    s.cost = (i % 5 + 1) * 0.001;
    s.rerouted = i % 3 == 0;
    s.original_cost = s.rerouted ? s.cost * 3 : s.cost;
    s.savings = s.original_cost - s.cost;
    s.duration_ms = i + 1;
    s.ttft_ms = i % 2 ? 0 : 5.0;
    snprintf(s.key, sizeof s.key, "key-%d", i % 4);
    snprintf(s.user, sizeof s.user, "user-%d", i % 6);
    snprintf(s.id, sizeof s.id, "req%029d", i);
    s.environment = i % 2 ? "prod" : "dev";
    s.session = i % 50 == 0 ? "ct-1" : NULL;
    return s;
}

static mg_record *record_of(const seed *s)
{
    mg_record *r = mg_record_new();
    mg_record_set_text(&r->id, s->id);
    r->ts_ms = s->ts_ms;
    mg_record_set_text(&r->endpoint, "/v1/chat/completions");
    mg_record_set_text(&r->client_format, "openai");
    mg_record_set_text(&r->provider, s->provider);
    mg_record_set_text(&r->model_routed, s->model);
    mg_record_set_text(&r->model_requested, s->rerouted ? "big-model" : s->model);
    mg_record_set_text(&r->status, s->status);
    int ok = strcmp(s->status, "success") == 0;
    r->http_status = ok ? 200 : 502;
    if (!ok)
        mg_record_set_text(&r->error, strcmp(s->status, "error") == 0 ? "upstream said 502"
                                                                      : "upstream timed out");
    r->tokens_input = s->tin;
    r->tokens_output = s->tout;
    r->tokens_reasoning = s->treason;
    r->tokens_cached_read = s->tcread;
    r->tokens_cache_write = s->tcwrite;
    r->tokens_total = s->tin + s->tout;
    r->cost = s->cost;
    r->original_cost = s->original_cost;
    r->savings = s->savings;
    r->duration_ms = s->duration_ms;
    r->ttft_ms = s->ttft_ms;
    r->attempts = 1;
    mg_record_set_text(&r->key_id, s->key);
    mg_record_set_text(&r->user_id, s->user);
    mg_record_set_text(&r->environment, s->environment);
    mg_record_set_text(&r->crosstalk_session, s->session);
    /* A hostile-looking text field that export must keep inert. */
    mg_record_set_text(&r->preview_request, "=HYPERLINK(\"x\"),\nline two");
    return r;
}

/* ---- fixture: one database for the whole file ---------------------------------------- */

static char g_dir[64];
static char g_db[128];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Writes rows [0, n) of the rules (n > NROWS adds rows after the first
 * NROWS minutes, for the benchmark) through the real store. */
static int seed_db(const char *db_path, int n)
{
    char err[MG_ERRLEN] = "";
    mg_store_opts opts = {.db_path = db_path, .schema_dir = schema_dir(), .queue_capacity = 1 << 20};
    mg_store *s = mg_store_open(&opts, err);
    if (!s) {
        fprintf(stderr, "mg_store_open: %s\n", err);
        return MG_ERR;
    }
    for (int i = 0; i < n; i++) {
        seed row = seed_row(i);
        if (i >= NROWS) /* benchmark rows: ~one every 0.9 s over a day, ending now-ish */
            row.ts_ms = mg_now_wall_ms() - (int64_t)(n - i) * 860;
        if (mg_store_submit(s, record_of(&row)) != MG_OK) {
            fprintf(stderr, "mg_store_submit refused row %d\n", i);
            mg_store_close(s);
            return MG_ERR;
        }
    }
    mg_store_close(s);
    return MG_OK;
}

static const char *fixture_db(void)
{
    if (g_db[0])
        return g_db;
    snprintf(g_dir, sizeof g_dir, "/tmp/mg_test_analytics_XXXXXX");
    if (!mkdtemp(g_dir))
        return NULL;
    snprintf(g_db, sizeof g_db, "%s/a.db", g_dir);
    if (seed_db(g_db, NROWS) != MG_OK)
        return NULL;
    return g_db;
}

/* ---- running a query through a loop ---------------------------------------------------- */

typedef struct answer {
    int called, status, truncated;
    char *body, *content_type, *headers;
    size_t len;
    struct ev_loop *loop;
    pthread_t thread;
} answer;

static void answer_free(answer *a)
{
    free(a->body);
    free(a->content_type);
    free(a->headers);
    memset(a, 0, sizeof *a);
}

static void on_done(void *ud, const mg_analytics_reply *r)
{
    answer *a = ud;
    a->called++;
    a->status = r->status;
    a->truncated = r->truncated;
    a->len = r->len;
    a->body = mg_xstrndup(r->body, r->len);
    a->content_type = mg_xstrdup(r->content_type);
    a->headers = r->extra_headers ? mg_xstrdup(r->extra_headers) : NULL;
    a->thread = pthread_self();
    if (a->loop)
        ev_break(a->loop, EVBREAK_ALL);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)t, (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until *flag is set or `seconds` pass. */
static void run_until(struct ev_loop *loop, const int *flag, double seconds)
{
    ev_timer guard;
    ev_timer_init(&guard, on_timeout, seconds, 0);
    ev_timer_start(loop, &guard);
    double end = mg_now_mono() + seconds;
    while (!*flag && mg_now_mono() < end)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &guard);
}

static mg_analytics *g_an;
static struct ev_loop *g_loop;

static void ensure_engine(void)
{
    if (g_an)
        return;
    const char *db = fixture_db();
    CHECK(db != NULL);
    char err[MG_ERRLEN] = "";
    g_an = mg_analytics_open(db, err);
    if (!g_an)
        fprintf(stderr, "mg_analytics_open: %s\n", err);
    CHECK(g_an != NULL);
    g_loop = ev_loop_new(EVFLAG_AUTO);
    CHECK_EQ_INT(mg_analytics_attach_loop(g_an, g_loop), MG_OK);
}

/* One query on engine an, waited for on g_loop; returns the parsed JSON
 * body (NULL if not JSON). */
static json_t *ask_on(mg_analytics *an, const char *endpoint, const char *qs, answer *out)
{
    ensure_engine();
    memset(out, 0, sizeof *out);
    out->loop = g_loop;
    uint64_t ticket = 0;
    int rc = mg_analytics_query(an, g_loop, endpoint, qs, on_done, out, &ticket);
    CHECK_EQ_INT(rc, MG_OK);
    CHECK(ticket != 0);
    if (rc != MG_OK)
        return NULL;
    run_until(g_loop, &out->called, 30);
    CHECK_EQ_INT(out->called, 1);
    if (!out->body)
        return NULL;
    return json_loads(out->body, 0, NULL);
}

static json_t *ask(const char *endpoint, const char *qs, answer *out)
{
    ensure_engine();
    return ask_on(g_an, endpoint, qs, out);
}

/* Asks engine an and expects a 200 JSON object. */
static json_t *ask_ok_on(mg_analytics *an, const char *endpoint, const char *qs)
{
    answer a;
    json_t *j = ask_on(an, endpoint, qs, &a);
    if (a.status != 200)
        fprintf(stderr, "%s?%s → %d %s\n", endpoint, qs, a.status, a.body ? a.body : "");
    CHECK_EQ_INT(a.status, 200);
    CHECK(j != NULL);
    answer_free(&a);
    return j;
}

static json_t *ask_ok(const char *endpoint, const char *qs)
{
    ensure_engine();
    return ask_ok_on(g_an, endpoint, qs);
}

static double num(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v)) {
        fprintf(stderr, "key %s: not a number\n", key);
        return NAN;
    }
    return json_number_value(v);
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

#define CHECK_NEAR(a, b) CHECK(fabs((double)(a) - (double)(b)) < 1e-9)

/* Sums of the seeded rows that pass `keep`. */
typedef struct sums {
    int64_t requests, errors, tin, tout, treason, tcread, tcwrite;
    double cost, savings, original_cost, duration;
} sums;

static sums sum_rows(int (*keep)(const seed *s, const void *arg), const void *arg)
{
    sums t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < NROWS; i++) {
        seed s = seed_row(i);
        if (keep && !keep(&s, arg))
            continue;
        t.requests++;
        t.errors += strcmp(s.status, "success") != 0;
        t.tin += s.tin;
        t.tout += s.tout;
        t.treason += s.treason;
        t.tcread += s.tcread;
        t.tcwrite += s.tcwrite;
        t.cost += s.cost;
        t.savings += s.savings;
        t.original_cost += s.original_cost;
        t.duration += s.duration_ms;
    }
    return t;
}

static int keep_provider(const seed *s, const void *arg) { return strcmp(s->provider, arg) == 0; }
static int keep_model(const seed *s, const void *arg) { return strcmp(s->model, arg) == 0; }

typedef struct range_provider {
    int64_t from, to;
    const char *provider;
} range_provider;

static int keep_range_provider(const seed *s, const void *arg)
{
    const range_provider *f = arg;
    return s->ts_ms >= f->from && s->ts_ms < f->to &&
           (!f->provider || strcmp(s->provider, f->provider) == 0);
}

/* ---- summary ------------------------------------------------------------------------ */

static void test_summary_all_rows(void)
{
    json_t *j = ask_ok("analytics/summary", ALL_RANGE);
    /* By hand: 300 rows; 60 of them have i % 10 in {7, 9}; cost cycles
     * 1..5 thousandths 60 times = 0.9; savings 2·cost on the 100 rows with
     * i % 3 == 0 (20 of each cost) = 0.6; tokens_input Σ(100 + i) = 74850;
     * durations 1..300 give p50 150, p95 285, p99 297 by nearest rank. */
    CHECK_EQ_INT(num(j, "requests"), 300);
    CHECK_EQ_INT(num(j, "errors"), 60);
    CHECK_NEAR(num(j, "error_rate"), 0.2);
    CHECK_EQ_INT(num(j, "tokens_input"), 74850);
    CHECK_EQ_INT(num(j, "tokens_output"), 89700);
    CHECK_EQ_INT(num(j, "tokens_total"), 74850 + 89700);
    CHECK_NEAR(num(j, "cost"), 0.9);
    CHECK_NEAR(num(j, "savings"), 0.6);
    CHECK_NEAR(num(j, "avg_duration_ms"), 150.5);
    CHECK_NEAR(num(j, "p50_duration_ms"), 150);
    CHECK_NEAR(num(j, "p95_duration_ms"), 285);
    CHECK_NEAR(num(j, "p99_duration_ms"), 297);
    CHECK_NEAR(num(j, "avg_ttft_ms"), 5);
    CHECK_EQ_INT(num(j, "from"), BASE_MS);
    CHECK_EQ_INT(num(j, "to"), BASE_MS + 300 * MIN_MS);
    json_decref(j);
}

static void test_summary_filters(void)
{
    /* ISO times with offsets; anthropic rows in minutes [60, 150). */
    json_t *j = ask_ok("analytics/summary", "provider=anthropic&from=2023-11-14T23:00:00Z"
                                            "&to=2023-11-15T01:30:00%2B01:00");
    /* 01:30+01:00 is 00:30Z, 150 minutes after BASE. */
    range_provider f = {BASE_MS + 60 * MIN_MS, BASE_MS + 150 * MIN_MS, "anthropic"};
    sums want = sum_rows(keep_range_provider, &f);
    CHECK_EQ_INT(want.requests, 30); /* i in [60, 150) with i % 3 == 1 */
    CHECK_EQ_INT(num(j, "requests"), want.requests);
    CHECK_EQ_INT(num(j, "errors"), want.errors);
    CHECK_NEAR(num(j, "cost"), want.cost);
    CHECK_EQ_INT(num(j, "tokens_input"), want.tin);
    json_decref(j);

    /* Fractions and offsets: 23:00:00.500+01:00 is BASE + 500 ms. */
    j = ask_ok("analytics/summary", "from=2023-11-14T23:00:00.500%2B01:00&to=1700017200000");
    CHECK_EQ_INT(num(j, "from"), BASE_MS + 500);
    CHECK_EQ_INT(num(j, "requests"), 300);
    json_decref(j);

    /* Cost ≥ 0.004: the rows with i % 5 in {3, 4}. */
    j = ask_ok("analytics/summary", ALL_RANGE "&min_cost=0.004");
    CHECK_EQ_INT(num(j, "requests"), 120);
    json_decref(j);
    /* Latency ≤ 10 ms: i in 0..9, whose p50 is 5 and p99 is 10. */
    j = ask_ok("analytics/summary", ALL_RANGE "&max_latency=10&min_latency=1");
    CHECK_EQ_INT(num(j, "requests"), 10);
    CHECK_NEAR(num(j, "p50_duration_ms"), 5);
    CHECK_NEAR(num(j, "p99_duration_ms"), 10);
    json_decref(j);
    /* Every text filter at once: key-0 and gpt-4o (i % 4 == 0), user-0
     * (i % 6 == 0), dev (even), ct-1 (i % 50 == 0), success: only row 0. */
    j = ask_ok("analytics/summary", ALL_RANGE "&key=key-0&user=user-0&environment=dev"
                                    "&model=gpt-4o&status=success&session=ct-1");
    CHECK_EQ_INT(num(j, "requests"), 1);
    CHECK_NEAR(num(j, "cost"), 0.001);
    json_decref(j);
    /* Nothing matches: zeros and nulls, not errors. */
    j = ask_ok("analytics/summary", ALL_RANGE "&provider=nobody");
    CHECK_EQ_INT(num(j, "requests"), 0);
    CHECK_NEAR(num(j, "error_rate"), 0);
    CHECK(json_is_null(json_object_get(j, "p50_duration_ms")));
    CHECK(json_is_null(json_object_get(j, "avg_duration_ms")));
    json_decref(j);
}

/* ---- timeseries --------------------------------------------------------------------- */

static void test_timeseries_hourly(void)
{
    json_t *j = ask_ok("analytics/timeseries", ALL_RANGE "&metric=requests&bucket=hour");
    CHECK_EQ_STR(str(j, "source"), "rollup");
    CHECK_EQ_STR(str(j, "metric"), "requests");
    CHECK_EQ_INT(num(j, "bucket_ms"), 3600000);
    json_t *pts = json_object_get(j, "points");
    CHECK_EQ_INT(json_array_size(pts), 5);
    for (size_t h = 0; h < json_array_size(pts); h++) {
        CHECK_EQ_INT(num(json_array_get(pts, h), "t"), BASE_MS + (int64_t)h * 3600000);
        CHECK_EQ_INT(num(json_array_get(pts, h), "value"), 60);
    }
    json_decref(j);

    /* Seven hours: the last two are filled with zeros. Errors per hour: 12. */
    j = ask_ok("analytics/timeseries", "from=1699999200000&to=1700024400000&metric=errors");
    pts = json_object_get(j, "points");
    CHECK_EQ_INT(json_array_size(pts), 7);
    for (size_t h = 0; h < 7; h++)
        CHECK_EQ_INT(num(json_array_get(pts, h), "value"), h < 5 ? 12 : 0);
    json_decref(j);

    /* Average duration of hour h: rows 60h..60h+59, durations +1 → 60h + 30.5. */
    j = ask_ok("analytics/timeseries", ALL_RANGE "&metric=duration_ms_avg");
    pts = json_object_get(j, "points");
    for (size_t h = 0; h < json_array_size(pts); h++)
        CHECK_NEAR(num(json_array_get(pts, h), "value"), 60.0 * (double)h + 30.5);
    json_decref(j);
}

/* The rollup path and the per-request path give the same buckets. */
static void test_timeseries_paths_agree(void)
{
    static const char *const metrics[] = {"requests", "errors", "cost", "savings", "tokens",
                                          "tokens_input", "tokens_output", "duration_ms_avg"};
    for (size_t m = 0; m < MG_ARRAY_LEN(metrics); m++) {
        char qs[256];
        snprintf(qs, sizeof qs, ALL_RANGE "&bucket=minute&provider=gemini&metric=%s", metrics[m]);
        json_t *fast = ask_ok("analytics/timeseries", qs);
        strcat(qs, "&source=requests");
        json_t *slow = ask_ok("analytics/timeseries", qs);
        CHECK_EQ_STR(str(fast, "source"), "rollup");
        CHECK_EQ_STR(str(slow, "source"), "requests");
        json_t *a = json_object_get(fast, "points"), *b = json_object_get(slow, "points");
        CHECK_EQ_INT(json_array_size(a), 300);
        CHECK_EQ_INT(json_array_size(b), 300);
        int same = 1;
        for (size_t i = 0; i < json_array_size(a); i++)
            same &= fabs(num(json_array_get(a, i), "value") - num(json_array_get(b, i), "value")) < 1e-9;
        CHECK(same);
        json_decref(fast);
        json_decref(slow);
    }
    /* A per-request-only filter forces the per-request path. */
    json_t *j = ask_ok("analytics/timeseries", ALL_RANGE "&user=user-1&metric=cost&bucket=day");
    CHECK_EQ_STR(str(j, "source"), "requests");
    json_decref(j);
}

static void test_timeseries_alignment(void)
{
    /* Minute buckets from BASE + 5 min 30 s widen to BASE + 5 min. */
    json_t *j = ask_ok("analytics/timeseries",
                       "from=1699999530000&to=1699999800000&bucket=minute&metric=tokens");
    CHECK_EQ_INT(num(j, "from"), BASE_MS + 5 * MIN_MS);
    json_t *pts = json_object_get(j, "points");
    CHECK_EQ_INT(json_array_size(pts), 5);
    for (int i = 5; i < 10; i++)
        CHECK_EQ_INT(num(json_array_get(pts, (size_t)i - 5), "value"), 100 + i + 2 * i);
    json_decref(j);

    /* Day buckets in UTC: 22:00 → 03:00 spans two days; row i < 120 is the 14th. */
    j = ask_ok("analytics/token-breakdown", ALL_RANGE "&bucket=day");
    pts = json_object_get(j, "points");
    CHECK_EQ_INT(json_array_size(pts), 2);
    CHECK_EQ_INT(num(j, "from"), BASE_MS - 79200000);
    int64_t day1 = 0, reasoning = 0, cread = 0, cwrite = 0;
    for (int i = 0; i < 120; i++)
        day1 += 100 + i;
    sums all = sum_rows(NULL, NULL);
    for (int i = 0; i < NROWS; i++)
        reasoning += i % 7, cread += i % 11, cwrite += i % 13;
    CHECK_EQ_INT(num(json_array_get(pts, 0), "input"), day1);
    CHECK_EQ_INT(num(json_array_get(pts, 1), "input"), all.tin - day1);
    json_t *tot = json_object_get(j, "totals");
    CHECK_EQ_INT(num(tot, "input"), all.tin);
    CHECK_EQ_INT(num(tot, "output"), all.tout);
    CHECK_EQ_INT(num(tot, "reasoning"), reasoning);
    CHECK_EQ_INT(num(tot, "cached_read"), cread);
    CHECK_EQ_INT(num(tot, "cache_write"), cwrite);
    json_decref(j);
}

/* ---- grouped endpoints -------------------------------------------------------------- */

static void test_models_and_comparison(void)
{
    json_t *j = ask_ok("analytics/models", ALL_RANGE);
    json_t *models = json_object_get(j, "models");
    CHECK_EQ_INT(json_array_size(models), 4);
    for (size_t k = 0; k < json_array_size(models); k++) {
        json_t *m = json_array_get(models, k);
        const char *name = str(m, "model");
        sums want = sum_rows(keep_model, name);
        CHECK_EQ_INT(num(m, "requests"), 75);
        CHECK_NEAR(num(m, "cost"), want.cost);
        CHECK_EQ_INT(num(m, "tokens"), want.tin + want.tout);
        CHECK_NEAR(num(m, "error_rate"), (double)want.errors / 75.0);
        CHECK_NEAR(num(m, "avg_duration_ms"), want.duration / 75.0);
    }
    json_decref(j);

    /* Model m has durations m+1, m+5, …: ranks 38, 72, 75 of 75. */
    j = ask_ok("analytics/model-comparison", ALL_RANGE);
    models = json_object_get(j, "models");
    CHECK_EQ_INT(json_array_size(models), 4);
    for (size_t k = 0; k < json_array_size(models); k++) {
        json_t *m = json_array_get(models, k);
        int idx = -1;
        for (int x = 0; x < 4; x++)
            if (strcmp(MODELS[x], str(m, "model")) == 0)
                idx = x;
        CHECK(idx >= 0);
        sums want = sum_rows(keep_model, MODELS[idx]);
        CHECK_NEAR(num(m, "p50_duration_ms"), idx + 1 + 4 * 37);
        CHECK_NEAR(num(m, "p95_duration_ms"), idx + 1 + 4 * 71);
        CHECK_NEAR(num(m, "p99_duration_ms"), idx + 1 + 4 * 74);
        CHECK_NEAR(num(m, "avg_cost"), want.cost / 75.0);
        CHECK_NEAR(num(m, "tokens_per_request"), (double)(want.tin + want.tout) / 75.0);
    }
    json_decref(j);
}

static void test_cost_and_savings(void)
{
    json_t *j = ask_ok("analytics/cost-breakdown", ALL_RANGE);
    CHECK_NEAR(num(json_object_get(j, "total"), "cost"), 0.9);
    json_t *bp = json_object_get(j, "by_provider");
    CHECK_EQ_INT(json_array_size(bp), 3);
    for (size_t k = 0; k < json_array_size(bp); k++) {
        json_t *p = json_array_get(bp, k);
        sums want = sum_rows(keep_provider, str(p, "provider"));
        CHECK_NEAR(num(p, "cost"), want.cost);
        CHECK_EQ_INT(num(p, "requests"), 100);
    }
    /* Equal costs: ordered by name. */
    CHECK_EQ_STR(str(json_array_get(bp, 0), "provider"), "anthropic");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "by_model")), 4);
    json_decref(j);

    j = ask_ok("analytics/savings", ALL_RANGE);
    json_t *t = json_object_get(j, "total");
    CHECK_NEAR(num(t, "savings"), 0.6);
    CHECK_NEAR(num(t, "original_cost"), 1.5);
    CHECK_NEAR(num(t, "savings_rate"), 0.4);
    CHECK_EQ_INT(num(t, "rerouted"), 100);
    json_t *pairs = json_object_get(j, "pairs");
    CHECK_EQ_INT(json_array_size(pairs), 4);
    double total = 0;
    for (size_t k = 0; k < json_array_size(pairs); k++) {
        json_t *p = json_array_get(pairs, k);
        CHECK_EQ_STR(str(p, "model_requested"), "big-model");
        CHECK_EQ_INT(num(p, "requests"), 25);
        total += num(p, "savings");
    }
    CHECK_NEAR(total, 0.6);
    json_decref(j);
}

static void test_errors_grouped(void)
{
    json_t *j = ask_ok("analytics/errors", ALL_RANGE);
    CHECK_EQ_INT(num(j, "errors"), 60);
    json_t *g = json_object_get(j, "groups");
    CHECK_EQ_INT(json_array_size(g), 6); /* 3 providers × {error, timeout} */
    for (size_t k = 0; k < json_array_size(g); k++) {
        json_t *e = json_array_get(g, k);
        CHECK_EQ_INT(num(e, "count"), 10);
        CHECK_EQ_INT(num(e, "http_status"), 502);
        CHECK(strcmp(str(e, "status"), "error") == 0 ? strcmp(str(e, "error"), "upstream said 502") == 0
                                                     : strcmp(str(e, "error"), "upstream timed out") == 0);
        CHECK(num(e, "first_ts_ms") <= num(e, "last_ts_ms"));
    }
    json_decref(j);
    j = ask_ok("analytics/errors", ALL_RANGE "&limit=2&provider=openai");
    CHECK_EQ_INT(num(j, "errors"), 20);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "groups")), 2);
    json_decref(j);
}

static void test_providers(void)
{
    json_t *j = ask_ok("analytics/providers", ALL_RANGE);
    json_t *ps = json_object_get(j, "providers");
    CHECK_EQ_INT(json_array_size(ps), 3);
    for (size_t k = 0; k < json_array_size(ps); k++) {
        json_t *p = json_array_get(ps, k);
        /* The seeded rows are from 2023: outside the last hour and beyond
         * the 30-day lookback (test_providers_recent checks those times). */
        CHECK_EQ_INT(num(p, "requests"), 0);
        CHECK(json_is_null(json_object_get(p, "last_success_ms")));
        CHECK(json_is_null(json_object_get(p, "last_failure_ms")));
        CHECK(json_is_null(json_object_get(p, "last_error")));
    }
    CHECK_EQ_STR(str(json_array_get(ps, 0), "provider"), "anthropic");
    json_decref(j);
    j = ask_ok("analytics/providers", "provider=gemini");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "providers")), 1);
    json_decref(j);
    /* Nothing in the default range (the last 24 h): no providers listed. */
    j = ask_ok("analytics/providers", "");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "providers")), 0);
    json_decref(j);
}

/* Rows stamped relative to now, for the last-hour window and lookback. */
static mg_record *recent(int64_t ago_ms, const char *provider, const char *status,
                         double duration_ms, const char *error)
{
    mg_record *r = mg_record_new();
    r->ts_ms = mg_now_wall_ms() - ago_ms;
    mg_record_set_text(&r->provider, provider);
    mg_record_set_text(&r->model_routed, "m");
    mg_record_set_text(&r->status, status);
    mg_record_set_text(&r->user_id, "u");
    mg_record_set_text(&r->error, error);
    r->duration_ms = duration_ms;
    return r;
}

static void test_providers_recent(void)
{
    ensure_engine();
    char dir[] = "/tmp/mg_test_analytics_XXXXXX", db[128], err[MG_ERRLEN] = "";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(db, sizeof db, "%s/recent.db", dir);
    mg_store_opts opts = {.db_path = db, .schema_dir = schema_dir()};
    mg_store *s = mg_store_open(&opts, err);
    CHECK(s != NULL);
    if (!s)
        return;
    mg_record *openai_ok = recent(10 * MIN_MS, "openai", "success", 100, NULL);
    mg_record *openai_bad = recent(20 * MIN_MS, "openai", "error", 300, "boom");
    int64_t ok_ts = openai_ok->ts_ms, bad_ts = openai_bad->ts_ms;
    mg_store_submit(s, openai_ok);
    mg_store_submit(s, openai_bad);
    mg_store_submit(s, recent(30 * MIN_MS, "anthropic", "success", 50, NULL));
    mg_store_submit(s, recent(120 * MIN_MS, "openai", "success", 999, NULL));
    mg_store_submit(s, recent(40 * 86400000LL, "gemini", "error", 1, "ancient"));
    /* A client-chosen model name that is not UTF-8 must not break the JSON. */
    mg_record *odd = recent(41 * 86400000LL, "gemini", "success", 1, NULL);
    mg_record_set_text(&odd->model_routed, "caf\xc3\xa9\xff\xed\xa0\x80");
    mg_store_submit(s, odd);
    mg_store_close(s);
    mg_analytics *an = mg_analytics_open(db, err);
    CHECK(an != NULL);
    CHECK_EQ_INT(mg_analytics_attach_loop(an, g_loop), MG_OK);
    /* The rollup path, then the per-request path (user= forces it): same answer. */
    static const char *const queries[] = {"", "user=u"};
    for (size_t q = 0; q < 2; q++) {
        json_t *j = ask_ok_on(an, "analytics/providers", queries[q]);
        json_t *ps = json_object_get(j, "providers");
        CHECK_EQ_INT(json_array_size(ps), 2);
        json_t *anth = json_array_get(ps, 0), *oai = json_array_get(ps, 1);
        CHECK_EQ_STR(str(anth, "provider"), "anthropic");
        CHECK_EQ_INT(num(anth, "requests"), 1);
        CHECK(json_is_null(json_object_get(anth, "last_failure_ms")));
        CHECK_EQ_STR(str(oai, "provider"), "openai");
        CHECK_EQ_INT(num(oai, "requests"), 2);
        CHECK_EQ_INT(num(oai, "errors"), 1);
        CHECK_NEAR(num(oai, "error_rate"), 0.5);
        CHECK_NEAR(num(oai, "avg_duration_ms"), 200);
        CHECK_EQ_INT(num(oai, "last_success_ms"), ok_ts);
        CHECK_EQ_INT(num(oai, "last_failure_ms"), bad_ts);
        CHECK_EQ_STR(str(oai, "last_error"), "boom");
        json_decref(j);
    }
    /* gemini's only failure is older than the 30-day lookback. */
    json_t *j = ask_ok_on(an, "analytics/providers", "provider=gemini");
    json_t *gem = json_array_get(json_object_get(j, "providers"), 0);
    CHECK_EQ_INT(num(gem, "requests"), 0);
    CHECK(json_is_null(json_object_get(gem, "last_failure_ms")));
    CHECK(json_is_null(json_object_get(gem, "avg_duration_ms")));
    json_decref(j);
    char qs[96];
    snprintf(qs, sizeof qs, "from=%lld&provider=gemini", (long long)(mg_now_wall_ms() - 50 * 86400000LL));
    j = ask_ok_on(an, "analytics/models", qs);
    json_t *odd_model = json_array_get(json_object_get(j, "models"), 0);
    CHECK_EQ_STR(str(odd_model, "model"), "caf\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
    /* The week's leaderboard holds the four rows of the last days. */
    j = ask_ok_on(an, "analytics/leaderboard", "period=week&by=requests");
    json_t *models = json_object_get(j, "models");
    CHECK_EQ_INT(json_array_size(models), 1);
    CHECK_EQ_INT(num(json_array_get(models, 0), "requests"), 4);
    json_decref(j);
    mg_analytics_detach_loop(an, g_loop);
    mg_analytics_close(an);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Breakdowns read rollups for whole minutes and `requests` for the
 * partial minutes at both edges; min_cost=0 (true of every row) forces
 * `requests` alone. Both must agree, row 0 and row 150 coming from edges. */
static void test_breakdowns_blend_exactly(void)
{
    static const char *const endpoints[] = {"analytics/models", "analytics/cost-breakdown",
                                            "analytics/leaderboard"};
    /* BASE + 0.5 s .. BASE + 150 min + 2 s */
    char blended_qs[128], direct_qs[256];
    snprintf(blended_qs, sizeof blended_qs, "from=%lld&to=%lld", (long long)(BASE_MS + 500),
             (long long)(BASE_MS + 150 * MIN_MS + 2000));
    snprintf(direct_qs, sizeof direct_qs, "%s&min_cost=0", blended_qs);
    for (size_t e = 0; e < MG_ARRAY_LEN(endpoints); e++) {
        json_t *blended = ask_ok(endpoints[e], blended_qs);
        json_t *direct = ask_ok(endpoints[e], direct_qs);
        char *a = json_dumps(blended, JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
        char *b = json_dumps(direct, JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
        CHECK(a && b && strcmp(a, b) == 0);
        if (a && b && strcmp(a, b) != 0)
            fprintf(stderr, "  %s\n  blended %s\n  direct  %s\n", endpoints[e], a, b);
        free(a);
        free(b);
        json_decref(blended);
        json_decref(direct);
    }
    json_t *j = ask_ok("analytics/cost-breakdown", blended_qs);
    CHECK_EQ_INT(num(json_object_get(j, "total"), "requests"), 151); /* rows 0..150 */
    json_decref(j);
}

static void test_leaderboard(void)
{
    json_t *j = ask_ok("analytics/leaderboard", "period=all&by=cost&limit=2");
    CHECK_EQ_STR(str(j, "period"), "all");
    json_t *keys = json_object_get(j, "keys");
    CHECK_EQ_INT(json_array_size(keys), 2);
    double key_cost[4] = {0};
    for (int i = 0; i < NROWS; i++)
        key_cost[i % 4] += seed_row(i).cost;
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (key_cost[k] > key_cost[best] + 1e-12)
            best = k;
    char want[16];
    snprintf(want, sizeof want, "key-%d", best);
    CHECK_EQ_STR(str(json_array_get(keys, 0), "key"), want);
    CHECK_NEAR(num(json_array_get(keys, 0), "cost"), key_cost[best]);
    CHECK(num(json_array_get(keys, 0), "cost") >= num(json_array_get(keys, 1), "cost"));
    CHECK_EQ_INT(json_array_size(json_object_get(j, "users")), 2);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "models")), 2);
    json_decref(j);
    /* By requests over the range: six users of 50, ties by name. */
    j = ask_ok("analytics/leaderboard", ALL_RANGE "&by=requests");
    json_t *users = json_object_get(j, "users");
    CHECK_EQ_INT(json_array_size(users), 6);
    CHECK_EQ_STR(str(json_array_get(users, 0), "user"), "user-0");
    CHECK_EQ_INT(num(json_array_get(users, 0), "requests"), 50);
    CHECK_EQ_STR(str(j, "period"), "range");
    json_decref(j);
    /* today: nothing seeded is from today. */
    j = ask_ok("analytics/leaderboard", "period=today");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "keys")), 0);
    json_decref(j);
}

/* ---- records ------------------------------------------------------------------------ */

static void test_requests_paging(void)
{
    char qs[512];
    char cursor[256] = "";
    int seen = 0, pages = 0, ordered = 1;
    int64_t prev_ts = INT64_MAX;
    for (;;) {
        snprintf(qs, sizeof qs, ALL_RANGE "&limit=128%s%s", cursor[0] ? "&cursor=" : "", cursor);
        json_t *j = ask_ok("analytics/requests", qs);
        if (!j)
            break;
        json_t *rows = json_object_get(j, "rows");
        if (pages == 0) {
            json_t *first = json_array_get(rows, 0);
            CHECK_EQ_STR(str(first, "id"), seed_row(299).id);
            CHECK_EQ_INT(json_object_size(first), mg_record_nfields);
            CHECK_EQ_INT(num(first, "tokens_total"), 100 + 299 + 2 * 299);
            CHECK(json_is_null(json_object_get(first, "session_id")));
        }
        for (size_t k = 0; k < json_array_size(rows); k++) {
            int64_t ts = (int64_t)num(json_array_get(rows, k), "ts_ms");
            ordered &= ts < prev_ts;
            prev_ts = ts;
        }
        seen += (int)json_array_size(rows);
        pages++;
        const char *next = str(j, "next_cursor");
        int more = json_is_true(json_object_get(j, "has_more"));
        CHECK_EQ_INT(more, next != NULL);
        if (next)
            snprintf(cursor, sizeof cursor, "%s", next);
        json_decref(j);
        if (!more || pages > 10)
            break;
    }
    CHECK_EQ_INT(seen, 300);
    CHECK_EQ_INT(pages, 3);
    CHECK(ordered);

    json_t *j = ask_ok("analytics/requests", ALL_RANGE "&offset=290&limit=50");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "rows")), 10);
    CHECK(json_is_false(json_object_get(j, "has_more")));
    json_decref(j);
}

static void test_request_by_id(void)
{
    seed s = seed_row(123);
    char qs[128];
    snprintf(qs, sizeof qs, "id=%s", s.id);
    json_t *j = ask_ok("analytics/request", qs);
    CHECK_EQ_STR(str(j, "id"), s.id);
    CHECK_EQ_STR(str(j, "provider"), s.provider);
    CHECK_NEAR(num(j, "cost"), s.cost);
    CHECK_EQ_INT(num(j, "ts_ms"), s.ts_ms);
    json_decref(j);
    answer a;
    j = ask("analytics/request", "id=nope", &a);
    CHECK_EQ_INT(a.status, 404);
    json_decref(j);
    answer_free(&a);
    j = ask("analytics/request", "", &a);
    CHECK_EQ_INT(a.status, 400);
    json_decref(j);
    answer_free(&a);
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_export(void)
{
    answer a;
    json_t *j = ask("analytics/export", ALL_RANGE "&format=csv", &a);
    CHECK(j == NULL); /* not JSON */
    CHECK_EQ_INT(a.status, 200);
    CHECK_EQ_STR(a.content_type, "text/csv; charset=utf-8");
    mg_buf header = {0};
    for (size_t i = 0; i < mg_record_nfields; i++)
        mg_buf_printf(&header, "%s%s", i ? "," : "", mg_record_fields[i].name);
    mg_buf_append_str(&header, "\r\n");
    CHECK(a.body && strncmp(a.body, mg_buf_cstr(&header), header.len) == 0);
    mg_buf_free(&header);
    CHECK_EQ_INT(count_str(a.body, "\r\n"), 301); /* the preview's own newline is bare \n */
    /* The formula-looking preview is quoted, its quotes doubled, and defused with '. */
    CHECK_EQ_INT(count_str(a.body, "\"'=HYPERLINK(\"\"x\"\"),\nline two\""), 300);
    CHECK(a.headers && strstr(a.headers, "Content-Disposition: attachment;") != NULL);
    CHECK(a.headers && strstr(a.headers, "X-Moongate-Rows: 300\r\n") != NULL);
    CHECK(a.headers && strstr(a.headers, "Truncated") == NULL);
    CHECK_EQ_INT(a.truncated, 0);
    answer_free(&a);

    j = ask("analytics/export", ALL_RANGE "&format=json&provider=openai", &a);
    CHECK_EQ_INT(a.status, 200);
    CHECK(json_is_array(j));
    CHECK_EQ_INT(json_array_size(j), 100);
    json_decref(j);
    answer_free(&a);

    j = ask("analytics/export", ALL_RANGE "&limit=10", &a);
    CHECK_EQ_INT(a.truncated, 1);
    CHECK(a.headers && strstr(a.headers, "X-Moongate-Truncated: 1\r\n") != NULL);
    CHECK_EQ_INT(count_str(a.body, "\r\n"), 11);
    answer_free(&a);
}

static void test_system_db(void)
{
    json_t *j = ask_ok("system/db", "");
    CHECK_EQ_INT(num(j, "requests"), 300);
    CHECK(num(j, "rollup_rows") >= 300); /* one a minute, each its own group */
    CHECK(num(j, "db_bytes") > 0);
    CHECK(num(j, "page_count") > 0);
    CHECK(num(j, "schema_version") >= 2);
    CHECK_EQ_INT(num(j, "oldest_ts_ms"), seed_row(0).ts_ms);
    CHECK_EQ_INT(num(j, "newest_ts_ms"), seed_row(299).ts_ms);
    json_decref(j);
}

/* ---- hostile input -------------------------------------------------------------------- */

static void test_sql_injection_is_inert(void)
{
    static const char *const attacks[] = {
        "provider=openai%27%20OR%20%271%27%3D%271",
        "model=x%27)%3B%20DROP%20TABLE%20requests%3B--",
        "status=success%22%20OR%201%3D1%20--",
        "user=%27%20UNION%20SELECT%20*%20FROM%20sqlite_master--",
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(attacks); i++) {
        char qs[512];
        snprintf(qs, sizeof qs, ALL_RANGE "&%s", attacks[i]);
        json_t *j = ask_ok("analytics/summary", qs);
        CHECK_EQ_INT(num(j, "requests"), 0);
        json_decref(j);
        j = ask_ok("analytics/timeseries", qs);
        CHECK_EQ_INT(num(json_array_get(json_object_get(j, "points"), 0), "value"), 0);
        json_decref(j);
    }
    answer a;
    json_t *j = ask("analytics/request", "id=%27%20OR%20%271%27%3D%271", &a);
    CHECK_EQ_INT(a.status, 404);
    json_decref(j);
    answer_free(&a);
    j = ask_ok("analytics/summary", ALL_RANGE);
    CHECK_EQ_INT(num(j, "requests"), 300); /* the table is still there */
    json_decref(j);
}

/* Expects a 400 (or `status`) whose message mentions `word`. */
static void expect_error(const char *endpoint, const char *qs, int status, const char *word)
{
    answer a;
    json_t *j = ask(endpoint, qs, &a);
    CHECK_EQ_INT(a.status, status);
    json_t *err = json_object_get(j, "error");
    CHECK_EQ_INT(num(err, "code"), status);
    const char *msg = str(err, "message");
    CHECK(msg && strstr(msg, word) != NULL);
    if (!msg || !strstr(msg, word))
        fprintf(stderr, "  %s?%s → %s\n", endpoint, qs, a.body ? a.body : "(none)");
    json_decref(j);
    answer_free(&a);
}

static void test_bad_parameters(void)
{
    expect_error("analytics/summary", "from=yesterday", 400, "'from'");
    expect_error("analytics/summary", "to=2023-02-30", 400, "'to'");
    expect_error("analytics/summary", "from=2023-11-14T25:00Z", 400, "'from'");
    expect_error("analytics/summary", "from=10&to=10", 400, "'from'");
    expect_error("analytics/summary", "min_cost=cheap", 400, "'min_cost'");
    expect_error("analytics/summary", "max_latency=nan", 400, "'max_latency'");
    expect_error("analytics/summary", "provider=%zz", 400, "escape");
    expect_error("analytics/summary", "provider=a%00b", 400, "NUL");
    expect_error("analytics/summary", "provider=a&provider=b", 400, "'provider'");
    expect_error("analytics/timeseries", "metric=bogus", 400, "'metric'");
    expect_error("analytics/timeseries", "bucket=week", 400, "'bucket'");
    expect_error("analytics/timeseries", "bucket=minute&from=0&to=1700000000000", 400, "'bucket'");
    expect_error("analytics/requests", "limit=0", 400, "'limit'");
    expect_error("analytics/requests", "limit=501", 400, "'limit'");
    expect_error("analytics/requests", "cursor=garbage", 400, "'cursor'");
    expect_error("analytics/export", "format=xml", 400, "'format'");
    expect_error("analytics/leaderboard", "period=decade", 400, "'period'");
    expect_error("analytics/nope", "", 404, "analytics/nope");
    char big[MG_ANALYTICS_QUERY_MAX + 16];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_error("analytics/summary", big, 400, "longer");
    /* Unknown parameters and empty values are ignored. */
    json_t *j = ask_ok("analytics/summary", ALL_RANGE "&_=123&provider=&&");
    CHECK_EQ_INT(num(j, "requests"), 300);
    json_decref(j);
    CHECK(mg_analytics_handles("analytics/summary"));
    CHECK(mg_analytics_handles("system/db"));
    CHECK(!mg_analytics_handles("analytics/nope"));
    CHECK(!mg_analytics_handles(NULL));
}

/* ---- cancel, loops, queue, threads ------------------------------------------------------- */

static void test_cancel(void)
{
    ensure_engine();
    answer first, second, third;
    memset(&first, 0, sizeof first);
    memset(&second, 0, sizeof second);
    memset(&third, 0, sizeof third);
    second.loop = g_loop;
    uint64_t t1 = 0, t2 = 0, t3 = 0;
    /* Cancelled while queued or running. */
    CHECK_EQ_INT(mg_analytics_query(g_an, g_loop, "analytics/model-comparison", ALL_RANGE, on_done,
                                    &first, &t1), MG_OK);
    CHECK_EQ_INT(mg_analytics_query(g_an, g_loop, "analytics/summary", ALL_RANGE, on_done,
                                    &second, &t2), MG_OK);
    CHECK(t1 != t2);
    mg_analytics_cancel(g_an, t1);
    run_until(g_loop, &second.called, 10);
    CHECK_EQ_INT(first.called, 0);
    CHECK_EQ_INT(second.called, 1);
    /* Cancelled after the reader delivered it, before the loop ran. */
    CHECK_EQ_INT(mg_analytics_query(g_an, g_loop, "analytics/summary", ALL_RANGE, on_done,
                                    &third, &t3), MG_OK);
    usleep(300 * 1000);
    mg_analytics_cancel(g_an, t3);
    answer fourth;
    memset(&fourth, 0, sizeof fourth);
    fourth.loop = g_loop;
    CHECK_EQ_INT(mg_analytics_query(g_an, g_loop, "system/db", "", on_done, &fourth, NULL), MG_OK);
    run_until(g_loop, &fourth.called, 10);
    CHECK_EQ_INT(third.called, 0);
    CHECK_EQ_INT(fourth.called, 1);
    /* Unknown and finished tickets are no-ops. */
    mg_analytics_cancel(g_an, t2);
    mg_analytics_cancel(g_an, 999999);
    mg_analytics_cancel(g_an, 0);
    answer_free(&second);
    answer_free(&fourth);
}

static void test_attach_detach(void)
{
    ensure_engine();
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    answer a;
    memset(&a, 0, sizeof a);
    /* Not attached yet. */
    CHECK_EQ_INT(mg_analytics_query(g_an, loop, "analytics/summary", "", on_done, &a, NULL), MG_ERR);
    CHECK_EQ_INT(mg_analytics_attach_loop(g_an, loop), MG_OK);
    CHECK_EQ_INT(mg_analytics_attach_loop(g_an, loop), MG_OK); /* again: no-op */
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(mg_analytics_query(g_an, loop, "analytics/model-comparison", ALL_RANGE,
                                        on_done, &a, NULL), MG_OK);
    usleep(50 * 1000); /* some are delivered, some queued, maybe one running */
    mg_analytics_detach_loop(g_an, loop);
    mg_analytics_detach_loop(g_an, loop); /* again: no-op */
    ev_run(loop, EVRUN_NOWAIT);
    CHECK_EQ_INT(a.called, 0);
    CHECK_EQ_INT(mg_analytics_query(g_an, loop, "analytics/summary", "", on_done, &a, NULL), MG_ERR);
    ev_loop_destroy(loop);
    /* The engine still serves the other loop. */
    json_t *j = ask_ok("system/db", "");
    CHECK_EQ_INT(num(j, "requests"), 300);
    json_decref(j);
    CHECK_EQ_INT(mg_analytics_query(NULL, g_loop, "system/db", "", on_done, &a, NULL), MG_ERR);
    CHECK_EQ_INT(mg_analytics_query(g_an, g_loop, NULL, "", on_done, &a, NULL), MG_ERR);
}

typedef struct counter {
    int done, want;
    struct ev_loop *loop;
} counter;

static void on_count(void *ud, const mg_analytics_reply *r)
{
    counter *c = ud;
    c->done += r->status == 200;
    if (c->done == c->want)
        ev_break(c->loop, EVBREAK_ALL);
}

static void test_queue_full(void)
{
    ensure_engine();
    counter c = {0, 0, g_loop};
    int again = 0;
    for (int i = 0; i < 5000 && !again; i++) {
        int rc = mg_analytics_query(g_an, g_loop, "analytics/summary", ALL_RANGE, on_count, &c, NULL);
        if (rc == MG_OK)
            c.want++;
        again = rc == MG_AGAIN;
    }
    CHECK(again);
    CHECK(c.want >= MG_ANALYTICS_QUEUE_MAX);
    int all_done = 0;
    double end = mg_now_mono() + 60;
    while (c.done < c.want && mg_now_mono() < end)
        run_until(g_loop, &all_done, 1);
    CHECK_EQ_INT(c.done, c.want);
}

typedef struct thread_run {
    mg_analytics *an;
    answer a;
    pthread_t self;
    int attach_rc, query_rc;
} thread_run;

static void *loop_thread(void *arg)
{
    thread_run *t = arg;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    t->self = pthread_self();
    t->attach_rc = mg_analytics_attach_loop(t->an, loop);
    t->a.loop = loop;
    t->query_rc = mg_analytics_query(t->an, loop, "analytics/summary", ALL_RANGE "&provider=gemini",
                                     on_done, &t->a, NULL);
    run_until(loop, &t->a.called, 10);
    mg_analytics_detach_loop(t->an, loop);
    ev_loop_destroy(loop);
    return NULL;
}

static void test_second_loop_thread(void)
{
    ensure_engine();
    thread_run t;
    memset(&t, 0, sizeof t);
    t.an = g_an;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, loop_thread, &t) == 0);
    /* Meanwhile this loop asks too. */
    json_t *j = ask_ok("analytics/summary", ALL_RANGE);
    CHECK_EQ_INT(num(j, "requests"), 300);
    json_decref(j);
    pthread_join(th, NULL);
    CHECK_EQ_INT(t.attach_rc, MG_OK);
    CHECK_EQ_INT(t.query_rc, MG_OK);
    CHECK_EQ_INT(t.a.called, 1);
    CHECK(pthread_equal(t.a.thread, t.self));
    j = t.a.body ? json_loads(t.a.body, 0, NULL) : NULL;
    CHECK_EQ_INT(num(j, "requests"), 100);
    json_decref(j);
    answer_free(&t.a);
}

static void test_close_drops_pending(void)
{
    const char *db = fixture_db();
    char err[MG_ERRLEN] = "";
    CHECK(mg_analytics_open("/nonexistent/dir/x.db", err) == NULL);
    CHECK(strstr(err, "cannot open") != NULL);
    answer a;
    memset(&a, 0, sizeof a);
    /* Detached first, as the contract asks. */
    mg_analytics *an = mg_analytics_open(db, err);
    CHECK(an != NULL);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    CHECK_EQ_INT(mg_analytics_attach_loop(an, loop), MG_OK);
    for (int i = 0; i < 20; i++)
        mg_analytics_query(an, loop, "analytics/model-comparison", ALL_RANGE, on_done, &a, NULL);
    mg_analytics_detach_loop(an, loop);
    mg_analytics_close(an);
    /* Closed with the loop still attached and replies pending: freed, the
     * loop is not touched and never runs again. */
    an = mg_analytics_open(db, err);
    CHECK(an != NULL);
    CHECK_EQ_INT(mg_analytics_attach_loop(an, loop), MG_OK);
    for (int i = 0; i < 20; i++)
        mg_analytics_query(an, loop, "analytics/summary", ALL_RANGE, on_done, &a, NULL);
    usleep(20 * 1000);
    mg_analytics_close(an);
    ev_loop_destroy(loop);
    CHECK_EQ_INT(a.called, 0);
    mg_analytics_close(NULL);
}

/* ---- timings (MG_ANALYTICS_BENCH=rows) ---------------------------------------------------- */

static double time_query(mg_analytics *an, struct ev_loop *loop, const char *ep, const char *qs,
                         int *status)
{
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        answer a;
        memset(&a, 0, sizeof a);
        a.loop = loop;
        double t0 = mg_now_mono();
        if (mg_analytics_query(an, loop, ep, qs, on_done, &a, NULL) != MG_OK)
            return -1;
        run_until(loop, &a.called, 120);
        double ms = (mg_now_mono() - t0) * 1000;
        best = ms < best ? ms : best;
        *status = a.status;
        answer_free(&a);
    }
    return best;
}

static void test_bench(void)
{
    const char *env = getenv("MG_ANALYTICS_BENCH");
    int n = env ? atoi(env) : 0;
    if (n <= NROWS)
        return;
    char dir[] = "/tmp/mg_test_analytics_XXXXXX", db[128], err[MG_ERRLEN] = "";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(db, sizeof db, "%s/bench.db", dir);
    double t0 = mg_now_mono();
    CHECK_EQ_INT(seed_db(db, n), MG_OK);
    printf("bench: seeded %d rows in %.0f ms\n", n, (mg_now_mono() - t0) * 1000);
    mg_analytics *an = mg_analytics_open(db, err);
    CHECK(an != NULL);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    mg_analytics_attach_loop(an, loop);
    static const char *const cases[][2] = {
        {"analytics/summary", ""},
        {"analytics/summary", "provider=openai"},
        {"analytics/timeseries", "bucket=hour"},
        {"analytics/timeseries", "bucket=minute&metric=cost"},
        {"analytics/timeseries", "bucket=minute&metric=cost&source=requests"},
        {"analytics/timeseries", "bucket=hour&user=user-3"},
        {"analytics/models", ""},
        {"analytics/model-comparison", ""},
        {"analytics/providers", ""},
        {"analytics/leaderboard", "period=all"},
        {"analytics/requests", "limit=50"},
        {"analytics/export", "format=csv"},
        {"system/db", ""},
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
        int status = 0;
        double ms = time_query(an, loop, cases[i][0], cases[i][1], &status);
        printf("bench: %-28s %-45s %4d %8.2f ms\n", cases[i][0], cases[i][1], status, ms);
        CHECK_EQ_INT(status, 200);
    }
    ensure_engine();
    mg_analytics_attach_loop(an, g_loop);
    answer a;
    json_t *j = ask_on(an, "system/db", "", &a);
    printf("bench: %.0f requests rows, %.0f rollup rows\n", num(j, "requests"), num(j, "rollup_rows"));
    json_decref(j);
    answer_free(&a);
    mg_analytics_detach_loop(an, g_loop);
    mg_analytics_detach_loop(an, loop);
    ev_loop_destroy(loop);
    mg_analytics_close(an);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_teardown(void)
{
    if (g_an) {
        mg_analytics_detach_loop(g_an, g_loop);
        mg_analytics_close(g_an);
        ev_loop_destroy(g_loop);
        g_an = NULL;
    }
    if (g_dir[0] && strncmp(g_dir, "/tmp/mg_test_analytics_", 23) == 0)
        nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TEST_MAIN(T(test_summary_all_rows), T(test_summary_filters), T(test_timeseries_hourly),
          T(test_timeseries_paths_agree), T(test_timeseries_alignment),
          T(test_models_and_comparison), T(test_cost_and_savings), T(test_errors_grouped),
          T(test_providers), T(test_providers_recent),
          T(test_breakdowns_blend_exactly), T(test_leaderboard), T(test_requests_paging), T(test_request_by_id),
          T(test_export), T(test_system_db), T(test_sql_injection_is_inert),
          T(test_bad_parameters), T(test_cancel), T(test_attach_detach), T(test_queue_full),
          T(test_second_loop_thread), T(test_close_drops_pending), T(test_bench),
          T(test_teardown))
