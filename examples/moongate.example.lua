-- moongate.example.lua — every configuration key, with its default.
--
-- Copy to ./moongate.lua (found automatically) or pass -c PATH. Check it
-- without starting anything:   moongate check -c moongate.lua
--
-- The file is Lua and returns one table. It runs in a small sandbox: base
-- functions, string, table, math and os.getenv only — no io, no require.
-- Unknown keys and wrong types are errors that name the key, so a typo
-- never goes unnoticed. Relative paths (db, policies, listen_tls.cert/key,
-- access_log, admin_token_file) are relative to this file's folder.
--
-- Reload (SIGHUP, `POST /api/policies/reload`, or saving a policy) applies
-- changes to providers, models, limits and policies at once; changing
-- listen, listen_tls, db or workers needs a restart (the gateway says so).
--
-- API keys: read them from the environment, never write them here.

return {
  -- Where clients connect. "HOST:PORT"; "[::1]:8080" for IPv6. Use
  -- "0.0.0.0:8080" only behind a firewall: the proxy spends your money.
  listen = "127.0.0.1:8080",

  -- Optional second listener speaking TLS (PEM files). All three keys
  -- are required when the table is present.
  -- listen_tls = { addr = "127.0.0.1:8443", cert = "tls/cert.pem", key = "tls/key.pem" },

  db = "data/moongate.db",     -- SQLite file with one row per request
  policies = "policies",       -- folder of routing / alert / insight scripts
  workers = 1,                 -- event-loop threads sharing the port (1..64)

  -- Token for /api/ and the dashboard (at least 16 characters). Leave it
  -- out and one is generated at first start and saved to admin_token_file
  -- (mode 0600). Prefer the environment:
  admin_token = os.getenv("MOONGATE_ADMIN_TOKEN"),
  admin_token_file = "data/admin_token",

  access_log = "-",            -- a file path, "-" for stderr, or false for none
  log_level = "info",          -- "debug" | "info" | "warn" | "error"
  environment = "default",     -- tag stamped on every request record

  -- HTTP server limits (bytes and seconds).
  limits = {
    max_header_bytes = 32768,
    max_headers = 100,
    max_body_bytes = 33554432, -- 32 MiB: long agent conversations with images
    header_timeout = 10,       -- to receive the request headers
    body_timeout = 30,         -- between two bytes of the request body
    request_timeout = 60,      -- to receive a whole request (headers + body), from its first byte
    keepalive_timeout = 75,    -- idle time between requests on one connection
    shutdown_grace = 30,       -- how long SIGTERM waits for requests in flight
  },

  -- Request records.
  store = {
    flush_interval = 0.01,     -- seconds between batched SQLite writes (the default)
    queue_capacity = 65536,    -- records waiting for the writer (then dropped and counted)
    retention_days = 30,       -- rows older than this are deleted; 0 keeps everything
    previews = false,          -- also store the first bytes of prompts and outputs
  },

  proxy = {
    max_attempts = 3,          -- targets tried per request (failover) before giving up
    default_max_tokens = 4096, -- sent to Anthropic when a client omits max_tokens
  },

  -- Model providers. A bare model name goes to the first provider listing
  -- it, then the next ones on failure; "name/model" picks one provider.
  providers = {
    {
      name = "openai",                        -- unique; [a-z0-9_.-]
      format = "openai",                      -- openai | anthropic | gemini | responses | mock
      base_url = "https://api.openai.com/v1", -- required unless format = "mock"
      api_key = os.getenv("OPENAI_API_KEY"),  -- nil: the client's own key is passed through
      models = { "gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-5", "gpt-5-mini", "o4-mini",
                 "text-embedding-3-small" },
      -- Seconds. Reasoning models may think for minutes before the first byte.
      timeouts = { connect = 10, first_byte = 300, idle = 120, total = 1800 },
      -- Extra headers sent upstream (values are never logged).
      headers = { ["OpenAI-Organization"] = os.getenv("OPENAI_ORG_ID") },
      -- After failure_threshold consecutive failures the provider is skipped
      -- for cooldown seconds, then half_open_probes requests test it again.
      breaker = { failure_threshold = 5, cooldown = 30, half_open_probes = 1 },
      tags = { "paid" },                      -- free-form labels for policies
    },
    {
      name = "anthropic",
      format = "anthropic",
      base_url = "https://api.anthropic.com",
      api_key = os.getenv("ANTHROPIC_API_KEY"),
      models = { "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1" },
    },
    {
      name = "gemini",
      format = "gemini",
      base_url = "https://generativelanguage.googleapis.com",
      api_key = os.getenv("GEMINI_API_KEY"),
      models = { "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite" },
    },
    -- Any OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenRouter ...):
    {
      name = "local",
      format = "openai",
      base_url = "http://127.0.0.1:11434/v1",
      models = { "llama3.1:8b" },
      timeouts = { first_byte = 600 },
    },
    -- The built-in mock: no network, deterministic answers. speed scales
    -- the simulated latency (0 = instant).
    {
      name = "mock",
      format = "mock",
      models = { "mock-gpt-4o-mini" },
      mock = { speed = 1.0 },
    },
  },

  -- Prices (USD per million tokens) and limits. The bundled table
  -- (lua/moongate/data/models.lua) covers the common models; entries here
  -- change only the fields they name, or add models.
  models = {
    ["llama3.1:8b"] = { vendor = "local", input = 0, output = 0, context = 131072 },
    -- ["gpt-4o"] = { input = 2.50, cached_read = 1.25, output = 10.00 },
    -- Fields: vendor, input, output, cached_read, cache_write, reasoning,
    --         context, max_output
  },
}
