/* attempt.c — the upstream stage: one attempt per target, in route order.
 * An attempt that fails before anything reached the client moves on to the
 * next target invisibly; the response is committed only when the first
 * upstream body bytes of a successful stream arrive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/log.h"
#include "px-t.h"

#define MG_PX_MAX_UPSTREAM_BODY (64u << 20)

static void on_up_response(void *ud, int status, const mg_header *h, size_t n);
static int on_up_data(void *ud, const char *data, size_t len);
static void on_up_done(void *ud, int result, const char *errmsg);
static const mg_up_callbacks up_callbacks = {on_up_response, on_up_data, on_up_done};

void mg_px_attempt_reset(mg_px *px)
{
    if (px->breaker_pending) {
        mg_breaker_release(px->w->gw->breakers, px->cur->provider);
        px->breaker_pending = 0;
    }
    if (px->xfer) {
        mg_up_cancel(px->xfer);
        px->xfer = NULL;
    }
    if (px->mock) {
        mg_mock_cancel(px->mock);
        px->mock = NULL;
    }
    free(px->url);
    px->url = NULL;
    for (size_t i = 0; i < px->nup_headers; i++)
        free(px->up_headers[i]);
    free(px->up_headers);
    px->up_headers = NULL;
    px->nup_headers = 0;
    if (px->sse_ready) {
        mg_sse_free(&px->sse);
        px->sse_ready = 0;
    }
    px->up_paused = 0;
}

static void add_header(mg_px *px, const char *name, const char *value, size_t vlen)
{
    size_t nlen = strlen(name);
    char *line = mg_xmalloc(nlen + 2 + vlen + 1);
    memcpy(line, name, nlen);
    memcpy(line + nlen, ": ", 2);
    memcpy(line + nlen + 2, value, vlen);
    line[nlen + 2 + vlen] = '\0';
    px->up_headers = mg_xrealloc(px->up_headers, (px->nup_headers + 1) * sizeof(char *));
    px->up_headers[px->nup_headers++] = line;
}

/* Client headers that must not travel upstream: hop-by-hop, framing that
 * curl sets itself, and every form of client credential. */
static int header_is_private(const mg_header *h)
{
#define DROP(lit) {lit, sizeof lit - 1}
    /* With their lengths: every client header is checked against all. */
    static const struct {
        const char *name;
        size_t len;
    } drop[] = {
        DROP("host"), DROP("connection"), DROP("keep-alive"), DROP("proxy-connection"),
        DROP("proxy-authorization"), DROP("te"), DROP("trailer"), DROP("transfer-encoding"),
        DROP("upgrade"), DROP("content-length"), DROP("expect"), DROP("accept-encoding"),
        DROP("authorization"), DROP("x-api-key"), DROP("x-goog-api-key"), DROP("api-key"),
        DROP("cookie"), DROP("content-type"), DROP("anthropic-version")};
#undef DROP
    for (size_t i = 0; i < MG_ARRAY_LEN(drop); i++)
        if (h->name_len == drop[i].len && mg_strncaseeq(h->name, h->name_len, drop[i].name))
            return 1;
    return h->name_len >= 11 && mg_strncaseeq(h->name, 11, "x-moongate-");
}

/* The client's own credential, for providers configured without a key. */
static const char *client_key(mg_px *px, size_t *len)
{
    const char *v = mg_http_header(px->http, "x-api-key", len);
    if (!v)
        v = mg_http_header(px->http, "x-goog-api-key", len);
    if (!v) {
        v = mg_http_header(px->http, "authorization", len);
        if (v && *len > 7 && mg_strncaseeq(v, 7, "bearer ")) {
            v += 7;
            *len -= 7;
        }
    }
    return v;
}

static void build_headers(mg_px *px, const mg_provider_cfg *p)
{
    add_header(px, "Content-Type", "application/json", 16);
    const char *key = p->api_key;
    size_t klen = key ? strlen(key) : 0;
    /* Bring your own key: the client's credential goes to a provider that
     * has none configured — unless it was one of our virtual keys. */
    if (!key && px->http && !px->rec->key_id)
        key = client_key(px, &klen);
    if (key) {
        if (px->up_format == MG_FMT_ANTHROPIC) {
            add_header(px, "x-api-key", key, klen);
        } else if (px->up_format == MG_FMT_GEMINI) {
            add_header(px, "x-goog-api-key", key, klen);
        } else {
            char bearer[1024];
            int n = snprintf(bearer, sizeof bearer, "Bearer %.*s", (int)klen, key);
            if (n > 0 && (size_t)n < sizeof bearer)
                add_header(px, "Authorization", bearer, (size_t)n);
        }
    }
    if (px->up_format == MG_FMT_ANTHROPIC) {
        size_t vlen = 0;
        const char *ver = px->http ? mg_http_header(px->http, "anthropic-version", &vlen) : NULL;
        if (!ver) {
            ver = "2023-06-01";
            vlen = 10;
        }
        add_header(px, "anthropic-version", ver, vlen);
    }
    for (size_t i = 0; px->http && i < px->http->nheaders; i++) {
        const mg_header *h = &px->http->headers[i];
        if (!header_is_private(h))
            add_header(px, h->name, h->value, h->value_len);
    }
    for (size_t i = 0; i < p->nheaders; i++)
        add_header(px, p->headers[i].name, p->headers[i].value, strlen(p->headers[i].value));
}

/* Headers before_upstream set: replace same-named ones, NULL removes. */
static void apply_hook_headers(mg_px *px)
{
    for (size_t h = 0; h < px->nhook_headers; h++) {
        const mg_kv *kv = &px->hook_headers[h];
        size_t nlen = strlen(kv->name);
        if (strpbrk(kv->name, "\r\n:") || (kv->value && strpbrk(kv->value, "\r\n")))
            continue; /* no header injection through a policy */
        for (size_t i = 0; i < px->nup_headers;) {
            if (strncasecmp(px->up_headers[i], kv->name, nlen) == 0 && px->up_headers[i][nlen] == ':') {
                free(px->up_headers[i]);
                px->up_headers[i] = px->up_headers[--px->nup_headers];
            } else {
                i++;
            }
        }
        if (kv->value)
            add_header(px, kv->name, kv->value, strlen(kv->value));
    }
}

static void build_url(mg_px *px, const mg_provider_cfg *p, const char *model)
{
    mg_buf url = {0};
    const char *base = p->base_url ? p->base_url : "";
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    mg_buf_append(&url, base, blen);
    if (px->up_format == MG_FMT_GEMINI) {
        mg_buf_printf(&url, "/v1beta/models/%s:%s", model,
                      px->stream ? "streamGenerateContent?alt=sse" : "generateContent");
    } else if (px->converting) {
        mg_buf_append_str(&url, px->up_format == MG_FMT_ANTHROPIC   ? "/v1/messages"
                                : px->up_format == MG_FMT_RESPONSES ? "/responses"
                                                                    : "/chat/completions");
    } else {
        mg_buf_append_str(&url, mg_px_kind_upstream_path(px->ep.kind));
    }
    px->url = mg_xstrdup(mg_buf_cstr(&url));
    mg_buf_free(&url);
}

#define MG_PX_LIT(e, at_, cut_, lit) ((e)->at = (at_), (e)->cut = (cut_), (e)->text = (lit), (e)->len = sizeof(lit) - 1)

/* Where `"stream_options":{"include_usage":true}` goes: a new member before
 * the closing brace, or into (or instead of) the client's own
 * stream_options. The client's other bytes stay as they were. */
static void usage_edit(mg_px *px, mg_js_edit *e)
{
    const mg_js_span *so = mg_js_get(&px->body, "stream_options");
    if (!so) {
        const mg_js_span *w = &px->body.whole;
        size_t close = (size_t)(w->p - px->raw_body) + w->n - 1;
        if (px->body.total == 0)
            MG_PX_LIT(e, close, 0, "\"stream_options\":{\"include_usage\":true}");
        else
            MG_PX_LIT(e, close, 0, ",\"stream_options\":{\"include_usage\":true}");
        return;
    }
    size_t at = (size_t)(so->p - px->raw_body);
    mg_js_object o;
    if (mg_js_object_of(so, &o) != MG_OK || o.total == 0) { /* null, {} or not an object */
        MG_PX_LIT(e, at, so->n, "{\"include_usage\":true}");
        return;
    }
    const mg_js_span *iu = mg_js_get(&o, "include_usage");
    if (iu)
        MG_PX_LIT(e, (size_t)(iu->p - px->raw_body), iu->n, "true");
    else
        MG_PX_LIT(e, at + 1, 0, "\"include_usage\":true,");
}

/* The body goes upstream byte for byte unless a field must change: the
 * model (routing picked another name) or OpenAI stream usage (we always
 * ask for it, and strip that chunk if the client did not). Changes are
 * spliced into the client's bytes, never a re-serialisation. */
static void build_body(mg_px *px, const char *model, const char **body, size_t *len)
{
    mg_js_edit edits[2];
    size_t n = 0;
    mg_buf name = {0};
    const mg_js_span *m = mg_js_get(&px->body, "model");
    if (px->ep.format != MG_FMT_GEMINI && m && strcmp(model, px->model) != 0) {
        mg_buf_append_json_str(&name, model, strlen(model));
        edits[n++] = (mg_js_edit){(size_t)(m->p - px->raw_body), m->n, name.data, name.len};
    }
    px->strip_usage_chunk = 0;
    if (px->up_format == MG_FMT_OPENAI && px->stream && px->ep.kind == MG_PX_CHAT &&
        !px->client_wants_usage) {
        usage_edit(px, &edits[n++]);
        px->strip_usage_chunk = 1;
    }
    if (n == 0) {
        *body = px->raw_body;
        *len = px->raw_body_len;
        return;
    }
    if (n == 2 && edits[1].at < edits[0].at) {
        mg_js_edit t = edits[0];
        edits[0] = edits[1];
        edits[1] = t;
    }
    mg_buf_reset(&px->send_body);
    mg_js_apply(px->raw_body, px->raw_body_len, edits, n, &px->send_body);
    mg_buf_free(&name);
    *body = px->send_body.data;
    *len = px->send_body.len;
}

static int convertible(int kind)
{
    return kind == MG_PX_CHAT || kind == MG_PX_MESSAGES || kind == MG_PX_RESPONSES ||
           kind == MG_PX_GEMINI || kind == MG_PX_GEMINI_STREAM;
}

/* Client body → provider body in send_body (convert stage). */
static int prepare_converted_body(mg_px *px, const char *model)
{
    const mg_provider_cfg *p = px->cur->provider;
    if (!convertible(px->ep.kind)) {
        snprintf(px->last_fail_msg, sizeof px->last_fail_msg,
                 "%s needs a provider that speaks %s; '%s' speaks %s", px->http ? px->http->path : "",
                 mg_format_name(px->ep.format), p->name, mg_format_name(px->up_format));
        px->last_fail_status = 400;
        px->last_fail_kind = "invalid_request_error";
        px->last_fail_passthrough = 0;
        return MG_ERR;
    }
    char err[512];
    if (mg_px_convert_request(px, model, &px->send_body, err, sizeof err) != MG_OK) {
        snprintf(px->last_fail_msg, sizeof px->last_fail_msg,
                 "cannot convert this %s request for provider '%s' (%s): %s",
                 mg_format_name(px->ep.format), p->name, mg_format_name(px->up_format), err);
        px->last_fail_status = 400;
        px->last_fail_kind = "invalid_request_error";
        px->last_fail_passthrough = 0;
        return MG_ERR;
    }
    return MG_OK;
}

static int start_mock(mg_px *px, const mg_provider_cfg *p, const char *body, size_t len)
{
    char path[512];
    if (px->up_format == MG_FMT_GEMINI)
        snprintf(path, sizeof path, "/v1beta/models/%s:%s", px->cur->model,
                 px->stream ? "streamGenerateContent" : "generateContent");
    else
        snprintf(path, sizeof path, "%s%s", px->up_format == MG_FMT_ANTHROPIC ? "" : "/v1",
                 mg_px_kind_upstream_path(px->ep.kind));
    mg_mock_req mreq = {
        .method = "POST",
        .path = path,
        .query = px->stream && px->up_format == MG_FMT_GEMINI ? "alt=sse" : "",
        .headers = px->http ? px->http->headers : NULL,
        .nheaders = px->http ? px->http->nheaders : 0,
        .body = body,
        .body_len = len,
    };
    mg_mock_opts opts = {.speed = p->mock_speed};
    px->mock = mg_mock_start(px->w->loop, &mreq, &opts, &up_callbacks, px);
    return px->mock ? MG_OK : MG_ERR;
}

static int start_attempt(mg_px *px, const mg_px_target *t)
{
    const mg_provider_cfg *p = t->provider;
    mg_buf_reset(&px->up_body);
    px->cur = t;
    px->up_status = 0;
    px->up_ctype[0] = px->up_retry_after[0] = '\0';
    px->up_format = p->format == MG_FMT_MOCK ? px->ep.format : p->format;
    px->attempts++;
    px->t_up_start = mg_now_mono();
    if (!px->t_first_attempt)
        px->t_first_attempt = px->t_up_start;
    px->t_first_up_byte = px->t_last_up_byte = 0;
    memset(&px->usage, 0, sizeof px->usage);
    px->content_bytes = 0;
    px->converting = px->up_format != px->ep.format;
    const char *body;
    size_t len;
    if (px->converting) {
        if (prepare_converted_body(px, t->model) != MG_OK)
            return MG_ERR;
        body = px->send_body.data;
        len = px->send_body.len;
    } else {
        build_body(px, t->model, &body, &len);
    }
    mg_px_hook_before_upstream(px, &body, &len);
    if (p->format == MG_FMT_MOCK)
        return start_mock(px, p, body, len);
    build_url(px, p, t->model);
    build_headers(px, p);
    apply_hook_headers(px);
    mg_up_request ureq = {
        .method = "POST", .url = px->url,
        .headers = (const char *const *)px->up_headers, .nheaders = px->nup_headers,
        .body = body, .body_len = len,
        .t_connect = p->t_connect, .t_first_byte = p->t_first_byte,
        .t_idle = p->t_idle, .t_total = p->t_total,
    };
    char err[MG_ERRLEN] = "";
    px->xfer = mg_up_start(px->w->up, &ureq, &up_callbacks, px, err);
    if (!px->xfer) {
        snprintf(px->last_fail_msg, sizeof px->last_fail_msg, "provider '%s': %s", p->name, err);
        px->last_fail_status = 502;
        px->last_fail_kind = "api_error";
        return MG_ERR;
    }
    return MG_OK;
}

static void answer_last_failure(mg_px *px)
{
    if (px->last_fail_passthrough && px->up_body.len) {
        mg_record_set_text(&px->rec->status, px->up_status == 429 ? "rate_limited" : "error");
        mg_record_set_textn(&px->rec->error, px->up_body.data, MG_MIN(px->up_body.len, 300));
        mg_px_respond_upstream_error(px);
        return;
    }
    if (!px->last_fail_status) {
        px->last_fail_status = 502;
        snprintf(px->last_fail_msg, sizeof px->last_fail_msg, "no upstream target was available");
    }
    mg_px_fail(px, px->last_fail_status, px->last_fail_kind, "%s", px->last_fail_msg);
}

void mg_px_stage_upstream(mg_px *px)
{
    px->state = MG_PX_ST_UPSTREAM;
    while (px->next_target < px->ntargets) {
        const mg_px_target *t = &px->targets[px->next_target++];
        mg_px_attempt_reset(px);
        if (!mg_breaker_allow(px->w->gw->breakers, t->provider, mg_now_mono())) {
            px->cur = t;
            px->t_up_start = mg_now_mono();
            px->last_fail_status = 503;
            px->last_fail_kind = "overloaded_error";
            px->last_fail_passthrough = 0;
            int off = mg_breaker_is_disabled(px->w->gw->breakers, t->provider->name);
            snprintf(px->last_fail_msg, sizeof px->last_fail_msg,
                     off ? "provider '%s' is disabled by an operator"
                         : "provider '%s' is failing (circuit breaker open); retry later",
                     t->provider->name);
            mg_px_note_attempt(px, 0, off ? "disabled" : "breaker_open");
            continue;
        }
        px->breaker_pending = 1;
        if (start_attempt(px, t) == MG_OK)
            return;
        mg_breaker_release(px->w->gw->breakers, t->provider);
        px->breaker_pending = 0;
        mg_px_note_attempt(px, 0, px->last_fail_msg);
    }
    px->state = MG_PX_ST_DONE;
    answer_last_failure(px);
}

static void on_up_response(void *ud, int status, const mg_header *h, size_t n)
{
    mg_px *px = ud;
    px->up_status = status;
    for (size_t i = 0; i < n; i++) {
        if (mg_strncaseeq(h[i].name, h[i].name_len, "content-type"))
            snprintf(px->up_ctype, sizeof px->up_ctype, "%.*s", (int)h[i].value_len, h[i].value);
        else if (mg_strncaseeq(h[i].name, h[i].name_len, "retry-after"))
            snprintf(px->up_retry_after, sizeof px->up_retry_after, "%.*s",
                     (int)h[i].value_len, h[i].value);
    }
}

static int is_event_stream(const mg_px *px)
{
    return strncmp(px->up_ctype, "text/event-stream", 17) == 0;
}

static void commit_stream(mg_px *px)
{
    char err[256];
    if (px->converting && mg_px_convert_stream_open(px, err, sizeof err) != MG_OK)
        px->converting = 0; /* cannot happen with the built-in formats; pass through */
    mg_buf hdrs = {0};
    mg_px_extra_headers(px, &hdrs);
    mg_buf_append_str(&hdrs, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    mg_px_client_begin(px, px->up_status, "text/event-stream", mg_buf_cstr(&hdrs));
    mg_buf_free(&hdrs);
    px->committed = 1;
    px->rec->http_status = px->up_status;
}

static int on_up_data(void *ud, const char *data, size_t len)
{
    mg_px *px = ud;
    double now = mg_now_mono();
    if (!px->t_first_up_byte)
        px->t_first_up_byte = now;
    px->t_last_up_byte = now;
    if (px->stream && px->up_status >= 200 && px->up_status < 300 && is_event_stream(px)) {
        if (!px->committed && px->http)
            commit_stream(px);
        int pause = 0;
        mg_px_stream_data(px, data, len, &pause);
        return pause ? MG_AGAIN : MG_OK;
    }
    if (px->up_body.len + len > MG_PX_MAX_UPSTREAM_BODY)
        return MG_OK; /* on_done sees the truncation through the length check */
    mg_buf_append(&px->up_body, data, len);
    return MG_OK;
}

static void on_up_done(void *ud, int result, const char *errmsg)
{
    mg_px *px = ud;
    mg_up_timings tm = {0};
    if (px->xfer) {
        mg_up_get_timings(px->xfer, &tm);
        px->xfer = NULL; /* the upstream frees it after this returns */
    } else if (px->mock) {
        tm.pauses = mg_mock_pauses(px->mock);
        tm.ttfb_ms = px->t_first_up_byte ? (px->t_first_up_byte - px->t_up_start) * 1e3 : 0;
        px->mock = NULL;
    }
    px->pauses += tm.pauses;
    px->rec->connect_ms = tm.connect_ms;
    px->rec->ttfb_ms = tm.ttfb_ms;
    mg_px_attempt_done(px, result, errmsg);
    mg_px_maybe_free(px);
}
