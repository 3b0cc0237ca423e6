/* host.h — the LuaJIT policy host: what the request pipeline, the workers
 * and the admin API call. It provides policy *generations* (one sandboxed
 * LuaJIT state each, built from every policies/NAME.lua file), request hooks
 * run in a coroutine that may wait (mg.http.request, mg.sleep), and the
 * synchronous hooks around an upstream attempt and the final record.
 * Uses src/config (what to load), src/upstream (mg.http), src/store/record.h
 * (on_log), libev, LuaJIT and lua-cjson. The `mg` API scripts see is
 * documented in docs/lua-api.md.
 *
 * Threads. A generation is built on any thread, then handed to exactly one
 * worker loop, which binds it (mg_lua_gen_bind) and from then on is the only
 * thread that runs its Lua. Reference counts are atomic, so any thread may
 * hold a reference to read the immutable parts (number, files, load time);
 * whoever drops the last reference closes the state, so drop it on the
 * owning thread or after that thread stopped using it.
 *
 * Strings returned by accessors are owned by the object they came from and
 * live as long as it does. */
#ifndef MG_LUA_HOST_H
#define MG_LUA_HOST_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/config.h"
#include "../net/http.h"
#include "../store/record.h"
#include "../upstream/upstream.h"

typedef struct lua_State lua_State;

/* ---- limits ------------------------------------------------------------ */

typedef struct mg_lua_limits {
    size_t memory_max;  /* bytes one generation's Lua state may hold; 64 MiB */
    double hook_budget; /* seconds of running time per hook invocation; 0.05 */
    double load_budget; /* seconds to run one policy file's chunk or check(); 1 */
} mg_lua_limits;

void mg_lua_limits_default(mg_lua_limits *lim);

/* Registers the C modules bundled with the host (cjson, cjson.safe,
 * moongate.jsonc) in L's package.preload. */
void mg_lua_preload_bundled(lua_State *L);

/* ---- generations -------------------------------------------------------- */

typedef struct mg_lua_gen mg_lua_gen;

/* One policy file as loaded, for GET /api/policies. */
typedef struct mg_lua_file {
    const char *name;  /* "routing.lua" */
    char sha256[65];   /* lowercase hex of the content */
    size_t size;       /* bytes */
} mg_lua_file;

/* Build a generation: a new Lua state with the `mg` API, the standard
 * library on package.path (<home>/lua/?.lua;<home>/lua/?/init.lua), and every
 * *.lua file of cfg->policies loaded in name order and checked. Safe on any
 * thread. Returns NULL on any error, with err holding one human line such as
 * "policies/x.lua:12: unexpected symbol near 'end'" or
 * "policies/b.lua: route is already defined in policies/a.lua".
 * cfg is only read during the call (what Lua needs is copied). The new
 * generation holds one reference, owned by the caller. */
mg_lua_gen *mg_lua_gen_build(const mg_config *cfg, uint64_t number, char *err, size_t errlen);
/* Same with explicit limits (NULL = defaults). */
mg_lua_gen *mg_lua_gen_build_with(const mg_config *cfg, const mg_lua_limits *lim,
                                  uint64_t number, char *err, size_t errlen);

void mg_lua_gen_retain(mg_lua_gen *g);
void mg_lua_gen_release(mg_lua_gen *g); /* last reference closes the state */

/* The worker that adopts a generation binds it to its loop and upstream
 * client before the first call; waits (mg.http.request, mg.sleep) run there.
 * upstream may be NULL: mg.http.request then returns nil, "no upstream". */
void mg_lua_gen_bind(mg_lua_gen *g, struct ev_loop *loop, mg_upstream *upstream);

uint64_t mg_lua_gen_number(const mg_lua_gen *g);
double mg_lua_gen_load_ms(const mg_lua_gen *g);                    /* build time */
const mg_lua_file *mg_lua_gen_files(const mg_lua_gen *g, size_t *n); /* name order */
size_t mg_lua_gen_memory(const mg_lua_gen *g);                     /* bytes in use */

enum mg_lua_hook {
    MG_LUA_HOOK_ON_REQUEST = 0,
    MG_LUA_HOOK_ROUTE,
    MG_LUA_HOOK_BEFORE_UPSTREAM,
    MG_LUA_HOOK_ON_RESPONSE,
    MG_LUA_HOOK_CLASSIFY_ERROR,
    MG_LUA_HOOK_ON_LOG, /* list hook: true when at least one file has it */
    MG_LUA_NHOOKS
};
/* Whether any policy defines the hook, so the pipeline can skip work (e.g.
 * buffering a response only on_response would read). */
int mg_lua_gen_has_hook(const mg_lua_gen *g, int hook);
/* Policy file that defined a single hook ("policies/x.lua"), or NULL. */
const char *mg_lua_gen_hook_file(const mg_lua_gen *g, int hook);

/* ---- what hooks see ----------------------------------------------------- */

/* A request as hooks see it (`req` in Lua). Borrowed: everything it points
 * to must stay valid until the hook call returns or, for mg_lua_call_route,
 * until done fired or the call was cancelled. NULL strings read as nil. */
typedef struct mg_lua_req {
    const char *id, *method, *path, *query;
    const char *client_format; /* req.format: "openai", "anthropic", ... */
    const char *model;         /* model the client asked for */
    int stream;                /* req.stream (boolean) */
    long tokens_in_estimate;   /* req.tokens_in */
    const mg_header *headers;  /* req.headers: copy, lowercase names */
    size_t nheaders;
    const char *body;          /* req.body: JSON-decoded on first read; req.body_raw */
    size_t body_len;
    const char *key_id, *user_id, *session_id, *environment; /* req.key, .user, ... */
} mg_lua_req;

/* An upstream response as on_response and classify_error see it (`res`). */
typedef struct mg_lua_res {
    int status;               /* upstream HTTP status; 0 when none arrived */
    const mg_header *headers;
    size_t nheaders;
    const char *body;         /* res.body decoded on first read; res.body_raw */
    size_t body_len;
    const char *provider, *model;
    const char *error;        /* mg_up_result_name() of a transport failure, or NULL */
} mg_lua_res;

/* One routing target. route may return "provider/model" (split at the first
 * '/' when the part before it is a configured provider), "model" (provider
 * NULL: whichever provider serves it) or a table {provider=, model=,
 * timeout=, first_byte_timeout=, max_attempts=}. */
typedef struct mg_lua_target {
    char *provider;            /* NULL: any provider that serves model */
    char *model;               /* NULL: the model the client asked for */
    double timeout_total;      /* seconds; 0 = provider default */
    double timeout_first_byte; /* seconds; 0 = provider default */
    int max_attempts;          /* attempts on this target; 0 = default */
} mg_lua_target;

/* Outcome of any hook call. */
enum mg_lua_outcome {
    MG_LUA_OK = 0,      /* hook ran and returned something usable */
    MG_LUA_REFUSED,     /* on_request/route refused: status + message */
    MG_LUA_ERROR,       /* hook failed: message "policies/x.lua:12: ..." */
    MG_LUA_NO_HOOK,     /* nothing defined: use the defaults */
    MG_LUA_PENDING,     /* call still waiting (only mg_lua_call_outcome) */
};

/* ---- request hooks in a coroutine: on_request, then route ---------------- */

typedef struct mg_lua_call mg_lua_call;
typedef void (*mg_lua_done_fn)(mg_lua_call *c, void *ud);

/* Run on_request then route for one request, in one coroutine, on the
 * generation's bound loop. done fires exactly once with the finished call —
 * possibly before this function returns, when nothing waited. From the
 * moment done receives it, the call belongs to done's owner: read the
 * results, then mg_lua_call_free it (inside done or later).
 * Returns the call while it is still pending — keep it to cancel when the
 * client leaves — or NULL when done has already run. The call holds a
 * reference on the generation. */
mg_lua_call *mg_lua_call_route(mg_lua_gen *g, const mg_lua_req *req, mg_lua_done_fn done,
                               void *ud);

/* Client gone: aborts what the call waits for (an mg.http.request transfer
 * is cancelled), done never fires, and the call is freed. Only for a
 * pending call (one mg_lua_call_route returned non-NULL and done has not
 * run). */
void mg_lua_call_cancel(mg_lua_call *c);
/* Free a finished call (done has run). */
void mg_lua_call_free(mg_lua_call *c);

int mg_lua_call_outcome(const mg_lua_call *c);      /* enum mg_lua_outcome */
int mg_lua_call_status(const mg_lua_call *c);       /* REFUSED: HTTP status */
const char *mg_lua_call_message(const mg_lua_call *c); /* REFUSED/ERROR text, else NULL */
/* OK: the targets route returned, in order; n = 0 when route returned nil
 * or an empty list (use the default route). */
const mg_lua_target *mg_lua_call_targets(const mg_lua_call *c, size_t *n);
/* Seconds of Lua running time the call used (waits excluded). */
double mg_lua_call_cpu(const mg_lua_call *c);

/* ---- synchronous hooks (must not wait; same budget and sandbox) ---------- */

/* Changes a hook asked for. body NULL = unchanged; headers: set these
 * (value NULL = remove). Owned by the caller: mg_lua_changes_free. */
typedef struct mg_lua_changes {
    char *body;
    size_t body_len;
    mg_kv *headers;
    size_t nheaders;
} mg_lua_changes;

void mg_lua_changes_free(mg_lua_changes *ch);

/* before_upstream(req, target) → nil | { headers = {name = value|false},
 * body = string|table }. req->body is the body about to be sent upstream;
 * target->provider/model are the resolved ones; provider_format the format
 * spoken upstream. out is zeroed first. Returns MG_LUA_OK, MG_LUA_NO_HOOK
 * or MG_LUA_ERROR (err filled; nothing changed). */
int mg_lua_before_upstream(mg_lua_gen *g, const mg_lua_req *req, const mg_lua_target *target,
                           const char *provider_format, mg_lua_changes *out, char *err,
                           size_t errlen);

/* on_response(req, res) for a non-streaming response → nil | { body =
 * string|table, headers = {...} } (headers: extra response headers for the
 * client). Same return convention. */
int mg_lua_on_response(mg_lua_gen *g, const mg_lua_req *req, const mg_lua_res *res,
                       mg_lua_changes *out, char *err, size_t errlen);

/* classify_error(res) → nil | { retry = bool, breaker = bool }. The caller
 * pre-fills *retry and *breaker with its defaults; fields the hook leaves
 * out keep them. Same return convention. */
int mg_lua_classify_error(mg_lua_gen *g, const mg_lua_res *res, int *retry, int *breaker,
                          char *err, size_t errlen);

/* on_log(record) for every file that defines it, in file order. The table
 * has exactly the record's field names (TEXT NULL reads as nil) and is
 * shared by the hooks in turn. Errors are logged, never fatal. Returns the
 * number of hooks that failed. */
int mg_lua_on_log(mg_lua_gen *g, const mg_record *rec);

/* ---- host callbacks the rest of the gateway provides --------------------- */

enum mg_lua_breaker { MG_LUA_BREAKER_CLOSED = 0, MG_LUA_BREAKER_OPEN, MG_LUA_BREAKER_HALF_OPEN };

/* Live state of one provider, as mg.providers.get(name) reports it. */
typedef struct mg_lua_provider_state {
    int healthy;        /* default 1 */
    int breaker;        /* enum mg_lua_breaker; default closed */
    int disabled;       /* default 0 */
    double latency_ms;  /* recent latency EWMA; < 0 unknown (default -1) */
    double error_rate;  /* recent errors / attempts, 0..1; < 0 unknown */
    long inflight;      /* requests in flight; < 0 unknown */
} mg_lua_provider_state;

enum mg_lua_metric_op {
    MG_LUA_METRIC_SUM = 0,
    MG_LUA_METRIC_AVG,
    MG_LUA_METRIC_COUNT,      /* records matching; metric ignored */
    MG_LUA_METRIC_RATE,       /* sum per second over the window */
    MG_LUA_METRIC_PERCENTILE, /* q in 0..100 */
};

/* mg.metrics.<op>(metric, window_seconds, filters): metric is a numeric
 * record field ("cost", "tokens_total", "duration_ms", ...); filters are
 * record fields that must equal the given value (e.g. provider = "openai"). */
typedef struct mg_lua_metric_query {
    int op;                /* enum mg_lua_metric_op */
    const char *metric;    /* validated: an INT or REAL record field */
    double window;         /* seconds back from now, 0 < window <= 31 days */
    double q;              /* percentile only */
    const mg_kv *filters;  /* validated: record field names */
    size_t nfilters;
} mg_lua_metric_query;

/* Registered once before workers start (copied). Every callback may be
 * NULL, is called from any worker thread concurrently, must be quick and
 * must not call back into mg_lua_*. */
typedef struct mg_lua_host_ops {
    void *ud;
    /* Fill *st (pre-filled with the defaults) for a configured provider. */
    void (*provider_state)(void *ud, const char *provider, mg_lua_provider_state *st);
    /* MG_OK with *out set, or MG_ERR for "no data" (Lua sees nil). */
    int (*metric)(void *ud, const mg_lua_metric_query *q, double *out);
} mg_lua_host_ops;

void mg_lua_set_host_ops(const mg_lua_host_ops *ops);

/* ---- for other parts running Lua in a generation (alerts, insights,
 * crosstalk) ----------------------------------------------------------- */

lua_State *mg_lua_gen_state(mg_lua_gen *g);
/* Push the merged named definitions of one kind ("alerts", "insights",
 * "formats", "paradigms", "topologies"): a table name → definition. */
void mg_lua_gen_push_defs(mg_lua_gen *g, const char *kind);
/* lua_pcall with the sandbox's deadline (budget seconds; 0 = the hook
 * budget) and memory handling: function and nargs arguments on the state's
 * stack. MG_OK with nresults pushed, or MG_ERR with err filled and nothing
 * pushed. Must not wait. */
int mg_lua_gen_pcall(mg_lua_gen *g, int nargs, int nresults, double budget, char *err,
                     size_t errlen);
/* The same without a deadline, for the bundled standard library's own code
 * only (format conversion): never for anything a policy defined. */
int mg_lua_gen_pcall_trusted(mg_lua_gen *g, int nargs, int nresults, char *err,
                             size_t errlen);
/* Run a function (pushed with its nargs arguments on mg_lua_gen_state(g))
 * in a coroutine that may wait, as mg_lua_call_route does (same done and
 * return rules). Its results: mg_lua_call_push_results in done. */
mg_lua_call *mg_lua_call_start(mg_lua_gen *g, int nargs, double budget, mg_lua_done_fn done,
                               void *ud);
/* Push a finished call's return values onto mg_lua_gen_state; returns how
 * many (0 unless outcome is MG_LUA_OK). */
int mg_lua_call_push_results(mg_lua_call *c);

#endif
