-- moongate.formats.canonical: the one shape every format converts to and from,
-- and a validator for it. N formats need 2N converters through this, not N².
-- Uses: moongate.formats.common.
--
-- REQUEST
--   {
--     model       = "name",                       -- as the client sent it
--     system      = { <text block>... },          -- empty list when none
--     messages    = { { role = "user"|"assistant"|"tool", content = { <block>... } }... },
--     tools       = { { name = "f", description = "…"?, parameters = <JSON schema table>? }... }?,
--     tool_choice = "auto" | "none" | "required" | { name = "f" }?,
--     parallel_tool_calls = bool?,
--     max_tokens, temperature, top_p, top_k, presence_penalty, frequency_penalty, seed  (numbers?),
--     stop        = { "seq"... }?,
--     stream      = bool,
--     user        = "end-user id"?,              -- OpenAI user, Anthropic metadata.user_id
--     metadata    = { key = "string value" }?,   -- OpenAI/Responses metadata
--     reasoning   = { effort = "none"|"minimal"|"low"|"medium"|"high"?, budget_tokens = n?,
--                     summary = bool? }?,        -- ask for thinking/reasoning
--     response_format = { type = "text"|"json_object"|"json_schema", name?, schema?, strict? }?,
--     include_usage = bool?,                     -- OpenAI client asked for stream usage
--     -- Responses-only server-side state; every other provider refuses these:
--     previous_response_id = "resp_…"?, conversation = "conv_…"?, store = bool?,
--   }
--   Roles: "user" holds text/image blocks; "assistant" holds reasoning/text/tool_call
--   blocks in the order produced; "tool" holds only tool_result blocks (one tool
--   message may answer several calls). Decoders merge consecutive tool messages,
--   hoist system/developer messages found anywhere into `system`, and drop empty
--   text blocks (providers reject them).
--
-- BLOCKS
--   { type = "text", text = "…", signature = "…"? }        -- signature: Gemini thoughtSignature
--   { type = "image", source = { kind = "base64", media_type = "image/png", data = "<b64>" } }
--   { type = "image", source = { kind = "url", url = "https://…", media_type = "…"? } }
--   { type = "tool_call", id = "call_…", name = "f", arguments = "<JSON object text>",
--     signature = "…"? }                                   -- Gemini thoughtSignature
--   { type = "tool_result", tool_call_id = "call_…", name = "f"?,
--     content = { <text|image block>... } | "text", is_error = bool? }
--   { type = "reasoning", text = "…"?, signature = "…"?,   -- Anthropic thinking signature,
--     redacted = bool?, data = "…"?, id = "…"? }           --   Gemini thought signature;
--                                                          -- data: Anthropic redacted_thinking
--                                                          --   or Responses encrypted_content
-- RESPONSE
--   { id, model, content = { <reasoning|text|tool_call block>... },
--     stop_reason = "end_turn"|"max_tokens"|"tool_use"|"stop_sequence"|"content_filter"|"error",
--     stop_sequence = "…"?, usage = <usage> }
--   Rule: when any tool_call is present and the stop would be end_turn, it is tool_use.
--
-- USAGE (fixed semantics, all numbers, 0 when unknown)
--   { input, output, cached_read, cache_write, reasoning, tool_use, audio }
--   input INCLUDES cached_read and cache_write (and Gemini tool-use prompt tokens);
--   output INCLUDES reasoning. tool_use and audio are informational subsets.
--
-- STREAM EVENTS (what stream decoders produce and stream encoders consume)
--   { type = "start", id, model, usage = <usage>? }        -- first event
--   { type = "block_start", index, block = { type = "text"|"reasoning"|"tool_call",
--       id?, name?, signature?, redacted?, data? } }
--   { type = "delta", index, text = "…" | arguments = "…" | reasoning = "…"
--       | signature = "…" | data = "…" }
--   { type = "block_stop", index }
--   { type = "usage", usage = <usage> }                    -- a full snapshot, never an increment
--   { type = "stop", stop_reason, stop_sequence? }         -- after every block_stop and the last usage
--   { type = "error", status, message, kind }
--   { type = "done" }
--   Block indexes count from 0 in block_start order. Blocks may interleave (a
--   delta names its block); encoders of strictly sequential formats re-order
--   them through moongate.formats.sequencer.
--
-- ERROR KINDS: invalid_request, authentication, permission, not_found,
--   request_too_large, rate_limit, server, upstream, overloaded, timeout.

local common = require "moongate.formats.common"

local canonical = {}

local type, ipairs, pairs, tostring = type, ipairs, pairs, tostring

canonical.stop_reasons = {
  end_turn = true, max_tokens = true, tool_use = true, stop_sequence = true,
  content_filter = true, error = true,
}

canonical.block_types = { text = true, image = true, tool_call = true, tool_result = true, reasoning = true }

local allowed_in = {
  system = { text = true },
  user = { text = true, image = true },
  assistant = { text = true, tool_call = true, reasoning = true },
  tool = { tool_result = true },
  result = { text = true, image = true },
  response = { text = true, tool_call = true, reasoning = true },
}

-- Applies the tool-use rule: a turn that emitted a tool call ends in tool_use.
function canonical.final_stop(stop_reason, saw_tool_call)
  if saw_tool_call and (stop_reason == nil or stop_reason == "end_turn" or stop_reason == "stop_sequence") then
    return "tool_use"
  end
  return stop_reason or "end_turn"
end

-- Responses server-side state cannot travel to any other provider.
function canonical.require_stateless(req)
  if req.previous_response_id then
    return nil, "previous_response_id needs server-side state that only an OpenAI Responses provider keeps; send the full conversation instead"
  end
  if req.conversation then
    return nil, "conversation needs server-side state that only an OpenAI Responses provider keeps; send the full conversation instead"
  end
  return true
end

-- Name of the tool each tool_call id refers to, across the whole conversation.
function canonical.call_names(req)
  local names = {}
  for _, m in ipairs(req.messages or {}) do
    if m.role == "assistant" then
      for _, b in ipairs(m.content) do
        if b.type == "tool_call" then names[b.id] = b.name end
      end
    end
  end
  return names
end

-- Tool result content as a list of blocks (it may be a plain string).
function canonical.result_blocks(content)
  if type(content) == "string" then
    if content == "" then return {} end
    return { { type = "text", text = content } }
  end
  return content or {}
end

-- ------------------------------------------------------------- validator --

local function fail(path, msg) return nil, path .. ": " .. msg end

local function check_string(v, path, optional)
  if v == nil and optional then return true end
  if type(v) ~= "string" then return fail(path, "expected a string, got " .. type(v)) end
  return true
end

local check_block

local function check_blocks(list, ctx, path)
  if type(list) ~= "table" then return fail(path, "expected a list of blocks") end
  for i, b in ipairs(list) do
    local ok, err = check_block(b, ctx, path .. "[" .. i .. "]")
    if not ok then return nil, err end
  end
  return true
end

check_block = function(b, ctx, path)
  if type(b) ~= "table" then return fail(path, "block must be a table") end
  local t = b.type
  if not canonical.block_types[t] then return fail(path, "unknown block type " .. tostring(t)) end
  if not allowed_in[ctx][t] then return fail(path, t .. " block not allowed in " .. ctx) end
  local ok, err = true, nil
  if t == "text" then
    ok, err = check_string(b.text, path .. ".text")
  elseif t == "image" then
    local s = b.source
    if type(s) ~= "table" then return fail(path, "image needs a source") end
    if s.kind == "base64" then
      ok, err = check_string(s.data, path .. ".source.data")
      if ok then ok, err = check_string(s.media_type, path .. ".source.media_type") end
    elseif s.kind == "url" then
      ok, err = check_string(s.url, path .. ".source.url")
    else
      return fail(path, "image source kind must be base64 or url")
    end
  elseif t == "tool_call" then
    ok, err = check_string(b.id, path .. ".id")
    if ok then ok, err = check_string(b.name, path .. ".name") end
    if ok then ok, err = check_string(b.arguments, path .. ".arguments") end
  elseif t == "tool_result" then
    ok, err = check_string(b.tool_call_id, path .. ".tool_call_id")
    if ok and type(b.content) ~= "string" then
      ok, err = check_blocks(b.content or {}, "result", path .. ".content")
    end
  elseif t == "reasoning" then
    ok, err = check_string(b.text, path .. ".text", true)
    if ok then ok, err = check_string(b.signature, path .. ".signature", true) end
    if ok then ok, err = check_string(b.data, path .. ".data", true) end
  end
  return ok, err
end

local function check_usage(u, path)
  if type(u) ~= "table" then return fail(path, "usage must be a table") end
  for _, k in ipairs(common.usage_keys) do
    if type(u[k]) ~= "number" then return fail(path .. "." .. k, "expected a number") end
  end
  return true
end
canonical.validate_usage = check_usage

function canonical.validate_request(req)
  if type(req) ~= "table" then return fail("request", "must be a table") end
  local ok, err = check_blocks(req.system or {}, "system", "system")
  if not ok then return nil, err end
  if type(req.messages) ~= "table" then return fail("messages", "expected a list") end
  for i, m in ipairs(req.messages) do
    local path = "messages[" .. i .. "]"
    if not allowed_in[m.role] or m.role == "system" then return fail(path, "bad role " .. tostring(m.role)) end
    ok, err = check_blocks(m.content, m.role, path .. ".content")
    if not ok then return nil, err end
  end
  for i, t in ipairs(req.tools or {}) do
    ok, err = check_string(t.name, "tools[" .. i .. "].name")
    if not ok then return nil, err end
    if t.parameters ~= nil and type(t.parameters) ~= "table" then
      return fail("tools[" .. i .. "].parameters", "expected a schema table")
    end
  end
  local tc = req.tool_choice
  if tc ~= nil and tc ~= "auto" and tc ~= "none" and tc ~= "required"
      and not (type(tc) == "table" and type(tc.name) == "string") then
    return fail("tool_choice", "expected auto, none, required or {name=}")
  end
  if req.stop ~= nil and type(req.stop) ~= "table" then return fail("stop", "expected a list") end
  return true
end

function canonical.validate_response(resp)
  if type(resp) ~= "table" then return fail("response", "must be a table") end
  local ok, err = check_blocks(resp.content, "response", "content")
  if not ok then return nil, err end
  if not canonical.stop_reasons[resp.stop_reason] then
    return fail("stop_reason", "unknown " .. tostring(resp.stop_reason))
  end
  return check_usage(resp.usage, "usage")
end

local event_types = {
  start = true, block_start = true, delta = true, block_stop = true, usage = true,
  stop = true, error = true, done = true,
}

-- Validates one event; `state` (a table the caller keeps) checks ordering:
-- contiguous indexes, deltas only inside open blocks, stop after all stops.
function canonical.validate_event(e, state)
  state = state or {}
  if type(e) ~= "table" or not event_types[e.type] then
    return fail("event", "unknown event type " .. tostring(e and e.type))
  end
  state.open = state.open or {}
  state.next_index = state.next_index or 0
  local t = e.type
  if t == "block_start" then
    if e.index ~= state.next_index then
      return fail("block_start", "index " .. tostring(e.index) .. " expected " .. state.next_index)
    end
    if type(e.block) ~= "table" or not ({ text = true, reasoning = true, tool_call = true })[e.block.type] then
      return fail("block_start", "bad block")
    end
    if e.block.type == "tool_call" and (type(e.block.id) ~= "string" or type(e.block.name) ~= "string") then
      return fail("block_start", "tool_call needs id and name")
    end
    state.open[e.index] = true
    state.next_index = state.next_index + 1
  elseif t == "delta" or t == "block_stop" then
    if not state.open[e.index] then return fail(t, "block " .. tostring(e.index) .. " is not open") end
    if t == "block_stop" then state.open[e.index] = nil end
  elseif t == "usage" then
    return check_usage(e.usage, "usage")
  elseif t == "stop" then
    if next(state.open) ~= nil then return fail("stop", "blocks still open") end
    if not canonical.stop_reasons[e.stop_reason] then return fail("stop", "bad stop_reason " .. tostring(e.stop_reason)) end
    state.stopped = true
  elseif t == "done" then
    if not state.stopped then return fail("done", "done before stop") end
  end
  return true
end

return canonical
