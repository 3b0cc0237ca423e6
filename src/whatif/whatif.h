/* whatif.h — what-if replay: run the recorded request metadata of a period
 * (model_requested, tokens, client_format, stream, key, user, ...) from
 * SQLite through a routing policy's on_request/route hooks and report, per
 * model, the requests moved, the old and new cost, the saving and the share
 * moved. Nothing is sent anywhere.
 *
 * How the policy runs: the file is copied into a fresh temporary folder
 * that becomes the `policies` folder of a private copy of the config, and
 * mg_lua_gen_build builds a normal generation from it (same sandbox, same
 * mg API, same standard library), bound to a private libev loop with no
 * upstream (mg.http.request answers nil, "no upstream"). Each row becomes
 * an mg_lua_req and goes through mg_lua_call_route; a hook that sleeps is
 * waited for on the private loop. The first target route returns decides
 * the new model; nil (or a refusal) keeps the recorded model. Old cost is
 * the recorded `cost`; a moved request's new cost is its recorded tokens
 * (input split into fresh / cached read / cache write, output split into
 * plain / reasoning) at the new model's price, exactly as the proxy prices
 * a request. Rows are read by a read-only connection in ts_ms order.
 * Blocks: call from the CLI or a thread, never from a loop thread.
 * Uses: config, lua/host.h, SQLite, libev, core. */
#ifndef MG_WHATIF_H
#define MG_WHATIF_H

#include <stddef.h>
#include <stdint.h>

#include "../config/config.h"
#include "../core/buf.h"

/* `moongate whatif POLICY.lua [--since 7d] [--db PATH] [-c CONFIG] [--json]`.
 * argv[0] is "whatif". Prints the report table (or JSON) on stdout and
 * progress on stderr. Returns the process exit code (0 ok, 1 error, 2
 * usage). */
int mg_whatif_main(int argc, char **argv, const char *home);

/* "7d", "24h", "90m", "3600s", "3600" → seconds. MG_OK or MG_ERR. */
int mg_whatif_parse_since(const char *s, double *seconds);

/* Progress: rows done out of total (total from a COUNT first). Return
 * nonzero to stop the replay early (it then fails with "cancelled"). */
typedef int (*mg_whatif_progress_fn)(void *ud, long done, long total);

typedef struct mg_whatif_opts {
    const mg_config *cfg;      /* providers and prices; read during the call */
    const char *db_path;       /* NULL: cfg->db */
    const char *policy_path;   /* a policy file, or: */
    const char *policy_src;    /* its source text (API); one of the two */
    size_t policy_len;
    double since_seconds;      /* replay rows with ts_ms >= now - since */
    int64_t now_ms;            /* 0: the wall clock (tests pin it) */
    long max_rows;             /* 0: no limit */
    mg_whatif_progress_fn progress;
    void *progress_ud;
} mg_whatif_opts;

/* One line of the report: the model the requests were routed to when
 * recorded (model_routed, else model_requested). */
typedef struct mg_whatif_model {
    char *model;               /* owned */
    long requests;             /* rows of this model */
    long moved;                /* rows the policy sends to another model */
    double old_cost, new_cost; /* USD over all its rows */
    char *top_target;          /* owned: where most moved rows go, or NULL */
} mg_whatif_model;

/* Owns models[] and their strings: mg_whatif_report_free. */
typedef struct mg_whatif_report {
    mg_whatif_model *models;   /* sorted by old_cost, highest first */
    size_t nmodels;
    long requests, moved, refused, errors; /* refused: on_request/route refused;
                                              errors: hook errors (both keep
                                              their recorded cost) */
    long unpriced;             /* moved to a model without a price: cost kept */
    double old_cost, new_cost;
    int64_t from_ms, to_ms;
    double seconds;            /* replay wall time */
    char first_error[256];     /* first hook error, "" when none */
} mg_whatif_report;

/* Replay. MG_OK with *out filled (caller frees), or MG_ERR with err. */
int mg_whatif_run(const mg_whatif_opts *o, mg_whatif_report *out, char *err, size_t errlen);
void mg_whatif_report_free(mg_whatif_report *r);
/* {"from_ms":..,"to_ms":..,"requests":..,"moved":..,"share_moved":..,
 *  "old_cost":..,"new_cost":..,"saving":..,"refused":..,"errors":..,
 *  "first_error":..,"models":[{"model","requests","moved","share_moved",
 *  "old_cost","new_cost","saving","top_target"}]} */
void mg_whatif_report_json(const mg_whatif_report *r, mg_buf *out);
/* The human table the CLI prints. */
void mg_whatif_report_text(const mg_whatif_report *r, mg_buf *out);

#endif
