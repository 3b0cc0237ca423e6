/* conn.c — one client connection's life on the loop: read, parse
 * (parse.c), hand the request to the handler, let the response leave
 * (respond.c builds it, output.c sends it), keep alive or close. One
 * ev_timer per connection carries every timeout (header, body, keep-alive,
 * send stall, linger); the phase sets a deadline and the timer is only
 * touched when it would fire too late. While a request arrives, its phase
 * deadlines are capped by one deadline for the whole request.
 *
 * Re-entrancy: the public API (respond.c) never closes a connection and
 * never calls the handler back; it queues output and, when something is
 * left to do, feeds an event to the connection's defer watcher so
 * conn_settle runs from the loop. Closed connections are freed by the
 * server's reaper after the loop iteration, so no frame on the stack ever
 * holds freed memory. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/log.h"
#include "net.h"

static void conn_settle(mg_conn *c);
static void conn_read(mg_conn *c);

static int parses_input(mg_conn_state s)
{
    return s == MG_CONN_IDLE || s == MG_CONN_HEADERS || s == MG_CONN_BODY;
}

static void arm_deadline(mg_conn *c, double now, double seconds)
{
    c->deadline_whole = 0;
    if (seconds <= 0) {
        c->deadline = 0;
        return;
    }
    c->deadline = now + seconds;
    if (ev_is_active(&c->timer) && c->timer_at <= c->deadline)
        return; /* fires early enough; on_timer re-arms for the rest */
    c->timer.repeat = seconds;
    ev_timer_again(c->srv->loop, &c->timer);
    c->timer_at = c->deadline;
}

void mg_conn_set_deadline(mg_conn *c, double seconds) { arm_deadline(c, mg_now_mono(), seconds); }

/* Header and body phases: the phase's own timeout, but never past the
 * whole request's deadline. The phase timeouts restart as bytes arrive, so
 * without this cap a client trickling one byte at a time would hold the
 * connection forever (slowloris on bodies). */
static void set_receive_deadline(mg_conn *c, double seconds)
{
    double now = mg_now_mono();
    double left = c->request_deadline - now;
    if (c->request_deadline > 0 && (seconds <= 0 || left <= seconds)) {
        arm_deadline(c, now, MG_MAX(left, 0.001)); /* already past: fire at once, never clear */
        c->deadline_whole = 1;
        return;
    }
    arm_deadline(c, now, seconds);
}

static void peer_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    snprintf(out, outlen, "unknown");
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)outlen);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)outlen);
    } else if (sa->sa_family == AF_UNIX) {
        snprintf(out, outlen, "unix");
    }
}

void mg_conn_close(mg_conn *c)
{
    if (c->state == MG_CONN_CLOSED)
        return;
    int owes_abort = (c->state == MG_CONN_HANDLER || c->state == MG_CONN_UPGRADED) &&
                     !c->req.finished && !c->aborted;
    struct ev_loop *loop = c->srv->loop;
    /* Stopping also drops a pending fed event. */
    ev_io_stop(loop, &c->rio);
    ev_io_stop(loop, &c->wio);
    ev_idle_stop(loop, &c->defer);
    ev_timer_stop(loop, &c->timer);
    if (c->ssl)
        mg_tls_conn_free(c);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = MG_CONN_CLOSED;
    mg_srv_conn_closed(c->srv, c);
    if (owes_abort) {
        c->aborted = 1;
        if (c->req.on_abort)
            c->req.on_abort(&c->req);
    }
}

void mg_conn_free(mg_conn *c)
{
    mg_buf_free(&c->in);
    mg_buf_free(&c->out);
    mg_buf_free(&c->arena);
    mg_buf_free(&c->head);
    mg_buf_free(&c->req.body);
    free(c->spans);
    free(c->headers);
    free(c);
}

void mg_conn_request_begins(mg_conn *c)
{
    c->state = MG_CONN_HEADERS;
    c->seq++;
    c->req.t_start = mg_now_mono();
    double whole = c->srv->limits.request_timeout;
    c->request_deadline = whole > 0 ? c->req.t_start + whole : 0;
    set_receive_deadline(c, c->srv->limits.header_timeout);
}

void mg_conn_body_begins(mg_conn *c)
{
    c->state = MG_CONN_BODY;
    set_receive_deadline(c, c->srv->limits.body_timeout);
}

void mg_conn_body_progress(mg_conn *c) { set_receive_deadline(c, c->srv->limits.body_timeout); }

static void dispatch(mg_conn *c)
{
    c->state = MG_CONN_HANDLER;
    c->deadline = 0;
    /* Received in full: the response, however long it streams, and an
     * upgraded connection are not bound by the request deadline. */
    c->request_deadline = 0;
    c->deadline_whole = 0;
    c->want_writable = 0;
    if (c->srv->draining)
        c->close_after = 1;
    c->srv->handler(&c->req, c->srv->handler_ud);
}

static void deliver_upgraded(mg_conn *c)
{
    size_t n = mg_buf_unread(&c->in);
    if (c->on_data && !c->req.finished)
        c->on_data(&c->req, mg_buf_rptr(&c->in), n);
    mg_buf_consume(&c->in, n);
}

/* Parse and dispatch as many buffered requests as the state allows. Output
 * is corked meanwhile, so a burst of pipelined responses leaves in one
 * write. */
static void process_input(mg_conn *c)
{
    if (c->processing)
        return;
    c->processing = 1;
    c->corked = 1;
    while (c->state != MG_CONN_CLOSED && !c->broken && mg_buf_unread(&c->in) > 0) {
        if (c->state == MG_CONN_UPGRADED) {
            deliver_upgraded(c);
            continue;
        }
        if (!parses_input(c->state))
            break;
        /* Responses piling up unread: wait before parsing more. */
        if (c->state == MG_CONN_IDLE &&
            mg_buf_unread(&c->out) > c->srv->limits.out_high_watermark)
            break;
        int r = mg_parse_input(c);
        if (r < 0) {
            mg_conn_reject(c, c->err_status ? c->err_status : 400,
                           c->err_msg[0] ? c->err_msg : "malformed HTTP request");
            break;
        }
        if (r == 0)
            break;
        dispatch(c);
    }
    c->corked = 0;
    c->processing = 0;
    if (c->state != MG_CONN_CLOSED && mg_buf_unread(&c->out) > 0)
        mg_conn_flush(c);
}

void mg_conn_request_done(mg_conn *c)
{
    mg_http_req *r = &c->req;
    r->finished = 1;
    c->want_writable = 0;
    if (c->state == MG_CONN_CLOSED)
        return;
    if (c->close_after || !r->keep_alive || c->srv->draining || c->state == MG_CONN_UPGRADED) {
        c->state = MG_CONN_DRAINOUT;
        mg_conn_set_deadline(c, mg_conn_send_timeout(c));
    } else {
        c->state = MG_CONN_IDLE;
        mg_conn_set_deadline(c, c->srv->limits.keepalive_timeout);
    }
    if (!c->corked)
        mg_conn_flush(c);
    if (!c->processing)
        mg_conn_schedule(c);
}

void mg_conn_reject(mg_conn *c, int status, const char *msg)
{
    mg_debug("http: %s: %d %s", c->client_ip, status, msg);
    c->close_after = 1;
    c->linger = 1;
    mg_buf_reset(&c->in);
    c->state = MG_CONN_DRAINOUT;
    mg_respond_error(c, status, msg);
    mg_conn_set_deadline(c, mg_conn_send_timeout(c));
}

/* The client shut its sending side. */
static void conn_peer_eof(mg_conn *c)
{
    c->peer_eof = 1;
    switch (c->state) {
    case MG_CONN_HANDLER:
    case MG_CONN_UPGRADED:
        c->broken = 1; /* settle closes and calls on_abort */
        break;
    case MG_CONN_IDLE:
        if (mg_buf_unread(&c->out) > 0) {
            c->close_after = 1;
            c->state = MG_CONN_DRAINOUT;
        } else {
            mg_conn_close(c);
        }
        break;
    case MG_CONN_DRAINOUT:
        break; /* it may still read what we send */
    default:
        mg_conn_close(c); /* a request cut short */
        break;
    }
}

/* Read and throw away input while an error reply leaves, so the client's
 * unread bytes do not turn our close into a reset that eats the reply. */
static void conn_discard(mg_conn *c)
{
    char sink[8192];
    for (;;) {
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n > 0) {
            c->linger_bytes += (size_t)n;
            if (c->linger_bytes > MG_NET_LINGER_MAX_BYTES) {
                mg_conn_close(c);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (c->state == MG_CONN_LINGER)
            mg_conn_close(c);
        else
            c->peer_eof = 1;
        return;
    }
}

/* Output is all sent on a connection that must close. */
static void conn_end(mg_conn *c)
{
    if ((c->linger || mg_buf_unread(&c->in) > 0) && !c->peer_eof) {
        mg_tls_shutdown(c);
        shutdown(c->fd, SHUT_WR);
        mg_buf_reset(&c->in);
        c->linger_bytes = 0;
        c->state = MG_CONN_LINGER;
        mg_conn_set_deadline(c, MG_NET_LINGER_SECONDS);
        return;
    }
    mg_conn_close(c);
}

static void conn_read(mg_conn *c)
{
    for (int round = 0; round < 64; round++) {
        if (c->state == MG_CONN_CLOSED || c->broken || c->peer_eof)
            return;
        if (mg_buf_unread(&c->in) >= mg_conn_in_limit(c))
            return; /* conn_update_io stops the watcher */
        if (c->in.off && mg_buf_unread(&c->in) < 1024)
            mg_buf_compact(&c->in);
        mg_buf_reserve(&c->in, c->in.cap ? 4096 : MG_NET_READ_CHUNK - 1);
        size_t room = c->in.cap - c->in.len;
        ssize_t n = mg_io_recv(c, c->in.data + c->in.len, room);
        if (n > 0) {
            c->in.len += (size_t)n;
            process_input(c);
            if (!c->ssl && (size_t)n < room)
                return; /* the socket is drained */
            continue;
        }
        if (n == MG_AGAIN)
            return;
        if (n == 0)
            conn_peer_eof(c);
        else
            c->broken = 1; /* reset by peer, or a TLS error */
        return;
    }
    /* Yield to other connections; TLS may hold decrypted bytes the socket
     * will not signal. */
    mg_conn_schedule(c);
}

static void conn_handshake(mg_conn *c)
{
    int r = mg_tls_handshake(c);
    if (r == MG_AGAIN)
        return;
    if (r != MG_OK) {
        mg_conn_close(c);
        return;
    }
    c->state = MG_CONN_IDLE; /* the header_timeout set at accept still runs */
    conn_read(c);
}

static void conn_readable(mg_conn *c)
{
    switch (c->state) {
    case MG_CONN_CLOSED:
        return;
    case MG_CONN_HANDSHAKE:
        conn_handshake(c);
        return;
    case MG_CONN_LINGER:
        conn_discard(c);
        return;
    case MG_CONN_DRAINOUT:
        if (c->linger) {
            conn_discard(c);
            return;
        }
        break;
    default:
        break;
    }
    if (c->tls_wr_want_read) {
        c->tls_wr_want_read = 0;
        mg_conn_flush(c);
    }
    conn_read(c);
}

static void conn_timed_out(mg_conn *c)
{
    if ((c->state == MG_CONN_HEADERS || c->state == MG_CONN_BODY) && c->deadline_whole) {
        char msg[96];
        snprintf(msg, sizeof msg, "timed out: the request did not arrive in full within %g s",
                 c->srv->limits.request_timeout);
        mg_conn_reject(c, 408, msg);
        mg_conn_flush(c);
        return;
    }
    switch (c->state) {
    case MG_CONN_HEADERS:
        mg_conn_reject(c, 408, "timed out waiting for the request headers");
        mg_conn_flush(c);
        break;
    case MG_CONN_BODY:
        mg_conn_reject(c, 408, "timed out waiting for the request body");
        mg_conn_flush(c);
        break;
    case MG_CONN_HANDLER:
    case MG_CONN_UPGRADED:
        mg_debug("http: %s: client stopped reading the response", c->client_ip);
        mg_conn_close(c);
        break;
    default: /* idle keep-alive, handshake, unsent reply, linger: silently */
        mg_conn_close(c);
        break;
    }
}

static int owes_writable(const mg_conn *c)
{
    return c->want_writable && (c->state == MG_CONN_HANDLER || c->state == MG_CONN_UPGRADED) &&
           !c->req.finished && mg_buf_unread(&c->out) <= c->srv->limits.out_low_watermark;
}

static int reads_input(const mg_conn *c)
{
    return c->state != MG_CONN_HANDSHAKE && c->state != MG_CONN_LINGER &&
           c->state != MG_CONN_CLOSED && !(c->state == MG_CONN_DRAINOUT && c->linger);
}

/* Bring the connection to rest after an event: close what is broken, pay
 * the on_writable owed, end a finished close, pick up waiting input, and
 * point the watchers at what it waits for. */
static void conn_settle(mg_conn *c)
{
    if (c->burst_cork) {
        c->burst_cork = 0;
        c->corked = 0;
        if (c->state != MG_CONN_CLOSED && mg_buf_unread(&c->out) > 0)
            mg_conn_flush(c);
    }
    /* A large body is released here, from the loop, not inside the
     * handler's mg_http_respond: the handler's frame may still read it. */
    if (c->state == MG_CONN_IDLE && c->req.body.cap > MG_NET_BIG_BUFFER)
        mg_buf_free(&c->req.body);
    /* An idle keep-alive connection holds no read buffer (16 KiB each
     * otherwise): thousands of idle clients cost little, and buffers freed
     * and taken again in a different order do not fragment the heap
     * (glibc RSS grew round after round in tests/integration/hostile). */
    if (c->state == MG_CONN_IDLE && c->in.cap && mg_buf_unread(&c->in) == 0)
        mg_buf_free(&c->in);
    int round = 0;
    for (; c->state != MG_CONN_CLOSED; round++) {
        if (round == 16) {
            /* Still busy (a long pipeline): yield to other connections and
             * come back on the next loop iteration. */
            mg_conn_schedule(c);
            break;
        }
        if (c->broken) {
            mg_conn_close(c);
            return;
        }
        if (owes_writable(c)) {
            c->want_writable = 0;
            if (c->req.on_writable)
                c->req.on_writable(&c->req);
            continue;
        }
        if (c->state == MG_CONN_DRAINOUT && mg_buf_unread(&c->out) == 0) {
            conn_end(c);
            continue;
        }
        if (!c->processing && mg_buf_unread(&c->in) > 0 &&
            ((c->state == MG_CONN_IDLE &&
              mg_buf_unread(&c->out) <= c->srv->limits.out_high_watermark) ||
             c->state == MG_CONN_UPGRADED)) {
            process_input(c);
            continue;
        }
        if (c->ssl && reads_input(c) && !c->peer_eof && mg_tls_has_pending(c) &&
            mg_buf_unread(&c->in) < mg_conn_in_limit(c)) {
            conn_read(c);
            continue;
        }
        break;
    }
    if (c->state != MG_CONN_CLOSED)
        mg_conn_update_io(c);
}

static void on_rio(struct ev_loop *loop, ev_io *w, int revents)
{
    MG_UNUSED(loop);
    mg_conn *c = w->data;
    MG_UNUSED(revents);
    conn_readable(c);
    conn_settle(c);
}

/* Work deferred by mg_conn_schedule: settling is all of it. */
static void on_defer(struct ev_loop *loop, ev_idle *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    conn_settle(w->data);
}

static void on_wio(struct ev_loop *loop, ev_io *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_conn *c = w->data;
    if (c->state == MG_CONN_HANDSHAKE) {
        conn_handshake(c);
    } else {
        if (c->tls_rd_want_write) {
            c->tls_rd_want_write = 0;
            conn_read(c);
        }
        if (c->state != MG_CONN_CLOSED)
            mg_conn_flush(c);
    }
    conn_settle(c);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(revents);
    mg_conn *c = w->data;
    if (c->deadline == 0) {
        ev_timer_stop(loop, w);
        return;
    }
    double left = c->deadline - mg_now_mono();
    if (left > 0.001) {
        w->repeat = left;
        ev_timer_again(loop, w);
        c->timer_at = c->deadline;
        return;
    }
    ev_timer_stop(loop, w);
    c->deadline = 0;
    conn_timed_out(c);
    conn_settle(c);
}

mg_conn *mg_conn_new(mg_http_server *srv, int fd, const struct sockaddr *peer)
{
    int one = 1;
    /* Responses are written whole; do not let Nagle hold their tails. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    mg_conn *c = mg_xcalloc(1, sizeof *c);
    c->srv = srv;
    c->fd = fd;
    peer_text(peer, c->client_ip, sizeof c->client_ip);
    ev_io_init(&c->rio, on_rio, fd, EV_READ);
    c->rio.data = c;
    ev_io_init(&c->wio, on_wio, fd, EV_WRITE);
    c->wio.data = c;
    ev_idle_init(&c->defer, on_defer);
    c->defer.data = c;
    ev_init(&c->timer, on_timer);
    c->timer.data = c;
    mg_parse_init(c);
    c->req.conn = c;
    c->req.loop = srv->loop;
    c->req.client_ip = c->client_ip;
    c->state = srv->tls ? MG_CONN_HANDSHAKE : MG_CONN_IDLE;
    mg_srv_conn_opened(srv, c);
    if (srv->tls && mg_tls_conn_init(c, srv->tls) != MG_OK) {
        mg_conn_close(c);
        return NULL;
    }
    /* The first request (and the TLS handshake) must start promptly. */
    mg_conn_set_deadline(c, srv->limits.header_timeout);
    mg_conn_update_io(c);
    return c;
}

void mg_conn_drain(mg_conn *c)
{
    switch (c->state) {
    case MG_CONN_HANDSHAKE:
        mg_conn_close(c);
        break;
    case MG_CONN_IDLE:
        mg_buf_reset(&c->in); /* pipelined requests not begun are dropped */
        if (mg_buf_unread(&c->out) == 0) {
            mg_conn_close(c);
        } else {
            c->close_after = 1;
            c->state = MG_CONN_DRAINOUT;
            mg_conn_set_deadline(c, mg_conn_send_timeout(c));
        }
        break;
    case MG_CONN_HEADERS:
    case MG_CONN_BODY:
    case MG_CONN_HANDLER:
        c->close_after = 1;
        break;
    default:
        break;
    }
}

int mg_conn_is_active(const mg_conn *c)
{
    switch (c->state) {
    case MG_CONN_HEADERS:
    case MG_CONN_BODY:
    case MG_CONN_HANDLER:
    case MG_CONN_UPGRADED:
    case MG_CONN_DRAINOUT:
        return 1;
    case MG_CONN_IDLE:
        return mg_buf_unread(&c->out) > 0;
    default:
        return 0;
    }
}
