-- Golden vectors (provider API-reference style examples, tests/lua/vectors):
-- each decodes to its hand-written canonical form, and every vector converts
-- to all four formats (request, response and stream), checked by decoding the
-- result again / assembling the client stream.

local A = require "lib.assert"
local V = require "lib.vectors"
local P = require "lib.project"
local norm = require "lib.norm"
local assemble = require "lib.assemble"
local sse_parse = require "lib.sse_parse"
local json = require "moongate.formats.json"
local formats = require "moongate.formats"
local canonical = require "moongate.formats.canonical"

local FORMATS = { "openai", "anthropic", "responses", "gemini" }
local T = {}

local function wire(body)
  return assert(json.decode(json.encode(body)))
end

local function decode_stream(fmt, events)
  local dec = formats.get(fmt).stream_decoder({})
  local out = {}
  for _, ev in ipairs(events) do
    for _, e in ipairs(dec:feed(ev.event, ev.data)) do out[#out + 1] = e end
  end
  for _, e in ipairs(dec:finish()) do out[#out + 1] = e end
  return out
end

local function convert_stream(client, provider, events, opts)
  local conv = assert(formats.stream(client, provider, opts or { include_usage = true }))
  local texts = {}
  for _, ev in ipairs(events) do
    for _, t in ipairs(conv:feed(ev.event, ev.data)) do texts[#texts + 1] = t end
  end
  for _, t in ipairs(conv:finish()) do texts[#texts + 1] = t end
  return sse_parse(table.concat(texts)), conv, table.concat(texts)
end

-- ------------------------------------------------------------ decoding --

for _, name in ipairs(V.requests) do
  T["decode " .. name] = function()
    local fmt = V.format(name)
    local canon, err = formats.get(fmt).decode_request(V.json(name), V.ctx(name))
    A.ok(canon, err)
    assert(canonical.validate_request(canon))
    A.eq(norm.canon(canon), norm.canon(V.expected[name]))
  end
end

for _, name in ipairs(V.responses) do
  T["decode " .. name] = function()
    local resp, err = formats.get(V.format(name)).decode_response(V.json(name))
    A.ok(resp, err)
    assert(canonical.validate_response(resp))
    A.eq(norm.canon(resp), norm.canon(V.expected[name]))
  end
end

for _, name in ipairs(V.streams) do
  T["decode " .. name] = function()
    local resp, err = assemble.canonical(decode_stream(V.format(name), V.sse(name)))
    A.ok(resp, err and err.message)
    A.eq(norm.canon(resp), norm.canon(V.expected[name]))
  end
end

-- --------------------------------------------------------- conversions --

for _, name in ipairs(V.requests) do
  local src = V.format(name)
  for _, dst in ipairs(FORMATS) do
    T["request " .. name .. " -> " .. dst] = function()
      local body = V.json(name)
      local opts = { lenient = true }
      local out, path = formats.request(src, dst, body, opts, V.ctx(name))
      A.ok(out, path)
      if src == dst then
        A.ok(out == body, "same format is the identity")
        return
      end
      A.ok(type(path) == "string" and path:sub(1, 1) == "/", "a path")
      local expected = V.expected[name]
      local back, err = formats.get(dst).decode_request(wire(out), { model = expected.model, stream = expected.stream })
      A.ok(back, err)
      A.eq(norm.canon(back), norm.canon(P.request[dst](expected)))
    end
  end
end

for _, name in ipairs(V.responses) do
  local src = V.format(name)
  for _, dst in ipairs(FORMATS) do
    T["response " .. name .. " -> " .. dst] = function()
      local body = V.json(name)
      local out, err = formats.response(dst, src, body, {})
      A.ok(out, err)
      if src == dst then A.ok(out == body, "identity"); return end
      local back
      back, err = formats.get(dst).decode_response(wire(out))
      A.ok(back, err)
      A.eq(norm.canon(back), norm.canon(P.response[dst](V.expected[name])))
    end
  end
end

for _, name in ipairs(V.streams) do
  local src = V.format(name)
  for _, dst in ipairs(FORMATS) do
    T["stream " .. name .. " -> " .. dst] = function()
      local events = V.sse(name)
      local client_events, conv = convert_stream(dst, src, events)
      if src == dst then
        -- pass-through: the same events, re-framed; usage still tracked
        A.eq(client_events, events)
        A.eq(conv:usage(), V.expected[name].usage, "converter usage")
        return
      end
      local got = assemble.client[dst](client_events)
      A.ok(not got.error, "no error")
      got.id, got.got_usage_chunk, got.stop_sequence = nil, nil, nil
      local want = P.summary(dst, assemble.summary(V.expected[name]))
      A.eq(norm.canon(got), norm.canon(want))
      A.eq(conv:usage(), V.expected[name].usage, "converter usage")
      A.eq(conv:state().stop_reason, V.expected[name].stop_reason, "converter stop reason")
    end
  end
end

-- Mid-stream upstream error becomes the client's own error event.
local error_shapes = {
  openai = function(evs)
    local last = evs[#evs]
    A.is_nil(last.event)
    local e = json.decode(last.data)
    A.eq(e.error.message, "Overloaded")
  end,
  anthropic = function(evs)
    local last = evs[#evs]
    A.eq(last.event, "error")
    A.eq(json.decode(last.data).error, { type = "overloaded_error", message = "Overloaded" })
  end,
  responses = function(evs)
    A.eq(evs[#evs - 1].event, "error")
    A.eq(json.decode(evs[#evs - 1].data).message, "Overloaded")
    A.eq(evs[#evs].event, "response.failed")
    A.eq(json.decode(evs[#evs].data).response.status, "failed")
  end,
  gemini = function(evs)
    local e = json.decode(evs[#evs].data)
    A.eq(e.error.status, "UNAVAILABLE")
    A.eq(e.error.message, "Overloaded")
  end,
}

for _, dst in ipairs(FORMATS) do
  T["stream error anthropic -> " .. dst] = function()
    local client_events, conv = convert_stream(dst, "anthropic", V.sse("anthropic/stream_error"))
    error_shapes[dst](client_events)
    A.eq(conv:state().error, "Overloaded")
    local partial = false
    for _, ev in ipairs(client_events) do if ev.data:find("Partial", 1, true) then partial = true end end
    A.ok(partial, "text before the error was delivered")
  end
end

-- Exact golden: OpenAI parallel tool-call stream as Anthropic events.
T["golden openai stream_tools -> anthropic event sequence"] = function()
  local evs = convert_stream("anthropic", "openai", V.sse("openai/stream_tools"))
  local seq = {}
  for _, ev in ipairs(evs) do
    local d = json.decode(ev.data)
    local s = ev.event
    if d.index then s = s .. ":" .. d.index end
    if d.delta and d.delta.type then s = s .. ":" .. d.delta.type end
    seq[#seq + 1] = s
  end
  A.eq(seq, {
    "message_start",
    "content_block_start:0", "content_block_delta:0:text_delta", "content_block_stop:0",
    "content_block_start:1", "content_block_delta:1:input_json_delta", "content_block_delta:1:input_json_delta",
    "content_block_stop:1",
    "content_block_start:2", "content_block_delta:2:input_json_delta", "content_block_delta:2:input_json_delta",
    "content_block_stop:2",
    "message_delta", "message_stop" })
  local md = json.decode(evs[#evs - 1].data)
  A.eq(md.delta.stop_reason, "tool_use")
  A.eq(md.usage, { input_tokens = 82, output_tokens = 37, cache_read_input_tokens = 0, cache_creation_input_tokens = 0 })
end

-- Exact golden: Anthropic request as an OpenAI chat body.
T["golden anthropic request -> openai body"] = function()
  local out = assert(formats.request("anthropic", "openai", V.json("anthropic/request"), {}))
  A.eq(out.messages[1], { role = "system", content = "You are a weather assistant." })
  A.eq(out.messages[3].role, "assistant")
  A.eq(out.messages[3].content, "I'll check the weather.")
  A.eq(out.messages[3].tool_calls[1].id, "toolu_01A09q90qw90lq917835lq9")
  A.eq(norm.json(out.messages[3].tool_calls[1]["function"].arguments), '{"location":"San Francisco, CA","units":[]}')
  A.eq(out.messages[4], { role = "tool", tool_call_id = "toolu_01A09q90qw90lq917835lq9", content = "15 degrees" })
  A.eq(out.messages[5].content[1].image_url.url, "data:image/png;base64,iVBORw0KGgo=")
  A.eq(out.messages[6], { role = "user", content = "Is that warm?" })
  A.eq(out.max_completion_tokens, 16000)
  A.eq(out.reasoning_effort, "high")
  A.eq(out.parallel_tool_calls, false)
  A.eq(out.stream_options, { include_usage = true })
  A.eq(out.stop, { "END" })
end

-- Exact golden: Gemini request from an OpenAI one (ids -> names, schema sanitised).
T["golden openai request -> gemini body"] = function()
  local out, path = formats.request("openai", "gemini", V.json("openai/request"), {})
  A.eq(path, "/v1beta/models/gpt-4o:streamGenerateContent?alt=sse")
  A.eq(out.systemInstruction, { parts = { { text = "You are a helpful assistant." } } })
  A.eq(out.contents[2], { role = "model", parts = {
    { functionCall = { name = "get_current_weather", args = { location = "Boston, MA", unit = "celsius" } } },
    { functionCall = { name = "get_current_weather", args = { location = "Tokyo", tags = {} } } } } })
  A.ok(json.encode(out.contents[2]):find('"tags":[]', 1, true), "empty array kept")
  A.eq(out.contents[3], { role = "user", parts = {
    { functionResponse = { name = "get_current_weather", response = { output = '{"temperature": 22}' } } },
    { functionResponse = { name = "get_current_weather", response = { output = "18 degrees" } } },
    { text = "Thanks! Summarize." } } })
  A.eq(out.contents[1].parts[3], { fileData = { mimeType = "image/jpeg",
    fileUri = "https://upload.wikimedia.org/wikipedia/commons/boardwalk.jpg" } })
  A.eq(out.generationConfig.stopSequences, { "\n\nHuman:" })
  A.eq(out.generationConfig.thinkingConfig, { includeThoughts = true, thinkingBudget = 1024 })
  A.eq(out.toolConfig, { functionCallingConfig = { mode = "AUTO" } })
end

return T
