-- moongate.alerts.metrics — the `m` object alert rule functions receive.
-- Every call reads the gateway's live metrics (the last hour per second,
-- 31 days per hour) and returns value, samples — value is nil when there
-- is no data. window is in seconds; filters is an optional table of record
-- fields (provider, model_requested, model_routed, status, key_id, user_id,
-- environment, client_format, or a numeric field) that must match.
--   m.error_rate(300, { provider = "openai" })   share of non-success records
--   m.latency(95, 300)                           p95 of duration_ms (ms)
--   m.cost_per_hour(3600)  m.cost_per_day(86400)  m.cost(600)
--   m.request_rate(60)  m.request_count(60)  m.error_count(60)
--   m.token_rate(60)  m.tokens(3600)  m.avg_latency(300)
--   m.cache_hit_rate(3600)                       tokens_cached_read / tokens_input
--   m.model_switch_rate(3600)                    model_routed ~= model_requested
--   m.budget_usage("global/day")                 spent / budget (0..1+)
--   m.sum(field, w)  m.avg(field, w)  m.rate(field, w)  m.percentile(field, q, w)
--   m.count(w)  m.value("p99_ttft", w)           any named metric
--   m.groups("provider", 300)                    providers seen in the window
-- Plain Lua over two host functions, query(metric, window, filters) and
-- groups(label, window, filters).

local M = {}

local NAMED = {
  "error_rate", "error_count", "request_rate", "request_count", "avg_latency",
  "cost", "cost_per_hour", "cost_per_day", "token_rate", "tokens",
  "cache_hit_rate", "model_switch_rate",
}

function M.new(query, groups)
  local m = {}
  function m.value(metric, window, filters) return query(metric, window, filters) end
  for _, name in ipairs(NAMED) do
    m[name] = function(window, filters) return query(name, window, filters) end
  end
  function m.latency(q, window, filters) return query("p" .. q .. "_latency", window, filters) end
  function m.ttft(q, window, filters) return query("p" .. q .. "_ttft", window, filters) end
  function m.sum(field, window, filters) return query("sum:" .. field, window, filters) end
  function m.avg(field, window, filters) return query("avg:" .. field, window, filters) end
  function m.rate(field, window, filters) return query("rate:" .. field, window, filters) end
  function m.percentile(field, q, window, filters)
    return query("p" .. q .. ":" .. field, window, filters)
  end
  function m.count(window, filters) return query("count", window, filters) end
  function m.budget_usage(scope)
    return query("budget_usage", 60, scope and { budget = scope } or nil)
  end
  function m.groups(label, window, filters) return groups(label, window, filters) end
  return m
end

return M
