-- provider_reliability — providers failing or timing out noticeably more
-- than the others over the last 7 days.

local M = { name = "provider_reliability" }

local MIN_REQUESTS = 50
local MIN_ERROR_RATE = 0.05

function M.generate(data, u)
  local out = {}
  local all_req, all_err = 0, 0
  for _, p in ipairs(data.providers or {}) do all_req, all_err = all_req + p.requests, all_err + p.errors end
  for _, p in ipairs(data.providers or {}) do
    local rate = p.requests > 0 and p.errors / p.requests or 0
    local others = all_req - p.requests > 0 and (all_err - p.errors) / (all_req - p.requests) or 0
    if p.requests >= MIN_REQUESTS and rate >= MIN_ERROR_RATE and rate > 2 * others then
      out[#out + 1] = {
        key = "provider:" .. p.provider,
        priority = rate >= 0.2 and 1 or 2,
        title = string.format("%s fails %s of requests", p.provider, u.pct(rate)),
        explanation = string.format("%d of %d requests to %s failed in the last 7 days (%d timeouts, " ..
          "%d needed a retry; average latency %.0f ms), against %s for the other providers. Add a " ..
          "failover target for its models, or an alert rule on its error_rate.",
          p.errors, p.requests, p.provider, p.timeouts, p.retried, p.avg_latency or 0, u.pct(others)),
        actions = { { action = "dismiss", label = "Dismiss" } },
      }
    end
  end
  return out
end

return M
