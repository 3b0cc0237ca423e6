/* breaker.c — circuit breakers (see breaker.h). A handful of providers:
 * a flat array searched linearly beats a hash table here. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"

typedef struct breaker_entry {
    char *name;
    int state;
    int consecutive_faults;
    int probes_inflight;
    double open_until;
    int disabled;    /* switched off by an operator */
} breaker_entry;

struct mg_breakers {
    pthread_mutex_t lock;
    breaker_entry *entries; /* owned, grown on demand */
    size_t n, cap;
};

mg_breakers *mg_breakers_new(void)
{
    mg_breakers *b = mg_xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    return b;
}

void mg_breakers_free(mg_breakers *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->entries[i].name);
    free(b->entries);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static breaker_entry *entry_for(mg_breakers *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->entries[i].name, name) == 0)
            return &b->entries[i];
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->entries = mg_xrealloc(b->entries, b->cap * sizeof *b->entries);
    }
    breaker_entry *e = &b->entries[b->n++];
    memset(e, 0, sizeof *e);
    e->name = mg_xstrdup(name);
    return e;
}

/* Open → half-open once the cool-down is over. */
static void refresh(breaker_entry *e, double now)
{
    if (e->state == MG_BREAKER_OPEN && now >= e->open_until) {
        e->state = MG_BREAKER_HALF_OPEN;
        e->probes_inflight = 0;
    }
}

int mg_breaker_allow(mg_breakers *b, const mg_provider_cfg *p, double now)
{
    pthread_mutex_lock(&b->lock);
    breaker_entry *e = entry_for(b, p->name);
    refresh(e, now);
    int allow = 1;
    if (e->disabled) {
        allow = 0;
    } else if (e->state == MG_BREAKER_OPEN) {
        allow = 0;
    } else if (e->state == MG_BREAKER_HALF_OPEN) {
        int limit = p->breaker.half_open_probes > 0 ? p->breaker.half_open_probes : 1;
        allow = e->probes_inflight < limit;
        if (allow)
            e->probes_inflight++;
    }
    pthread_mutex_unlock(&b->lock);
    return allow;
}

void mg_breaker_report(mg_breakers *b, const mg_provider_cfg *p, int fault, double now)
{
    pthread_mutex_lock(&b->lock);
    breaker_entry *e = entry_for(b, p->name);
    int threshold = p->breaker.failure_threshold > 0 ? p->breaker.failure_threshold : 5;
    double cooldown = p->breaker.cooldown > 0 ? p->breaker.cooldown : 30;
    if (e->state == MG_BREAKER_HALF_OPEN && e->probes_inflight > 0)
        e->probes_inflight--;
    if (!fault) {
        e->consecutive_faults = 0;
        e->state = MG_BREAKER_CLOSED;
    } else if (e->state == MG_BREAKER_HALF_OPEN) {
        e->state = MG_BREAKER_OPEN;
        e->open_until = now + cooldown;
    } else if (++e->consecutive_faults >= threshold && e->state == MG_BREAKER_CLOSED) {
        e->state = MG_BREAKER_OPEN;
        e->open_until = now + cooldown;
    }
    pthread_mutex_unlock(&b->lock);
}

void mg_breaker_release(mg_breakers *b, const mg_provider_cfg *p)
{
    pthread_mutex_lock(&b->lock);
    breaker_entry *e = entry_for(b, p->name);
    if (e->state == MG_BREAKER_HALF_OPEN && e->probes_inflight > 0)
        e->probes_inflight--;
    pthread_mutex_unlock(&b->lock);
}

int mg_breaker_state(mg_breakers *b, const char *provider, double now)
{
    pthread_mutex_lock(&b->lock);
    int state = MG_BREAKER_CLOSED;
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->entries[i].name, provider) == 0) {
            refresh(&b->entries[i], now);
            state = b->entries[i].state;
            break;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return state;
}

const char *mg_breaker_state_name(int state)
{
    switch (state) {
    case MG_BREAKER_OPEN: return "open";
    case MG_BREAKER_HALF_OPEN: return "half_open";
    default: return "closed";
    }
}

void mg_breaker_set_disabled(mg_breakers *b, const char *provider, int disabled)
{
    pthread_mutex_lock(&b->lock);
    entry_for(b, provider)->disabled = disabled;
    pthread_mutex_unlock(&b->lock);
}

int mg_breaker_is_disabled(mg_breakers *b, const char *provider)
{
    int d = 0;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->entries[i].name, provider) == 0)
            d = b->entries[i].disabled;
    pthread_mutex_unlock(&b->lock);
    return d;
}

void mg_breaker_disabled_list(mg_breakers *b, mg_buf *out)
{
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->n; i++)
        if (b->entries[i].disabled)
            mg_buf_printf(out, "%s\n", b->entries[i].name);
    pthread_mutex_unlock(&b->lock);
}
