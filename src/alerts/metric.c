/* metric.c — the named metrics an alert rule may watch (rule.h), parsed
 * once per rule and evaluated over the ring. Ratios take their numerator
 * and denominator from the same window so they stay consistent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

static void set_err(char *err, size_t errlen, const char *name, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "metric '%s': %s", name, why);
}

/* "p95" → 95. MG_ERR unless p1..p99 (decimals allowed: p99.9). */
static int parse_pct(const char *s, size_t n, double *q)
{
    if (n < 2 || s[0] != 'p')
        return MG_ERR;
    char buf[16];
    if (n - 1 >= sizeof buf)
        return MG_ERR;
    memcpy(buf, s + 1, n - 1);
    buf[n - 1] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || *end || !(v > 0 && v < 100))
        return MG_ERR;
    *q = v;
    return MG_OK;
}

static int field_metric(const char *name, const char *colon, mg_al_metric *m, char *err,
                        size_t errlen)
{
    size_t alen = (size_t)(colon - name);
    m->num = mg_al_num_of(colon + 1);
    if (m->num < 0) {
        set_err(err, errlen, name, "not a numeric record field after ':'");
        return MG_ERR;
    }
    if (alen == 3 && !memcmp(name, "sum", 3))
        m->agg = MG_AL_SUM;
    else if (alen == 3 && !memcmp(name, "avg", 3))
        m->agg = MG_AL_AVG;
    else if (alen == 4 && !memcmp(name, "rate", 4))
        m->agg = MG_AL_RATE;
    else if (parse_pct(name, alen, &m->q) == MG_OK)
        m->agg = MG_AL_PCT;
    else {
        set_err(err, errlen, name, "use sum:, avg:, rate: or pNN: before the field");
        return MG_ERR;
    }
    return MG_OK;
}

static int pct_metric(const char *name, mg_al_metric *m)
{
    const char *us = strchr(name, '_');
    if (!us || parse_pct(name, (size_t)(us - name), &m->q) != MG_OK)
        return MG_ERR;
    if (strcmp(us + 1, "latency") == 0)
        m->num = mg_al_num_of("duration_ms");
    else if (strcmp(us + 1, "ttft") == 0)
        m->num = mg_al_num_of("ttft_ms");
    else
        return MG_ERR;
    m->agg = MG_AL_PCT;
    return MG_OK;
}

typedef struct named {
    const char *name;
    int kind, agg;
    const char *field;
    double scale;
} named;

static const named named_metrics[] = {
    {"error_rate", MG_AL_M_ERROR_RATE, 0, NULL, 0},
    {"error_count", MG_AL_M_AGG, MG_AL_ERRORS, NULL, 0},
    {"request_rate", MG_AL_M_SCALED_SUM, MG_AL_COUNT, NULL, 1},
    {"request_count", MG_AL_M_AGG, MG_AL_COUNT, NULL, 0},
    {"count", MG_AL_M_AGG, MG_AL_COUNT, NULL, 0},
    {"avg_latency", MG_AL_M_AGG, MG_AL_AVG, "duration_ms", 0},
    {"cost", MG_AL_M_AGG, MG_AL_SUM, "cost", 0},
    {"cost_per_hour", MG_AL_M_SCALED_SUM, MG_AL_SUM, "cost", 3600},
    {"cost_per_day", MG_AL_M_SCALED_SUM, MG_AL_SUM, "cost", 86400},
    {"token_rate", MG_AL_M_AGG, MG_AL_RATE, "tokens_total", 0},
    {"tokens", MG_AL_M_AGG, MG_AL_SUM, "tokens_total", 0},
    {"cache_hit_rate", MG_AL_M_CACHE_HIT_RATE, 0, NULL, 0},
    {"model_switch_rate", MG_AL_M_SWITCH_RATE, 0, NULL, 0},
    {"budget_usage", MG_AL_M_BUDGET_USAGE, 0, NULL, 0},
};

int mg_al_metric_parse(const char *name, mg_al_metric *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->num = -1;
    if (!name || !*name) {
        set_err(err, errlen, "", "missing");
        return MG_ERR;
    }
    for (size_t i = 0; i < MG_ARRAY_LEN(named_metrics); i++) {
        const named *n = &named_metrics[i];
        if (strcmp(n->name, name) != 0)
            continue;
        m->kind = n->kind;
        m->agg = n->agg;
        m->scale = n->scale;
        if (n->field)
            m->num = mg_al_num_of(n->field);
        return MG_OK;
    }
    const char *colon = strchr(name, ':');
    if (colon)
        return field_metric(name, colon, m, err, errlen);
    if (pct_metric(name, m) == MG_OK)
        return MG_OK;
    set_err(err, errlen, name,
            "unknown (error_rate, error_count, request_rate, request_count, p95_latency, "
            "avg_latency, p95_ttft, cost, cost_per_hour, cost_per_day, token_rate, tokens, "
            "cache_hit_rate, model_switch_rate, budget_usage, sum:FIELD, avg:FIELD, "
            "rate:FIELD, pNN:FIELD)");
    return MG_ERR;
}

static int ring_agg(mg_al_ring *ring, int agg, int num, double q, double window,
                    const mg_al_filter *f, size_t nf, int64_t now_ms, double *v, uint64_t *n)
{
    mg_al_query qq = {.agg = agg, .num = num, .window = window, .q = q, .filters = f,
                      .nfilters = nf};
    return mg_al_ring_query(ring, &qq, now_ms, v, n);
}

/* part / whole over the same window; no data when whole is 0. */
static int ratio(double part, double whole, uint64_t n, double *value, uint64_t *samples)
{
    *samples = n;
    if (whole <= 0)
        return MG_ERR;
    *value = part / whole;
    return MG_OK;
}

int mg_al_metric_eval(mg_al_ring *ring, const mg_al_metric *m, double window,
                      const mg_al_filter *filters, size_t nfilters, int64_t now_ms,
                      double *value, uint64_t *samples)
{
    double a = 0, b = 0;
    uint64_t na = 0, nb = 0;
    *value = 0;
    *samples = 0;
    switch (m->kind) {
    case MG_AL_M_AGG:
        return ring_agg(ring, m->agg, m->num, m->q, window, filters, nfilters, now_ms, value,
                        samples);
    case MG_AL_M_SCALED_SUM:
        if (ring_agg(ring, m->agg, m->num, 0, window, filters, nfilters, now_ms, &a, samples) !=
            MG_OK)
            return MG_ERR;
        *value = a * m->scale / window;
        return MG_OK;
    case MG_AL_M_ERROR_RATE:
    case MG_AL_M_SWITCH_RATE:
        if (ring_agg(ring, m->kind == MG_AL_M_ERROR_RATE ? MG_AL_ERRORS : MG_AL_SWITCHED, -1, 0,
                     window, filters, nfilters, now_ms, &a, &na) != MG_OK ||
            ring_agg(ring, MG_AL_COUNT, -1, 0, window, filters, nfilters, now_ms, &b, &nb) !=
                MG_OK)
            return MG_ERR;
        return ratio(a, b, nb, value, samples);
    case MG_AL_M_CACHE_HIT_RATE:
        if (ring_agg(ring, MG_AL_SUM, mg_al_num_of("tokens_cached_read"), 0, window, filters,
                     nfilters, now_ms, &a, &na) != MG_OK ||
            ring_agg(ring, MG_AL_SUM, mg_al_num_of("tokens_input"), 0, window, filters, nfilters,
                     now_ms, &b, &nb) != MG_OK)
            return MG_ERR;
        return ratio(a, b, nb, value, samples);
    default:
        return MG_ERR; /* budget_usage: the engine's budget table answers it */
    }
}
