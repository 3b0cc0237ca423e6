/* internal.h — functions shared between the files of src/keys; not part
 * of the contract (keys.h). */
#ifndef MG_KEYS_INTERNAL_H
#define MG_KEYS_INTERNAL_H

#include <jansson.h>

#include "keys-t.h"

/* secret.c — secrets and their hashes. */
int mg_keys_secret_new(char out[MG_KEYS_SECRET_LEN + 1]); /* MG_OK or MG_ERR */
void mg_keys_hash(const char *s, size_t n, uint8_t out[32]);
void mg_keys_hex(const uint8_t *bytes, size_t n, char *out); /* out: 2n + 1 */
int mg_keys_unhex(const char *hex, uint8_t *out, size_t n);  /* exactly 2n hex chars */

/* window.c — sliding one-second-bucket windows. */
long mg_keys_window_sum(const mg_keys_window *w, int64_t now_sec);
void mg_keys_window_add(mg_keys_window *w, int64_t now_sec, long v);
/* Replace an estimate counted at admit_sec by the actual figure: in the
 * same bucket while it is still in the window, else in the current one. */
void mg_keys_window_settle(mg_keys_window *w, int64_t admit_sec, int64_t now_sec, long est,
                           long actual);
/* Seconds until sum + need <= limit as old buckets leave (>= 1). */
int mg_keys_window_retry(const mg_keys_window *w, int64_t now_sec, long limit, long need);

/* period.c — UTC periods, budget checks and thresholds. */
int64_t mg_keys_day_of(int64_t ms);
int64_t mg_keys_month_of(int64_t ms);
int64_t mg_keys_day_start_ms(int64_t day);
int64_t mg_keys_month_start_ms(int64_t month);
void mg_keys_iso_time(int64_t ms, char out[32]); /* "2025-01-31T12:00:00Z" */
/* Zero the figures of periods that ended (keeps reserved). */
void mg_keys_spend_roll(mg_keys_spend *s, int64_t now_ms);
/* May est more USD be reserved? who names the scope ("key 'x'", "the
 * gateway"). MG_OK, or MG_ERR with msg and *retry_after. */
int mg_keys_budget_check(const mg_keys_spend *s, double budget_day, double budget_month,
                         double est, int64_t now_ms, const char *who, char *msg, size_t len,
                         int *retry_after);

/* A budget warning copied out of a lock, fired after unlocking. */
typedef struct mg_keys_pending {
    mg_budget_event ev;
    char key_id[33];
    char key_name[MG_KEYS_NAME_MAX + 1];
    char user_id[MG_KEYS_USER_MAX + 1];
} mg_keys_pending;
#define MG_KEYS_MAX_PENDING (2 * 2 * (MG_KEYS_MAX_THRESHOLDS + 1))

/* Marks and appends (to p[*np], capacity MG_KEYS_MAX_PENDING) every
 * threshold the settled spend reached and that has not fired this period.
 * scope/ids are copied. */
void mg_keys_spend_warnings(mg_keys_spend *s, double budget_day, double budget_month,
                            const double *thresholds, int nthresholds, const char *scope,
                            const struct mg_key *key, mg_keys_pending *p, int *np);
/* Mark thresholds already reached as fired (after a load). */
void mg_keys_spend_mark_reached(mg_keys_spend *s, double budget_day, double budget_month,
                                const double *thresholds, int nthresholds);

/* table.c — the key table. Callers hold table_lock as noted. */
struct mg_key *mg_keys_key_new(void);
void mg_keys_key_free(struct mg_key *key);
struct mg_key *mg_keys_find_hash(mg_keys *k, const uint8_t hash[32]); /* rd lock held */
struct mg_key *mg_keys_find(mg_keys *k, const char *id_or_name);      /* rd lock held */
void mg_keys_table_add(mg_keys *k, struct mg_key *key);              /* wr lock held */
void mg_keys_table_rehash(mg_keys *k);                                /* wr lock held */
int mg_keys_name_taken(mg_keys *k, const char *name, const struct mg_key *except);
void mg_keys_table_free(mg_keys *k);
/* Copy a model list (NULL/0 = every model). Replaces key's list. */
void mg_keys_set_models(struct mg_key *key, char **models, size_t n);
int mg_keys_model_allowed(const struct mg_key *key, const char *model);
int64_t mg_keys_now_ms(mg_keys *k);

/* persist.c — the writer thread. */
int mg_keys_writer_start(mg_keys_writer *w, const char *db_path, char *err);
/* Snapshot key (its lock held by the caller) and queue it for writing. */
void mg_keys_persist(mg_keys *k, const struct mg_key *key);
int mg_keys_writer_flush(mg_keys_writer *w);
void mg_keys_writer_stop(mg_keys_writer *w);
void mg_keys_row_from_key(const struct mg_key *key, mg_keys_row *row);
void mg_keys_row_free(mg_keys_row *row);
/* JSON text of a model list, or NULL for "every model"; caller frees. */
char *mg_keys_models_json(char *const *models, size_t n);

/* load.c — read keys and spend at open (blocking, main thread). */
int mg_keys_load(mg_keys *k, const char *db_path, char *err);

/* failures.c — failed key attempts per client address. */
/* MG_OK, or MG_ERR when ip is over the limit (*retry_after set). */
int mg_keys_fail_check(mg_keys *k, const char *ip, int64_t now_ms, int *retry_after);
void mg_keys_fail_note(mg_keys *k, const char *ip, int64_t now_ms);

/* admin_json.c — answers. */
void mg_keys_key_json(mg_keys *k, struct mg_key *key, int64_t now_ms, mg_buf *out);
void mg_keys_error_json(mg_buf *out, int status, const char *field, const char *fmt, ...)
    MG_PRINTF(4, 5);
void mg_keys_json_time(mg_buf *out, int64_t ms); /* ISO string or null */
void mg_keys_json_usd(mg_buf *out, double usd);  /* number, cents-exact */

/* admin_body.c — request bodies. */
typedef struct mg_keys_fields {
    /* has_x: the body named x (null counts: it clears). */
    int has_name, has_user, has_env, has_models, has_rpm, has_tpm, has_conc;
    int has_bday, has_bmonth, has_expires, has_metadata;
    char name[MG_KEYS_NAME_MAX + 1];
    char user_id[MG_KEYS_USER_MAX + 1];
    char environment[MG_KEYS_ENV_MAX + 1];
    char **models;  /* owned; NULL with has_models = every model */
    size_t nmodels;
    long rpm, tpm, max_concurrency;
    double budget_day, budget_month;
    int64_t expires_at; /* 0 = never */
    char *metadata;     /* owned JSON text or NULL */
} mg_keys_fields;
/* Parse a create (creating=1) or patch body. MG_OK, or MG_ERR with a 400
 * answer in out naming the field. */
int mg_keys_fields_parse(const char *body, size_t len, int creating, int64_t now_ms,
                         mg_keys_fields *f, mg_buf *out);
void mg_keys_fields_free(mg_keys_fields *f);
/* ISO-8601 UTC ("2025-12-31", "2025-12-31T23:59:59Z") to ms; MG_ERR if bad. */
int mg_keys_parse_time(const char *s, int64_t *ms);

#endif
