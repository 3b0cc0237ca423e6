/* failures.c — slows clients that keep presenting wrong keys: failed
 * attempts are counted per client address in a fixed 60 s window, and past
 * max_auth_failures that address's wrong keys get 429 with retry-after
 * (SDKs back off on it) instead of 401 until the window ends. Valid keys
 * from the same address are never affected. A fixed table of slots keyed
 * by address hash bounds the memory; a colliding address takes the slot
 * over, which at worst forgets a count. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define FAIL_WINDOW 60

static size_t slot_of(const char *ip)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)ip; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % MG_KEYS_FAIL_SLOTS;
}

int mg_keys_fail_check(mg_keys *k, const char *ip, int64_t now_ms, int *retry_after)
{
    if (!ip || !*ip)
        return MG_OK;
    int64_t now = now_ms / 1000;
    int rc = MG_OK;
    pthread_mutex_lock(&k->fail_lock);
    int limit = k->max_auth_failures;
    mg_keys_fail_slot *s = &k->fails[slot_of(ip)];
    if (limit > 0 && strcmp(s->ip, ip) == 0 && now - s->window_start < FAIL_WINDOW &&
        s->count >= limit) {
        *retry_after = (int)(s->window_start + FAIL_WINDOW - now);
        rc = MG_ERR;
    }
    pthread_mutex_unlock(&k->fail_lock);
    return rc;
}

void mg_keys_fail_note(mg_keys *k, const char *ip, int64_t now_ms)
{
    if (!ip || !*ip)
        return;
    int64_t now = now_ms / 1000;
    pthread_mutex_lock(&k->fail_lock);
    mg_keys_fail_slot *s = &k->fails[slot_of(ip)];
    if (strcmp(s->ip, ip) != 0 || now - s->window_start >= FAIL_WINDOW) {
        snprintf(s->ip, sizeof s->ip, "%s", ip);
        s->window_start = now;
        s->count = 0;
    }
    s->count++;
    pthread_mutex_unlock(&k->fail_lock);
}
