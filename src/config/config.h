/* config.h — the gateway's configuration: a Lua file returning a table,
 * checked against a schema of known keys and types (unknown keys and wrong
 * types are errors naming the file and the key path). Model metadata
 * (prices per million tokens, context window) comes from the bundled
 * lua/moongate/data/models.lua, overridable with `models = { ... }`.
 * A loaded mg_config is immutable and owned by whoever loaded it; a reload
 * builds a new one. */
#ifndef MG_CONFIG_H
#define MG_CONFIG_H

#include <stddef.h>

#include "../core/common.h"

enum mg_format {
    MG_FMT_UNKNOWN = 0,
    MG_FMT_OPENAI,    /* chat completions */
    MG_FMT_ANTHROPIC, /* messages */
    MG_FMT_RESPONSES, /* OpenAI Responses */
    MG_FMT_GEMINI,    /* generateContent */
    MG_FMT_MOCK,      /* built-in mock, in process */
};
const char *mg_format_name(int fmt);
int mg_format_from_name(const char *name);

typedef struct mg_kv {
    char *name;
    char *value;
} mg_kv;

typedef struct mg_breaker_cfg {
    int failure_threshold;   /* consecutive failures that open it; default 5 */
    double cooldown;         /* seconds open before half-open; default 30 */
    int half_open_probes;    /* concurrent probes when half-open; default 1 */
} mg_breaker_cfg;

typedef struct mg_provider_cfg {
    char *name;
    int format;           /* enum mg_format */
    char *base_url;       /* NULL for mock */
    char *api_key;        /* NULL: pass the client's key through */
    char **models;        /* models this provider serves */
    size_t nmodels;
    double t_connect, t_first_byte, t_idle, t_total; /* seconds */
    mg_kv *headers;       /* extra headers sent upstream */
    size_t nheaders;
    mg_breaker_cfg breaker;
    double mock_speed;    /* mock only: delay multiplier, 0 = instant */
    char **tags;
    size_t ntags;
} mg_provider_cfg;

typedef struct mg_model_info {
    char *name;            /* e.g. "gpt-4o-mini" */
    char *vendor;          /* openai | anthropic | google | mock */
    double price_input;    /* USD per million tokens */
    double price_output;
    double price_cached_read;
    double price_cache_write;
    double price_reasoning; /* 0 = same as output */
    long context_window;
    long max_output;
} mg_model_info;

typedef struct mg_config {
    char *path;             /* file it came from, or "(bundled demo)" */
    char *home;             /* install root: lua/, schema/, dashboard/ */
    char *listen_host;
    int listen_port;
    char *tls_addr_host;    /* NULL: no TLS listener */
    int tls_port;
    char *tls_cert, *tls_key;
    char *db;               /* SQLite path */
    char *policies;         /* policies folder */
    int workers;
    char *admin_token;      /* NULL: generated and saved at first start */
    char *admin_token_file; /* where a generated token is saved (0600) */
    char *access_log;       /* path, "-" stderr, NULL off */
    char *log_level;
    char *environment;      /* tag stamped on every record */

    /* HTTP server limits */
    size_t max_header_bytes, max_headers, max_body_bytes;
    double header_timeout, body_timeout, keepalive_timeout, shutdown_grace;

    /* store */
    double flush_interval;
    size_t queue_capacity;
    int retention_days;
    int previews;            /* store truncated prompt/output */

    /* proxy */
    int max_attempts;
    int default_max_tokens;  /* supplied to anthropic when the client omits it */

    mg_provider_cfg *providers;
    size_t nproviders;
    mg_model_info *models;
    size_t nmodels;
} mg_config;

/* Load and validate. path NULL: ./moongate.lua if present, else the bundled
 * demo config (home/examples/demo.lua... see config.c). home is the install
 * root used to find lua/, schema/, dashboard/ and the demo config. On error
 * returns NULL and err holds "file: key: problem" lines. */
mg_config *mg_config_load(const char *path, const char *home, char *err, size_t errlen);
void mg_config_free(mg_config *c);

const mg_provider_cfg *mg_config_provider(const mg_config *c, const char *name);
/* First provider that lists `model`, or NULL. */
const mg_provider_cfg *mg_config_provider_for_model(const mg_config *c, const char *model);
const mg_model_info *mg_config_model(const mg_config *c, const char *model);

#endif
