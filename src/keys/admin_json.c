/* admin_json.c — keys as JSON for the admin API: identity, limits and live
 * usage, never the hash or the secret. Errors in the admin API's shape
 * ({"error":{"message","code"}}, plus "field" for a bad body field). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void mg_keys_error_json(mg_buf *out, int status, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mg_buf_reset(out);
    mg_buf_append_str(out, "{\"error\":{\"message\":");
    mg_buf_append_json_str(out, msg, strlen(msg));
    if (field) {
        mg_buf_append_str(out, ",\"field\":");
        mg_buf_append_json_str(out, field, strlen(field));
    }
    mg_buf_printf(out, ",\"code\":%d}}", status);
}

void mg_keys_json_time(mg_buf *out, int64_t ms)
{
    if (!ms) {
        mg_buf_append_str(out, "null");
        return;
    }
    char iso[32];
    mg_keys_iso_time(ms, iso);
    mg_buf_printf(out, "\"%s\"", iso);
}

/* Money to a millionth of a dollar: enough for per-request prices, short
 * enough to read. */
void mg_keys_json_usd(mg_buf *out, double usd)
{
    char text[64];
    snprintf(text, sizeof text, "%.6f", isfinite(usd) && fabs(usd) < 1e15 ? usd : 0.0);
    size_t n = strlen(text);
    while (n > 1 && text[n - 1] == '0')
        text[--n] = '\0';
    if (text[n - 1] == '.')
        text[--n] = '\0';
    mg_buf_append(out, text, n);
}

static void str_or_null(mg_buf *out, const char *s)
{
    if (s && *s)
        mg_buf_append_json_str(out, s, strlen(s));
    else
        mg_buf_append_str(out, "null");
}

static void limit_or_null(mg_buf *out, long v)
{
    if (v > 0)
        mg_buf_printf(out, "%ld", v);
    else
        mg_buf_append_str(out, "null");
}

static void usd_or_null(mg_buf *out, double v)
{
    if (v > 0)
        mg_keys_json_usd(out, v);
    else
        mg_buf_append_str(out, "null");
}

static const char *status_of(const struct mg_key *key, int64_t now_ms)
{
    if (key->revoked_at)
        return "revoked";
    if (key->expires_at && now_ms >= key->expires_at)
        return "expired";
    return "active";
}

static void usage_json(struct mg_key *key, int64_t now_ms, mg_buf *out)
{
    int64_t now_sec = now_ms / 1000;
    mg_keys_spend_roll(&key->spend, now_ms);
    mg_buf_append_str(out, "{\"spent_usd_day\":");
    mg_keys_json_usd(out, key->spend.day_spent);
    mg_buf_append_str(out, ",\"spent_usd_month\":");
    mg_keys_json_usd(out, key->spend.month_spent);
    mg_buf_append_str(out, ",\"reserved_usd\":");
    mg_keys_json_usd(out, key->spend.reserved);
    mg_buf_printf(out, ",\"requests_last_minute\":%ld,\"tokens_last_minute\":%ld,\"inflight\":%ld}",
                  mg_keys_window_sum(&key->requests, now_sec),
                  mg_keys_window_sum(&key->tokens, now_sec), key->inflight);
}

void mg_keys_key_json(mg_keys *k, struct mg_key *key, int64_t now_ms, mg_buf *out)
{
    MG_UNUSED(k);
    pthread_mutex_lock(&key->lock);
    /* Every stored string is escaped: rows may have been edited by hand. */
    mg_buf_append_str(out, "{\"id\":");
    mg_buf_append_json_str(out, key->id, strlen(key->id));
    mg_buf_append_str(out, ",\"name\":");
    mg_buf_append_json_str(out, key->name, strlen(key->name));
    /* The ellipsis marks the prefix so nobody mistakes it for a whole key. */
    char prefix[MG_KEYS_PREFIX_LEN + 8];
    snprintf(prefix, sizeof prefix, "%s\xe2\x80\xa6", key->prefix);
    mg_buf_append_str(out, ",\"prefix\":");
    mg_buf_append_json_str(out, prefix, strlen(prefix));
    mg_buf_printf(out, ",\"status\":\"%s\",\"user_id\":", status_of(key, now_ms));
    str_or_null(out, key->user_id);
    mg_buf_append_str(out, ",\"environment\":");
    str_or_null(out, key->environment);
    mg_buf_append_str(out, ",\"created_at\":");
    mg_keys_json_time(out, key->created_at);
    mg_buf_append_str(out, ",\"revoked_at\":");
    mg_keys_json_time(out, key->revoked_at);
    mg_buf_append_str(out, ",\"expires_at\":");
    mg_keys_json_time(out, key->expires_at);
    mg_buf_append_str(out, ",\"models\":");
    char *models = mg_keys_models_json(key->models, key->nmodels);
    mg_buf_append_str(out, models ? models : "null");
    free(models);
    mg_buf_append_str(out, ",\"rpm\":");
    limit_or_null(out, key->rpm);
    mg_buf_append_str(out, ",\"tpm\":");
    limit_or_null(out, key->tpm);
    mg_buf_append_str(out, ",\"max_concurrency\":");
    limit_or_null(out, key->max_concurrency);
    mg_buf_append_str(out, ",\"budget_usd_day\":");
    usd_or_null(out, key->budget_day);
    mg_buf_append_str(out, ",\"budget_usd_month\":");
    usd_or_null(out, key->budget_month);
    /* metadata was produced by json_dumps at create/patch time. */
    mg_buf_append_str(out, ",\"metadata\":");
    mg_buf_append_str(out, key->metadata ? key->metadata : "null");
    mg_buf_append_str(out, ",\"usage\":");
    usage_json(key, now_ms, out);
    mg_buf_append_str(out, "}");
    pthread_mutex_unlock(&key->lock);
}
