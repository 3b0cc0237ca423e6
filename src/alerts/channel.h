/* channel.h — notification channels: their JSON specs, the bodies each
 * kind expects, and the webhook signature. A spec is a JSON object:
 *   {"type":"webhook", "url":"https://...", "secret":"...", "headers":{..}}
 *   {"type":"slack" | "teams" | "discord", "url":"https://..."}
 *   {"type":"email", "url":"smtp://host:25" (or smtps://), "from":"a@b",
 *    "to":["x@y", ...], "username":"..", "password":".."}
 *   {"type":"in_app"}                 (live `alert_*` events)
 * plus optional "timeout" (seconds per attempt, default 10) and "retries"
 * (extra attempts, default 2). Generic webhooks carry
 * `X-Moongate-Signature: sha256=<hex HMAC-SHA256 of the body>` when a
 * secret is set. Uses jansson, OpenSSL (HMAC), core. */
#ifndef MG_AL_CHANNEL_H
#define MG_AL_CHANNEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"

enum mg_al_ch_type {
    MG_AL_CH_WEBHOOK = 0,
    MG_AL_CH_SLACK,
    MG_AL_CH_TEAMS,
    MG_AL_CH_DISCORD,
    MG_AL_CH_EMAIL,
    MG_AL_CH_IN_APP,
};

#define MG_AL_CH_MAX_TO 16
#define MG_AL_CH_MAX_HEADERS 16

/* A parsed channel. Owns every string. */
typedef struct mg_al_channel {
    int type;            /* enum mg_al_ch_type */
    char *name;          /* "" for inline channels */
    char *url;
    char *secret;        /* webhook HMAC key, may be NULL */
    char *headers[MG_AL_CH_MAX_HEADERS]; /* "Name: value" */
    size_t nheaders;
    char *from;
    char *to[MG_AL_CH_MAX_TO];
    size_t nto;
    char *username, *password;
    double timeout;      /* seconds per attempt */
    int retries;         /* extra attempts after the first */
} mg_al_channel;

int mg_al_channel_parse(const json_t *spec, const char *name, mg_al_channel *out, char *err,
                        size_t errlen);
void mg_al_channel_clear(mg_al_channel *c);
const char *mg_al_channel_type_name(int type);
/* A copy of spec fit for listing: secret, password and header values
 * replaced by "***" when set. */
json_t *mg_al_channel_masked(const json_t *spec);

/* What a notification says. */
typedef struct mg_al_notice {
    const char *event;    /* alert_triggered | alert_resolved | alert_test */
    const char *title;    /* one line */
    const char *text;     /* the numbers, one or two lines */
    const char *severity; /* info | warning | critical */
    const json_t *alert;  /* details object (rule, key, labels, value, ...) */
    int64_t ts_ms;
} mg_al_notice;

/* The request body for a webhook-like channel type (JSON). */
void mg_al_format_body(int type, const mg_al_notice *n, mg_buf *out);
/* The whole e-mail (headers + body, CRLF lines, dot-safe) for SMTP. */
void mg_al_format_email(const mg_al_channel *c, const mg_al_notice *n, mg_buf *out);
/* "sha256=" + 64 hex chars of HMAC-SHA256(secret, body); out >= 72 bytes. */
void mg_al_sign(const char *secret, const char *body, size_t len, char *out);

#endif
