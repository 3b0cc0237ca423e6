-- failover_chain.lua — priority tiers: the first tier is tried first, then
-- the next; targets whose provider is unhealthy (breaker open, disabled)
-- move behind all healthy ones. A target may carry its own limits.
local select = require("moongate.select")

local tiers = {
  { "mock-openai/gpt-4o" },                               -- primary
  { "mock-anthropic/claude-sonnet-4-5" },                 -- same quality, other vendor
  { { provider = "mock-gemini", model = "gemini-2.5-pro", timeout = 60, max_attempts = 1 } },
}

return {
  route = function(req)
    if req.model ~= "gpt-4o" then return nil end -- only this model gets the chain
    return select.tiers(tiers)
  end,
}
