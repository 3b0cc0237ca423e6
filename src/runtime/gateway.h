/* gateway.h — the running gateway: process-wide context, worker threads and
 * generations. Main thread: signals, reload, file watching, store. Each
 * worker: one libev loop owning its sockets, its upstream multi handle and
 * its own policy generation (LuaJIT state). Nothing here is a singleton:
 * everything hangs off mg_gateway, passed explicitly. */
#ifndef MG_GATEWAY_H
#define MG_GATEWAY_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../config/config.h"
#include "../net/http.h"
#include "../store/store.h"
#include "../upstream/upstream.h"

typedef struct mg_gateway mg_gateway;
typedef struct mg_worker mg_worker;
struct mg_lua_gen;
struct mg_breakers;
struct mg_live;
struct mg_live_subs;
struct mg_static;
struct mg_sessions;
struct mg_analytics;
struct mg_crosstalk;
struct mg_keys;

/* A config shared by every worker of one generation; atomic refcount
 * because workers release it from their own threads. */
typedef struct mg_cfg_ref {
    atomic_int refs;
    mg_config *cfg;
} mg_cfg_ref;

mg_cfg_ref *mg_cfg_ref_new(mg_config *cfg); /* takes ownership of cfg */
void mg_cfg_ref_retain(mg_cfg_ref *r);
void mg_cfg_ref_release(mg_cfg_ref *r);

/* One worker's view of a policy generation. Touched only on the worker's
 * thread, so the refcount is plain. A request retains the generation it
 * started on; the worker holds one reference while it is current. */
typedef struct mg_wgen {
    int refs;
    uint64_t number;
    mg_cfg_ref *cfg;
    struct mg_lua_gen *lua; /* NULL: no policy host (tests, lua-less mode) */
} mg_wgen;

mg_wgen *mg_wgen_retain(mg_wgen *g);
void mg_wgen_release(mg_wgen *g);

/* Live counters a worker keeps for its own traffic; read by the main
 * thread (relaxed atomics: figures for humans, not invariants). */
typedef struct mg_worker_stats {
    atomic_uint_fast64_t requests, errors, active, upstream_pauses;
} mg_worker_stats;

struct mg_worker {
    mg_gateway *gw;
    int id;
    pthread_t thread;
    struct ev_loop *loop;
    mg_http_server *http, *https;
    mg_upstream *up;
    mg_wgen *gen;              /* current generation */
    ev_async wake;             /* main → worker: new generation, shutdown */
    pthread_mutex_t handoff_lock;
    mg_wgen *pending_gen;      /* set by main under handoff_lock */
    atomic_int stop_requested; /* 1: drain, 2: abort now */
    ev_timer drain_timer;
    mg_worker_stats stats;
    struct mg_live_subs *subs;  /* this worker's /api/events streams */
};

typedef struct mg_reload_status {
    uint64_t generation;
    int64_t loaded_at_ms;
    double load_ms;
    char *last_error;          /* NULL when the last reload worked */
    int64_t last_error_at_ms;
    char *restart_needed;      /* keys whose change needs a restart */
} mg_reload_status;

typedef struct mg_serve_opts {
    const char *config_path;
    const char *listen;        /* overrides config listen when set */
    const char *db;            /* overrides config db when set */
} mg_serve_opts;

struct mg_gateway {
    struct ev_loop *main_loop;
    mg_cfg_ref *cfg;           /* current; replaced on reload */
    char *config_path;         /* NULL: bundled/default resolution */
    mg_serve_opts opts;        /* command-line overrides, re-applied on reload */
    char *home;
    mg_store *store;
    struct mg_breakers *breakers;
    struct mg_live *live;          /* live aggregates and events */
    struct mg_static *dashboard;   /* dashboard files, loaded at start */
    struct mg_sessions *sessions;  /* dashboard login sessions */
    struct mg_analytics *analytics; /* reader thread for /api/analytics */
    struct mg_crosstalk *crosstalk; /* crosstalk sessions */
    struct mg_alerts *alerts;       /* alert rules, insights, what-if (main loop) */
    struct mg_keys *keys;          /* virtual keys, limits, budgets (src/keys) */
    ev_timer live_tick;
    ev_async persist_async;        /* worker → main: save provider state */
    int listen_fd, tls_fd;
    int bound_port, tls_bound_port;
    void *tls_ctx;
    mg_worker *workers;
    int nworkers;
    char admin_token[128];
    int64_t started_at_ms;
    double started_mono;
    atomic_uint_fast64_t generation;
    pthread_mutex_t status_lock;
    mg_reload_status reload;
    atomic_int reload_requested;
    ev_async reload_async;     /* any thread → main: please reload */
    ev_signal sig_int, sig_term, sig_hup;
    ev_timer shutdown_timer;
    double shutdown_started;
    int shutdown_forced;
    int shutting_down;
    int exit_code;
    void *watch;               /* policy/config file watcher */
    struct mg_lua_gen *status_lua; /* current generation's files, for /api/policies */
};


/* `moongate serve`: returns the process exit code. */
int mg_gateway_serve(const mg_serve_opts *opts);

/* Every finished request's record ends here (worker thread): live stats,
 * on_log hooks, then the store, which takes ownership. */
void mg_gateway_record(mg_worker *w, mg_record *r);

/* Generations (generation.c, lua_glue.c). */
int mg_gen_build_all(mg_gateway *gw, mg_cfg_ref *cfg, uint64_t number, mg_wgen **gens,
                     char *err, size_t errlen);
int mg_gen_build_lua(mg_wgen *g, char *err, size_t errlen); /* any thread */
void mg_gen_adopt_lua(mg_wgen *g, mg_worker *w);            /* worker thread */
void mg_gen_free_lua(mg_wgen *g);                           /* owning thread */
/* Run the current generation's on_log hooks with a finished record. */
void mg_gen_on_log(mg_worker *w, const mg_record *r);
/* Remember g's policy state for GET /api/policies (main thread). */
void mg_gen_set_status_source(mg_gateway *gw, mg_wgen *g);
/* The current generation's policy files (name, sha256, size) as JSON. */
void mg_gen_files_json(mg_gateway *gw, mg_buf *out);

/* Worker lifecycle (worker.c). */
int mg_worker_start(mg_worker *w, char *err);
void mg_worker_handoff(mg_worker *w, mg_wgen *gen); /* main thread */
void mg_worker_stop(mg_worker *w, int hard);        /* main thread */

/* The HTTP handler every listener of a worker runs (router.c). */
void mg_router_handle(mg_http_req *req, void *worker);

/* Reload config and policies now (main thread); `why` goes to the log. */
void mg_gateway_reload(mg_gateway *gw, const char *why);
void mg_gateway_watch_start(mg_gateway *gw);
void mg_gateway_watch_stop(mg_gateway *gw);
void mg_gateway_watch_rehash(mg_gateway *gw);

/* Operator-disabled providers, persisted next to the database
 * (provider_state.c). changed() may be called from any thread. */
void mg_provider_state_load(mg_gateway *gw);
void mg_provider_state_watch(mg_gateway *gw);
void mg_provider_state_changed(mg_gateway *gw);

/* `moongate check`: build the policies of cfg once, report errors. */
int mg_gateway_check_policies(const mg_config *cfg, char *err, size_t errlen);

/* `moongate lua-test DIR` (lua_test.c). */
int mg_lua_test_main(const char *home, const char *dir);

/* Ask the main thread to reload config and policies (thread-safe). */
void mg_gateway_request_reload(mg_gateway *gw);
/* Snapshot of the reload status as JSON (caller owns out). */
void mg_gateway_reload_status_json(mg_gateway *gw, mg_buf *out);

#endif
