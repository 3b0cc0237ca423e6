/* live.h — what the gateway is doing right now, for the dashboard's live
 * stream (GET /api/events, SSE) and /metrics. One hub per gateway, shared
 * by every worker behind one mutex:
 *   - per-second aggregates (requests, errors, tokens, cost, latency
 *     histogram, model mix), fed by each finished record;
 *   - a bounded ring of recent events (JSON text with a sequence number)
 *     that each worker drains to its own SSE subscribers.
 * A slow subscriber never grows memory: the ring overwrites its oldest
 * events and the subscriber skips what it missed. Uses: store/record.h. */
#ifndef MG_LIVE_H
#define MG_LIVE_H

#include <ev.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../net/http.h"
#include "../store/record.h"

typedef struct mg_live mg_live;

mg_live *mg_live_new(void);
void mg_live_free(mg_live *l);

/* A finished request (any worker thread). Always counted; turned into a
 * request_event only while someone is subscribed. */
void mg_live_record(mg_live *l, const mg_record *r);
/* Publish an event: type ("reload", "alert_triggered", ...) and its JSON. */
void mg_live_publish(mg_live *l, const char *type, const char *json, size_t len);
/* Close the current second: publish metrics_update (main thread, 1 Hz). */
void mg_live_tick(mg_live *l, uint64_t active_requests);
/* The last metrics_update JSON (for GET /api/live/stats). */
void mg_live_stats_json(mg_live *l, mg_buf *out);

/* Subscribers across all workers (SSE and WebSocket). */
uint64_t mg_live_subscriber_count(mg_live *l);

/* Per-worker SSE subscribers. */
typedef struct mg_live_subs mg_live_subs;
mg_live_subs *mg_live_subs_new(mg_live *l, struct ev_loop *loop);
/* Take over req as an event stream (answers 200 text/event-stream). */
void mg_live_subscribe(mg_live_subs *s, mg_http_req *req);
size_t mg_live_subs_count(const mg_live_subs *s);
/* End every stream (drain at shutdown: they would never finish). */
void mg_live_subs_close_all(mg_live_subs *s);
/* Close every subscriber and free. */
void mg_live_subs_free(mg_live_subs *s);

#endif
