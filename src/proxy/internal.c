/* internal.c — requests from inside the host (see internal.h). A request
 * gets a stand-in for the client connection (an mg_http_req with no
 * socket) so every stage reads headers and body as it does for clients;
 * what the stages write goes to the sink. Owner: the mg_px it serves,
 * which frees it with itself, right after on_done. */
#include <stdlib.h>
#include <string.h>

#include "../runtime/gateway.h"
#include "internal.h"
#include "px-t.h"

struct mg_px_internal {
    mg_http_req req;         /* stand-in client request */
    mg_header *headers;      /* owned copies */
    mg_px *px;
    const mg_px_sink *sink;
    void *ud;
    ev_timer kick;           /* runs the request after start returns */
    uint64_t bytes;
    int head_sent;
    int started;
    int cancelled;
};

void mg_px_internal_head(mg_px_internal *r, int status, const char *ctype)
{
    if (r->head_sent)
        return;
    r->head_sent = 1;
    if (r->sink->on_head)
        r->sink->on_head(r->ud, status, ctype);
}

int mg_px_internal_data(mg_px_internal *r, const char *data, size_t len)
{
    r->bytes += len;
    if (!len || !r->sink->on_data)
        return MG_OK;
    return r->sink->on_data(r->ud, data, len) == MG_AGAIN ? MG_AGAIN : MG_OK;
}

uint64_t mg_px_internal_bytes(const mg_px_internal *r) { return r->bytes; }

void mg_px_internal_finished(mg_px_internal *r, const mg_record *rec)
{
    ev_timer_stop(r->req.loop, &r->kick);
    if (r->sink->on_done)
        r->sink->on_done(r->ud, rec);
}

void mg_px_internal_free(mg_px_internal *r)
{
    for (size_t i = 0; i < r->req.nheaders; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
    free((char *)r->req.path);
    mg_buf_free(&r->req.body);
    free(r);
}

static void on_kick(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_px_internal *r = t->data;
    r->started = 1;
    if (r->cancelled) {
        mg_px_client_gone(r->px);
        return;
    }
    mg_px_run(r->px);
}

static void copy_headers(mg_px_internal *r, const mg_kv *kv, size_t n)
{
    r->headers = mg_xcalloc(n ? n : 1, sizeof *r->headers);
    for (size_t i = 0; i < n; i++) {
        r->headers[i].name = mg_xstrdup(kv[i].name);
        r->headers[i].value = mg_xstrdup(kv[i].value);
        r->headers[i].name_len = strlen(kv[i].name);
        r->headers[i].value_len = strlen(kv[i].value);
    }
    r->req.headers = r->headers;
    r->req.nheaders = n;
}

mg_px_internal *mg_px_internal_start(struct mg_worker *w, const mg_px_internal_req *ireq,
                                     const mg_px_sink *sink, void *ud)
{
    mg_px_endpoint ep;
    mg_px_endpoint_parse("POST", ireq->path, &ep);
    if (ep.kind == MG_PX_NONE || ep.kind == MG_PX_MODELS)
        return NULL;
    mg_px_internal *r = mg_xcalloc(1, sizeof *r);
    r->sink = sink;
    r->ud = ud;
    r->req.loop = w->loop;
    r->req.method = "POST";
    r->req.path = mg_xstrdup(ireq->path);
    r->req.query = "";
    r->req.client_ip = "internal";
    r->req.http_minor = 1;
    r->req.t_start = mg_now_mono();
    mg_buf_append(&r->req.body, ireq->body, ireq->body_len);
    copy_headers(r, ireq->headers, ireq->nheaders);
    mg_px *px = mg_px_create(w, &r->req, &ep);
    px->internal = r;
    r->px = px;
    if (ireq->crosstalk_session)
        mg_record_set_text(&px->rec->crosstalk_session, ireq->crosstalk_session);
    if (ireq->key_id)
        mg_record_set_text(&px->rec->key_id, ireq->key_id);
    ev_timer_init(&r->kick, on_kick, 0., 0.);
    r->kick.data = r;
    ev_timer_start(w->loop, &r->kick);
    return r;
}

void mg_px_internal_resume(mg_px_internal *r) { mg_px_client_ready(r->px); }

void mg_px_internal_cancel(mg_px_internal *r)
{
    if (!r->started) {
        r->cancelled = 1; /* on_kick ends it, so on_done still fires later */
        return;
    }
    if (r->px->http)
        mg_px_client_gone(r->px);
}
