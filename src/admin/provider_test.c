/* provider_test.c — POST /api/providers/{name}/test: one minimal request
 * (a one-token "ping" in the provider's own format) straight to the
 * provider, answered with its latency or its error. The admin request
 * waits on the loop; a client that leaves cancels the probe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mock/mock.h"
#include "../runtime/gateway.h"
#include "admin.h"

typedef struct probe {
    mg_http_req *req;
    mg_up_xfer *xfer;
    mg_mock_xfer *mock;
    double t0;
    int status;
    char *url;
    char *headers[4];
} probe;

static void probe_free(probe *p)
{
    free(p->url);
    for (int i = 0; i < 4; i++)
        free(p->headers[i]);
    free(p);
}

static void on_response(void *ud, int status, const mg_header *h, size_t n)
{
    MG_UNUSED(h);
    MG_UNUSED(n);
    ((probe *)ud)->status = status;
}

static int on_data(void *ud, const char *d, size_t n)
{
    MG_UNUSED(ud);
    MG_UNUSED(d);
    MG_UNUSED(n);
    return MG_OK;
}

static void on_done(void *ud, int result, const char *errmsg)
{
    probe *p = ud;
    double ms = (mg_now_mono() - p->t0) * 1e3;
    mg_buf b = {0};
    int ok = result == MG_UP_OK && p->status >= 200 && p->status < 300;
    mg_buf_printf(&b, "{\"ok\":%s,\"latency_ms\":%.1f,\"status\":%d,\"error\":", ok ? "true" : "false",
                  ms, p->status);
    if (ok) {
        mg_buf_append_str(&b, "null}");
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "%s%s%s", result == MG_UP_OK ? "HTTP error" : mg_up_result_name(result),
                 errmsg && *errmsg ? ": " : "", errmsg ? errmsg : "");
        mg_buf_append_json_str(&b, msg, strlen(msg));
        mg_buf_append_str(&b, "}");
    }
    mg_http_respond(p->req, 200, "application/json", NULL, b.data, b.len);
    mg_buf_free(&b);
    p->xfer = NULL;
    p->mock = NULL;
    probe_free(p);
}

static void on_abort(mg_http_req *req)
{
    probe *p = req->ud;
    if (p->xfer)
        mg_up_cancel(p->xfer);
    if (p->mock)
        mg_mock_cancel(p->mock);
    probe_free(p);
}

static const mg_up_callbacks probe_cb = {on_response, on_data, on_done};

static char *header_line(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *s = mg_xmalloc(n);
    snprintf(s, n, "%s: %s", name, value);
    return s;
}

/* The body, path and auth header of a one-token request per format. */
static void build(const mg_provider_cfg *pc, int fmt, probe *p, mg_buf *body, mg_buf *path)
{
    const char *model = pc->nmodels ? pc->models[0] : "unknown";
    mg_buf m = {0};
    mg_buf_append_json_str(&m, model, strlen(model));
    const char *key = pc->api_key;
    if (fmt == MG_FMT_ANTHROPIC) {
        mg_buf_printf(path, "/v1/messages");
        mg_buf_printf(body, "{\"model\":%s,\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}", mg_buf_cstr(&m));
        if (key)
            p->headers[1] = header_line("x-api-key", key);
        p->headers[2] = header_line("anthropic-version", "2023-06-01");
    } else if (fmt == MG_FMT_GEMINI) {
        mg_buf_printf(path, "/v1beta/models/%s:generateContent", model);
        mg_buf_append_str(body, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"ping\"}]}],\"generationConfig\":{\"maxOutputTokens\":1}}");
        if (key)
            p->headers[1] = header_line("x-goog-api-key", key);
    } else if (fmt == MG_FMT_RESPONSES) {
        mg_buf_printf(path, "/responses");
        mg_buf_printf(body, "{\"model\":%s,\"max_output_tokens\":16,\"input\":\"ping\"}", mg_buf_cstr(&m));
    } else {
        mg_buf_printf(path, "/chat/completions");
        mg_buf_printf(body, "{\"model\":%s,\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}", mg_buf_cstr(&m));
    }
    if (key && (fmt == MG_FMT_OPENAI || fmt == MG_FMT_RESPONSES)) {
        char bearer[1024];
        snprintf(bearer, sizeof bearer, "Bearer %s", key);
        p->headers[1] = header_line("Authorization", bearer);
    }
    p->headers[0] = header_line("Content-Type", "application/json");
    mg_buf_free(&m);
}

void mg_admin_provider_test(mg_worker *w, mg_http_req *req, const mg_provider_cfg *pc)
{
    probe *p = mg_xcalloc(1, sizeof *p);
    p->req = req;
    p->t0 = mg_now_mono();
    req->ud = p;
    req->on_abort = on_abort;
    int fmt = pc->format == MG_FMT_MOCK ? MG_FMT_OPENAI : pc->format;
    mg_buf body = {0}, path = {0};
    build(pc, fmt, p, &body, &path);
    char err[MG_ERRLEN] = "";
    if (pc->format == MG_FMT_MOCK) {
        char full[512];
        snprintf(full, sizeof full, "/v1%s", mg_buf_cstr(&path));
        mg_mock_req mr = {.method = "POST", .path = full, .query = "", .body = body.data, .body_len = body.len};
        mg_mock_opts mo = {.speed = pc->mock_speed};
        p->mock = mg_mock_start(w->loop, &mr, &mo, &probe_cb, p);
    } else {
        mg_buf url = {0};
        mg_buf_printf(&url, "%s%s", pc->base_url, mg_buf_cstr(&path));
        p->url = mg_xstrdup(mg_buf_cstr(&url));
        mg_buf_free(&url);
        size_t nh = 0;
        while (nh < 4 && p->headers[nh])
            nh++;
        mg_up_request ur = {.method = "POST", .url = p->url, .headers = (const char *const *)p->headers,
                            .nheaders = nh, .body = body.data, .body_len = body.len,
                            .t_connect = pc->t_connect, .t_first_byte = MG_MIN(pc->t_first_byte, 30),
                            .t_idle = pc->t_idle, .t_total = 60};
        p->xfer = mg_up_start(w->up, &ur, &probe_cb, p, err);
    }
    mg_buf_free(&body);
    mg_buf_free(&path);
    if (!p->xfer && !p->mock) {
        req->on_abort = NULL;
        on_done(p, MG_UP_ERR_INTERNAL, err[0] ? err : "could not start the probe");
    }
}
