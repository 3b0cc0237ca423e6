-- reasoning_growth — reasoning tokens taking a growing share of output:
-- the last 7 days against the 7 before, and what the extra costs.

local M = { name = "reasoning_growth" }

local MIN_REASONING = 10000
local MIN_GROWTH = 0.25

local function share(daily, from, to)
  local r, o = 0, 0
  for _, d in ipairs(daily) do
    if d.day_ms >= from and d.day_ms < to then r, o = r + d.tokens_reasoning, o + d.tokens_output end
  end
  return r, o
end

-- Average USD per reasoning token over the models used.
local function reasoning_price(models)
  local tokens, usd = 0, 0
  for _, m in ipairs(models or {}) do
    if m.price and m.tokens_reasoning > 0 then
      local p = (m.price.reasoning or 0) > 0 and m.price.reasoning or m.price.output
      tokens, usd = tokens + m.tokens_reasoning, usd + m.tokens_reasoning * p / 1e6
    end
  end
  return tokens > 0 and usd / tokens or 0
end

function M.generate(data, u)
  local day = 86400000
  local today = math.floor(data.now_ms / day) * day
  local r1, o1 = share(data.daily or {}, today - 6 * day, today + day)
  local r0, o0 = share(data.daily or {}, today - 13 * day, today - 6 * day)
  if r1 < MIN_REASONING or r0 <= 0 or o0 <= 0 or o1 <= 0 then return {} end
  local growth = r1 / r0 - 1
  if growth < MIN_GROWTH then return {} end
  local extra_month = (r1 - r0) / 7 * 30 * reasoning_price(data.models)
  return { {
    key = "growth",
    priority = 3,
    title = string.format("Reasoning tokens up %s week over week", u.pct(growth)),
    explanation = string.format(
      "%d reasoning tokens in the last 7 days (%s of output) against %d the 7 days before (%s). " ..
      "At this pace that is about %s a month more. A lower reasoning effort for routine requests " ..
      "would cut it.", r1, u.pct(r1 / o1), r0, u.pct(r0 / o0), u.usd(extra_month)),
    monthly_saving = extra_month > 0 and extra_month or nil,
    actions = { { action = "dismiss", label = "Dismiss" } },
  } }
end

return M
