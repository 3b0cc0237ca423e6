-- sticky_sessions.lua — keep a conversation on one provider (prompt caches
-- stay warm): the session id (x-session-id or the client's conversation
-- metadata) maps to the provider it used last, for 30 minutes, while that
-- provider is healthy.
local select = require("moongate.select")

return {
  route = function(req)
    if not req.model then return nil end
    local targets = select.for_model(req.model)
    if #targets == 0 then return nil end
    return select.sticky(req, select.healthy(targets), { ttl = 1800 })
  end,
}
