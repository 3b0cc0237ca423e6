/* live.c — the live hub: per-second aggregates and the ring of recent
 * events (see live.h). Everything under one mutex held for a few
 * instructions; JSON for request events is built outside it. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "live-t.h"

mg_live *mg_live_new(void)
{
    mg_live *l = mg_xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    l->next_seq = 1;
    l->day = mg_now_wall_ms() / 86400000;
    return l;
}

void mg_live_free(mg_live *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < MG_LIVE_RING; i++)
        free(l->ring[i].json);
    mg_buf_free(&l->last_metrics);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Latency buckets: four per doubling from 0.1 ms, so a percentile is off
 * by at most 19%, at a fixed 80 counters per second. */
static int latency_bucket(double ms)
{
    if (!(ms > 0.1))
        return 0;
    int b = (int)(4.0 * log2(ms / 0.1));
    return b < 0 ? 0 : b >= MG_LIVE_BUCKETS ? MG_LIVE_BUCKETS - 1 : b;
}

static double bucket_upper_ms(int b) { return 0.1 * pow(2.0, (b + 1) / 4.0); }

static void count_model(mg_live *l, const char *model)
{
    if (!model)
        return;
    for (int i = 0; i < l->nmodels; i++) {
        if (strcmp(l->models[i].name, model) == 0) {
            l->models[i].count++;
            return;
        }
    }
    if (l->nmodels < MG_LIVE_MODELS) {
        snprintf(l->models[l->nmodels].name, sizeof l->models[0].name, "%s", model);
        l->models[l->nmodels++].count = 1;
    }
}

static void push_event(mg_live *l, const char *type, const char *json, size_t len)
{
    mg_live_event *e = &l->ring[l->next_seq % MG_LIVE_RING];
    free(e->json);
    e->json = mg_xstrndup(json, len);
    e->len = len;
    e->seq = l->next_seq++;
    snprintf(e->type, sizeof e->type, "%s", type);
}

void mg_live_record(mg_live *l, const mg_record *r)
{
    mg_buf json = {0};
    if (atomic_load(&l->subscribers) > 0)
        mg_record_to_json(r, &json);
    int failed = r->http_status >= 400 || (r->status && strcmp(r->status, "success") != 0);
    pthread_mutex_lock(&l->lock);
    l->sec.requests++;
    l->sec.errors += failed;
    l->sec.tokens += r->tokens_total;
    l->sec.cost += r->cost;
    l->hist[latency_bucket(r->duration_ms)]++;
    count_model(l, r->model_routed);
    int64_t day = r->ts_ms / 86400000;
    if (day != l->day) {
        l->day = day;
        l->cost_today = 0;
    }
    l->cost_today += r->cost;
    l->total_requests++;
    if (json.len)
        push_event(l, "request_event", json.data, json.len);
    pthread_mutex_unlock(&l->lock);
    mg_buf_free(&json);
}

void mg_live_publish(mg_live *l, const char *type, const char *json, size_t len)
{
    pthread_mutex_lock(&l->lock);
    push_event(l, type, json, len);
    pthread_mutex_unlock(&l->lock);
}

static double percentile(const uint32_t *hist, uint64_t n, double q)
{
    if (n == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)n), seen = 0;
    for (int b = 0; b < MG_LIVE_BUCKETS; b++) {
        seen += hist[b];
        if (seen >= want)
            return bucket_upper_ms(b);
    }
    return bucket_upper_ms(MG_LIVE_BUCKETS - 1);
}

/* Caller holds the lock. */
static void build_metrics(mg_live *l, uint64_t active, mg_buf *b)
{
    const mg_live_second *s = &l->sec;
    mg_buf_printf(b,
                  "{\"ts\":%lld,\"requests\":%llu,\"errors\":%llu,\"active\":%llu,\"rps\":%llu,"
                  "\"errors_per_s\":%llu,\"tokens_per_s\":%llu,\"cost_per_s\":%.8f,"
                  "\"cost_today\":%.6f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"models\":{",
                  (long long)mg_now_wall_ms(), (unsigned long long)l->total_requests,
                  (unsigned long long)l->total_errors, (unsigned long long)active,
                  (unsigned long long)s->requests, (unsigned long long)s->errors,
                  (unsigned long long)s->tokens, s->cost, l->cost_today,
                  percentile(l->hist, s->requests, 0.50), percentile(l->hist, s->requests, 0.95),
                  percentile(l->hist, s->requests, 0.99));
    for (int i = 0; i < l->nmodels; i++) {
        if (i)
            mg_buf_append_str(b, ",");
        mg_buf_append_json_str(b, l->models[i].name, strlen(l->models[i].name));
        mg_buf_printf(b, ":%llu", (unsigned long long)l->models[i].count);
    }
    mg_buf_append_str(b, "}}");
}

void mg_live_tick(mg_live *l, uint64_t active_requests)
{
    pthread_mutex_lock(&l->lock);
    l->total_errors += l->sec.errors;
    mg_buf_reset(&l->last_metrics);
    build_metrics(l, active_requests, &l->last_metrics);
    memset(&l->sec, 0, sizeof l->sec);
    memset(l->hist, 0, sizeof l->hist);
    l->nmodels = 0;
    push_event(l, "metrics_update", l->last_metrics.data, l->last_metrics.len);
    pthread_mutex_unlock(&l->lock);
}

void mg_live_stats_json(mg_live *l, mg_buf *out)
{
    pthread_mutex_lock(&l->lock);
    if (l->last_metrics.len)
        mg_buf_append(out, l->last_metrics.data, l->last_metrics.len);
    else
        mg_buf_append_str(out, "{}");
    pthread_mutex_unlock(&l->lock);
}

uint64_t mg_live_subscriber_count(mg_live *l) { return (uint64_t)atomic_load(&l->subscribers); }
