-- Unit tests for lua/moongate/select.lua and lua/moongate/filters.lua with a
-- fake `mg` (providers, models, shared dictionaries, log): pure Lua, no host.

local function fake_mg(opts)
  opts = opts or {}
  local providers = opts.providers or {
    { name = "openai", format = "openai", models = { "gpt-4o", "gpt-4o-mini" }, tags = { "cloud", "us" } },
    { name = "anthropic", format = "anthropic", models = { "claude-sonnet", "claude-haiku" }, tags = { "cloud", "eu" } },
    { name = "backup", format = "openai", models = { "gpt-4o" }, tags = { "eu" } },
  }
  local state = opts.state or {}
  local mg = { logs = {}, dicts = {} }
  local function live(p)
    local s = state[p.name] or {}
    return {
      name = p.name, format = p.format, models = p.models, tags = p.tags,
      healthy = s.healthy ~= false, breaker = s.breaker or "closed",
      disabled = s.disabled or false, latency_ms = s.latency_ms,
    }
  end
  mg.providers = {
    list = function()
      local out = {}
      for i, p in ipairs(providers) do out[i] = live(p) end
      return out
    end,
    get = function(name)
      for _, p in ipairs(providers) do if p.name == name then return live(p) end end
      return nil
    end,
    for_model = function(model)
      local out = {}
      for _, p in ipairs(providers) do
        for _, m in ipairs(p.models) do if m == model then out[#out + 1] = p.name end end
      end
      return out
    end,
  }
  mg.models = opts.models or {
    ["gpt-4o"] = { price_input = 2.5, price_output = 10, context_window = 128000 },
    ["gpt-4o-mini"] = { price_input = 0.15, price_output = 0.6, context_window = 128000 },
    ["claude-sonnet"] = { price_input = 3, price_output = 15, context_window = 200000 },
    ["claude-haiku"] = { price_input = 0.8, price_output = 4, context_window = 8000 },
  }
  mg.shared = {
    dict = function(name)
      local d = mg.dicts[name]
      if d then return d end
      local data = {}
      d = {
        data = data,
        get = function(_, k) return data[k] end,
        set = function(_, k, v) data[k] = v return true end,
      }
      mg.dicts[name] = d
      return d
    end,
  }
  mg.log = { warn = function(...) mg.logs[#mg.logs + 1] = table.concat({ ... }, " ") end }
  mg.refuse = function(status, message) return { status = status, message = message } end
  return mg
end

local function load(name, mg)
  package.loaded.mg = mg
  package.loaded[name] = nil
  return require(name)
end

local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    local x, y = a[i], b[i]
    if type(x) == "table" and type(y) == "table" then
      if x.provider ~= y.provider or x.model ~= y.model then return false end
    elseif x ~= y then return false end
  end
  return true
end

local function eq(a, b)
  if not same(a, b) then
    local function show(t)
      local s = {}
      for i, v in ipairs(t) do s[i] = type(v) == "table" and ("{" .. tostring(v.provider) .. "/" .. tostring(v.model) .. "}") or tostring(v) end
      return "{" .. table.concat(s, ", ") .. "}"
    end
    error("expected " .. show(b) .. ", got " .. show(a), 2)
  end
end

local T = {}

T["parse splits only at configured providers"] = function()
  local s = load("moongate.select", fake_mg())
  local p, m = s.parse("openai/gpt-4o")
  assert(p == "openai" and m == "gpt-4o")
  p, m = s.parse("meta/llama-3")
  assert(p == nil and m == "meta/llama-3")
  p, m = s.parse("gpt-4o")
  assert(p == nil and m == "gpt-4o")
  p, m = s.parse({ provider = "backup", model = "x" })
  assert(p == "backup" and m == "x")
  assert(s.provider_of("gpt-4o") == "openai")
  assert(s.key({ provider = "a", model = "b" }) == "a/b")
end

T["alias follows chains and catches loops"] = function()
  local s = load("moongate.select", fake_mg())
  assert(s.alias("smart", { smart = "sonnet", sonnet = "claude-sonnet" }) == "claude-sonnet")
  assert(s.alias("gpt-4o", {}) == "gpt-4o")
  assert(not pcall(s.alias, "a", { a = "b", b = "a" }))
end

T["for_model lists every provider serving it"] = function()
  local s = load("moongate.select", fake_mg())
  eq(s.for_model("gpt-4o"), { "openai/gpt-4o", "backup/gpt-4o" })
  eq(s.for_model("nope"), {})
end

T["healthy moves broken providers last"] = function()
  local s = load("moongate.select", fake_mg({ state = { openai = { breaker = "open" }, backup = { disabled = true } } }))
  eq(s.healthy({ "openai/gpt-4o", "backup/gpt-4o", "claude-sonnet" }),
     { "claude-sonnet", "openai/gpt-4o", "backup/gpt-4o" })
end

T["with_tags keeps targets whose provider has every tag"] = function()
  local s = load("moongate.select", fake_mg())
  eq(s.with_tags({ "openai/gpt-4o", "backup/gpt-4o", "claude-haiku" }, { "eu" }),
     { "backup/gpt-4o", "claude-haiku" })
  eq(s.with_tags({ "openai/gpt-4o", "backup/gpt-4o" }, { "cloud", "eu" }), {})
end

T["weighted picks by weight, rest by weight"] = function()
  local s = load("moongate.select", fake_mg())
  local w = { { "a", 1 }, { "b", 3 }, { "c", 6 } }
  eq(s.weighted(w, function() return 0.05 end), { "a", "c", "b" })
  eq(s.weighted(w, function() return 0.2 end), { "b", "c", "a" })
  eq(s.weighted(w, function() return 0.99 end), { "c", "b", "a" })
  eq(s.weighted({ x = 1, y = 0 }, function() return 0.5 end), { "x", "y" })
  -- distribution roughly follows the weights
  math.randomseed(7)
  local n = { a = 0, b = 0, c = 0 }
  for _ = 1, 10000 do local first = s.weighted(w)[1] n[first] = n[first] + 1 end
  assert(n.c > 5500 and n.c < 6500 and n.a > 700 and n.a < 1300, "skewed: " .. n.a .. " " .. n.b .. " " .. n.c)
  assert(not pcall(s.weighted, { a = 0 }))
  assert(not pcall(s.weighted, { a = -1, b = 2 }))
end

T["tiers keep order and demote unhealthy"] = function()
  local s = load("moongate.select", fake_mg({ state = { openai = { healthy = false } } }))
  eq(s.tiers({ { "openai/gpt-4o", "backup/gpt-4o" }, { "anthropic/claude-sonnet" } }),
     { "backup/gpt-4o", "anthropic/claude-sonnet", "openai/gpt-4o" })
  local t = s.tiers({ { { provider = "anthropic", model = "claude-haiku" } } })
  assert(t[1].provider == "anthropic")
  math.randomseed(1)
  local seen = {}
  for _ = 1, 50 do seen[s.tiers({ { "a", "b" } }, { shuffle = true })[1]] = true end
  assert(seen.a and seen.b)
end

T["sticky remembers the first target per session"] = function()
  local mg = fake_mg()
  local s = load("moongate.select", mg)
  local req = { session = "s1" }
  eq(s.sticky(req, { "openai/gpt-4o", "backup/gpt-4o" }), { "openai/gpt-4o", "backup/gpt-4o" })
  -- next time the session's target leads even when the list changes order
  eq(s.sticky(req, { "backup/gpt-4o", "openai/gpt-4o" }), { "openai/gpt-4o", "backup/gpt-4o" })
  assert(mg.dicts.sticky.data.s1 == "openai/gpt-4o")
  -- no session: unchanged
  eq(s.sticky({}, { "b", "a" }), { "b", "a" })
  -- custom dictionary
  s.sticky({ session = "s2" }, { "claude-haiku" }, { dict = "ab" })
  assert(mg.dicts.ab.data.s2 == "claude-haiku")
end

T["sticky drops a session whose provider went unhealthy"] = function()
  local state = {}
  local mg = fake_mg({ state = state })
  local s = load("moongate.select", mg)
  local req = { session = "s1" }
  s.sticky(req, { "openai/gpt-4o", "backup/gpt-4o" })
  state.openai = { breaker = "open" }
  eq(s.sticky(req, { "backup/gpt-4o", "openai/gpt-4o" }), { "backup/gpt-4o", "openai/gpt-4o" })
  assert(mg.dicts.sticky.data.s1 == "backup/gpt-4o")
end

T["cheapest sorts by estimated cost and drops what does not fit"] = function()
  local s = load("moongate.select", fake_mg())
  local all = { "openai/gpt-4o", "claude-sonnet", "gpt-4o-mini", "claude-haiku", "mystery" }
  eq(s.cheapest({ tokens_in = 1000 }, all),
     { "gpt-4o-mini", "claude-haiku", "openai/gpt-4o", "claude-sonnet", "mystery" })
  -- claude-haiku's 8000-token window no longer fits
  eq(s.cheapest({ tokens_in = 9000 }, all),
     { "gpt-4o-mini", "openai/gpt-4o", "claude-sonnet", "mystery" })
  assert(math.abs(s.cost("gpt-4o", 1000, 100) - (2500 + 1000) / 1e6) < 1e-12)
  assert(s.cost("mystery", 10) == nil)
end

T["fastest orders by measured latency"] = function()
  local s = load("moongate.select", fake_mg({ state = { openai = { latency_ms = 900 }, anthropic = { latency_ms = 300 } } }))
  eq(s.fastest({ "backup/gpt-4o", "openai/gpt-4o", "claude-haiku" }),
     { "claude-haiku", "openai/gpt-4o", "backup/gpt-4o" })
end

T["priced_models lists served models with a price"] = function()
  local mg = fake_mg()
  mg.models.unserved = { price_input = 1, price_output = 1, context_window = 1 }
  mg.models["gpt-free"] = { price_input = 0, price_output = 0, context_window = 1 }
  local s = load("moongate.select", mg)
  eq(s.priced_models(), { "claude-haiku", "claude-sonnet", "gpt-4o", "gpt-4o-mini" })
end

T["caseless patterns match either case, escapes kept"] = function()
  local f = load("moongate.filters", fake_mg())
  assert(f.caseless("ab") == "[aA][bB]")
  assert(f.caseless("%a%S") == "%a%S")
  assert(f.caseless("[xy]z") == "[xXyY][zZ]")
  assert(f.caseless("[^q]") == "[^qQ]")
  assert(("PassWord = 1"):find(f.caseless("password%s*=")))
  assert(not ("passport"):find(f.caseless("password")))
end

T["words refuses and logs the rule, not the text"] = function()
  local mg = fake_mg()
  local f = load("moongate.filters", mg)
  local words = f.words({ "project phoenix", "%d%d%d%-%d%d%-%d%d%d%d" }, { status = 451 })
  local req = { id = "r1", body = { messages = { { role = "user", content = "About PROJECT Phoenix..." } } } }
  local r = words:check(req)
  assert(r and r.status == 451 and r.message)
  assert(mg.logs[1]:find("rule 1", 1, true) and not mg.logs[1]:lower():find("phoenix"))
  local nested = { id = "r2", body = { input = { { content = { { text = "ssn 123-45-6789" } } } } } }
  assert(words:check(nested).status == 451)
  assert(words:check({ id = "r3", body = { messages = { { content = "hello" } } } }) == nil)
  -- not JSON: the raw text is scanned
  assert(words:check({ id = "r4", body_raw = "project phoenix" }))
  assert(not pcall(f.words, { "[unclosed" }))
  assert(not pcall(f.words, { "" }))
end

return T
