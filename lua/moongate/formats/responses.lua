-- moongate.formats.responses: OpenAI Responses (/v1/responses) <-> canonical.
-- Requests, responses, usage, errors here; streaming in responses_stream.lua.
-- Server-side state (previous_response_id, conversation, item_reference,
-- stored prompts, background runs, file ids) cannot be converted: decoding
-- keeps previous_response_id/conversation on the canonical request and every
-- other provider's encoder refuses them with a clear message.
-- Encoding for a Responses provider sends store=false (the gateway is
-- stateless), strict=false on function tools (Responses defaults to strict
-- schemas, which arbitrary client schemas do not satisfy), asks for reasoning
-- summaries and encrypted reasoning so reasoning can round-trip.
-- What this format cannot carry: stop sequences (refused unless opts.lenient),
-- top_k, seed, penalties, Anthropic signatures (reasoning without encrypted
-- content or an rs_ id is dropped), Gemini text signatures, several summary
-- parts per reasoning item (joined with a blank line), stop_sequence.
-- Uses: json, common, canonical, tools, openai (tool_choice), responses_stream.

local json = require "moongate.formats.json"
local common = require "moongate.formats.common"
local canonical = require "moongate.formats.canonical"
local tools = require "moongate.formats.tools"

local M = { name = "responses" }

local type, ipairs, tostring = type, ipairs, tostring
local concat = table.concat
local present, null = common.present, json.null

-- ------------------------------------------------------------------ usage --

function M.usage(x)
  local out = common.new_usage()
  if type(x) ~= "table" then return out end
  if x.input ~= nil or x.output ~= nil then return common.copy_usage(x) end
  local u = x
  if type(x.response) == "table" then u = x.response.usage
  elseif type(x.usage) == "table" then u = x.usage end
  if type(u) ~= "table" then return out end
  out.input = common.n(u.input_tokens)
  out.output = common.n(u.output_tokens)
  if type(u.input_tokens_details) == "table" then out.cached_read = common.n(u.input_tokens_details.cached_tokens) end
  if type(u.output_tokens_details) == "table" then out.reasoning = common.n(u.output_tokens_details.reasoning_tokens) end
  return out
end

function M.encode_usage(u)
  u = common.copy_usage(u)
  return {
    input_tokens = u.input, input_tokens_details = { cached_tokens = u.cached_read },
    output_tokens = u.output, output_tokens_details = { reasoning_tokens = u.reasoning },
    total_tokens = u.input + u.output,
  }
end

-- Canonical stop reason of a finished Responses response object.
function M.stop_of(resp, saw_tool, refused)
  local stop = "end_turn"
  if resp.status == "incomplete" then
    local reason = type(resp.incomplete_details) == "table" and resp.incomplete_details.reason
    stop = reason == "content_filter" and "content_filter" or "max_tokens"
  elseif resp.status == "failed" then
    stop = "error"
  end
  if refused and stop == "end_turn" then stop = "content_filter" end
  return canonical.final_stop(stop, saw_tool)
end

-- ------------------------------------------------------------- decoding --

local function decode_parts(content, role)
  local blocks = {}
  if type(content) == "string" then
    if content ~= "" then blocks[1] = { type = "text", text = content } end
    return blocks
  end
  if type(content) ~= "table" then return blocks end
  for _, p in ipairs(content) do
    local t = type(p) == "table" and p.type
    if t == "input_text" or t == "output_text" or t == "text" or t == "refusal" then
      local text = p.text or p.refusal
      if type(text) == "string" and text ~= "" then blocks[#blocks + 1] = { type = "text", text = text } end
    elseif t == "input_image" and role ~= "assistant" then
      if type(p.image_url) ~= "string" then
        return nil, "input_image with file_id refers to OpenAI's file store; send the image as a URL or data URL"
      end
      blocks[#blocks + 1] = common.image_from_url(p.image_url)
    else
      return nil, "cannot convert Responses content part of type '" .. tostring(t) .. "'"
    end
  end
  return blocks
end

local function reasoning_text(item)
  local parts = {}
  if type(item.summary) == "table" then
    for _, s in ipairs(item.summary) do
      if type(s) == "table" and type(s.text) == "string" then parts[#parts + 1] = s.text end
    end
  end
  if #parts == 0 and type(item.content) == "table" then
    for _, s in ipairs(item.content) do
      if type(s) == "table" and type(s.text) == "string" then parts[#parts + 1] = s.text end
    end
  end
  return concat(parts, "\n\n")
end

-- Output item (or assistant-side input item) -> canonical block.
function M.decode_item_block(item)
  local t = item.type
  if t == "function_call" then
    local args = item.arguments
    if type(args) == "table" then args = common.object_to_args(args) end
    return { type = "tool_call", id = tostring(item.call_id or item.id or ""), name = tostring(item.name or ""),
      arguments = type(args) == "string" and args or "{}" }
  elseif t == "reasoning" then
    local text = reasoning_text(item)
    return { type = "reasoning", text = text ~= "" and text or nil, data = common.str(item.encrypted_content),
      id = common.str(item.id) }
  end
  return nil
end

local function assistant_msg(msgs)
  local last = msgs[#msgs]
  if last and last.role == "assistant" then return last end
  last = { role = "assistant", content = {} }
  msgs[#msgs + 1] = last
  return last
end

local function decode_input_item(item, canon, i)
  local msgs = canon.messages
  if type(item) ~= "table" then return nil, "input[" .. i .. "] must be an object" end
  local t = item.type or (item.role and "message")
  if t == "message" then
    local role = item.role
    local blocks, err = decode_parts(item.content, role)
    if not blocks then return nil, "input[" .. i .. "]: " .. err end
    if role == "system" or role == "developer" then
      for _, b in ipairs(blocks) do canon.system[#canon.system + 1] = b end
    elseif role == "user" then
      msgs[#msgs + 1] = { role = "user", content = blocks }
    elseif role == "assistant" then
      local m = assistant_msg(msgs)
      for _, b in ipairs(blocks) do m.content[#m.content + 1] = b end
    else
      return nil, "input[" .. i .. "]: unsupported role '" .. tostring(role) .. "'"
    end
  elseif t == "function_call" or t == "reasoning" then
    local m = assistant_msg(msgs)
    m.content[#m.content + 1] = M.decode_item_block(item)
  elseif t == "function_call_output" then
    local content, err = decode_parts(item.output, "tool")
    if not content then return nil, "input[" .. i .. "]: " .. err end
    local result = { type = "tool_result", tool_call_id = tostring(item.call_id or ""), content = content }
    local last = msgs[#msgs]
    if last and last.role == "tool" then last.content[#last.content + 1] = result
    else msgs[#msgs + 1] = { role = "tool", content = { result } } end
  elseif t == "item_reference" then
    return nil, "item_reference needs server-side state that only an OpenAI Responses provider keeps; send the full conversation instead"
  else
    return nil, "cannot convert Responses input item of type '" .. tostring(t) .. "'"
  end
  return true
end

local function decode_text_format(text)
  local f = type(text) == "table" and text.format
  if type(f) ~= "table" then return nil end
  if f.type == "json_schema" then return { type = "json_schema", name = f.name, schema = f.schema, strict = f.strict } end
  if f.type == "json_object" or f.type == "text" then return { type = f.type } end
  return nil
end

function M.decode_request(body, ctx)
  if type(body) ~= "table" then return nil, "request body must be a JSON object" end
  if body.background == true then return nil, "background responses need server-side state; send a normal request" end
  if present(body.prompt) then return nil, "stored prompts (prompt) need server-side state that only OpenAI keeps" end
  local canon = {
    model = (ctx and ctx.model) or body.model, system = {}, messages = {},
    stream = body.stream == true, max_tokens = common.num(body.max_output_tokens),
    temperature = common.num(body.temperature), top_p = common.num(body.top_p),
    user = common.str(body.user) or common.str(body.safety_identifier),
    parallel_tool_calls = common.bool(body.parallel_tool_calls),
    previous_response_id = common.str(body.previous_response_id),
    response_format = decode_text_format(body.text), store = body.store,
  }
  local conv = body.conversation
  if type(conv) == "table" then conv = conv.id end
  canon.conversation = common.str(conv)
  if type(body.metadata) == "table" then canon.metadata = body.metadata end
  if type(body.instructions) == "string" and body.instructions ~= "" then
    canon.system[1] = { type = "text", text = body.instructions }
  end
  local input = body.input
  if type(input) == "string" then
    canon.messages[1] = { role = "user", content = { { type = "text", text = input } } }
  elseif type(input) == "table" then
    for i, item in ipairs(input) do
      local ok, err = decode_input_item(item, canon, i)
      if not ok then return nil, err end
    end
  end
  if type(body.tools) == "table" and #body.tools > 0 then
    canon.tools = {}
    for i, t in ipairs(body.tools) do
      if type(t) ~= "table" or t.type ~= "function" or type(t.name) ~= "string" then
        return nil, "tools[" .. i .. "]: only function tools can be converted (got type '" ..
          tostring(type(t) == "table" and t.type) .. "')"
      end
      canon.tools[i] = { name = t.name, description = common.str(t.description),
        parameters = type(t.parameters) == "table" and t.parameters or nil }
    end
  end
  local tc = body.tool_choice
  if tc == "auto" or tc == "none" or tc == "required" then canon.tool_choice = tc
  elseif type(tc) == "table" and tc.type == "function" and type(tc.name) == "string" then canon.tool_choice = { name = tc.name }
  elseif type(tc) == "table" and tc.type == "allowed_tools" then canon.tool_choice = tc.mode == "required" and "required" or "auto"
  end
  local r = body.reasoning
  if type(r) == "table" and (present(r.effort) or present(r.summary)) then
    canon.reasoning = { effort = common.str(r.effort), summary = present(r.summary) or nil }
  end
  return canon
end

function M.decode_response(body)
  if type(body) ~= "table" then return nil, "response body must be a JSON object" end
  if type(body.error) == "table" then return nil, tostring(body.error.message or "upstream error") end
  local content, saw_tool, refused = {}, false, false
  for _, item in ipairs(type(body.output) == "table" and body.output or {}) do
    if item.type == "message" then
      for _, p in ipairs(type(item.content) == "table" and item.content or {}) do
        local text = p.text or p.refusal
        if p.type == "refusal" then refused = true end
        if type(text) == "string" and text ~= "" then content[#content + 1] = { type = "text", text = text } end
      end
    else
      local b = M.decode_item_block(item)
      if not b then return nil, "cannot convert Responses output item of type '" .. tostring(item.type) .. "'" end
      if b.type == "tool_call" then saw_tool = true end
      content[#content + 1] = b
    end
  end
  return {
    id = common.str(body.id), model = common.str(body.model), content = content,
    stop_reason = M.stop_of(body, saw_tool, refused), usage = M.usage(body.usage),
  }
end

-- ------------------------------------------------------------- encoding --

local function input_parts(blocks)
  local parts = json.array()
  for _, b in ipairs(blocks) do
    if b.type == "text" then parts[#parts + 1] = { type = "input_text", text = b.text }
    elseif b.type == "image" then parts[#parts + 1] = { type = "input_image", image_url = common.image_to_url(b), detail = "auto" } end
  end
  return parts
end

function M.encode_reasoning_item(b, for_request)
  local summary = json.array()
  if b.text and b.text ~= "" then summary[1] = { type = "summary_text", text = b.text } end
  local item = { type = "reasoning", summary = summary, encrypted_content = b.data }
  if not for_request or not b.data then item.id = b.id end
  return item
end

local function encode_assistant(m, input)
  local texts = nil
  for _, b in ipairs(m.content) do
    if b.type == "text" then
      if not texts then
        texts = json.array()
        input[#input + 1] = { type = "message", role = "assistant", content = texts }
      end
      texts[#texts + 1] = { type = "output_text", text = b.text, annotations = json.array() }
    else
      texts = nil
      if b.type == "tool_call" then
        input[#input + 1] = { type = "function_call", call_id = b.id, name = b.name, arguments = b.arguments }
      elseif b.type == "reasoning" and (b.data or (b.id and b.id:sub(1, 3) == "rs_")) then
        input[#input + 1] = M.encode_reasoning_item(b, true)
      end
    end
  end
end

local function encode_input(canon)
  local input = json.array()
  local sys = canon.system or {}
  if #sys > 1 then input[1] = { type = "message", role = "system", content = input_parts(sys) } end
  for _, m in ipairs(canon.messages) do
    if m.role == "user" then
      input[#input + 1] = { type = "message", role = "user", content = input_parts(m.content) }
    elseif m.role == "assistant" then
      encode_assistant(m, input)
    elseif m.role == "tool" then
      for _, r in ipairs(m.content) do
        local blocks = canonical.result_blocks(r.content)
        local output
        if #blocks == 1 and blocks[1].type == "text" then output = blocks[1].text
        elseif #blocks == 0 then output = ""
        else output = input_parts(blocks) end
        input[#input + 1] = { type = "function_call_output", call_id = r.tool_call_id, output = output }
      end
    end
  end
  return input
end

function M.encode_request(canon, opts)
  opts = opts or {}
  if canon.stop and #canon.stop > 0 then
    local ok, err = common.lossy(opts, "stop sequences cannot be sent to an OpenAI Responses provider (the API has no stop parameter)")
    if not ok then return nil, err end
  end
  local sys = canon.system or {}
  local body = {
    model = opts.model or canon.model, input = encode_input(canon),
    instructions = #sys == 1 and sys[1].text or nil,
    max_output_tokens = canon.max_tokens, temperature = canon.temperature, top_p = canon.top_p,
    parallel_tool_calls = canon.parallel_tool_calls, user = canon.user, metadata = canon.metadata,
    previous_response_id = canon.previous_response_id, conversation = canon.conversation,
    store = opts.responses_store or false,
  }
  local stream = opts.stream
  if stream == nil then stream = canon.stream end
  if stream then body.stream = true end
  if canon.tools and #canon.tools > 0 then
    body.tools = json.array()
    for i, t in ipairs(canon.tools) do
      body.tools[i] = { type = "function", name = t.name, description = t.description,
        parameters = tools.object_schema(t.parameters), strict = false }
    end
    local tc = canon.tool_choice
    body.tool_choice = type(tc) == "table" and { type = "function", name = tc.name } or tc
  else
    body.parallel_tool_calls = nil
  end
  local r = canon.reasoning
  if r then
    local effort = r.effort or common.budget_to_effort(r.budget_tokens)
    if effort ~= "none" then
      body.reasoning = { effort = effort, summary = "auto" }
      body.include = json.array({ "reasoning.encrypted_content" })
    end
  end
  local rf = canon.response_format
  if rf and rf.type == "json_schema" then
    body.text = { format = { type = "json_schema", name = rf.name or "response",
      schema = tools.clean_schema(rf.schema), strict = rf.strict } }
  elseif rf and rf.type then
    body.text = { format = { type = rf.type } }
  end
  return body, "/v1/responses"
end

-- Output items for a canonical content list (also used by the stream encoder).
function M.output_items(content)
  local output = json.array()
  local msg = nil
  for _, b in ipairs(content) do
    if b.type == "text" then
      if not msg then
        msg = { id = common.gen_id("msg_"), type = "message", status = "completed", role = "assistant", content = json.array() }
        output[#output + 1] = msg
      end
      msg.content[#msg.content + 1] = { type = "output_text", text = b.text, annotations = json.array() }
    else
      msg = nil
      if b.type == "tool_call" then
        output[#output + 1] = { id = "fc_" .. common.fnv_hex(b.id) .. common.gen_id(""):sub(1, 8), type = "function_call",
          status = "completed", call_id = b.id, name = b.name, arguments = b.arguments }
      elseif b.type == "reasoning" then
        local item = M.encode_reasoning_item(b, false)
        item.id = item.id or common.gen_id("rs_")
        output[#output + 1] = item
      end
    end
  end
  return output
end

-- status + incomplete_details for a canonical stop reason.
function M.status_of(stop)
  if stop == "max_tokens" then return "incomplete", { reason = "max_output_tokens" } end
  if stop == "content_filter" then return "incomplete", { reason = "content_filter" } end
  if stop == "error" then return "failed", null end
  return "completed", null
end

function M.response_object(fields)
  return {
    id = fields.id, object = "response", created_at = fields.created_at, status = fields.status,
    model = fields.model, output = fields.output or json.array(), usage = fields.usage or null,
    incomplete_details = fields.incomplete_details or null, error = fields.error or null,
    parallel_tool_calls = true, tool_choice = "auto", tools = json.array(), instructions = null,
    metadata = {}, text = { format = { type = "text" } }, temperature = null, top_p = null,
  }
end

function M.encode_response(resp, opts)
  opts = opts or {}
  local status, details = M.status_of(resp.stop_reason)
  return M.response_object({
    id = opts.id or resp.id or common.gen_id("resp_"), created_at = opts.created or common.now(),
    status = status, incomplete_details = details, model = opts.model or resp.model,
    output = M.output_items(resp.content), usage = M.encode_usage(resp.usage),
  })
end

-- ----------------------------------------------------------------- errors --

local openai = require "moongate.formats.openai"

function M.error_body(status, message, kind)
  return openai.error_body(status, message, kind)
end

function M.error_object(status, message, kind)
  return openai.error_object(status, message, kind)
end

function M.stream_error(status, message, kind)
  local e = openai.error_object(status, message, kind)
  return "event: error\ndata: " .. json.encode({ type = "error", code = e.code ~= null and e.code or e.type,
    message = e.message, param = null, sequence_number = 0 }) .. "\n\n"
end

function M.request_path() return "/v1/responses" end

local stream = require "moongate.formats.responses_stream"
M.stream_decoder = function(opts) return stream.decoder(M, opts) end
M.stream_encoder = function(opts) return stream.encoder(M, opts) end

return M
