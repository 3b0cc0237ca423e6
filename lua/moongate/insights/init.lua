-- moongate.insights — runs the insight generators over the data the host
-- queried (src/alerts/insight_data.c) and normalises what they say.
-- A generator is a module returning { name =, generate = function(data, u) }
-- (u = moongate.insights.util) that returns a list of insights:
--   { key = "stable id part" (default: title), priority = 1..5 (1 highest),
--     title = "...", explanation = "... with the numbers ...",
--     monthly_saving = USD or nil, actions = { { action = "apply" | "snooze"
--     | "dismiss", label = "...", shared = { dict =, key =, value = } }, ... } }
-- Built-in generators are listed in BUILTIN (one file each in this
-- folder); policies add their own with
--   insights = { mine = function(data, u) return { ... } end }
-- or { generate = function(data, u) ... end }. A generator that fails is
-- reported in `errors` and the others still run.
-- The data table: see the header of src/alerts/insight_data.c.

local json = require("cjson")
local util = require("moongate.insights.util")

local M = {}

M.BUILTIN = {
  "expensive_small", "latency_regression", "token_trends", "error_spikes",
  "reasoning_growth", "prompt_cache", "provider_reliability",
}

local function norm_action(a)
  if type(a) ~= "table" or type(a.action) ~= "string" then return nil end
  local out = { action = a.action, label = type(a.label) == "string" and a.label or a.action }
  if type(a.seconds) == "number" then out.seconds = a.seconds end
  if type(a.shared) == "table" and type(a.shared.dict) == "string" and type(a.shared.key) == "string" then
    local v = a.shared.value
    if type(v) == "string" or type(v) == "number" or type(v) == "boolean" then
      out.shared = { dict = a.shared.dict, key = a.shared.key, value = v }
    end
  end
  return out
end

local function normalise(gen, ins)
  if type(ins) ~= "table" or type(ins.title) ~= "string" then
    error("an insight needs a title", 0)
  end
  local p = tonumber(ins.priority) or 3
  p = math.max(1, math.min(5, math.floor(p)))
  local out = {
    generator = gen,
    key = type(ins.key) == "string" and ins.key or ins.title,
    priority = p,
    title = ins.title,
    explanation = type(ins.explanation) == "string" and ins.explanation or "",
    actions = {},
  }
  if type(ins.monthly_saving) == "number" and ins.monthly_saving == ins.monthly_saving then
    out.monthly_saving = util.round(ins.monthly_saving, 2)
  end
  for _, a in ipairs(type(ins.actions) == "table" and ins.actions or {}) do
    local na = norm_action(a)
    if na then out.actions[#out.actions + 1] = na end
  end
  if #out.actions == 0 then out.actions = nil end -- the host writes []
  return out
end

local function run_one(name, fn, data, all, errors)
  local ok, res = pcall(fn, data, util)
  if not ok then
    errors[#errors + 1] = name .. ": " .. tostring(res)
    return
  end
  for _, ins in ipairs(type(res) == "table" and res or {}) do
    local nok, n = pcall(normalise, name, ins)
    if nok then all[#all + 1] = n else errors[#errors + 1] = name .. ": " .. tostring(n) end
  end
end

-- Every generator over data → insights (priority, then saving, first) and errors.
function M.run(data, extra)
  local all, errors = {}, {}
  for _, name in ipairs(M.BUILTIN) do
    local ok, gen = pcall(require, "moongate.insights." .. name)
    if ok then run_one(name, gen.generate, data, all, errors)
    else errors[#errors + 1] = name .. ": " .. tostring(gen) end
  end
  local names = {}
  for k in pairs(extra or {}) do if type(k) == "string" then names[#names + 1] = k end end
  table.sort(names)
  for _, name in ipairs(names) do
    local def = extra[name]
    local fn = type(def) == "function" and def or (type(def) == "table" and def.generate)
    if type(fn) == "function" then run_one(name, fn, data, all, errors)
    else errors[#errors + 1] = name .. ": an insight generator is a function or { generate = fn }" end
  end
  table.sort(all, function(a, b)
    if a.priority ~= b.priority then return a.priority < b.priority end
    local sa, sb = a.monthly_saving or 0, b.monthly_saving or 0
    if sa ~= sb then return sa > sb end
    return a.title < b.title
  end)
  return all, errors
end

-- The host's entry point: data as JSON text in, { insights, errors } as JSON out.
function M.run_json(data_json, extra)
  local data = json.decode(data_json)
  local all, errors = M.run(data, extra)
  return json.encode({ insights = all, errors = errors })
end

return M
