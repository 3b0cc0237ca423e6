/* rule.h — alert rules as the engine holds them, whichever their source
 * (a policy's `alerts` table, read through the Lua runner as JSON, or the
 * API, stored as JSON in SQLite): parsing and validating the JSON form,
 * the named metrics a rule may watch, and evaluating a metric over the
 * ring. Uses jansson, ring.h. */
#ifndef MG_AL_RULE_H
#define MG_AL_RULE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "ring.h"

/* ---- metrics ---------------------------------------------------------------
 * Named: error_rate, error_count, request_rate, request_count,
 * pNN_latency (NN 1..99, e.g. p95_latency), avg_latency, pNN_ttft,
 * cost (USD in the window), cost_per_hour / cost_per_day (the window's
 * spend scaled to an hour / a day), token_rate (tokens_total per second),
 * tokens, cache_hit_rate (tokens_cached_read / tokens_input),
 * model_switch_rate (share of requests whose model_routed differs from
 * model_requested), budget_usage (spent / budget, 0..1+, per budget scope).
 * Generic: sum:FIELD, avg:FIELD, rate:FIELD, pNN:FIELD over any numeric
 * record field, and count. */
enum mg_al_mkind {
    MG_AL_M_AGG = 0,        /* agg over num (or count) */
    MG_AL_M_ERROR_RATE,
    MG_AL_M_SWITCH_RATE,
    MG_AL_M_CACHE_HIT_RATE,
    MG_AL_M_SCALED_SUM,     /* sum of num x scale / window */
    MG_AL_M_BUDGET_USAGE,
};

typedef struct mg_al_metric {
    int kind;   /* enum mg_al_mkind */
    int agg;    /* enum mg_al_agg, MG_AL_M_AGG */
    int num;    /* numeric field index, or -1 */
    double q;   /* percentile */
    double scale; /* MG_AL_M_SCALED_SUM: seconds (3600, 86400) */
} mg_al_metric;

int mg_al_metric_parse(const char *name, mg_al_metric *m, char *err, size_t errlen);
/* Value of a ring metric over the window (not budget_usage). MG_OK, or
 * MG_ERR for "no data" (nothing to average, a filter the ring cannot
 * answer). *samples: records behind the value. */
int mg_al_metric_eval(mg_al_ring *ring, const mg_al_metric *m, double window,
                      const mg_al_filter *filters, size_t nfilters, int64_t now_ms,
                      double *value, uint64_t *samples);

/* ---- rules ------------------------------------------------------------------ */

enum mg_al_source { MG_AL_SRC_POLICY = 0, MG_AL_SRC_API };
enum mg_al_op { MG_AL_OP_GT = 0, MG_AL_OP_GE, MG_AL_OP_LT, MG_AL_OP_LE, MG_AL_OP_EQ, MG_AL_OP_NE };

#define MG_AL_GROUP_BUDGET (-2) /* group_by "budget": budget_usage per scope */
#define MG_AL_MAX_GROUP 3
#define MG_AL_NAME_MAX 128

/* One rule. Owns every string and array in it (mg_al_rule_clear). */
typedef struct mg_al_rule {
    char *name;
    int source;             /* enum mg_al_source */
    int is_function;        /* value comes from a Lua function (policy only) */
    char *metric_name;      /* NULL for a function rule */
    mg_al_metric metric;
    double window;          /* seconds; default 300 */
    int op;                 /* enum mg_al_op; default > */
    double threshold;       /* default 0 */
    long min_samples;       /* below it the condition counts as clear; default 1 */
    char *severity;         /* info | warning | critical; default warning */
    double cooldown;        /* seconds between notifications of one alert; default 600 */
    int64_t mute_until_ms;  /* no notification before; 0 = none */
    int enabled;            /* default 1 */
    mg_al_filter *filters;  /* owned field and value strings */
    size_t nfilters;
    int group_by[MG_AL_MAX_GROUP]; /* label indices or MG_AL_GROUP_BUDGET */
    size_t ngroup;
    char *channels;         /* JSON array: names and/or inline channel objects */
    char *description;      /* may be NULL */
} mg_al_rule;

/* Parse a rule object. name NULL takes obj's "name". Unknown keys are
 * errors (typos must not silently disable a rule). is_function rules skip
 * metric. MG_OK, or MG_ERR with err ("threshold: must be a number"). */
int mg_al_rule_parse(const json_t *obj, const char *name, int source, int is_function,
                     mg_al_rule *out, char *err, size_t errlen);
void mg_al_rule_clear(mg_al_rule *r);
/* The rule as JSON (the API's shape, with "source"). */
json_t *mg_al_rule_json(const mg_al_rule *r);
const char *mg_al_op_name(int op);
/* The comparison of a value with the rule's threshold. */
int mg_al_rule_holds(const mg_al_rule *r, double value);

#endif
