/* keys-t.h — the types behind keys.h, shared by the files of src/keys.
 * Types only; functions between the files are in internal.h. */
#ifndef MG_KEYS_T_H
#define MG_KEYS_T_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "keys.h"

#define MG_KEYS_WINDOW 60      /* seconds in the rpm/tpm window, one bucket each */
#define MG_KEYS_PREFIX_LEN 9   /* "mg-" + 6 secret chars shown in listings */
#define MG_KEYS_MAX_CALLBACKS 8
#define MG_KEYS_FAIL_SLOTS 256 /* client addresses tracked for failed attempts */
#define MG_KEYS_MAX_MODELS 64
#define MG_KEYS_MODEL_MAX 128
#define MG_KEYS_METADATA_MAX 4096

/* A sliding window of one-second buckets. A bucket counts only while its
 * stamp (the wall second it holds) is within the last MG_KEYS_WINDOW
 * seconds. A zeroed window is empty. */
typedef struct mg_keys_window {
    int64_t stamp[MG_KEYS_WINDOW];
    long value[MG_KEYS_WINDOW];
} mg_keys_window;

/* Spend of one scope (a key, or the gateway) in the current UTC day and
 * month. Guarded by its owner's lock. */
typedef struct mg_keys_spend {
    int64_t day;            /* days since epoch the day figures are for */
    int64_t month;          /* year * 12 + month - 1 */
    double day_spent;       /* settled USD */
    double month_spent;
    double reserved;        /* worst-case USD of admitted, unsettled requests */
    long unsettled;         /* how many those are; reserved is zeroed at 0 */
    unsigned day_fired;     /* bit i: threshold i already warned this day */
    unsigned month_fired;
} mg_keys_spend;

/* One key. Lives from creation (or load) until mg_keys_close: keys are
 * revoked, never freed earlier, so leases and the map may point at them.
 * id never changes; everything else is guarded by lock. Owns models[] and
 * its strings, and metadata. */
struct mg_key {
    pthread_mutex_t lock;
    char id[33];
    char name[MG_KEYS_NAME_MAX + 1];
    uint8_t hash[32];              /* SHA-256 of the secret; map key */
    char prefix[MG_KEYS_PREFIX_LEN + 1];
    char user_id[MG_KEYS_USER_MAX + 1];
    char environment[MG_KEYS_ENV_MAX + 1];
    int64_t created_at, revoked_at, expires_at, updated_at; /* ms; 0 = none */
    char **models;                 /* NULL = every model */
    size_t nmodels;
    long rpm, tpm, max_concurrency; /* 0 = no limit */
    double budget_day, budget_month;/* USD; 0 = none */
    char *metadata;                /* JSON object text or NULL */

    long inflight;
    mg_keys_window requests, tokens;
    mg_keys_spend spend;
};

/* A key row as persisted; a snapshot taken under the key's lock so the
 * writer thread never touches a live key. Owns models_json and metadata. */
typedef struct mg_keys_row {
    char id[33];
    char name[MG_KEYS_NAME_MAX + 1];
    char hash_hex[65];
    char prefix[MG_KEYS_PREFIX_LEN + 1];
    char user_id[MG_KEYS_USER_MAX + 1];
    char environment[MG_KEYS_ENV_MAX + 1];
    int64_t created_at, revoked_at, expires_at, updated_at;
    char *models_json;
    long rpm, tpm, max_concurrency;
    double budget_day, budget_month;
    char *metadata;
} mg_keys_row;

typedef struct mg_keys_job {
    struct mg_keys_job *next;
    mg_keys_row row;
} mg_keys_job;

/* The writer thread and its queue. Owns the jobs and the connection. */
typedef struct mg_keys_writer {
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t wake;           /* job queued or closing */
    pthread_cond_t progress;       /* a job finished */
    mg_keys_job *head, *tail;
    uint64_t queued, done;         /* job sequence numbers, for flush */
    uint64_t failed;               /* jobs that could not be written */
    int closing;
    struct sqlite3 *db;
    struct sqlite3_stmt *upsert;
} mg_keys_writer;

/* Failed key attempts from one client address in a 60 s window. */
typedef struct mg_keys_fail_slot {
    char ip[48];
    int64_t window_start;          /* wall second */
    int count;
} mg_keys_fail_slot;

typedef struct mg_keys_callback {
    mg_keys_budget_fn fn;
    void *ud;
} mg_keys_callback;

struct mg_keys {
    /* The key table: creation-ordered array (owns the keys) and an open-
     * addressing map by hash (borrows). */
    pthread_rwlock_t table_lock;
    struct mg_key **keys;
    size_t nkeys, keys_cap;
    struct mg_key **map;
    size_t map_cap;                /* power of two, at least 2 × nkeys */
    atomic_long nactive;           /* keys neither revoked nor expired at last check */

    /* Configuration and the gateway-wide budget. */
    pthread_mutex_t global_lock;
    atomic_int auth_mode;
    double budget_day, budget_month;
    double thresholds[MG_KEYS_MAX_THRESHOLDS + 1]; /* warn_at..., 1.0 */
    int nthresholds;
    int max_auth_failures;
    int paused;                    /* budgets not enforced */
    mg_keys_spend global;

    pthread_mutex_t cb_lock;
    mg_keys_callback callbacks[MG_KEYS_MAX_CALLBACKS];
    int ncallbacks;

    pthread_mutex_t fail_lock;
    mg_keys_fail_slot fails[MG_KEYS_FAIL_SLOTS];

    mg_keys_writer writer;         /* unused when db_path was NULL */
    int persistent;

    int64_t (*clock)(void *ud);
    void *clock_ud;
};

#endif
