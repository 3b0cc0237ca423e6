/* reply.c — cross-thread admin answers (reply.h). The worker side owns the
 * ev_async (started and stopped on the worker's loop only); the sender
 * fills the answer under the lock and signals. Whoever drops the last of
 * the two references frees the object. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "reply.h"

struct mg_al_reply {
    pthread_mutex_t lock;
    int refs;          /* 2: worker side + sender; under lock */
    int abandoned;     /* client gone: the answer is dropped */
    int ready;         /* answer filled */
    int status;
    char *body;        /* owned */
    size_t len;
    mg_http_req *req;  /* worker side only */
    struct ev_loop *loop;
    ev_async wake;
};

static void unref(mg_al_reply *r)
{
    pthread_mutex_lock(&r->lock);
    int last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r->body);
    free(r);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    MG_UNUSED(revents);
    mg_al_reply *r = w->data;
    pthread_mutex_lock(&r->lock);
    int ready = r->ready && !r->abandoned;
    pthread_mutex_unlock(&r->lock);
    if (!ready)
        return;
    ev_async_stop(loop, &r->wake);
    mg_http_req *req = r->req;
    req->on_abort = NULL;
    req->ud = NULL;
    mg_http_respond(req, r->status, "application/json", "Cache-Control: no-store\r\n",
                    r->body ? r->body : "", r->len);
    unref(r);
}

static void on_abort(mg_http_req *req)
{
    mg_al_reply *r = req->ud;
    pthread_mutex_lock(&r->lock);
    r->abandoned = 1;
    pthread_mutex_unlock(&r->lock);
    ev_async_stop(r->loop, &r->wake);
    unref(r);
}

mg_al_reply *mg_al_reply_new(mg_http_req *req)
{
    mg_al_reply *r = mg_xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->refs = 2;
    r->req = req;
    r->loop = req->loop;
    ev_async_init(&r->wake, on_wake);
    r->wake.data = r;
    ev_async_start(r->loop, &r->wake);
    req->ud = r;
    req->on_abort = on_abort;
    return r;
}

void mg_al_reply_send(mg_al_reply *r, int status, const char *json, size_t len)
{
    pthread_mutex_lock(&r->lock);
    if (!r->abandoned && !r->ready) {
        r->status = status;
        r->body = mg_xstrndup(json ? json : "", json ? len : 0);
        r->len = json ? len : 0;
        r->ready = 1;
        /* Under the lock: the worker cannot stop the watcher meanwhile. */
        ev_async_send(r->loop, &r->wake);
    }
    pthread_mutex_unlock(&r->lock);
    unref(r);
}

void mg_al_reply_json(mg_al_reply *r, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    if (body)
        json_decref(body);
    if (!s) {
        mg_al_reply_error(r, 500, "cannot encode the answer");
        return;
    }
    mg_al_reply_send(r, status, s, strlen(s));
    free(s);
}

void mg_al_reply_error(mg_al_reply *r, int status, const char *message)
{
    mg_buf b = {0};
    mg_buf_append_str(&b, "{\"error\":{\"message\":");
    mg_buf_append_json_str(&b, message, strlen(message));
    mg_buf_printf(&b, ",\"code\":%d}}", status);
    mg_al_reply_send(r, status, b.data, b.len);
    mg_buf_free(&b);
}

int mg_al_reply_alive(mg_al_reply *r)
{
    pthread_mutex_lock(&r->lock);
    int alive = !r->abandoned;
    pthread_mutex_unlock(&r->lock);
    return alive;
}
