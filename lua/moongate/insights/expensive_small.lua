-- expensive_small — an expensive model answering small requests (under
-- data.small_tokens input tokens) that the cheapest served chat model
-- could take. Saving: what those requests cost, minus the same tokens at
-- the cheaper model's price (util.cost, the gateway's own formula),
-- scaled from the days observed to 30. Applying it turns on the bundled
-- routing policy's `routing.cheap_small` flag.

local M = { name = "expensive_small" }

local MIN_REQUESTS = 20   -- small requests of a model before we say anything
local MIN_MONTHLY = 1.0   -- USD per month worth mentioning
local OUT_ESTIMATE = 500  -- output tokens assumed when ranking models, as routing does

function M.generate(data, u)
  local out = {}
  local days = u.days(data.period)
  for _, m in ipairs(data.models or {}) do
    local s = m.small
    if m.price and s and s.requests >= MIN_REQUESTS then
      local avg_in = s.tokens_input / s.requests
      local cheap = u.cheapest(data.prices, avg_in, OUT_ESTIMATE)
      if cheap and cheap ~= m.price_model then
        local new_cost = u.cost(data.prices[cheap], s)
        local saving = s.cost - new_cost
        local monthly = saving * 30 / days
        if monthly >= MIN_MONTHLY then
          out[#out + 1] = {
            key = "model:" .. m.model,
            priority = monthly >= 100 and 1 or (monthly >= 10 and 2 or 3),
            title = string.format("Route small %s requests to %s", m.model, cheap),
            explanation = string.format(
              "%d of %d %s requests in the last %d day(s) had under %d input tokens " ..
              "(%.0f on average) and cost %s. The same tokens on %s would cost %s: %s saved " ..
              "over the period, about %s a month.",
              s.requests, m.requests, m.model, days, data.small_tokens, avg_in, u.usd(s.cost),
              cheap, u.usd(new_cost), u.usd(saving), u.usd(monthly)),
            monthly_saving = monthly,
            actions = {
              { action = "apply", label = "Send prompts under " .. data.small_tokens ..
                  " tokens to the cheapest model first (routing.cheap_small)",
                shared = { dict = "routing", key = "cheap_small", value = true } },
              { action = "snooze", label = "Remind me in a week", seconds = 7 * 86400 },
              { action = "dismiss", label = "Dismiss" },
            },
          }
        end
      end
    end
  end
  return out
end

return M
