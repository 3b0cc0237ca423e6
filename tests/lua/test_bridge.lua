-- The host's entry points (moongate.bridge): a batch of stream events in
-- one call, converted in order, and a converter that fails part-way hands
-- back what it converted before the failure plus the reason.

local A = require "lib.assert"
local bridge = require "moongate.bridge"

local T = {}

local function chunk(text)
  return ('{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",' ..
    '"choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}]}'):format(text)
end

T["a batch converts like the events one by one"] = function()
  local conv = bridge.stream_new("anthropic", "openai", "m", "msg_1", false)
  local text = bridge.stream_feed_batch(conv, { "", chunk("Hel"), "", chunk("lo") })
  A.ok(text:find("event: message_start", 1, true), "the stream starts")
  local a = text:find('"text":"Hel"', 1, true)
  local b = text:find('"text":"lo"', 1, true)
  A.ok(a and b and a < b, "both deltas, in order")
  local rest = bridge.stream_feed_batch(conv, { "", "[DONE]" }) .. bridge.stream_finish(conv)
  A.ok(rest:find("event: message_stop", 1, true), "the stream ends")
end

T["a converter failing mid-batch keeps what came before"] = function()
  local seen = 0
  local conv = {
    feed = function(_, _, data)
      seen = seen + 1
      if data == "boom" then error("converter broke on purpose") end
      return { "data: " .. data .. "\n\n" }
    end,
  }
  local text, err = bridge.stream_feed_batch(conv, { "", "one", "", "two", "", "boom", "", "never" })
  A.eq(text, "data: one\n\ndata: two\n\n")
  A.ok(err and err:find("converter broke on purpose", 1, true), "the reason: " .. tostring(err))
  A.eq(seen, 3, "nothing after the failure")
end

return T
