/* subs.c — one worker's SSE subscribers (GET /api/events). A 100 ms timer
 * copies new events from the hub's ring into each subscriber's connection.
 * A subscriber whose unsent bytes pass a high mark misses events (the ring
 * has moved on); one that stays stuck is disconnected. */
#include <stdlib.h>
#include <string.h>

#include "live-t.h"

#define SUB_SKIP_BYTES (1u << 20)  /* above this, events are skipped */
#define SUB_DROP_BYTES (8u << 20)  /* above this, the subscriber is closed */
#define SUB_MAX 256                /* per worker */

typedef struct sub {
    mg_http_req *req;
    struct sub *next;
    mg_live_subs *owner;
} sub;

struct mg_live_subs {
    mg_live *hub;
    struct ev_loop *loop;
    ev_timer tick;
    sub *list;
    size_t n;
    uint64_t cursor; /* next sequence number to send */
};

static void unlink_sub(mg_live_subs *s, sub *x)
{
    for (sub **p = &s->list; *p; p = &(*p)->next) {
        if (*p == x) {
            *p = x->next;
            break;
        }
    }
    s->n--;
    atomic_fetch_sub(&s->hub->subscribers, 1);
    if (s->n == 0)
        ev_timer_stop(s->loop, &s->tick);
    free(x);
}

static void on_sub_abort(mg_http_req *req)
{
    sub *x = req->ud;
    unlink_sub(x->owner, x);
}

/* Under the hub lock: everything after the cursor, as SSE text. */
static void collect(mg_live_subs *s, mg_buf *out)
{
    mg_live *l = s->hub;
    pthread_mutex_lock(&l->lock);
    uint64_t oldest = l->next_seq > MG_LIVE_RING ? l->next_seq - MG_LIVE_RING : 1;
    if (s->cursor < oldest)
        s->cursor = oldest;
    for (; s->cursor < l->next_seq; s->cursor++) {
        const mg_live_event *e = &l->ring[s->cursor % MG_LIVE_RING];
        if (e->seq != s->cursor || !e->json)
            continue;
        mg_buf_printf(out, "event: %s\ndata: ", e->type);
        mg_buf_append(out, e->json, e->len);
        mg_buf_append_str(out, "\n\n");
    }
    pthread_mutex_unlock(&l->lock);
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_live_subs *s = t->data;
    mg_buf out = {0};
    collect(s, &out);
    for (sub *x = s->list, *next; x; x = next) {
        next = x->next;
        size_t pending = mg_http_pending(x->req);
        if (pending > SUB_DROP_BYTES) {
            mg_http_req *req = x->req;
            unlink_sub(s, x);
            mg_http_finish(req);
            continue;
        }
        if (out.len && pending < SUB_SKIP_BYTES)
            mg_http_write(x->req, out.data, out.len);
    }
    mg_buf_free(&out);
}

mg_live_subs *mg_live_subs_new(mg_live *l, struct ev_loop *loop)
{
    mg_live_subs *s = mg_xcalloc(1, sizeof *s);
    s->hub = l;
    s->loop = loop;
    ev_timer_init(&s->tick, on_tick, 0.1, 0.1);
    s->tick.data = s;
    return s;
}

void mg_live_subscribe(mg_live_subs *s, mg_http_req *req)
{
    if (s->n >= SUB_MAX) {
        static const char busy[] = "{\"error\":{\"message\":\"too many live subscribers\",\"code\":503}}";
        mg_http_respond(req, 503, "application/json", NULL, busy, sizeof busy - 1);
        return;
    }
    sub *x = mg_xcalloc(1, sizeof *x);
    x->req = req;
    x->owner = s;
    x->next = s->list;
    s->list = x;
    if (s->n++ == 0) {
        /* New stream: start from what happens next, not the backlog. */
        pthread_mutex_lock(&s->hub->lock);
        s->cursor = s->hub->next_seq;
        pthread_mutex_unlock(&s->hub->lock);
        ev_timer_start(s->loop, &s->tick);
    }
    atomic_fetch_add(&s->hub->subscribers, 1);
    req->ud = x;
    req->on_abort = on_sub_abort;
    req->on_writable = NULL;
    mg_http_begin(req, 200, "text/event-stream",
                  "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    static const char hello[] = "retry: 2000\n: moongate live events\n\n";
    mg_http_write(req, hello, sizeof hello - 1);
    mg_buf first = {0};
    mg_buf_append_str(&first, "event: metrics_update\ndata: ");
    mg_live_stats_json(s->hub, &first);
    mg_buf_append_str(&first, "\n\n");
    mg_http_write(req, first.data, first.len);
    mg_buf_free(&first);
}

size_t mg_live_subs_count(const mg_live_subs *s) { return s->n; }

void mg_live_subs_close_all(mg_live_subs *s)
{
    while (s && s->list) {
        mg_http_req *req = s->list->req;
        unlink_sub(s, s->list);
        mg_http_finish(req);
    }
}

void mg_live_subs_free(mg_live_subs *s)
{
    if (!s)
        return;
    mg_live_subs_close_all(s);
    ev_timer_stop(s->loop, &s->tick);
    free(s);
}
