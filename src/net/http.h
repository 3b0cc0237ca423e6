/* http.h — the HTTP/1.1 server every listener runs (plain or TLS), built on
 * nodejs http-parser and libev. A connection parses one request at a time;
 * bytes of pipelined requests wait in the input buffer until the current
 * response is finished, so responses leave in request order and memory per
 * connection stays bounded.
 *
 * Ownership: the connection owns each mg_http_req. The handler gets it in
 * on_request and may keep it until it calls mg_http_finish/mg_http_respond,
 * or until the server calls req->on_abort (client gone, shutdown timeout);
 * after either the handler must not touch it again. */
#ifndef MG_HTTP_H
#define MG_HTTP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"

typedef struct mg_header {
    const char *name; /* NUL-terminated, as received */
    const char *value;
    size_t name_len, value_len;
} mg_header;

typedef struct mg_http_limits {
    size_t max_header_bytes;   /* request line + headers; 431 past it */
    size_t max_headers;        /* header count; 431 past it */
    size_t max_body_bytes;     /* 413 past it */
    double header_timeout;     /* seconds to receive all headers; 408 */
    double body_timeout;       /* seconds between body bytes; 408 */
    double request_timeout;    /* seconds from a request's first byte to its last
                                * (headers + body); 408. 0 = no such deadline */
    double keepalive_timeout;  /* idle seconds between requests */
    size_t out_high_watermark; /* mg_http_write returns MG_AGAIN above it */
    size_t out_low_watermark;  /* on_writable fires once below it */
} mg_http_limits;

typedef struct mg_conn mg_conn;
typedef struct mg_http_req mg_http_req;
typedef struct mg_http_server mg_http_server;

struct mg_http_req {
    mg_conn *conn;
    struct ev_loop *loop;
    uint64_t seq;          /* per-connection request number, from 1 */
    const char *method;    /* "GET", "POST", ... */
    const char *path;      /* decoded? no: raw path without query, NUL-terminated */
    const char *query;     /* raw query after '?', or "" */
    mg_header *headers;
    size_t nheaders;
    mg_buf body;           /* full request body (chunked bodies de-chunked) */
    int http_minor;        /* 0 or 1 */
    int keep_alive;        /* client wants the connection kept */
    double t_start;        /* mg_now_mono() when the first byte arrived */
    const char *client_ip; /* textual peer address */

    /* Set by the handler. */
    void *ud;
    void (*on_writable)(mg_http_req *req); /* output fell below low watermark */
    void (*on_abort)(mg_http_req *req);    /* client gone: stop, drop req */

    /* Server bookkeeping; handlers read, never write. */
    int started;  /* status line sent */
    int finished; /* handler is done with it */
    uint64_t bytes_out;
};

/* The application's entry point, called once per complete request. */
typedef void (*mg_http_handler)(mg_http_req *req, void *handler_ud);

/* Lookup: value of the first header named `name` (case-insensitive), or NULL;
 * *len gets its length. */
const char *mg_http_header(const mg_http_req *req, const char *name, size_t *len);

/* Whole response in one call. `extra_headers` is zero or more complete
 * "Name: value\r\n" lines (may be NULL). Content-Length is added. */
void mg_http_respond(mg_http_req *req, int status, const char *content_type,
                     const char *extra_headers, const char *body, size_t body_len);

/* Streamed response: begin (chunked transfer encoding for HTTP/1.1, close-
 * delimited for HTTP/1.0), write any number of times, finish once.
 * mg_http_write returns MG_OK, or MG_AGAIN when the output buffer is above
 * the high watermark (the bytes were still taken: stop producing until
 * on_writable), or MG_ERR when the client is gone. */
void mg_http_begin(mg_http_req *req, int status, const char *content_type,
                   const char *extra_headers);
int mg_http_write(mg_http_req *req, const char *data, size_t len);
void mg_http_finish(mg_http_req *req);
/* End a started response abruptly: bytes already written are sent, then
 * the connection closes without the end of the chunked body, so the client
 * sees a truncated response (a proxy relaying an upstream cut). on_abort
 * is not called; the handler is done with req. */
void mg_http_abort(mg_http_req *req);
/* Bytes queued for this request's connection and not yet sent. */
size_t mg_http_pending(const mg_http_req *req);

/* Reason phrase for a status code ("OK", "Not Found", ...). */
const char *mg_http_reason(int status);

/* Server: one per worker loop. Listens on an already bound, listening fd
 * (shared with SO_REUSEPORT between workers). tls_ctx is an SSL_CTX* or
 * NULL for plain HTTP. */
mg_http_server *mg_http_server_new(struct ev_loop *loop, int listen_fd, void *tls_ctx,
                                   const mg_http_limits *limits, mg_http_handler handler,
                                   void *handler_ud);
/* Stop accepting; keep serving requests in flight. Idle keep-alive
 * connections are closed at once, busy ones after their current response. */
void mg_http_server_drain(mg_http_server *srv);
/* Number of connections with a request in flight. */
size_t mg_http_server_active(const mg_http_server *srv);
size_t mg_http_server_conns(const mg_http_server *srv);
/* Abort every remaining connection (calls on_abort) and free the server. */
void mg_http_server_free(mg_http_server *srv);

/* Open a listening TCP socket (SO_REUSEADDR, SO_REUSEPORT, non-blocking).
 * Returns the fd or -1 with err filled. port 0 picks a free port; the bound
 * port is written to *bound_port when non-NULL. */
int mg_http_listen(const char *host, int port, int *bound_port, char *err);

/* Defaults used when config does not say otherwise. */
void mg_http_limits_default(mg_http_limits *l);

/* Added by the net part. */

/* Switch the connection to another protocol (WebSocket) after a request
 * that asked for it (Upgrade + Connection: upgrade). Sends "101 Switching
 * Protocols" with `extra_headers` (e.g. Upgrade, Sec-WebSocket-Accept) and
 * from then on hands every byte the client sends to on_data, from the loop.
 * mg_http_write sends raw bytes (no chunking), with the same watermarks;
 * mg_http_finish closes once the output is sent; on_abort fires when the
 * client goes. MG_ERR (nothing sent) if the request did not ask for an
 * upgrade or a response was already started. */
int mg_http_upgrade(mg_http_req *req, const char *extra_headers,
                    void (*on_data)(mg_http_req *req, const char *data, size_t len));

/* TLS server context (an SSL_CTX*) for mg_http_server_new: PEM certificate
 * chain and PEM private key, TLS 1.2 or newer, ALPN http/1.1. NULL with err
 * (MG_ERRLEN bytes) filled on failure. One context may serve every worker;
 * free it after the servers that use it. */
void *mg_tls_ctx_new(const char *cert_file, const char *key_file, char *err);
void mg_tls_ctx_free(void *ctx);

#endif
