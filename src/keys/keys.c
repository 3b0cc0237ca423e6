/* keys.c — the keys context's life (open, configure, close), the options,
 * budget callbacks, the test clock, and finding the credential a client
 * presented. Admission is in admit.c, the admin API in admin.c. */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "internal.h"

#define DEFAULT_MAX_AUTH_FAILURES 20

int mg_keys_auth_from_name(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "open") == 0)
        return MG_AUTH_OPEN;
    if (strcmp(name, "keys") == 0)
        return MG_AUTH_KEYS;
    if (strcmp(name, "auto") == 0)
        return MG_AUTH_AUTO;
    return -1;
}

const char *mg_keys_auth_name(int mode)
{
    return mode == MG_AUTH_KEYS ? "keys" : mode == MG_AUTH_AUTO ? "auto" : "open";
}

void mg_keys_opts_default(mg_keys_opts *o)
{
    memset(o, 0, sizeof *o);
    o->auth_mode = MG_AUTH_OPEN;
    o->warn_at[0] = 0.8;
    o->nwarn_at = 1;
    o->max_auth_failures = DEFAULT_MAX_AUTH_FAILURES;
}

/* Thresholds: the valid warn_at values in ascending order, then 1.0.
 * Global lock held (or not yet shared). */
static void set_thresholds(mg_keys *k, const mg_keys_opts *o)
{
    int n = 0;
    for (int i = 0; i < o->nwarn_at && i < MG_KEYS_MAX_THRESHOLDS; i++) {
        double t = o->warn_at[i];
        if (!(t > 0 && t < 1) || (n && t <= k->thresholds[n - 1]))
            continue;
        k->thresholds[n++] = t;
    }
    k->thresholds[n++] = 1.0;
    k->nthresholds = n;
}

static void apply_opts(mg_keys *k, const mg_keys_opts *o)
{
    atomic_store(&k->auth_mode, o->auth_mode);
    k->budget_day = o->budget_day_usd > 0 ? o->budget_day_usd : 0;
    k->budget_month = o->budget_month_usd > 0 ? o->budget_month_usd : 0;
    set_thresholds(k, o);
    pthread_mutex_lock(&k->fail_lock);
    k->max_auth_failures = o->max_auth_failures;
    pthread_mutex_unlock(&k->fail_lock);
}

mg_keys *mg_keys_open(const mg_keys_opts *opts, char *err)
{
    mg_keys *k = mg_xcalloc(1, sizeof *k);
    pthread_rwlock_init(&k->table_lock, NULL);
    pthread_mutex_init(&k->global_lock, NULL);
    pthread_mutex_init(&k->cb_lock, NULL);
    pthread_mutex_init(&k->fail_lock, NULL);
    apply_opts(k, opts);
    mg_keys_table_rehash(k);
    if (!opts->db_path) {
        mg_keys_spend_roll(&k->global, mg_keys_now_ms(k));
        return k;
    }
    if (mg_keys_load(k, opts->db_path, err) != MG_OK ||
        mg_keys_writer_start(&k->writer, opts->db_path, err) != MG_OK) {
        mg_keys_close(k);
        return NULL;
    }
    k->persistent = 1;
    return k;
}

void mg_keys_configure(mg_keys *k, const mg_keys_opts *opts)
{
    int64_t now_ms = mg_keys_now_ms(k);
    pthread_mutex_lock(&k->global_lock);
    apply_opts(k, opts);
    /* Threshold positions may have moved: what is reached now counts as
     * warned, so a reload never replays old warnings. */
    k->global.day_fired = k->global.month_fired = 0;
    mg_keys_spend_roll(&k->global, now_ms);
    mg_keys_spend_mark_reached(&k->global, k->budget_day, k->budget_month, k->thresholds,
                               k->nthresholds);
    double th[MG_KEYS_MAX_THRESHOLDS + 1];
    int nth = k->nthresholds;
    memcpy(th, k->thresholds, sizeof th);
    pthread_mutex_unlock(&k->global_lock);
    pthread_rwlock_rdlock(&k->table_lock);
    for (size_t i = 0; i < k->nkeys; i++) {
        struct mg_key *key = k->keys[i];
        pthread_mutex_lock(&key->lock);
        key->spend.day_fired = key->spend.month_fired = 0;
        mg_keys_spend_roll(&key->spend, now_ms);
        mg_keys_spend_mark_reached(&key->spend, key->budget_day, key->budget_month, th, nth);
        pthread_mutex_unlock(&key->lock);
    }
    pthread_rwlock_unlock(&k->table_lock);
}

void mg_keys_close(mg_keys *k)
{
    if (!k)
        return;
    mg_keys_writer_stop(&k->writer);
    mg_keys_table_free(k);
    pthread_rwlock_destroy(&k->table_lock);
    pthread_mutex_destroy(&k->global_lock);
    pthread_mutex_destroy(&k->cb_lock);
    pthread_mutex_destroy(&k->fail_lock);
    free(k);
}

int mg_keys_flush(mg_keys *k) { return mg_keys_writer_flush(&k->writer); }

int mg_keys_on_budget(mg_keys *k, mg_keys_budget_fn fn, void *ud)
{
    int rc = MG_ERR;
    pthread_mutex_lock(&k->cb_lock);
    if (fn && k->ncallbacks < MG_KEYS_MAX_CALLBACKS) {
        k->callbacks[k->ncallbacks].fn = fn;
        k->callbacks[k->ncallbacks].ud = ud;
        k->ncallbacks++;
        rc = MG_OK;
    }
    pthread_mutex_unlock(&k->cb_lock);
    return rc;
}

void mg_keys_set_clock(mg_keys *k, int64_t (*now_ms)(void *ud), void *ud)
{
    k->clock = now_ms;
    k->clock_ud = ud;
}

static const char *trim(const char *s, size_t *len)
{
    while (*len && (*s == ' ' || *s == '\t'))
        s++, (*len)--;
    while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
        (*len)--;
    return *len ? s : NULL;
}

/* key=... in the raw query string (Gemini clients put their key there). */
static const char *query_key(const char *q, size_t *len)
{
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n > 4 && memcmp(q, "key=", 4) == 0) {
            *len = n - 4;
            return q + 4;
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

const char *mg_keys_credential(const mg_http_req *req, size_t *len)
{
    size_t n = 0;
    const char *v = mg_http_header(req, "authorization", &n);
    if (v && n > 7 && mg_strncaseeq(v, 7, "bearer ")) {
        *len = n - 7;
        if ((v = trim(v + 7, len)))
            return v;
    }
    static const char *const names[] = {"x-api-key", "x-goog-api-key"};
    for (size_t i = 0; i < MG_ARRAY_LEN(names); i++) {
        v = mg_http_header(req, names[i], &n);
        if (v) {
            *len = n;
            if ((v = trim(v, len)))
                return v;
        }
    }
    v = query_key(req->query, &n);
    *len = v ? n : 0;
    return v;
}
