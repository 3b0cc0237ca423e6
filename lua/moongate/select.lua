-- moongate.select — helpers for route hooks: each takes and returns targets
-- ("provider/model" or "model" strings, or { provider =, model =, ... }
-- tables, as route returns them), so they compose:
--
--   local select = require("moongate.select")
--   route = function(req)
--     local model = select.alias(req.model, { ["gpt-4"] = "gpt-4o" })
--     return select.healthy(select.sticky(req, select.for_model(model)))
--   end
--
-- Reads only what mg offers: mg.providers (config + live breaker state and
-- latency), mg.models (prices, context windows), mg.shared (sticky
-- sessions). Nothing here waits.

local mg = require("mg")

local M = {}

local MAX_ALIAS_HOPS = 8

-- Split a target into provider (nil when it names only a model) and model.
-- A prefix counts as a provider only when one is configured with that
-- name, so "meta/llama-3" stays a model.
function M.parse(target)
  if type(target) == "table" then return target.provider, target.model end
  local prefix, rest = target:match("^([^/]+)/(.*)$")
  if prefix and mg.providers.get(prefix) then
    return prefix, rest ~= "" and rest or nil
  end
  return nil, target
end

-- The provider that would serve a target: its own, or the first configured
-- one listing the model.
function M.provider_of(target)
  local provider, model = M.parse(target)
  if provider or not model then return provider end
  return mg.providers.for_model(model)[1]
end

-- A target as one string ("provider/model" or "model"), e.g. to remember it.
function M.key(target)
  if type(target) ~= "table" then return target end
  if target.provider and target.model then return target.provider .. "/" .. target.model end
  return target.provider and (target.provider .. "/") or target.model
end

-- Follow aliases (a table alias -> model or target) to the end; a loop or
-- a chain longer than 8 raises.
function M.alias(model, aliases)
  local seen = 0
  while aliases[model] do
    model = aliases[model]
    seen = seen + 1
    if seen > MAX_ALIAS_HOPS then error("alias loop at '" .. tostring(model) .. "'", 2) end
  end
  return model
end

-- Every provider serving model, as "provider/model" targets in config order
-- (failover across providers of the same model).
function M.for_model(model)
  local out = {}
  for _, name in ipairs(mg.providers.for_model(model)) do
    out[#out + 1] = name .. "/" .. model
  end
  return out
end

local function usable(provider)
  if not provider then return true end -- unknown: let the gateway decide
  local p = mg.providers.get(provider)
  return p == nil or (p.healthy and not p.disabled and p.breaker ~= "open")
end

-- Targets whose provider is healthy first, the others after them (kept as
-- a last resort rather than dropped), order otherwise unchanged.
function M.healthy(targets)
  local good, bad = {}, {}
  for _, t in ipairs(targets) do
    local list = usable(M.provider_of(t)) and good or bad
    list[#list + 1] = t
  end
  for _, t in ipairs(bad) do good[#good + 1] = t end
  return good
end

-- Keep targets whose provider has every tag in `tags`.
function M.with_tags(targets, tags)
  local out = {}
  for _, t in ipairs(targets) do
    local p = mg.providers.get(M.provider_of(t) or "")
    local have = {}
    for _, tag in ipairs(p and p.tags or {}) do have[tag] = true end
    local all = true
    for _, tag in ipairs(tags) do all = all and have[tag] == true end
    if all then out[#out + 1] = t end
  end
  return out
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- Weighted random order: weights is { target = weight } or a list of
-- { target, weight }. The pick comes first, the rest follow by weight
-- (heaviest first) as failover. rand (optional) returns [0, 1).
function M.weighted(weights, rand)
  local items = {}
  if weights[1] then
    for _, w in ipairs(weights) do items[#items + 1] = { w[1], w[2] } end
  else
    for _, k in ipairs(sorted_keys(weights)) do items[#items + 1] = { k, weights[k] } end
  end
  local total = 0
  for _, it in ipairs(items) do
    if type(it[2]) ~= "number" or it[2] < 0 then error("weight of " .. tostring(it[1]) .. " must be >= 0", 2) end
    total = total + it[2]
  end
  if total <= 0 then error("weights must not all be zero", 2) end
  local r = (rand or math.random)() * total
  local pick = #items
  for i, it in ipairs(items) do
    if r < it[2] then pick = i break end
    r = r - it[2]
  end
  local out = { items[pick][1] }
  table.remove(items, pick)
  table.sort(items, function(a, b) return a[2] > b[2] end)
  for _, it in ipairs(items) do out[#out + 1] = it[1] end
  return out
end

-- Priority tiers: { { "a/x", "b/x" }, { "c/y" } } flattened in order, each
-- tier's unhealthy targets moved behind the healthy ones of all tiers.
-- opts.shuffle = true spreads load inside a tier.
function M.tiers(tiers, opts)
  local flat = {}
  for _, tier in ipairs(tiers) do
    local list = {}
    for i, t in ipairs(tier) do list[i] = t end
    if opts and opts.shuffle then
      for i = #list, 2, -1 do
        local j = math.random(i)
        list[i], list[j] = list[j], list[i]
      end
    end
    for _, t in ipairs(list) do flat[#flat + 1] = t end
  end
  return M.healthy(flat)
end

-- Sticky sessions: a request with a session id goes to the target its
-- session used last (while that provider is healthy); the first of
-- `targets` is remembered for ttl seconds (default 1800) in mg.shared
-- dictionary opts.dict (default "sticky"). Returns targets reordered.
function M.sticky(req, targets, opts)
  opts = opts or {}
  local session = req.session
  if not session or #targets == 0 then return targets end
  local dict = mg.shared.dict(opts.dict or "sticky")
  local ttl = opts.ttl or 1800
  local remembered = dict:get(session)
  if remembered and usable(M.provider_of(remembered)) then
    local out, first = {}, nil
    for _, t in ipairs(targets) do
      if not first and M.key(t) == remembered then first = t else out[#out + 1] = t end
    end
    table.insert(out, 1, first or remembered)
    dict:set(session, remembered, ttl) -- refresh
    return out
  end
  dict:set(session, M.key(targets[1]), ttl)
  return targets
end

-- Estimated USD of a target for a request: input tokens at the input price
-- plus opts.output_tokens (default 500) at the output price; nil when the
-- model has no price.
function M.cost(target, tokens_in, output_tokens)
  local _, model = M.parse(target)
  local info = model and mg.models[model]
  if not info or (info.price_input == 0 and info.price_output == 0) then return nil end
  return (tokens_in * info.price_input + (output_tokens or 500) * info.price_output) / 1e6
end

local function fits(target, tokens)
  local _, model = M.parse(target)
  local info = model and mg.models[model]
  return not info or info.context_window == 0 or info.context_window >= tokens
end

-- Targets whose context window holds the request (tokens_in + output),
-- cheapest first; unpriced ones last, in their given order.
function M.cheapest(req, targets, opts)
  local out_tokens = opts and opts.output_tokens or 500
  local priced, unpriced = {}, {}
  for i, t in ipairs(targets) do
    if fits(t, (req.tokens_in or 0) + out_tokens) then
      local c = M.cost(t, req.tokens_in or 0, out_tokens)
      if c then priced[#priced + 1] = { t, c, i } else unpriced[#unpriced + 1] = t end
    end
  end
  table.sort(priced, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[3] < b[3]
  end)
  local out = {}
  for _, p in ipairs(priced) do out[#out + 1] = p[1] end
  for _, t in ipairs(unpriced) do out[#out + 1] = t end
  return out
end

-- Lowest recent latency first (the gateway's EWMA per provider); targets
-- without a measurement keep their order after the measured ones.
function M.fastest(targets)
  local measured, unknown = {}, {}
  for i, t in ipairs(targets) do
    local p = mg.providers.get(M.provider_of(t) or "")
    if p and p.latency_ms then
      measured[#measured + 1] = { t, p.latency_ms, i }
    else
      unknown[#unknown + 1] = t
    end
  end
  table.sort(measured, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[3] < b[3]
  end)
  local out = {}
  for _, m in ipairs(measured) do out[#out + 1] = m[1] end
  for _, t in ipairs(unknown) do out[#out + 1] = t end
  return out
end

-- Every configured model with a price, served by some provider, as model
-- names (for "any cheap model will do" policies).
function M.priced_models()
  local out = {}
  for _, name in ipairs(sorted_keys(mg.models)) do
    local info = mg.models[name]
    -- Chat models only: an embedding model (no output price) cannot answer.
    if info.price_output > 0 and mg.providers.for_model(name)[1] then
      out[#out + 1] = name
    end
  end
  return out
end

return M
