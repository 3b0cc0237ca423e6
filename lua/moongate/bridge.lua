-- moongate.bridge: the host's entry points into format conversion. The C
-- pipeline calls these with strings (request and response bodies, one SSE
-- event at a time) and gets strings back, so it never walks Lua tables.
-- Each returns nil plus a message meant for the client when the input
-- cannot be converted; the host answers that as a 400 in the client's format.
--
-- Uses: moongate.formats (the converters and their JSON codec).

local formats = require "moongate.formats"
local fastpath = require "moongate.formats.fastpath"
local json = formats.json

local bridge = {}

local function decode(text, what)
  -- json.decode returns nil plus a message; pcall also catches a raise.
  local ok, value, err = pcall(json.decode, text)
  if not ok then value, err = nil, value end
  if type(value) ~= "table" then
    return nil, what .. " is not valid JSON: " .. tostring(err or ("a " .. type(value)))
  end
  return value
end

-- Client request body -> provider request body.
-- opts: model (sent upstream), stream, default_max_tokens, url_model (Gemini's
-- model from the URL path).
function bridge.request(client_fmt, provider_fmt, body_text, model, stream, default_max_tokens, url_model)
  local body, err = decode(body_text, "the request body")
  if not body then return nil, err end
  if client_fmt == "anthropic" and provider_fmt == "openai" and formats.is_builtin("anthropic")
      and formats.is_builtin("openai") then
    local text = fastpath.anthropic_to_openai(body, { model = model, stream = stream })
    if text then return text end
  end
  local out
  out, err = formats.request(client_fmt, provider_fmt, body,
    { model = model, stream = stream, default_max_tokens = default_max_tokens },
    { model = url_model or body.model, stream = stream })
  if not out then return nil, err end
  return json.encode(out)
end

-- Provider response body -> client response body.
function bridge.response(client_fmt, provider_fmt, body_text, model, id)
  local body, err = decode(body_text, "the provider's response")
  if not body then return nil, err end
  local out
  out, err = formats.response(client_fmt, provider_fmt, body, { model = model, id = id, created = os.time() })
  if not out then return nil, err end
  return json.encode(out)
end

-- Both formats bundled (no policy replaced them): the host may run this
-- request's conversions without a deadline, at JIT speed.
function bridge.trusted(client_fmt, provider_fmt)
  return formats.is_builtin(client_fmt) and formats.is_builtin(provider_fmt)
end

-- A stream converter for one request; the host keeps it in the registry.
-- Third result: whether the converter can offer the text lane (below).
function bridge.stream_new(client_fmt, provider_fmt, model, id, include_usage)
  local conv, err = formats.stream(client_fmt, provider_fmt,
    { model = model, id = id, include_usage = include_usage })
  if not conv then return nil, err end
  return conv, nil, conv:has_text_lane()
end

-- A batch of provider SSE events (one network chunk) in, client SSE text out:
-- events = { event1, data1, event2, data2, ... }. Returns the text; when a
-- converter fails, the text converted before that event and the message.
-- After a batch converted whole, results 3..5 are the text lane as it
-- stands now (Converter:text_lane): while they hold, the host converts
-- plain text deltas itself and calls here only for the other events.
local function feed_each(conv, events, parts)
  if conv.feed_into then
    for i = 1, #events, 2 do
      local event = events[i]
      conv:feed_into(event ~= "" and event or nil, events[i + 1], parts)
    end
    return
  end
  for i = 1, #events, 2 do
    local event = events[i]
    local out = conv:feed(event ~= "" and event or nil, events[i + 1])
    for j = 1, #out do parts[#parts + 1] = out[j] end
  end
end

-- One pcall per batch: parts only ever holds whole events' text, so after a
-- raise it is what was converted before the event that failed.
function bridge.stream_feed_batch(conv, events)
  local parts = {}
  local ok, err = pcall(feed_each, conv, events, parts)
  if not ok then return table.concat(parts), tostring(err) end
  if type(conv.text_lane) ~= "function" then return table.concat(parts) end
  return table.concat(parts), nil, conv:text_lane()
end

function bridge.stream_finish(conv)
  return table.concat(conv:finish())
end

return bridge
