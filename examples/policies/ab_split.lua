-- ab_split.lua — send 10% of gpt-4o-mini traffic to claude-haiku-4-5 to
-- compare cost and latency on the dashboard; the other model is the
-- fallback either way. A session stays on its side of the split.
local select = require("moongate.select")

local weights = { { "gpt-4o-mini", 90 }, { "claude-haiku-4-5", 10 } }

return {
  route = function(req)
    if req.model ~= "gpt-4o-mini" then return nil end
    local targets = select.weighted(weights)
    return select.sticky(req, targets, { dict = "ab_split", ttl = 3600 })
  end,
}
