-- Unit tests for lua/moongate/alerts/runner.lua and metrics.lua: how policy
-- rules are split into their declarative JSON and function, what function
-- results mean, and the `m` helper's calls. Pure Lua, no host.

local json = require("cjson")
local runner = require("moongate.alerts.runner")

local T = {}

local function eq(a, b, what)
  if a ~= b then error((what or "value") .. ": expected " .. tostring(b) .. ", got " .. tostring(a), 2) end
end

local function by_name(list)
  local out = {}
  for _, e in ipairs(list) do out[e.name] = e end
  return out
end

function T.collect_declarative_rule()
  local rules = by_name(runner.collect({
    slow = { metric = "p95_latency", window = 300, op = ">", threshold = 2000,
             group_by = "provider", channels = { "ops" }, filters = { provider = "openai" } },
  }))
  local e = rules.slow
  eq(e.error, nil, "error")
  eq(e.fn, nil, "fn")
  local spec = json.decode(e.json)
  eq(spec.metric, "p95_latency")
  eq(spec.threshold, 2000)
  eq(spec.group_by, "provider")
  eq(spec.channels[1], "ops")
  eq(spec.filters.provider, "openai")
end

function T.collect_function_rules()
  local f = function() return true end
  local rules = by_name(runner.collect({
    bare = f,
    mix = { value = f, op = ">", threshold = 0.5, channels = {} },
  }))
  eq(rules.bare.fn, f, "bare fn")
  eq(rules.bare.json, "{}", "bare json")
  eq(rules.mix.fn, f, "mix fn")
  local spec = json.decode(rules.mix.json)
  eq(spec.value, nil, "function left out of the json")
  eq(spec.channels, nil, "empty list dropped")
  eq(spec.threshold, 0.5)
end

function T.collect_reports_bad_rules()
  local rules = by_name(runner.collect({
    num = 42,
    badvalue = { value = 3 },
    nested_fn = { metric = "cost", channels = { function() end } },
  }))
  assert(rules.num.error:find("table or a function"), rules.num.error)
  assert(rules.badvalue.error:find("value must be a function"), rules.badvalue.error)
  assert(rules.nested_fn.error, "a function inside the json part is an error")
end

function T.collect_is_sorted_and_tolerates_nil()
  local list = runner.collect({ b = { metric = "cost" }, a = { metric = "cost" } })
  eq(list[1].name, "a")
  eq(list[2].name, "b")
  eq(#runner.collect(nil), 0)
end

function T.normalize_results()
  eq(#runner.normalize(nil), 0, "nil is no data")
  local b = runner.normalize(true)[1]
  eq(b.firing, true)
  local n = runner.normalize(0.25)[1]
  eq(n.value, 0.25)
  eq(n.samples, 1)
  local t = runner.normalize({ value = 3, samples = 7, labels = { provider = "x", model = "m" } })[1]
  eq(t.samples, 7)
  eq(t.labels[1][1], "model", "labels sorted")
  eq(t.labels[2][2], "x")
  local list = runner.normalize({ { value = 1 }, { firing = false, labels = { k = 2 } } })
  eq(#list, 2)
  eq(list[2].firing, false)
  eq(list[2].labels[1][2], "2", "label values become strings")
  local ok, err = pcall(runner.normalize, "yes")
  assert(not ok and err:find("returns nil"), err)
  ok, err = pcall(runner.normalize, { value = "3" })
  assert(not ok and err:find("value must be a number"), err)
end

function T.metrics_helper_calls()
  local calls = {}
  local function query(metric, window, filters)
    calls[#calls + 1] = { metric, window, filters }
    return 0.5, 10
  end
  local function groups(label, window) return { label .. "@" .. window } end
  local m = runner.helper(query, groups)
  local v, n = m.error_rate(300, { provider = "openai" })
  eq(v, 0.5)
  eq(n, 10)
  eq(calls[1][1], "error_rate")
  eq(calls[1][3].provider, "openai")
  m.latency(95, 60)
  eq(calls[2][1], "p95_latency")
  m.sum("cost", 60)
  eq(calls[3][1], "sum:cost")
  m.percentile("ttft_ms", 99, 60)
  eq(calls[4][1], "p99:ttft_ms")
  m.budget_usage("global/day")
  eq(calls[5][1], "budget_usage")
  eq(calls[5][3].budget, "global/day")
  m.model_switch_rate(600)
  eq(calls[6][1], "model_switch_rate")
  eq(m.groups("provider", 60)[1], "provider@60")
end

function T.run_calls_the_rule_with_m()
  local m = runner.helper(function(metric) return metric == "cost_per_hour" and 7 or 0, 1 end,
    function() return {} end)
  local out = runner.run(function(mm) return mm.cost_per_hour(3600) > 5 end, m)
  eq(out[1].firing, true)
  out = runner.run(function(mm)
    local list = {}
    for _, p in ipairs({ "a", "b" }) do list[#list + 1] = { value = 1, labels = { provider = p } } end
    return list
  end, m)
  eq(#out, 2)
  eq(out[2].labels[1][2], "b")
end

return T
