-- policies/routing.lua — the default routing policy. Edit and save: the next
-- request follows the new version (a file that fails to load changes
-- nothing; the error shows in the log and on the dashboard).
--
-- What it does:
--   1. resolves model aliases (edit `aliases` below);
--   2. sends the request to every configured provider that serves the
--      model, in config order, healthy ones first (failover);
--   3. when the shared flag routing.cheap_small is on, sends short prompts
--      to the cheapest configured model that fits, keeping the asked-for
--      model as the fallback. It is off by default; an insight action (or
--      you) turns it on:  mg.shared.dict("routing"):set("cheap_small", true)
--
-- Returning nil lets the gateway route by itself (the model's provider).
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
    if not req.model then return nil end
    local model = select.alias(req.model, aliases)
    local provider = select.parse(model)
    if provider then return model end -- the client (or an alias) named one
    local targets = select.healthy(select.for_model(model))
    if #targets == 0 then return nil end -- unknown model: the gateway answers
    if flags:get("cheap_small") and (req.tokens_in or 0) < SMALL_PROMPT_TOKENS then
      return cheap_first(req, targets)
    end
    return targets
  end,
}
