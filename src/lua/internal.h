/* internal.h — what the files of src/lua share and nothing outside uses:
 * the generation and call structs, the sandbox and deadline helpers, the
 * table builders, the wait mechanism for coroutine calls and the mg.*
 * injection list. Public API: host.h. */
#ifndef MG_LUA_INTERNAL_H
#define MG_LUA_INTERNAL_H

#include <lauxlib.h>
#include <lua.h>
#include <stdatomic.h>

#include "../core/buf.h"
#include "host.h"
#include "pool.h"

#define MG_LUA_API_VERSION 1
#define MG_LUA_HOOK_COUNT 1000   /* VM instructions between deadline checks */
#define MG_LUA_MAX_TARGETS 32
/* Route coroutines kept for reuse: a finished coroutine can run a new
 * function, which saves creating and anchoring one per request. */
#define MG_LUA_IDLE_MAX 64
#define MG_LUA_MAX_MSG 512       /* error messages kept for the caller */
#define MG_LUA_MAX_CALL_ARGS 16  /* mg_lua_call_start */
#define MG_LUA_BOOT_CHUNK "=(moongate host)" /* name of the trusted boot chunk */

/* Named definitions a policy table may hold, merged by name. */
extern const char *const mg_lua_def_kinds[]; /* NULL-terminated */
/* Hook names in enum mg_lua_hook order. */
extern const char *const mg_lua_hook_names[MG_LUA_NHOOKS];

/* The "req"/"res" table's view of borrowed C data: a Lua-owned userdata the
 * host invalidates when the hook call ends, so a table a policy kept cannot
 * read freed memory. */
typedef struct mg_lua_box {
    int valid;
    const mg_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
} mg_lua_box;

struct mg_lua_gen {
    lua_State *L;            /* owned; closed by the last release */
    atomic_long refs;
    uint64_t number;
    mg_lua_limits lim;
    size_t mem_used, mem_peak; /* bytes the allocator handed to L */
    mg_lua_pool pool;        /* L's freed small blocks, for reuse (pool.h) */
    double load_ms;
    mg_lua_file *files;      /* owned, names owned */
    size_t nfiles;
    char *home;              /* owned copy of cfg->home: where require looks */
    char *label;             /* owned: last folder name of cfg->policies, for chunk names */

    /* Registry references (LUA_NOREF when absent). */
    int ref_host;            /* host table: base, envs, defs, providers, ... */
    int ref_threads;         /* weak set of host coroutines */
    int ref_idle;            /* route coroutines that returned, kept for reuse:
                                array 1..nidle, preallocated MG_LUA_IDLE_MAX */
    int nidle;
    int ref_req_mt;          /* metatable of req/res tables (lazy fields) */
    int ref_decode, ref_encode; /* host-private cjson instance */
    int ref_provider_set;    /* configured provider name -> true */
    int ref_body;            /* route body: on_request then route */
    int hook_ref[MG_LUA_NHOOKS]; /* single hooks; ON_LOG: array of functions */
    char *hook_file[MG_LUA_NHOOKS]; /* owned: "policies/x.lua" that defined it */
    char **log_files;        /* owned: file of each on_log entry */
    size_t nlog;

    /* Deadline of the Lua code running now (set by mg_lua_deadline_arm). */
    double deadline;         /* monotonic seconds; 0 = none */
    double budget;           /* the budget in force, for messages */
    int timed_out;
    char timeout_msg[MG_LUA_MAX_MSG];

    struct mg_lua_call *running; /* call whose coroutine runs now, or NULL */
    struct ev_loop *loop;    /* bound worker loop (borrowed) */
    mg_upstream *upstream;   /* bound upstream client (borrowed) */
};

mg_lua_gen *mg_lua_gen_of(lua_State *L);

/* ---- calls --------------------------------------------------------------- */

enum mg_lua_call_kind { MG_LUA_CALL_ROUTE = 0, MG_LUA_CALL_FUNC };
enum mg_lua_call_state { MG_LUA_CS_READY = 0, MG_LUA_CS_WAITING, MG_LUA_CS_DONE };


struct mg_lua_call {
    mg_lua_gen *gen;          /* holds a reference */
    lua_State *co;            /* the coroutine, anchored by co_ref */
    int co_ref;
    int kind;                 /* enum mg_lua_call_kind */
    int state;                /* enum mg_lua_call_state */
    const mg_lua_req *req;    /* borrowed from the caller */
    mg_lua_box *box;          /* owned by Lua; invalidated at the end */
    mg_lua_done_fn done;
    void *ud;
    double budget, used;      /* seconds */
    int outcome, status;
    char *message;            /* owned */
    mg_lua_target *targets;   /* owned, with their strings */
    size_t ntargets;
    int nresults;             /* FUNC: results left on co's stack */

    /* What the coroutine waits for. The area that started the wait owns
     * wait_data and frees it in wait_release (also on cancel). */
    ev_timer wake;            /* sleeps, and the resume after a wait ends */
    void *wait_data;
    void (*wait_release)(struct mg_lua_call *c);
};

/* For an API that waits: the call whose coroutine is L, or raises a Lua
 * error naming `what` when L cannot wait here. */
struct mg_lua_call *mg_lua_call_waitable(lua_State *L, const char *what, int yieldable);
/* Begin a wait (data owned by release); the coroutine yields right after. */
void mg_lua_call_wait(struct mg_lua_call *c, void *data, void (*release)(struct mg_lua_call *c));
/* The awaited thing finished: resume the coroutine after `delay` seconds
 * (0: next loop iteration, never inside the caller's stack). */
void mg_lua_call_wake(struct mg_lua_call *c, double delay);
/* End the wait, returning its data to the area (which now frees it). */
void *mg_lua_call_take_wait(struct mg_lua_call *c);

/* ---- sandbox and deadline ----------------------------------------------- */

/* Inside a protected call at build time: the base environment, wrapped
 * coroutine/load/require, the host coroutine set and the deadline hook. */
void mg_lua_sandbox_init(lua_State *L, mg_lua_gen *g);
/* Push a new environment (globals table) for a user file or module. */
void mg_lua_sandbox_push_env(lua_State *L, mg_lua_gen *g, int user_code);
/* From now on, assigning a new global in any environment is an error. */
void mg_lua_sandbox_seal(lua_State *L, mg_lua_gen *g);
/* Load Lua text (never bytecode) as a function with env (stack index) as
 * its globals; user_code: JIT off so the deadline hook fires. Leaves the
 * function or an error message on the stack; returns the lua_load status. */
int mg_lua_sandbox_load(lua_State *L, mg_lua_gen *g, const char *src, size_t len,
                        const char *chunkname, int env, int user_code);
/* The private value every host yield carries first. */
void *mg_lua_yield_sentinel(void);
/* Push a Lua function that calls start(yieldable, ...) — which starts a wait
 * or returns nil, err — yields the host coroutine, then returns finish(). */
void mg_lua_push_waiter(lua_State *L, lua_CFunction start, lua_CFunction finish);

/* Install the count hook (once per state, at build). */
void mg_lua_deadline_install(lua_State *L);
void mg_lua_deadline_arm(mg_lua_gen *g, double budget);
/* Disarm; returns 1 when the code ran past its deadline. */
int mg_lua_deadline_disarm(mg_lua_gen *g);

/* Run fn(ud) protected, with the deadline armed and memory errors handled;
 * the boxes (filled in by fn; NULL entries skipped) are invalidated as soon
 * as it returns. On failure returns MG_ERR and writes the message into err
 * ("policies/x.lua:12: ...", or "file: hook: ..." for errors elsewhere). */
int mg_lua_run(mg_lua_gen *g, lua_CFunction fn, void *ud, double budget, const char *file,
               const char *hook, mg_lua_box *const *boxes, int nboxes, char *err,
               size_t errlen);
/* Full collection when garbage fills most of the memory cap (call ends). */
void mg_lua_gen_relieve(mg_lua_gen *g);
/* Raise "file:line: message" with the position of the function `level`
 * frames up (2 = the policy code that called a waiter of the boot chunk). */
int mg_lua_raise_at(lua_State *L, int level, const char *fmt, ...);
/* Turn the error value on top of L (popped) into a message. */
void mg_lua_error_text(lua_State *L, int status, mg_lua_gen *g, const char *file,
                       const char *hook, char *out, size_t outlen);

/* ---- tables hooks see ------------------------------------------------------ */

mg_lua_box *mg_lua_push_req(lua_State *L, mg_lua_gen *g, const mg_lua_req *r);
mg_lua_box *mg_lua_push_res(lua_State *L, mg_lua_gen *g, const mg_lua_res *r);
void mg_lua_push_record(lua_State *L, const mg_record *rec);
void mg_lua_push_target(lua_State *L, const mg_lua_target *t, const char *provider_format);
void mg_lua_reqtab_init(lua_State *L, mg_lua_gen *g); /* metatable; at build */
/* Decode/encode with the host's cjson instance (protected inside). */
int mg_lua_json_decode(lua_State *L, mg_lua_gen *g, const char *s, size_t n);
int mg_lua_json_encode(lua_State *L, mg_lua_gen *g, int idx);

/* ---- policies -------------------------------------------------------------- */

int mg_lua_policies_load(mg_lua_gen *g, const char *dir, char *err, size_t errlen);
/* finish(call, stage, value) of the route body (route_result.c): stage 1
 * is on_request's non-nil result, stage 2 route's result. */
int mg_lua_route_finish(lua_State *L);

/* ---- mg.* areas: one injection list in api.c ------------------------------- */

/* Each sets its field(s) in the mg table on top of the stack. */
void mg_lua_inject_log(lua_State *L);
void mg_lua_inject_time(lua_State *L);
void mg_lua_inject_json(lua_State *L);
void mg_lua_inject_shared(lua_State *L);
void mg_lua_inject_providers(lua_State *L);
void mg_lua_inject_http(lua_State *L);
void mg_lua_inject_metrics(lua_State *L);
/* Push the complete mg table (all areas, api_version, refuse). */
void mg_lua_push_api(lua_State *L, mg_lua_gen *g);
/* Host-ops snapshot (api_providers.c / api_metrics.c read it). */
const mg_lua_host_ops *mg_lua_host_ops_get(void);
/* Build-time copies of the config for mg.providers / mg.models. */
void mg_lua_providers_load(lua_State *L, mg_lua_gen *g, const mg_config *cfg);

/* Small helpers. */
void mg_lua_set_str(lua_State *L, const char *field, const char *value); /* skips NULL */
void mg_lua_set_num(lua_State *L, const char *field, double value);
int mg_lua_header_name_ok(const char *s, size_t n);
int mg_lua_header_value_ok(const char *s, size_t n);

#endif
