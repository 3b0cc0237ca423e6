-- 006_crosstalk.sql — crosstalk sessions (src/crosstalk): one row per
-- session, one event per turn request (failed and cancelled ones too, so
-- SUM(events.cost) = the session's cost = SUM(requests.cost) of its
-- requests), and the transcript. Written only by the crosstalk database
-- thread (src/crosstalk/db.c), in order; read by the admin API.

CREATE TABLE crosstalk_sessions (
    id               TEXT PRIMARY KEY,  -- 32 hex, time-ordered; requests.crosstalk_session
    preset           TEXT NOT NULL,     -- preset name ("debate", or the file's name)
    paradigm         TEXT NOT NULL,     -- relay | debate | memory | report | a user's
    topology         TEXT NOT NULL,     -- ring | star | mesh | chain | a user's
    config_json      TEXT NOT NULL,     -- the checked preset (participants, options)
    prompt           TEXT,              -- the initial prompt
    state            TEXT NOT NULL,     -- running | paused | stepping | stopped | finished | failed | interrupted
    reason           TEXT,              -- why it ended: rounds, verdict, report, budget, operator, turn_failed, ...
    detail           TEXT,              -- the same for a human, with figures
    created_ms       INTEGER NOT NULL,  -- ms since epoch
    started_ms       INTEGER,           -- first turn started
    ended_ms         INTEGER,           -- reached a final state
    rounds_planned   INTEGER,           -- NULL: until budget, max_turns or stop
    rounds_done      INTEGER NOT NULL DEFAULT 0,
    turns_done       INTEGER NOT NULL DEFAULT 0, -- completed turns (in the transcript)
    requests         INTEGER NOT NULL DEFAULT 0, -- turn requests made (retries included)
    cost             REAL NOT NULL DEFAULT 0,    -- USD, sum of its requests' cost
    tokens_input     INTEGER NOT NULL DEFAULT 0,
    tokens_output    INTEGER NOT NULL DEFAULT 0,
    budget_usd       REAL,              -- NULL: no budget
    policy_generation INTEGER           -- generation whose paradigms it runs on
);
CREATE INDEX crosstalk_sessions_created ON crosstalk_sessions (created_ms);
CREATE INDEX crosstalk_sessions_state ON crosstalk_sessions (state);

CREATE TABLE crosstalk_events (
    id               INTEGER PRIMARY KEY,
    session_id       TEXT NOT NULL,     -- crosstalk_sessions.id
    round            INTEGER NOT NULL,
    turn             INTEGER NOT NULL,  -- position in the round, from 1
    from_id          TEXT NOT NULL,     -- the speaker
    to_ids           TEXT,              -- JSON array: who hears the speaker this round
    heard_ids        TEXT,              -- JSON array: whose messages were in the prompt
    model            TEXT,              -- model the preset asked for
    model_routed     TEXT,              -- model that answered
    provider         TEXT,
    status           TEXT,              -- the request's status (success, error, cancelled, ...)
    request_id       TEXT,              -- requests.id
    tokens_input     INTEGER,
    tokens_output    INTEGER,
    cost             REAL,
    duration_ms      REAL,
    ttft_ms          REAL,
    ts_ms            INTEGER NOT NULL,  -- when the turn ended
    error            TEXT
);
CREATE INDEX crosstalk_events_session ON crosstalk_events (session_id);

CREATE TABLE crosstalk_messages (
    id               INTEGER PRIMARY KEY,
    session_id       TEXT NOT NULL,
    round            INTEGER NOT NULL,  -- 0 for the initial prompt
    turn             INTEGER NOT NULL,
    role             TEXT NOT NULL,     -- prompt | participant | judge | synthesizer | ...
    speaker          TEXT,              -- participant id (NULL for the prompt)
    name             TEXT,              -- display name
    model            TEXT,
    content          TEXT NOT NULL,
    ts_ms            INTEGER NOT NULL
);
CREATE INDEX crosstalk_messages_session ON crosstalk_messages (session_id);
