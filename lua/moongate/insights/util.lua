-- moongate.insights.util — small helpers the insight generators share:
-- rounding, money and percentage text, the proxy's price formula, and
-- picking the cheapest model able to take a request.

local M = {}

function M.round(x, digits)
  local m = 10 ^ (digits or 0)
  return math.floor(x * m + 0.5) / m
end

function M.usd(x)
  if math.abs(x) >= 100 then return string.format("$%.0f", x) end
  return string.format("$%.2f", x)
end

function M.pct(x) return string.format("%.0f%%", x * 100) end

-- USD of token counts at a model's price (per million tokens), exactly as
-- the gateway prices a request: fresh input, cached reads, cache writes,
-- plain output and reasoning each at their price (falling back to input /
-- output when a model has no separate price). t: { tokens_input,
-- tokens_output, tokens_reasoning, tokens_cached_read, tokens_cache_write }.
function M.cost(price, t)
  local cached, written = t.tokens_cached_read or 0, t.tokens_cache_write or 0
  local fresh = math.max(0, (t.tokens_input or 0) - cached - written)
  local reasoning = t.tokens_reasoning or 0
  local plain_out = math.max(0, (t.tokens_output or 0) - reasoning)
  local rp = (price.reasoning or 0) > 0 and price.reasoning or price.output
  local cp = (price.cached_read or 0) > 0 and price.cached_read or price.input
  local wp = (price.cache_write or 0) > 0 and price.cache_write or price.input
  return (fresh * price.input + cached * cp + written * wp + plain_out * price.output + reasoning * rp) / 1e6
end

-- The cheapest served chat model (output priced, context >= need) for a
-- request of tokens_in input and out_tokens output; nil when none.
function M.cheapest(prices, tokens_in, out_tokens)
  local best, best_cost
  local names = {}
  for name in pairs(prices or {}) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local p = prices[name]
    if p.served and p.output > 0 and (p.context == 0 or p.context >= tokens_in + out_tokens) then
      local c = (tokens_in * p.input + out_tokens * p.output) / 1e6
      if not best_cost or c < best_cost then best, best_cost = name, c end
    end
  end
  return best, best_cost
end

-- "YYYY-MM-DD HH:00" (UTC) of a time in ms, without os.date (policies
-- have no os library).
function M.utc_hour(ms)
  local secs = math.floor(ms / 1000)
  local days, rem = math.floor(secs / 86400), secs % 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format("%04d-%02d-%02d %02d:00", y, m, d, math.floor(rem / 3600))
end

-- Days of data behind a period: whole days, at least 1.
function M.days(period)
  return math.max(1, math.floor((period.days_observed or 1) + 0.5))
end

return M
