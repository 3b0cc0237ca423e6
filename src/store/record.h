/* record.h — the request record, defined once. Each field's name is its SQL
 * column (schema/001_requests.sql, checked by tests/unit/test_record.c),
 * the key Lua's on_log sees and the field of `request_event` on the live
 * stream. Every request — from a client socket or from inside the host —
 * produces exactly one record.
 *
 * X(kind, name, doc): kind is TEXT (owned char*, NULL = SQL NULL), INT
 * (int64_t) or REAL (double). */
#ifndef MG_RECORD_H
#define MG_RECORD_H

#include <stdint.h>

#include "../core/buf.h"

#define MG_RECORD_FIELDS(X)                                                              \
    X(TEXT, id, "request id (32 hex), also x-moongate-request-id")                        \
    X(INT, ts_ms, "wall time the request arrived, ms since epoch")                       \
    X(TEXT, endpoint, "inbound path, e.g. /v1/chat/completions")                         \
    X(TEXT, client_format, "openai | anthropic | responses | gemini | admin")            \
    X(TEXT, provider_format, "format spoken to the provider")                            \
    X(TEXT, provider, "configured provider name of the final attempt")                   \
    X(TEXT, model_requested, "model the client asked for")                               \
    X(TEXT, model_routed, "model sent upstream on the final attempt")                    \
    X(TEXT, status, "success | error | refused | rate_limited | timeout | cancelled")    \
    X(INT, http_status, "status sent to the client")                                     \
    X(INT, upstream_status, "HTTP status of the final upstream attempt, 0 if none")      \
    X(INT, stream, "1 when the client asked for a stream")                               \
    X(INT, tokens_input, "input tokens, cached ones included")                           \
    X(INT, tokens_output, "output tokens, reasoning included")                           \
    X(INT, tokens_reasoning, "reasoning tokens (part of output)")                        \
    X(INT, tokens_cached_read, "input tokens read from the provider's cache")            \
    X(INT, tokens_cache_write, "input tokens written to the provider's cache")           \
    X(INT, tokens_tool_use, "tokens spent on tool-use prompts")                          \
    X(INT, tokens_audio, "audio tokens")                                                 \
    X(INT, tokens_total, "input + output")                                               \
    X(INT, tokens_estimated, "1 when usage was estimated (stream cut before usage)")     \
    X(REAL, cost, "USD for this request at the routed model's price")                    \
    X(REAL, original_cost, "USD the requested model would have cost")                    \
    X(REAL, savings, "original_cost - cost when routing changed the model")              \
    X(INT, cost_unknown, "1 when the model has no price (cost counted as 0)")            \
    X(REAL, duration_ms, "first request byte to last response byte")                     \
    X(REAL, gateway_ms, "time in the gateway before the first upstream call")            \
    X(REAL, connect_ms, "upstream connect time of the final attempt")                    \
    X(REAL, ttfb_ms, "upstream time to first byte of the final attempt")                 \
    X(REAL, generation_ms, "first upstream byte to last upstream byte")                  \
    X(REAL, ttft_ms, "request arrival to first content token sent to the client")        \
    X(REAL, tokens_per_second, "output tokens / generation seconds")                     \
    X(INT, attempts, "upstream attempts made (failover)")                                \
    X(TEXT, attempts_json, "JSON array: provider, model, status, result, duration_ms")   \
    X(INT, pauses, "times the upstream was paused for a slow client")                    \
    X(INT, bytes_in, "request body bytes")                                               \
    X(INT, bytes_out, "response bytes sent to the client")                               \
    X(TEXT, key_id, "virtual key id (never the key itself)")                             \
    X(TEXT, user_id, "user the key or request belongs to")                               \
    X(TEXT, environment, "environment tag")                                              \
    X(TEXT, session_id, "x-session-id or the client's conversation metadata")            \
    X(TEXT, crosstalk_session, "crosstalk session id when the request is a turn")        \
    X(INT, policy_generation, "policy generation the request ran on")                    \
    X(INT, worker, "worker thread that served it")                                       \
    X(TEXT, error, "human-readable error, no secrets")                                   \
    X(TEXT, prompt_hash, "hash of the first 1 KiB of the prompt (cache analysis)")       \
    X(TEXT, prompt_hash_system, "hash of the system prompt")                             \
    X(TEXT, preview_request, "truncated prompt, only when previews are enabled")         \
    X(TEXT, preview_response, "truncated output, only when previews are enabled")

#define MG_REC_TYPE_TEXT char *
#define MG_REC_TYPE_INT int64_t
#define MG_REC_TYPE_REAL double

typedef struct mg_record {
#define X(kind, name, doc) MG_REC_TYPE_##kind name;
    MG_RECORD_FIELDS(X)
#undef X
} mg_record;

enum mg_record_kind { MG_REC_TEXT, MG_REC_INT, MG_REC_REAL };

typedef struct mg_record_field {
    const char *name;
    int kind;       /* enum mg_record_kind */
    size_t offset;  /* offsetof(mg_record, name) */
    const char *doc;
} mg_record_field;

extern const mg_record_field mg_record_fields[];
extern const size_t mg_record_nfields;

mg_record *mg_record_new(void);  /* zeroed, id and ts_ms set */
void mg_record_free(mg_record *r);
/* Replace a TEXT field (copies s; NULL clears). */
void mg_record_set_text(char **field, const char *s);
void mg_record_set_textn(char **field, const char *s, size_t n);
/* Append the record as one JSON object. */
void mg_record_to_json(const mg_record *r, mg_buf *out);

#endif
