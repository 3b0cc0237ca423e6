/* mock.c — the mock transfer: picks the API by path, builds the plan,
 * chooses between a whole body (JSON replies, errors, faults) and a
 * generated stream, and paces the callbacks of upstream.h's contract on a
 * libev timer: time to first token, then tokens per second, pausing on
 * MG_AGAIN until mg_mock_resume. With no delays it still yields to the loop
 * every MG_MOCK_BURST steps so one huge stream cannot hog it.
 *
 * Faults, by header `x-mock-fault: NAME` or model suffix `model@NAME`:
 *   429, 500, 503  error in the API's own shape (429 with retry-after: 1)
 *   timeout        nothing is ever sent
 *   stall          reply starts, then stops halfway forever
 *   cut            reply starts, then on_done(MG_UP_ERR_IO) halfway
 *   malformed      one event (or the body) is cut-off JSON
 *   wrongtype      200 text/html
 * Other headers: x-mock-output-tokens, x-mock-cached, x-mock-parallel,
 * x-mock-stream-bytes (or model@big), x-mock-echo, x-mock-ttft-ms, x-mock-tps.
 *
 * Ownership: the caller holds the xfer from mg_mock_start until it cancels
 * it or on_done returns; the xfer owns its plan, generator and buffers and
 * frees itself after on_done. Uses jansson, libev and the files above. */
#include "mock_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MG_MOCK_BURST 64 /* steps without a delay before yielding to the loop */

enum {
    ST_RESPOND = 0, /* next: on_response */
    ST_BODY,        /* next: queue the whole body */
    ST_STREAM,      /* generating events */
    ST_FINISH,      /* next: on_done(OK) */
    ST_CUT,         /* next: on_done(IO) */
    ST_STALLED,     /* nothing more, ever (stall, timeout) */
    ST_DONE,        /* on_done was called */
};

struct mg_mock_xfer {
    struct ev_loop *loop;
    mg_up_callbacks cb;
    void *ud;
    mg_mock_plan plan;
    mg_mock_gen gen;   /* event queue for every reply; generator for streams */
    ev_timer timer;
    int state;
    int status;
    const char *ctype;
    const char *id_header; /* response header carrying reqid */
    mg_buf body;       /* whole body, when not streaming */
    size_t body_send;  /* bytes of body to send (less for stall and cut) */
    mg_header hdrs[4];
    size_t nhdrs;
    char reqid[MG_MOCK_HEX + 8];
    double wait;       /* seconds to wait before the next step */
    int burst;         /* steps since the last wait */
    int paused;        /* on_data said MG_AGAIN; waiting for resume */
    int cancelled;     /* caller cancelled: no more callbacks, free soon */
    int busy;          /* inside pump: freeing is deferred to its end */
    long pauses;
};

static void add_header(mg_mock_xfer *x, const char *name, const char *value)
{
    assert(x->nhdrs < MG_ARRAY_LEN(x->hdrs));
    mg_header *h = &x->hdrs[x->nhdrs++];
    h->name = name;
    h->name_len = strlen(name);
    h->value = value;
    h->value_len = strlen(value);
}

static void xfer_free(mg_mock_xfer *x)
{
    ev_timer_stop(x->loop, &x->timer);
    mg_mock_gen_free(&x->gen);
    mg_mock_plan_free(&x->plan);
    mg_buf_free(&x->body);
    free(x);
}

static void arm(mg_mock_xfer *x, double after)
{
    ev_timer_stop(x->loop, &x->timer);
    ev_timer_set(&x->timer, after, 0.);
    ev_timer_start(x->loop, &x->timer);
}

/* Hand the next queued event to on_data; 0 when the queue is empty. */
static int deliver_one(mg_mock_xfer *x)
{
    mg_mock_gen *g = &x->gen;
    if (g->next_ev >= g->nev) {
        mg_buf_reset(&g->q);
        g->nev = g->next_ev = 0;
        return 0;
    }
    size_t start = g->next_ev ? g->ends[g->next_ev - 1] : 0;
    size_t end = g->ends[g->next_ev++];
    if (x->cb.on_data(x->ud, g->q.data + start, end - start) == MG_AGAIN) {
        x->paused = 1;
        x->pauses++;
    }
    return 1;
}

static void after_fault(mg_mock_xfer *x)
{
    if (x->plan.fault == MG_MOCK_FAULT_STALL)
        x->state = ST_STALLED;
    else if (x->plan.fault == MG_MOCK_FAULT_CUT)
        x->state = ST_CUT;
    else
        x->gen.corrupt_next = 1;
}

/* One step of the reply; 0 when there is nothing more to do for now. */
static int advance(mg_mock_xfer *x)
{
    switch (x->state) {
    case ST_RESPOND:
        x->state = x->body.data ? ST_BODY : ST_STREAM;
        x->cb.on_response(x->ud, x->status, x->hdrs, x->nhdrs);
        return 1;
    case ST_BODY:
        mg_buf_append(&x->gen.q, x->body.data, x->body_send);
        x->gen.ends[x->gen.nev++] = x->gen.q.len;
        x->state = x->plan.fault == MG_MOCK_FAULT_STALL ? ST_STALLED
                   : x->plan.fault == MG_MOCK_FAULT_CUT ? ST_CUT
                                                         : ST_FINISH;
        return 1;
    case ST_STREAM: {
        int r = mg_mock_gen_step(&x->gen);
        x->wait = x->gen.delay;
        if (r == MG_MOCK_STEP_END)
            x->state = ST_FINISH;
        else if (r == MG_MOCK_STEP_FAULT)
            after_fault(x);
        return 1;
    }
    case ST_FINISH:
        x->state = ST_DONE;
        x->cb.on_done(x->ud, MG_UP_OK, NULL);
        return 0;
    case ST_CUT:
        x->state = ST_DONE;
        x->cb.on_done(x->ud, MG_UP_ERR_IO, "mock: connection cut mid-response (fault cut)");
        return 0;
    default:
        return 0;
    }
}

static void pump(mg_mock_xfer *x)
{
    x->busy = 1;
    while (!x->cancelled && !x->paused) {
        if (deliver_one(x))
            continue;
        if (x->wait > 0) {
            arm(x, x->wait);
            x->wait = 0;
            x->burst = 0;
            break;
        }
        if (++x->burst >= MG_MOCK_BURST) { /* let the loop breathe */
            x->burst = 0;
            arm(x, 0);
            break;
        }
        if (!advance(x))
            break;
    }
    x->busy = 0;
    if (x->cancelled || x->state == ST_DONE)
        xfer_free(x);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    pump(w->data);
}

/* ---- choosing the reply ---- */

static const mg_mock_fmt *route(const char *method, const char *path, const mg_mock_fmt **err_fmt,
                                int *method_ok)
{
    static const struct { const char *path, *method; const mg_mock_fmt *fmt; } routes[] = {
        {"/v1/chat/completions", "POST", &mg_mock_fmt_chat},
        {"/v1/embeddings", "POST", &mg_mock_fmt_embed},
        {"/v1/models", "GET", &mg_mock_fmt_models},
        {"/v1/messages", "POST", &mg_mock_fmt_anthropic},
        {"/v1/messages/count_tokens", "POST", &mg_mock_fmt_count},
        {"/v1/responses", "POST", &mg_mock_fmt_responses},
    };
    *method_ok = 1;
    for (size_t i = 0; i < MG_ARRAY_LEN(routes); i++) {
        if (strcmp(path, routes[i].path) == 0) {
            *err_fmt = routes[i].fmt;
            *method_ok = strcmp(method, routes[i].method) == 0;
            return routes[i].fmt;
        }
    }
    /* Gemini: /v1beta/models/{model}:generateContent (or /v1/...). */
    const char *colon = strrchr(path, ':');
    if ((strncmp(path, "/v1beta/models/", 15) == 0 || strncmp(path, "/v1/models/", 11) == 0) && colon &&
        (strcmp(colon, ":generateContent") == 0 || strcmp(colon, ":streamGenerateContent") == 0)) {
        *err_fmt = &mg_mock_fmt_gemini;
        *method_ok = strcmp(method, "POST") == 0;
        return &mg_mock_fmt_gemini;
    }
    if (strncmp(path, "/v1/models/", 11) == 0 && !colon) { /* GET /v1/models/{id} */
        *err_fmt = &mg_mock_fmt_models;
        *method_ok = strcmp(method, "GET") == 0;
        return &mg_mock_fmt_models;
    }
    *err_fmt = strncmp(path, "/v1beta/", 8) == 0       ? &mg_mock_fmt_gemini
               : strncmp(path, "/v1/messages", 12) == 0 ? &mg_mock_fmt_anthropic
                                                        : &mg_mock_fmt_chat;
    return NULL;
}

static void set_body_json(mg_mock_xfer *x, int status, json_t *j)
{
    x->status = status;
    x->ctype = "application/json";
    mg_buf_reset(&x->body);
    mg_mock_dump(j, &x->body);
    mg_buf_append(&x->body, "\n", 1);
    json_decref(j);
    x->body_send = x->body.len;
}

static void set_error(mg_mock_xfer *x, const mg_mock_fmt *fmt, int kind, const char *msg)
{
    x->id_header = fmt->id_header;
    static const int statuses[] = {
        [MG_MOCK_ERR_INVALID] = 400, [MG_MOCK_ERR_NOT_FOUND] = 404, [MG_MOCK_ERR_METHOD] = 405,
        [MG_MOCK_ERR_RATE] = 429,    [MG_MOCK_ERR_SERVER] = 500,    [MG_MOCK_ERR_OVERLOADED] = 503,
    };
    set_body_json(x, statuses[kind], fmt->error(kind, msg));
}

/* Parse the request into x->plan; on a client error fill the error body
 * and return MG_ERR. */
static int build_plan(mg_mock_xfer *x, const mg_mock_req *req, const mg_mock_opts *opts)
{
    const char *method = req->method ? req->method : "GET";
    const char *path = req->path ? req->path : "/";
    const mg_mock_fmt *err_fmt;
    int method_ok;
    char err[MG_ERRLEN];
    const mg_mock_fmt *fmt = route(method, path, &err_fmt, &method_ok);
    if (!fmt || !method_ok) {
        snprintf(err, sizeof err, "%s %.200s: %s", method, path, fmt ? "method not allowed" : "no such endpoint on the mock");
        set_error(x, err_fmt, fmt ? MG_MOCK_ERR_METHOD : MG_MOCK_ERR_NOT_FOUND, err);
        return MG_ERR;
    }
    x->plan.fmt = fmt;
    x->id_header = fmt->id_header;
    x->plan.max_tokens = -1;
    json_t *root = NULL;
    if (strcmp(method, "POST") == 0) {
        json_error_t jerr;
        root = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
        if (!json_is_object(root)) {
            snprintf(err, sizeof err, "We could not parse the JSON body of your request: %s",
                     root ? "expected an object" : jerr.text);
            json_decref(root);
            set_error(x, fmt, MG_MOCK_ERR_INVALID, err);
            return MG_ERR;
        }
    }
    int rc = fmt->parse(&x->plan, root, req, err);
    if (rc == MG_OK && mg_mock_plan_headers(&x->plan, req, opts) != MG_OK) {
        snprintf(err, sizeof err, "unknown x-mock-fault (try 429, 500, 503, timeout, stall, cut, malformed, wrongtype)");
        rc = MG_ERR;
    }
    if (rc == MG_OK)
        mg_mock_plan_tools(&x->plan, req);
    json_decref(root); /* the plan kept copies of what it needs */
    memset(x->plan.tool_names, 0, sizeof x->plan.tool_names); /* they pointed into root */
    memset(x->plan.tool_schemas, 0, sizeof x->plan.tool_schemas);
    if (rc != MG_OK)
        set_error(x, fmt, MG_MOCK_ERR_INVALID, err);
    return rc;
}

/* Seconds before the first callback, and the reply set up in x. */
static double prepare(mg_mock_xfer *x, const mg_mock_req *req, const mg_mock_opts *opts)
{
    if (build_plan(x, req, opts) != MG_OK)
        return 0;
    mg_mock_plan *p = &x->plan;
    switch (p->fault) {
    case MG_MOCK_FAULT_TIMEOUT:
        x->state = ST_STALLED;
        return -1;
    case MG_MOCK_FAULT_429:
        set_error(x, p->fmt, MG_MOCK_ERR_RATE, "Rate limit reached for requests (mock fault 429)");
        add_header(x, "retry-after", "1");
        return p->ttft / 4;
    case MG_MOCK_FAULT_500:
        set_error(x, p->fmt, MG_MOCK_ERR_SERVER, "The server had an error processing your request (mock fault 500)");
        return p->ttft / 4;
    case MG_MOCK_FAULT_503:
        set_error(x, p->fmt, MG_MOCK_ERR_OVERLOADED, "Overloaded (mock fault 503)");
        return p->ttft / 4;
    case MG_MOCK_FAULT_WRONGTYPE:
        x->status = 200;
        x->ctype = "text/html; charset=utf-8";
        mg_buf_append_str(&x->body, "<!DOCTYPE html>\n<html><head><title>Welcome</title></head>"
                                    "<body><h1>It works!</h1><p>mock fault wrongtype</p></body></html>\n");
        x->body_send = x->body.len;
        return p->ttft / 4;
    default:
        break;
    }
    double delay = p->ttft;
    if (p->direct) {
        set_body_json(x, 200, json_incref(p->direct));
    } else if (!p->stream) {
        mg_mock_gen_init(&x->gen, p, 0);
        mg_mock_gen_collect(&x->gen);
        set_body_json(x, 200, p->fmt->render(&x->gen));
        if (p->tps > 0)
            delay += (double)mg_mock_gen_output_tokens(&x->gen) / p->tps;
    } else {
        mg_mock_gen_init(&x->gen, p, 1);
        x->status = 200;
        int json_array = p->fmt == &mg_mock_fmt_gemini && !p->sse;
        x->ctype = json_array ? "application/json" : p->fmt->stream_ctype;
        if (!json_array)
            add_header(x, "cache-control", "no-cache");
        return delay;
    }
    /* stall and cut stop halfway; malformed ends there as if complete */
    if (p->fault == MG_MOCK_FAULT_STALL || p->fault == MG_MOCK_FAULT_CUT || p->fault == MG_MOCK_FAULT_MALFORMED)
        x->body_send = x->body.len / 2;
    return delay;
}

mg_mock_xfer *mg_mock_start(struct ev_loop *loop, const mg_mock_req *req, const mg_mock_opts *opts,
                            const mg_up_callbacks *cb, void *ud)
{
    mg_mock_xfer *x = mg_xcalloc(1, sizeof *x);
    x->loop = loop;
    x->cb = *cb;
    x->ud = ud;
    ev_timer_init(&x->timer, timer_cb, 0., 0.);
    x->timer.data = x;
    mg_mock_hex(x->reqid + 4);
    memcpy(x->reqid, "req_", 4);
    double delay = prepare(x, req, opts);
    if (x->ctype) {
        add_header(x, "content-type", x->ctype);
        add_header(x, x->id_header, x->reqid);
    }
    if (delay >= 0) /* timeout fault: never armed, nothing is ever sent */
        arm(x, delay);
    return x;
}

void mg_mock_resume(mg_mock_xfer *x)
{
    if (!x || !x->paused || x->cancelled)
        return;
    x->paused = 0;
    if (!x->busy)
        arm(x, 0);
}

void mg_mock_cancel(mg_mock_xfer *x)
{
    if (!x)
        return;
    x->cancelled = 1;
    ev_timer_stop(x->loop, &x->timer);
    if (!x->busy)
        xfer_free(x);
}

long mg_mock_pauses(const mg_mock_xfer *x) { return x ? x->pauses : 0; }
