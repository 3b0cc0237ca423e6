-- moongate.formats.gemini: Gemini generateContent / streamGenerateContent
-- (/v1beta/models/{model}:…) <-> canonical. Requests, responses, usage, errors
-- here; streaming in gemini_stream.lua. Field names are accepted in camelCase
-- and snake_case (the REST API takes both); output uses camelCase.
-- Tool call ids: Gemini usually sends none, so a call gets
-- "call_<k>_<name>" where k counts the calls within its model turn (the same
-- rule for responses and for history in requests, so they agree); a
-- functionResponse is matched by id when present, else to the first unanswered
-- call of the same name in the model turn before it. Encoding looks the name
-- of each tool result up from the call it answers.
-- Usage: candidatesTokenCount EXCLUDES thoughtsTokenCount, so canonical
-- output = candidates + thoughts; input = promptTokenCount (which includes
-- cached tokens) + toolUsePromptTokenCount.
-- What this format cannot carry: tool call ids (regenerated), reasoning without
-- a thought signature in requests (dropped), redacted/encrypted reasoning,
-- parallel_tool_calls, user/metadata, stop_sequence, image URLs other than
-- fileData, non-image inline data (refused), several allowedFunctionNames.
-- Uses: json, common, canonical, tools, gemini_stream.

local json = require "moongate.formats.json"
local common = require "moongate.formats.common"
local canonical = require "moongate.formats.canonical"
local tools = require "moongate.formats.tools"

local M = { name = "gemini" }

local type, ipairs, tostring = type, ipairs, tostring
local present = common.present

local finish_to_canon = {
  STOP = "end_turn", MAX_TOKENS = "max_tokens", SAFETY = "content_filter", RECITATION = "content_filter",
  BLOCKLIST = "content_filter", PROHIBITED_CONTENT = "content_filter", SPII = "content_filter",
  IMAGE_SAFETY = "content_filter", LANGUAGE = "content_filter", MALFORMED_FUNCTION_CALL = "error",
  OTHER = "end_turn", FINISH_REASON_UNSPECIFIED = "end_turn",
}
local canon_to_finish = {
  end_turn = "STOP", stop_sequence = "STOP", tool_use = "STOP", max_tokens = "MAX_TOKENS",
  content_filter = "SAFETY", error = "OTHER",
}
M.finish_to_canon, M.canon_to_finish = finish_to_canon, canon_to_finish

-- camelCase or snake_case field
local function g(t, camel, snake)
  if type(t) ~= "table" then return nil end
  local v = t[camel]
  if v == nil then v = t[snake] end
  if v == json.null then return nil end
  return v
end
M.g = g

-- ------------------------------------------------------------------ usage --

function M.usage(x)
  local out = common.new_usage()
  if type(x) ~= "table" then return out end
  if x.input ~= nil or x.output ~= nil then return common.copy_usage(x) end
  local u = g(x, "usageMetadata", "usage_metadata") or x
  local prompt = common.n(g(u, "promptTokenCount", "prompt_token_count"))
  local tool_use = common.n(g(u, "toolUsePromptTokenCount", "tool_use_prompt_token_count"))
  local thoughts = common.n(g(u, "thoughtsTokenCount", "thoughts_token_count"))
  out.input = prompt + tool_use
  out.output = common.n(g(u, "candidatesTokenCount", "candidates_token_count")) + thoughts
  out.cached_read = common.n(g(u, "cachedContentTokenCount", "cached_content_token_count"))
  out.reasoning = thoughts
  out.tool_use = tool_use
  for _, key in ipairs({ "promptTokensDetails", "candidatesTokensDetails" }) do
    local details = u[key]
    if type(details) == "table" then
      for _, d in ipairs(details) do
        if type(d) == "table" and d.modality == "AUDIO" then out.audio = out.audio + common.n(d.tokenCount) end
      end
    end
  end
  return out
end

function M.encode_usage(u)
  u = common.copy_usage(u)
  local out = {
    promptTokenCount = u.input - u.tool_use, candidatesTokenCount = u.output - u.reasoning,
    totalTokenCount = u.input + u.output,
  }
  if u.reasoning > 0 then out.thoughtsTokenCount = u.reasoning end
  if u.cached_read > 0 then out.cachedContentTokenCount = u.cached_read end
  if u.tool_use > 0 then out.toolUsePromptTokenCount = u.tool_use end
  return out
end

-- ------------------------------------------------------------- decoding --

local function media_block(p)
  local inline = g(p, "inlineData", "inline_data")
  if inline then
    local mt = tostring(g(inline, "mimeType", "mime_type") or "")
    if mt:sub(1, 6) ~= "image/" then return nil, "cannot convert Gemini inlineData of type '" .. mt .. "' (only images)" end
    return { type = "image", source = { kind = "base64", media_type = mt, data = tostring(inline.data or "") } }
  end
  local file = g(p, "fileData", "file_data")
  if file then
    local mt = g(file, "mimeType", "mime_type")
    if mt and tostring(mt):sub(1, 6) ~= "image/" then
      return nil, "cannot convert Gemini fileData of type '" .. tostring(mt) .. "' (only images)"
    end
    return { type = "image", source = { kind = "url", url = tostring(g(file, "fileUri", "file_uri") or ""), media_type = mt } }
  end
  return nil
end

local known_part = { text = true, thought = true, thoughtSignature = true, thought_signature = true }

local function part_kind(p)
  if g(p, "functionCall", "function_call") then return "call" end
  if g(p, "functionResponse", "function_response") then return "response" end
  if g(p, "inlineData", "inline_data") or g(p, "fileData", "file_data") then return "media" end
  if p.text ~= nil then return "text" end
  for k in pairs(p) do
    if not known_part[k] then return k end
  end
  return "signature"
end

-- Model parts -> canonical blocks; `calls` collects { id, name } in order.
function M.decode_model_parts(parts, calls)
  local blocks = {}
  for _, p in ipairs(type(parts) == "table" and parts or {}) do
    local sig = common.str(g(p, "thoughtSignature", "thought_signature"))
    local kind = part_kind(p)
    if kind == "call" then
      local fc = g(p, "functionCall", "function_call")
      local name = tostring(fc.name or "")
      local id = common.str(fc.id) or common.gemini_call_id(#calls, name)
      calls[#calls + 1] = { id = id, name = name }
      blocks[#blocks + 1] = { type = "tool_call", id = id, name = name,
        arguments = common.object_to_args(fc.args), signature = sig }
    elseif kind == "text" and p.thought == true then
      blocks[#blocks + 1] = { type = "reasoning", text = tostring(p.text), signature = sig }
    elseif kind == "text" and p.text ~= "" then
      blocks[#blocks + 1] = { type = "text", text = tostring(p.text), signature = sig }
    elseif kind == "text" or kind == "signature" then
      local last = blocks[#blocks]
      if sig and last and last.signature == nil then last.signature = sig
      elseif sig then blocks[#blocks + 1] = { type = "reasoning", text = "", signature = sig } end
    else
      return nil, "cannot convert Gemini model part '" .. kind .. "'"
    end
  end
  return blocks
end

local function decode_function_response(fr, pending, n)
  local name = tostring(fr.name or "")
  local id = common.str(fr.id)
  if not id then
    for _, c in ipairs(pending) do
      if not c.used and c.name == name then c.used = true; id = c.id; break end
    end
  end
  id = id or common.gemini_call_id(n, name)
  local resp = fr.response
  local text, is_error
  if type(resp) == "table" and resp.error ~= nil and resp.output == nil then
    is_error = true
    text = type(resp.error) == "string" and resp.error or json.encode(resp.error)
  elseif type(resp) == "table" and resp.output ~= nil and next(resp, next(resp)) == nil then
    text = type(resp.output) == "string" and resp.output or json.encode(resp.output)
  elseif resp ~= nil then
    text = json.encode(resp)
  end
  local content = canonical.result_blocks(text or "")
  if type(fr.parts) == "table" then
    for _, p in ipairs(fr.parts) do
      local img, err = media_block(p)
      if not img then return nil, err or "cannot convert a functionResponse part" end
      content[#content + 1] = img
    end
  end
  return { type = "tool_result", tool_call_id = id, name = name, content = content, is_error = is_error }
end

local function decode_user_parts(parts, pending, msgs, i)
  local results, user = {}, {}
  for _, p in ipairs(type(parts) == "table" and parts or {}) do
    local kind = part_kind(p)
    if kind == "response" then
      local r, err = decode_function_response(g(p, "functionResponse", "function_response"), pending, #results)
      if not r then return nil, "contents[" .. i .. "]: " .. err end
      results[#results + 1] = r
    elseif kind == "text" then
      if p.text ~= "" then user[#user + 1] = { type = "text", text = tostring(p.text) } end
    elseif kind == "media" then
      local b, err = media_block(p)
      if not b then return nil, "contents[" .. i .. "]: " .. err end
      user[#user + 1] = b
    elseif kind ~= "signature" then
      return nil, "contents[" .. i .. "]: cannot convert Gemini user part '" .. kind .. "'"
    end
  end
  if #results > 0 then msgs[#msgs + 1] = { role = "tool", content = results } end
  if #user > 0 then msgs[#msgs + 1] = { role = "user", content = user } end
  return true
end

local function decode_tool_config(tc)
  local fcc = g(tc, "functionCallingConfig", "function_calling_config")
  if type(fcc) ~= "table" then return nil end
  local mode = fcc.mode
  if mode == "NONE" then return "none" end
  if mode == "ANY" or mode == "VALIDATED" then
    local names = g(fcc, "allowedFunctionNames", "allowed_function_names")
    if type(names) == "table" and #names == 1 then return { name = names[1] } end
    return "required"
  end
  if mode == "AUTO" then return "auto" end
  return nil
end

local function decode_generation_config(gc, canon)
  if type(gc) ~= "table" then return true end
  local n = g(gc, "candidateCount", "candidate_count")
  if type(n) == "number" and n > 1 then return nil, "candidateCount > 1 can only be sent to a Gemini provider" end
  canon.max_tokens = common.num(g(gc, "maxOutputTokens", "max_output_tokens"))
  canon.temperature = common.num(gc.temperature)
  canon.top_p = common.num(g(gc, "topP", "top_p"))
  canon.top_k = common.num(g(gc, "topK", "top_k"))
  canon.seed = common.num(gc.seed)
  canon.presence_penalty = common.num(g(gc, "presencePenalty", "presence_penalty"))
  canon.frequency_penalty = common.num(g(gc, "frequencyPenalty", "frequency_penalty"))
  local stops = g(gc, "stopSequences", "stop_sequences")
  if type(stops) == "table" and #stops > 0 then canon.stop = stops end
  local mime = g(gc, "responseMimeType", "response_mime_type")
  if mime == "application/json" then
    local schema = g(gc, "responseJsonSchema", "response_json_schema") or g(gc, "responseSchema", "response_schema")
    canon.response_format = schema and { type = "json_schema", schema = schema } or { type = "json_object" }
  end
  local th = g(gc, "thinkingConfig", "thinking_config")
  if type(th) == "table" then
    local budget = g(th, "thinkingBudget", "thinking_budget")
    local level = g(th, "thinkingLevel", "thinking_level")
    if budget == 0 then canon.reasoning = { effort = "none" }
    elseif type(budget) == "number" and budget > 0 then canon.reasoning = { budget_tokens = budget }
    elseif type(level) == "string" then canon.reasoning = { effort = level:lower() }
    elseif budget == -1 or g(th, "includeThoughts", "include_thoughts") == true then canon.reasoning = { effort = "medium" } end
    if canon.reasoning and g(th, "includeThoughts", "include_thoughts") == true then canon.reasoning.summary = true end
  end
  return true
end

function M.decode_request(body, ctx)
  if type(body) ~= "table" then return nil, "request body must be a JSON object" end
  if g(body, "cachedContent", "cached_content") then
    return nil, "cachedContent refers to a cache kept by Gemini; send the full conversation instead"
  end
  local canon = { model = (ctx and ctx.model) or body.model, system = {}, messages = {},
    stream = (ctx and ctx.stream) == true }
  local si = g(body, "systemInstruction", "system_instruction")
  if type(si) == "string" then si = { parts = { { text = si } } } end
  for _, p in ipairs(type(si) == "table" and type(si.parts) == "table" and si.parts or {}) do
    if type(p.text) == "string" and p.text ~= "" then canon.system[#canon.system + 1] = { type = "text", text = p.text } end
  end
  local pending = {}
  for i, c in ipairs(type(body.contents) == "table" and body.contents or {}) do
    if type(c) ~= "table" then return nil, "contents[" .. i .. "] must be an object" end
    if c.role == "model" then
      pending = {}
      local blocks, err = M.decode_model_parts(c.parts, pending)
      if not blocks then return nil, "contents[" .. i .. "]: " .. err end
      canon.messages[#canon.messages + 1] = { role = "assistant", content = blocks }
    else
      local ok, err = decode_user_parts(c.parts, pending, canon.messages, i)
      if not ok then return nil, err end
    end
  end
  for _, t in ipairs(type(body.tools) == "table" and body.tools or {}) do
    local decls = g(t, "functionDeclarations", "function_declarations")
    if type(decls) ~= "table" then
      local k = type(t) == "table" and next(t) or "?"
      return nil, "cannot convert Gemini tool '" .. tostring(k) .. "' to another provider"
    end
    canon.tools = canon.tools or {}
    for _, d in ipairs(decls) do
      canon.tools[#canon.tools + 1] = { name = tostring(d.name or ""), description = common.str(d.description),
        parameters = g(d, "parametersJsonSchema", "parameters_json_schema") or d.parameters }
    end
  end
  canon.tool_choice = decode_tool_config(g(body, "toolConfig", "tool_config"))
  local ok, err = decode_generation_config(g(body, "generationConfig", "generation_config"), canon)
  if not ok then return nil, err end
  return canon
end

local function candidate_of(body)
  return type(body.candidates) == "table" and body.candidates[1] or nil
end

function M.decode_response(body)
  if type(body) ~= "table" then return nil, "response body must be a JSON object" end
  if type(body.error) == "table" then return nil, tostring(body.error.message or "upstream error") end
  local cand = candidate_of(body)
  local content, stop = {}, "end_turn"
  local saw_tool = false
  if cand then
    local err
    content, err = M.decode_model_parts(type(cand.content) == "table" and cand.content.parts, {})
    if not content then return nil, err end
    stop = finish_to_canon[g(cand, "finishReason", "finish_reason")] or "end_turn"
    for _, b in ipairs(content) do if b.type == "tool_call" then saw_tool = true end end
  elseif type(g(body, "promptFeedback", "prompt_feedback")) == "table" then
    stop = "content_filter"
  end
  return {
    id = common.str(g(body, "responseId", "response_id")), model = common.str(g(body, "modelVersion", "model_version")),
    content = content, stop_reason = canonical.final_stop(stop, saw_tool), usage = M.usage(body),
  }
end

-- ------------------------------------------------------------- encoding --

local function media_part(b)
  local s = b.source
  if s.kind == "base64" then return { inlineData = { mimeType = s.media_type, data = s.data } } end
  return { fileData = { mimeType = s.media_type or common.guess_mime(s.url), fileUri = s.url } }
end

-- Canonical assistant/response block -> Gemini part (nil: not carried).
function M.encode_part(b, for_request)
  local t = b.type
  if t == "text" then
    if b.text == "" and not b.signature then return nil end
    return { text = b.text, thoughtSignature = b.signature }
  elseif t == "reasoning" then
    if b.redacted or (for_request and not b.signature) then return nil end
    return { text = b.text or "", thought = true, thoughtSignature = b.signature }
  elseif t == "tool_call" then
    local args, err = common.args_to_object(b.arguments)
    if not args then
      if for_request then return nil, "tool call " .. tostring(b.id) .. ": " .. err end
      args = {}
    end
    local fc = { name = b.name, args = args }
    if not for_request and not b.id:find("^call_%d+_") then fc.id = b.id end
    return { functionCall = fc, thoughtSignature = b.signature }
  elseif t == "image" then
    return media_part(b)
  end
  return nil
end

local function function_response(r, names)
  local name = r.name or names[r.tool_call_id]
  if not name then return nil, "tool result for unknown tool call id '" .. tostring(r.tool_call_id) .. "'" end
  local blocks = canonical.result_blocks(r.content)
  local text = common.text_of(blocks, "\n")
  local response = r.is_error and { error = text } or { output = text }
  return { functionResponse = { name = name, response = response } }, blocks
end

local function encode_contents(canon, opts)
  local names = canonical.call_names(canon)
  local contents = json.array()
  local function add(role, parts)
    if #parts == 0 then return end
    local last = contents[#contents]
    if last and last.role == role then
      for _, p in ipairs(parts) do last.parts[#last.parts + 1] = p end
    else
      contents[#contents + 1] = { role = role, parts = parts }
    end
  end
  for _, m in ipairs(canon.messages) do
    local parts = json.array()
    if m.role == "tool" then
      local images = {}
      for _, r in ipairs(m.content) do
        local part, blocks = function_response(r, names)
        if not part then return nil, blocks end
        parts[#parts + 1] = part
        for _, b in ipairs(blocks) do if b.type == "image" then images[#images + 1] = media_part(b) end end
      end
      for _, p in ipairs(images) do parts[#parts + 1] = p end
      add("user", parts)
    else
      local first_call = true
      for _, b in ipairs(m.content) do
        local part, err = M.encode_part(b, true)
        if err then return nil, err end
        if part and part.functionCall then
          if first_call and not part.thoughtSignature then part.thoughtSignature = opts.gemini_missing_signature end
          first_call = false
        end
        if part then parts[#parts + 1] = part end
      end
      add(m.role == "assistant" and "model" or "user", parts)
    end
  end
  return contents
end

local function generation_config(canon)
  local gc = {
    maxOutputTokens = canon.max_tokens, temperature = canon.temperature, topP = canon.top_p,
    topK = canon.top_k, seed = canon.seed, presencePenalty = canon.presence_penalty,
    frequencyPenalty = canon.frequency_penalty,
  }
  if canon.stop and #canon.stop > 0 then gc.stopSequences = json.array(common.shallow_copy(canon.stop)) end
  local rf = canon.response_format
  if rf and (rf.type == "json_object" or rf.type == "json_schema") then
    gc.responseMimeType = "application/json"
    if rf.schema then gc.responseSchema = tools.gemini_schema(rf.schema) end
  end
  local r = canon.reasoning
  if r then
    if r.effort == "none" or r.budget_tokens == 0 then
      gc.thinkingConfig = { thinkingBudget = 0 }
    else
      gc.thinkingConfig = { includeThoughts = true, thinkingBudget = r.budget_tokens or common.effort_to_budget(r.effort) }
    end
  end
  if next(gc) == nil then return nil end
  return gc
end

function M.path(model, stream)
  model = tostring(model or ""):gsub("^models/", "")
  if stream then return "/v1beta/models/" .. model .. ":streamGenerateContent?alt=sse" end
  return "/v1beta/models/" .. model .. ":generateContent"
end

function M.encode_request(canon, opts)
  opts = opts or {}
  local ok, err = canonical.require_stateless(canon)
  if not ok then return nil, err end
  local contents
  contents, err = encode_contents(canon, opts)
  if not contents then return nil, err end
  local body = { contents = contents, generationConfig = generation_config(canon) }
  local sys = canon.system or {}
  if #sys > 0 then
    local parts = json.array()
    for i, b in ipairs(sys) do parts[i] = { text = b.text } end
    body.systemInstruction = { parts = parts }
  end
  if canon.tools and #canon.tools > 0 then
    local decls = json.array()
    for i, t in ipairs(canon.tools) do
      decls[i] = { name = t.name, description = t.description, parameters = tools.gemini_schema(t.parameters) }
    end
    body.tools = json.array({ { functionDeclarations = decls } })
    local tc = canon.tool_choice
    local fcc
    if tc == "auto" then fcc = { mode = "AUTO" }
    elseif tc == "none" then fcc = { mode = "NONE" }
    elseif tc == "required" then fcc = { mode = "ANY" }
    elseif type(tc) == "table" then fcc = { mode = "ANY", allowedFunctionNames = json.array({ tc.name }) } end
    if fcc then body.toolConfig = { functionCallingConfig = fcc } end
  end
  local stream = opts.stream
  if stream == nil then stream = canon.stream end
  return body, M.path(opts.model or canon.model, stream)
end

function M.encode_response(resp, opts)
  opts = opts or {}
  local parts, saw_tool = json.array(), false
  for _, b in ipairs(resp.content) do
    local p = M.encode_part(b, false)
    if p then parts[#parts + 1] = p end
    if b.type == "tool_call" then saw_tool = true end
  end
  local stop = canonical.final_stop(resp.stop_reason, saw_tool)
  return {
    candidates = json.array({ { content = { role = "model", parts = parts },
      finishReason = canon_to_finish[stop] or "STOP", index = 0 } }),
    usageMetadata = M.encode_usage(resp.usage),
    modelVersion = opts.model or resp.model, responseId = opts.id or resp.id,
  }
end

-- ----------------------------------------------------------------- errors --

local status_names = {
  [400] = "INVALID_ARGUMENT", [401] = "UNAUTHENTICATED", [403] = "PERMISSION_DENIED", [404] = "NOT_FOUND",
  [409] = "ABORTED", [413] = "INVALID_ARGUMENT", [429] = "RESOURCE_EXHAUSTED", [499] = "CANCELLED",
  [500] = "INTERNAL", [501] = "UNIMPLEMENTED", [502] = "UNAVAILABLE", [503] = "UNAVAILABLE",
  [504] = "DEADLINE_EXCEEDED",
}

function M.error_body(status, message, kind)
  status = common.status_from_kind(kind, status)
  if status == 529 then status = 503 end
  return status, { error = { code = status, message = tostring(message or "error"),
    status = status_names[status] or (status < 500 and "INVALID_ARGUMENT" or "INTERNAL") } }
end

function M.stream_error(status, message, kind)
  local _, body = M.error_body(status, message, kind)
  return "data: " .. json.encode(body) .. "\n\n"
end

function M.request_path(opts, body)
  opts = opts or {}
  return M.path(opts.model or (body and body.model), opts.stream)
end

local stream = require "moongate.formats.gemini_stream"
M.stream_decoder = function(opts) return stream.decoder(M, opts) end
M.stream_encoder = function(opts) return stream.encoder(M, opts) end

return M
