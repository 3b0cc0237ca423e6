/* router.c — the one HTTP handler of every listener: proxy paths go to the
 * pipeline, /api/ to the admin API (behind its guard), /healthz, /metrics
 * and /dashboard/ to their parts. Unknown paths get a 404 in OpenAI's error
 * shape, which every SDK reads. */
#include <string.h>

#include "../admin/admin.h"
#include "../proxy/proxy.h"
#include "gateway.h"

static void not_found(mg_http_req *req)
{
    static const char body[] =
        "{\"error\":{\"message\":\"no such endpoint; moongate serves /v1/chat/completions, "
        "/v1/messages, /v1/responses, /v1beta/models/{model}:generateContent, /v1/models, "
        "/api/, /dashboard/\",\"type\":\"not_found_error\",\"param\":null,\"code\":\"404\"}}";
    mg_http_respond(req, 404, "application/json", NULL, body, sizeof body - 1);
}

static void method_not_allowed(mg_http_req *req, const char *allow)
{
    char hdr[96];
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
    static const char body[] =
        "{\"error\":{\"message\":\"method not allowed on this path\","
        "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"405\"}}";
    mg_http_respond(req, 405, "application/json", hdr, body, sizeof body - 1);
}

static int is_proxy_path(const char *path)
{
    return strncmp(path, "/v1/", 4) == 0 || strncmp(path, "/v1beta/", 8) == 0;
}

void mg_router_handle(mg_http_req *req, void *worker)
{
    mg_worker *w = worker;
    const char *path = req->path;
    if (is_proxy_path(path)) {
        mg_px_endpoint ep;
        mg_px_endpoint_parse(req->method, path, &ep);
        if (ep.kind == MG_PX_MODELS)
            mg_px_models(w, req);
        else if (ep.kind != MG_PX_NONE)
            mg_px_handle(w, req, &ep);
        else {
            mg_px_endpoint_parse("POST", path, &ep);
            if (ep.kind != MG_PX_NONE)
                method_not_allowed(req, "POST");
            else
                not_found(req);
        }
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        mg_http_respond(req, 200, "application/json", NULL, ok, sizeof ok - 1);
        return;
    }
    if (mg_admin_handles(path)) {
        mg_admin_handle(w, req);
        return;
    }
    not_found(req);
}
