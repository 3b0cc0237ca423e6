/* smtp.h — e-mail delivery on a small thread of its own: libcurl's SMTP
 * (MAIL FROM, RCPT TO, DATA) with the channel's timeout and retries, so a
 * slow or dead mail server never blocks the engine's loop. Results come
 * back to the loop through an ev_async. A bounded queue (64 messages):
 * past it a message fails at once. Uses libcurl, libev, pthreads. */
#ifndef MG_AL_SMTP_H
#define MG_AL_SMTP_H

#include <ev.h>

#include "channel.h"

typedef struct mg_al_smtp mg_al_smtp;

/* Loop thread: ok, status (250 or the failing SMTP/curl code), attempts,
 * error ("" when ok). Also called from mg_al_smtp_free for what is still
 * queued ("shutting down"). */
typedef void (*mg_al_smtp_fn)(void *ud, int ok, int status, int attempts, const char *error);

mg_al_smtp *mg_al_smtp_new(struct ev_loop *loop);
/* Stops the thread after the message being sent (its attempt is cut by
 * curl's timeouts), reports the rest as shutting down, frees. */
void mg_al_smtp_free(mg_al_smtp *m);
void mg_al_smtp_set_backoff(mg_al_smtp *m, double base);
/* Queue a message (copied: channel fields and the RFC 5322 text). Returns
 * MG_OK, or MG_AGAIN when the queue is full (fn not called). */
int mg_al_smtp_send(mg_al_smtp *m, const mg_al_channel *c, const char *message, size_t len,
                    mg_al_smtp_fn fn, void *ud);

#endif
