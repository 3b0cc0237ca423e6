/* admin_body.c — reading POST/PATCH bodies of /api/keys: every field is
 * checked for type, range and length, unknown fields are refused, and the
 * answer to a bad body names the field. Uses jansson. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define MAX_COUNT 1000000000L /* rpm, tpm, concurrency */
#define MAX_USD 1e9

typedef struct body_ctx {
    mg_keys_fields *f;
    mg_buf *out;
    int64_t now_ms;
} body_ctx;

static int bad(body_ctx *c, const char *field, const char *why)
{
    mg_keys_error_json(c->out, 400, field, "%s: %s", field, why);
    return MG_ERR;
}

/* Printable text without control characters, at most max bytes. */
static int read_text(body_ctx *c, const char *field, json_t *v, char *out, size_t cap,
                     int required)
{
    if (json_is_null(v) && !required) {
        out[0] = '\0';
        return MG_OK;
    }
    if (!json_is_string(v))
        return bad(c, field, required ? "must be a string" : "must be a string or null");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 && required)
        return bad(c, field, "must not be empty");
    if (n >= cap) {
        char why[64];
        snprintf(why, sizeof why, "must be at most %zu bytes", cap - 1);
        return bad(c, field, why);
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return bad(c, field, "must not contain control characters");
    memcpy(out, s, n + 1);
    return MG_OK;
}

static int is_hex32(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int read_name(body_ctx *c, json_t *v)
{
    if (read_text(c, "name", v, c->f->name, sizeof c->f->name, 1) != MG_OK)
        return MG_ERR;
    const char *n = c->f->name;
    if (n[0] == ' ' || n[strlen(n) - 1] == ' ')
        return bad(c, "name", "must not start or end with a space");
    if (is_hex32(n) || strchr(n, '/'))
        return bad(c, "name", "must not contain '/' or look like a key id (32 hex digits)");
    return MG_OK;
}

static int read_count(body_ctx *c, const char *field, json_t *v, long *out)
{
    if (json_is_null(v)) {
        *out = 0;
        return MG_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > MAX_COUNT)
        return bad(c, field, "must be a whole number from 0 (no limit) to 1000000000, or null");
    *out = (long)json_integer_value(v);
    return MG_OK;
}

static int read_usd(body_ctx *c, const char *field, json_t *v, double *out)
{
    if (json_is_null(v)) {
        *out = 0;
        return MG_OK;
    }
    double d = json_number_value(v);
    if (!json_is_number(v) || !isfinite(d) || d < 0 || d > MAX_USD)
        return bad(c, field, "must be a number of USD from 0 (no budget) to 1e9, or null");
    *out = d;
    return MG_OK;
}

static int read_models(body_ctx *c, json_t *v)
{
    mg_keys_fields *f = c->f;
    if (json_is_null(v))
        return MG_OK; /* every model */
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0 || n > MG_KEYS_MAX_MODELS)
        return bad(c, "models", "must be a list of 1 to 64 model names, or null for every model");
    f->models = mg_xcalloc(n, sizeof *f->models);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(v, i);
        size_t len = json_string_length(m);
        if (!json_is_string(m) || len == 0 || len > MG_KEYS_MODEL_MAX)
            return bad(c, "models", "each model must be a non-empty string of at most 128 bytes");
        f->models[f->nmodels++] = mg_xstrdup(json_string_value(m));
    }
    return MG_OK;
}

static int read_expires(body_ctx *c, json_t *v)
{
    c->f->expires_at = 0;
    if (json_is_null(v))
        return MG_OK;
    if (!json_is_string(v) || mg_keys_parse_time(json_string_value(v), &c->f->expires_at) != MG_OK)
        return bad(c, "expires_at",
                   "must be a UTC date or time such as \"2026-01-31\" or "
                   "\"2026-01-31T18:00:00Z\", or null");
    if (c->f->expires_at <= c->now_ms)
        return bad(c, "expires_at", "is in the past");
    return MG_OK;
}

static int read_metadata(body_ctx *c, json_t *v)
{
    if (json_is_null(v))
        return MG_OK;
    if (!json_is_object(v))
        return bad(c, "metadata", "must be an object or null");
    c->f->metadata = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!c->f->metadata || strlen(c->f->metadata) > MG_KEYS_METADATA_MAX)
        return bad(c, "metadata", "must be at most 4096 bytes as JSON");
    return MG_OK;
}

static int read_field(body_ctx *c, const char *name, json_t *v)
{
    mg_keys_fields *f = c->f;
#define FIELD(str, flag, call)                                                            \
    if (strcmp(name, str) == 0) {                                                         \
        f->flag = 1;                                                                      \
        return call;                                                                      \
    }
    FIELD("name", has_name, read_name(c, v))
    FIELD("user_id", has_user, read_text(c, name, v, f->user_id, sizeof f->user_id, 0))
    FIELD("environment", has_env,
          read_text(c, name, v, f->environment, sizeof f->environment, 0))
    FIELD("models", has_models, read_models(c, v))
    FIELD("rpm", has_rpm, read_count(c, name, v, &f->rpm))
    FIELD("tpm", has_tpm, read_count(c, name, v, &f->tpm))
    FIELD("max_concurrency", has_conc, read_count(c, name, v, &f->max_concurrency))
    FIELD("budget_usd_day", has_bday, read_usd(c, name, v, &f->budget_day))
    FIELD("budget_usd_month", has_bmonth, read_usd(c, name, v, &f->budget_month))
    FIELD("expires_at", has_expires, read_expires(c, v))
    FIELD("metadata", has_metadata, read_metadata(c, v))
#undef FIELD
    return bad(c, name,
               "unknown field (known: name, user_id, environment, models, rpm, tpm, "
               "max_concurrency, budget_usd_day, budget_usd_month, expires_at, metadata)");
}

int mg_keys_fields_parse(const char *body, size_t len, int creating, int64_t now_ms,
                         mg_keys_fields *f, mg_buf *out)
{
    memset(f, 0, sizeof *f);
    body_ctx c = {f, out, now_ms};
    json_error_t jerr;
    json_t *obj = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
    if (!obj) {
        mg_keys_error_json(out, 400, NULL, "invalid JSON body at line %d column %d: %s",
                           jerr.line, jerr.column, jerr.text);
        return MG_ERR;
    }
    int rc = MG_OK;
    if (!json_is_object(obj)) {
        mg_keys_error_json(out, 400, NULL, "the body must be a JSON object");
        rc = MG_ERR;
    }
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        if (rc == MG_OK)
            rc = read_field(&c, name, v);
    }
    if (rc == MG_OK && creating && !f->has_name)
        rc = bad(&c, "name", "is required");
    if (rc == MG_OK && !creating && json_object_size(obj) == 0) {
        mg_keys_error_json(out, 400, NULL, "nothing to change: give at least one field");
        rc = MG_ERR;
    }
    json_decref(obj);
    return rc;
}

void mg_keys_fields_free(mg_keys_fields *f)
{
    for (size_t i = 0; i < f->nmodels; i++)
        free(f->models[i]);
    free(f->models);
    free(f->metadata);
    memset(f, 0, sizeof *f);
}

/* "YYYY-MM-DD" [("T"|" ") "HH:MM" [":SS" ["." digits]]] ["Z" | ("+"|"-") "HH:MM"] */
int mg_keys_parse_time(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return MG_ERR;
    const char *p = s + n;
    if (*p == 'T' || *p == ' ') {
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
            return MG_ERR;
        p += 1 + n;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &n) != 1 || n != 2)
                return MG_ERR;
            p += 1 + n;
            if (*p == '.')
                for (p++; isdigit((unsigned char)*p); p++) {
                }
        }
    }
    long offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
            return MG_ERR;
        offset = (*p == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
        p += 1 + n;
    }
    if (*p || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0)
        return MG_ERR;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1) /* 2025-02-31 */
        return MG_ERR;
    *ms = ((int64_t)t - offset) * 1000;
    return MG_OK;
}
