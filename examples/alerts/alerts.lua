-- examples/alerts/alerts.lua — alert rules as a policy file. Copy it into
-- your policies/ folder; it reloads like any policy. Each rule watches a
-- metric over a window and notifies its channels once per cooldown while
-- it fires, and once more when it resolves. Named channels ("ops-slack",
-- "oncall-mail") are created through the API (see api.sh); a channel can
-- also be written inline as a table. Every alert also reaches the
-- dashboard (the in-app channel).
--
-- Metrics: error_rate, error_count, request_rate, request_count,
-- p50/p95/p99_latency, avg_latency, p95_ttft, cost, cost_per_hour,
-- cost_per_day, token_rate, tokens, cache_hit_rate, model_switch_rate,
-- budget_usage, and sum:/avg:/rate:/pNN: over any numeric record field.

return {
  alerts = {
    -- One alert per provider, not one per failed request.
    provider_errors = {
      metric = "error_rate", window = "10m", op = ">", threshold = 0.05,
      min_samples = 20, group_by = "provider", severity = "critical",
      cooldown = "30m", channels = { "ops-slack", "oncall-mail" },
    },

    slow_answers = {
      metric = "p95_latency", window = "5m", op = ">", threshold = 8000,
      min_samples = 10, group_by = "model_routed", cooldown = "1h",
      channels = { "ops-slack" },
      description = "p95 above 8 s: check the provider status page",
    },

    -- Spend over the last day, per key.
    daily_spend = {
      metric = "cost", window = "1d", op = ">", threshold = 100,
      group_by = "key_id", severity = "warning", cooldown = "6h",
      channels = { { type = "webhook", url = "https://hooks.example.com/moongate",
                     secret = "change-me" } },
    },

    -- Budgets (from the keys part): fires at 80% of any budget.
    budget_80 = { metric = "budget_usage", op = ">=", threshold = 0.8, cooldown = "12h",
                  channels = { "oncall-mail" } },

    -- Prompt caching stopped working?
    cache_hits = { metric = "cache_hit_rate", window = "1h", op = "<", threshold = 0.2,
                   min_samples = 100, severity = "info", cooldown = "1d" },

    -- Routing moves most requests to another model: was that intended?
    model_switches = { metric = "model_switch_rate", window = "30m", op = ">",
                       threshold = 0.5, min_samples = 50, severity = "info" },

    -- Anything mg.metrics can express: a function returning a value,
    -- a boolean, or a list of { value =, labels = } (one alert each).
    spend_vs_yesterday = {
      value = function(m)
        local today = m.cost(3600 * 6) or 0
        local usual = (m.cost(86400) or 0) / 4
        if usual == 0 then return nil end -- no data: clear
        return today / usual
      end,
      op = ">", threshold = 2, severity = "warning", cooldown = "6h",
    },

    slow_providers = function(m)
      local out = {}
      for _, p in ipairs(m.groups("provider", 600)) do
        local p95, n = m.latency(95, 600, { provider = p })
        if p95 and n >= 20 then
          out[#out + 1] = { firing = p95 > 10000, value = p95, samples = n, labels = { provider = p } }
        end
      end
      return out
    end,
  },
}
