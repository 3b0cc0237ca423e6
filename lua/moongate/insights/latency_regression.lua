-- latency_regression — a model whose p95 latency this week is clearly worse
-- than last week's (successful requests only).

local M = { name = "latency_regression" }

local MIN_REQUESTS = 20
local MIN_RATIO = 1.2   -- 20% slower
local MIN_DELTA_MS = 100

function M.generate(data, u)
  local out = {}
  for _, w in ipairs(data.latency_weeks or {}) do
    local now, before = w.this, w.last
    if now and before and (now.requests or 0) >= MIN_REQUESTS and (before.requests or 0) >= MIN_REQUESTS
        and now.p95 and before.p95 and before.p95 > 0 then
      local ratio = now.p95 / before.p95
      if ratio >= MIN_RATIO and now.p95 - before.p95 >= MIN_DELTA_MS then
        out[#out + 1] = {
          key = "model:" .. w.model,
          priority = ratio >= 2 and 1 or 2,
          title = string.format("%s got %s slower week over week", w.model, u.pct(ratio - 1)),
          explanation = string.format(
            "p95 latency of %s is %.0f ms over the last 7 days (%d requests) against %.0f ms " ..
            "the 7 days before (%d requests); the median moved from %.0f to %.0f ms. Consider " ..
            "a faster provider for it, or failover on latency.",
            w.model, now.p95, now.requests, before.p95, before.requests, before.p50 or 0, now.p50 or 0),
          actions = { { action = "snooze", label = "Remind me in a week", seconds = 7 * 86400 },
                      { action = "dismiss", label = "Dismiss" } },
        }
      end
    end
  end
  return out
end

return M
