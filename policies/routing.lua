-- policies/routing.lua — the default routing policy. Edit and save: the next
-- request follows the new version (a file that fails to load changes
-- nothing; the error shows in the log and on the dashboard).
--
-- What it does:
--   1. resolves model aliases (edit `aliases` below);
--   2. when the shared flag routing.cheap_small is on, sends short prompts
--      to the cheapest configured model that fits, keeping the asked-for
--      model as the fallback. It is off by default; an insight action (or
--      you) turns it on:  mg.shared.dict("routing"):set("cheap_small", true)
--   3. otherwise returns nil: the gateway then routes by itself, to every
--      configured provider that serves the model, in config order, skipping
--      providers whose circuit breaker is open or that an operator disabled.
--      ("provider/model" names one provider.) Returning nil is also the
--      fast path: no tables are built for the common case.
-- Reference: docs/lua-api.md. More examples: examples/policies/.

local select = require("moongate.select")

-- Names clients may use -> the model (or "provider/model") they mean.
local aliases = {
  -- ["gpt-4"] = "gpt-4o",
  -- ["claude"] = "claude-sonnet-4-5",
}

local SMALL_PROMPT_TOKENS = 1000 -- "short" for routing.cheap_small
local flags = mg.shared.dict("routing")

local function cheap_first(req, targets)
  local cheap = select.cheapest(req, select.priced_models())[1]
  if not cheap then return targets end
  local out = select.for_model(cheap)
  for _, t in ipairs(targets) do out[#out + 1] = t end
  return out
end

return {
  route = function(req)
    local asked = req.model
    if not asked then return nil end
    local model = aliases[asked] and select.alias(asked, aliases) or asked
    local cheap = flags:get("cheap_small") and (req.tokens_in or 0) < SMALL_PROMPT_TOKENS
    if not cheap then
      if model == asked then return nil end -- the gateway's own routing
      return model -- an alias: "model" or "provider/model"
    end
    if select.parse(model) then return model end -- the client named a provider
    local targets = select.healthy(select.for_model(model))
    if #targets == 0 then return nil end -- unknown model: the gateway answers
    return cheap_first(req, targets)
  end,
}
