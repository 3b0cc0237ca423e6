/* proxy.h — the request pipeline. Every proxied request walks the same
 * explicit stages, whether it came from a client socket or from inside the
 * host:  parse → auth → limits → route → convert → upstream → convert back
 * → record.  Each stage is a function in its own file; the request context
 * (mg_px) carries the state between them and owns everything it allocates.
 * Uses: net (client side), upstream + mock (provider side), config, store. */
#ifndef MG_PROXY_H
#define MG_PROXY_H

#include <jansson.h>

#include "../config/config.h"
#include "../net/http.h"
#include "../store/record.h"
#include "../upstream/sse.h"
#include "../upstream/upstream.h"

struct mg_worker;
struct mg_wgen;
struct mg_mock_xfer;

/* What an inbound path asks for. */
enum mg_px_kind {
    MG_PX_NONE = 0,
    MG_PX_CHAT,         /* POST /v1/chat/completions (openai) */
    MG_PX_EMBEDDINGS,   /* POST /v1/embeddings (openai) */
    MG_PX_MESSAGES,     /* POST /v1/messages (anthropic) */
    MG_PX_COUNT_TOKENS, /* POST /v1/messages/count_tokens (anthropic) */
    MG_PX_RESPONSES,    /* POST /v1/responses */
    MG_PX_GEMINI,       /* POST /v1beta/models/{model}:generateContent */
    MG_PX_GEMINI_STREAM,/* ...:streamGenerateContent */
    MG_PX_MODELS,       /* GET /v1/models */
};

typedef struct mg_px_endpoint {
    int kind;           /* enum mg_px_kind */
    int format;         /* client format, enum mg_format */
    char model[256];    /* from the path (gemini) */
} mg_px_endpoint;

/* Classify method + path; kind MG_PX_NONE when not a proxy path. */
void mg_px_endpoint_parse(const char *method, const char *path, mg_px_endpoint *out);
const char *mg_px_kind_upstream_path(int kind); /* path below base_url */

/* Error body in the client's own format (OpenAI, Anthropic, Gemini;
 * Responses as OpenAI). kind is a short machine word such as
 * "invalid_request_error", "not_found_error", "api_error", "rate_limit_error",
 * "timeout_error", "overloaded_error". */
void mg_px_error_body(int client_format, int status, const char *kind, const char *message,
                      mg_buf *out);
/* The same as one SSE event, for errors after the stream was committed. */
void mg_px_error_event(int client_format, int status, const char *kind, const char *message,
                       mg_buf *out);

/* Canonical usage, whatever the format: input includes cached tokens,
 * output includes reasoning. */
typedef struct mg_usage {
    long input, output, reasoning, cached_read, cache_write, tool_use, audio;
    int seen; /* usage arrived from the upstream */
} mg_usage;

/* Read usage from a non-streaming response body or one stream event's
 * data in the given provider format; merges into u (stream usage that is
 * cumulative replaces, never adds). */
/* Usage from one stream event's JSON text (or a whole body, read fully). */
void mg_px_usage_from_event(int format, const char *data, size_t len, mg_usage *u);
/* OpenAI's usage chunk: "choices": [] beside a usage object. */
int mg_px_is_usage_only_chunk(const char *data, size_t len);
/* Both in one scan: merges the event's usage into u and returns whether it
 * is OpenAI's usage-only chunk. */
int mg_px_usage_from_chunk(int format, const char *data, size_t len, mg_usage *u);
/* The same from a whole response body, parsing only the usage object. */
void mg_px_usage_from_body(int format, const char *body, size_t len, mg_usage *u);
/* Cheap check before parsing a stream event's JSON: could it carry usage? */
int mg_px_event_may_have_usage(int format, const char *event, size_t event_len,
                               const char *data, size_t len);

/* A routed target: provider and the model to send it. */
typedef struct mg_px_target {
    const mg_provider_cfg *provider;
    char *model;
} mg_px_target;

/* The state of one proxied request. Owner: the worker that created it; it
 * frees itself when both the client side and the upstream side are done. */
typedef struct mg_px mg_px;

/* Entry for client requests on a proxy path. */
void mg_px_handle(struct mg_worker *w, mg_http_req *req, const mg_px_endpoint *ep);
/* GET /v1/models from the current generation's config. */
void mg_px_models(struct mg_worker *w, mg_http_req *req);

#endif
