/* budget_admin.c — /api/budget: the gateway's budget and every key's
 * spend at a glance, the effective budget config, and pausing budget
 * enforcement (warnings keep firing while paused; the pause lasts until
 * resumed or restarted). */
#include <string.h>

#include "internal.h"

static void spend_json(const mg_keys_spend *s, double budget_day, double budget_month,
                       mg_buf *out)
{
    mg_buf_append_str(out, "\"budget_usd_day\":");
    mg_keys_json_usd(out, budget_day);
    mg_buf_append_str(out, ",\"budget_usd_month\":");
    mg_keys_json_usd(out, budget_month);
    mg_buf_append_str(out, ",\"spent_usd_day\":");
    mg_keys_json_usd(out, s->day_spent);
    mg_buf_append_str(out, ",\"spent_usd_month\":");
    mg_keys_json_usd(out, s->month_spent);
    mg_buf_append_str(out, ",\"reserved_usd\":");
    mg_keys_json_usd(out, s->reserved);
    mg_buf_printf(out, ",\"in_flight\":%ld", s->unsettled);
}

static void thresholds_json(const mg_keys *k, mg_buf *out)
{
    mg_buf_append_str(out, "[");
    for (int i = 0; i < k->nthresholds; i++)
        mg_buf_printf(out, "%s%g", i ? "," : "", k->thresholds[i]);
    mg_buf_append_str(out, "]");
}

static void keys_spend_json(mg_keys *k, int64_t now_ms, mg_buf *out)
{
    int first = 1;
    pthread_rwlock_rdlock(&k->table_lock);
    for (size_t i = 0; i < k->nkeys; i++) {
        struct mg_key *key = k->keys[i];
        pthread_mutex_lock(&key->lock);
        mg_keys_spend_roll(&key->spend, now_ms);
        int show = key->budget_day > 0 || key->budget_month > 0 ||
                   key->spend.month_spent > 0 || key->spend.unsettled > 0;
        if (show) {
            mg_buf_append_str(out, first ? "{\"id\":" : ",{\"id\":");
            mg_buf_append_json_str(out, key->id, strlen(key->id));
            mg_buf_append_str(out, ",\"name\":");
            mg_buf_append_json_str(out, key->name, strlen(key->name));
            mg_buf_append_str(out, ",");
            spend_json(&key->spend, key->budget_day, key->budget_month, out);
            mg_buf_append_str(out, "}");
            first = 0;
        }
        pthread_mutex_unlock(&key->lock);
    }
    pthread_rwlock_unlock(&k->table_lock);
}

static int status_json(mg_keys *k, mg_buf *out)
{
    int64_t now_ms = mg_keys_now_ms(k);
    int64_t day = mg_keys_day_of(now_ms), month = mg_keys_month_of(now_ms);
    pthread_mutex_lock(&k->global_lock);
    mg_keys_spend_roll(&k->global, now_ms);
    mg_buf_printf(out, "{\"paused\":%s,\"global\":{", k->paused ? "true" : "false");
    spend_json(&k->global, k->budget_day, k->budget_month, out);
    mg_buf_append_str(out, ",\"thresholds\":");
    thresholds_json(k, out);
    pthread_mutex_unlock(&k->global_lock);
    mg_buf_append_str(out, ",\"day_resets_at\":");
    mg_keys_json_time(out, mg_keys_day_start_ms(day + 1));
    mg_buf_append_str(out, ",\"month_resets_at\":");
    mg_keys_json_time(out, mg_keys_month_start_ms(month + 1));
    mg_buf_append_str(out, "},\"keys\":[");
    keys_spend_json(k, now_ms, out);
    mg_buf_append_str(out, "]}");
    return 200;
}

static int config_json(mg_keys *k, mg_buf *out)
{
    pthread_mutex_lock(&k->global_lock);
    mg_buf_append_str(out, "{\"daily_usd\":");
    mg_keys_json_usd(out, k->budget_day);
    mg_buf_append_str(out, ",\"monthly_usd\":");
    mg_keys_json_usd(out, k->budget_month);
    mg_buf_append_str(out, ",\"thresholds\":");
    thresholds_json(k, out);
    mg_buf_printf(out, ",\"paused\":%s,\"auth\":\"%s\",\"timezone\":\"UTC\"}",
                  k->paused ? "true" : "false", mg_keys_auth_name(atomic_load(&k->auth_mode)));
    pthread_mutex_unlock(&k->global_lock);
    return 200;
}

static int set_paused(mg_keys *k, int paused, mg_buf *out)
{
    pthread_mutex_lock(&k->global_lock);
    k->paused = paused;
    pthread_mutex_unlock(&k->global_lock);
    mg_buf_printf(out, "{\"paused\":%s}", paused ? "true" : "false");
    return 200;
}

int mg_keys_budget_call(mg_keys *k, const char *method, const char *subpath, mg_buf *out)
{
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if ((!subpath[0] || !strcmp(subpath, "/") || !strcmp(subpath, "/status")) && get)
        return status_json(k, out);
    if (!strcmp(subpath, "/config") && get)
        return config_json(k, out);
    if (!strcmp(subpath, "/pause") && post)
        return set_paused(k, 1, out);
    if (!strcmp(subpath, "/resume") && post)
        return set_paused(k, 0, out);
    mg_keys_error_json(out, 404, NULL,
                       "use GET /api/budget/status, GET /api/budget/config, "
                       "POST /api/budget/pause or POST /api/budget/resume");
    return 404;
}

void mg_keys_budget_admin(mg_keys *k, mg_http_req *req, const char *subpath)
{
    mg_buf out = {0};
    int status = mg_keys_budget_call(k, req->method, subpath, &out);
    mg_http_respond(req, status, "application/json", "Cache-Control: no-store\r\n",
                    out.data ? out.data : "", out.len);
    mg_buf_free(&out);
}
