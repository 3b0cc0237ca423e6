-- moongate.alerts.runner — the Lua half of the alerts engine (src/alerts).
-- The host calls it in its own policy generation:
--   collect(defs)       the merged `alerts = { ... }` of every policy file →
--                       a list of { name, json, fn, error }: json is the
--                       declarative part (metric, window, op, threshold, ...)
--                       that C validates exactly like an API rule; fn is the
--                       rule's function when it has one.
--   helper(query, groups)  the `m` object a function rule receives (see
--                       moongate.alerts.metrics).
--   run(fn, m)          call a function rule and normalise what it returned.
-- A rule is a table, or a function over m:
--   slow = { metric = "p95_latency", window = 300, op = ">", threshold = 2000,
--            min_samples = 10, severity = "warning", cooldown = 600,
--            group_by = "provider", channels = { "ops", "in_app" } },
--   spend = function(m) return m.cost_per_hour(3600) > 5 end,
--   mix = { value = function(m) return m.model_switch_rate(600) end, op = ">", threshold = 0.5 },
-- A function may return nil (no data), a boolean (firing or not), a number
-- (compared with op/threshold), a table { value=, firing=, samples=,
-- labels = { provider = "x" } } or a list of such tables (one alert each).
-- Plain Lua: nothing here needs `mg`.

local json = require("cjson")
local metrics = require("moongate.alerts.metrics")

local M = {}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  return keys
end

-- Empty tables encode as {} with cjson; lists that may be empty are dropped.
local LISTS = { group_by = true, channels = true }

local function spec_of(def)
  local spec, fn = {}, nil
  for k, v in pairs(def) do
    if k == "value" or k == "condition" then
      if type(v) ~= "function" then error(k .. " must be a function", 0) end
      fn = v
    elseif not (LISTS[k] and type(v) == "table" and next(v) == nil) then
      spec[k] = v
    end
  end
  return spec, fn
end

function M.collect(defs)
  local out = {}
  for _, name in ipairs(sorted_keys(defs or {})) do
    local def = defs[name]
    local entry = { name = name }
    local ok, err = pcall(function()
      local spec, fn
      if type(def) == "function" then
        spec, fn = {}, def
      elseif type(def) == "table" then
        spec, fn = spec_of(def)
      else
        error("a rule is a table or a function", 0)
      end
      entry.json = json.encode(spec)
      entry.fn = fn
    end)
    if not ok then entry.error = tostring(err) end
    out[#out + 1] = entry
  end
  return out
end

function M.helper(query, groups)
  return metrics.new(query, groups)
end

local function labels_of(t)
  local out = {}
  if type(t) ~= "table" then return out end
  for _, k in ipairs(sorted_keys(t)) do
    local v = t[k]
    if type(v) == "string" or type(v) == "number" or type(v) == "boolean" then
      out[#out + 1] = { k, tostring(v) }
    end
  end
  return out
end

local function one(v)
  local t = type(v)
  if t == "boolean" then return { firing = v, labels = {} } end
  if t == "number" then return { value = v, samples = 1, labels = {} } end
  if t ~= "table" then error("a rule function returns nil, a boolean, a number or a table", 0) end
  local o = { labels = labels_of(v.labels) }
  if v.value ~= nil then
    if type(v.value) ~= "number" then error("value must be a number", 0) end
    o.value = v.value
  end
  if v.firing ~= nil then o.firing = v.firing and true or false end
  o.samples = type(v.samples) == "number" and v.samples or (o.value ~= nil and 1 or 0)
  return o
end

-- The function's result as a list of observations.
function M.normalize(r)
  if r == nil then return {} end
  if type(r) == "table" and r[1] ~= nil then
    local out = {}
    for i, v in ipairs(r) do
      if i > 100 then break end
      out[#out + 1] = one(v)
    end
    return out
  end
  return { one(r) }
end

function M.run(fn, m)
  return M.normalize(fn(m))
end

return M
