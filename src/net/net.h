/* net.h — functions shared between the files of src/net (not part of the
 * public HTTP interface in http.h). Who provides what:
 *   server.c  accept, connection list, graveyard and reaper, Date cache
 *   conn.c    connection state machine: events, timer, input, close
 *   output.c  output queue and flush, watcher selection, deferred work
 *   parse.c   http-parser callbacks that build mg_http_req, obs-fold scanner
 *   respond.c response heads, bodies, chunked framing, server error replies
 *   io.c      socket reads and writes (plain, or through tls.c)
 *   tls.c     OpenSSL context and non-blocking handshake/read/write */
#ifndef MG_NET_H
#define MG_NET_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "conn-t.h"

/* Size of one read from a socket, and of the input buffer to start with. */
#define MG_NET_READ_CHUNK 16384
/* How long a closing connection keeps discarding input after an error
 * reply, so the client reads the reply instead of a reset. */
#define MG_NET_LINGER_SECONDS 2.0
#define MG_NET_LINGER_MAX_BYTES (1024 * 1024)
/* Buffers above this size are released once empty, so one large request
 * or response does not pin memory on a keep-alive connection. */
#define MG_NET_BIG_BUFFER (256 * 1024)

/* server.c */
void mg_srv_conn_opened(mg_http_server *srv, mg_conn *c);    /* link into the open list */
void mg_srv_conn_closed(mg_http_server *srv, mg_conn *c); /* unlink, queue for the reaper */
const char *mg_srv_date(mg_http_server *srv);             /* cached IMF-fixdate */

/* output.c */
/* Append pieces to the output and send what the socket takes now (unless
 * corked). Never closes: a failure marks the connection broken. */
void mg_conn_queue(mg_conn *c, const struct iovec *iov, int n);
void mg_conn_flush(mg_conn *c);     /* send queued output until it would block */
void mg_conn_update_io(mg_conn *c); /* start/stop rio and wio for what it waits for */
/* Run the deferred work (input waiting, close, on_writable) from the loop
 * rather than inside the caller's stack. */
void mg_conn_schedule(mg_conn *c);
size_t mg_conn_in_limit(const mg_conn *c);     /* unparsed input kept before reading stops */
double mg_conn_send_timeout(const mg_conn *c); /* seconds output may stall */

/* conn.c */
mg_conn *mg_conn_new(mg_http_server *srv, int fd, const struct sockaddr *peer);
/* Close now: watchers, socket, TLS; calls on_abort if the handler holds an
 * unfinished request. Memory stays valid until the reaper runs. */
void mg_conn_close(mg_conn *c);
void mg_conn_free(mg_conn *c);
/* The response to the current request is complete. */
void mg_conn_request_done(mg_conn *c);
/* Timeout for the current phase, in seconds from now; <= 0 clears it. */
void mg_conn_set_deadline(mg_conn *c, double seconds);
/* Server error reply (408, 413, 431, 400...), then close. */
void mg_conn_reject(mg_conn *c, int status, const char *msg);
void mg_conn_drain(mg_conn *c);
int mg_conn_is_active(const mg_conn *c);
/* Called by parse.c when a request's first byte and its headers arrive. */
void mg_conn_request_begins(mg_conn *c);
void mg_conn_body_begins(mg_conn *c);
void mg_conn_body_progress(mg_conn *c);

/* parse.c */
void mg_parse_init(mg_conn *c);
/* Feed buffered input to the parser. 1: a complete request is in c->req;
 * 0: all input consumed, more needed; -1: rejected (err_status/err_msg). */
int mg_parse_input(mg_conn *c);

/* respond.c */
void mg_respond_error(mg_conn *c, int status, const char *msg);

/* io.c: > 0 bytes moved, 0 end of stream (recv only), MG_AGAIN, MG_ERR. */
ssize_t mg_io_recv(mg_conn *c, char *buf, size_t len);
ssize_t mg_io_send(mg_conn *c, const char *buf, size_t len);
ssize_t mg_io_sendv(mg_conn *c, const struct iovec *iov, int n); /* plain only */

/* tls.c */
int mg_tls_conn_init(mg_conn *c, SSL_CTX *ctx);
int mg_tls_handshake(mg_conn *c); /* MG_OK, MG_AGAIN (flags say which way), MG_ERR */
ssize_t mg_tls_recv(mg_conn *c, char *buf, size_t len);
ssize_t mg_tls_send(mg_conn *c, const char *buf, size_t len);
int mg_tls_has_pending(const mg_conn *c);
void mg_tls_shutdown(mg_conn *c); /* best-effort close_notify */
void mg_tls_conn_free(mg_conn *c);

#endif
