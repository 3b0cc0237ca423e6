/* config.h — the gateway's configuration: a Lua file returning a table,
 * checked against a schema of known keys and types (unknown keys and wrong
 * types are errors naming the file and the key path). Model metadata
 * (prices per million tokens, context window) comes from the bundled
 * lua/moongate/data/models.lua, overridable with `models = { ... }`.
 * A loaded mg_config is immutable and owned by whoever loaded it; a reload
 * builds a new one. Every string and array reachable from it belongs to it
 * and mg_config_free releases them all. */
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
    size_t name_len;       /* strlen(name): lookups run on every request */
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
    char *path;             /* file it came from (for the bundled demo, its real path) */
    char *home;             /* install root: lua/, schema/, dashboard/ */
    int is_demo;            /* path is the bundled demo config */
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
    char *auth;             /* "open" | "keys" | "auto" (src/keys) */
    double budget_daily_usd, budget_monthly_usd, budget_warn_at; /* 0 = none */

    /* HTTP server limits */
    size_t max_header_bytes, max_headers, max_body_bytes;
    double header_timeout, body_timeout, request_timeout, keepalive_timeout, shutdown_grace;

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
 * demo config <home>/examples/demo.lua. home is the install root used to
 * find lua/, schema/, dashboard/ and the demo config (NULL: $MOONGATE_HOME,
 * else the build's MG_HOME, else "."). Relative paths in the config resolve
 * against the config file's folder; for the bundled demo, db and other
 * files against the working directory and policies against <home>.
 * On error returns NULL and err holds every problem found, one per line:
 * "file: key.path: problem" or "file:line: message" (Lua errors). Secret
 * values (api_key, header values, admin_token) never appear in err.
 * Reads files synchronously: call from the main or a reload thread, never
 * from a worker loop. */
mg_config *mg_config_load(const char *path, const char *home, char *err, size_t errlen);
void mg_config_free(mg_config *c);

/* Apply command-line overrides (--listen HOST:PORT, --db PATH; NULL leaves
 * a value alone) to a config that is not yet shared. MG_OK or MG_ERR. */
int mg_config_override(mg_config *c, const char *listen, const char *db, char *err,
                       size_t errlen);
/* Parse "HOST:PORT" or "[v6addr]:PORT". On MG_OK *host is malloc'd. */
int mg_config_parse_addr(const char *addr, char **host, int *port);

/* 1 when old and new differ in keys a running gateway cannot change
 * (listen, listen_tls, db, workers), naming them in what ("listen, db");
 * 0 otherwise. */
int mg_config_restart_needed(const mg_config *old, const mg_config *new_cfg, char *what,
                             size_t len);

const mg_provider_cfg *mg_config_provider(const mg_config *c, const char *name);
/* First provider that lists `model`, or NULL. */
const mg_provider_cfg *mg_config_provider_for_model(const mg_config *c, const char *model);
/* Exact name, then the longest listed name that is a prefix of model at a
 * '-', '@', ':' or '_' boundary ("gpt-4o-mini-2024-07-18" finds
 * "gpt-4o-mini", "gpt-50" does not find "gpt-5"), then the same for the
 * part after the last '/' ("openai/gpt-4o", "models/gemini-2.5-pro").
 * NULL when nothing matches. */
const mg_model_info *mg_config_model(const mg_config *c, const char *model);
/* Split a route entry: "provider/model" when the part before the first '/'
 * names a provider (any model is accepted then), else the first provider
 * listing the whole string as a model. Sets *provider and *model (pointing
 * into spec). MG_OK, or MG_ERR when no provider serves it. */
int mg_config_resolve(const mg_config *c, const char *spec, const mg_provider_cfg **provider,
                      const char **model);

#endif
