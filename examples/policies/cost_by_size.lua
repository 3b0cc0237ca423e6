-- cost_by_size.lua — short prompts go to a small model, long ones to a
-- large model; each with a fallback on another vendor. Copy into policies/
-- (and remove policies/routing.lua, or rename its route: only one file may
-- define route).
local SHORT = 2000 -- estimated input tokens

return {
  route = function(req)
    if req.tokens_in < SHORT then
      return { "gpt-4o-mini", "claude-haiku-4-5" }
    end
    return { "claude-sonnet-4-5", { model = "gpt-4.1", timeout = 120 } }
  end,
}
