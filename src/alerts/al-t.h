/* al-t.h — the alerts engine's own struct and the calls its files make to
 * one another. Public API: alerts.h. Threads: everything in mg_alerts is
 * touched only on the engine's (main) loop thread, except the fields
 * marked "any thread", which have their own lock. */
#ifndef MG_AL_T_H
#define MG_AL_T_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../core/buf.h"
#include "alerts.h"
#include "db.h"
#include "deliver.h"
#include "reply.h"
#include "ring.h"
#include "rule.h"
#include "state.h"

#define MG_AL_MAX_RULES 500       /* API rules; policy rules the same */
#define MG_AL_MAX_CHANNELS 200
#define MG_AL_MAX_BUDGETS 256     /* budget scopes remembered */
#define MG_AL_MAX_GROUPS 100      /* alert keys one rule may produce per pass */
#define MG_AL_INBOX_MAX 1024      /* admin commands waiting for the loop */
#define MG_AL_RULE_BUDGET 0.25    /* seconds of Lua per function rule per pass */
#define MG_AL_INSIGHT_BUDGET 2.0  /* seconds of Lua for one insights run */

/* An admin request handed from a worker to the engine's loop. Owns its
 * strings; the reply is answered exactly once by whoever handles it. */
typedef struct mg_al_cmd {
    struct mg_al_cmd *next;
    mg_al_reply *reply;
    char *method, *path, *query, *body;
    size_t body_len;
} mg_al_cmd;

/* Latest spend of one budget scope, from the keys part. */
typedef struct mg_al_budget {
    char scope[192];          /* "global/day", "key:NAME/month", ... */
    double spent, budget;     /* USD */
    int64_t period_end_ms;    /* usage counts as 0 after it */
} mg_al_budget;

/* A model and its price, copied from the config. */
typedef struct mg_al_price {
    char *name;               /* owned */
    double input, output, cached_read, cache_write, reasoning;
    long context;
    int served;               /* some provider lists it */
} mg_al_price;

struct mg_alerts {
    struct ev_loop *loop;
    struct mg_live *live;
    char *db_path, *home;     /* owned */
    double interval, insight_interval;
    mg_al_ring *ring;         /* any thread (own lock) */
    mg_al_db *db;             /* owned: the database thread */
    mg_al_sender *sender;     /* owned */
    ev_timer tick, insight_tick;
    int closing;

    /* Admin inbox: any thread pushes, the loop drains. */
    pthread_mutex_t inbox_lock;
    mg_al_cmd *inbox_head, *inbox_tail;
    size_t inbox_n;
    int inbox_closed;
    ev_async inbox_wake;

    /* Budgets: any thread. */
    pthread_mutex_t budget_lock;
    mg_al_budget budgets[MG_AL_MAX_BUDGETS];
    size_t nbudgets;

    /* Rules and channels. */
    mg_al_rule *api_rules;    /* owned, napi entries */
    size_t napi;
    mg_al_rule *lua_rules;    /* owned: the current generation's */
    int *lua_refs;            /* registry refs of function rules (LUA_NOREF) */
    size_t nlua;
    char **evaluated;         /* rule names evaluated by the last pass */
    size_t nevaluated;
    json_t *channels;         /* name → spec object (owned) */
    json_t *mutes;            /* rule name → mute-until ms (owned; not persisted) */
    int loaded;               /* API rules and channels read from SQLite */
    mg_al_states states;
    long evaluations;
    int64_t last_eval_ms;

    /* Policy generation (main loop) and config-derived data. */
    mg_lua_gen *gen;          /* one reference, or NULL */
    int runner_ref, helper_ref, insights_ref; /* registry refs in gen's state */
    char *config_path;        /* owned: for what-if (NULL: default lookup) */
    mg_al_price *prices;      /* owned, nprices */
    size_t nprices;

    /* Insights and what-if. */
    int insights_running;
    mg_al_reply **insight_waiters; /* replies waiting for the running run */
    size_t nwaiters;
    int64_t last_insights_ms;
    struct mg_al_whatif *whatif;   /* running replay, or NULL */
};

/* engine.c */
void mg_al_inbox_push(mg_alerts *a, mg_al_cmd *c);
void mg_al_cmd_free(mg_al_cmd *c);
int mg_al_submit(mg_alerts *a, mg_al_job_run run, mg_al_job_done done, void *ud);
const mg_al_price *mg_al_price_of(const mg_alerts *a, const char *model);

/* eval.c */
const mg_al_rule *mg_al_find_rule(const mg_alerts *a, const char *name);
/* budget_usage per scope, for rules and mg.metrics. */
size_t mg_al_budget_snapshot(mg_alerts *a, mg_al_budget *out, size_t max, int64_t now_ms);

/* notify.c */
void mg_al_notify(mg_alerts *a, const mg_al_rule *r, const mg_al_change *c, int64_t now_ms);
void mg_al_history_add(mg_alerts *a, const mg_al_rule *r, const mg_al_change *c,
                       int64_t now_ms);
json_t *mg_al_alert_json(const mg_al_rule *r, const mg_al_alert *al, int firing, int64_t now_ms);
/* A named or inline channel of a rule's list → parsed; MG_ERR with err. */
int mg_al_channel_resolve(mg_alerts *a, const json_t *entry, mg_al_channel *out, char *err,
                          size_t errlen);

/* lua_rules.c */
void mg_al_lua_adopt(mg_alerts *a, mg_lua_gen *g);   /* takes g's reference */
void mg_al_lua_drop(mg_alerts *a);
/* Run one function rule; calls observe for each value it returns.
 * MG_OK, or MG_ERR (logged) when the function failed. */
typedef void (*mg_al_obs_fn)(mg_alerts *a, const mg_al_rule *r, const char *const *names,
                             const char *const *values, size_t nlabels, int has_value,
                             double value, uint64_t samples, int forced);
int mg_al_lua_run_rule(mg_alerts *a, size_t index, int64_t now_ms, mg_al_obs_fn obs);
/* Run the insight generators over data (JSON text). MG_OK with *out a JSON
 * array of insights, or MG_ERR with err. */
int mg_al_lua_insights(mg_alerts *a, const char *data_json, json_t **out, char *err,
                       size_t errlen);

/* api_rules.c */
void mg_al_load_saved(mg_alerts *a);          /* start: read rules + channels */
void mg_al_api_rules(mg_alerts *a, mg_al_cmd *c, const char *rest);
void mg_al_api_channels(mg_alerts *a, mg_al_cmd *c, const char *rest);
void mg_al_api_test(mg_alerts *a, mg_al_cmd *c);

/* history.c */
void mg_al_api_history(mg_alerts *a, mg_al_cmd *c);
void mg_al_api_active(mg_alerts *a, mg_al_cmd *c);
void mg_al_api_mute(mg_alerts *a, mg_al_cmd *c);

/* insights.c */
void mg_al_insights_run(mg_alerts *a, mg_al_reply *waiter);
void mg_al_api_insights(mg_alerts *a, mg_al_cmd *c);
void mg_al_api_insight_action(mg_alerts *a, mg_al_cmd *c);
void mg_al_insights_restore(mg_alerts *a);    /* start: re-apply applied actions */

/* insight_data.c (database thread): the data generators read. */
json_t *mg_al_insight_data(struct sqlite3 *db, int64_t now_ms, const mg_al_price *prices,
                           size_t nprices);

/* seed.c: fold the last 31 days of rollups into the ring's hour slots. */
void mg_al_seed_ring(mg_alerts *a);

/* whatif_api.c */
void mg_al_api_whatif(mg_alerts *a, mg_al_cmd *c);
void mg_al_whatif_stop(mg_alerts *a);

/* admin.c helpers: JSON body of a command, or NULL after answering 400
 * (c->reply is then NULL). */
json_t *mg_al_cmd_json(mg_al_cmd *c);
/* URL-decoded value of a query parameter; MG_OK or MG_ERR when absent or
 * longer than len - 1. */
int mg_al_query_param(const char *query, const char *name, char *out, size_t len);

/* Per-rule mutes set through POST /api/alerts/mute (rule name → until). */
int64_t mg_al_rule_mute(mg_alerts *a, const char *rule);

#endif
