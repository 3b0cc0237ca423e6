/* schema.c — every key a config file may hold: its kind, where it lands in
 * mg_config / mg_provider_cfg / mg_model_info, its default and its range.
 * The loader (load.c) knows nothing about particular keys; to add a setting,
 * add a field to config.h and a line here. Also parses "HOST:PORT". */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cfg-t.h"

#define CFG(m) offsetof(mg_config, m)
#define PRV(m) offsetof(mg_provider_cfg, m)
#define MOD(m) offsetof(mg_model_info, m)
#define REQ MG_CFF_REQUIRED

/* Numbers: {name, kind, offset, default, min, max}. */
#define NUMF(n, k, o, d, lo, hi) \
    {.name = n, .kind = k, .off = o, .def_num = d, .min = lo, .max = hi}
/* Strings: {name, offset, flags, default}. */
#define STRF(n, o, fl, d) {.name = n, .kind = MG_CF_STR, .off = o, .flags = fl, .def_str = d}
#define TABF(n, fields) {.name = n, .kind = MG_CF_TABLE, .sub = fields}

static const mg_cf_field tls_fields[] = {
    {.name = "addr", .kind = MG_CF_ADDR, .off = CFG(tls_addr_host), .off2 = CFG(tls_port), .flags = REQ},
    STRF("cert", CFG(tls_cert), REQ, NULL),
    STRF("key", CFG(tls_key), REQ, NULL),
    {0},
};

static const mg_cf_field limits_fields[] = {
    NUMF("max_header_bytes", MG_CF_SIZE, CFG(max_header_bytes), 32768, 1024, 1 << 20),
    NUMF("max_headers", MG_CF_SIZE, CFG(max_headers), 100, 1, 1000),
    NUMF("max_body_bytes", MG_CF_SIZE, CFG(max_body_bytes), 32 << 20, 1024, 1 << 30),
    NUMF("header_timeout", MG_CF_NUM, CFG(header_timeout), 10, 0.1, 3600),
    NUMF("body_timeout", MG_CF_NUM, CFG(body_timeout), 30, 0.1, 3600),
    /* headers + body, from the first byte: bounds a client trickling bytes */
    NUMF("request_timeout", MG_CF_NUM, CFG(request_timeout), 60, 0.1, 3600),
    NUMF("keepalive_timeout", MG_CF_NUM, CFG(keepalive_timeout), 75, 0, 3600),
    NUMF("shutdown_grace", MG_CF_NUM, CFG(shutdown_grace), 30, 0, 3600),
    {0},
};

static const mg_cf_field store_fields[] = {
    /* Small batches often: on a small machine a writer burst of 0.2 s worth
     * of rows took the CPU from the proxy and tripled its p99; commits are
     * cheap in WAL mode without an fsync each. */
    NUMF("flush_interval", MG_CF_NUM, CFG(flush_interval), 0.01, 0.01, 60),
    NUMF("queue_capacity", MG_CF_SIZE, CFG(queue_capacity), 65536, 16, 1 << 24),
    /* 0 keeps rows forever */
    NUMF("retention_days", MG_CF_INT, CFG(retention_days), 30, 0, 36500),
    {.name = "previews", .kind = MG_CF_BOOL, .off = CFG(previews), .def_num = 0},
    {0},
};

static const mg_cf_field budget_fields[] = {
    NUMF("daily_usd", MG_CF_NUM, CFG(budget_daily_usd), 0, 0, 1e9),
    NUMF("monthly_usd", MG_CF_NUM, CFG(budget_monthly_usd), 0, 0, 1e9),
    NUMF("warn_at", MG_CF_NUM, CFG(budget_warn_at), 0.8, 0.01, 0.99),
    {0},
};

static const mg_cf_field proxy_fields[] = {
    NUMF("max_attempts", MG_CF_INT, CFG(max_attempts), 3, 1, 10),
    NUMF("default_max_tokens", MG_CF_INT, CFG(default_max_tokens), 4096, 1, 1000000),
    {0},
};

const mg_cf_field mg_cf_config_fields[] = {
    {.name = "listen", .kind = MG_CF_ADDR, .off = CFG(listen_host), .off2 = CFG(listen_port),
     .def_str = "127.0.0.1:8080"},
    TABF("listen_tls", tls_fields),
    STRF("db", CFG(db), 0, "data/moongate.db"),
    STRF("policies", CFG(policies), 0, "policies"),
    NUMF("workers", MG_CF_INT, CFG(workers), 1, 1, 64),
    {.name = "admin_token", .kind = MG_CF_STR, .off = CFG(admin_token), .flags = MG_CFF_SECRET,
     .min = 16},
    STRF("admin_token_file", CFG(admin_token_file), 0, "data/admin_token"),
    STRF("access_log", CFG(access_log), MG_CFF_FALSE_OFF, "-"),
    {.name = "log_level", .kind = MG_CF_STR, .off = CFG(log_level), .def_str = "info",
     .choices = "debug|info|warn|error"},
    STRF("environment", CFG(environment), 0, "default"),
    TABF("limits", limits_fields),
    TABF("store", store_fields),
    TABF("proxy", proxy_fields),
    {.name = "auth", .kind = MG_CF_STR, .off = CFG(auth), .def_str = "open",
     .choices = "open|keys|auto"},
    TABF("budget", budget_fields),
    {.name = "providers", .kind = MG_CF_PROVIDERS, .flags = REQ | MG_CFF_NONEMPTY},
    {.name = "models", .kind = MG_CF_MODELS},
    {0},
};

/* Defaults are long enough for reasoning models that think for minutes
 * before the first byte and stream for many more. */
static const mg_cf_field timeout_fields[] = {
    NUMF("connect", MG_CF_NUM, PRV(t_connect), 10, 0.1, 3600),
    NUMF("first_byte", MG_CF_NUM, PRV(t_first_byte), 300, 0.1, 86400),
    NUMF("idle", MG_CF_NUM, PRV(t_idle), 120, 0.1, 86400),
    NUMF("total", MG_CF_NUM, PRV(t_total), 1800, 0.1, 86400),
    {0},
};

static const mg_cf_field breaker_fields[] = {
    NUMF("failure_threshold", MG_CF_INT, PRV(breaker.failure_threshold), 5, 1, 1000),
    NUMF("cooldown", MG_CF_NUM, PRV(breaker.cooldown), 30, 0, 86400),
    NUMF("half_open_probes", MG_CF_INT, PRV(breaker.half_open_probes), 1, 1, 100),
    {0},
};

static const mg_cf_field mock_fields[] = {
    NUMF("speed", MG_CF_NUM, PRV(mock_speed), 1.0, 0, 1000),
    {0},
};

const mg_cf_field mg_cf_provider_fields[] = {
    STRF("name", PRV(name), REQ | MG_CFF_NAME, NULL),
    {.name = "format", .kind = MG_CF_FORMAT, .off = PRV(format), .flags = REQ,
     .choices = "openai|anthropic|gemini|responses|mock"},
    STRF("base_url", PRV(base_url), MG_CFF_URL, NULL), /* required unless mock: check.c */
    STRF("api_key", PRV(api_key), MG_CFF_SECRET, NULL),
    {.name = "models", .kind = MG_CF_STR_LIST, .off = PRV(models), .off2 = PRV(nmodels),
     .flags = REQ | MG_CFF_NONEMPTY},
    TABF("timeouts", timeout_fields),
    {.name = "headers", .kind = MG_CF_HEADERS, .off = PRV(headers), .off2 = PRV(nheaders)},
    TABF("breaker", breaker_fields),
    TABF("mock", mock_fields),
    {.name = "tags", .kind = MG_CF_STR_LIST, .off = PRV(tags), .off2 = PRV(ntags)},
    {0},
};

/* Prices in USD per million tokens. No defaults: a config entry for a
 * model already in the bundled data changes only the keys it names. */
const mg_cf_field mg_cf_model_fields[] = {
    STRF("vendor", MOD(vendor), MG_CFF_NAME, NULL),
    NUMF("input", MG_CF_NUM, MOD(price_input), 0, 0, 1e6),
    NUMF("output", MG_CF_NUM, MOD(price_output), 0, 0, 1e6),
    NUMF("cached_read", MG_CF_NUM, MOD(price_cached_read), 0, 0, 1e6),
    NUMF("cache_write", MG_CF_NUM, MOD(price_cache_write), 0, 0, 1e6),
    NUMF("reasoning", MG_CF_NUM, MOD(price_reasoning), 0, 0, 1e6),
    NUMF("context", MG_CF_LONG, MOD(context_window), 0, 0, 1e9),
    NUMF("max_output", MG_CF_LONG, MOD(max_output), 0, 0, 1e9),
    {0},
};

const mg_cf_field *mg_cf_find(const mg_cf_field *fields, const char *name, size_t len)
{
    for (const mg_cf_field *f = fields; f->name; f++)
        if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
            return f;
    return NULL;
}

void mg_cf_known(const mg_cf_field *fields, mg_buf *out)
{
    for (const mg_cf_field *f = fields; f->name; f++)
        mg_buf_printf(out, "%s%s", f == fields ? "" : ", ", f->name);
}

static void *at(void *base, size_t off) { return (char *)base + off; }

void mg_cf_defaults(const mg_cf_field *fields, void *base)
{
    for (const mg_cf_field *f = fields; f->name; f++) {
        switch (f->kind) {
        case MG_CF_STR:
            if (f->def_str) {
                char **slot = at(base, f->off);
                free(*slot);
                *slot = mg_xstrdup(f->def_str);
            }
            break;
        case MG_CF_INT:
        case MG_CF_BOOL:
            *(int *)at(base, f->off) = (int)f->def_num;
            break;
        case MG_CF_LONG:
            *(long *)at(base, f->off) = (long)f->def_num;
            break;
        case MG_CF_SIZE:
            *(size_t *)at(base, f->off) = (size_t)f->def_num;
            break;
        case MG_CF_NUM:
            *(double *)at(base, f->off) = f->def_num;
            break;
        case MG_CF_ADDR:
            if (f->def_str) {
                char **host = at(base, f->off);
                free(*host);
                *host = NULL;
                mg_cf_parse_addr(f->def_str, host, at(base, f->off2));
            }
            break;
        case MG_CF_TABLE:
            mg_cf_defaults(f->sub, base);
            break;
        default: /* lists, maps, formats: empty until given */
            break;
        }
    }
}

static int host_char(int ch, int bracketed)
{
    if (bracketed)
        return isxdigit(ch) || ch == ':' || ch == '.';
    return isalnum(ch) || ch == '.' || ch == '-' || ch == '_';
}

static int parse_port(const char *s, int *port)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5)
        return MG_ERR;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return MG_ERR;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 65535)
        return MG_ERR;
    *port = (int)v;
    return MG_OK;
}

int mg_cf_parse_addr(const char *s, char **host, int *port)
{
    size_t n = strlen(s);
    if (n == 0 || n > 300)
        return MG_ERR;
    int bracketed = s[0] == '[';
    const char *hstart = s + bracketed;
    const char *hend = bracketed ? strchr(s, ']') : strrchr(s, ':');
    if (!hend || hend == hstart)
        return MG_ERR;
    const char *colon = bracketed ? hend + 1 : hend;
    if (*colon != ':')
        return MG_ERR;
    for (const char *p = hstart; p < hend; p++)
        if (!host_char((unsigned char)*p, bracketed))
            return MG_ERR;
    int v;
    if (parse_port(colon + 1, &v) != MG_OK)
        return MG_ERR;
    *host = mg_xstrndup(hstart, (size_t)(hend - hstart));
    *port = v;
    return MG_OK;
}
