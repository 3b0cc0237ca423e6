/* io.c — moves bytes between a connection's socket and memory: recv and
 * send with MSG_NOSIGNAL (a closed peer is an error code, never SIGPIPE),
 * sendmsg for gathered writes, and tls.c when the connection is TLS. */
#include <errno.h>
#include <sys/socket.h>

#include "net.h"

static int would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

ssize_t mg_io_recv(mg_conn *c, char *buf, size_t len)
{
    if (c->ssl)
        return mg_tls_recv(c, buf, len);
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return would_block(errno) ? MG_AGAIN : MG_ERR;
    }
}

ssize_t mg_io_send(mg_conn *c, const char *buf, size_t len)
{
    if (c->ssl)
        return mg_tls_send(c, buf, len);
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return would_block(errno) ? MG_AGAIN : MG_ERR;
    }
}

ssize_t mg_io_sendv(mg_conn *c, const struct iovec *iov, int n)
{
    struct msghdr msg = {0};
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)n;
    for (;;) {
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        return would_block(errno) ? MG_AGAIN : MG_ERR;
    }
}
