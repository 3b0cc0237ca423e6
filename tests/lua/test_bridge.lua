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

-- The text lane: what the host writes for a plain text delta while the lane
-- is open must be exactly what the converter itself would have written.
local json = require "moongate.formats.json"

local function jchunk(text)
  return '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",' ..
    '"choices":[{"index":0,"delta":{"content":' .. json.encode_string(text) .. '},"finish_reason":null}]}'
end

local function lane_of(...)
  local _, err, prefix, suffix, up_index = ...
  return err, prefix, suffix, up_index
end

T["the lane opens once a text block streams, and matches feed byte for byte"] = function()
  local conv, _, has_lane = bridge.stream_new("anthropic", "openai", "m", "msg_1", false)
  A.eq(has_lane, true, "the bundled converters offer a lane")
  local err, prefix = lane_of(bridge.stream_feed_batch(conv, { "", chunk("") }))
  A.eq(err, nil)
  A.eq(prefix, nil, "no lane before a text block is open")
  local text, err2, p2, s2, up = bridge.stream_feed_batch(conv, { "", chunk("Hi") })
  A.eq(err2, nil)
  A.ok(p2 and s2, "the lane is open")
  A.eq(up, 0)
  local twin, _, has_twin = bridge.stream_new("anthropic", "openai", "m", "msg_1", false)
  A.eq(has_twin, true)
  bridge.stream_feed_batch(twin, { "", chunk(""), "", chunk("Hi") })
  for _, s in ipairs({ "x", 'quote " and \\ back', "caf\195\169 \n line" }) do
    local literal = json.encode_string(s)
    local by_feed = bridge.stream_feed_batch(twin, { "", jchunk(s) })
    A.eq(p2 .. literal .. s2, by_feed, "lane and feed agree for " .. s)
  end
  A.ok(text:find('"text":"Hi"', 1, true), "the first delta went through feed")
  local _, _, p3 = bridge.stream_feed_batch(conv, { "", "[DONE]" })
  A.eq(p3, nil, "closed after the end")
end

T["the lane closes while a reasoning block streams"] = function()
  local conv = bridge.stream_new("anthropic", "openai", "m", "msg_1", false)
  local r = '{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"hmm"},"finish_reason":null}]}'
  local _, _, p = bridge.stream_feed_batch(conv, { "", chunk("a"), "", r })
  A.eq(p, nil, "no lane while reasoning is open")
  _, _, p = bridge.stream_feed_batch(conv, { "", chunk("b") })
  A.ok(p ~= nil, "back once text streams again")
end

T["an Anthropic upstream offers its text block's index"] = function()
  local formats = require "moongate.formats"
  local conv = formats.stream("openai", "anthropic", { model = "m", id = "x" })
  local d = conv.decoder
  d:feed("message_start", '{"type":"message_start","message":{"id":"m1","model":"m","usage":{}}}')
  A.eq(d:text_lane(), nil, "no block yet")
  d:feed("content_block_start", '{"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}}')
  local idx, up = d:text_lane()
  A.eq(idx, 0)
  A.eq(up, 3)
  d:feed("content_block_stop", '{"type":"content_block_stop","index":3}')
  A.eq(d:text_lane(), nil, "closed with its block")
end

T["a policy's converter without text_lane gets every event"] = function()
  local conv = { feed = function(_, _, data) return { data } end }
  local text, err, prefix = bridge.stream_feed_batch(conv, { "", "a", "", "b" })
  A.eq(text, "ab")
  A.eq(err, nil)
  A.eq(prefix, nil)
end

return T
