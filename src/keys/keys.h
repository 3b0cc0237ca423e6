/* keys.h — virtual API keys, per-key limits and budgets, and the global
 * budget. Provides the admission call every proxied request makes, the
 * admin API under /api/keys and /api/budget, and `moongate keys`.
 * Uses: SQLite (own connection: loads at start on the main thread, writes
 * through this part's own background thread), OpenSSL (SHA-256), jansson
 * (admin bodies), net/http.h (admin answers), libcurl (CLI only).
 *
 * ---------------------------------------------------------------------
 * WIRE-UP (what the pipeline, the admin router and main must call)
 *
 * gateway start (main thread, AFTER mg_store_open so schema/003 is applied):
 *     mg_keys_opts ko; mg_keys_opts_default(&ko);
 *     ko.db_path = cfg->db; ko.auth_mode = <config `auth`>;
 *     ko.budget_day_usd / budget_month_usd / warn_at = <config `budget`>;
 *     gw->keys = mg_keys_open(&ko, err);              NULL => fatal, print err
 *     mg_keys_on_budget(gw->keys, publish_budget_warning, gw);   (live event)
 * config reload (main thread):   mg_keys_configure(gw->keys, &ko_from_new_cfg);
 * shutdown, after workers stopped: mg_keys_close(gw->keys);  (flushes writes)
 *
 * pipeline, stage "auth + limits" (worker thread, after parse, before route):
 *     size_t n; const char *cred = mg_keys_credential(req, &n);  (may be NULL)
 *     mg_key_admission adm;
 *     if (mg_keys_admit_ip(gw->keys, req->client_ip, cred, n, px->model,
 *                          est_tokens, est_cost, &adm) != MG_OK)
 *         -> answer adm.status with adm.kind and adm.message in the client's
 *            format; add "retry-after: <adm.retry_after>" when it is > 0;
 *            record status "refused" (401/403) or "rate_limited" (429).
 *     else -> keep adm.lease in px; rec->key_id = adm.key_id, rec->user_id =
 *            adm.user_id, and when adm.environment[0] rec->environment =
 *            adm.environment (all "" when anonymous: leave NULL then).
 *     est_tokens = input estimate + max_tokens (or the model's max_output);
 *     est_cost   = that at the model's input/output price (0 if unknown).
 *     When adm.key_id[0] is set, never forward the presented credential
 *     upstream (pass-through providers would otherwise get an mg- key).
 *     The pipeline's own px->up_retry_after carries retry-after for 429.
 *     Requests from inside the host (crosstalk turns, replays; no client
 *     credential): mg_keys_admit_internal() — no key needed in any auth
 *     mode, the global budget still applies; release the same way.
 * request end, exactly once per successful admit (worker thread, any worker):
 *     mg_keys_release(gw->keys, &px->lease, rec->cost, rec->tokens_total);
 *     (also on cancel / upstream failure: cost 0 and the tokens actually used)
 * admin router (after the admin guard):
 *     path "/api/keys" or starting "/api/keys/"    -> mg_keys_admin(gw->keys, req, path + 9)
 *     path "/api/budget" or starting "/api/budget/" -> mg_keys_budget_admin(gw->keys, req, path + 11)
 * main.c:  `moongate keys ...` -> return mg_keys_cli_main(argc - 1, argv + 1, home);
 *          (argv[0] is then "keys"); usage line: mg_keys_cli_usage.
 * ---------------------------------------------------------------------
 *
 * Semantics, in short (details at each call):
 * - A key is "mg-" + 43 base62 chars (256 random bits). Only its SHA-256
 *   (hex) and a display prefix ("mg-AbC123") are kept; the secret is
 *   returned once by create/rotate and never again.
 * - Lookups and limits never touch SQLite: an in-memory table (hash ->
 *   key) is loaded at open and updated by the admin calls, which persist
 *   each change through this part's writer thread.
 * - Windows: rpm and tpm use a sliding 60-second window of 60 one-second
 *   buckets: an admit is refused when the buckets of the last 60 seconds
 *   (this one included) already hold rpm requests / tpm tokens.
 * - Budgets (per key day/month, global day/month; UTC periods): admission
 *   refuses when spent + reserved (worst cases of requests in flight) +
 *   est_cost > budget, and always when spent >= budget. So with est_cost
 *   a true worst case, spend never passes a budget; otherwise it can pass
 *   only by what was in flight (actual - estimate of those requests).
 * - Every limit is exact across threads: each key has a mutex; the global
 *   budget has one; lock order is key then global.
 */
#ifndef MG_KEYS_H
#define MG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../net/http.h"

#define MG_KEYS_NAME_MAX 64    /* key name, bytes */
#define MG_KEYS_USER_MAX 128   /* user_id, bytes */
#define MG_KEYS_ENV_MAX 64     /* environment, bytes */
#define MG_KEYS_SECRET_LEN 46  /* "mg-" + 43 base62 chars */
#define MG_KEYS_MAX_THRESHOLDS 4

enum mg_keys_auth {
    MG_AUTH_OPEN = 0, /* no key needed; an mg- key that is presented is
                         still checked (401 if bad) and its limits apply */
    MG_AUTH_KEYS,     /* every proxied request needs a valid key */
    MG_AUTH_AUTO,     /* as KEYS while at least one key is not revoked */
};
/* "open" | "keys" | "auto" -> enum, or -1. */
int mg_keys_auth_from_name(const char *name);
const char *mg_keys_auth_name(int mode);

typedef struct mg_keys_opts {
    const char *db_path;     /* SQLite file whose schema the store applied;
                                NULL: keys live in memory only (tests) */
    int auth_mode;           /* enum mg_keys_auth; default OPEN */
    double budget_day_usd;   /* global daily budget; 0 = none */
    double budget_month_usd; /* global monthly budget; 0 = none */
    /* Warning thresholds as fractions of a budget, ascending, in (0, 1);
     * 1.0 (budget reached) always fires too. Default {0.8}. */
    double warn_at[MG_KEYS_MAX_THRESHOLDS];
    int nwarn_at;
    /* Failed key attempts from one address within 60 s before that
     * address gets 429 for the rest of the window; default 20, 0 = off. */
    int max_auth_failures;
} mg_keys_opts;

void mg_keys_opts_default(mg_keys_opts *o);

typedef struct mg_keys mg_keys;  /* opaque; thread-safe */
struct mg_key;                   /* one key's in-memory state (internal) */

/* Open: load every key and this day's/month's spend (SUM(requests.cost)
 * by key_id, and overall for the global budget) from db_path, and start
 * the writer thread. Blocks on disk: main thread, at start. Thresholds
 * already reached by the loaded spend count as fired (no warning storm
 * after a restart). NULL with err (MG_ERRLEN) filled on failure. */
mg_keys *mg_keys_open(const mg_keys_opts *opts, char *err);
/* Apply a reloaded config (auth mode, global budget, thresholds, failure
 * limit); db_path is ignored. Any thread. */
void mg_keys_configure(mg_keys *k, const mg_keys_opts *opts);
/* Write every pending change, stop the writer, free everything. No admit
 * or release may run concurrently or later. */
void mg_keys_close(mg_keys *k);
/* Block until every change made so far is on disk (tests, CLI-less use).
 * Never on a loop thread. MG_OK, or MG_ERR when a write failed. */
int mg_keys_flush(mg_keys *k);
int mg_keys_auth_mode(mg_keys *k); /* the effective enum mg_keys_auth */

/* The credential a client presented, from (first match): Authorization:
 * Bearer <x>, x-api-key, x-goog-api-key, or the query parameter key=
 * (Gemini). Points into req; NULL when none. */
const char *mg_keys_credential(const mg_http_req *req, size_t *len);

/* What an admitted request holds until release. Embed it by value; a
 * zeroed lease is valid and releasing it does nothing. */
typedef struct mg_key_lease {
    struct mg_key *key;  /* NULL: anonymous request (open mode) */
    int held;            /* 1 from a successful admit until release */
    int64_t admit_sec;   /* wall second the estimate was counted in */
    long est_tokens;
    double est_cost;
} mg_key_lease;

typedef struct mg_key_admission {
    int status;       /* 200 when admitted; else 401, 403 or 429 */
    const char *kind; /* static: "authentication_error", "permission_error",
                         "rate_limit_error", "budget_exceeded"; NULL if ok */
    int retry_after;  /* seconds, for 429; 0 otherwise */
    char message[384];                    /* for the client; no secrets */
    char key_id[33];                      /* "" when anonymous */
    char key_name[MG_KEYS_NAME_MAX + 1];  /* "" when anonymous */
    char user_id[MG_KEYS_USER_MAX + 1];   /* "" when the key has none */
    char environment[MG_KEYS_ENV_MAX + 1];/* "" when the key has none */
    mg_key_lease lease;
} mg_key_admission;

/* Admission: auth (unknown/revoked/expired -> 401; missing -> 401 when
 * auth is required), model allow-list (403), then max_concurrency, rpm,
 * tpm (429 rate_limit_error) and the key's and the gateway's budgets (429
 * budget_exceeded), all reserved together or not at all. presented may be
 * NULL/len 0. model may be NULL (skips the allow-list). est_tokens and
 * est_cost are the caller's worst case; 0 when unknown. A request whose
 * estimate alone exceeds tpm is admitted only into an empty window.
 * MG_OK with out->lease held, or MG_ERR with status, kind, message and
 * retry_after. Any thread, never blocks on I/O. */
int mg_keys_admit(mg_keys *k, const char *presented, size_t len, const char *model,
                  long est_tokens, double est_cost, mg_key_admission *out);
/* The same, counting failed key attempts per client address
 * (max_auth_failures); client_ip may be NULL. */
int mg_keys_admit_ip(mg_keys *k, const char *client_ip, const char *presented, size_t len,
                     const char *model, long est_tokens, double est_cost,
                     mg_key_admission *out);
/* For requests the host makes itself (no client, no key): only the
 * global budget is checked and reserved. Same results as mg_keys_admit. */
int mg_keys_admit_internal(mg_keys *k, double est_cost, mg_key_admission *out);
/* Settle a request: frees its concurrency slot, replaces its token
 * estimate with `tokens` and its cost reservation with `cost` (counted
 * in the current UTC day and month), then fires budget callbacks whose
 * threshold the settled spend reached. Idempotent on a released lease. */
void mg_keys_release(mg_keys *k, mg_key_lease *lease, double cost, long tokens);

/* Budget warnings: fired once per scope per period per threshold when the
 * settled spend reaches threshold × budget (thresholds: warn_at..., 1.0).
 * Runs on the thread that called mg_keys_release, outside every keys lock;
 * keep it short (queue an event, wake a loop). Up to 8 callbacks. */
typedef struct mg_budget_event {
    const char *scope;    /* "key" | "global" */
    const char *key_id;   /* NULL for global */
    const char *key_name; /* NULL for global */
    const char *user_id;  /* NULL when none */
    const char *period;   /* "day" | "month" */
    double threshold;     /* fraction: 0.8, 1.0 ... */
    double spent;         /* settled USD in the period */
    double budget;        /* USD */
    int64_t period_start_ms, period_end_ms; /* UTC */
} mg_budget_event;
typedef void (*mg_keys_budget_fn)(void *ud, const mg_budget_event *ev);
int mg_keys_on_budget(mg_keys *k, mg_keys_budget_fn fn, void *ud); /* MG_ERR when full */

/* Admin API. subpath is what follows "/api/keys" ("", "/{id}",
 * "/{id}/revoke", "/{id}/rotate"); {id} is a key id or a key name.
 *   GET    ""             list (never hashes or secrets) with usage
 *   POST   ""             create {name, user_id, environment, models, rpm,
 *                         tpm, max_concurrency, budget_usd_day,
 *                         budget_usd_month, expires_at, metadata} -> 201
 *                         with "secret" (shown once)
 *   GET    /{id}          one key
 *   PATCH  /{id}          change name, limits, models, expires_at, metadata
 *   POST   /{id}/revoke   revoke (takes effect on the next admit)
 *   POST   /{id}/rotate   new secret (returned once); the old one stops
 * Bad bodies -> 400 naming the field. Answers at once (persistence is
 * queued to the writer thread). Worker thread. */
void mg_keys_admin(mg_keys *k, mg_http_req *req, const char *subpath);
/* Budget admin. subpath follows "/api/budget":
 *   GET  /status  global and per-key spend, budgets, reserved, paused
 *   GET  /config  effective global budget and thresholds
 *   POST /pause   stop refusing on budgets (warnings still fire)
 *   POST /resume  refuse again */
void mg_keys_budget_admin(mg_keys *k, mg_http_req *req, const char *subpath);
/* The same two without HTTP (tests, Lua bindings): answer JSON into out
 * (caller owns), return the HTTP status. */
int mg_keys_admin_call(mg_keys *k, const char *method, const char *subpath, const char *body,
                       size_t body_len, mg_buf *out);
int mg_keys_budget_call(mg_keys *k, const char *method, const char *subpath, mg_buf *out);

/* Test hook: the wall clock (ms since epoch) used for windows, periods
 * and expiry. NULL restores the real clock. Set before traffic. */
void mg_keys_set_clock(mg_keys *k, int64_t (*now_ms)(void *ud), void *ud);

/* `moongate keys list|create|show|update|revoke|rotate ...`: talks to a
 * running gateway's admin API. argv[0] is "keys". Returns the exit code. */
int mg_keys_cli_main(int argc, char **argv, const char *home);
extern const char mg_keys_cli_usage[];

#endif
