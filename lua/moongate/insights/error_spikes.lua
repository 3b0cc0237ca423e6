-- error_spikes — hours of the last 7 days whose error rate stands far above
-- the week's usual rate (mean + 3 standard deviations, at least 5 errors).

local M = { name = "error_spikes" }

local MIN_REQUESTS = 10
local MIN_ERRORS = 5

function M.generate(data, u)
  local hours = {}
  for _, h in ipairs(data.hourly or {}) do
    if h.requests >= MIN_REQUESTS then hours[#hours + 1] = h end
  end
  if #hours < 6 then return {} end
  local sum, sq = 0, 0
  for _, h in ipairs(hours) do
    local r = h.errors / h.requests
    sum, sq = sum + r, sq + r * r
  end
  local mean = sum / #hours
  local sd = math.sqrt(math.max(0, sq / #hours - mean * mean))
  local spikes = {}
  for _, h in ipairs(hours) do
    local r = h.errors / h.requests
    if h.errors >= MIN_ERRORS and r > mean + 3 * sd and r > 2 * mean then spikes[#spikes + 1] = h end
  end
  if #spikes == 0 then return {} end
  table.sort(spikes, function(a, b) return a.errors / a.requests > b.errors / b.requests end)
  local parts = {}
  for i = 1, math.min(3, #spikes) do
    local h = spikes[i]
    parts[#parts + 1] = string.format("%s UTC: %d of %d failed (%s)",
      u.utc_hour(h.hour_ms), h.errors, h.requests, u.pct(h.errors / h.requests))
  end
  return { {
    key = "spikes:" .. spikes[1].hour_ms,
    priority = 2,
    title = string.format("%d error spike%s in the last 7 days", #spikes, #spikes == 1 and "" or "s"),
    explanation = string.format("The usual hourly error rate is %s; worst hours: %s. An alert rule on " ..
      "error_rate (e.g. > %s over 10 minutes) would catch the next one.",
      u.pct(mean), table.concat(parts, "; "), u.pct(math.max(0.05, mean + 3 * sd))),
    actions = { { action = "dismiss", label = "Dismiss" } },
  } }
end

return M
