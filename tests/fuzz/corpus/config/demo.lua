-- demo.lua — the config moongate uses when started without one
-- (no -c flag and no ./moongate.lua). Every provider here is the built-in
-- mock: deterministic text, realistic token counts and latency, no API key
-- and no network. The mocks answer to real model names, so an unchanged
-- OpenAI, Anthropic or Gemini SDK pointed at http://127.0.0.1:8080 just
-- works, and the dashboard prices each request like the real model.
--
--   curl http://127.0.0.1:8080/v1/chat/completions \
--     -H 'content-type: application/json' \
--     -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
--
-- Data (SQLite, the generated admin token) goes to ./data/ under the
-- directory you start moongate from; policies come from the install's
-- policies/ folder.
--
-- To use a real provider, copy examples/moongate.example.lua to
-- ./moongate.lua (it is picked up automatically) and add, for example:
--
--   { name = "openai", format = "openai", base_url = "https://api.openai.com/v1",
--     api_key = os.getenv("OPENAI_API_KEY"), models = { "gpt-4o-mini", "gpt-4o" } },
--   { name = "anthropic", format = "anthropic", base_url = "https://api.anthropic.com",
--     api_key = os.getenv("ANTHROPIC_API_KEY"), models = { "claude-sonnet-4-5" } },
--   { name = "gemini", format = "gemini",
--     base_url = "https://generativelanguage.googleapis.com",
--     api_key = os.getenv("GEMINI_API_KEY"), models = { "gemini-2.5-flash" } },
--
-- Providers listed first win when two serve the same model name; a client
-- can always pick one with "provider/model" (e.g. "mock-openai/gpt-4o").
-- Keys come from the environment: never write them into this file.

return {
  listen = "127.0.0.1:8080",
  db = "data/moongate.db",
  environment = "demo",

  providers = {
    {
      name = "mock-openai",
      format = "mock",
      mock = { speed = 1.0 }, -- 0 answers instantly; 2 is twice as slow
      models = {
        "gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano",
        "gpt-5", "gpt-5-mini", "gpt-5-nano", "o3", "o4-mini",
        "text-embedding-3-small", "text-embedding-3-large",
        "mock-gpt-4o-mini", "mock-gpt-4o",
      },
      tags = { "demo" },
    },
    {
      name = "mock-anthropic",
      format = "mock",
      mock = { speed = 1.0 },
      models = {
        "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1",
        "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001",
        "claude-opus-4-1-20250805",
        "mock-claude-sonnet-4-5", "mock-claude-haiku-4-5",
      },
      tags = { "demo" },
    },
    {
      name = "mock-gemini",
      format = "mock",
      mock = { speed = 1.0 },
      models = {
        "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-2.0-flash",
        "mock-gemini-2.5-flash", "mock-gemini-2.5-pro",
      },
      tags = { "demo" },
    },
  },
}
