/* server.c — one HTTP server per worker loop: the accept watcher (bounded
 * batches, back-off on EMFILE), the list of open connections, the
 * graveyard of closed ones and the reaper that frees them, drain and free,
 * and the cached Date header value. Uses conn.c for everything per
 * connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/log.h"
#include "net.h"

/* Accepts per readiness event: other watchers get their turn in between. */
#define ACCEPT_BATCH 64
/* Pause after running out of file descriptors, instead of spinning. */
#define ACCEPT_RETRY_SECONDS 0.1

static void list_push(mg_conn **head, mg_conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

static void list_unlink(mg_conn **head, mg_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void reap(mg_http_server *srv)
{
    while (srv->graveyard) {
        mg_conn *c = srv->graveyard;
        list_unlink(&srv->graveyard, c);
        mg_conn_free(c);
    }
}

/* Runs before the loop blocks, so every callback that could still hold a
 * closed connection has returned. */
static void on_reaper(struct ev_loop *loop, ev_prepare *w, int revents)
{
    MG_UNUSED(revents);
    mg_http_server *srv = w->data;
    reap(srv);
    ev_prepare_stop(loop, w);
}

void mg_srv_conn_opened(mg_http_server *srv, mg_conn *c)
{
    list_push(&srv->conns, c);
    srv->nconns++;
}

void mg_srv_conn_closed(mg_http_server *srv, mg_conn *c)
{
    list_unlink(&srv->conns, c);
    srv->nconns--;
    list_push(&srv->graveyard, c);
    if (!ev_is_active(&srv->reaper))
        ev_prepare_start(srv->loop, &srv->reaper);
}

static void accept_pause(mg_http_server *srv, int err)
{
    mg_warn("http: accept: %s; pausing %.0f ms", strerror(err), ACCEPT_RETRY_SECONDS * 1000);
    ev_io_stop(srv->loop, &srv->accept_w);
    ev_timer_set(&srv->accept_retry, ACCEPT_RETRY_SECONDS, 0.);
    ev_timer_start(srv->loop, &srv->accept_retry);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_http_server *srv = w->data;
    for (int i = 0; i < ACCEPT_BATCH && !srv->draining; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&peer, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            mg_conn_new(srv, fd, (struct sockaddr *)&peer);
            continue;
        }
        switch (errno) {
        case EINTR:
        case ECONNABORTED:
            continue;
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            return;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            accept_pause(srv, errno);
            return;
        default:
            mg_warn("http: accept: %s", strerror(errno));
            return;
        }
    }
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(revents);
    mg_http_server *srv = w->data;
    if (!srv->draining)
        ev_io_start(loop, &srv->accept_w);
}

mg_http_server *mg_http_server_new(struct ev_loop *loop, int listen_fd, void *tls_ctx,
                                   const mg_http_limits *limits, mg_http_handler handler,
                                   void *handler_ud)
{
    mg_http_server *srv = mg_xcalloc(1, sizeof *srv);
    srv->loop = loop;
    srv->listen_fd = listen_fd;
    srv->tls = tls_ctx;
    if (limits)
        srv->limits = *limits;
    else
        mg_http_limits_default(&srv->limits);
    if (srv->limits.out_low_watermark > srv->limits.out_high_watermark)
        srv->limits.out_low_watermark = srv->limits.out_high_watermark;
    srv->handler = handler;
    srv->handler_ud = handler_ud;
    srv->date_sec = (time_t)-1;

    ev_io_init(&srv->accept_w, on_accept, listen_fd, EV_READ);
    srv->accept_w.data = srv;
    ev_timer_init(&srv->accept_retry, on_accept_retry, ACCEPT_RETRY_SECONDS, 0.);
    srv->accept_retry.data = srv;
    ev_prepare_init(&srv->reaper, on_reaper);
    srv->reaper.data = srv;
    ev_io_start(loop, &srv->accept_w);
    return srv;
}

void mg_http_server_drain(mg_http_server *srv)
{
    if (srv->draining)
        return;
    srv->draining = 1;
    ev_io_stop(srv->loop, &srv->accept_w);
    ev_timer_stop(srv->loop, &srv->accept_retry);
    mg_conn *next;
    for (mg_conn *c = srv->conns; c; c = next) {
        next = c->next; /* mg_conn_drain may unlink c */
        mg_conn_drain(c);
    }
}

size_t mg_http_server_active(const mg_http_server *srv)
{
    size_t n = 0;
    for (const mg_conn *c = srv->conns; c; c = c->next)
        n += (size_t)mg_conn_is_active(c);
    return n;
}

size_t mg_http_server_conns(const mg_http_server *srv) { return srv->nconns; }

void mg_http_server_free(mg_http_server *srv)
{
    if (!srv)
        return;
    ev_io_stop(srv->loop, &srv->accept_w);
    ev_timer_stop(srv->loop, &srv->accept_retry);
    ev_prepare_stop(srv->loop, &srv->reaper);
    srv->draining = 1;
    while (srv->conns)
        mg_conn_close(srv->conns);
    ev_prepare_stop(srv->loop, &srv->reaper);
    reap(srv);
    free(srv);
}

const char *mg_srv_date(mg_http_server *srv)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = (time_t)ev_now(srv->loop);
    if (now == srv->date_sec)
        return srv->date;
    struct tm tm;
    gmtime_r(&now, &tm);
    /* By hand: strftime's %a and %b follow the locale. */
    snprintf(srv->date, sizeof srv->date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    srv->date_sec = now;
    return srv->date;
}
