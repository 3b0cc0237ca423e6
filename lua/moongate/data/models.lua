-- models.lua — bundled model metadata: list prices and limits of well-known
-- models, used to put a cost on every request.
--
-- Prices are USD per million tokens, standard (non-batch) tier, as published
-- on the vendors' pricing pages in late 2025 (last reviewed 2025-11).
-- Vendors change prices and add models: a config file overrides any field
-- or adds models with
--     models = { ["gpt-4o"] = { input = 2.00 }, ["my-model"] = { input = 1, output = 2 } }
-- and only the fields it names change.
--
-- Fields:
--   vendor       openai | anthropic | google | mock
--   input        uncached input tokens
--   output       output tokens (reasoning/thinking tokens too, unless
--                `reasoning` is given)
--   cached_read  input tokens served from the prompt cache
--   cache_write  input tokens written to the prompt cache (Anthropic, 5-minute
--                TTL; OpenAI and Google do not charge per token for writes)
--   reasoning    reasoning tokens, only when priced unlike output
--   context      context window, tokens
--   max_output   largest output per request, tokens
--
-- Lookups accept dated or suffixed names: "gpt-4o-mini-2024-07-18" and
-- "claude-sonnet-4-5-20250929" find the entries below.
--
-- This file runs in the same restricted Lua as the config (no io, no
-- require); it must return a table keyed by model name.

local models = {
  -- OpenAI ------------------------------------------------------------------
  ["gpt-4o"]        = { vendor = "openai", input = 2.50, cached_read = 1.25,  output = 10.00, context = 128000,  max_output = 16384 },
  ["gpt-4o-mini"]   = { vendor = "openai", input = 0.15, cached_read = 0.075, output = 0.60,  context = 128000,  max_output = 16384 },
  ["gpt-4.1"]       = { vendor = "openai", input = 2.00, cached_read = 0.50,  output = 8.00,  context = 1047576, max_output = 32768 },
  ["gpt-4.1-mini"]  = { vendor = "openai", input = 0.40, cached_read = 0.10,  output = 1.60,  context = 1047576, max_output = 32768 },
  ["gpt-4.1-nano"]  = { vendor = "openai", input = 0.10, cached_read = 0.025, output = 0.40,  context = 1047576, max_output = 32768 },
  ["o1"]            = { vendor = "openai", input = 15.00, cached_read = 7.50, output = 60.00, context = 200000,  max_output = 100000 },
  ["o3"]            = { vendor = "openai", input = 2.00, cached_read = 0.50,  output = 8.00,  context = 200000,  max_output = 100000 },
  ["o3-mini"]       = { vendor = "openai", input = 1.10, cached_read = 0.55,  output = 4.40,  context = 200000,  max_output = 100000 },
  ["o4-mini"]       = { vendor = "openai", input = 1.10, cached_read = 0.275, output = 4.40,  context = 200000,  max_output = 100000 },
  ["gpt-5"]         = { vendor = "openai", input = 1.25, cached_read = 0.125, output = 10.00, context = 400000,  max_output = 128000 },
  ["gpt-5-mini"]    = { vendor = "openai", input = 0.25, cached_read = 0.025, output = 2.00,  context = 400000,  max_output = 128000 },
  ["gpt-5-nano"]    = { vendor = "openai", input = 0.05, cached_read = 0.005, output = 0.40,  context = 400000,  max_output = 128000 },
  ["text-embedding-3-small"] = { vendor = "openai", input = 0.02, output = 0, context = 8191, max_output = 0 },
  ["text-embedding-3-large"] = { vendor = "openai", input = 0.13, output = 0, context = 8191, max_output = 0 },

  -- Anthropic (cache_write: 5-minute TTL, 1.25x input; cached_read 0.1x) ----
  ["claude-opus-4-5"]   = { vendor = "anthropic", input = 5.00,  cache_write = 6.25,  cached_read = 0.50, output = 25.00, context = 200000, max_output = 64000 },
  ["claude-opus-4-1"]   = { vendor = "anthropic", input = 15.00, cache_write = 18.75, cached_read = 1.50, output = 75.00, context = 200000, max_output = 32000 },
  ["claude-opus-4"]     = { vendor = "anthropic", input = 15.00, cache_write = 18.75, cached_read = 1.50, output = 75.00, context = 200000, max_output = 32000 },
  ["claude-sonnet-4-5"] = { vendor = "anthropic", input = 3.00,  cache_write = 3.75,  cached_read = 0.30, output = 15.00, context = 200000, max_output = 64000 },
  ["claude-sonnet-4"]   = { vendor = "anthropic", input = 3.00,  cache_write = 3.75,  cached_read = 0.30, output = 15.00, context = 200000, max_output = 64000 },
  ["claude-3-7-sonnet"] = { vendor = "anthropic", input = 3.00,  cache_write = 3.75,  cached_read = 0.30, output = 15.00, context = 200000, max_output = 64000 },
  ["claude-haiku-4-5"]  = { vendor = "anthropic", input = 1.00,  cache_write = 1.25,  cached_read = 0.10, output = 5.00,  context = 200000, max_output = 64000 },
  ["claude-3-5-haiku"]  = { vendor = "anthropic", input = 0.80,  cache_write = 1.00,  cached_read = 0.08, output = 4.00,  context = 200000, max_output = 8192 },

  -- Google (prompts up to 200k tokens; 2.5 Pro charges 2.50 in / 15.00 out
  -- above that. Cache storage is billed per hour, not here.) ---------------
  ["gemini-2.5-pro"]        = { vendor = "google", input = 1.25,  cached_read = 0.125, output = 10.00, context = 1048576, max_output = 65536 },
  ["gemini-2.5-flash"]      = { vendor = "google", input = 0.30,  cached_read = 0.03,  output = 2.50,  context = 1048576, max_output = 65536 },
  ["gemini-2.5-flash-lite"] = { vendor = "google", input = 0.10,  cached_read = 0.01,  output = 0.40,  context = 1048576, max_output = 65536 },
  ["gemini-2.0-flash"]      = { vendor = "google", input = 0.10,  cached_read = 0.025, output = 0.40,  context = 1048576, max_output = 8192 },
  ["gemini-2.0-flash-lite"] = { vendor = "google", input = 0.075, output = 0.30, context = 1048576, max_output = 8192 },
}

-- The built-in mock provider imitates the models above. "mock-<name>" is
-- priced like <name>, so the demo shows the cost the real model would have.
local real = {}
for name in pairs(models) do real[#real + 1] = name end
for _, name in ipairs(real) do
  local copy = {}
  for k, v in pairs(models[name]) do copy[k] = v end
  copy.vendor = "mock"
  models["mock-" .. name] = copy
end

return models
