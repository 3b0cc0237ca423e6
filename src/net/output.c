/* output.c — a connection's output side and its watchers: queue response
 * pieces (straight to the kernel with sendmsg when nothing is waiting,
 * else into the connection's one output buffer), flush on writability,
 * pick which readiness the connection waits for, keep the send-stall
 * deadline, and schedule deferred work. Used by conn.c, respond.c and
 * parse.c; moves bytes with io.c. */
#include "net.h"

/* Input the connection holds unparsed before it stops reading: enough for
 * a pipelined request's headers while the current one is served. */
size_t mg_conn_in_limit(const mg_conn *c)
{
    return c->srv->limits.max_header_bytes + MG_NET_READ_CHUNK;
}

/* How long output may make no progress before the client counts as gone. */
double mg_conn_send_timeout(const mg_conn *c)
{
    return c->srv->limits.body_timeout > 0 ? c->srv->limits.body_timeout : 60;
}

static void set_watcher(struct ev_loop *loop, ev_io *w, int want)
{
    if (want && !ev_is_active(w))
        ev_io_start(loop, w);
    else if (!want && ev_is_active(w))
        ev_io_stop(loop, w);
}

void mg_conn_update_io(mg_conn *c)
{
    int want_r = 0, want_w = 0;
    switch (c->state) {
    case MG_CONN_CLOSED:
        return;
    case MG_CONN_HANDSHAKE:
        want_r = !c->tls_hs_want_write;
        want_w = c->tls_hs_want_write;
        break;
    case MG_CONN_LINGER:
        want_r = 1;
        break;
    default:
        want_r = (!c->peer_eof && mg_buf_unread(&c->in) < mg_conn_in_limit(c)) ||
                 c->tls_wr_want_read;
        want_w = (mg_buf_unread(&c->out) > 0 && !c->tls_wr_want_read) || c->tls_rd_want_write;
        break;
    }
    set_watcher(c->srv->loop, &c->rio, want_r);
    set_watcher(c->srv->loop, &c->wio, want_w);
}

void mg_conn_schedule(mg_conn *c)
{
    if (c->state != MG_CONN_CLOSED)
        ev_feed_event(c->srv->loop, &c->defer, EV_CUSTOM);
}

/* After output moved (or did not), keep the phase's timeout honest: a
 * response the client stops reading must not hold the connection forever. */
static void note_output(mg_conn *c, int moved)
{
    switch (c->state) {
    case MG_CONN_HANDLER:
    case MG_CONN_UPGRADED:
        if (mg_buf_unread(&c->out) == 0)
            c->deadline = 0;
        else if (moved || c->deadline == 0)
            mg_conn_set_deadline(c, mg_conn_send_timeout(c));
        break;
    case MG_CONN_IDLE:
        if (moved)
            mg_conn_set_deadline(c, c->srv->limits.keepalive_timeout);
        break;
    case MG_CONN_DRAINOUT:
        if (moved)
            mg_conn_set_deadline(c, mg_conn_send_timeout(c));
        break;
    default:
        break;
    }
}

void mg_conn_flush(mg_conn *c)
{
    int moved = 0;
    while (!c->broken && mg_buf_unread(&c->out) > 0) {
        size_t n = mg_buf_unread(&c->out);
        ssize_t w = mg_io_send(c, mg_buf_rptr(&c->out), n);
        if (w > 0) {
            mg_buf_consume(&c->out, (size_t)w);
            moved = 1;
            if (!c->ssl && (size_t)w < n)
                break; /* socket buffer full: wait for EV_WRITE */
            continue;
        }
        if (w == MG_AGAIN)
            break;
        c->broken = 1;
        mg_conn_schedule(c);
    }
    if (mg_buf_unread(&c->out) == 0 && c->out.cap > MG_NET_BIG_BUFFER)
        mg_buf_free(&c->out);
    note_output(c, moved);
    mg_conn_update_io(c);
}

void mg_conn_queue(mg_conn *c, const struct iovec *iov, int n)
{
    if (c->state == MG_CONN_CLOSED || c->broken)
        return;
    size_t skip = 0;
    int moved = 0;
    int direct = !c->corked && !c->ssl && mg_buf_unread(&c->out) == 0;
    if (direct) {
        /* Nothing queued: hand the pieces to the kernel as they are and
         * copy only what it does not take. */
        ssize_t w = mg_io_sendv(c, iov, n);
        if (w == MG_ERR) {
            c->broken = 1;
            mg_conn_schedule(c);
            return;
        }
        if (w > 0)
            skip = (size_t)w;
        moved = w > 0;
    }
    for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        mg_buf_append(&c->out, (const char *)iov[i].iov_base + skip, len - skip);
        skip = 0;
    }
    if (direct) {
        note_output(c, moved);
        mg_conn_update_io(c);
    } else if (!c->corked && (c->ssl || !ev_is_active(&c->wio))) {
        mg_conn_flush(c);
    }
}
