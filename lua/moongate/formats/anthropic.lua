-- moongate.formats.anthropic: Anthropic Messages (/v1/messages) <-> canonical.
-- Requests, responses, usage, errors here; streaming in anthropic_stream.lua.
-- Usage: Anthropic input_tokens EXCLUDES cache reads and writes, so canonical
-- input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens,
-- and encoding subtracts them again.
-- Provider-side rules handled when encoding a request: max_tokens is required
-- (opts.default_max_tokens), thinking needs max_tokens > budget_tokens >= 1024,
-- no temperature/top_k (and top_p >= 0.95) while thinking, no forced tool
-- choice while thinking, unsigned reasoning is dropped (it would be rejected),
-- tool ids must match ^[a-zA-Z0-9_-]+$ (mapped the same way on both sides).
-- What this format cannot carry: metadata other than user_id, seed, penalties,
-- response_format (refused unless opts.lenient), Gemini text signatures.
-- Uses: json, common, canonical, tools, anthropic_stream.

local json = require "moongate.formats.json"
local common = require "moongate.formats.common"
local canonical = require "moongate.formats.canonical"
local tools = require "moongate.formats.tools"

local M = { name = "anthropic" }

local type, ipairs, tostring, tonumber = type, ipairs, tostring, tonumber
local present, null = common.present, json.null

local stop_to_canon = {
  end_turn = "end_turn", max_tokens = "max_tokens", stop_sequence = "stop_sequence",
  tool_use = "tool_use", refusal = "content_filter", pause_turn = "end_turn",
  model_context_window_exceeded = "max_tokens",
}
local canon_to_stop = {
  end_turn = "end_turn", max_tokens = "max_tokens", stop_sequence = "stop_sequence",
  tool_use = "tool_use", content_filter = "refusal", error = "end_turn",
}
M.stop_to_canon, M.canon_to_stop = stop_to_canon, canon_to_stop

-- ------------------------------------------------------------------ usage --

function M.usage(x)
  if type(x) ~= "table" then return common.new_usage() end
  if x.input ~= nil or x.output ~= nil then return common.copy_usage(x) end
  local u = x.usage
  if type(u) ~= "table" then
    u = type(x.message) == "table" and x.message.usage or x
  end
  if type(u) ~= "table" then return common.new_usage() end
  local out = common.new_usage()
  out.cached_read = common.n(u.cache_read_input_tokens)
  out.cache_write = common.n(u.cache_creation_input_tokens)
  out.input = common.n(u.input_tokens) + out.cached_read + out.cache_write
  out.output = common.n(u.output_tokens)
  return out
end

-- Folds a message_delta usage (cumulative, fields optional) into a snapshot.
function M.merge_usage(current, u)
  local out = common.copy_usage(current)
  if type(u) ~= "table" then return out end
  local cr = tonumber(u.cache_read_input_tokens)
  local cw = tonumber(u.cache_creation_input_tokens)
  local it = tonumber(u.input_tokens)
  if cr then out.cached_read = cr end
  if cw then out.cache_write = cw end
  if it then out.input = it + out.cached_read + out.cache_write
  elseif cr or cw then
    -- keep the uncached part from before, re-add the new cache numbers
    local before = common.copy_usage(current)
    out.input = before.input - before.cached_read - before.cache_write + out.cached_read + out.cache_write
  end
  if tonumber(u.output_tokens) then out.output = tonumber(u.output_tokens) end
  return out
end

function M.encode_usage(u)
  u = common.copy_usage(u)
  local uncached = u.input - u.cached_read - u.cache_write
  if uncached < 0 then uncached = 0 end
  return {
    input_tokens = uncached, output_tokens = u.output,
    cache_creation_input_tokens = u.cache_write, cache_read_input_tokens = u.cached_read,
  }
end

-- ------------------------------------------------------------- decoding --

local function decode_image(b)
  local s = b.source
  if type(s) ~= "table" then return nil, "image block needs a source" end
  if s.type == "base64" then
    return { type = "image", source = { kind = "base64", media_type = tostring(s.media_type or "image/png"),
      data = tostring(s.data or "") } }
  elseif s.type == "url" then
    return { type = "image", source = { kind = "url", url = tostring(s.url or "") } }
  end
  return nil, "cannot convert Anthropic image source of type '" .. tostring(s.type) .. "'"
end

local function decode_result_content(c)
  if type(c) == "string" then return canonical.result_blocks(c) end
  local out = {}
  if not present(c) then return out end
  for _, b in ipairs(c) do
    if b.type == "text" then
      if type(b.text) == "string" and b.text ~= "" then out[#out + 1] = { type = "text", text = b.text } end
    elseif b.type == "image" then
      local img, err = decode_image(b)
      if not img then return nil, err end
      out[#out + 1] = img
    else
      return nil, "cannot convert Anthropic tool_result content block of type '" .. tostring(b.type) .. "'"
    end
  end
  return out
end

-- One Anthropic content block -> canonical block (or nil, err).
function M.decode_block(b)
  local t = type(b) == "table" and b.type
  if t == "text" then
    return { type = "text", text = tostring(b.text or "") }
  elseif t == "image" then
    return decode_image(b)
  elseif t == "tool_use" then
    return { type = "tool_call", id = tostring(b.id or ""), name = tostring(b.name or ""),
      arguments = common.object_to_args(b.input) }
  elseif t == "thinking" then
    local sig = common.str(b.signature)
    return { type = "reasoning", text = tostring(b.thinking or ""), signature = sig ~= "" and sig or nil }
  elseif t == "redacted_thinking" then
    return { type = "reasoning", redacted = true, data = tostring(b.data or "") }
  elseif t == "tool_result" then
    local content, err = decode_result_content(b.content)
    if not content then return nil, err end
    return { type = "tool_result", tool_call_id = tostring(b.tool_use_id or ""), content = content,
      is_error = b.is_error == true or nil }
  end
  return nil, "cannot convert Anthropic content block of type '" .. tostring(t) .. "'"
end

local function decode_message(m, msgs, i)
  local role = type(m) == "table" and m.role
  if role ~= "user" and role ~= "assistant" then
    return nil, "messages[" .. i .. "]: unsupported role '" .. tostring(role) .. "'"
  end
  local content = m.content
  if type(content) == "string" then content = { { type = "text", text = content } } end
  if type(content) ~= "table" then return nil, "messages[" .. i .. "]: content must be a string or a list" end
  local current = nil
  for _, raw in ipairs(content) do
    local b, err = M.decode_block(raw)
    if not b then return nil, "messages[" .. i .. "]: " .. err end
    if not (b.type == "text" and b.text == "") then
      local r = b.type == "tool_result" and "tool" or role
      if role == "assistant" and (b.type == "tool_result") then
        return nil, "messages[" .. i .. "]: tool_result in an assistant message"
      end
      if role == "user" and (b.type == "tool_call" or b.type == "reasoning") then
        return nil, "messages[" .. i .. "]: " .. raw.type .. " in a user message"
      end
      if not current or current.role ~= r then
        current = { role = r, content = {} }
        msgs[#msgs + 1] = current
      end
      current.content[#current.content + 1] = b
    end
  end
  if not current and role == "assistant" then msgs[#msgs + 1] = { role = "assistant", content = {} } end
  return true
end

local function decode_tool_choice(tc, canon)
  if type(tc) ~= "table" then return nil end
  if tc.disable_parallel_tool_use == true then canon.parallel_tool_calls = false end
  if tc.type == "auto" then return "auto" end
  if tc.type == "any" then return "required" end
  if tc.type == "none" then return "none" end
  if tc.type == "tool" and type(tc.name) == "string" then return { name = tc.name } end
  return nil
end

function M.decode_request(body, ctx)
  if type(body) ~= "table" then return nil, "request body must be a JSON object" end
  if type(body.messages) ~= "table" then return nil, "messages must be a list" end
  local canon = {
    model = (ctx and ctx.model) or body.model, system = {}, messages = {},
    stream = body.stream == true, max_tokens = common.num(body.max_tokens),
    temperature = common.num(body.temperature), top_p = common.num(body.top_p), top_k = common.num(body.top_k),
  }
  local sys = body.system
  if type(sys) == "string" then
    if sys ~= "" then canon.system[1] = { type = "text", text = sys } end
  elseif type(sys) == "table" then
    for _, b in ipairs(sys) do
      if type(b) ~= "table" or b.type ~= "text" then
        return nil, "cannot convert Anthropic system block of type '" .. tostring(type(b) == "table" and b.type) .. "'"
      end
      if type(b.text) == "string" and b.text ~= "" then canon.system[#canon.system + 1] = { type = "text", text = b.text } end
    end
  end
  for i, m in ipairs(body.messages) do
    local ok, err = decode_message(m, canon.messages, i)
    if not ok then return nil, err end
  end
  if type(body.stop_sequences) == "table" and #body.stop_sequences > 0 then canon.stop = body.stop_sequences end
  if type(body.metadata) == "table" and type(body.metadata.user_id) == "string" then
    canon.user = body.metadata.user_id
  end
  if type(body.tools) == "table" and #body.tools > 0 then
    canon.tools = {}
    for i, t in ipairs(body.tools) do
      if type(t) ~= "table" or (t.type ~= nil and t.type ~= "custom") or type(t.name) ~= "string" then
        return nil, "tools[" .. i .. "]: cannot convert Anthropic server tool of type '" ..
          tostring(type(t) == "table" and t.type) .. "' to another provider"
      end
      canon.tools[i] = { name = t.name, description = common.str(t.description),
        parameters = type(t.input_schema) == "table" and t.input_schema or nil }
    end
  end
  canon.tool_choice = decode_tool_choice(body.tool_choice, canon)
  local th = body.thinking
  if type(th) == "table" and (th.type == "enabled" or th.type == "adaptive") then
    canon.reasoning = { budget_tokens = common.num(th.budget_tokens) }
    if not canon.reasoning.budget_tokens then canon.reasoning.effort = "medium" end
  end
  return canon
end

function M.decode_response(body)
  if type(body) ~= "table" then return nil, "response body must be a JSON object" end
  if body.type == "error" then
    local e = type(body.error) == "table" and body.error or {}
    return nil, tostring(e.message or "upstream error")
  end
  local content, saw_tool = {}, false
  for _, raw in ipairs(type(body.content) == "table" and body.content or {}) do
    local b, err = M.decode_block(raw)
    if not b then return nil, err end
    if b.type == "tool_result" or b.type == "image" then
      return nil, "cannot convert Anthropic response block of type '" .. tostring(raw.type) .. "'"
    end
    if b.type == "tool_call" then saw_tool = true end
    if not (b.type == "text" and b.text == "") then content[#content + 1] = b end
  end
  local stop = stop_to_canon[body.stop_reason] or "end_turn"
  return {
    id = common.str(body.id), model = common.str(body.model), content = content,
    stop_reason = canonical.final_stop(stop, saw_tool),
    stop_sequence = common.str(body.stop_sequence), usage = M.usage(body.usage),
  }
end

-- ------------------------------------------------------------- encoding --

local function encode_image(b)
  local s = b.source
  if s.kind == "base64" then
    return { type = "image", source = { type = "base64", media_type = s.media_type, data = s.data } }
  end
  return { type = "image", source = { type = "url", url = s.url } }
end

local function encode_result(r)
  local blocks = canonical.result_blocks(r.content)
  local out = { type = "tool_result", tool_use_id = common.anthropic_id(r.tool_call_id), is_error = r.is_error or nil }
  if #blocks == 1 and blocks[1].type == "text" then
    out.content = blocks[1].text
  elseif #blocks > 0 then
    out.content = json.array()
    for i, b in ipairs(blocks) do
      out.content[i] = b.type == "image" and encode_image(b) or { type = "text", text = b.text }
    end
  end
  return out
end

-- Canonical block -> Anthropic block, or nil when Anthropic must not see it.
function M.encode_block(b, for_request)
  local t = b.type
  if t == "text" then
    if b.text == "" then return nil end
    return { type = "text", text = b.text }
  elseif t == "image" then
    return encode_image(b)
  elseif t == "tool_call" then
    local input, err = common.args_to_object(b.arguments)
    if not input then
      if for_request then return nil, "tool call " .. tostring(b.id) .. ": " .. err end
      input = {}
    end
    return { type = "tool_use", id = for_request and common.anthropic_id(b.id) or b.id, name = b.name, input = input }
  elseif t == "reasoning" then
    if b.redacted then
      if not b.data then return nil end
      return { type = "redacted_thinking", data = b.data }
    end
    if for_request and not b.signature then return nil end
    return { type = "thinking", thinking = b.text or "", signature = b.signature or "" }
  elseif t == "tool_result" then
    return encode_result(b)
  end
  return nil
end

local function has_signed_reasoning(m)
  for _, b in ipairs(m.content) do
    if b.type == "reasoning" and (b.signature or b.redacted) then return true end
  end
  return false
end

-- Anthropic rejects thinking when the tool loop in progress lacks signed thinking.
local function tool_loop_unsigned(canon)
  local msgs = canon.messages
  local i = #msgs
  while i > 0 and msgs[i].role == "tool" do i = i - 1 end
  if i == #msgs or i == 0 or msgs[i].role ~= "assistant" then return false end
  return not has_signed_reasoning(msgs[i])
end

local function encode_messages(canon)
  local out = json.array()
  for _, m in ipairs(canon.messages) do
    local role = m.role == "assistant" and "assistant" or "user"
    local blocks = json.array()
    for _, b in ipairs(m.content) do
      local eb, err = M.encode_block(b, true)
      if err then return nil, err end
      if eb then blocks[#blocks + 1] = eb end
    end
    if #blocks > 0 then
      local last = out[#out]
      if last and last.role == role and role == "user" and last.from_tool then
        for _, eb in ipairs(blocks) do last.content[#last.content + 1] = eb end
        last.from_tool = nil
      else
        out[#out + 1] = { role = role, content = blocks, from_tool = m.role == "tool" or nil }
      end
    end
  end
  for _, m in ipairs(out) do m.from_tool = nil end
  return out
end

local function encode_thinking(canon, body, opts)
  local r = canon.reasoning
  if not r or r.effort == "none" or r.budget_tokens == 0 then return end
  local tc = canon.tool_choice
  if tc == "required" or type(tc) == "table" then return end
  if tool_loop_unsigned(canon) then return end
  local budget = r.budget_tokens or common.effort_to_budget(r.effort)
  if budget < 1024 then budget = 1024 end
  if body.max_tokens <= budget then
    budget = math.floor(body.max_tokens / 2)
    if budget < 1024 then return end
  end
  body.thinking = { type = "enabled", budget_tokens = budget }
  if body.temperature ~= 1 then body.temperature = nil end
  body.top_k = nil
  if body.top_p and body.top_p < 0.95 then body.top_p = nil end
end

function M.encode_request(canon, opts)
  opts = opts or {}
  local ok, err = canonical.require_stateless(canon)
  if not ok then return nil, err end
  local rf = canon.response_format
  if rf and rf.type ~= "text" then
    ok, err = common.lossy(opts, "response_format " .. tostring(rf.type) .. " cannot be expressed in Anthropic Messages")
    if not ok then return nil, err end
  end
  local messages
  messages, err = encode_messages(canon)
  if not messages then return nil, err end
  local body = {
    model = opts.model or canon.model, messages = messages,
    max_tokens = canon.max_tokens or opts.default_max_tokens or 4096,
    temperature = canon.temperature, top_p = canon.top_p, top_k = canon.top_k,
  }
  local sys = canon.system or {}
  if #sys == 1 then
    body.system = sys[1].text
  elseif #sys > 1 then
    body.system = json.array()
    for i, b in ipairs(sys) do body.system[i] = { type = "text", text = b.text } end
  end
  if canon.stop and #canon.stop > 0 then body.stop_sequences = json.array(common.shallow_copy(canon.stop)) end
  if canon.user then body.metadata = { user_id = canon.user } end
  local stream = opts.stream
  if stream == nil then stream = canon.stream end
  if stream then body.stream = true end
  if canon.tools and #canon.tools > 0 then
    body.tools = json.array()
    for i, t in ipairs(canon.tools) do
      body.tools[i] = { name = t.name, description = t.description, input_schema = tools.object_schema(t.parameters) }
    end
    local tc = canon.tool_choice
    if tc == "required" then body.tool_choice = { type = "any" }
    elseif tc == "none" then body.tool_choice = { type = "none" }
    elseif type(tc) == "table" then body.tool_choice = { type = "tool", name = tc.name }
    elseif tc == "auto" or canon.parallel_tool_calls == false then body.tool_choice = { type = "auto" } end
    if canon.parallel_tool_calls == false and body.tool_choice.type ~= "none" then
      body.tool_choice.disable_parallel_tool_use = true
    end
  end
  encode_thinking(canon, body, opts)
  return body, "/v1/messages"
end

function M.encode_response(resp, opts)
  opts = opts or {}
  local content, saw_tool = json.array(), false
  for _, b in ipairs(resp.content) do
    local eb = M.encode_block(b, false)
    if eb then content[#content + 1] = eb end
    if b.type == "tool_call" then saw_tool = true end
  end
  local stop = canonical.final_stop(resp.stop_reason, saw_tool)
  return {
    id = opts.id or resp.id or common.gen_id("msg_"), type = "message", role = "assistant",
    model = opts.model or resp.model, content = content,
    stop_reason = canon_to_stop[stop] or "end_turn",
    stop_sequence = stop == "stop_sequence" and resp.stop_sequence or null,
    usage = M.encode_usage(resp.usage),
  }
end

-- ----------------------------------------------------------------- errors --

local error_types = {
  invalid_request = "invalid_request_error", authentication = "authentication_error",
  permission = "permission_error", not_found = "not_found_error", request_too_large = "request_too_large",
  rate_limit = "rate_limit_error", overloaded = "overloaded_error", server = "api_error",
  upstream = "api_error", timeout = "api_error",
}
local kind_by_type = {}
for k, v in pairs(error_types) do if not kind_by_type[v] then kind_by_type[v] = k end end
kind_by_type.api_error = "server"
M.kind_by_type = kind_by_type

function M.error_body(status, message, kind)
  kind = kind or common.kind_from_status(status)
  status = common.status_from_kind(kind, status)
  if kind == "overloaded" and status == 503 then status = 529 end
  return status, { type = "error", error = { type = error_types[kind] or "api_error", message = tostring(message or "error") } }
end

function M.stream_error(status, message, kind)
  local _, body = M.error_body(status, message, kind)
  return "event: error\ndata: " .. json.encode(body) .. "\n\n"
end

function M.request_path() return "/v1/messages" end

local stream = require "moongate.formats.anthropic_stream"
M.stream_decoder = function(opts) return stream.decoder(M, opts) end
M.stream_encoder = function(opts) return stream.encoder(M, opts) end

return M
