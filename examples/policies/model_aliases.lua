-- model_aliases.lua — stable names for clients, real models behind them:
-- change the right-hand side and every client follows on the next request.
-- An alias may name a provider too ("provider/model").
local select = require("moongate.select")

local aliases = {
  fast = "gpt-4o-mini",
  smart = "claude-sonnet-4-5",
  cheap = "gemini-2.5-flash-lite",
  ["gpt-4"] = "gpt-4o",            -- retired names keep working
  ["claude-3-5-sonnet"] = "smart", -- chains resolve (up to 8 hops)
}

return {
  route = function(req)
    if not req.model then return nil end
    return select.alias(req.model, aliases)
  end,
}
