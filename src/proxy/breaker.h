/* breaker.h — circuit breakers per provider, shared by every worker and
 * surviving reloads (keyed by provider name). closed → open after N
 * consecutive upstream faults → half-open after the cool-down, letting a
 * few probes through → closed on a probe's success, open again on its
 * failure. Only upstream faults count (connect errors, timeouts, 5xx, 429).
 * Thread-safe: one mutex, held for a few instructions. */
#ifndef MG_BREAKER_H
#define MG_BREAKER_H

#include "../config/config.h"
#include "../core/buf.h"

enum mg_breaker_state { MG_BREAKER_CLOSED = 0, MG_BREAKER_OPEN, MG_BREAKER_HALF_OPEN };

typedef struct mg_breakers mg_breakers;

mg_breakers *mg_breakers_new(void);
void mg_breakers_free(mg_breakers *b);

/* May an attempt go to p now? 1 yes (a half-open probe is counted), 0 no. */
int mg_breaker_allow(mg_breakers *b, const mg_provider_cfg *p, double now);
/* The attempt allowed above ended: fault = 1 for an upstream fault. */
void mg_breaker_report(mg_breakers *b, const mg_provider_cfg *p, int fault, double now);
/* The attempt allowed above ended without a verdict (cancelled). */
void mg_breaker_release(mg_breakers *b, const mg_provider_cfg *p);
/* Current state by provider name (closed when never seen). */
int mg_breaker_state(mg_breakers *b, const char *provider, double now);
const char *mg_breaker_state_name(int state);

/* Operator switch (POST /api/providers/{name}/disable|enable): a disabled
 * provider gets no attempts, whatever its breaker says. */
void mg_breaker_set_disabled(mg_breakers *b, const char *provider, int disabled);
int mg_breaker_is_disabled(mg_breakers *b, const char *provider);
/* Names of disabled providers, one per line (for persisting). */
void mg_breaker_disabled_list(mg_breakers *b, mg_buf *out);

#endif
