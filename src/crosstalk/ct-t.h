/* ct-t.h — types and internal functions shared by the files of
 * src/crosstalk (not used outside it; the public surface is crosstalk.h).
 *
 * Ownership, top down:
 *   mg_crosstalk   owns the database thread and its queue of jobs, one
 *                  inbox per attached worker (freed with it) and the
 *                  registry of live session ids (entries only; the
 *                  sessions belong to their inbox).
 *   ct_inbox       owns the sessions running on its worker loop and the
 *                  jobs whose replies wait for that loop.
 *   ct_session     owns its turn in flight, its Lua session table (a
 *                  registry reference in its generation's state) and one
 *                  reference on that generation.
 *   ct_job         belongs to the queue, then to the thread running it,
 *                  then to the inbox it replies to; destroy() frees it. */
#ifndef MG_CT_T_H
#define MG_CT_T_H

#include <ev.h>
#include <pthread.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../proxy/internal.h"
#include "../runtime/gateway.h"
#include "../upstream/sse.h"
#include "crosstalk.h"

struct sqlite3;

#define CT_MAX_TEXT (64 * 1024)   /* reply text kept per turn */
#define CT_MAX_ERR_BODY 4096      /* error body kept for the reason */
#define CT_TOKEN_BATCH_BYTES 48   /* token events carry at least this much ... */
#define CT_TOKEN_BATCH_SECS 0.08  /* ... or what arrived in this long */
#define CT_LUA_BUDGET 0.25        /* seconds per engine call */
#define CT_LOAD_BUDGET 1.0        /* seconds to run a preset chunk */
#define CT_RETRY_DELAY 1.0        /* seconds before the one retry of a failed turn */
#define CT_MAX_LIVE 64            /* live sessions per gateway */
#define CT_MAX_QUEUE 100000       /* jobs waiting for the database thread */
#define CT_MAX_PRESET_BYTES (256 * 1024)

typedef struct ct_job ct_job;
typedef struct ct_inbox ct_inbox;
typedef struct ct_session ct_session;
typedef struct ct_turn ct_turn;

/* ---- database thread (db.c) --------------------------------------------- */

struct ct_job {
    ct_job *next;
    void (*run)(ct_job *job, struct sqlite3 *db); /* database thread */
    void (*reply)(ct_job *job);                   /* inbox loop; may be NULL */
    void (*destroy)(ct_job *job);                 /* any thread: frees the job */
    ct_inbox *inbox;                              /* NULL: no reply */
};

enum ct_param_type { CT_P_NULL = 0, CT_P_INT, CT_P_REAL, CT_P_TEXT };

/* A bound SQL parameter. TEXT is copied by ct_db_exec. */
typedef struct ct_param {
    int type;
    int64_t i;
    double d;
    const char *s;
} ct_param;

#define CT_INT(v) ((ct_param){.type = CT_P_INT, .i = (int64_t)(v)})
#define CT_REAL(v) ((ct_param){.type = CT_P_REAL, .d = (double)(v)})
#define CT_TEXT(v) ((ct_param){.type = (v) ? CT_P_TEXT : CT_P_NULL, .s = (v)})
#define CT_NULL ((ct_param){.type = CT_P_NULL})

int ct_db_start(mg_crosstalk *ct, char *err);
/* Stop after every queued job ran; close the connection. */
void ct_db_stop(mg_crosstalk *ct);
/* Queue a job (any thread). MG_OK, or MG_ERR when the queue is full or
 * stopping: the job was destroyed. */
int ct_db_submit(mg_crosstalk *ct, ct_job *job);
/* Queue one write statement with its parameters (copied). */
int ct_db_exec(mg_crosstalk *ct, const char *sql, const ct_param *params, int n);

/* ---- inboxes and registry (ct.c) ----------------------------------------- */

struct ct_inbox {
    mg_crosstalk *ct;
    struct mg_worker *w;
    struct ev_loop *loop;
    ev_async async;
    ct_job *done_head, *done_tail; /* replies waiting; under ct->lock */
    struct ct_cmd *cmds;           /* control requests from other workers; under ct->lock */
    int alive;                     /* under ct->lock: 0 once detached */
    int draining;                  /* loop thread: no new sessions */
    ct_session *sessions;          /* loop thread: owned */
};

/* A control request posted to a session's loop from another worker. */
typedef struct ct_cmd {
    struct ct_cmd *next;
    char id[33];
    int action; /* enum ct_action */
} ct_cmd;

enum ct_action { CT_ACT_PAUSE = 0, CT_ACT_RESUME, CT_ACT_STEP, CT_ACT_STOP, CT_NACTIONS };

typedef struct ct_live {
    char id[33];
    ct_inbox *inbox;
} ct_live;

struct mg_crosstalk {
    mg_gateway *gw;
    char *home;
    char *db_path;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    ct_job *queue_head, *queue_tail; /* under lock */
    size_t queued;
    int stopping;
    pthread_t thread;
    int thread_started;
    struct sqlite3 *db;              /* database thread only */
    ct_inbox **inboxes;              /* under lock; owned */
    size_t ninboxes;
    ct_live live[CT_MAX_LIVE];       /* under lock; id[0] == 0: free slot */
};

ct_inbox *ct_inbox_of(mg_crosstalk *ct, struct mg_worker *w);
/* Registry: MG_OK, or MG_AGAIN when CT_MAX_LIVE sessions run. */
int ct_live_add(mg_crosstalk *ct, const char *id, ct_inbox *ib);
void ct_live_remove(mg_crosstalk *ct, const char *id);
/* The inbox running session id, or NULL (under lock inside). */
ct_inbox *ct_live_find(mg_crosstalk *ct, const char *id);
/* Post a control action to another loop. MG_OK or MG_ERR (gone). */
int ct_post_cmd(mg_crosstalk *ct, ct_inbox *ib, const char *id, int action);

/* ---- the Lua engine (lua_bridge.c) ----------------------------------------- */

enum ct_source_kind { CT_SRC_LUA = 0, CT_SRC_JSON };

typedef struct ct_create {
    int kind;             /* enum ct_source_kind */
    const char *text;     /* preset source or JSON */
    size_t len;
    const char *file;     /* "debate.lua": names errors and the preset */
    const char *id;       /* session id */
    int rounds;           /* > 0: overrides the preset's rounds */
    double budget_usd;    /* >= 0: overrides the preset's budget; < 0 keeps it */
} ct_create;

/* What the host reads once from a new Lua session. Strings owned. */
typedef struct ct_info {
    char *name, *paradigm, *topology, *prompt, *key_id;
    char *config_json;    /* crosstalk.describe() */
    int rounds;           /* 0: unlimited */
    double budget_usd;    /* < 0: none */
    int planned_turns;    /* 0: unknown */
} ct_info;

void ct_info_free(ct_info *in);

/* One turn as the engine planned it. Strings owned. */
typedef struct ct_plan {
    int round, index, seq, max_tokens, turns_in_round;
    char *speaker, *name, *model, *role;
    char *body;           /* chat completions request JSON */
    size_t body_len;
    char *hears_json, *to_json; /* JSON arrays of participant ids */
    mg_kv *headers;
    size_t nheaders;
} ct_plan;

void ct_plan_free(ct_plan *p);

/* New session table: MG_OK with *ref and info filled, or MG_ERR with err
 * ("debate.lua:12: ..."). */
int ct_lua_create(struct mg_lua_gen *g, const ct_create *in, int *ref, ct_info *info, char *err,
                  size_t errlen);
/* 1: *plan filled; 0: the session is over, reason filled; -1: error. */
int ct_lua_next(struct mg_lua_gen *g, int ref, ct_plan *plan, char *reason, size_t rlen,
                char *err, size_t errlen);
/* The reply of the turn in flight. MG_OK with *round_done, or MG_ERR. */
int ct_lua_commit(struct mg_lua_gen *g, int ref, const char *text, size_t len, int *round_done,
                  char *err, size_t errlen);
void ct_lua_release(struct mg_lua_gen *g, int ref);

/* ---- sessions (session.c, turn.c) ------------------------------------------ */

/* The outcome of a finished request, copied from its record. */
typedef struct ct_outcome {
    int ok;
    char status[24];
    char request_id[40];
    char provider[80], model_routed[208];
    char error[512];
    int64_t tokens_in, tokens_out;
    double cost, duration_ms, ttft_ms;
} ct_outcome;

struct ct_turn {
    ct_session *s;
    mg_px_internal *px;   /* NULL once on_done fired */
    mg_sse_parser sse;
    mg_buf text;          /* reply so far (at most CT_MAX_TEXT) */
    mg_buf err_body;      /* a non-stream body (an error) */
    size_t published;     /* bytes of text sent as token events */
    double last_publish;
    int http_status;
    int is_sse;
    int done;             /* on_done fired: outcome is valid */
    ct_outcome out;
    double t_start;
};

struct ct_session {
    ct_session *next;     /* in the inbox's list */
    mg_crosstalk *ct;
    ct_inbox *ib;
    struct mg_worker *w;
    char id[33];
    mg_wgen *gen;         /* retained: its Lua runs the paradigm */
    int lua_ref;
    ct_info info;
    int state;            /* enum mg_ct_state */
    char reason[64];
    char detail[512];
    int final_state;      /* >= 0: end in this state once no turn is in flight */
    ct_plan plan;         /* the turn in flight, or the one to retry */
    int have_plan;
    int retried;          /* the current plan was retried once */
    ct_turn *turn;        /* request in flight, or finished and not yet handled */
    ev_timer kick;        /* runs the next step on the loop */
    double cost;
    int64_t tokens_in, tokens_out, requests;
    int rounds_done, turns_done, round;
    int64_t created_ms, started_ms, ended_ms;
    double started_mono;
};

/* From the admin API: a checked preset becomes a session on w's loop.
 * MG_OK with id filled; otherwise *status (400, 409, 503) and err. */
int ct_session_create(mg_crosstalk *ct, struct mg_worker *w, const ct_create *in, int start_paused,
                      char id[33], int *status, char *err, size_t errlen);
/* Control on the owner's loop: MG_OK, or MG_ERR with *status and err. */
int ct_session_control(ct_session *s, int action, int *status, char *err, size_t errlen);
ct_session *ct_session_find(ct_inbox *ib, const char *id);
/* End every session of the inbox as interrupted (drain: turns cancelled and
 * ended later; now: ended at once). */
void ct_sessions_interrupt(ct_inbox *ib, int now);
void ct_session_kick(ct_session *s, double after);
/* Step: called by the kick timer. */
void ct_session_step(ct_session *s);
/* Status snapshot as a JSON object (for control answers). */
void ct_session_json(const ct_session *s, mg_buf *out);

/* turn.c */
int ct_turn_start(ct_session *s, char *err, size_t errlen);
void ct_turn_cancel(ct_turn *t);
void ct_turn_free(ct_turn *t);
/* Publish token text not yet sent (at the end of a turn). */
void ct_turn_flush_tokens(ct_turn *t);

/* ---- events and rows (events.c) ----------------------------------------- */

void ct_emit_session_start(ct_session *s);
void ct_emit_state(ct_session *s);
void ct_emit_turn_start(ct_session *s, double worst_usd);
void ct_emit_tokens(ct_session *s, const char *text, size_t len);
void ct_emit_turn_end(ct_session *s, const ct_turn *t);
void ct_emit_round_end(ct_session *s, int round);
void ct_emit_session_end(ct_session *s);

void ct_row_insert(ct_session *s);
void ct_row_update(ct_session *s);
void ct_row_event(ct_session *s, const ct_turn *t);
void ct_row_message(ct_session *s, const char *role, const char *speaker, const char *name,
                    const char *model, int round, int turn, const char *text, size_t len);

/* Estimated cost of the whole session (for status lines). */
double ct_estimated_cost(const ct_session *s);

/* ---- admin reads (db_read.c) ---------------------------------------------- */

/* Each builds a JSON answer on the database thread: MG_OK, or MG_ERR with
 * *status and a message in out. */
int ct_read_session(struct sqlite3 *db, const char *id, mg_buf *out, int *status);
int ct_read_list(struct sqlite3 *db, const char *query, mg_buf *out, int *status);
int ct_read_stats(struct sqlite3 *db, mg_buf *out, int *status);
int ct_read_presets(const char *home, mg_buf *out, int *status);
/* Read examples/crosstalk/NAME.lua: MG_OK with *text (malloc'd), or MG_ERR
 * with *status and err. */
int ct_read_preset_file(const char *home, const char *name, char **text, size_t *len,
                        int *status, char *err, size_t errlen);

#endif
