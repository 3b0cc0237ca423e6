-- 002_rollups.sql — per-minute sums of `requests`, so dashboards stay fast
-- at millions of rows. The writer thread upserts them in the same
-- transaction as the rows they summarise (src/store/batch.c), so a rollup
-- never counts a row that was not committed.
--
-- Key columns are NOT NULL with '' standing for "none": SQLite treats NULLs
-- in a unique key as distinct, which would break ON CONFLICT DO UPDATE.

CREATE TABLE rollup_minute (
    minute             INTEGER NOT NULL,            -- ts_ms / 60000 (epoch minute)
    provider           TEXT    NOT NULL DEFAULT '',
    model              TEXT    NOT NULL DEFAULT '', -- requests.model_routed
    key_id             TEXT    NOT NULL DEFAULT '',
    status             TEXT    NOT NULL DEFAULT '',
    environment        TEXT    NOT NULL DEFAULT '',
    requests           INTEGER NOT NULL DEFAULT 0,
    errors             INTEGER NOT NULL DEFAULT 0,  -- rows whose status is not 'success'
    tokens_input       INTEGER NOT NULL DEFAULT 0,
    tokens_output      INTEGER NOT NULL DEFAULT 0,
    tokens_reasoning   INTEGER NOT NULL DEFAULT 0,
    tokens_cached_read INTEGER NOT NULL DEFAULT 0,
    tokens_cache_write INTEGER NOT NULL DEFAULT 0,
    cost               REAL    NOT NULL DEFAULT 0,
    savings            REAL    NOT NULL DEFAULT 0,
    duration_ms_sum    REAL    NOT NULL DEFAULT 0,
    ttft_ms_sum        REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, provider, model, key_id, status, environment)
);
