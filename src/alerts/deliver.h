/* deliver.h — sending notifications: webhooks (generic, Slack, Teams,
 * Discord) as async POSTs through an mg_upstream on the engine's loop,
 * e-mail through the SMTP thread (smtp.h), in-app as a live event. Each
 * attempt has the channel's timeout; failures (transport errors, 408, 429,
 * 5xx) are retried with exponential backoff (1 s, 2 s, 4 s ... capped at
 * 30 s) up to the channel's retries; other 4xx answers are final. At most
 * MG_AL_MAX_INFLIGHT deliveries at once: past that a delivery fails at
 * once ("too many notifications in flight"), so a dead endpoint can never
 * pile up memory or stall evaluation. Loop thread only. Uses upstream,
 * live, channel.h, smtp.h, libev. */
#ifndef MG_AL_DELIVER_H
#define MG_AL_DELIVER_H

#include <ev.h>

#include "channel.h"

#define MG_AL_MAX_INFLIGHT 256

struct mg_live;
typedef struct mg_al_sender mg_al_sender;

/* How one delivery ended. Strings live during the callback only. */
typedef struct mg_al_sent {
    int ok;
    int status;          /* last HTTP status; 250 for SMTP; 0 when none */
    int attempts;
    const char *error;   /* "" when ok */
    const char *channel; /* name ("" inline) */
    const char *type;    /* webhook, slack, ... */
    double ms;           /* from start to the end of the last attempt */
} mg_al_sent;

/* Runs exactly once per accepted delivery, on the loop — or inside
 * mg_al_sender_free with error "shutting down" (then it must not touch
 * anything but its own ud). In-app deliveries call it before
 * mg_al_deliver returns. */
typedef void (*mg_al_sent_fn)(void *ud, const mg_al_sent *s);

mg_al_sender *mg_al_sender_new(struct ev_loop *loop, struct mg_live *live);
/* Cancel everything in flight (callbacks see "shutting down"), free. */
void mg_al_sender_free(mg_al_sender *s);
/* Backoff base in seconds (default 1; tests shorten it). */
void mg_al_sender_set_backoff(mg_al_sender *s, double base);

/* Send n through channel c (copied). fn may be NULL. Always accepted:
 * failures, including a full in-flight table, arrive through fn. */
void mg_al_deliver(mg_al_sender *s, const mg_al_channel *c, const mg_al_notice *n,
                   mg_al_sent_fn fn, void *ud);
size_t mg_al_sender_inflight(const mg_al_sender *s);

#endif
