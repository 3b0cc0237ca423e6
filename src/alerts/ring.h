/* ring.h — the alerts engine's in-memory metrics, fed by every finished
 * record and read by mg.metrics and the alert rules. Four parts behind one
 * mutex (any thread may add or query):
 *   - seconds: one slot per second for the last 5 minutes, each holding a
 *     few series (one per distinct label tuple) with the count, the errors,
 *     the model switches and the sum of every numeric record field;
 *   - minutes: the same per minute for the last hour, hours: per hour for
 *     the last 31 days (a window reads seconds, then minutes, then hours;
 *     the oldest slot of a tier prorated by its overlap);
 *   - samples: the most recent N records' numeric fields and labels, for
 *     percentiles and for filters on numeric fields.
 * Labels (the fields a filter or a group may name without going to the
 * samples): provider, model_requested, model_routed, status, key_id,
 * user_id, environment, client_format. Label strings are interned (at most
 * MG_AL_MAX_STRINGS; later new strings count as "other", which no filter
 * matches). Uses store/record.h, pthreads. */
#ifndef MG_AL_RING_H
#define MG_AL_RING_H

#include <stddef.h>
#include <stdint.h>

#include "../store/record.h"

enum mg_al_label {
    MG_AL_L_PROVIDER = 0,
    MG_AL_L_MODEL_REQUESTED,
    MG_AL_L_MODEL_ROUTED,
    MG_AL_L_STATUS,
    MG_AL_L_KEY_ID,
    MG_AL_L_USER_ID,
    MG_AL_L_ENVIRONMENT,
    MG_AL_L_CLIENT_FORMAT,
    MG_AL_NLABELS
};

#define MG_AL_MAX_NUM 32          /* numeric record fields the ring can hold (the record
                                     has 30; test_alerts checks every one is held) */
#define MG_AL_MAX_STRINGS 4096    /* interned label strings */
#define MG_AL_MAX_FILTERS 8
#define MG_AL_SECONDS 300         /* second slots: the last 5 minutes */
#define MG_AL_MINUTES 60          /* minute slots: the last hour */
#define MG_AL_HOURS (31 * 24)     /* hour slots */
#define MG_AL_MAX_WINDOW (31.0 * 86400)

/* Label index of a record field name, or -1. */
int mg_al_label_of(const char *field);
const char *mg_al_label_name(int label);
/* Index among the numeric record fields of a field name, or -1. */
int mg_al_num_of(const char *field);

enum mg_al_agg {
    MG_AL_SUM = 0,  /* sum of field */
    MG_AL_AVG,      /* sum / count */
    MG_AL_COUNT,    /* matching records */
    MG_AL_RATE,     /* sum of field per second of window */
    MG_AL_PCT,      /* percentile q of field (samples) */
    MG_AL_ERRORS,   /* records whose status is not "success" */
    MG_AL_SWITCHED, /* records whose model_routed differs from model_requested */
};

/* A filter: field = value. Labels are answered by the series; numeric
 * fields by the samples; other text fields are not kept (no data). */
typedef struct mg_al_filter {
    const char *field;
    const char *value;
} mg_al_filter;

typedef struct mg_al_query {
    int agg;                 /* enum mg_al_agg */
    int num;                 /* numeric field index (SUM, AVG, RATE, PCT) */
    double window;           /* seconds, 0 < window <= 31 days */
    double q;                /* PCT: 0..100 */
    const mg_al_filter *filters;
    size_t nfilters;
} mg_al_query;

typedef struct mg_al_ring mg_al_ring;

mg_al_ring *mg_al_ring_new(size_t nsamples); /* 0 = 20000 */
void mg_al_ring_free(mg_al_ring *r);
/* Count one record at now_ms (wall clock). */
void mg_al_ring_add(mg_al_ring *r, const mg_record *rec, int64_t now_ms);
/* Add pre-aggregated history to the hour slots (a restart seeds the last
 * days from rollup_minute). labels[] may hold NULLs; sums indexed like the
 * numeric fields (NULL = zeros). */
void mg_al_ring_seed_hour(mg_al_ring *r, int64_t hour_start_ms, const char *const *labels,
                          uint64_t count, uint64_t errors, const double *sums);

/* Answer a query over [now - window, now]. *value gets the result and
 * *samples the matching records. MG_OK, or MG_ERR when there is nothing to
 * average (AVG/PCT with no record) or a filter cannot be answered. */
int mg_al_ring_query(mg_al_ring *r, const mg_al_query *q, int64_t now_ms, double *value,
                     uint64_t *samples);
/* Distinct values of a label among the records of the window matching the
 * filters (at most max). *out is a malloc'd array of malloc'd strings; free
 * with mg_al_strings_free. Returns how many. */
size_t mg_al_ring_groups(mg_al_ring *r, int label, double window, const mg_al_filter *filters,
                         size_t nfilters, int64_t now_ms, size_t max, char ***out);
void mg_al_strings_free(char **s, size_t n);

#endif
