/* admit.c — the request path: find the presented key by its hash, check
 * it (revoked, expired, model), then reserve a concurrency slot, an rpm
 * slot, the token estimate and the cost estimate against the key's and the
 * gateway's budgets — all or nothing, under the key's lock and then the
 * global lock, so limits hold exactly across worker threads. Release
 * settles the real figures and fires budget warnings outside the locks. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char KIND_AUTH[] = "authentication_error";
static const char KIND_PERM[] = "permission_error";
static const char KIND_RATE[] = "rate_limit_error";
static const char KIND_BUDGET[] = "budget_exceeded";
static const char WHERE_KEYS[] =
    "a moongate virtual key (mg-...) in Authorization: Bearer, x-api-key or x-goog-api-key";

/* Figures from clients (max_tokens) and from pricing can be anything:
 * keep them where sums of sixty buckets cannot overflow and where a NaN or
 * an infinity cannot poison a budget. */
#define MAX_TOKENS_FIGURE 1000000000000L /* 1e12 */
#define MAX_USD_FIGURE 1e9

static long clamp_tokens(long v) { return v < 0 ? 0 : MG_MIN(v, MAX_TOKENS_FIGURE); }

static double clamp_usd(double v)
{
    if (!(v > 0)) /* negative, zero or NaN */
        return 0;
    return v > MAX_USD_FIGURE ? MAX_USD_FIGURE : v;
}

int64_t mg_keys_now_ms(mg_keys *k)
{
    return k->clock ? k->clock(k->clock_ud) : mg_now_wall_ms();
}

int mg_keys_auth_mode(mg_keys *k)
{
    int mode = atomic_load(&k->auth_mode);
    if (mode == MG_AUTH_AUTO)
        return atomic_load(&k->nactive) > 0 ? MG_AUTH_KEYS : MG_AUTH_OPEN;
    return mode;
}

static int refuse(mg_key_admission *out, int status, const char *kind, int retry_after,
                  const char *fmt, ...) MG_PRINTF(5, 6);
static int refuse(mg_key_admission *out, int status, const char *kind, int retry_after,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    out->status = status;
    out->kind = kind;
    out->retry_after = status == 429 ? MG_MAX(retry_after, 1) : 0;
    memset(&out->lease, 0, sizeof out->lease);
    return MG_ERR;
}

static void allowed_list(const struct mg_key *key, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < key->nmodels && used + 1 < len; i++) {
        int n = snprintf(out + used, len - used, "%s%s", i ? ", " : "", key->models[i]);
        if (n < 0 || (size_t)n >= len - used) {
            snprintf(out + used, len - used, "...");
            break;
        }
        used += (size_t)n;
    }
}

/* Revoked, expired or model not allowed; key lock held. */
static int check_key(const struct mg_key *key, const char *model, int64_t now_ms,
                     mg_key_admission *out)
{
    char when[32];
    if (key->revoked_at) {
        mg_keys_iso_time(key->revoked_at, when);
        return refuse(out, 401, KIND_AUTH, 0, "key '%s' was revoked at %s", key->name, when);
    }
    if (key->expires_at && now_ms >= key->expires_at) {
        mg_keys_iso_time(key->expires_at, when);
        return refuse(out, 401, KIND_AUTH, 0, "key '%s' expired at %s", key->name, when);
    }
    if (!mg_keys_model_allowed(key, model)) {
        char list[200];
        allowed_list(key, list, sizeof list);
        return refuse(out, 403, KIND_PERM, 0, "key '%s' may not use model '%.100s' (allowed: %s)",
                      key->name, model, list);
    }
    return MG_OK;
}

/* Concurrency, rpm and tpm; key lock held. */
static int check_rates(struct mg_key *key, long est_tokens, int64_t now_sec,
                       mg_key_admission *out)
{
    if (key->max_concurrency > 0 && key->inflight >= key->max_concurrency)
        return refuse(out, 429, KIND_RATE, 1,
                      "key '%s' already has %ld requests in flight, its max_concurrency; "
                      "retry when one finishes",
                      key->name, key->inflight);
    if (key->rpm > 0 && mg_keys_window_sum(&key->requests, now_sec) >= key->rpm) {
        int retry = mg_keys_window_retry(&key->requests, now_sec, key->rpm, 1);
        return refuse(out, 429, KIND_RATE, retry,
                      "key '%s' reached its limit of %ld requests per minute; retry in %d s",
                      key->name, key->rpm, retry);
    }
    if (key->tpm > 0) {
        long used = mg_keys_window_sum(&key->tokens, now_sec);
        /* An estimate bigger than the whole limit fits only an empty window,
         * or a large max_tokens could never be served. */
        if (used >= key->tpm || (used > 0 && used + est_tokens > key->tpm)) {
            long need = MG_MIN(est_tokens, key->tpm);
            int retry = mg_keys_window_retry(&key->tokens, now_sec, key->tpm, MG_MAX(need, 1));
            return refuse(out, 429, KIND_RATE, retry,
                          "key '%s' reached its limit of %ld tokens per minute (%ld used, this "
                          "request may use %ld); retry in %d s",
                          key->name, key->tpm, used, est_tokens, retry);
        }
    }
    return MG_OK;
}

/* The key's budget (key != NULL) and the gateway's; global lock held. */
static int check_budgets(mg_keys *k, struct mg_key *key, double est_cost, int64_t now_ms,
                         mg_key_admission *out)
{
    char who[MG_KEYS_NAME_MAX + 16], msg[sizeof out->message];
    int retry = 0;
    if (k->paused)
        return MG_OK;
    if (key) {
        mg_keys_spend_roll(&key->spend, now_ms);
        snprintf(who, sizeof who, "key '%s'", key->name);
        if (mg_keys_budget_check(&key->spend, key->budget_day, key->budget_month, est_cost,
                                 now_ms, who, msg, sizeof msg, &retry) != MG_OK)
            return refuse(out, 429, KIND_BUDGET, retry, "%s", msg);
    }
    if (mg_keys_budget_check(&k->global, k->budget_day, k->budget_month, est_cost, now_ms,
                             "the gateway", msg, sizeof msg, &retry) != MG_OK)
        return refuse(out, 429, KIND_BUDGET, retry, "%s", msg);
    return MG_OK;
}

static void reserve(mg_keys_spend *s, double est_cost)
{
    s->reserved += est_cost;
    s->unsettled++;
}

static void fill_admitted(struct mg_key *key, long est_tokens, double est_cost, int64_t now_sec,
                          mg_key_admission *out)
{
    out->status = 200;
    out->lease.key = key;
    out->lease.held = 1;
    out->lease.admit_sec = now_sec;
    out->lease.est_tokens = est_tokens;
    out->lease.est_cost = est_cost;
    if (!key)
        return;
    memcpy(out->key_id, key->id, sizeof out->key_id);
    memcpy(out->key_name, key->name, sizeof out->key_name);
    memcpy(out->user_id, key->user_id, sizeof out->user_id);
    memcpy(out->environment, key->environment, sizeof out->environment);
}

static int admit_key(mg_keys *k, struct mg_key *key, const char *model, long est_tokens,
                     double est_cost, int64_t now_ms, mg_key_admission *out)
{
    int64_t now_sec = now_ms / 1000;
    pthread_mutex_lock(&key->lock);
    int rc = check_key(key, model, now_ms, out);
    if (rc == MG_OK)
        rc = check_rates(key, est_tokens, now_sec, out);
    if (rc == MG_OK) {
        pthread_mutex_lock(&k->global_lock);
        mg_keys_spend_roll(&k->global, now_ms);
        rc = check_budgets(k, key, est_cost, now_ms, out);
        if (rc == MG_OK)
            reserve(&k->global, est_cost);
        pthread_mutex_unlock(&k->global_lock);
    }
    if (rc == MG_OK) {
        key->inflight++;
        mg_keys_window_add(&key->requests, now_sec, 1);
        mg_keys_window_add(&key->tokens, now_sec, est_tokens);
        reserve(&key->spend, est_cost);
        fill_admitted(key, est_tokens, est_cost, now_sec, out);
    }
    pthread_mutex_unlock(&key->lock);
    return rc;
}

static int admit_anonymous(mg_keys *k, double est_cost, int64_t now_ms, mg_key_admission *out)
{
    pthread_mutex_lock(&k->global_lock);
    mg_keys_spend_roll(&k->global, now_ms);
    int rc = check_budgets(k, NULL, est_cost, now_ms, out);
    if (rc == MG_OK)
        reserve(&k->global, est_cost);
    pthread_mutex_unlock(&k->global_lock);
    if (rc == MG_OK)
        fill_admitted(NULL, 0, est_cost, now_ms / 1000, out);
    return rc;
}

static int refuse_unknown(mg_keys *k, const char *client_ip, int is_virtual, int64_t now_ms,
                          mg_key_admission *out)
{
    int retry = 0;
    if (mg_keys_fail_check(k, client_ip, now_ms, &retry) != MG_OK)
        return refuse(out, 429, KIND_RATE, retry,
                      "too many requests with invalid API keys from this address; retry in %d s",
                      retry);
    mg_keys_fail_note(k, client_ip, now_ms);
    if (is_virtual)
        return refuse(out, 401, KIND_AUTH, 0,
                      "invalid API key: no moongate key matches it (was it rotated?)");
    return refuse(out, 401, KIND_AUTH, 0, "invalid API key: this gateway needs %s", WHERE_KEYS);
}

int mg_keys_admit_ip(mg_keys *k, const char *client_ip, const char *presented, size_t len,
                     const char *model, long est_tokens, double est_cost,
                     mg_key_admission *out)
{
    memset(out, 0, sizeof *out);
    int64_t now_ms = mg_keys_now_ms(k);
    int required = mg_keys_auth_mode(k) == MG_AUTH_KEYS;
    est_tokens = clamp_tokens(est_tokens);
    est_cost = clamp_usd(est_cost);
    if (!presented || len == 0) {
        if (required)
            return refuse(out, 401, KIND_AUTH, 0, "missing API key: this gateway needs %s",
                          WHERE_KEYS);
        return admit_anonymous(k, est_cost, now_ms, out);
    }
    /* Every secret we issue starts "mg-" (secret.c): anything else cannot
     * match, so the hash and the table lock are skipped for it. */
    int is_virtual = len >= 3 && memcmp(presented, "mg-", 3) == 0;
    if (is_virtual) {
        uint8_t hash[32];
        mg_keys_hash(presented, len, hash);
        pthread_rwlock_rdlock(&k->table_lock);
        struct mg_key *key = mg_keys_find_hash(k, hash);
        pthread_rwlock_unlock(&k->table_lock);
        if (key)
            return admit_key(k, key, model, est_tokens, est_cost, now_ms, out);
    }
    /* Open mode: a credential that is not ours (a provider key passed
     * through) is none of our business. */
    if (!required && !is_virtual)
        return admit_anonymous(k, est_cost, now_ms, out);
    return refuse_unknown(k, client_ip, is_virtual, now_ms, out);
}

int mg_keys_admit(mg_keys *k, const char *presented, size_t len, const char *model,
                  long est_tokens, double est_cost, mg_key_admission *out)
{
    return mg_keys_admit_ip(k, NULL, presented, len, model, est_tokens, est_cost, out);
}

int mg_keys_admit_internal(mg_keys *k, double est_cost, mg_key_admission *out)
{
    memset(out, 0, sizeof *out);
    return admit_anonymous(k, clamp_usd(est_cost), mg_keys_now_ms(k), out);
}

static void settle(mg_keys_spend *s, double est_cost, double cost)
{
    s->day_spent += cost;
    s->month_spent += cost;
    s->reserved -= est_cost;
    if (s->unsettled > 0)
        s->unsettled--;
    if (s->unsettled == 0 || s->reserved < 0)
        s->reserved = 0; /* no float crumbs once nothing is in flight */
}

static void fire(mg_keys *k, mg_keys_pending *p, int np)
{
    if (np == 0)
        return;
    mg_keys_callback cbs[MG_KEYS_MAX_CALLBACKS];
    pthread_mutex_lock(&k->cb_lock);
    int n = k->ncallbacks;
    memcpy(cbs, k->callbacks, sizeof cbs);
    pthread_mutex_unlock(&k->cb_lock);
    for (int i = 0; i < np; i++) {
        mg_budget_event *ev = &p[i].ev;
        ev->key_id = p[i].key_id[0] ? p[i].key_id : NULL;
        ev->key_name = p[i].key_id[0] ? p[i].key_name : NULL;
        ev->user_id = p[i].user_id[0] ? p[i].user_id : NULL;
        for (int c = 0; c < n; c++)
            cbs[c].fn(cbs[c].ud, ev);
    }
}

void mg_keys_release(mg_keys *k, mg_key_lease *lease, double cost, long tokens)
{
    if (!lease || !lease->held)
        return;
    lease->held = 0;
    cost = clamp_usd(cost);
    tokens = clamp_tokens(tokens);
    int64_t now_ms = mg_keys_now_ms(k);
    mg_keys_pending pending[MG_KEYS_MAX_PENDING];
    int np = 0;
    struct mg_key *key = lease->key;
    if (key) {
        pthread_mutex_lock(&key->lock);
        key->inflight--;
        mg_keys_window_settle(&key->tokens, lease->admit_sec, now_ms / 1000, lease->est_tokens,
                              tokens);
        mg_keys_spend_roll(&key->spend, now_ms);
        settle(&key->spend, lease->est_cost, cost);
    }
    pthread_mutex_lock(&k->global_lock);
    mg_keys_spend_roll(&k->global, now_ms);
    settle(&k->global, lease->est_cost, cost);
    mg_keys_spend_warnings(&k->global, k->budget_day, k->budget_month, k->thresholds,
                           k->nthresholds, "global", NULL, pending, &np);
    double thresholds[MG_KEYS_MAX_THRESHOLDS + 1];
    int nthresholds = k->nthresholds;
    memcpy(thresholds, k->thresholds, sizeof thresholds);
    pthread_mutex_unlock(&k->global_lock);
    if (key) {
        mg_keys_spend_warnings(&key->spend, key->budget_day, key->budget_month, thresholds,
                               nthresholds, "key", key, pending, &np);
        pthread_mutex_unlock(&key->lock);
    }
    lease->key = NULL;
    fire(k, pending, np);
}
