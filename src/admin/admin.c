/* admin.c — admin API routes. Every handler answers JSON; every route is
 * behind the guard (guard.c). Secrets (provider keys, the admin token)
 * never appear in an answer: providers say only whether a key is set. */
#include <malloc.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../runtime/gateway.h"
#include "../alerts/alerts.h"
#include "../analytics/analytics.h"
#include "../live/live.h"
#include "../crosstalk/crosstalk.h"
#include "../live/ws.h"
#include "../proxy/breaker.h"
#include "../keys/keys.h"
#include "admin.h"
#include "sessions.h"
#include "static.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

int mg_admin_handles(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
           strcmp(path, "/metrics") == 0 || strncmp(path, "/dashboard", 10) == 0 ||
           strcmp(path, "/ws/dashboard") == 0 || strcmp(path, "/") == 0;
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

/* Resident memory from /proc (procfs: no disk I/O) and CPU from rusage. */
static void process_usage(long *rss_kib, double *cpu_s)
{
    *rss_kib = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    long pages_total = 0, pages_rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages_total, &pages_rss) == 2)
            *rss_kib = pages_rss * (sysconf(_SC_PAGESIZE) / 1024);
        fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
             (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* GET /api/system/health: what an operator checks first. */
static void health_json(mg_worker *w, mg_buf *b)
{
    mg_gateway *gw = w->gw;
    long rss;
    double cpu;
    process_usage(&rss, &cpu);
    mg_store_stats st = {0};
    if (gw->store)
        mg_store_get_stats(gw->store, &st);
    uint64_t rq, err, active, pauses;
    sum_stats(gw, &rq, &err, &active, &pauses);
    mg_buf_printf(b,
                  "{\"uptime_s\":%.1f,\"rss_kib\":%ld,\"cpu_s\":%.2f,\"workers\":%d,"
                  "\"active_requests\":%llu,\"db_bytes\":%lld,\"queue_depth\":%zu,"
                  "\"records_written\":%llu,\"records_dropped\":%llu,\"write_errors\":%llu,"
                  "\"live_subscribers\":%llu,\"generation\":%llu}",
                  mg_now_mono() - gw->started_mono, rss, cpu, gw->nworkers,
                  (unsigned long long)active, (long long)st.db_bytes, st.queue_depth,
                  (unsigned long long)st.written, (unsigned long long)st.dropped,
                  (unsigned long long)st.write_errors,
                  (unsigned long long)mg_live_subscriber_count(gw->live),
                  (unsigned long long)w->gen->number);
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
        int state = mg_breaker_state(w->gw->breakers, p->name, mg_now_mono());
        mg_buf_printf(b, ",\"has_key\":%s,\"breaker\":\"%s\",\"disabled\":%s,\"models\":[",
                      p->api_key ? "true" : "false", mg_breaker_state_name(state),
                      mg_breaker_is_disabled(w->gw->breakers, p->name) ? "true" : "false");
        for (size_t m = 0; m < p->nmodels; m++) {
            if (m)
                mg_buf_append_str(b, ",");
            mg_buf_append_json_str(b, p->models[m], strlen(p->models[m]));
        }
        mg_buf_append_str(b, "]}");
    }
    mg_buf_append_str(b, "]}");
}

/* Where the process's memory is: malloc's bytes in use (all arenas) and
 * SQLite's own share of them, beside the RSS the kernel reports. */
static void memory_metrics(mg_buf *b)
{
    struct mallinfo2 mi = mallinfo2();
    mg_buf_printf(b,
                  "# HELP moongate_heap_in_use_bytes Bytes malloc has handed out and not had back.\n"
                  "# TYPE moongate_heap_in_use_bytes gauge\nmoongate_heap_in_use_bytes %zu\n"
                  "# HELP moongate_heap_free_bytes Bytes malloc holds free for reuse.\n"
                  "# TYPE moongate_heap_free_bytes gauge\nmoongate_heap_free_bytes %zu\n"
                  "# HELP moongate_sqlite_memory_bytes Bytes SQLite holds (page caches, statements).\n"
                  "# TYPE moongate_sqlite_memory_bytes gauge\nmoongate_sqlite_memory_bytes %lld\n",
                  mi.uordblks + mi.hblkhd, mi.fordblks, (long long)sqlite3_memory_used());
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
                  "# HELP moongate_live_subscribers Live stream subscribers (SSE and WebSocket).\n"
                  "# TYPE moongate_live_subscribers gauge\nmoongate_live_subscribers %llu\n"
                  "# HELP moongate_policy_generation Current policy generation.\n"
                  "# TYPE moongate_policy_generation gauge\nmoongate_policy_generation %llu\n",
                  (unsigned long long)rq, (unsigned long long)err, (unsigned long long)active,
                  (unsigned long long)pauses, (unsigned long long)st.dropped, st.queue_depth,
                  (unsigned long long)mg_live_subscriber_count(gw->live),
                  (unsigned long long)w->gen->number);
    memory_metrics(&b);
    mg_http_respond(req, 200, "text/plain; version=0.0.4", NULL, b.data, b.len);
    mg_buf_free(&b);
}

static int route_is(const mg_http_req *req, const char *method, const char *path)
{
    return strcmp(req->method, method) == 0 && strcmp(req->path, path) == 0;
}

static void respond_login(mg_worker *w, mg_http_req *req)
{
    json_t *body = json_loadb(req->body.data ? mg_buf_rptr(&req->body) : "",
                              mg_buf_unread(&req->body), 0, NULL);
    const char *token = json_string_value(json_object_get(body, "token"));
    int ok = token && mg_ct_equal(token, strlen(token), w->gw->admin_token,
                                  strlen(w->gw->admin_token));
    if (body)
        json_decref(body);
    if (!ok) {
        respond_error(req, 401, "wrong admin token");
        return;
    }
    char id[65], hdr[200];
    mg_sessions_create(w->gw->sessions, id);
    snprintf(hdr, sizeof hdr,
             "Set-Cookie: mg_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200\r\n"
             "Cache-Control: no-store\r\n", id);
    static const char okb[] = "{\"ok\":true}";
    mg_http_respond(req, 200, "application/json", hdr, okb, sizeof okb - 1);
}

static void respond_logout(mg_worker *w, mg_http_req *req)
{
    size_t n;
    const char *id = mg_admin_session_cookie(req, &n);
    if (id)
        mg_sessions_drop(w->gw->sessions, id, n);
    static const char okb[] = "{\"ok\":true}";
    mg_http_respond(req, 200, "application/json",
                    "Set-Cookie: mg_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\r\n", okb,
                    sizeof okb - 1);
}

/* Cookie sessions: valid id, and POSTs carry x-moongate-csrf (a header a
 * cross-site form or image cannot add). */
static int session_ok(mg_worker *w, mg_http_req *req, int *status, const char **why)
{
    size_t n;
    const char *id = mg_admin_session_cookie(req, &n);
    if (!id || !mg_sessions_valid(w->gw->sessions, id, n)) {
        *status = 401;
        *why = "session expired: log in again";
        return 0;
    }
    if (strcmp(req->method, "GET") != 0 && !mg_http_header(req, "x-moongate-csrf", &n)) {
        *status = 403;
        *why = "state-changing calls from the dashboard need the x-moongate-csrf header";
        return 0;
    }
    return 1;
}

/* An admin request waiting for the analytics thread. Owner: the request
 * (freed when the answer arrives or the client leaves). */
typedef struct analytics_wait {
    mg_http_req *req;
    mg_worker *w;
    uint64_t ticket;
} analytics_wait;

static void on_analytics_done(void *ud, const mg_analytics_reply *r)
{
    analytics_wait *aw = ud;
    aw->req->on_abort = NULL;
    mg_http_respond(aw->req, r->status, r->content_type, r->extra_headers, r->body, r->len);
    free(aw);
}

static void on_analytics_abort(mg_http_req *req)
{
    analytics_wait *aw = req->ud;
    mg_analytics_cancel(aw->w->gw->analytics, aw->ticket);
    free(aw);
}

static void analytics(mg_worker *w, mg_http_req *req, const char *endpoint)
{
    if (!w->gw->analytics) {
        respond_error(req, 503, "analytics are not available (the database could not be opened)");
        return;
    }
    analytics_wait *aw = mg_xcalloc(1, sizeof *aw);
    aw->req = req;
    aw->w = w;
    req->ud = aw;
    req->on_abort = on_analytics_abort;
    int rc = mg_analytics_query(w->gw->analytics, w->loop, endpoint, req->query,
                                on_analytics_done, aw, &aw->ticket);
    if (rc != MG_OK) {
        req->on_abort = NULL;
        free(aw);
        respond_error(req, 503, rc == MG_AGAIN ? "analytics are busy; retry in a moment"
                                               : "analytics are not available on this worker");
    }
}

static void provider_action(mg_worker *w, mg_http_req *req)
{
    char name[128], action[16];
    const char *rest = req->path + strlen("/api/providers/");
    const char *slash = strchr(rest, '/');
    if (!slash || (size_t)(slash - rest) >= sizeof name || strlen(slash + 1) >= sizeof action) {
        respond_error(req, 404, "use /api/providers/{name}/disable|enable|test");
        return;
    }
    snprintf(name, sizeof name, "%.*s", (int)(slash - rest), rest);
    snprintf(action, sizeof action, "%s", slash + 1);
    const mg_provider_cfg *p = mg_config_provider(w->gen->cfg->cfg, name);
    if (!p) {
        respond_error(req, 404, "no provider by that name");
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        respond_error(req, 405, "use POST");
        return;
    }
    if (strcmp(action, "test") == 0) {
        mg_admin_provider_test(w, req, p);
        return;
    }
    int disable = strcmp(action, "disable") == 0;
    if (!disable && strcmp(action, "enable") != 0) {
        respond_error(req, 404, "use /api/providers/{name}/disable|enable|test");
        return;
    }
    mg_breaker_set_disabled(w->gw->breakers, name, disable);
    mg_provider_state_changed(w->gw);
    mg_buf b = {0};
    mg_buf_append_str(&b, "{\"name\":");
    mg_buf_append_json_str(&b, name, strlen(name));
    mg_buf_printf(&b, ",\"disabled\":%s}", disable ? "true" : "false");
    respond(req, 200, &b);
}

static void dispatch(mg_worker *w, mg_http_req *req)
{
    mg_buf b = {0};
    if (route_is(req, "GET", "/api/status")) {
        status_json(w, &b);
        respond(req, 200, &b);
    } else if (route_is(req, "GET", "/api/system/health")) {
        health_json(w, &b);
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
    } else if (strncmp(req->path, "/api/providers/", 15) == 0) {
        provider_action(w, req);
    } else if (!strcmp(req->path, "/api/keys") || !strncmp(req->path, "/api/keys/", 10)) {
        mg_keys_admin(w->gw->keys, req, req->path + 9);
    } else if (!strcmp(req->path, "/api/budget") || !strncmp(req->path, "/api/budget/", 12)) {
        mg_keys_budget_admin(w->gw->keys, req, req->path + 11);
    } else if (route_is(req, "GET", "/api/events")) {
        mg_live_subscribe(w->subs, req);
    } else if (route_is(req, "GET", "/ws/dashboard")) {
        /* Browsers cannot set headers on a WebSocket: the dashboard's
         * session cookie (checked by the guard above) authenticates it. */
        mg_live_subscribe_ws(w->subs, req);
    } else if (route_is(req, "GET", "/api/live/stats")) {
        mg_live_stats_json(w->gw->live, &b);
        respond(req, 200, &b);
    } else if (route_is(req, "POST", "/api/logout")) {
        respond_logout(w, req);
    } else if (mg_alerts_handles(req->path)) {
        mg_alerts_admin(w->gw->alerts, req, req->path + 5);
    } else if (strncmp(req->path, "/api/crosstalk", 14) == 0) {
        mg_crosstalk_admin(w->gw->crosstalk, w, req, req->path + 14);
    } else if (strcmp(req->method, "GET") == 0 && mg_analytics_handles(req->path + 5)) {
        analytics(w, req, req->path + 5);
    } else {
        respond_error(req, 404, "no such admin endpoint");
    }
}

void mg_admin_handle(mg_worker *w, mg_http_req *req)
{
    if (strcmp(req->path, "/metrics") == 0) {
        metrics_text(w, req);
        return;
    }
    if (strncmp(req->path, "/dashboard", 10) == 0 || strcmp(req->path, "/") == 0) {
        if (strcmp(req->path, "/dashboard/") != 0 && strncmp(req->path, "/dashboard/", 11) != 0) {
            mg_http_respond(req, 302, "text/plain", "Location: /dashboard/\r\n", "", 0);
            return;
        }
        mg_static_serve(w->gw->dashboard, req, req->path + 10);
        return;
    }
    if (route_is(req, "POST", "/api/login")) {
        respond_login(w, req);
        return;
    }
    int status;
    const char *why;
    int rc = mg_admin_guard(req, w->gw->admin_token, &status, &why);
    if (rc == MG_AGAIN && !session_ok(w, req, &status, &why)) {
        respond_error(req, status, why);
        return;
    }
    if (rc == MG_ERR) {
        respond_error(req, status, why);
        return;
    }
    dispatch(w, req);
}
