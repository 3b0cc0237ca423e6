/* test_keys.c — virtual keys on the request path: secret format, auth
 * modes, model allow-list, and every limit exact while two threads hammer
 * one key (max_concurrency, rpm, tpm, daily budget, global budget), budget
 * warnings once per threshold, period roll-over, revoke / rotate / expiry,
 * and slowing an address that keeps failing. The admin API, validation and
 * SQLite persistence are in test_keys_admin.c. */
#include <ctype.h>
#include <pthread.h>
#include <sched.h>

#include "test_keys_util.h"

#define DAY_MS 86400000LL

/* ---- secrets, auth modes, credentials --------------------------------- */

static void test_secret_format(void)
{
    mg_keys *k = test_keys_new(MG_AUTH_OPEN, NULL);
    char s1[64], s2[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"a\"}", s1, NULL), 201);
    CHECK_EQ_INT(test_create(k, "{\"name\":\"b\"}", s2, NULL), 201);
    CHECK_EQ_INT(strlen(s1), MG_KEYS_SECRET_LEN);
    CHECK(strncmp(s1, "mg-", 3) == 0);
    int alnum = 1;
    for (const char *p = s1 + 3; *p; p++)
        alnum &= isalnum((unsigned char)*p) != 0;
    CHECK(alnum);
    CHECK(strcmp(s1, s2) != 0);
    mg_keys_close(k);
}

static void test_auth_modes(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_OPEN, &clock);
    mg_key_admission adm;
    /* Open, no keys: anonymous admits, provider keys pass untouched. */
    CHECK_EQ_INT(test_admit(k, NULL, "gpt-4o", 10, 0, &adm), MG_OK);
    CHECK_EQ_STR(adm.key_id, "");
    CHECK(adm.lease.held && !adm.lease.key);
    mg_keys_release(k, &adm.lease, 0, 0);
    CHECK_EQ_INT(test_admit(k, "sk-provider-key", "gpt-4o", 10, 0, &adm), MG_OK);
    mg_keys_release(k, &adm.lease, 0, 0);
    /* ...but an mg- key that matches nothing is refused even when open. */
    CHECK_EQ_INT(test_admit(k, "mg-doesnotexist", "gpt-4o", 10, 0, &adm), MG_ERR);
    CHECK_EQ_INT(adm.status, 401);
    CHECK_EQ_STR(adm.kind, "authentication_error");

    char secret[64], id[40];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"ci-bot\",\"user_id\":\"ann\",\"environment\":\"ci\"}",
                             secret, id),
                 201);
    CHECK_EQ_INT(test_admit(k, secret, "gpt-4o", 10, 0, &adm), MG_OK);
    CHECK_EQ_STR(adm.key_id, id);
    CHECK_EQ_STR(adm.key_name, "ci-bot");
    CHECK_EQ_STR(adm.user_id, "ann");
    CHECK_EQ_STR(adm.environment, "ci");
    mg_keys_release(k, &adm.lease, 0, 0);
    mg_keys_release(k, &adm.lease, 0, 0); /* idempotent */

    mg_keys_opts o;
    mg_keys_opts_default(&o);
    o.auth_mode = MG_AUTH_KEYS;
    mg_keys_configure(k, &o);
    CHECK_EQ_INT(test_admit(k, NULL, "gpt-4o", 10, 0, &adm), MG_ERR);
    CHECK_EQ_INT(adm.status, 401);
    CHECK(strstr(adm.message, "missing API key") != NULL);
    CHECK_EQ_INT(test_admit(k, "sk-provider-key", "gpt-4o", 10, 0, &adm), MG_ERR);
    CHECK_EQ_INT(adm.status, 401);
    CHECK_EQ_INT(test_admit(k, secret, "gpt-4o", 10, 0, &adm), MG_OK);
    mg_keys_release(k, &adm.lease, 0, 0);
    /* The host's own requests need no key. */
    CHECK_EQ_INT(mg_keys_admit_internal(k, 0.01, &adm), MG_OK);
    CHECK(adm.lease.held && !adm.lease.key);
    mg_keys_release(k, &adm.lease, 0.01, 0);

    /* Auto: required while a key that is not revoked exists. */
    o.auth_mode = MG_AUTH_AUTO;
    mg_keys_configure(k, &o);
    CHECK_EQ_INT(mg_keys_auth_mode(k), MG_AUTH_KEYS);
    CHECK_EQ_INT(test_call(k, "POST", "/ci-bot/revoke", NULL, NULL), 200);
    CHECK_EQ_INT(mg_keys_auth_mode(k), MG_AUTH_OPEN);
    mg_keys_close(k);
}

static void test_credential_headers(void)
{
    mg_header h[2];
    mg_http_req req = {0};
    req.headers = h;
    req.query = "";
    size_t n = 0;
    h[0] = (mg_header){"Authorization", "Bearer  mg-abc ", 13, 15};
    req.nheaders = 1;
    const char *c = mg_keys_credential(&req, &n);
    CHECK(c && n == 6 && memcmp(c, "mg-abc", 6) == 0);
    h[0] = (mg_header){"x-api-key", "mg-xyz", 9, 6};
    c = mg_keys_credential(&req, &n);
    CHECK(c && n == 6 && memcmp(c, "mg-xyz", 6) == 0);
    h[0] = (mg_header){"X-Goog-Api-Key", "mg-goo", 14, 6};
    c = mg_keys_credential(&req, &n);
    CHECK(c && n == 6 && memcmp(c, "mg-goo", 6) == 0);
    req.nheaders = 0;
    req.query = "alt=sse&key=mg-qqq&x=1";
    c = mg_keys_credential(&req, &n);
    CHECK(c && n == 6 && memcmp(c, "mg-qqq", 6) == 0);
    req.query = "alt=sse";
    CHECK(mg_keys_credential(&req, &n) == NULL);
    h[0] = (mg_header){"authorization", "Basic abc", 13, 9};
    req.nheaders = 1;
    CHECK(mg_keys_credential(&req, &n) == NULL);
}

static void test_models_allowed(void)
{
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, NULL);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"m\",\"models\":[\"gpt-4o-mini\",\"claude-*\"]}", secret,
                             NULL),
                 201);
    mg_key_admission adm;
    CHECK_EQ_INT(test_admit(k, secret, "gpt-4o-mini", 1, 0, &adm), MG_OK);
    mg_keys_release(k, &adm.lease, 0, 1);
    CHECK_EQ_INT(test_admit(k, secret, "claude-haiku-4-5", 1, 0, &adm), MG_OK);
    mg_keys_release(k, &adm.lease, 0, 1);
    CHECK_EQ_INT(test_admit(k, secret, "gpt-4o", 1, 0, &adm), MG_ERR);
    CHECK_EQ_INT(adm.status, 403);
    CHECK_EQ_STR(adm.kind, "permission_error");
    CHECK(strstr(adm.message, "may not use model 'gpt-4o'") != NULL);
    CHECK(strstr(adm.message, "gpt-4o-mini, claude-*") != NULL);
    mg_keys_close(k);
}

/* ---- two threads hammering one key ------------------------------------ */

typedef struct hammer {
    mg_keys *k;
    const char *secret;
    int iterations;
    long est_tokens;
    double est_cost, cost;
    long tokens;
    int hold;                   /* keep the lease across a yield */
    atomic_int *holders;        /* leases held right now */
    atomic_int *max_holders;
    atomic_int admitted;
    atomic_int refused_429;
} hammer;

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    for (int i = 0; i < h->iterations; i++) {
        mg_key_admission adm;
        if (test_admit(h->k, h->secret, "m", h->est_tokens, h->est_cost, &adm) != MG_OK) {
            if (adm.status == 429)
                atomic_fetch_add(&h->refused_429, 1);
            continue;
        }
        atomic_fetch_add(&h->admitted, 1);
        if (h->holders) {
            int now = atomic_fetch_add(h->holders, 1) + 1;
            int seen = atomic_load(h->max_holders);
            while (now > seen && !atomic_compare_exchange_weak(h->max_holders, &seen, now)) {
            }
            if (h->hold)
                sched_yield();
            atomic_fetch_sub(h->holders, 1);
        }
        mg_keys_release(h->k, &adm.lease, h->cost, h->tokens);
    }
    return NULL;
}

/* Runs two threads with the same settings; returns total admitted. */
static int run_two(hammer *proto, int *refused)
{
    hammer h[2] = {*proto, *proto};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hammer_main, &h[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (refused)
        *refused = atomic_load(&h[0].refused_429) + atomic_load(&h[1].refused_429);
    return atomic_load(&h[0].admitted) + atomic_load(&h[1].admitted);
}

static void test_concurrency_exact(void)
{
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, NULL);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"c\",\"max_concurrency\":3}", secret, NULL), 201);
    atomic_int holders = 0, max_holders = 0;
    hammer proto = {.k = k, .secret = secret, .iterations = 20000, .hold = 1,
                    .holders = &holders, .max_holders = &max_holders};
    /* Each thread holds at most one lease at a time, so two threads alone
     * cannot pass 2: take a third and fourth slot from this thread. */
    mg_key_admission a1, a2;
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a1), MG_OK);
    atomic_fetch_add(&holders, 1);
    int refused = 0;
    int admitted = run_two(&proto, &refused);
    CHECK(admitted > 0);
    CHECK(atomic_load(&max_holders) <= 3);
    /* With one slot taken here, the two threads fill the other two. */
    CHECK_EQ_INT(atomic_load(&max_holders), 3);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a2), MG_OK);
    mg_key_admission a3, a4;
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a3), MG_OK);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a4), MG_ERR);
    CHECK_EQ_INT(a4.status, 429);
    CHECK(strstr(a4.message, "max_concurrency") != NULL);
    CHECK(a4.retry_after >= 1);
    mg_keys_release(k, &a1.lease, 0, 0);
    mg_keys_release(k, &a2.lease, 0, 0);
    mg_keys_release(k, &a3.lease, 0, 0);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a4), MG_OK);
    mg_keys_release(k, &a4.lease, 0, 0);
    mg_keys_close(k);
}

static void test_concurrency_many_threads(void)
{
    enum { THREADS = 8 };
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, NULL);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"c\",\"max_concurrency\":3}", secret, NULL), 201);
    atomic_int holders = 0, max_holders = 0;
    hammer h[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        h[i] = (hammer){.k = k, .secret = secret, .iterations = 5000, .hold = 1,
                        .holders = &holders, .max_holders = &max_holders};
        pthread_create(&t[i], NULL, hammer_main, &h[i]);
    }
    int refused = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        refused += atomic_load(&h[i].refused_429);
    }
    CHECK(atomic_load(&max_holders) <= 3);
    CHECK(atomic_load(&max_holders) >= 2);
    json_t *j;
    CHECK_EQ_INT(test_call(k, "GET", "/c", NULL, &j), 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "usage"), "inflight")), 0);
    json_decref(j);
    mg_keys_close(k);
}

static void test_rpm_exact(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"r\",\"rpm\":100}", secret, NULL), 201);
    hammer proto = {.k = k, .secret = secret, .iterations = 1000};
    int refused = 0;
    CHECK_EQ_INT(run_two(&proto, &refused), 100);
    CHECK_EQ_INT(refused, 1900);
    mg_key_admission adm;
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &adm), MG_ERR);
    CHECK_EQ_INT(adm.status, 429);
    CHECK_EQ_INT(adm.retry_after, 60);
    CHECK(strstr(adm.message, "100 requests per minute") != NULL);
    /* Still inside the window 59 s later; out of it at 60 s. */
    atomic_store(&clock.ms, T0_MS + 59000);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &adm), MG_ERR);
    CHECK_EQ_INT(adm.retry_after, 1);
    atomic_store(&clock.ms, T0_MS + 60000);
    CHECK_EQ_INT(run_two(&proto, NULL), 100);
    /* Sliding: 50 at t, 50 at t+30 s; at t+60 s only the first 50 left. */
    atomic_store(&clock.ms, T0_MS + 200000);
    proto.iterations = 25;
    CHECK_EQ_INT(run_two(&proto, NULL), 50);
    atomic_store(&clock.ms, T0_MS + 230000);
    CHECK_EQ_INT(run_two(&proto, NULL), 50);
    atomic_store(&clock.ms, T0_MS + 260000);
    proto.iterations = 1000;
    CHECK_EQ_INT(run_two(&proto, NULL), 50);
    mg_keys_close(k);
}

static void test_tpm_estimate_and_correction(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"t\",\"tpm\":1000}", secret, NULL), 201);
    /* Estimates of 100 held in flight: exactly 10 fit. */
    mg_key_admission adm[12];
    int ok = 0;
    for (int i = 0; i < 12; i++)
        ok += test_admit(k, secret, "m", 100, 0, &adm[i]) == MG_OK;
    CHECK_EQ_INT(ok, 10);
    CHECK_EQ_INT(adm[10].status, 429);
    CHECK(strstr(adm[10].message, "tokens per minute") != NULL);
    /* Each used only 40: 600 come back. */
    for (int i = 0; i < 10; i++)
        mg_keys_release(k, &adm[i].lease, 0, 40);
    ok = 0;
    for (int i = 0; i < 7; i++)
        ok += test_admit(k, secret, "m", 100, 0, &adm[i]) == MG_OK;
    CHECK_EQ_INT(ok, 6);
    for (int i = 0; i < 6; i++)
        mg_keys_release(k, &adm[i].lease, 0, 100);
    /* An estimate larger than the whole limit passes only an empty window. */
    atomic_store(&clock.ms, T0_MS + 61000);
    CHECK_EQ_INT(test_admit(k, secret, "m", 5000, 0, &adm[0]), MG_OK);
    CHECK_EQ_INT(test_admit(k, secret, "m", 1, 0, &adm[1]), MG_ERR);
    mg_keys_release(k, &adm[0].lease, 0, 10);
    CHECK_EQ_INT(test_admit(k, secret, "m", 1, 0, &adm[1]), MG_OK);
    mg_keys_release(k, &adm[1].lease, 0, 1);
    /* Two threads: est 10, actual 10, tpm 1000 -> exactly 100. */
    atomic_store(&clock.ms, T0_MS + 200000);
    hammer proto = {.k = k, .secret = secret, .iterations = 500, .est_tokens = 10,
                    .tokens = 10};
    CHECK_EQ_INT(run_two(&proto, NULL), 100);
    mg_keys_close(k);
}

/* ---- budgets ------------------------------------------------------------ */

typedef struct warn_log {
    pthread_mutex_t lock;
    int n;
    char what[32][96];
} warn_log;

static void on_warn(void *ud, const mg_budget_event *ev)
{
    warn_log *w = ud;
    pthread_mutex_lock(&w->lock);
    if (w->n < 32)
        snprintf(w->what[w->n++], sizeof w->what[0], "%s %s %s %.2f", ev->scope,
                 ev->key_name ? ev->key_name : "-", ev->period, ev->threshold);
    pthread_mutex_unlock(&w->lock);
}

static int warn_count(warn_log *w, const char *what)
{
    int n = 0;
    for (int i = 0; i < w->n; i++)
        n += strcmp(w->what[i], what) == 0;
    return n;
}

static void test_budget_boundary_two_threads(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    warn_log w = {.lock = PTHREAD_MUTEX_INITIALIZER};
    CHECK_EQ_INT(mg_keys_on_budget(k, on_warn, &w), MG_OK);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"ci-bot\",\"budget_usd_day\":5}", secret, NULL), 201);
    /* Worst case $0.05, real cost $0.05: exactly 100 requests fit $5. */
    hammer proto = {.k = k, .secret = secret, .iterations = 1000, .est_cost = 0.05,
                    .cost = 0.05};
    int refused = 0;
    CHECK_EQ_INT(run_two(&proto, &refused), 100);
    CHECK_EQ_INT(refused, 1900);
    mg_key_admission adm;
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &adm), MG_ERR);
    CHECK_EQ_INT(adm.status, 429);
    CHECK_EQ_STR(adm.kind, "budget_exceeded");
    CHECK_EQ_STR(adm.message, "key 'ci-bot' reached its $5.00 daily budget; resets at 00:00 UTC");
    CHECK_EQ_INT(adm.retry_after, 12 * 3600); /* T0 is noon */
    CHECK_EQ_INT(w.n, 2);
    CHECK_EQ_INT(warn_count(&w, "key ci-bot day 0.80"), 1);
    CHECK_EQ_INT(warn_count(&w, "key ci-bot day 1.00"), 1);
    /* Next UTC day: spend resets, warnings can fire again. */
    atomic_store(&clock.ms, T0_MS + DAY_MS);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 4.5, &adm), MG_OK);
    mg_keys_release(k, &adm.lease, 4.0, 0);
    CHECK_EQ_INT(warn_count(&w, "key ci-bot day 0.80"), 2);
    mg_keys_close(k);
}

static void test_budget_worst_case(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"b\",\"budget_usd_day\":1}", secret, NULL), 201);
    mg_key_admission a, b;
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0.5, &a), MG_OK);
    mg_keys_release(k, &a.lease, 0.9, 0); /* settled: $0.90 */
    /* $0.20 worst case would pass $1.00: refused until the reset. */
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0.2, &b), MG_ERR);
    CHECK(strstr(b.message, "has $0.10 left of its $1.00 daily budget") != NULL);
    CHECK(strstr(b.message, "lower max_tokens") != NULL);
    CHECK_EQ_INT(b.retry_after, 12 * 3600);
    /* $0.06 fits; a second $0.06 does not while the first is in flight. */
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0.06, &a), MG_OK);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0.06, &b), MG_ERR);
    CHECK(strstr(b.message, "requests in flight") != NULL);
    CHECK_EQ_INT(b.retry_after, 1);
    mg_keys_release(k, &a.lease, 0.01, 0);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0.06, &b), MG_OK);
    mg_keys_release(k, &b.lease, 0.09, 0); /* exactly $1.00 now */
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &b), MG_ERR);
    CHECK(strstr(b.message, "reached its $1.00 daily budget") != NULL);
    /* Pausing lifts enforcement; resuming restores it. */
    mg_buf out = {0};
    CHECK_EQ_INT(mg_keys_budget_call(k, "POST", "/pause", &out), 200);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &b), MG_OK);
    mg_keys_release(k, &b.lease, 0, 0);
    mg_buf_reset(&out);
    CHECK_EQ_INT(mg_keys_budget_call(k, "POST", "/resume", &out), 200);
    mg_buf_free(&out);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &b), MG_ERR);
    mg_keys_close(k);
}

static void test_budget_sub_cent_messages(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"tiny\",\"budget_usd_day\":0.0005}", secret, NULL),
                 201);
    mg_key_admission a;
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0.0001, &a), MG_OK);
    mg_keys_release(k, &a.lease, 0.000386, 0);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0.000214, &a), MG_ERR);
    CHECK_EQ_STR(a.message, "key 'tiny' has $0.000114 left of its $0.0005 daily budget and this "
                            "request may cost up to $0.000214; lower max_tokens or wait for the "
                            "reset at 00:00 UTC");
    mg_keys_close(k);
}

static void test_hostile_figures(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"h\",\"tpm\":1000,\"budget_usd_day\":1}", secret,
                             NULL),
                 201);
    mg_key_admission a, b;
    /* Absurd estimates are clamped, never overflow or poison the sums. */
    CHECK_EQ_INT(test_admit(k, secret, "m", 0x7fffffffffffffffL, 1.0 / 0.0, &a), MG_ERR);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0x7fffffffffffffffL, 0.0 / 0.0, &a), MG_OK);
    mg_keys_release(k, &a.lease, 0.0 / 0.0, -5);
    CHECK_EQ_INT(test_admit(k, secret, "m", -7, -1, &b), MG_OK);
    mg_keys_release(k, &b.lease, 1.0 / 0.0, 0x7fffffffffffffffL);
    CHECK_EQ_INT(test_admit(k, secret, "m", 1, 0, &b), MG_ERR);
    CHECK_EQ_INT(b.status, 429);
    json_t *j;
    CHECK_EQ_INT(test_call(k, "GET", "/h", NULL, &j), 200);
    json_t *usage = json_object_get(j, "usage");
    CHECK(json_number_value(json_object_get(usage, "spent_usd_day")) == 1e9);
    CHECK_EQ_INT(json_integer_value(json_object_get(usage, "tokens_last_minute")), 1000000000000L);
    json_decref(j);
    mg_keys_close(k);
}

static void test_monthly_budget(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"mo\",\"budget_usd_month\":2}", secret, NULL), 201);
    mg_key_admission a;
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a), MG_OK);
    mg_keys_release(k, &a.lease, 2.0, 0);
    atomic_store(&clock.ms, T0_MS + 5 * DAY_MS); /* a new day, same month */
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a), MG_ERR);
    CHECK(strstr(a.message, "$2.00 monthly budget; resets on 2025-04-01 at 00:00 UTC") != NULL);
    atomic_store(&clock.ms, 1743465600000LL); /* 2025-04-01T00:00:00Z */
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a), MG_OK);
    mg_keys_release(k, &a.lease, 0, 0);
    mg_keys_close(k);
}

static void test_global_budget(void)
{
    test_clock clock = {T0_MS};
    mg_keys_opts o;
    mg_keys_opts_default(&o);
    o.budget_day_usd = 100;
    o.warn_at[0] = 0.5;
    o.warn_at[1] = 0.8;
    o.nwarn_at = 2;
    char err[MG_ERRLEN];
    mg_keys *k = mg_keys_open(&o, err);
    mg_keys_set_clock(k, test_clock_now, &clock);
    warn_log w = {.lock = PTHREAD_MUTEX_INITIALIZER};
    mg_keys_on_budget(k, on_warn, &w);
    /* Anonymous traffic (open mode) counts against the global budget. */
    hammer proto = {.k = k, .secret = NULL, .iterations = 1000, .est_cost = 1.0, .cost = 1.0};
    CHECK_EQ_INT(run_two(&proto, NULL), 100);
    mg_key_admission a;
    CHECK_EQ_INT(test_admit(k, NULL, "m", 0, 0, &a), MG_ERR);
    CHECK_EQ_INT(a.status, 429);
    CHECK_EQ_STR(a.kind, "budget_exceeded");
    CHECK_EQ_STR(a.message, "the gateway reached its $100.00 daily budget; resets at 00:00 UTC");
    CHECK_EQ_INT(w.n, 3);
    CHECK_EQ_INT(warn_count(&w, "global - day 0.50"), 1);
    CHECK_EQ_INT(warn_count(&w, "global - day 0.80"), 1);
    CHECK_EQ_INT(warn_count(&w, "global - day 1.00"), 1);
    /* A key's requests count too. */
    atomic_store(&clock.ms, T0_MS + DAY_MS);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"g\"}", secret, NULL), 201);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a), MG_OK);
    mg_keys_release(k, &a.lease, 100, 0);
    CHECK_EQ_INT(test_admit(k, NULL, "m", 0, 0, &a), MG_ERR);
    mg_buf out = {0};
    CHECK_EQ_INT(mg_keys_budget_call(k, "GET", "/status", &out), 200);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    json_t *g = json_object_get(j, "global");
    CHECK(json_real_value(json_object_get(g, "spent_usd_day")) == 100.0 ||
          json_integer_value(json_object_get(g, "spent_usd_day")) == 100);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "keys")), 1);
    json_decref(j);
    mg_buf_free(&out);
    mg_keys_close(k);
}

/* ---- revoke, rotate, expiry, failed attempts ---------------------------- */

static void test_revoke_rotate_expire(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    char s1[64], s2[64], id[40];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"rot\"}", s1, id), 201);
    mg_key_admission a;
    CHECK_EQ_INT(test_admit(k, s1, "m", 0, 0, &a), MG_OK);
    /* Rotate while a request is in flight: it still releases cleanly. */
    json_t *j;
    char sub[64];
    snprintf(sub, sizeof sub, "/%s/rotate", id);
    CHECK_EQ_INT(test_call(k, "POST", sub, NULL, &j), 200);
    snprintf(s2, sizeof s2, "%s", json_string_value(json_object_get(j, "secret")));
    json_decref(j);
    CHECK(strcmp(s1, s2) != 0);
    mg_keys_release(k, &a.lease, 0, 0);
    mg_key_admission b;
    CHECK_EQ_INT(test_admit(k, s1, "m", 0, 0, &b), MG_ERR);
    CHECK_EQ_INT(b.status, 401);
    CHECK_EQ_INT(test_admit(k, s2, "m", 0, 0, &b), MG_OK);
    CHECK_EQ_STR(b.key_id, id);
    mg_keys_release(k, &b.lease, 0, 0);
    /* Revoke: the next admit is refused, naming the key. */
    CHECK_EQ_INT(test_call(k, "POST", "/rot/revoke", NULL, NULL), 200);
    CHECK_EQ_INT(test_admit(k, s2, "m", 0, 0, &b), MG_ERR);
    CHECK_EQ_INT(b.status, 401);
    CHECK(strstr(b.message, "key 'rot' was revoked at 2025-03-10T12:00:00Z") != NULL);
    CHECK_EQ_INT(test_call(k, "POST", sub, NULL, NULL), 409);
    /* Expiry. */
    CHECK_EQ_INT(test_create(k, "{\"name\":\"exp\",\"expires_at\":\"2025-03-11\"}", s1, NULL), 201);
    CHECK_EQ_INT(test_admit(k, s1, "m", 0, 0, &b), MG_OK);
    mg_keys_release(k, &b.lease, 0, 0);
    atomic_store(&clock.ms, 1741651200000LL); /* 2025-03-11T00:00:00Z */
    CHECK_EQ_INT(test_admit(k, s1, "m", 0, 0, &b), MG_ERR);
    CHECK_EQ_INT(b.status, 401);
    CHECK(strstr(b.message, "expired at 2025-03-11T00:00:00Z") != NULL);
    mg_keys_close(k);
}

static void test_failed_attempts_slowed(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    char secret[64];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"f\"}", secret, NULL), 201);
    mg_key_admission a;
    for (int i = 0; i < 20; i++) {
        CHECK_EQ_INT(mg_keys_admit_ip(k, "10.0.0.9", "mg-wrong", 8, "m", 0, 0, &a), MG_ERR);
        CHECK_EQ_INT(a.status, 401);
    }
    CHECK_EQ_INT(mg_keys_admit_ip(k, "10.0.0.9", "mg-wrong", 8, "m", 0, 0, &a), MG_ERR);
    CHECK_EQ_INT(a.status, 429);
    CHECK_EQ_INT(a.retry_after, 60);
    /* Other addresses and valid keys are unaffected. */
    CHECK_EQ_INT(mg_keys_admit_ip(k, "10.0.0.10", "mg-wrong", 8, "m", 0, 0, &a), MG_ERR);
    CHECK_EQ_INT(a.status, 401);
    CHECK_EQ_INT(mg_keys_admit_ip(k, "10.0.0.9", secret, strlen(secret), "m", 0, 0, &a), MG_OK);
    mg_keys_release(k, &a.lease, 0, 0);
    atomic_store(&clock.ms, T0_MS + 60000);
    CHECK_EQ_INT(mg_keys_admit_ip(k, "10.0.0.9", "mg-wrong", 8, "m", 0, 0, &a), MG_ERR);
    CHECK_EQ_INT(a.status, 401);
    mg_keys_close(k);
}

TEST_MAIN(T(test_secret_format), T(test_auth_modes), T(test_credential_headers),
          T(test_models_allowed), T(test_concurrency_exact), T(test_concurrency_many_threads),
          T(test_rpm_exact), T(test_tpm_estimate_and_correction),
          T(test_budget_boundary_two_threads), T(test_budget_worst_case), T(test_budget_sub_cent_messages), T(test_hostile_figures),
          T(test_monthly_budget),
          T(test_global_budget), T(test_revoke_rotate_expire), T(test_failed_attempts_slowed))
