-- 001_requests.sql — one row per request, the columns exactly the fields of
-- src/store/record.h in the same order (tests/unit/test_record.c checks
-- names, types and count). Written only by the store's writer thread.

CREATE TABLE requests (
    id                 TEXT PRIMARY KEY, -- request id (32 hex), also x-moongate-request-id
    ts_ms              INTEGER,          -- wall time the request arrived, ms since epoch
    endpoint           TEXT,             -- inbound path, e.g. /v1/chat/completions
    client_format      TEXT,             -- openai | anthropic | responses | gemini | admin
    provider_format    TEXT,             -- format spoken to the provider
    provider           TEXT,             -- configured provider name of the final attempt
    model_requested    TEXT,             -- model the client asked for
    model_routed       TEXT,             -- model sent upstream on the final attempt
    status             TEXT,             -- success | error | refused | rate_limited | timeout | cancelled
    http_status        INTEGER,          -- status sent to the client
    upstream_status    INTEGER,          -- HTTP status of the final upstream attempt, 0 if none
    stream             INTEGER,          -- 1 when the client asked for a stream
    tokens_input       INTEGER,          -- input tokens, cached ones included
    tokens_output      INTEGER,          -- output tokens, reasoning included
    tokens_reasoning   INTEGER,          -- reasoning tokens (part of output)
    tokens_cached_read INTEGER,          -- input tokens read from the provider's cache
    tokens_cache_write INTEGER,          -- input tokens written to the provider's cache
    tokens_tool_use    INTEGER,          -- tokens spent on tool-use prompts
    tokens_audio       INTEGER,          -- audio tokens
    tokens_total       INTEGER,          -- input + output
    tokens_estimated   INTEGER,          -- 1 when usage was estimated (stream cut before usage)
    cost               REAL,             -- USD for this request at the routed model's price
    original_cost      REAL,             -- USD the requested model would have cost
    savings            REAL,             -- original_cost - cost when routing changed the model
    cost_unknown       INTEGER,          -- 1 when the model has no price (cost counted as 0)
    duration_ms        REAL,             -- first request byte to last response byte
    gateway_ms         REAL,             -- time in the gateway before the first upstream call
    connect_ms         REAL,             -- upstream connect time of the final attempt
    ttfb_ms            REAL,             -- upstream time to first byte of the final attempt
    generation_ms      REAL,             -- first upstream byte to last upstream byte
    ttft_ms            REAL,             -- request arrival to first content token sent to the client
    tokens_per_second  REAL,             -- output tokens / generation seconds
    attempts           INTEGER,          -- upstream attempts made (failover)
    attempts_json      TEXT,             -- JSON array: provider, model, status, result, duration_ms
    pauses             INTEGER,          -- times the upstream was paused for a slow client
    bytes_in           INTEGER,          -- request body bytes
    bytes_out          INTEGER,          -- response bytes sent to the client
    key_id             TEXT,             -- virtual key id (never the key itself)
    user_id            TEXT,             -- user the key or request belongs to
    environment        TEXT,             -- environment tag
    session_id         TEXT,             -- x-session-id or the client's conversation metadata
    crosstalk_session  TEXT,             -- crosstalk session id when the request is a turn
    policy_generation  INTEGER,          -- policy generation the request ran on
    worker             INTEGER,          -- worker thread that served it
    error              TEXT,             -- human-readable error, no secrets
    prompt_hash        TEXT,             -- hash of the first 1 KiB of the prompt (cache analysis)
    prompt_hash_system TEXT,             -- hash of the system prompt
    preview_request    TEXT,             -- truncated prompt, only when previews are enabled
    preview_response   TEXT              -- truncated output, only when previews are enabled
);

-- Time-window queries (dashboard, analytics, retention) and the filters the
-- dashboard offers. Session columns are NULL for most rows, so their indexes
-- are partial; `col = ?` still uses them.
-- Few indexes on purpose: every one costs the writer a B-tree insert per
-- request. Breakdowns by provider, model and status read rollup_minute;
-- per-request filters narrow by time first. Ids start with the time, so
-- the primary key grows at its right edge instead of splitting pages.
CREATE INDEX requests_ts ON requests (ts_ms);
CREATE INDEX requests_key ON requests (key_id) WHERE key_id IS NOT NULL;
CREATE INDEX requests_session ON requests (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX requests_crosstalk ON requests (crosstalk_session) WHERE crosstalk_session IS NOT NULL;
