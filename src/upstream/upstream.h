/* upstream.h — outbound HTTP transfers to model providers. Two backends
 * share one callback contract: libcurl multi driven by the worker's libev
 * loop (real providers), and the in-process mock (format = "mock").
 *
 * Contract: on_response fires once, before the first on_data; on_done fires
 * exactly once, last — unless the caller cancelled the transfer, after which
 * no callback fires. A callback may cancel its own transfer. */
#ifndef MG_UPSTREAM_H
#define MG_UPSTREAM_H

#include <ev.h>
#include <stddef.h>

#include "../net/http.h"

typedef enum mg_up_result {
    MG_UP_OK = 0,
    MG_UP_ERR_CONNECT,         /* refused, DNS, TLS handshake: nothing sent */
    MG_UP_ERR_TIMEOUT_CONNECT,
    MG_UP_ERR_TIMEOUT_FIRST_BYTE,
    MG_UP_ERR_TIMEOUT_IDLE,    /* stalled between body bytes */
    MG_UP_ERR_TIMEOUT_TOTAL,
    MG_UP_ERR_IO,              /* connection cut mid-response */
    MG_UP_ERR_INTERNAL,
    MG_UP_ERR_LOCAL_LIMIT,     /* the gateway itself ran out of sockets or memory:
                                  not the upstream's fault, no other target helps */
} mg_up_result;

const char *mg_up_result_name(int result); /* "ok", "connect_error", ... */
int mg_up_result_is_timeout(int result);

typedef struct mg_up_request {
    const char *method;             /* "POST" */
    const char *url;                /* absolute http(s) URL */
    const char *const *headers;     /* "Name: value" strings */
    size_t nheaders;
    const char *body;
    size_t body_len;
    /* Seconds; 0 means no limit. */
    double t_connect, t_first_byte, t_idle, t_total;
} mg_up_request;

typedef struct mg_up_callbacks {
    void (*on_response)(void *ud, int status, const mg_header *headers, size_t nheaders);
    /* Return MG_OK to continue or MG_AGAIN to pause: the bytes were taken
     * either way; after MG_AGAIN nothing more arrives until mg_up_resume. */
    int (*on_data)(void *ud, const char *data, size_t len);
    void (*on_done)(void *ud, int result, const char *errmsg);
} mg_up_callbacks;

typedef struct mg_up_timings {
    double connect_ms; /* until the connection was usable (0 when reused) */
    double ttfb_ms;    /* until the first response byte */
    long pauses;       /* times the transfer was paused for backpressure */
    int reused;        /* connection came from the pool */
} mg_up_timings;

typedef struct mg_upstream mg_upstream; /* one per worker loop */
typedef struct mg_up_xfer mg_up_xfer;

mg_upstream *mg_upstream_new(struct ev_loop *loop);
/* Cancels every transfer still running (no callbacks) and frees. */
void mg_upstream_free(mg_upstream *u);

/* Start a transfer. Never calls back before returning. Returns NULL only on
 * a bad request (err filled). */
mg_up_xfer *mg_up_start(mg_upstream *u, const mg_up_request *req, const mg_up_callbacks *cb,
                        void *ud, char *err);
void mg_up_resume(mg_up_xfer *x);
void mg_up_cancel(mg_up_xfer *x);
void mg_up_get_timings(const mg_up_xfer *x, mg_up_timings *out);
size_t mg_upstream_active(const mg_upstream *u);

#endif
