/* up_internal.h — internal types and functions of the libcurl upstream,
 * shared by curl_loop.c (the multi handle on libev), xfer.c (a transfer's
 * life), xfer_io.c (curl's header and write callbacks), request.c and
 * result.c. Not for use outside src/upstream.
 *
 * Re-entrancy rule: libcurl must not be called from inside its own
 * callbacks, except curl_easy_pause on the handle being called back. So
 * every call into libcurl that can call back into user code
 * (curl_multi_socket_action, curl_easy_pause) runs between mg_up_enter and
 * mg_up_leave; anything a user callback asks for meanwhile (start, cancel,
 * resume) is queued on u->deferred and done by mg_up_leave once the outermost
 * call has returned. */
#ifndef MG_UP_INTERNAL_H
#define MG_UP_INTERNAL_H

#include <curl/curl.h>

#include "../core/buf.h"
#include "upstream.h"

#define MG_UP_MAX_POOL 256              /* idle transfers kept for reuse */
#define MG_UP_MAX_CONNECTS 256          /* multi connection cache size */
#define MG_UP_MAX_RESP_HEADERS 128      /* past it the response fails (IO) */
#define MG_UP_MAX_RESP_HEADER_BYTES (64u << 10)
#define MG_UP_MAX_REQ_HEADER_BYTES (256u << 10)
#define MG_UP_MAX_URL 16384
#define MG_UP_KEEP_BUF_BYTES (1u << 20) /* pooled buffers larger than this are freed */

/* Where a transfer is in its life. */
enum mg_up_state {
    MG_UP_ST_POOLED = 0, /* idle in u->pool, easy handle kept for reuse */
    MG_UP_ST_QUEUED,     /* started inside a curl call; mg_up_leave adds it */
    MG_UP_ST_RUNNING,    /* in the multi handle (or failing asynchronously) */
    MG_UP_ST_ENDED,      /* on_done delivered or cancelled; awaiting release */
};

/* What the per-transfer watchdog timer is measuring. */
enum mg_up_watch {
    MG_UP_WATCH_NONE = 0,
    MG_UP_WATCH_FIRST_BYTE, /* start → first response byte */
    MG_UP_WATCH_IDLE,       /* gap since the last response byte */
    MG_UP_WATCH_FAIL,       /* fire at once and end with fail_result */
};

/* One curl socket and its libev watcher; curl_multi_assign maps the socket
 * to it. Owned by the upstream (u->socks list), freed on CURL_POLL_REMOVE. */
typedef struct mg_up_sock {
    ev_io io;
    struct mg_upstream *u;
    curl_socket_t fd;
    struct mg_up_sock *prev, *next;
} mg_up_sock;

/* One response header inside hdr_bytes (offsets stay valid as it grows). */
typedef struct mg_up_hdr_span {
    size_t name_off, name_len, value_off, value_len;
} mg_up_hdr_span;

/* Ownership: the upstream owns every transfer (u->live while in use,
 * u->pool while idle). A transfer owns its easy handle, block and buffers;
 * they survive pooling so a reused transfer allocates nothing. */
struct mg_up_xfer {
    struct mg_upstream *u;
    CURL *easy;
    int state;                       /* enum mg_up_state */
    mg_up_xfer *prev, *next;         /* u->live, or u->pool (next only) */
    mg_up_xfer *defer_next;          /* u->deferred chain */

    mg_up_callbacks cb;
    void *ud;

    /* The request as curl reads it for the whole transfer: curl_slist nodes,
     * header strings and the body copy, in one allocation. */
    char *block;
    size_t block_cap;
    double t_first_byte, t_idle, t_connect, t_total; /* seconds, 0 = none */

    /* Response headers of the current block: names and values NUL-terminated
     * in hdr_bytes, located by spans until on_response builds hdrs. */
    mg_buf hdr_bytes;
    mg_up_hdr_span *spans;           /* MG_UP_MAX_RESP_HEADERS of them */
    mg_header *hdrs;                 /* MG_UP_MAX_RESP_HEADERS of them */
    size_t nhdrs;
    int status;

    ev_timer watch;                  /* first-byte / idle / async failure */
    int watch_kind;                  /* enum mg_up_watch */
    double last_activity;            /* ev_now of the last response byte */
    int fail_result;                 /* for MG_UP_WATCH_FAIL */
    int local_result;                /* our own reason for aborting curl, or 0 */
    int socket_errno;                /* why socket() failed for this transfer, or 0 */

    double t_start, t_first;         /* mg_now_mono(); t_first 0 until a byte */
    mg_up_timings timings;           /* filled when the transfer ends */
    char errbuf[CURL_ERROR_SIZE];

    unsigned in_multi : 1;           /* added to u->multi */
    unsigned cancelled : 1;          /* caller cancelled: no more callbacks */
    unsigned deferred : 1;           /* on u->deferred */
    unsigned paused : 1;             /* receive side paused for backpressure */
    unsigned resume_wanted : 1;      /* mg_up_resume came inside a curl call */
    unsigned responded : 1;          /* on_response fired */
    unsigned https : 1;              /* TLS: connection is usable after the handshake */
};

struct mg_upstream {
    struct ev_loop *loop;
    CURLM *multi;
    CURLSH *share;             /* TLS sessions shared by this worker's handles */
    ev_timer timer;            /* curl's one timeout (CURLMOPT_TIMERFUNCTION) */
    mg_up_sock *socks;         /* every live socket watcher */
    mg_up_xfer *live;          /* transfers not in the pool */
    mg_up_xfer *pool;          /* idle transfers for reuse */
    size_t npool;
    size_t nactive;            /* started and not yet ended */
    mg_up_xfer *deferred, *deferred_tail; /* work queued during curl calls */
    int depth;                 /* nesting of curl calls that may call back */
    int closing;               /* mg_upstream_free running */
};

/* curl_loop.c */
void mg_up_enter(mg_upstream *u);
void mg_up_leave(mg_upstream *u); /* runs deferred work at depth 0 */
void mg_up_defer(mg_up_xfer *x);
void mg_up_add_to_multi(mg_up_xfer *x); /* at depth 0 */

/* request.c: validate req and load it into x->easy; MG_OK or MG_ERR (err). */
int mg_up_prepare(mg_up_xfer *x, const mg_up_request *req, char *err);

/* result.c */
int mg_up_map_curl_result(const mg_up_xfer *x, CURLcode rc);

/* xfer.c */
void mg_up_finish(mg_up_xfer *x, int result, const char *errmsg);
void mg_up_run_deferred(mg_up_xfer *x); /* mg_up_leave runs it per queued transfer */
void mg_up_destroy(mg_up_xfer *x);      /* free everything, no callbacks */
void mg_up_watch_arm(mg_up_xfer *x, int kind, double after);
void mg_up_watch_stop(mg_up_xfer *x);

/* xfer_io.c */
size_t mg_up_header_cb(char *buf, size_t size, size_t n, void *ud);
size_t mg_up_write_cb(char *buf, size_t size, size_t n, void *ud);
void mg_up_reset_headers(mg_up_xfer *x);
void mg_up_fire_response(mg_up_xfer *x);

#endif
