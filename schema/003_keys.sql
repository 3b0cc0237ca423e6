-- 003_keys.sql — virtual API keys (src/keys). The secret itself is never
-- stored: only its SHA-256 (hex) and a short display prefix. Written only by
-- the keys writer thread (src/keys/persist.c); read once at start
-- (src/keys/load.c), after which the gateway works from memory. Spend is not
-- kept here: it is SUM(requests.cost) by key_id, read at start.

CREATE TABLE keys (
    id               TEXT PRIMARY KEY,   -- 32 hex, time-ordered; requests.key_id
    name             TEXT NOT NULL,      -- human name, unique among active keys
    hash             TEXT NOT NULL UNIQUE, -- SHA-256 of the secret, 64 hex
    prefix           TEXT NOT NULL,      -- display prefix, e.g. mg-AbC123
    user_id          TEXT,               -- owner, stamped on requests.user_id
    environment      TEXT,               -- tag, stamped on requests.environment
    created_at       INTEGER NOT NULL,   -- ms since epoch
    revoked_at       INTEGER,            -- ms since epoch; NULL while active
    expires_at       INTEGER,            -- ms since epoch; NULL = never
    allowed_models   TEXT,               -- JSON array of names ("x*" = prefix); NULL = all
    rpm              INTEGER NOT NULL DEFAULT 0, -- requests per minute; 0 = no limit
    tpm              INTEGER NOT NULL DEFAULT 0, -- tokens per minute; 0 = no limit
    max_concurrency  INTEGER NOT NULL DEFAULT 0, -- requests in flight; 0 = no limit
    budget_usd_day   REAL NOT NULL DEFAULT 0,    -- USD per UTC day; 0 = none
    budget_usd_month REAL NOT NULL DEFAULT 0,    -- USD per UTC month; 0 = none
    metadata         TEXT,               -- JSON object from the creator; NULL = none
    updated_at       INTEGER NOT NULL    -- ms since epoch of the last change
);
