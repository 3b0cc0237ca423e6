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
#include <http_parser.h>
#include <sys/socket.h>

#include "../core/buf.h"
#include "upstream.h"

#define MG_UP_MAX_POOL 256              /* idle transfers kept for reuse */
#define MG_UP_MAX_CONNECTS 256          /* multi connection cache size */
#define MG_UP_MAX_RESP_HEADERS 128      /* past it the response fails (IO) */
#define MG_UP_MAX_RESP_HEADER_BYTES (64u << 10)
#define MG_UP_MAX_REQ_HEADER_BYTES (256u << 10)
#define MG_UP_MAX_URL 16384
#define MG_UP_KEEP_BUF_BYTES (1u << 20) /* pooled buffers larger than this are freed */
#define MG_UP_H1_MAX_IDLE 256           /* idle native connections kept per worker */
#define MG_UP_H1_IDLE_SECONDS 60.0      /* an idle native connection older than this is closed */
#define MG_UP_H1_READ_BYTES (64u << 10) /* one recv; also the most a paused transfer holds */

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
    MG_UP_WATCH_CONNECT,    /* native: start → connection established */
};

/* Where a native (h1_*.c) request goes: an IP literal and port, so no DNS
 * lookup is needed on the loop; anything else is left to libcurl. */
typedef struct mg_up_h1_target {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const char *authority;   /* "host[:port]" inside the URL, for the Host header */
    size_t authority_len;
    const char *path;        /* request target inside the URL; "" means "/" */
} mg_up_h1_target;

/* One native HTTP/1.1 connection. Ownership: the transfer using it (x->h1)
 * or, when idle, the upstream's idle list; closing frees it. */
typedef struct mg_up_h1_conn {
    struct mg_upstream *u;
    int fd;
    ev_io io;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct mg_up_xfer *x;            /* the transfer using it; NULL while idle */
    struct mg_up_h1_conn *prev, *next; /* u->h1_idle (newest first) */
    double idle_since;               /* ev_now when parked */
    double t_open;                   /* mg_now_mono when connect() was called */
    unsigned connecting : 1;         /* non-blocking connect under way */
    unsigned reused : 1;             /* came from the idle list */
} mg_up_h1_conn;

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

    /* Native HTTP/1.1 (h1_xfer.c) instead of libcurl when `native`. The
     * request bytes are in block[0, req_len); body bytes decoded while the
     * transfer is paused wait in held[held_off, held.len). */
    unsigned native : 1;
    unsigned h1_head : 1;            /* HEAD: the response has no body */
    unsigned h1_complete : 1;        /* the parser saw the whole response */
    unsigned h1_keepalive : 1;       /* ...and the connection may carry another */
    unsigned h1_retried : 1;         /* resent once on a fresh connection */
    unsigned h1_in_field : 1;        /* last header bytes were a name */
    unsigned h1_interim : 1;         /* current response is 1xx */
    mg_up_h1_conn *h1;               /* owned while attached */
    mg_up_h1_target h1_target;       /* addr only; the URL pointers are not kept */
    http_parser h1p;
    size_t req_len, req_sent;
    mg_buf held;
    size_t held_off;
    double t_connected;              /* mg_now_mono when a new connection was up */
    double connect_ms;               /* of a new connection, else 0 */
    int h1_reused;                   /* the request went out on a pooled connection */
    ev_timer deadline;               /* native: the total time limit */
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
    int curl_only;             /* MOONGATE_UPSTREAM_CLIENT=curl: no native transfers */
    mg_up_h1_conn *h1_idle;    /* idle native connections, newest first */
    mg_up_h1_conn *h1_idle_tail;
    size_t h1_nidle;
    char *h1_rbuf;             /* MG_UP_H1_READ_BYTES, shared by native reads */
};

/* curl_loop.c */
void mg_up_enter(mg_upstream *u);
void mg_up_leave(mg_upstream *u); /* runs deferred work at depth 0 */
void mg_up_defer(mg_up_xfer *x);
void mg_up_add_to_multi(mg_up_xfer *x); /* at depth 0 */
void mg_up_launch(mg_up_xfer *x);       /* native or curl, at depth 0 */

/* request.c: validate req and load it into x->easy; MG_OK or MG_ERR (err). */
int mg_up_prepare(mg_up_xfer *x, const mg_up_request *req, char *err);
int mg_up_check_request(const mg_up_request *req, int *https, size_t *hdr_bytes, char *err);
size_t mg_up_header_name_len(const char *h);
int mg_up_header_is_ours(const char *h, size_t name_len);

/* h1_url.c: MG_OK when url is http:// to an IP literal (native-capable). */
int mg_up_h1_target_of(const char *url, mg_up_h1_target *t);

/* h1_conn.c: the native connection pool. */
mg_up_h1_conn *mg_up_h1_conn_take(mg_upstream *u, const mg_up_h1_target *t);
mg_up_h1_conn *mg_up_h1_conn_open(mg_upstream *u, const mg_up_h1_target *t, int *err_no);
void mg_up_h1_conn_park(mg_up_h1_conn *c);  /* keep for reuse (or close past the limits) */
void mg_up_h1_conn_close(mg_up_h1_conn *c);
void mg_up_h1_conn_watch(mg_up_h1_conn *c, int events); /* EV_READ/EV_WRITE, or 0 */
void mg_up_h1_pool_free(mg_upstream *u);

/* h1_parse.c: the callbacks that read a native transfer's response. */
extern const http_parser_settings mg_up_h1_parser_settings;

/* h1_xfer.c: a transfer over a native connection. */
int mg_up_h1_prepare(mg_up_xfer *x, const mg_up_request *req, const mg_up_h1_target *t, char *err);
void mg_up_h1_launch(mg_up_xfer *x);       /* at depth 0 */
void mg_up_h1_resume(mg_up_xfer *x);       /* at depth 0 */
void mg_up_h1_detach(mg_up_xfer *x);       /* drop the connection (closing it if mid-response) */
void mg_up_h1_timings(const mg_up_xfer *x, mg_up_timings *t);
void mg_up_h1_io(mg_up_h1_conn *c, int revents); /* the connection's events */

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
void mg_up_note_activity(mg_up_xfer *x);

#endif
