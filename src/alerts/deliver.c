/* deliver.c — notification delivery (deliver.h). Every delivery is one
 * entry of a doubly linked list owned by the sender: a webhook transfer or
 * a backoff timer is always pending for it until it ends, so freeing the
 * sender cancels exactly what is listed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../live/live.h"
#include "../upstream/upstream.h"
#include "deliver.h"
#include "smtp.h"

#define MAX_RESPONSE_READ 65536 /* bytes of an answer we bother to count */

typedef struct delivery {
    struct delivery *prev, *next;
    mg_al_sender *s;
    mg_al_channel ch;       /* owned copy */
    char *body;             /* owned */
    size_t len;
    char *headers[MG_AL_CH_MAX_HEADERS + 4]; /* owned "Name: value" */
    size_t nheaders;
    int attempts, status;
    char error[256];
    double t0, delay;
    mg_up_xfer *x;          /* transfer in flight, or NULL */
    ev_timer retry;         /* armed between attempts */
    mg_al_sent_fn fn;
    void *ud;
} delivery;

struct mg_al_sender {
    struct ev_loop *loop;
    struct mg_live *live;
    mg_upstream *up;        /* owned */
    mg_al_smtp *smtp;       /* owned */
    delivery *head;         /* in flight */
    size_t inflight;
    double backoff;
};

static void channel_copy(mg_al_channel *dst, const mg_al_channel *src)
{
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    dst->name = mg_xstrdup(src->name ? src->name : "");
    dst->url = src->url ? mg_xstrdup(src->url) : NULL;
    dst->secret = src->secret ? mg_xstrdup(src->secret) : NULL;
    for (size_t i = 0; i < src->nheaders; i++)
        dst->headers[dst->nheaders++] = mg_xstrdup(src->headers[i]);
    dst->timeout = src->timeout;
    dst->retries = src->retries;
}

static void finish(delivery *d, int ok, int shutting_down)
{
    mg_al_sender *s = d->s;
    if (d->prev)
        d->prev->next = d->next;
    else
        s->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    s->inflight--;
    if (!ok && !d->error[0])
        snprintf(d->error, sizeof d->error, "%s", shutting_down ? "shutting down" : "failed");
    if (!ok && !shutting_down)
        mg_warn("alerts: %s channel '%s' failed after %d attempt(s): %s",
                mg_al_channel_type_name(d->ch.type), d->ch.name[0] ? d->ch.name : "(inline)",
                d->attempts, d->error);
    if (d->fn) {
        mg_al_sent r = {.ok = ok, .status = d->status, .attempts = d->attempts,
                        .error = ok ? "" : d->error, .channel = d->ch.name,
                        .type = mg_al_channel_type_name(d->ch.type),
                        .ms = (ev_now(s->loop) - d->t0) * 1e3};
        d->fn(d->ud, &r);
    }
    mg_al_channel_clear(&d->ch);
    for (size_t i = 0; i < d->nheaders; i++)
        free(d->headers[i]);
    free(d->body);
    free(d);
}

static void start_attempt(delivery *d);

static int retryable(int status)
{
    return status == 0 || status == 408 || status == 429 || status >= 500;
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    start_attempt(t->data);
}

static void attempt_failed(delivery *d)
{
    if (d->attempts > d->ch.retries || !retryable(d->status)) {
        finish(d, 0, 0);
        return;
    }
    ev_timer_init(&d->retry, on_retry, d->delay, 0);
    d->retry.data = d;
    ev_timer_start(d->s->loop, &d->retry);
    d->delay = MG_MIN(d->delay * 2, 30.0);
}

static void on_response(void *ud, int status, const mg_header *h, size_t n)
{
    MG_UNUSED(h);
    MG_UNUSED(n);
    ((delivery *)ud)->status = status;
}

static int on_data(void *ud, const char *data, size_t len)
{
    MG_UNUSED(ud);
    MG_UNUSED(data);
    MG_UNUSED(len);
    return MG_OK; /* the answer's body is not needed */
}

static void on_done(void *ud, int result, const char *errmsg)
{
    delivery *d = ud;
    d->x = NULL;
    if (result == MG_UP_OK && d->status >= 200 && d->status < 300) {
        finish(d, 1, 0);
        return;
    }
    if (result != MG_UP_OK)
        snprintf(d->error, sizeof d->error, "%s%s%s", mg_up_result_name(result),
                 errmsg && *errmsg ? ": " : "", errmsg ? errmsg : "");
    else
        snprintf(d->error, sizeof d->error, "HTTP %d", d->status);
    if (result != MG_UP_OK)
        d->status = 0;
    attempt_failed(d);
}

static void start_attempt(delivery *d)
{
    d->attempts++;
    d->status = 0;
    mg_up_request rq = {
        .method = "POST", .url = d->ch.url, .headers = (const char *const *)d->headers,
        .nheaders = d->nheaders, .body = d->body, .body_len = d->len,
        .t_connect = MG_MIN(d->ch.timeout, 5.0), .t_first_byte = d->ch.timeout,
        .t_idle = d->ch.timeout, .t_total = d->ch.timeout,
    };
    static const mg_up_callbacks cb = {on_response, on_data, on_done};
    char err[MG_ERRLEN] = "";
    d->x = mg_up_start(d->s->up, &rq, &cb, d, err);
    if (!d->x) {
        snprintf(d->error, sizeof d->error, "%s", err[0] ? err : "cannot start the request");
        finish(d, 0, 0); /* a bad request does not get better by retrying */
    }
}

static void add_header(delivery *d, const char *fmt, const char *value)
{
    if (d->nheaders >= MG_ARRAY_LEN(d->headers))
        return;
    mg_buf b = {0};
    mg_buf_printf(&b, fmt, value);
    d->headers[d->nheaders++] = mg_xstrdup(mg_buf_cstr(&b));
    mg_buf_free(&b);
}

static void start_webhook(delivery *d, const mg_al_channel *c, const mg_al_notice *n)
{
    mg_buf body = {0};
    mg_al_format_body(c->type, n, &body);
    d->len = body.len;
    d->body = mg_xstrndup(body.data ? body.data : "", body.len);
    mg_buf_free(&body);
    add_header(d, "Content-Type: %s", "application/json");
    add_header(d, "User-Agent: %s", "moongate-alerts/1");
    add_header(d, "X-Moongate-Event: %s", n->event);
    if (c->type == MG_AL_CH_WEBHOOK && c->secret) {
        char sig[80];
        mg_al_sign(c->secret, d->body, d->len, sig);
        add_header(d, "X-Moongate-Signature: %s", sig);
    }
    for (size_t i = 0; i < c->nheaders; i++)
        add_header(d, "%s", c->headers[i]);
    start_attempt(d);
}

static void on_smtp(void *ud, int ok, int status, int attempts, const char *error)
{
    delivery *d = ud;
    d->status = status;
    d->attempts = attempts;
    snprintf(d->error, sizeof d->error, "%s", error ? error : "");
    finish(d, ok, !ok && error && !strcmp(error, "shutting down"));
}

static void start_email(delivery *d, const mg_al_channel *c, const mg_al_notice *n)
{
    mg_buf m = {0};
    mg_al_format_email(c, n, &m);
    int rc = mg_al_smtp_send(d->s->smtp, c, m.data, m.len, on_smtp, d);
    mg_buf_free(&m);
    if (rc != MG_OK) {
        snprintf(d->error, sizeof d->error, "too many e-mails queued");
        finish(d, 0, 0);
    }
}

static void send_in_app(mg_al_sender *s, const mg_al_channel *c, const mg_al_notice *n,
                        mg_al_sent_fn fn, void *ud)
{
    mg_buf b = {0};
    mg_al_format_body(MG_AL_CH_WEBHOOK, n, &b);
    if (s->live)
        mg_live_publish(s->live, n->event, b.data, b.len);
    mg_buf_free(&b);
    if (fn) {
        mg_al_sent r = {.ok = s->live != NULL, .status = 0, .attempts = 1,
                        .error = s->live ? "" : "no live hub", .channel = c->name ? c->name : "",
                        .type = "in_app"};
        fn(ud, &r);
    }
}

void mg_al_deliver(mg_al_sender *s, const mg_al_channel *c, const mg_al_notice *n,
                   mg_al_sent_fn fn, void *ud)
{
    if (c->type == MG_AL_CH_IN_APP) {
        send_in_app(s, c, n, fn, ud);
        return;
    }
    delivery *d = mg_xcalloc(1, sizeof *d);
    d->s = s;
    channel_copy(&d->ch, c);
    d->fn = fn;
    d->ud = ud;
    d->t0 = ev_now(s->loop);
    d->delay = s->backoff;
    d->next = s->head;
    if (s->head)
        s->head->prev = d;
    s->head = d;
    s->inflight++;
    if (s->inflight > MG_AL_MAX_INFLIGHT) {
        snprintf(d->error, sizeof d->error, "too many notifications in flight");
        finish(d, 0, 0);
        return;
    }
    if (c->type == MG_AL_CH_EMAIL)
        start_email(d, c, n);
    else
        start_webhook(d, c, n);
}

mg_al_sender *mg_al_sender_new(struct ev_loop *loop, struct mg_live *live)
{
    mg_al_sender *s = mg_xcalloc(1, sizeof *s);
    s->loop = loop;
    s->live = live;
    s->up = mg_upstream_new(loop);
    s->smtp = mg_al_smtp_new(loop);
    s->backoff = 1.0;
    return s;
}

void mg_al_sender_set_backoff(mg_al_sender *s, double base)
{
    s->backoff = base > 0 ? base : 1.0;
    mg_al_smtp_set_backoff(s->smtp, s->backoff);
}

size_t mg_al_sender_inflight(const mg_al_sender *s) { return s->inflight; }

void mg_al_sender_free(mg_al_sender *s)
{
    if (!s)
        return;
    /* E-mails first: their callbacks finish deliveries of this list. */
    mg_al_smtp_free(s->smtp);
    while (s->head) {
        delivery *d = s->head;
        if (d->x)
            mg_up_cancel(d->x);
        ev_timer_stop(s->loop, &d->retry);
        finish(d, 0, 1);
    }
    mg_upstream_free(s->up);
    free(s);
}
