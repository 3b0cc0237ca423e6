-- token_trends — token use growing (or falling) fast: the last 7 days
-- against the 7 before, with what the change costs per month.

local M = { name = "token_trends" }

local MIN_TOKENS = 10000
local MIN_CHANGE = 0.3 -- 30%

local function sums(daily, from, to)
  local t = { tokens = 0, cost = 0, days = 0 }
  for _, d in ipairs(daily) do
    if d.day_ms >= from and d.day_ms < to then
      t.tokens = t.tokens + d.tokens_input + d.tokens_output
      t.cost = t.cost + d.cost
      t.days = t.days + 1
    end
  end
  return t
end

function M.generate(data, u)
  local day = 86400000
  local today = math.floor(data.now_ms / day) * day
  local now = sums(data.daily or {}, today - 6 * day, today + day)
  local before = sums(data.daily or {}, today - 13 * day, today - 6 * day)
  if before.tokens < MIN_TOKENS or now.tokens < MIN_TOKENS then return {} end
  local change = now.tokens / before.tokens - 1
  if math.abs(change) < MIN_CHANGE then return {} end
  local monthly = (now.cost - before.cost) / 7 * 30
  local up = change > 0
  return { {
    key = up and "growth" or "decline",
    priority = up and 2 or 4,
    title = string.format("Token use %s %s week over week", up and "up" or "down", u.pct(math.abs(change))),
    explanation = string.format(
      "%d tokens in the last 7 days against %d the 7 days before (%s). Spend went from %s " ..
      "to %s a week: about %s a month %s at this pace.",
      now.tokens, before.tokens, (up and "+" or "-") .. u.pct(math.abs(change)), u.usd(before.cost),
      u.usd(now.cost), u.usd(math.abs(monthly)), up and "more" or "less"),
    monthly_saving = nil,
    actions = { { action = "dismiss", label = "Dismiss" } },
  } }
end

return M
