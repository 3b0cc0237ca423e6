-- Unit tests for lua/moongate/insights: each built-in generator over a
-- small hand-made data table (the shape src/alerts/insight_data.c builds),
-- with the expected figures computed by hand in the comments, and the
-- runner's normalising, ordering and error handling. Pure Lua, no host.

local json = require("cjson")
local insights = require("moongate.insights")
local util = require("moongate.insights.util")

local T = {}

local DAY = 86400000
local NOW = 1763900000000 -- 2025-11-23

local function eq(a, b, what)
  if a ~= b then error((what or "value") .. ": expected " .. tostring(b) .. ", got " .. tostring(a), 2) end
end

local function near(a, b, what)
  if math.abs(a - b) > 1e-6 then error((what or "value") .. ": expected " .. b .. ", got " .. tostring(a), 2) end
end

local PRICES = {
  ["gpt-4o"] = { input = 2.5, output = 10, cached_read = 1.25, cache_write = 0, reasoning = 0, context = 128000, served = true },
  ["gpt-4o-mini"] = { input = 0.15, output = 0.6, cached_read = 0.075, cache_write = 0, reasoning = 0, context = 128000, served = true },
  -- cheaper input, but no output price: an embedding model is never the target
  ["text-embedding-3-small"] = { input = 0.02, output = 0, cached_read = 0, cache_write = 0, reasoning = 0, context = 8191, served = true },
  -- cheapest of all, but not served by any provider
  ["gpt-5-nano"] = { input = 0.05, output = 0.4, cached_read = 0.005, cache_write = 0, reasoning = 0, context = 400000, served = false },
}

local function base(extra)
  local d = { now_ms = NOW, small_tokens = 1000, prices = PRICES,
              period = { days = 30, from_ms = NOW - 30 * DAY, to_ms = NOW, days_observed = 15.02, requests = 0 },
              models = {}, latency_weeks = {}, daily = {}, hourly = {}, prompt_repeats = {},
              prompt_churn = {}, providers = {} }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

local function gen(name, data)
  return require("moongate.insights." .. name).generate(data, util)
end

-- 100 small gpt-4o requests: 500k input tokens (100k of them cached reads),
-- 200k output. Recorded cost at gpt-4o:
--   (400000 * 2.5 + 100000 * 1.25 + 200000 * 10) / 1e6 = 1.0 + 0.125 + 2.0 = 3.125
-- The same at gpt-4o-mini:
--   (400000 * 0.15 + 100000 * 0.075 + 200000 * 0.6) / 1e6 = 0.06 + 0.0075 + 0.12 = 0.1875
-- Saving 2.9375 over 15 days (15.02 rounds to 15) → 5.875 a month → 5.88.
function T.expensive_small_saving()
  local small = { requests = 100, cost = 3.125, tokens_input = 500000, tokens_output = 200000,
                  tokens_reasoning = 0, tokens_cached_read = 100000, tokens_cache_write = 0 }
  local data = base({ models = { { model = "gpt-4o", price_model = "gpt-4o", price = PRICES["gpt-4o"],
    requests = 130, cost = 9, small = small } } })
  local out = gen("expensive_small", data)
  eq(#out, 1)
  near(out[1].monthly_saving, 5.875)
  eq(out[1].priority, 3)
  assert(out[1].title:find("gpt%-4o%-mini"), out[1].title)
  assert(out[1].explanation:find("$2.94", 1, true), out[1].explanation)
  eq(out[1].actions[1].shared.dict, "routing")
  eq(out[1].actions[1].shared.key, "cheap_small")
  eq(out[1].actions[1].shared.value, true)
  -- through the runner the saving is rounded to cents
  local all = insights.run(data, {})
  eq(all[1].generator, "expensive_small")
  eq(all[1].monthly_saving, 5.88)
end

function T.expensive_small_needs_volume_and_a_cheaper_model()
  local few = { requests = 5, cost = 3, tokens_input = 4000, tokens_output = 100, tokens_reasoning = 0,
                tokens_cached_read = 0, tokens_cache_write = 0 }
  eq(#gen("expensive_small", base({ models = { { model = "gpt-4o", price_model = "gpt-4o",
    price = PRICES["gpt-4o"], requests = 5, cost = 3, small = few } } })), 0)
  local mini = { requests = 100, cost = 0.1, tokens_input = 50000, tokens_output = 50000,
                 tokens_reasoning = 0, tokens_cached_read = 0, tokens_cache_write = 0 }
  eq(#gen("expensive_small", base({ models = { { model = "gpt-4o-mini", price_model = "gpt-4o-mini",
    price = PRICES["gpt-4o-mini"], requests = 100, cost = 0.1, small = mini } } })), 0)
end

function T.util_cost_matches_the_proxy_formula()
  -- 1000 in (200 cached, 100 written), 500 out (100 reasoning), reasoning priced 20:
  -- (700 * 3 + 200 * 0.3 + 100 * 3.75 + 400 * 15 + 100 * 20) / 1e6
  local p = { input = 3, output = 15, cached_read = 0.3, cache_write = 3.75, reasoning = 20 }
  near(util.cost(p, { tokens_input = 1000, tokens_output = 500, tokens_reasoning = 100,
    tokens_cached_read = 200, tokens_cache_write = 100 }), (2100 + 60 + 375 + 6000 + 2000) / 1e6)
  eq(util.cheapest(PRICES, 500, 500), "gpt-4o-mini")
end

function T.latency_regression()
  local data = base({ latency_weeks = {
    { model = "gpt-4o", this = { requests = 50, p50 = 300, p95 = 900, avg = 350 },
      last = { requests = 60, p50 = 250, p95 = 600, avg = 300 } },
    { model = "steady", this = { requests = 50, p95 = 610 }, last = { requests = 50, p95 = 600 } },
    { model = "few", this = { requests = 5, p95 = 5000 }, last = { requests = 50, p95 = 600 } },
  } })
  local out = gen("latency_regression", data)
  eq(#out, 1)
  assert(out[1].title:find("50%%"), out[1].title) -- 900 / 600 = 1.5
  assert(out[1].explanation:find("900 ms") and out[1].explanation:find("600 ms"), out[1].explanation)
end

local function days(values)
  local today = math.floor(NOW / DAY) * DAY
  local out = {}
  for i, v in ipairs(values) do
    -- values[1] is 13 days ago ... values[14] is today
    out[#out + 1] = { day_ms = today - (14 - i) * DAY, requests = 10, errors = 0,
      tokens_input = v.tin or 0, tokens_output = v.tout or 0, tokens_reasoning = v.r or 0,
      tokens_cached_read = 0, cost = v.cost or 0 }
  end
  return out
end

function T.token_trends()
  local list = {}
  for i = 1, 14 do
    list[i] = i <= 7 and { tin = 1000, tout = 1000, cost = 1 } or { tin = 2000, tout = 2000, cost = 2 }
  end
  local out = gen("token_trends", base({ daily = days(list) }))
  eq(#out, 1)
  -- 28000 tokens against 14000: +100%; (14 - 7) / 7 * 30 = $30.00 a month more
  assert(out[1].title:find("up 100%%"), out[1].title)
  assert(out[1].explanation:find("$30.00", 1, true), out[1].explanation)
end

function T.reasoning_growth()
  local list = {}
  for i = 1, 14 do
    list[i] = i <= 7 and { tout = 10000, r = 1000 } or { tout = 10000, r = 3000 }
  end
  local data = base({ daily = days(list), models = { { model = "o3", price = { output = 8, reasoning = 0 },
    tokens_reasoning = 28000 } } })
  local out = gen("reasoning_growth", data)
  eq(#out, 1)
  -- 21000 vs 7000: +200%; (21000 - 7000) / 7 * 30 * 8 / 1e6 = 0.48 a month
  assert(out[1].title:find("200%%"), out[1].title)
  near(out[1].monthly_saving, 0.48)
end

function T.error_spikes()
  local hourly = {}
  for i = 1, 24 do
    hourly[i] = { hour_ms = NOW - (25 - i) * 3600000, requests = 100, errors = i == 20 and 40 or 1 }
  end
  local out = gen("error_spikes", base({ hourly = hourly }))
  eq(#out, 1)
  assert(out[1].explanation:find("40 of 100 failed"), out[1].explanation)
  eq(#gen("error_spikes", base({ hourly = { hourly[1], hourly[2] } })), 0)
end

function T.prompt_cache()
  -- 11 repeats of a 2000-token system prompt on gpt-4o, nothing cached:
  -- 10 repeats x 256 tokens x (2.5 - 1.25) / 1e6 x 30 / 7 = 0.013714...
  local data = base({
    prompt_repeats = { { kind = "system", hash = "h", count = 11, tokens_input = 2000, cached_read = 0,
                         model = "gpt-4o", price = PRICES["gpt-4o"] } },
    prompt_churn = { { who = "k1", requests = 100, distinct_system = 97 }, { who = "k2", requests = 100, distinct_system = 3 } },
  })
  local out = gen("prompt_cache", data)
  eq(#out, 2)
  near(out[1].monthly_saving, 10 * 256 * 1.25 / 1e6 * 30 / 7)
  assert(out[2].title:find("k1"), out[2].title)
end

function T.provider_reliability()
  local out = gen("provider_reliability", base({ providers = {
    { provider = "flaky", requests = 100, errors = 30, timeouts = 10, retried = 5, avg_latency = 900 },
    { provider = "solid", requests = 1000, errors = 10, timeouts = 0, retried = 0, avg_latency = 400 },
  } }))
  eq(#out, 1)
  assert(out[1].title:find("flaky fails 30%%"), out[1].title)
  eq(out[1].priority, 1)
end

function T.runner_orders_and_reports_errors()
  local data = base({ providers = {
    { provider = "flaky", requests = 100, errors = 30, timeouts = 0, retried = 0, avg_latency = 1 },
    { provider = "solid", requests = 1000, errors = 0, timeouts = 0, retried = 0, avg_latency = 1 } } })
  local all, errors = insights.run(data, {
    broken = function() error("boom") end,
    mine = function() return { { title = "Mine", priority = 9, monthly_saving = 12.345 } } end,
    notitle = { generate = function() return { { priority = 1 } } end },
    wrong = 5,
  })
  eq(#errors, 3)
  eq(all[1].generator, "provider_reliability") -- priority 1 first
  eq(all[#all].title, "Mine")
  eq(all[#all].priority, 5, "clamped")
  eq(all[#all].monthly_saving, 12.35)
  eq(all[#all].key, "Mine")
  local decoded = json.decode(insights.run_json(json.encode(data), {}))
  eq(decoded.insights[1].generator, "provider_reliability")
end

function T.utc_hour()
  eq(util.utc_hour(0), "1970-01-01 00:00")
  eq(util.utc_hour(951782400000 + 5 * 3600000), "2000-02-29 05:00")
end

return T
