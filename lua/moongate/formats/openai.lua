-- moongate.formats.openai: OpenAI Chat Completions (/v1/chat/completions) <->
-- canonical. Requests, responses, usage, errors here; streaming in
-- openai_stream.lua. Also the shape of most OpenAI-compatible servers, so
-- reasoning arrives as `reasoning_content` (DeepSeek, vLLM) or `reasoning`
-- (OpenRouter), and Gemini thought signatures ride on tool calls as
-- `extra_content.google.thought_signature` (Gemini's OpenAI-compatible API).
-- What this format cannot carry: image blocks in assistant turns, images inside
-- tool results (moved to a following user message), reasoning in requests
-- (unless opts.openai_reasoning_content), Anthropic signatures / redacted
-- reasoning, stop_sequence, cache_write usage, top_k, text-block boundaries in
-- assistant turns (joined).
-- Uses: json, common, canonical, tools, openai_stream.

local json = require "moongate.formats.json"
local common = require "moongate.formats.common"
local canonical = require "moongate.formats.canonical"
local tools = require "moongate.formats.tools"

local M = { name = "openai" }

local type, ipairs, tostring = type, ipairs, tostring
local concat = table.concat
local present, null = common.present, json.null

local finish_to_canon = {
  stop = "end_turn", length = "max_tokens", tool_calls = "tool_use",
  function_call = "tool_use", content_filter = "content_filter",
}
local canon_to_finish = {
  end_turn = "stop", stop_sequence = "stop", max_tokens = "length", tool_use = "tool_calls",
  content_filter = "content_filter", error = "stop",
}
M.finish_to_canon, M.canon_to_finish = finish_to_canon, canon_to_finish

-- ------------------------------------------------------------------ usage --

function M.usage(x)
  local out = common.new_usage()
  if type(x) ~= "table" then return out end
  if x.input ~= nil or x.output ~= nil then return common.copy_usage(x) end
  local u = type(x.usage) == "table" and x.usage or x
  out.input = common.n(u.prompt_tokens)
  out.output = common.n(u.completion_tokens)
  local pd, cd = u.prompt_tokens_details, u.completion_tokens_details
  if type(pd) == "table" then
    out.cached_read = common.n(pd.cached_tokens)
    out.audio = common.n(pd.audio_tokens)
  end
  if type(cd) == "table" then
    out.reasoning = common.n(cd.reasoning_tokens)
    out.audio = out.audio + common.n(cd.audio_tokens)
  end
  return out
end

function M.encode_usage(u)
  u = common.copy_usage(u)
  return {
    prompt_tokens = u.input, completion_tokens = u.output, total_tokens = u.input + u.output,
    prompt_tokens_details = { cached_tokens = u.cached_read },
    completion_tokens_details = { reasoning_tokens = u.reasoning },
  }
end

-- ------------------------------------------------------------- decoding --

local function text_parts(content, what)
  -- string or list of {type="text"} parts -> text blocks
  local blocks = {}
  if type(content) == "string" then
    if content ~= "" then blocks[1] = { type = "text", text = content } end
    return blocks
  end
  if not present(content) then return blocks end
  if type(content) ~= "table" then return nil, what .. " content must be a string or a list" end
  for _, p in ipairs(content) do
    if type(p) == "string" then
      if p ~= "" then blocks[#blocks + 1] = { type = "text", text = p } end
    elseif type(p) == "table" and (p.type == "text" or p.type == "refusal") then
      local t = p.text or p.refusal
      if type(t) == "string" and t ~= "" then blocks[#blocks + 1] = { type = "text", text = t } end
    else
      return nil, "cannot convert OpenAI " .. what .. " content part of type '" ..
        tostring(type(p) == "table" and p.type) .. "'"
    end
  end
  return blocks
end

local function user_parts(content)
  if type(content) == "string" or not present(content) then return text_parts(content, "user") end
  local blocks = {}
  for _, p in ipairs(content) do
    local t = type(p) == "table" and p.type
    if t == "text" then
      if type(p.text) == "string" and p.text ~= "" then blocks[#blocks + 1] = { type = "text", text = p.text } end
    elseif t == "image_url" then
      local iu = p.image_url
      local url = type(iu) == "table" and iu.url or iu
      if type(url) ~= "string" then return nil, "image_url part needs a url" end
      blocks[#blocks + 1] = common.image_from_url(url)
    else
      return nil, "cannot convert OpenAI user content part of type '" .. tostring(t) .. "'"
    end
  end
  return blocks
end

local function signature_of(tc)
  local ec = tc.extra_content
  local g = type(ec) == "table" and ec.google
  return type(g) == "table" and common.str(g.thought_signature) or nil
end

local function assistant_blocks(m)
  local blocks = {}
  local r = m.reasoning_content
  if type(r) ~= "string" then r = m.reasoning end
  if type(r) == "string" and r ~= "" then blocks[1] = { type = "reasoning", text = r } end
  local texts, err = text_parts(m.content, "assistant")
  if not texts then return nil, err end
  for _, b in ipairs(texts) do blocks[#blocks + 1] = b end
  if type(m.refusal) == "string" and m.refusal ~= "" then
    blocks[#blocks + 1] = { type = "text", text = m.refusal }
  end
  if present(m.function_call) then
    return nil, "legacy function_call messages are not supported; use tool_calls"
  end
  if type(m.tool_calls) == "table" then
    for i, tc in ipairs(m.tool_calls) do
      local f = type(tc) == "table" and tc["function"]
      if type(f) ~= "table" or type(f.name) ~= "string" then
        return nil, "assistant tool_calls[" .. i .. "] needs function.name"
      end
      local args = f.arguments
      if type(args) == "table" then args = common.object_to_args(args) end
      blocks[#blocks + 1] = {
        type = "tool_call", id = common.str(tc.id) or ("call_" .. i), name = f.name,
        arguments = type(args) == "string" and args or "{}", signature = signature_of(tc),
      }
    end
  end
  return blocks
end

local function decode_tool_choice(tc)
  if tc == nil or tc == null then return nil end
  if tc == "auto" or tc == "none" or tc == "required" then return tc end
  if type(tc) == "table" then
    local f = tc["function"]
    if tc.type == "function" and type(f) == "table" and type(f.name) == "string" then return { name = f.name } end
    if tc.type == "allowed_tools" then
      local at = tc.allowed_tools
      return type(at) == "table" and at.mode == "required" and "required" or "auto"
    end
  end
  return nil, "unsupported tool_choice"
end
M.decode_tool_choice = decode_tool_choice

local function decode_response_format(rf)
  if type(rf) ~= "table" then return nil end
  if rf.type == "json_schema" and type(rf.json_schema) == "table" then
    local js = rf.json_schema
    return { type = "json_schema", name = js.name, schema = js.schema, strict = js.strict }
  end
  if rf.type == "json_object" or rf.type == "text" then return { type = rf.type } end
  return nil
end

local function decode_messages(body, canon)
  local msgs = canon.messages
  for i, m in ipairs(body.messages) do
    local role = type(m) == "table" and m.role
    local blocks, err
    if role == "system" or role == "developer" then
      blocks, err = text_parts(m.content, role)
      if not blocks then return nil, err end
      for _, b in ipairs(blocks) do canon.system[#canon.system + 1] = b end
    elseif role == "user" then
      blocks, err = user_parts(m.content)
      if not blocks then return nil, err end
      msgs[#msgs + 1] = { role = "user", content = blocks }
    elseif role == "assistant" then
      blocks, err = assistant_blocks(m)
      if not blocks then return nil, err end
      msgs[#msgs + 1] = { role = "assistant", content = blocks }
    elseif role == "tool" then
      local content, terr = text_parts(m.content, "tool")
      if not content then return nil, terr end
      local result = { type = "tool_result", tool_call_id = tostring(m.tool_call_id or ""), content = content }
      local last = msgs[#msgs]
      if last and last.role == "tool" then
        last.content[#last.content + 1] = result
      else
        msgs[#msgs + 1] = { role = "tool", content = { result } }
      end
    else
      return nil, "messages[" .. i .. "]: unsupported role '" .. tostring(role) .. "'"
    end
  end
  return true
end

function M.decode_request(body, ctx)
  if type(body) ~= "table" then return nil, "request body must be a JSON object" end
  if type(body.messages) ~= "table" then return nil, "messages must be a list" end
  if type(body.n) == "number" and body.n > 1 then
    return nil, "n > 1 (several choices) can only be sent to an OpenAI chat provider"
  end
  if present(body.functions) then return nil, "legacy functions are not supported; use tools" end
  if type(body.modalities) == "table" then
    for _, mo in ipairs(body.modalities) do
      if mo == "audio" then return nil, "audio output can only be sent to an OpenAI chat provider" end
    end
  end
  local canon = {
    model = (ctx and ctx.model) or body.model, system = {}, messages = {},
    stream = body.stream == true,
    temperature = common.num(body.temperature), top_p = common.num(body.top_p),
    presence_penalty = common.num(body.presence_penalty),
    frequency_penalty = common.num(body.frequency_penalty), seed = common.num(body.seed),
    max_tokens = common.num(body.max_completion_tokens) or common.num(body.max_tokens),
    user = common.str(body.user) or common.str(body.safety_identifier),
    parallel_tool_calls = common.bool(body.parallel_tool_calls),
    response_format = decode_response_format(body.response_format),
  }
  if type(body.metadata) == "table" then canon.metadata = body.metadata end
  local so = body.stream_options
  if type(so) == "table" and so.include_usage == true then canon.include_usage = true end
  local ok, err = decode_messages(body, canon)
  if not ok then return nil, err end
  if type(body.stop) == "string" then canon.stop = { body.stop }
  elseif type(body.stop) == "table" and #body.stop > 0 then canon.stop = body.stop end
  if type(body.tools) == "table" and #body.tools > 0 then
    canon.tools = {}
    for i, t in ipairs(body.tools) do
      local f = type(t) == "table" and t["function"]
      if type(t) ~= "table" or t.type ~= "function" or type(f) ~= "table" or type(f.name) ~= "string" then
        return nil, "tools[" .. i .. "]: only function tools can be converted (got type '" ..
          tostring(type(t) == "table" and t.type) .. "')"
      end
      canon.tools[i] = { name = f.name, description = common.str(f.description),
        parameters = type(f.parameters) == "table" and f.parameters or nil }
    end
  end
  canon.tool_choice, err = decode_tool_choice(body.tool_choice)
  if err then return nil, err end
  if type(body.reasoning_effort) == "string" then canon.reasoning = { effort = body.reasoning_effort } end
  return canon
end

function M.decode_response(body)
  if type(body) ~= "table" then return nil, "response body must be a JSON object" end
  if type(body.error) == "table" then return nil, tostring(body.error.message or "upstream error") end
  local choice = type(body.choices) == "table" and body.choices[1] or {}
  local msg = type(choice.message) == "table" and choice.message or {}
  local content, err = assistant_blocks(msg)
  if not content then return nil, err end
  local saw_tool = false
  for _, b in ipairs(content) do if b.type == "tool_call" then saw_tool = true end end
  local stop = finish_to_canon[choice.finish_reason] or "end_turn"
  if type(msg.refusal) == "string" and msg.refusal ~= "" then stop = "content_filter" end
  return {
    id = common.str(body.id), model = common.str(body.model), content = content,
    stop_reason = canonical.final_stop(stop, saw_tool), usage = M.usage(body.usage),
  }
end

-- ------------------------------------------------------------- encoding --

local function encode_tool_call(b, keep_id)
  local tc = { id = keep_id and b.id or common.short_id(b.id), type = "function", ["function"] = { name = b.name, arguments = b.arguments } }
  if b.signature then tc.extra_content = { google = { thought_signature = b.signature } } end
  return tc
end
M.encode_tool_call = encode_tool_call

local function user_content(blocks)
  if #blocks == 1 and blocks[1].type == "text" then return blocks[1].text end
  local parts = json.array()
  for _, b in ipairs(blocks) do
    if b.type == "text" then
      parts[#parts + 1] = { type = "text", text = b.text }
    elseif b.type == "image" then
      parts[#parts + 1] = { type = "image_url", image_url = { url = common.image_to_url(b) } }
    end
  end
  return parts
end

local function assistant_message(m, opts)
  local texts, reasoning, calls = {}, {}, nil
  for _, b in ipairs(m.content) do
    if b.type == "text" then texts[#texts + 1] = b.text
    elseif b.type == "reasoning" then
      if b.text and b.text ~= "" then reasoning[#reasoning + 1] = b.text end
    elseif b.type == "tool_call" then
      calls = calls or json.array()
      calls[#calls + 1] = encode_tool_call(b, opts.keep_ids)
    elseif b.type == "image" then
      return nil, "OpenAI chat cannot carry images in assistant messages"
    end
  end
  local out = { role = "assistant", content = #texts > 0 and concat(texts) or null, tool_calls = calls }
  if opts.openai_reasoning_content and #reasoning > 0 then out.reasoning_content = concat(reasoning) end
  return out
end

local function tool_messages(m, out)
  local images = {}
  for _, r in ipairs(m.content) do
    local blocks = canonical.result_blocks(r.content)
    local texts = {}
    for _, b in ipairs(blocks) do
      if b.type == "text" then texts[#texts + 1] = b.text
      elseif b.type == "image" then images[#images + 1] = b end
    end
    out[#out + 1] = { role = "tool", tool_call_id = common.short_id(r.tool_call_id), content = concat(texts, "\n") }
  end
  if #images > 0 then out[#out + 1] = { role = "user", content = user_content(images) } end
end

local function encode_tool_choice(tc)
  if type(tc) == "table" then return { type = "function", ["function"] = { name = tc.name } } end
  return tc
end

local function encode_messages(canon, opts)
  local out = json.array()
  local sys = canon.system or {}
  if #sys == 1 then
    out[1] = { role = "system", content = sys[1].text }
  elseif #sys > 1 then
    local parts = json.array()
    for i, b in ipairs(sys) do parts[i] = { type = "text", text = b.text } end
    out[1] = { role = "system", content = parts }
  end
  for _, m in ipairs(canon.messages) do
    if m.role == "user" then
      out[#out + 1] = { role = "user", content = user_content(m.content) }
    elseif m.role == "assistant" then
      local msg, err = assistant_message(m, opts)
      if not msg then return nil, err end
      out[#out + 1] = msg
    elseif m.role == "tool" then
      tool_messages(m, out)
    end
  end
  return out
end

function M.encode_request(canon, opts)
  opts = opts or {}
  local ok, err = canonical.require_stateless(canon)
  if not ok then return nil, err end
  local messages
  messages, err = encode_messages(canon, opts)
  if not messages then return nil, err end
  local body = {
    model = opts.model or canon.model, messages = messages,
    temperature = canon.temperature, top_p = canon.top_p, seed = canon.seed,
    presence_penalty = canon.presence_penalty, frequency_penalty = canon.frequency_penalty,
    user = canon.user, parallel_tool_calls = canon.parallel_tool_calls,
  }
  if canon.max_tokens then body[opts.max_tokens_field or "max_completion_tokens"] = canon.max_tokens end
  if canon.stop and #canon.stop > 0 then body.stop = json.array(common.shallow_copy(canon.stop)) end
  local stream = opts.stream
  if stream == nil then stream = canon.stream end
  if stream then
    body.stream = true
    body.stream_options = { include_usage = true }
  end
  if canon.tools and #canon.tools > 0 then
    body.tools = json.array()
    for i, t in ipairs(canon.tools) do
      body.tools[i] = { type = "function", ["function"] = {
        name = t.name, description = t.description, parameters = tools.clean_schema(t.parameters) } }
    end
    body.tool_choice = encode_tool_choice(canon.tool_choice)
  end
  if not body.tools then body.parallel_tool_calls = nil end
  local r = canon.reasoning
  if r then
    local effort = r.effort or common.budget_to_effort(r.budget_tokens)
    if effort ~= "none" then body.reasoning_effort = effort end
  end
  local rf = canon.response_format
  if rf and rf.type == "json_schema" then
    body.response_format = { type = "json_schema", json_schema = {
      name = rf.name or "response", schema = tools.clean_schema(rf.schema), strict = rf.strict } }
  elseif rf and rf.type then
    body.response_format = { type = rf.type }
  end
  return body, "/v1/chat/completions"
end

function M.encode_response(resp, opts)
  opts = opts or {}
  local msg = assistant_message({ content = resp.content }, { openai_reasoning_content = true, keep_ids = true })
  if not msg then msg = { role = "assistant", content = common.text_of(resp.content) } end
  local saw_tool = msg.tool_calls ~= nil
  return {
    id = opts.id or resp.id or common.gen_id("chatcmpl-"), object = "chat.completion",
    created = opts.created or common.now(), model = opts.model or resp.model,
    choices = json.array({ {
      index = 0, message = msg, logprobs = null,
      finish_reason = canon_to_finish[canonical.final_stop(resp.stop_reason, saw_tool)] or "stop",
    } }),
    usage = M.encode_usage(resp.usage),
  }
end

-- ----------------------------------------------------------------- errors --

local error_types = {
  invalid_request = "invalid_request_error", authentication = "authentication_error",
  permission = "permission_error", not_found = "not_found_error", request_too_large = "invalid_request_error",
  rate_limit = "rate_limit_error", overloaded = "server_error", server = "server_error",
  upstream = "server_error", timeout = "timeout_error",
}
local error_codes = {
  authentication = "invalid_api_key", not_found = "model_not_found", rate_limit = "rate_limit_exceeded",
}

function M.error_object(status, message, kind)
  kind = kind or common.kind_from_status(status)
  return { message = tostring(message or "error"), type = error_types[kind] or "server_error",
    param = null, code = error_codes[kind] or null }
end

function M.error_body(status, message, kind)
  status = common.status_from_kind(kind, status)
  return status, { error = M.error_object(status, message, kind) }
end

function M.stream_error(status, message, kind)
  return "data: " .. json.encode({ error = M.error_object(status, message, kind) }) .. "\n\n"
end

function M.request_path() return "/v1/chat/completions" end

local stream = require "moongate.formats.openai_stream"
M.stream_decoder = function(opts) return stream.decoder(M, opts) end
M.stream_encoder = function(opts) return stream.encoder(M, opts) end

return M
