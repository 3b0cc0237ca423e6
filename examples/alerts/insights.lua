-- examples/alerts/insights.lua — a policy adding an insight generator. The
-- built-in ones (lua/moongate/insights/) always run; these run after them.
-- A generator gets the data table (see src/alerts/insight_data.c: models,
-- daily, hourly, latency_weeks, prompt_repeats, providers, prices, ...)
-- and util (lua/moongate/insights/util.lua), and returns insights.

return {
  insights = {
    -- Requests to models the price table does not know cost 0 on the
    -- dashboard: say so.
    unpriced_models = function(data, u)
      local out = {}
      for _, m in ipairs(data.models) do
        if not m.price and m.requests >= 10 then
          out[#out + 1] = {
            key = "unpriced:" .. m.model,
            priority = 3,
            title = m.model .. " has no price",
            explanation = string.format("%d requests to %s in the last 30 days were counted as " ..
              "free. Add it to `models = { ... }` in the config to see its real cost.",
              m.requests, m.model),
            actions = { { action = "dismiss", label = "Dismiss" } },
          }
        end
      end
      return out
    end,
  },
}
