/* internal.h — requests that come from inside the host (crosstalk turns,
 * provider tests, what-if replays) walk the same pipeline as client
 * requests — auth, limits, route, convert, upstream, record — but their
 * response goes to a sink instead of a socket. The record they produce is
 * the same one, tagged with crosstalk_session when given.
 *
 * Threading: start and cancel on a worker's loop thread (the request runs
 * on that worker: use mg_px_internal_worker to pick one, or run on the
 * thread you are on if it is a worker). Sink callbacks fire on that loop. */
#ifndef MG_PX_INTERNAL_H
#define MG_PX_INTERNAL_H

#include <stddef.h>

#include "../config/config.h"
#include "../store/record.h"

struct mg_worker;

typedef struct mg_px_sink {
    /* Status and content type, once, before any data. */
    void (*on_head)(void *ud, int status, const char *content_type);
    /* Response bytes in the request's own API format (JSON, or SSE text
     * for streams). Return MG_AGAIN to pause the upstream until
     * mg_px_internal_resume. */
    int (*on_data)(void *ud, const char *data, size_t len);
    /* Once, last: the finished record (borrowed: copy what you need). */
    void (*on_done)(void *ud, const mg_record *rec);
} mg_px_sink;

typedef struct mg_px_internal_req {
    const char *path;              /* "/v1/chat/completions", "/v1/messages", ... */
    const char *body;              /* request JSON in that path's format */
    size_t body_len;
    const mg_kv *headers;          /* extra request headers (may be NULL) */
    size_t nheaders;
    const char *crosstalk_session; /* tags the record; NULL for none */
    const char *key_id;            /* virtual key the request is billed to, or NULL */
} mg_px_internal_req;

typedef struct mg_px_internal mg_px_internal;

/* Starts the request on worker w. Never calls the sink before returning.
 * Returns NULL only when the path is not a proxy endpoint. */
mg_px_internal *mg_px_internal_start(struct mg_worker *w, const mg_px_internal_req *req,
                                     const mg_px_sink *sink, void *ud);
void mg_px_internal_resume(mg_px_internal *r);
/* Stops the request (cancels its upstream); on_done still fires once,
 * with status "cancelled", unless it already fired. */
void mg_px_internal_cancel(mg_px_internal *r);

#endif
