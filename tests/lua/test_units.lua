-- Focused tests: JSON edge cases, Gemini schema sanitising, usage
-- normalisation, provider rules (Anthropic thinking, ids), refusals, error
-- shapes, the stream converter and the registry.

local A = require "lib.assert"
local json = require "moongate.formats.json"
local formats = require "moongate.formats"
local tools = require "moongate.formats.tools"
local common = require "moongate.formats.common"
local canonical = require "moongate.formats.canonical"
local sequencer = require "moongate.formats.sequencer"
local sse_parse = require "lib.sse_parse"

local T = {}

local function req(fields)
  local r = { model = "m", system = {}, messages = { { role = "user", content = { { type = "text", text = "hi" } } } } }
  for k, v in pairs(fields or {}) do r[k] = v end
  return r
end

-- ------------------------------------------------------------------- json --

T["json keeps empty arrays and objects apart"] = function()
  local v = assert(json.decode('{"a":[],"b":{},"c":[1,[]],"d":"[]"}'))
  A.eq(json.encode(v.a), "[]")
  A.eq(json.encode(v.b), "{}")
  A.eq(json.encode(v.c), "[1,[]]")
  A.eq(v.d, "[]")
  local v2 = assert(json.decode('{"s":"x [] y"}'))
  A.eq(v2.s, "x [] y")
end

T["json strings: escapes, unicode, surrogates"] = function()
  local v = assert(json.decode('["a\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\\/", []]'))
  A.eq(v[1], 'a"b\\c\né😀/')
  A.eq(assert(json.decode(json.encode(v)))[1], v[1])
  A.eq(json.encode("\1\127"), '"\\u0001\\u007f"')
  A.eq(json.encode({ 1.5, 3, -0.25, 1e300 }), "[1.5,3,-0.25,1e+300]")
end

T["json rejects bad input without raising"] = function()
  A.refused(json.decode('{"a":1,}'), select(2, json.decode('{"a":1,}')))
  A.refused(json.decode('{"a":[],}'), select(2, json.decode('{"a":[],}')), "json.decode")
  A.refused(json.decode('[] x'), select(2, json.decode('[] x')), "trailing")
  A.refused(json.decode(string.rep("[", 2000) .. "[]" .. string.rep("]", 2000)), "deep")
  A.is_nil(json.decode(nil))
end

-- ---------------------------------------------------------------- schemas --

T["gemini schema sanitising"] = function()
  local schema = assert(json.decode([[{
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object", "additionalProperties": false,
    "$defs": {"Item": {"type": "object", "properties": {"name": {"type": "string", "pattern": "^a"}}, "required": ["name"]}},
    "properties": {
      "url": {"type": "string", "format": "uri", "default": "x", "examples": ["y"]},
      "when": {"type": "string", "format": "date-time"},
      "maybe": {"type": ["string", "null"]},
      "either": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
      "mode": {"const": "fast"},
      "level": {"type": "integer", "enum": [1, 2]},
      "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
      "empty": {"type": "object", "properties": {}},
      "list": {"type": "array"},
      "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"properties": {"b": {"type": "number"}}, "required": ["b"]}]}
    },
    "required": ["url", "ghost"]
  }]]))
  local out = tools.gemini_schema(schema)
  A.eq(out, {
    type = "object",
    properties = {
      url = { type = "string" },
      when = { type = "string", format = "date-time" },
      maybe = { type = "string", nullable = true },
      either = { type = "integer", nullable = true },
      mode = { type = "string", enum = { "fast" } },
      level = { type = "integer", description = "Allowed values: 1, 2" },
      items = { type = "array", items = { type = "object", properties = { name = { type = "string" } }, required = { "name" } } },
      empty = { type = "object" },
      list = { type = "array", items = { type = "string" } },
      both = { type = "object", properties = { a = { type = "string" }, b = { type = "number" } }, required = { "b" } },
    },
    required = { "url" },
  })
  A.is_nil(tools.gemini_schema({ type = "object", properties = {} }), "no parameters at all")
end

T["gemini schema survives recursive refs"] = function()
  local schema = { type = "object", properties = { node = { ["$ref"] = "#/definitions/Node" } },
    definitions = { Node = { type = "object", properties = { child = { ["$ref"] = "#/definitions/Node" } } } } }
  local out = tools.gemini_schema(schema)
  A.ok(out.properties.node.properties.child, "expanded a few levels then stopped")
end

T["clean schema keeps arrays and drops empty required"] = function()
  local s = assert(json.decode('{"type":"object","properties":{"a":{"type":"string","enum":["x"]}},"required":[]}'))
  local out = tools.clean_schema(s)
  A.is_nil(out.required)
  A.eq(json.encode(out.properties.a.enum), '["x"]')
  local s2 = { type = "object", properties = { t = { type = { "string", "null" } } }, required = {} }
  A.eq(json.encode(tools.clean_schema(s2).properties.t.type), '["string","null"]')
end

-- ------------------------------------------------------------------ usage --

T["usage normalisation per format"] = function()
  A.eq(formats.usage("anthropic", { usage = { input_tokens = 10, cache_read_input_tokens = 100,
    cache_creation_input_tokens = 5, output_tokens = 7 } }),
    { input = 115, output = 7, cached_read = 100, cache_write = 5, reasoning = 0, tool_use = 0, audio = 0 })
  A.eq(formats.usage("gemini", { usageMetadata = { promptTokenCount = 50, candidatesTokenCount = 10,
    thoughtsTokenCount = 30, cachedContentTokenCount = 20, toolUsePromptTokenCount = 4 } }),
    { input = 54, output = 40, cached_read = 20, cache_write = 0, reasoning = 30, tool_use = 4, audio = 0 })
  A.eq(formats.usage("openai", { usage = { prompt_tokens = 50, completion_tokens = 40,
    prompt_tokens_details = { cached_tokens = 20, audio_tokens = 2 }, completion_tokens_details = { reasoning_tokens = 30 } } }),
    { input = 50, output = 40, cached_read = 20, cache_write = 0, reasoning = 30, tool_use = 0, audio = 2 })
  A.eq(formats.usage("responses", { usage = { input_tokens = 50, output_tokens = 40,
    input_tokens_details = { cached_tokens = 20 }, output_tokens_details = { reasoning_tokens = 30 } } }),
    { input = 50, output = 40, cached_read = 20, cache_write = 0, reasoning = 30, tool_use = 0, audio = 0 })
end

T["usage encoding is the inverse"] = function()
  local u = { input = 115, output = 40, cached_read = 100, cache_write = 5, reasoning = 30, tool_use = 4, audio = 0 }
  A.eq(formats.get("anthropic").encode_usage(u),
    { input_tokens = 10, cache_read_input_tokens = 100, cache_creation_input_tokens = 5, output_tokens = 40 })
  A.eq(formats.get("gemini").encode_usage(u), { promptTokenCount = 111, candidatesTokenCount = 10,
    thoughtsTokenCount = 30, cachedContentTokenCount = 100, toolUsePromptTokenCount = 4, totalTokenCount = 155 })
  A.eq(formats.get("openai").encode_usage(u).prompt_tokens_details, { cached_tokens = 100 })
end

T["anthropic message_delta usage is cumulative, not added"] = function()
  local dec = formats.get("anthropic").stream_decoder({})
  dec:feed("message_start", '{"type":"message_start","message":{"id":"m","model":"c","content":[],"usage":{"input_tokens":10,"cache_read_input_tokens":90,"output_tokens":1}}}')
  dec:feed("content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}')
  dec:feed("content_block_stop", '{"type":"content_block_stop","index":0}')
  local e1 = dec:feed("message_delta", '{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":15}}')
  local e2 = dec:feed("message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":20}}')
  A.eq(e1[1].usage.output, 15)
  A.eq(e2[1].usage, { input = 100, output = 20, cached_read = 90, cache_write = 0, reasoning = 0, tool_use = 0, audio = 0 })
end

-- ------------------------------------------------------- provider rules --

T["anthropic: max_tokens default, thinking constraints"] = function()
  local a = formats.get("anthropic")
  local body = a.encode_request(req({ temperature = 0.3, top_k = 5, reasoning = { effort = "high" } }), { default_max_tokens = 8192 })
  A.eq(body.max_tokens, 8192)
  A.eq(body.thinking, { type = "enabled", budget_tokens = 4096 })
  A.is_nil(body.temperature, "temperature must go with thinking")
  A.is_nil(body.top_k)
  body = a.encode_request(req({ max_tokens = 1500, reasoning = { budget_tokens = 4000 } }), {})
  A.is_nil(body.thinking, "no room for a 1024 budget")
  body = a.encode_request(req({ max_tokens = 3000, reasoning = { budget_tokens = 4000 } }), {})
  A.eq(body.thinking.budget_tokens, 1500)
  body = a.encode_request(req({ tools = { { name = "f" } }, tool_choice = "required", reasoning = { effort = "low" } }), {})
  A.is_nil(body.thinking, "forced tool choice cannot think")
  A.eq(body.tool_choice, { type = "any" })
  A.eq(body.tools[1].input_schema, { type = "object", properties = {} })
end

T["anthropic: unsigned tool loop disables thinking"] = function()
  local r = req({ reasoning = { effort = "low" }, tools = { { name = "f" } } })
  r.messages[2] = { role = "assistant", content = { { type = "reasoning", text = "from openai" },
    { type = "tool_call", id = "call_1", name = "f", arguments = "{}" } } }
  r.messages[3] = { role = "tool", content = { { type = "tool_result", tool_call_id = "call_1", content = "ok" } } }
  local body = formats.get("anthropic").encode_request(r, {})
  A.is_nil(body.thinking)
  A.eq(#body.messages[2].content, 1, "unsigned reasoning dropped")
end

T["tool ids stay paired when a provider restricts them"] = function()
  local r = req()
  local long = "functions.get_weather:0" .. string.rep("x", 40)
  r.messages[2] = { role = "assistant", content = { { type = "tool_call", id = long, name = "f", arguments = "" } } }
  r.messages[3] = { role = "tool", content = { { type = "tool_result", tool_call_id = long, content = "ok" } } }
  local ab = formats.get("anthropic").encode_request(r, {})
  A.eq(ab.messages[2].content[1].id, ab.messages[3].content[1].tool_use_id)
  A.ok(ab.messages[2].content[1].id:match("^[%w_%-]+$"), "anthropic id charset")
  A.eq(ab.messages[2].content[1].input, {})
  local ob = formats.get("openai").encode_request(r, {})
  A.eq(ob.messages[2].tool_calls[1].id, ob.messages[3].tool_call_id)
  A.ok(#ob.messages[3].tool_call_id <= 40, "openai id length")
end

T["openai: max_tokens field and stream usage"] = function()
  local o = formats.get("openai")
  local body = o.encode_request(req({ max_tokens = 10, stream = true }), { max_tokens_field = "max_tokens" })
  A.eq(body.max_tokens, 10)
  A.eq(body.stream_options, { include_usage = true })
  body = o.encode_request(req({ max_tokens = 10 }), {})
  A.eq(body.max_completion_tokens, 10)
end

T["responses: function tools are not strict, state is not stored"] = function()
  local body = formats.get("responses").encode_request(req({ tools = { { name = "f", parameters = { type = "object",
    properties = { a = { type = "string" } } } } } }), {})
  A.eq(body.tools[1].strict, false)
  A.eq(body.store, false)
end

T["gemini: path, ids by name, optional missing-signature value"] = function()
  local g = formats.get("gemini")
  A.eq(g.path("models/gemini-2.5-pro", true), "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
  A.eq(g.path("gemini-2.5-pro", false), "/v1beta/models/gemini-2.5-pro:generateContent")
  local r = req()
  r.messages[2] = { role = "assistant", content = { { type = "tool_call", id = "toolu_1", name = "f", arguments = '{"x":1}' } } }
  r.messages[3] = { role = "tool", content = { { type = "tool_result", tool_call_id = "toolu_1", content = "done" } } }
  local body = g.encode_request(r, { gemini_missing_signature = "skip_thought_signature_validator" })
  A.eq(body.contents[2].parts[1].thoughtSignature, "skip_thought_signature_validator")
  A.eq(body.contents[3].parts[1].functionResponse, { name = "f", response = { output = "done" } })
  A.is_nil(g.encode_request(r, {}).contents[2].parts[1].thoughtSignature)
  r.messages[3].content[1].tool_call_id = "nope"
  A.refused(g.encode_request(r, {}))
end

T["stop reasons: tool use is never end_turn"] = function()
  A.eq(canonical.final_stop("end_turn", true), "tool_use")
  A.eq(canonical.final_stop("max_tokens", true), "max_tokens")
  local resp = { content = { { type = "tool_call", id = "c", name = "f", arguments = "{}" } }, stop_reason = "end_turn",
    usage = common.new_usage() }
  A.eq(formats.get("openai").encode_response(resp).choices[1].finish_reason, "tool_calls")
  A.eq(formats.get("anthropic").encode_response(resp).stop_reason, "tool_use")
  A.eq(formats.get("gemini").decode_response({ candidates = { { content = { parts = { { functionCall = { name = "f", args = {} } } } },
    finishReason = "STOP" } } }).stop_reason, "tool_use")
  A.eq(formats.get("responses").encode_response({ content = {}, stop_reason = "max_tokens", usage = common.new_usage() }).incomplete_details,
    { reason = "max_output_tokens" })
  A.eq(formats.get("anthropic").decode_response({ content = {}, stop_reason = "refusal" }).stop_reason, "content_filter")
  A.eq(formats.get("gemini").decode_response({ candidates = { { content = { parts = {} }, finishReason = "SAFETY" } } }).stop_reason,
    "content_filter")
end

-- --------------------------------------------------------------- refusals --

T["refused: Responses server-side state to other providers"] = function()
  local body = { model = "gpt-5", previous_response_id = "resp_123", input = "continue" }
  for _, p in ipairs({ "openai", "anthropic", "gemini" }) do
    A.refused(formats.request("responses", p, body, {}), select(2, formats.request("responses", p, body, {})),
      "previous_response_id needs server-side state that only an OpenAI Responses provider keeps; send the full conversation instead")
  end
  local out = formats.request("responses", "responses", body, {})
  A.eq(out.previous_response_id, "resp_123", "same provider keeps it")
  local ref = { model = "m", input = { { type = "item_reference", id = "msg_1" } } }
  A.refused(formats.request("responses", "openai", ref), select(2, formats.request("responses", "openai", ref)), "item_reference")
  local conv = { model = "m", conversation = "conv_1", input = "x" }
  A.refused(formats.request("responses", "anthropic", conv), select(2, formats.request("responses", "anthropic", conv)), "conversation")
end

T["refused: unknown block and part types are named"] = function()
  local cases = {
    { "anthropic", { model = "c", max_tokens = 5, messages = { { role = "user", content = { { type = "document",
      source = { type = "base64", media_type = "application/pdf", data = "x" } } } } } }, "'document'" },
    { "openai", { model = "g", messages = { { role = "user", content = { { type = "input_audio", input_audio = {} } } } } }, "'input_audio'" },
    { "gemini", { contents = { { role = "model", parts = { { executableCode = { code = "1" } } } } } }, "executableCode" },
    { "responses", { model = "g", input = { { type = "web_search_call", id = "ws" } } }, "'web_search_call'" },
    { "anthropic", { model = "c", max_tokens = 5, messages = {}, tools = { { type = "web_search_20250305", name = "web_search" } } }, "web_search_20250305" },
    { "openai", { model = "g", messages = {}, n = 2 }, "n > 1" },
    { "gemini", { cachedContent = "cachedContents/x", contents = {} }, "cachedContent" },
    { "gemini", { contents = { { role = "user", parts = { { inlineData = { mimeType = "application/pdf", data = "x" } } } } } }, "application/pdf" },
  }
  for _, c in ipairs(cases) do
    local target = c[1] == "openai" and "anthropic" or "openai"
    local out, err = formats.request(c[1], target, c[2], {}, { model = "m" })
    A.refused(out, err, c[3])
  end
end

T["refused: stop sequences to Responses, JSON schema to Anthropic, unless lenient"] = function()
  local r = req({ stop = { "END" } })
  A.refused(formats.get("responses").encode_request(r, {}), select(2, formats.get("responses").encode_request(r, {})), "stop sequences")
  A.ok(formats.get("responses").encode_request(r, { lenient = true }))
  local r2 = req({ response_format = { type = "json_object" } })
  A.refused(formats.get("anthropic").encode_request(r2, {}), select(2, formats.get("anthropic").encode_request(r2, {})), "response_format")
  A.ok(formats.get("anthropic").encode_request(r2, { lenient = true }))
  local r3 = req()
  r3.messages[2] = { role = "assistant", content = { { type = "tool_call", id = "c", name = "f", arguments = "{oops" } } }
  A.refused(formats.get("anthropic").encode_request(r3, {}), select(2, formats.get("anthropic").encode_request(r3, {})), "not valid JSON")
end

-- ----------------------------------------------------------------- errors --

T["error bodies in each format's own shape"] = function()
  local s, b = formats.error("openai", 429, "slow down")
  A.eq({ s, b }, { 429, { error = { message = "slow down", type = "rate_limit_error", param = json.null, code = "rate_limit_exceeded" } } })
  s, b = formats.error("anthropic", nil, "busy", "overloaded")
  A.eq({ s, b }, { 529, { type = "error", error = { type = "overloaded_error", message = "busy" } } })
  s, b = formats.error("anthropic", 401, "bad key")
  A.eq(b.error.type, "authentication_error")
  s, b = formats.error("gemini", 400, "bad")
  A.eq({ s, b }, { 400, { error = { code = 400, message = "bad", status = "INVALID_ARGUMENT" } } })
  s, b = formats.error("responses", 404, "no model")
  A.eq(b.error.type, "not_found_error")
  A.eq(select(2, formats.error("gemini", 429, "x")).error.status, "RESOURCE_EXHAUSTED")
end

T["stream errors in each format's own shape"] = function()
  local ev = sse_parse(formats.get("anthropic").stream_error(500, "boom"))[1]
  A.eq(ev.event, "error")
  A.eq(json.decode(ev.data), { type = "error", error = { type = "api_error", message = "boom" } })
  ev = sse_parse(formats.get("openai").stream_error(500, "boom"))[1]
  A.is_nil(ev.event)
  A.eq(json.decode(ev.data).error.message, "boom")
  ev = sse_parse(formats.get("responses").stream_error(429, "slow"))[1]
  A.eq(ev.event, "error")
  A.eq(json.decode(ev.data).code, "rate_limit_exceeded")
  ev = sse_parse(formats.get("gemini").stream_error(503, "later"))[1]
  A.eq(json.decode(ev.data).error.status, "UNAVAILABLE")
end

-- -------------------------------------------------------------- converter --

T["converter: upstream ended early becomes a client error"] = function()
  for _, p in ipairs({ "openai", "anthropic", "responses", "gemini" }) do
    for _, c in ipairs({ "openai", "anthropic", "responses", "gemini" }) do
      local conv = formats.stream(c, p, {})
      conv:feed(nil, "{}")
      local out = table.concat(conv:finish())
      A.contains(out, "upstream stream ended early", p .. " -> " .. c)
      A.eq(conv:state().error, "upstream stream ended early")
    end
  end
end

T["converter: invalid upstream JSON becomes a client error"] = function()
  local conv = formats.stream("anthropic", "openai", {})
  local out = table.concat(conv:feed(nil, "{not json"))
  A.contains(out, "event: error")
  A.contains(out, "invalid JSON")
  A.eq(#conv:feed(nil, '{"choices":[]}'), 0, "closed after an error")
end

T["converter: openai include_usage only when asked"] = function()
  local chunks = {
    '{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}',
  }
  local function run(opts)
    local conv = formats.stream("openai", "anthropic", opts)
    local out = {}
    local events = {
      { "message_start", '{"type":"message_start","message":{"id":"m1","model":"c","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}' },
      { "content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}' },
      { "content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}' },
      { "content_block_stop", '{"type":"content_block_stop","index":0}' },
      { "message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}' },
      { "message_stop", '{"type":"message_stop"}' },
    }
    for _, e in ipairs(events) do
      for _, t in ipairs(conv:feed(e[1], e[2])) do out[#out + 1] = t end
    end
    return table.concat(out)
  end
  local with = run({ include_usage = true })
  A.contains(with, '"choices":[]')
  A.contains(with, '"prompt_tokens":3')
  local without = run({})
  A.ok(not without:find('"choices":[]', 1, true), "no usage chunk")
  A.eq(without:sub(-14), "data: [DONE]\n\n", "ends with [DONE]")
  A.ok(#chunks == 1)
end

T["sequencer: interleaved blocks come out one at a time"] = function()
  local s = sequencer.new()
  local out = {}
  local input = {
    { type = "block_start", index = 0, block = { type = "tool_call", id = "a", name = "f" } },
    { type = "block_start", index = 1, block = { type = "tool_call", id = "b", name = "f" } },
    { type = "delta", index = 1, arguments = "{}" },
    { type = "delta", index = 0, arguments = "{" },
    { type = "delta", index = 0, arguments = "}" },
    { type = "block_stop", index = 1 },
    { type = "block_stop", index = 0 },
    { type = "stop", stop_reason = "tool_use" },
  }
  for _, e in ipairs(input) do s:push(e, out) end
  local seq = {}
  for _, e in ipairs(out) do seq[#seq + 1] = e.type .. (e.index and (":" .. e.index) or "") end
  A.eq(seq, { "block_start:0", "delta:0", "delta:0", "block_stop:0", "block_start:1", "delta:1", "block_stop:1", "stop" })
  A.eq(out[6].arguments, "{}")
end

-- --------------------------------------------------------------- registry --

T["registry: register, override, reject incomplete"] = function()
  A.refused(formats.get("nope"), select(2, formats.get("nope")), "unknown format 'nope'")
  A.refused(formats.register("half", { decode_request = function() end }),
    select(2, formats.register("half", { decode_request = function() end })), "lacks function")
  local echo = setmetatable({}, { __index = formats.get("openai") })
  echo.encode_request = function(c) return { echoed = c.model }, "/echo" end
  A.ok(formats.register("echo", echo))
  local body, path = formats.request("anthropic", "echo", { model = "x", max_tokens = 1, messages = {} })
  A.eq({ body, path }, { { echoed = "x" }, "/echo" })
  local names = table.concat(formats.names(), ",")
  A.contains(names, "echo")
  A.contains(names, "gemini")
end

T["canonical validator catches bad shapes"] = function()
  A.ok(canonical.validate_request(req()))
  local bad = req()
  bad.messages[1].content[1] = { type = "tool_call", id = "x", name = "f", arguments = "{}" }
  A.refused(canonical.validate_request(bad), select(2, canonical.validate_request(bad)), "not allowed in user")
  local st = {}
  A.ok(canonical.validate_event({ type = "block_start", index = 0, block = { type = "text" } }, st))
  A.refused(canonical.validate_event({ type = "block_start", index = 2, block = { type = "text" } }, st))
  A.refused(canonical.validate_event({ type = "stop", stop_reason = "end_turn" }, st))
end

T["decoders accept bodies decoded by plain cjson"] = function()
  local cjson = require "cjson"
  local V = require "lib.vectors"
  for _, name in ipairs(V.requests) do
    local body = cjson.decode(V.read(name .. ".json"))
    local canon, err = formats.decode_request(V.format(name), body, V.ctx(name))
    A.ok(canon, name .. ": " .. tostring(err))
    assert(canonical.validate_request(canon))
    for _, dst in ipairs({ "openai", "anthropic", "responses", "gemini" }) do
      A.ok(formats.get(dst).encode_request(canon, { lenient = true }), name .. " -> " .. dst)
    end
  end
end

T["pass-through: usage asked of OpenAI upstream, hidden from a client that did not ask"] = function()
  local V = require "lib.vectors"
  local body, hints = formats.prepare_passthrough("openai", { model = "m", stream = true, messages = {} })
  A.eq(body.stream_options, { include_usage = true })
  A.eq(hints, { include_usage = false, changed = true })
  local conv = formats.stream("openai", "openai", hints)
  local out = {}
  for _, ev in ipairs(V.sse("openai/stream_tools")) do
    for _, t in ipairs(conv:feed(ev.event, ev.data)) do out[#out + 1] = t end
  end
  local text = table.concat(out)
  A.ok(not text:find('"choices":[]', 1, true), "usage chunk hidden")
  A.eq(text:sub(-14), "data: [DONE]\n\n")
  A.eq(conv:usage().input, 82, "usage still recorded")
  local _, h2 = formats.prepare_passthrough("openai", { stream = true, stream_options = { include_usage = true } })
  A.eq(h2, { include_usage = true })
end

local function decode_all(fmt, events)
  local assemble = require "lib.assemble"
  local dec = formats.get(fmt).stream_decoder({})
  local out = {}
  for _, ev in ipairs(events) do
    for _, e in ipairs(dec:feed(ev[1], ev[2])) do out[#out + 1] = e end
  end
  for _, e in ipairs(dec:finish()) do out[#out + 1] = e end
  return assert(assemble.canonical(out))
end

T["decoders: late tool names, done-only items, trailing signatures"] = function()
  local o = decode_all("openai", {
    { nil, '{"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"a\\""}}]}}]}' },
    { nil, '{"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":":1}"}}]}}]}' },
    { nil, '{"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}' },
  })
  A.eq(o.content, { { type = "tool_call", id = "call_0", name = "f", arguments = '{"a":1}' } })
  A.eq(o.stop_reason, "tool_use", "no [DONE]: finish() still ends cleanly after a finish_reason")
  local r = decode_all("responses", {
    { "response.created", '{"type":"response.created","response":{"id":"resp_1","model":"m","output":[]}}' },
    { "response.output_item.done", '{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"whole"}]}}' },
    { "response.output_item.done", '{"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}}' },
    { "response.completed", '{"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":1,"output_tokens":2}}}' },
  })
  A.eq(r.content, { { type = "text", text = "whole" }, { type = "tool_call", id = "c1", name = "f", arguments = "{}" } })
  A.eq(r.stop_reason, "tool_use")
  local g = decode_all("gemini", {
    { nil, '{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]}}]}' },
    { nil, '{"candidates":[{"content":{"role":"model","parts":[{"text":"","thoughtSignature":"SIG"}]},"finishReason":"STOP"}]}' },
  })
  A.eq(g.content, { { type = "text", text = "hi", signature = "SIG" } })
end

return T
