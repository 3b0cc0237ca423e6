/* admin.c — admin API routes. Every handler answers JSON; every route is
 * behind the guard (guard.c). Secrets (provider keys, the admin token)
 * never appear in an answer: providers say only whether a key is set. */
#include <string.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../runtime/gateway.h"
#include "admin.h"

int mg_admin_handles(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
           strcmp(path, "/metrics") == 0;
}

static void respond(mg_http_req *req, int status, mg_buf *body)
{
    mg_http_respond(req, status, "application/json", "Cache-Control: no-store\r\n",
                    body->data ? body->data : "", body->len);
    mg_buf_free(body);
}

static void respond_error(mg_http_req *req, int status, const char *message)
{
    mg_buf b = {0};
    mg_buf_append_str(&b, "{\"error\":{\"message\":");
    mg_buf_append_json_str(&b, message, strlen(message));
    mg_buf_printf(&b, ",\"code\":%d}}", status);
    respond(req, status, &b);
}

static void sum_stats(mg_gateway *gw, uint64_t *req, uint64_t *err, uint64_t *active,
                      uint64_t *pauses)
{
    *req = *err = *active = *pauses = 0;
    for (int i = 0; i < gw->nworkers; i++) {
        *req += atomic_load(&gw->workers[i].stats.requests);
        *err += atomic_load(&gw->workers[i].stats.errors);
        *active += atomic_load(&gw->workers[i].stats.active);
        *pauses += atomic_load(&gw->workers[i].stats.upstream_pauses);
    }
}

static void status_json(mg_worker *w, mg_buf *b)
{
    mg_gateway *gw = w->gw;
    uint64_t req, err, active, pauses;
    sum_stats(gw, &req, &err, &active, &pauses);
    mg_store_stats st = {0};
    if (gw->store)
        mg_store_get_stats(gw->store, &st);
    mg_buf_printf(b,
                  "{\"version\":\"%s\",\"uptime_s\":%.1f,\"workers\":%d,\"generation\":%llu,"
                  "\"requests\":%llu,\"errors\":%llu,\"active\":%llu,\"upstream_pauses\":%llu,"
                  "\"store\":{\"submitted\":%llu,\"written\":%llu,\"dropped\":%llu,"
                  "\"queue_depth\":%zu,\"db_bytes\":%lld}}",
                  MG_VERSION, mg_now_mono() - gw->started_mono, gw->nworkers,
                  (unsigned long long)w->gen->number, (unsigned long long)req,
                  (unsigned long long)err, (unsigned long long)active,
                  (unsigned long long)pauses, (unsigned long long)st.submitted,
                  (unsigned long long)st.written, (unsigned long long)st.dropped,
                  st.queue_depth, (long long)st.db_bytes);
}

static void providers_json(mg_worker *w, mg_buf *b)
{
    const mg_config *cfg = w->gen->cfg->cfg;
    mg_buf_append_str(b, "{\"providers\":[");
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const mg_provider_cfg *p = &cfg->providers[i];
        if (i)
            mg_buf_append_str(b, ",");
        mg_buf_append_str(b, "{\"name\":");
        mg_buf_append_json_str(b, p->name, strlen(p->name));
        mg_buf_printf(b, ",\"format\":\"%s\",\"base_url\":", mg_format_name(p->format));
        if (p->base_url)
            mg_buf_append_json_str(b, p->base_url, strlen(p->base_url));
        else
            mg_buf_append_str(b, "null");
        mg_buf_printf(b, ",\"has_key\":%s,\"models\":[", p->api_key ? "true" : "false");
        for (size_t m = 0; m < p->nmodels; m++) {
            if (m)
                mg_buf_append_str(b, ",");
            mg_buf_append_json_str(b, p->models[m], strlen(p->models[m]));
        }
        mg_buf_append_str(b, "]}");
    }
    mg_buf_append_str(b, "]}");
}

static void metrics_text(mg_worker *w, mg_http_req *req)
{
    mg_gateway *gw = w->gw;
    uint64_t rq, err, active, pauses;
    sum_stats(gw, &rq, &err, &active, &pauses);
    mg_store_stats st = {0};
    if (gw->store)
        mg_store_get_stats(gw->store, &st);
    mg_buf b = {0};
    mg_buf_printf(&b,
                  "# HELP moongate_requests_total Proxied requests received.\n"
                  "# TYPE moongate_requests_total counter\nmoongate_requests_total %llu\n"
                  "# HELP moongate_errors_total Proxied requests that failed.\n"
                  "# TYPE moongate_errors_total counter\nmoongate_errors_total %llu\n"
                  "# HELP moongate_active_requests Requests in flight.\n"
                  "# TYPE moongate_active_requests gauge\nmoongate_active_requests %llu\n"
                  "# HELP moongate_upstream_pauses_total Upstream pauses for slow clients.\n"
                  "# TYPE moongate_upstream_pauses_total counter\n"
                  "moongate_upstream_pauses_total %llu\n"
                  "# HELP moongate_records_dropped_total Records dropped on a full queue.\n"
                  "# TYPE moongate_records_dropped_total counter\n"
                  "moongate_records_dropped_total %llu\n"
                  "# HELP moongate_store_queue_depth Records waiting for the writer.\n"
                  "# TYPE moongate_store_queue_depth gauge\nmoongate_store_queue_depth %zu\n"
                  "# HELP moongate_policy_generation Current policy generation.\n"
                  "# TYPE moongate_policy_generation gauge\nmoongate_policy_generation %llu\n",
                  (unsigned long long)rq, (unsigned long long)err, (unsigned long long)active,
                  (unsigned long long)pauses, (unsigned long long)st.dropped, st.queue_depth,
                  (unsigned long long)w->gen->number);
    mg_http_respond(req, 200, "text/plain; version=0.0.4", NULL, b.data, b.len);
    mg_buf_free(&b);
}

static int route_is(const mg_http_req *req, const char *method, const char *path)
{
    return strcmp(req->method, method) == 0 && strcmp(req->path, path) == 0;
}

void mg_admin_handle(mg_worker *w, mg_http_req *req)
{
    if (strcmp(req->path, "/metrics") == 0) {
        metrics_text(w, req);
        return;
    }
    int status;
    const char *why;
    if (mg_admin_guard(req, w->gw->admin_token, &status, &why) != MG_OK) {
        respond_error(req, status, why);
        return;
    }
    mg_buf b = {0};
    if (route_is(req, "GET", "/api/status")) {
        status_json(w, &b);
        respond(req, 200, &b);
    } else if (route_is(req, "GET", "/api/policies")) {
        mg_gateway_reload_status_json(w->gw, &b);
        respond(req, 200, &b);
    } else if (route_is(req, "POST", "/api/policies/reload")) {
        mg_gateway_request_reload(w->gw);
        mg_buf_printf(&b, "{\"reload\":\"requested\",\"current_generation\":%llu}",
                      (unsigned long long)w->gen->number);
        respond(req, 202, &b);
    } else if (route_is(req, "GET", "/api/providers")) {
        providers_json(w, &b);
        respond(req, 200, &b);
    } else {
        respond_error(req, 404, "no such admin endpoint");
    }
}
