-- 005_alerts.sql — alert rules and channels created through the API, the
-- history of fired and resolved alerts, and insights with their state
-- (src/alerts). Written only by the alerts engine's database thread
-- (src/alerts/db.c); rules and channels are read once at start, after
-- which the engine works from memory.

CREATE TABLE alert_rules (
    name        TEXT PRIMARY KEY,  -- unique among API rules
    definition  TEXT NOT NULL,     -- JSON: metric, window, op, threshold, ...
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);

CREATE TABLE alert_channels (
    name        TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,     -- JSON: type, url, secret, to, ... (secrets in clear:
                                   -- the database is the gateway's own, mode 0600 folder)
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);

CREATE TABLE alert_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms       INTEGER NOT NULL,  -- when the transition happened
    rule        TEXT NOT NULL,
    source      TEXT NOT NULL,     -- policy | api
    alert_key   TEXT NOT NULL,     -- rule + labels: one alert per key
    labels      TEXT,              -- JSON object, e.g. {"provider":"openai"}
    state       TEXT NOT NULL,     -- fired | resolved
    severity    TEXT,
    metric      TEXT,
    op          TEXT,
    threshold   REAL,
    value       REAL,              -- the value that triggered (or cleared) it
    samples     INTEGER,           -- records behind the value
    window_s    REAL,
    notified    INTEGER NOT NULL DEFAULT 0, -- 1 when channels were notified
    message     TEXT
);
CREATE INDEX alert_history_ts ON alert_history (ts_ms);
CREATE INDEX alert_history_rule ON alert_history (rule, ts_ms);

CREATE TABLE insights (
    id             TEXT PRIMARY KEY, -- generator + its key, hashed: stable across runs
    generator      TEXT NOT NULL,
    priority       INTEGER NOT NULL DEFAULT 3, -- 1 = highest
    title          TEXT NOT NULL,
    explanation    TEXT,
    monthly_saving REAL,             -- USD, NULL when it does not apply
    actions        TEXT,             -- JSON array
    state          TEXT NOT NULL DEFAULT 'active', -- active | applied | snoozed | dismissed
    snooze_until_ms INTEGER,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    seen_ms        INTEGER NOT NULL  -- last run that produced it
);
