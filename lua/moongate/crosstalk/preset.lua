-- moongate.crosstalk.preset — checks a preset table and returns its
-- normalised form, or nil and one human line naming the file, the line
-- when it can be found, the key path and the problem:
--   "debate.lua:14: participants[2].temperature: expected a number from 0 to 2, got "hot""
-- Resolves the topology and paradigm (inline, from policies/ definitions,
-- or built in under moongate.crosstalk.topologies/paradigms).
local templates = require("moongate.crosstalk.templates")

local M = {}

M.LIMITS = {
  participants = 16, prompt = 65536, system = 16384, id = 32, name = 64, model = 200,
  rounds = 1000, max_tokens = 32768, headers = 16, max_turns = 10000,
}
M.DEFAULT_MAX_TOKENS = 400
M.DEFAULT_MAX_TURNS = 1000

local TOP_KEYS = {
  name = true, description = true, prompt = true, participants = true, topology = true,
  paradigm = true, rounds = true, budget_usd = true, options = true, key_id = true,
}
local PARTICIPANT_KEYS = {
  id = true, name = true, model = true, system = true, template = true, temperature = true,
  max_tokens = true, headers = true,
}

-- JSON presets carry cjson.null for null; treat it as absent.
local function strip_nulls(v, depth)
  if type(v) ~= "table" or depth > 20 then return v end
  for k, x in pairs(v) do
    if type(x) == "userdata" then v[k] = nil else strip_nulls(x, depth + 1) end
  end
  return v
end

local function show(v)
  if type(v) == "string" then return string.format("%q", #v > 40 and v:sub(1, 37) .. "..." or v) end
  return type(v) == "table" and "a table" or tostring(v)
end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- The line of `key = ` in the source, searching after the participant's
-- `id = "..."` line when the problem is inside a participant.
local function locate(src, key, pid)
  if type(src) ~= "string" then return nil end
  local lines, start = {}, 1
  for line in (src .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  if pid then
    for i, line in ipairs(lines) do
      if line:find("id%s*=%s*[\"']" .. pid:gsub("%p", "%%%0") .. "[\"']") then start = i break end
    end
  end
  if type(key) == "string" and key:match("^[%a_][%w_]*$") then
    for i = start, #lines do
      local line = lines[i]:gsub("%-%-.*$", "")
      if line:find("^%s*" .. key .. "%s*=") or line:find("[{,;]%s*" .. key .. "%s*=") then return i end
    end
  end
  return pid and start > 1 and start or nil
end

local Checker = {}
Checker.__index = Checker

function Checker:fail(path, msg, key, pid)
  local line = locate(self.source, key, pid)
  local where = self.file .. (line and (":" .. line) or "")
  error({ preset_error = where .. ": " .. (path ~= "" and (path .. ": ") or "") .. msg }, 0)
end

function Checker:string(v, path, key, opts)
  opts = opts or {}
  if v == nil then
    if opts.required then self:fail(path, "is required", key, opts.pid) end
    return nil
  end
  if type(v) ~= "string" then self:fail(path, "expected a string, got " .. show(v), key, opts.pid) end
  if opts.nonempty and v == "" then self:fail(path, "must not be empty", key, opts.pid) end
  if opts.max and #v > opts.max then
    self:fail(path, "is too long (" .. #v .. " bytes, at most " .. opts.max .. ")", key, opts.pid)
  end
  return v
end

function Checker:number(v, path, key, lo, hi, opts)
  opts = opts or {}
  if v == nil then return nil end
  local what = opts.integer and "an integer" or "a number"
  if type(v) ~= "number" or v ~= v or v < lo or v > hi or (opts.integer and v % 1 ~= 0) then
    self:fail(path, "expected " .. what .. " from " .. lo .. " to " .. hi .. ", got " .. show(v), key, opts.pid)
  end
  return v
end

function Checker:headers(v, path, pid)
  if v == nil then return nil end
  if type(v) ~= "table" then self:fail(path, "expected a table of header = value", "headers", pid) end
  local out, n = {}, 0
  for k, x in pairs(v) do
    n = n + 1
    if type(k) ~= "string" or not k:match("^[%w%-]+$") or #k > 64 then
      self:fail(path, "header names are letters, digits and '-', got " .. show(k), "headers", pid)
    end
    if type(x) ~= "string" or #x > 1024 or x:find("[\r\n]") then
      self:fail(path .. "." .. k, "expected a one-line string of at most 1024 bytes", "headers", pid)
    end
    local lower = k:lower()
    if lower == "authorization" or lower == "content-length" or lower == "host" or lower == "transfer-encoding" then
      self:fail(path .. "." .. k, "this header is set by the gateway", "headers", pid)
    end
    out[lower] = x
  end
  if n > M.LIMITS.headers then self:fail(path, "at most " .. M.LIMITS.headers .. " headers", "headers", pid) end
  return out
end

function Checker:participant(p, i, opts, seen)
  local path = "participants[" .. i .. "]"
  if type(p) ~= "table" then self:fail(path, "expected a table { id = ..., model = ... }, got " .. show(p), "participants") end
  local pid = type(p.id) == "string" and p.id or nil
  for _, k in ipairs(sorted_keys(p)) do
    if not PARTICIPANT_KEYS[k] then
      self:fail(path, "unknown key " .. show(k) .. " (known: id, name, model, system, template, temperature, max_tokens, headers)", k, pid)
    end
  end
  local id = self:string(p.id, path .. ".id", "id", { required = true, nonempty = true, max = M.LIMITS.id, pid = pid })
  if not id:match("^[%w_%-]+$") then self:fail(path .. ".id", "use letters, digits, '_' and '-' only, got " .. show(id), "id", pid) end
  if seen[id] then self:fail(path .. ".id", show(id) .. " is already used by participants[" .. seen[id] .. "]", "id", pid) end
  seen[id] = i
  local out = { id = id }
  out.name = self:string(p.name, path .. ".name", "name", { nonempty = true, max = M.LIMITS.name, pid = pid }) or id
  out.model = self:string(p.model, path .. ".model", "model", { required = true, nonempty = true, max = M.LIMITS.model, pid = pid })
  local system = self:string(p.system, path .. ".system", "system", { max = M.LIMITS.system, pid = pid })
  local template = self:string(p.template, path .. ".template", "template", { pid = pid })
  if system and template then self:fail(path, "give either system or template, not both", "template", pid) end
  if template then
    if not templates[template] then
      self:fail(path .. ".template", "no template " .. show(template) .. " (templates: " .. table.concat(sorted_keys(templates), ", ") .. ")", "template", pid)
    end
    system = templates[template]
    out.template = template
  end
  out.system = system or ""
  out.temperature = self:number(p.temperature, path .. ".temperature", "temperature", 0, 2, { pid = pid }) or opts.temperature
  out.max_tokens = self:number(p.max_tokens, path .. ".max_tokens", "max_tokens", 1, M.LIMITS.max_tokens, { integer = true, pid = pid })
    or opts.max_tokens or M.DEFAULT_MAX_TOKENS
  out.headers = self:headers(p.headers, path .. ".headers", pid)
  return out
end

-- name (string) | { name or [1], opts... } | inline definition → kind-specific.
local function split_spec(spec)
  if type(spec) == "string" then return spec, {} end
  local opts = {}
  for k, v in pairs(spec) do
    if k ~= 1 and k ~= "name" then opts[k] = v end
  end
  return spec.name or spec[1], opts
end

local function builtin(kind, name)
  if type(name) ~= "string" or not name:match("^[%w_]+$") then return nil end
  local ok, mod = pcall(require, "moongate.crosstalk." .. kind .. "." .. name)
  if ok then return mod end
  if type(mod) == "string" and not mod:find("not found", 1, true) then error(mod, 0) end
  return nil
end

local BUILTIN = {
  topologies = "ring, star, mesh, chain",
  paradigms = "relay, debate, memory, report",
}

-- Returns the definition (table with the kind's functions), its name and options.
function Checker:resolve(kind, spec, defs, needs)
  local key = kind == "topologies" and "topology" or "paradigm"
  if spec == nil then self:fail(key, "is required (" .. BUILTIN[kind] .. ", or your own)", key) end
  if type(spec) == "function" then
    if kind ~= "topologies" then self:fail(key, "a paradigm is a table with a messages function", key) end
    return { name = "inline", turns = spec }, "inline", {}
  end
  if type(spec) ~= "string" and type(spec) ~= "table" then
    self:fail(key, "expected a name or a table, got " .. show(spec), key)
  end
  if type(spec) == "table" and type(spec[needs]) == "function" then
    local def, opts = {}, {}
    for k, v in pairs(spec) do
      if type(v) == "function" or k == "name" or k == "describe" then def[k] = v else opts[k] = v end
    end
    def.name = type(spec.name) == "string" and spec.name or "inline"
    return def, def.name, opts
  end
  local name, opts = split_spec(spec)
  if type(name) ~= "string" then self:fail(key, "name the " .. key .. ": \"...\" or { \"...\", option = ... }", key) end
  local def = defs and defs[name]
  if type(def) == "function" and kind == "topologies" then def = { name = name, turns = def } end
  if def == nil then def = builtin(kind, name) end
  if type(def) ~= "table" or type(def[needs]) ~= "function" then
    self:fail(key, "unknown " .. key .. " " .. show(name) .. " (built in: " .. BUILTIN[kind]
      .. "; or define one in policies/ under " .. kind .. " or inline)", key)
  end
  return def, name, opts
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

-- p: the preset table; ctx: { file = "debate.lua", source = text or nil,
-- paradigms = defs, topologies = defs, rounds = override, budget_usd = override }.
function M.check(p, ctx)
  local c = setmetatable({ file = ctx.file or "preset", source = ctx.source }, Checker)
  local ok, res = pcall(function()
    if type(p) ~= "table" then c:fail("", "a preset returns a table, got " .. show(p)) end
    strip_nulls(p, 0)
    for _, k in ipairs(sorted_keys(p)) do
      if type(k) ~= "string" or not TOP_KEYS[k] then
        c:fail("", "unknown key " .. show(k) .. " (known: " .. table.concat(sorted_keys(TOP_KEYS), ", ") .. ")", k)
      end
    end
    local out = {}
    out.name = c:string(p.name, "name", "name", { nonempty = true, max = 64 })
    out.description = c:string(p.description, "description", "description", { max = 2000 })
    out.prompt = c:string(p.prompt, "prompt", "prompt", { required = true, nonempty = true, max = M.LIMITS.prompt })
    local options = p.options or {}
    if type(options) ~= "table" then c:fail("options", "expected a table, got " .. show(options), "options") end
    out.options = options
    local defaults = {
      max_tokens = c:number(options.max_tokens, "options.max_tokens", "max_tokens", 1, M.LIMITS.max_tokens, { integer = true }),
      temperature = c:number(options.temperature, "options.temperature", "temperature", 0, 2),
    }
    out.max_turns = c:number(options.max_turns, "options.max_turns", "max_turns", 1, M.LIMITS.max_turns, { integer = true })
      or M.DEFAULT_MAX_TURNS
    local rounds = ctx.rounds ~= nil and ctx.rounds or p.rounds
    out.rounds = c:number(rounds, "rounds", "rounds", 1, M.LIMITS.rounds, { integer = true })
    local budget = ctx.budget_usd ~= nil and ctx.budget_usd or p.budget_usd
    out.budget_usd = c:number(budget, "budget_usd", "budget_usd", 0, 1e6)
    out.key_id = c:string(p.key_id, "key_id", "key_id", { nonempty = true, max = 128 })
    if type(p.participants) ~= "table" or #p.participants == 0 or not is_array(p.participants) then
      c:fail("participants", "expected a list of at least one participant { id = ..., model = ... }", "participants")
    end
    if #p.participants > M.LIMITS.participants then
      c:fail("participants", "at most " .. M.LIMITS.participants .. " participants", "participants")
    end
    out.participants = {}
    local seen = {}
    for i, q in ipairs(p.participants) do out.participants[i] = c:participant(q, i, defaults, seen) end
    out.topology, out.topology_name, out.topology_opts = c:resolve("topologies", p.topology, ctx.topologies, "turns")
    out.paradigm, out.paradigm_name, out.paradigm_opts = c:resolve("paradigms", p.paradigm, ctx.paradigms, "messages")
    -- Preset-wide options apply to the paradigm unless it overrides them.
    for k, v in pairs(options) do
      if out.paradigm_opts[k] == nil then out.paradigm_opts[k] = v end
    end
    if out.topology_opts.center == nil and options.center ~= nil then out.topology_opts.center = options.center end
    return out
  end)
  if ok then return res end
  if type(res) == "table" and res.preset_error then return nil, res.preset_error end
  return nil, c.file .. ": " .. tostring(res)
end

return M
