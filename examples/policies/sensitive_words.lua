-- sensitive_words.lua — refuse requests that mention what must not leave
-- the company. Patterns are Lua patterns, matched case-insensitively in
-- every text of the request (any client format). Refusals are logged with
-- the rule number, never the text.
local filters = require("moongate.filters")

local words = filters.words({
  "project phoenix",
  "password%s*[:=]",
  "%d%d%d%-%d%d%-%d%d%d%d", -- US social security number shape
}, { status = 400, message = "this request mentions restricted content" })

return {
  on_request = function(req)
    return words:check(req)
  end,
}
