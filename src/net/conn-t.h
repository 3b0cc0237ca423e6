/* conn-t.h — types shared by the files of src/net: the connection with its
 * explicit state and flags, and the server that owns the connections.
 * Types only; the functions that work on them are declared in net.h. */
#ifndef MG_NET_CONN_T_H
#define MG_NET_CONN_T_H

#include <ev.h>
#include <http_parser.h>
#include <openssl/ssl.h>
#include <time.h>

#include "http.h"

typedef enum mg_conn_state {
    MG_CONN_HANDSHAKE = 0, /* TLS handshake running */
    MG_CONN_IDLE = 1,      /* between requests: no byte of the next one parsed */
    MG_CONN_HEADERS = 2,   /* request line and headers arriving */
    MG_CONN_BODY = 3,      /* request body arriving */
    MG_CONN_HANDLER = 4,   /* the handler holds the request */
    MG_CONN_UPGRADED = 5,  /* raw bytes of another protocol (WebSocket) */
    MG_CONN_DRAINOUT = 6,  /* last response done: close once output is sent */
    MG_CONN_LINGER = 7,    /* write side shut: discard input briefly, then close */
    MG_CONN_CLOSED = 8,    /* socket gone; memory freed by the server's reaper */
} mg_conn_state;

/* Where the obs-fold / header-size scanner stands in the current header
 * block (see parse.c). */
typedef enum mg_scan_state {
    MG_SCAN_START = 0, /* skipping CR/LF before a request line */
    MG_SCAN_LINE = 1,  /* inside a line */
    MG_SCAN_LF = 2,    /* just after a line's LF */
    MG_SCAN_LF_CR = 3, /* after LF then CR: one LF more ends the block */
    MG_SCAN_DONE = 4,  /* header block complete; body bytes are not scanned */
} mg_scan_state;

/* Which parser data callback ran last, to join fragments and terminate
 * strings in the arena. */
typedef enum mg_last_cb { MG_CB_NONE = 0, MG_CB_URL, MG_CB_FIELD, MG_CB_VALUE } mg_last_cb;

/* A header while it is being parsed: offsets into the arena, which may
 * move while it grows. Turned into mg_header pointers once complete. */
typedef struct mg_hdr_span {
    size_t name_off, name_len, value_off, value_len;
} mg_hdr_span;

typedef void (*mg_http_data_cb)(mg_http_req *req, const char *data, size_t len);

/* One client connection. Owned by its server: created on accept, unlinked
 * and put on the server's graveyard by mg_conn_close, freed by the reaper
 * after the current loop iteration, so no stack frame ever sees it freed. */
struct mg_conn {
    mg_http_server *srv;
    mg_conn *prev, *next; /* in srv->conns, then srv->graveyard */
    int fd;               /* owned; closed by mg_conn_close */
    SSL *ssl;             /* owned; NULL on plain HTTP */
    mg_conn_state state;

    unsigned close_after : 1;   /* close once the current response is sent */
    unsigned linger : 1;        /* error close: shut write side, drain input first */
    unsigned want_writable : 1; /* mg_http_write said MG_AGAIN: on_writable owed */
    unsigned broken : 1;        /* I/O failed where we could not close: close from the loop */
    unsigned peer_eof : 1;      /* the client shut its sending side */
    unsigned aborted : 1;       /* on_abort has been called */
    unsigned processing : 1;    /* mg_conn_process_input is on the stack */
    unsigned corked : 1;        /* queue output, send it when processing ends */
    unsigned burst_cork : 1;    /* corked by a streamed write; the deferred settle sends */
    unsigned req_ready : 1;     /* the parser paused on a complete request */
    unsigned headers_done : 1;  /* later header callbacks are trailers: ignored */
    unsigned upgrade_asked : 1; /* request carried Upgrade (+ Connection: upgrade) */
    unsigned is_head : 1;       /* request method HEAD */
    unsigned chunked_out : 1;   /* response framed with chunked encoding */
    unsigned no_body : 1;       /* response carries no body (HEAD, 204, 304) */
    unsigned tls_hs_want_write : 1; /* handshake waits for writability */
    unsigned tls_rd_want_write : 1; /* SSL_read waits for writability */
    unsigned tls_wr_want_read : 1;  /* SSL_write waits for readability */
    unsigned deadline_whole : 1;    /* the armed deadline is request_deadline, not the phase's */

    ev_io rio, wio;   /* read and write readiness */
    ev_idle defer;    /* never started, only fed: deferred work runs from the
                       * loop. Its own watcher, because stopping rio or
                       * re-arming the timer would drop a fed event. */
    ev_timer timer;   /* the one timer: header, body, keep-alive, send stall, linger */
    double deadline;  /* ev_now() time the current phase expires, 0 = none */
    double timer_at;  /* when the armed timer fires */
    double request_deadline; /* the request being received must be complete by
                              * then (mg_now_mono), 0 = none; cleared at dispatch */

    http_parser parser;
    mg_scan_state scan;
    size_t scan_bytes; /* header-block bytes seen by the scanner */
    mg_last_cb last_cb;
    size_t url_len;    /* URL is at arena offset 0 */
    mg_hdr_span *spans;   /* owned; grows up to limits.max_headers */
    size_t nspans, spans_cap;
    mg_header *headers;   /* owned; req.headers points here */
    size_t headers_cap;
    int err_status;       /* set by a parser callback that rejects */
    char err_msg[160];
    size_t linger_bytes;  /* input discarded while lingering */

    mg_buf in;      /* owned: raw input; parsing consumes from off */
    mg_buf out;     /* owned: output not yet accepted by the socket */
    mg_buf arena;   /* owned: NUL-terminated URL, names and values of this request */
    mg_buf head;    /* owned: response head being built */
    uint64_t seq;
    mg_http_data_cb on_data; /* UPGRADED: receives raw input */

    mg_http_req req; /* the one request in flight; req.body owned here */
    char client_ip[64];
};

/* One server per worker loop. Owned by whoever called mg_http_server_new. */
struct mg_http_server {
    struct ev_loop *loop;
    int listen_fd;        /* not owned: the caller closes it */
    SSL_CTX *tls;         /* not owned; NULL for plain HTTP */
    mg_http_limits limits;
    mg_http_handler handler;
    void *handler_ud;

    ev_io accept_w;
    ev_timer accept_retry; /* restarts accepting after EMFILE/ENFILE */
    ev_prepare reaper;     /* frees the graveyard before the loop blocks */
    mg_conn *conns;        /* open connections */
    mg_conn *graveyard;    /* closed connections waiting for the reaper */
    size_t nconns;
    int draining;

    time_t date_sec;       /* second the cached Date value is for */
    char date[40];         /* "Sun, 06 Nov 1994 08:49:37 GMT" */
};

#endif
