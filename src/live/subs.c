/* subs.c — one worker's live subscribers, over SSE (GET /api/events) or
 * WebSocket (GET /ws/dashboard, the session in ws.c). A 100 ms timer
 * copies new events from the hub's ring to each subscriber, formatted by
 * its transport: SSE "event: T\ndata: JSON\n\n", or one WebSocket text
 * message {"type":T,"data":JSON}. Every subscriber keeps its own cursor in
 * the ring; subscribers at the same cursor share one formatted batch.
 *
 * Slow subscribers never grow memory without bound: while a subscriber's
 * unsent output is above SUB_LAG_BYTES nothing more is written to it; when
 * it drains it resumes from its cursor, skipping every metrics_update but
 * the newest (old figures are worthless) and whatever the ring overwrote
 * meanwhile. One that stays above the mark for SUB_STUCK_SECONDS, or whose
 * output passes SUB_DROP_BYTES, is disconnected (WebSocket close 1008).
 * Uses live-t.h (the hub) and ws.h. */
#include <stdlib.h>
#include <string.h>

#include "live-t.h"
#include "ws.h"

#define SUB_LAG_BYTES (512u << 10)   /* unsent output above this: wait */
#define SUB_BATCH_BYTES (512u << 10) /* formatted events per tick and cursor */
#define SUB_DROP_BYTES (4u << 20)    /* above this: disconnected at once */
#define SUB_STUCK_SECONDS 10.0       /* waiting this long: disconnected */
#define SUB_MAX 256                  /* per worker, both transports */
#define SUB_WS_MAX_MESSAGE (64u << 10) /* dashboards send nothing big */
#define SUB_TICK 0.1

typedef enum sub_kind { SUB_SSE = 0, SUB_WS = 1, SUB_NKINDS = 2 } sub_kind;

typedef struct sub {
    sub_kind kind;
    mg_http_req *req;      /* SSE: the stream (owned by its connection) */
    mg_ws_session *ws;     /* WS: the session (owns itself) */
    struct sub *next;
    mg_live_subs *owner;
    uint64_t cursor;       /* next event sequence number to send */
    double lag_since;      /* when it went above SUB_LAG_BYTES; 0: keeping up */
} sub;

/* How events leave for one kind of subscriber. */
typedef struct sub_transport {
    void (*format)(mg_buf *out, const char *type, const char *json, size_t len);
    size_t (*pending)(const sub *x);
    void (*send)(sub *x, const char *data, size_t len);
    /* End the stream; x is already unlinked and must not be used. */
    void (*end)(mg_http_req *req, mg_ws_session *ws, int code, const char *why);
} sub_transport;

/* Events from one cursor, formatted for one transport, rebuilt per tick. */
typedef struct sub_batch {
    int valid;
    uint64_t from, to;
    mg_buf text; /* owned */
} sub_batch;

struct mg_live_subs {
    mg_live *hub;
    struct ev_loop *loop;
    ev_timer tick;
    sub *list;              /* owned */
    size_t n;
    atomic_size_t nws;      /* read from any thread (/metrics) */
    sub_batch cache[SUB_NKINDS];
};

/* ---- transports ----------------------------------------------------------- */

static void sse_format(mg_buf *out, const char *type, const char *json, size_t len)
{
    mg_buf_printf(out, "event: %s\ndata: ", type);
    mg_buf_append(out, json, len);
    mg_buf_append_str(out, "\n\n");
}

static size_t sse_pending(const sub *x) { return mg_http_pending(x->req); }

static void sse_send(sub *x, const char *data, size_t len) { mg_http_write(x->req, data, len); }

static void sse_end(mg_http_req *req, mg_ws_session *ws, int code, const char *why)
{
    MG_UNUSED(ws);
    MG_UNUSED(code);
    MG_UNUSED(why);
    mg_http_finish(req);
}

static void ws_format(mg_buf *out, const char *type, const char *json, size_t len)
{
    static const char open[] = "{\"type\":\"", mid[] = "\",\"data\":";
    if (len == 0) {
        json = "null";
        len = 4;
    }
    size_t tl = strlen(type);
    size_t payload = (sizeof open - 1) + tl + (sizeof mid - 1) + len + 1;
    unsigned char h[MG_WS_MAX_HEADER];
    size_t hn = mg_ws_frame_header(h, MG_WS_TEXT, 1, payload, NULL);
    mg_buf_reserve(out, hn + payload);
    mg_buf_append(out, h, hn);
    mg_buf_append(out, open, sizeof open - 1);
    mg_buf_append(out, type, tl);
    mg_buf_append(out, mid, sizeof mid - 1);
    mg_buf_append(out, json, len);
    mg_buf_append(out, "}", 1);
}

static size_t ws_pending(const sub *x) { return mg_ws_pending(x->ws); }

static void ws_send(sub *x, const char *data, size_t len) { mg_ws_send_frames(x->ws, data, len); }

static void ws_end(mg_http_req *req, mg_ws_session *ws, int code, const char *why)
{
    MG_UNUSED(req);
    mg_ws_close(ws, code, why);
}

static const sub_transport transports[SUB_NKINDS] = {
    [SUB_SSE] = {sse_format, sse_pending, sse_send, sse_end},
    [SUB_WS] = {ws_format, ws_pending, ws_send, ws_end},
};

/* ---- list ----------------------------------------------------------------- */

static void link_sub(mg_live_subs *s, sub *x)
{
    x->owner = s;
    x->next = s->list;
    s->list = x;
    pthread_mutex_lock(&s->hub->lock);
    x->cursor = s->hub->next_seq; /* from what happens next, not the backlog */
    pthread_mutex_unlock(&s->hub->lock);
    if (x->kind == SUB_WS)
        atomic_fetch_add(&s->nws, 1);
    if (s->n++ == 0)
        ev_timer_start(s->loop, &s->tick);
    atomic_fetch_add(&s->hub->subscribers, 1);
}

static void unlink_sub(mg_live_subs *s, sub *x)
{
    for (sub **p = &s->list; *p; p = &(*p)->next) {
        if (*p == x) {
            *p = x->next;
            break;
        }
    }
    s->n--;
    if (x->kind == SUB_WS)
        atomic_fetch_sub(&s->nws, 1);
    atomic_fetch_sub(&s->hub->subscribers, 1);
    if (s->n == 0)
        ev_timer_stop(s->loop, &s->tick);
    free(x);
}

/* We end it: unlink first, since ending may not call us back. */
static void disconnect(mg_live_subs *s, sub *x, int code, const char *why)
{
    const sub_transport *t = &transports[x->kind];
    mg_http_req *req = x->req;
    mg_ws_session *ws = x->ws;
    unlink_sub(s, x);
    t->end(req, ws, code, why);
}

static void on_sse_abort(mg_http_req *req)
{
    sub *x = req->ud;
    unlink_sub(x->owner, x);
}

static void on_ws_gone(mg_ws_session *ws, void *ud)
{
    MG_UNUSED(ws);
    sub *x = ud;
    unlink_sub(x->owner, x);
}

/* ---- delivery ------------------------------------------------------------- */

static int is_metrics(const mg_live_event *e) { return strcmp(e->type, "metrics_update") == 0; }

/* Under the hub lock: events from `from` on, formatted by t, about
 * SUB_BATCH_BYTES at most. Returns the cursor after the last one taken. */
static uint64_t collect(mg_live *l, uint64_t from, const sub_transport *t, mg_buf *out)
{
    pthread_mutex_lock(&l->lock);
    uint64_t end = l->next_seq;
    uint64_t oldest = end > MG_LIVE_RING ? end - MG_LIVE_RING : 1;
    if (from < oldest)
        from = oldest; /* the ring moved on: those events are gone */
    uint64_t newest_metrics = 0;
    for (uint64_t q = end; q > from; q--) {
        const mg_live_event *e = &l->ring[(q - 1) % MG_LIVE_RING];
        if (e->seq == q - 1 && e->json && is_metrics(e)) {
            newest_metrics = q - 1;
            break;
        }
    }
    uint64_t q = from;
    for (; q < end && out->len < SUB_BATCH_BYTES; q++) {
        const mg_live_event *e = &l->ring[q % MG_LIVE_RING];
        if (e->seq != q || !e->json || (q < newest_metrics && is_metrics(e)))
            continue;
        t->format(out, e->type, e->json, e->len);
    }
    pthread_mutex_unlock(&l->lock);
    return q;
}

static void serve(mg_live_subs *s, sub *x, double now)
{
    const sub_transport *t = &transports[x->kind];
    size_t pending = t->pending(x);
    if (pending > SUB_LAG_BYTES) {
        if (x->lag_since == 0)
            x->lag_since = now;
        if (pending > SUB_DROP_BYTES || now - x->lag_since > SUB_STUCK_SECONDS)
            disconnect(s, x, MG_WS_POLICY, "subscriber too slow");
        return;
    }
    x->lag_since = 0;
    sub_batch *b = &s->cache[x->kind];
    if (!b->valid) {
        mg_buf_reset(&b->text);
        b->from = x->cursor;
        b->to = collect(s->hub, x->cursor, t, &b->text);
        b->valid = 1;
    }
    if (b->from == x->cursor) {
        if (b->text.len)
            t->send(x, b->text.data, b->text.len);
        x->cursor = b->to;
        return;
    }
    mg_buf own = {0}; /* a subscriber catching up from elsewhere in the ring */
    x->cursor = collect(s->hub, x->cursor, t, &own);
    if (own.len)
        t->send(x, own.data, own.len);
    mg_buf_free(&own);
}

static void on_tick(struct ev_loop *loop, ev_timer *timer, int revents)
{
    MG_UNUSED(revents);
    mg_live_subs *s = timer->data;
    for (int k = 0; k < SUB_NKINDS; k++)
        s->cache[k].valid = 0;
    double now = ev_now(loop);
    for (sub *x = s->list, *next; x; x = next) {
        next = x->next;
        serve(s, x, now);
    }
}

/* ---- public --------------------------------------------------------------- */

mg_live_subs *mg_live_subs_new(mg_live *l, struct ev_loop *loop)
{
    mg_live_subs *s = mg_xcalloc(1, sizeof *s);
    s->hub = l;
    s->loop = loop;
    ev_timer_init(&s->tick, on_tick, SUB_TICK, SUB_TICK);
    s->tick.data = s;
    return s;
}

static void respond_busy(mg_http_req *req)
{
    static const char busy[] = "{\"error\":{\"message\":\"too many live subscribers\",\"code\":503}}";
    mg_http_respond(req, 503, "application/json", NULL, busy, sizeof busy - 1);
}

/* The latest figures at once, so a new page is not blank for a second. */
static void send_first_metrics(mg_live_subs *s, sub *x)
{
    mg_buf json = {0}, out = {0};
    mg_live_stats_json(s->hub, &json);
    transports[x->kind].format(&out, "metrics_update", json.data, json.len);
    transports[x->kind].send(x, out.data, out.len);
    mg_buf_free(&json);
    mg_buf_free(&out);
}

void mg_live_subscribe(mg_live_subs *s, mg_http_req *req)
{
    if (s->n >= SUB_MAX) {
        respond_busy(req);
        return;
    }
    sub *x = mg_xcalloc(1, sizeof *x);
    x->kind = SUB_SSE;
    x->req = req;
    link_sub(s, x);
    req->ud = x;
    req->on_abort = on_sse_abort;
    req->on_writable = NULL;
    mg_http_begin(req, 200, "text/event-stream",
                  "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    static const char hello[] = "retry: 2000\n: moongate live events\n\n";
    mg_http_write(req, hello, sizeof hello - 1);
    send_first_metrics(s, x);
}

void mg_live_subscribe_ws(mg_live_subs *s, mg_http_req *req)
{
    if (s->n >= SUB_MAX) {
        respond_busy(req);
        return;
    }
    sub *x = mg_xcalloc(1, sizeof *x);
    x->kind = SUB_WS;
    mg_ws_handlers h = {.ud = x, .on_gone = on_ws_gone};
    x->ws = mg_ws_accept(req, &h, SUB_WS_MAX_MESSAGE);
    if (!x->ws) {
        free(x); /* the handshake was refused and answered */
        return;
    }
    link_sub(s, x);
    send_first_metrics(s, x);
}

size_t mg_live_subs_count(const mg_live_subs *s) { return s->n; }

size_t mg_live_subs_count_ws(const mg_live_subs *s) { return atomic_load(&s->nws); }

void mg_live_subs_close_all(mg_live_subs *s)
{
    while (s && s->list)
        disconnect(s, s->list, MG_WS_GOING_AWAY, "server shutting down");
}

void mg_live_subs_free(mg_live_subs *s)
{
    if (!s)
        return;
    mg_live_subs_close_all(s);
    ev_timer_stop(s->loop, &s->tick);
    for (int k = 0; k < SUB_NKINDS; k++)
        mg_buf_free(&s->cache[k].text);
    free(s);
}
