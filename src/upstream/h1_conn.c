/* h1_conn.c — native HTTP/1.1 connections to upstreams: non-blocking
 * connect, and the per-worker pool of idle keep-alive connections. An idle
 * connection stays watched for reading, so one the upstream closes (or
 * writes to out of turn) is dropped before anyone reuses it; idle ones past
 * MG_UP_H1_IDLE_SECONDS or beyond MG_UP_H1_MAX_IDLE are closed oldest
 * first. Uses up_internal.h; h1_xfer.c runs requests over them. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "up_internal.h"

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
    MG_UNUSED(loop);
    mg_up_h1_conn *c = w->data;
    if (c->x) {
        mg_up_h1_io(c, revents);
        return;
    }
    /* Idle: any byte or EOF means the connection cannot carry a request. */
    mg_up_h1_conn_close(c);
}

static void idle_unlink(mg_up_h1_conn *c)
{
    mg_upstream *u = c->u;
    if (c->prev)
        c->prev->next = c->next;
    else
        u->h1_idle = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        u->h1_idle_tail = c->prev;
    c->prev = c->next = NULL;
    u->h1_nidle--;
}

void mg_up_h1_conn_watch(mg_up_h1_conn *c, int events)
{
    struct ev_loop *loop = c->u->loop;
    if (ev_is_active(&c->io) && (c->io.events & (EV_READ | EV_WRITE)) == events)
        return;
    ev_io_stop(loop, &c->io);
    if (!events)
        return;
    ev_io_set(&c->io, c->fd, events);
    ev_io_start(loop, &c->io);
}

void mg_up_h1_conn_close(mg_up_h1_conn *c)
{
    if (!c)
        return;
    if (!c->x)
        idle_unlink(c);
    ev_io_stop(c->u->loop, &c->io);
    close(c->fd);
    free(c);
}

static int same_target(const mg_up_h1_conn *c, const mg_up_h1_target *t)
{
    return c->addr_len == t->addr_len && memcmp(&c->addr, &t->addr, t->addr_len) == 0;
}

mg_up_h1_conn *mg_up_h1_conn_take(mg_upstream *u, const mg_up_h1_target *t)
{
    double now = ev_now(u->loop);
    mg_up_h1_conn *c = u->h1_idle;
    while (c) {
        mg_up_h1_conn *next = c->next;
        if (now - c->idle_since > MG_UP_H1_IDLE_SECONDS) {
            mg_up_h1_conn_close(c);
        } else if (same_target(c, t)) {
            idle_unlink(c);
            c->reused = 1;
            return c;
        }
        c = next;
    }
    return NULL;
}

static void set_socket_options(int fd)
{
    int on = 1, idle = 30, intvl = 15;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    /* Long streams cross NATs and load balancers that drop silent flows. */
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
}

mg_up_h1_conn *mg_up_h1_conn_open(mg_upstream *u, const mg_up_h1_target *t, int *err_no)
{
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err_no = errno;
        return NULL;
    }
    set_socket_options(fd);
    double t_open = mg_now_mono();
    int rc = connect(fd, (const struct sockaddr *)&t->addr, t->addr_len);
    if (rc != 0 && errno != EINPROGRESS) {
        *err_no = errno;
        close(fd);
        return NULL;
    }
    mg_up_h1_conn *c = mg_xcalloc(1, sizeof *c);
    c->u = u;
    c->fd = fd;
    c->addr = t->addr;
    c->addr_len = t->addr_len;
    c->t_open = t_open;
    c->connecting = rc != 0;
    ev_io_init(&c->io, on_conn_io, fd, EV_READ);
    c->io.data = c;
    return c;
}

/* Close the oldest idle connections: past the count limit, or too old. */
static void trim_idle(mg_upstream *u)
{
    double now = ev_now(u->loop);
    while (u->h1_idle_tail && (u->h1_nidle > MG_UP_H1_MAX_IDLE ||
                               now - u->h1_idle_tail->idle_since > MG_UP_H1_IDLE_SECONDS))
        mg_up_h1_conn_close(u->h1_idle_tail);
}

void mg_up_h1_conn_park(mg_up_h1_conn *c)
{
    mg_upstream *u = c->u;
    if (u->closing) {
        c->x = NULL;
        ev_io_stop(u->loop, &c->io);
        close(c->fd);
        free(c);
        return;
    }
    c->x = NULL;
    c->idle_since = ev_now(u->loop);
    c->prev = NULL;
    c->next = u->h1_idle;
    if (u->h1_idle)
        u->h1_idle->prev = c;
    else
        u->h1_idle_tail = c;
    u->h1_idle = c;
    u->h1_nidle++;
    mg_up_h1_conn_watch(c, EV_READ);
    trim_idle(u);
}

void mg_up_h1_pool_free(mg_upstream *u)
{
    while (u->h1_idle)
        mg_up_h1_conn_close(u->h1_idle);
}
