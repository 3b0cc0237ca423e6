/* request.c — a proxied request's life: entry from the client socket, the
 * parse stage, client-side responses and aborts, and freeing. The other
 * stages live in route.c, attempt.c, stream.c and record.c. */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "px-t.h"

static void on_client_abort(mg_http_req *req);
static void on_client_writable(mg_http_req *req);

static const char *status_kind(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    case 504: return "timeout_error";
    default: return "api_error";
    }
}

/* Appends "name: value\r\n" (name includes the colon and space). */
static void put_header(mg_buf *out, const char *name, size_t name_len, const char *value)
{
    size_t value_len = strlen(value);
    mg_buf_reserve(out, name_len + value_len + 2);
    memcpy(out->data + out->len, name, name_len);
    memcpy(out->data + out->len + name_len, value, value_len);
    memcpy(out->data + out->len + name_len + value_len, "\r\n", 2);
    out->len += name_len + value_len + 2;
}

#define PUT_HEADER(out, lit, value) put_header(out, lit, sizeof lit - 1, value)

/* Decimal digits of v into buf (at least 21 bytes), NUL-terminated. */
static const char *u64_text(uint64_t v, char *buf, size_t size)
{
    char *p = buf + size;
    *--p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

/* Every response carries these; written on each request, so no printf. */
void mg_px_extra_headers(mg_px *px, mg_buf *out)
{
    char num[24];
    PUT_HEADER(out, "x-moongate-request-id: ", px->rec->id);
    PUT_HEADER(out, "x-moongate-policy-generation: ",
               u64_text((uint64_t)px->gen->number, num, sizeof num));
    if (px->cur) {
        PUT_HEADER(out, "x-moongate-provider: ", px->cur->provider->name);
        PUT_HEADER(out, "x-moongate-model: ", px->cur->model);
    }
}

void mg_px_respond_json(mg_px *px, int status, const char *body, size_t len)
{
    px->rec->http_status = status;
    if (!px->http)
        return;
    mg_buf hdrs = {0};
    mg_px_extra_headers(px, &hdrs);
    if (px->up_retry_after[0] && (status == 429 || status == 503))
        mg_buf_printf(&hdrs, "retry-after: %s\r\n", px->up_retry_after);
    if (px->extra_client_headers)
        mg_buf_append_str(&hdrs, px->extra_client_headers);
    mg_px_client_respond(px, status, "application/json", mg_buf_cstr(&hdrs), body, len);
    px->rec->bytes_out = (int64_t)mg_px_client_bytes(px);
    mg_buf_free(&hdrs);
    px->http = NULL;
    px->committed = 1;
}

void mg_px_fail(mg_px *px, int status, const char *kind, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!px->rec->error)
        mg_record_set_text(&px->rec->error, msg);
    if (!px->rec->status)
        mg_record_set_text(&px->rec->status, status == 504 ? "timeout"
                                             : status == 429 ? "rate_limited"
                                                             : "error");
    if (!px->committed)
        px->rec->http_status = status;
    if (!px->http)
        return;
    if (px->committed) {
        /* Headers went out already: end the stream with the format's error
         * event so the client never mistakes a cut for a clean end. */
        mg_buf ev = {0};
        mg_px_error_event(px->ep.format, status, kind ? kind : status_kind(status), msg, &ev);
        mg_px_client_write(px, ev.data, ev.len);
        mg_buf_free(&ev);
        px->rec->bytes_out = (int64_t)mg_px_client_bytes(px);
        mg_px_client_finish(px);
        px->http = NULL;
        return;
    }
    mg_buf body = {0};
    mg_px_error_body(px->ep.format, status, kind ? kind : status_kind(status), msg, &body);
    mg_px_respond_json(px, status, body.data, body.len);
    mg_buf_free(&body);
}

/* An upstream error body in another format, re-expressed for the client:
 * its message is kept, the shape becomes the client's. */
void mg_px_respond_upstream_error(mg_px *px)
{
    if (!px->converting) {
        mg_px_respond_json(px, px->up_status, px->up_body.data, px->up_body.len);
        return;
    }
    char msg[400] = "";
    json_t *obj = json_loadb(px->up_body.data, px->up_body.len, 0, NULL);
    json_t *err = obj ? json_object_get(obj, "error") : NULL;
    json_t *m = json_is_object(err) ? json_object_get(err, "message")
                : json_is_string(err) ? err : json_object_get(obj, "message");
    snprintf(msg, sizeof msg, "provider '%s' answered %d: %s", px->cur->provider->name,
             px->up_status, json_is_string(m) ? json_string_value(m) : "(no message)");
    if (obj)
        json_decref(obj);
    mg_buf body = {0};
    mg_px_error_body(px->ep.format, px->up_status, status_kind(px->up_status), msg, &body);
    mg_px_respond_json(px, px->up_status, body.data, body.len);
    mg_buf_free(&body);
}

static int read_model_and_stream(mg_px *px)
{
    if (px->ep.kind == MG_PX_GEMINI || px->ep.kind == MG_PX_GEMINI_STREAM) {
        px->model = mg_xstrdup(px->ep.model);
        px->stream = px->ep.kind == MG_PX_GEMINI_STREAM;
        return MG_OK;
    }
    const mg_js_span *model = mg_js_get(&px->body, "model");
    px->model = mg_js_strdup(model);
    if (!px->model || !px->model[0]) {
        mg_px_fail(px, 400, NULL, "the request body needs a \"model\" string");
        return MG_ERR;
    }
    const mg_js_span *stream = mg_js_get(&px->body, "stream");
    if (stream && stream->type != MG_JS_TRUE && stream->type != MG_JS_FALSE &&
        stream->type != MG_JS_NULL) {
        mg_px_fail(px, 400, NULL, "\"stream\" must be a boolean");
        return MG_ERR;
    }
    px->stream = mg_js_is_true(stream);
    if (px->ep.format == MG_FMT_OPENAI && px->stream) {
        mg_js_object so;
        if (mg_js_object_of(mg_js_get(&px->body, "stream_options"), &so) == MG_OK)
            px->client_wants_usage = mg_js_is_true(mg_js_get(&so, "include_usage"));
    }
    return MG_OK;
}

/* A string member short enough for a session id, decoded; NULL otherwise. */
static char *session_string(const mg_js_span *v)
{
    if (!v || v->type != MG_JS_STRING || v->n > 256 + 2)
        return NULL;
    return mg_js_strdup(v);
}

static void read_session(mg_px *px)
{
    size_t n;
    const char *sid = mg_http_header(px->http, "x-session-id", &n);
    if (sid && n > 0 && n < 256) {
        mg_record_set_textn(&px->rec->session_id, sid, n);
        return;
    }
    /* The client's own conversation metadata: Anthropic metadata.user_id,
     * OpenAI user / metadata.session_id. */
    mg_js_object meta;
    char *v = NULL;
    if (mg_js_object_of(mg_js_get(&px->body, "metadata"), &meta) == MG_OK) {
        v = session_string(mg_js_get(&meta, "session_id"));
        if (!v)
            v = session_string(mg_js_get(&meta, "user_id"));
    }
    if (!v)
        v = session_string(mg_js_get(&px->body, "user"));
    if (v && strlen(v) < 256)
        mg_record_set_text(&px->rec->session_id, v);
    free(v);
}

int mg_px_stage_parse(mg_px *px)
{
    mg_js_error jerr;
    if (px->raw_body_len == 0) {
        mg_px_fail(px, 400, NULL, "the request needs a JSON body");
        return MG_ERR;
    }
    /* Duplicate top-level keys are refused: two "model" keys could route
     * one way and be billed another. */
    if (mg_js_scan(px->raw_body, px->raw_body_len, &px->body, &jerr) != MG_OK) {
        px->body.whole.type = MG_JS_NONE;
        mg_px_fail(px, 400, NULL, "invalid JSON body at line %d column %d: %s", jerr.line,
                   jerr.column, jerr.text);
        return MG_ERR;
    }
    if (px->body.whole.type != MG_JS_OBJECT) {
        px->body.whole.type = MG_JS_NONE;
        mg_px_fail(px, 400, NULL, "the request body must be a JSON object");
        return MG_ERR;
    }
    if (read_model_and_stream(px) != MG_OK)
        return MG_ERR;
    mg_record_set_text(&px->rec->model_requested, px->model);
    px->rec->stream = px->stream;
    read_session(px);
    return MG_OK;
}

static void px_free(mg_px *px)
{
    for (size_t i = 0; i < px->ntargets; i++)
        free(px->targets[i].model);
    mg_px_attempt_reset(px);
    mg_px_convert_close(px);
    free(px->model);
    mg_buf_free(&px->up_body);
    mg_buf_free(&px->send_body);
    mg_buf_free(&px->hook_body);
    for (size_t i = 0; i < px->nhook_headers; i++) {
        free(px->hook_headers[i].name);
        free(px->hook_headers[i].value);
    }
    free(px->hook_headers);
    mg_buf_free(&px->attempts_json);
    mg_buf_free(&px->out);
    mg_keys_release(px->w->gw->keys, &px->lease, 0, 0); /* when no record was made */
    mg_record_free(px->rec);
    if (px->internal)
        mg_px_internal_free(px->internal);
    mg_wgen_release(px->gen);
    atomic_fetch_sub(&px->w->stats.active, 1);
    free(px);
}

/* The request ends when the client side is closed and no upstream work is
 * left; only then is the record complete. */
void mg_px_maybe_free(mg_px *px)
{
    if (px->http || px->xfer || px->mock || px->state == MG_PX_ST_ROUTE)
        return;
    mg_px_record_finish(px);
    px_free(px);
}

static void on_client_abort(mg_http_req *req) { mg_px_client_gone(req->ud); }

void mg_px_client_gone(mg_px *px)
{
    px->http = NULL;
    px->client_gone = 1;
    if (!px->rec->status)
        mg_record_set_text(&px->rec->status, "cancelled");
    if (!px->rec->error)
        mg_record_set_text(&px->rec->error, "client disconnected");
    if (!px->rec->http_status)
        px->rec->http_status = 499;
    /* Cancel the hook or the upstream at once: nobody will read the answer. */
    mg_px_route_cancel(px);
    mg_px_attempt_reset(px);
    mg_px_maybe_free(px);
}

static void on_client_writable(mg_http_req *req) { mg_px_client_ready(req->ud); }

void mg_px_client_ready(mg_px *px)
{
    if (!px->up_paused)
        return;
    px->up_paused = 0;
    if (px->xfer)
        mg_up_resume(px->xfer);
    else if (px->mock)
        mg_mock_resume(px->mock);
}

mg_px *mg_px_create(struct mg_worker *w, mg_http_req *req, const mg_px_endpoint *ep)
{
    mg_px *px = mg_xcalloc(1, sizeof *px);
    px->w = w;
    px->gen = mg_wgen_retain(w->gen);
    px->cfg = px->gen->cfg->cfg;
    px->http = req;
    px->ep = *ep;
    px->t_start = req->t_start;
    px->raw_body = req->body.data ? mg_buf_rptr(&req->body) : NULL;
    px->raw_body_len = mg_buf_unread(&req->body);
    req->ud = px;
    req->on_abort = on_client_abort;
    req->on_writable = on_client_writable;
    atomic_fetch_add(&w->stats.requests, 1);
    atomic_fetch_add(&w->stats.active, 1);

    mg_record *r = px->rec = mg_record_new();
    mg_record_set_text(&r->endpoint, req->path);
    mg_record_set_text(&r->client_format, mg_format_name(ep->format));
    mg_record_set_text(&r->environment, px->cfg->environment);
    r->bytes_in = (int64_t)px->raw_body_len;
    r->worker = w->id;
    r->policy_generation = (int64_t)px->gen->number;
    return px;
}

/* The client's output cap, else the config's default: the worst case. */
long mg_px_max_tokens(mg_px *px)
{
    static const char *const names[] = {"max_tokens", "max_completion_tokens", "max_output_tokens"};
    long long v;
    if (px->body.whole.type != MG_JS_OBJECT)
        return px->cfg->default_max_tokens;
    for (size_t i = 0; i < MG_ARRAY_LEN(names); i++)
        if (mg_js_int(mg_js_get(&px->body, names[i]), &v) && v > 0)
            return v > LONG_MAX ? LONG_MAX : (long)v;
    mg_js_object gc;
    if (mg_js_object_of(mg_js_get(&px->body, "generationConfig"), &gc) == MG_OK &&
        mg_js_int(mg_js_get(&gc, "maxOutputTokens"), &v) && v > 0)
        return v > LONG_MAX ? LONG_MAX : (long)v;
    return px->cfg->default_max_tokens;
}

/* Stage auth + limits (src/keys): key, model allow-list, rpm, tpm,
 * concurrency and budgets, reserved at the worst case. */
static int stage_auth(mg_px *px)
{
    mg_keys *keys = px->w->gw->keys;
    if (!keys)
        return MG_OK;
    size_t n = 0;
    const char *cred = px->http && !px->internal ? mg_keys_credential(px->http, &n) : NULL;
    /* Input: a byte count over-estimates tokens (about 4 bytes each). */
    long out = mg_px_max_tokens(px), in = (long)(px->raw_body_len / 3) + 16;
    const mg_model_info *mi = mg_config_model(px->cfg, px->model);
    double est = mi ? (in * mi->price_input +
                       out * MG_MAX(mi->price_output, mi->price_reasoning)) / 1e6
                    : 0;
    mg_key_admission adm;
    int rc = px->internal ? mg_keys_admit_internal(keys, est, &adm)
                          : mg_keys_admit_ip(keys, px->http ? px->http->client_ip : NULL, cred,
                                             n, px->model, in + out, est, &adm);
    if (rc != MG_OK) {
        if (adm.retry_after > 0)
            snprintf(px->up_retry_after, sizeof px->up_retry_after, "%d", adm.retry_after);
        mg_record_set_text(&px->rec->status, adm.status == 429 ? "rate_limited" : "refused");
        mg_px_fail(px, adm.status, adm.kind, "%s", adm.message);
        return MG_ERR;
    }
    px->lease = adm.lease;
    if (adm.key_id[0]) {
        mg_record_set_text(&px->rec->key_id, adm.key_id);
        if (adm.user_id[0])
            mg_record_set_text(&px->rec->user_id, adm.user_id);
        if (adm.environment[0])
            mg_record_set_text(&px->rec->environment, adm.environment);
    }
    return MG_OK;
}

void mg_px_run(mg_px *px)
{
    if (mg_px_stage_parse(px) == MG_OK && stage_auth(px) == MG_OK &&
        mg_px_stage_route(px) == MG_OK)
        mg_px_stage_upstream(px);
    /* Whether it finished inline or waits on a hook or an upstream. */
    mg_px_maybe_free(px);
}

void mg_px_handle(struct mg_worker *w, mg_http_req *req, const mg_px_endpoint *ep)
{
    mg_px_run(mg_px_create(w, req, ep));
}
