-- moongate.formats.gemini_stream: Gemini streamGenerateContent (alt=sse).
--   decoder: each `data:` is a whole GenerateContentResponse; text and thought
--     parts continue the open text/reasoning block, a functionCall part is a
--     whole block (start, arguments, stop) with an id "call_<k>_<name>" unless
--     Gemini gave one. Gemini has no end marker: the stop event is emitted by
--     finish() (at the end of the upstream body) after a finishReason was
--     seen, so the last usageMetadata is the one reported.
--   encoder: canonical events -> chunks with candidates[0].content.parts;
--     function calls are sent whole when their block stops (Gemini never
--     streams partial arguments); the last chunk carries finishReason and
--     usageMetadata.
-- Uses: json, common, canonical, sse.

local json = require "moongate.formats.json"
local common = require "moongate.formats.common"
local canonical = require "moongate.formats.canonical"
local sse = require "moongate.formats.sse"

local S = {}

local type, tostring, ipairs = type, tostring, ipairs
local concat = table.concat

-- ---------------------------------------------------------------- decoder --

local Decoder = {}
Decoder.__index = Decoder

function S.decoder(fmt, opts)
  return setmetatable({
    fmt = fmt, opts = opts or {}, started = false, next_index = 0,
    cur = nil, cur_kind = nil, calls = 0, saw_tool = false,
    usage = nil, finish_reason = nil, finished = false,
  }, Decoder)
end

local function err_event(status, kind, message)
  return { type = "error", status = status, kind = kind, message = message }
end

function Decoder:open(block, out)
  local idx = self.next_index
  self.next_index = idx + 1
  out[#out + 1] = { type = "block_start", index = idx, block = block }
  return idx
end

function Decoder:close(out)
  if self.cur ~= nil then
    out[#out + 1] = { type = "block_stop", index = self.cur }
    self.cur, self.cur_kind = nil, nil
  end
end

function Decoder:continue(kind, out)
  if self.cur_kind ~= kind then
    self:close(out)
    self.cur = self:open({ type = kind }, out)
    self.cur_kind = kind
  end
  return self.cur
end

function Decoder:on_part(p, out)
  local g = self.fmt.g
  local sig = common.str(g(p, "thoughtSignature", "thought_signature"))
  local fc = g(p, "functionCall", "function_call")
  if type(fc) == "table" then
    self:close(out)
    local name = tostring(fc.name or "")
    local id = common.str(fc.id) or common.gemini_call_id(self.calls, name)
    self.calls = self.calls + 1
    self.saw_tool = true
    local idx = self:open({ type = "tool_call", id = id, name = name, signature = sig }, out)
    out[#out + 1] = { type = "delta", index = idx, arguments = common.object_to_args(fc.args) }
    out[#out + 1] = { type = "block_stop", index = idx }
    return true
  end
  if p.text ~= nil then
    local text = tostring(p.text)
    if text ~= "" then
      local idx = self:continue(p.thought == true and "reasoning" or "text", out)
      if p.thought == true then
        out[#out + 1] = { type = "delta", index = idx, reasoning = text }
      else
        out[#out + 1] = { type = "delta", index = idx, text = text }
      end
    end
  elseif not sig then
    local k = next(p)
    return nil, "cannot convert Gemini part '" .. tostring(k) .. "'"
  end
  if sig then
    local idx = self.cur or self:continue("reasoning", out)
    out[#out + 1] = { type = "delta", index = idx, signature = sig }
  end
  return true
end

function Decoder:feed(_, data)
  local out = {}
  if self.finished then return out end
  local chunk, err = json.decode(data)
  if type(chunk) ~= "table" then
    self.finished = true
    return { err_event(502, "upstream", "upstream sent invalid JSON: " .. tostring(err)) }
  end
  if type(chunk.error) == "table" then
    self.finished = true
    local status = tonumber(chunk.error.code) or 500
    return { err_event(status, common.kind_from_status(status), tostring(chunk.error.message or "upstream error")) }
  end
  local g = self.fmt.g
  if not self.started then
    self.started = true
    out[1] = { type = "start", id = common.str(g(chunk, "responseId", "response_id")),
      model = common.str(g(chunk, "modelVersion", "model_version")) }
  end
  local cand = type(chunk.candidates) == "table" and chunk.candidates[1] or nil
  if type(cand) == "table" then
    local content = type(cand.content) == "table" and cand.content or {}
    for _, p in ipairs(type(content.parts) == "table" and content.parts or {}) do
      if type(p) == "table" then
        local ok, perr = self:on_part(p, out)
        if not ok then
          self.finished = true
          out[#out + 1] = err_event(502, "upstream", perr)
          return out
        end
      end
    end
    local fr = g(cand, "finishReason", "finish_reason")
    if fr then
      self.finish_reason = fr
      self:close(out)
    end
  elseif type(g(chunk, "promptFeedback", "prompt_feedback")) == "table" then
    self.finish_reason = "SAFETY"
  end
  if type(g(chunk, "usageMetadata", "usage_metadata")) == "table" then
    self.usage = self.fmt.usage(chunk)
  end
  return out
end

function Decoder:finish()
  local out = {}
  if self.finished then return out end
  self.finished = true
  if not self.finish_reason then
    return { err_event(502, "upstream", "upstream stream ended early") }
  end
  self:close(out)
  if self.usage then out[#out + 1] = { type = "usage", usage = self.usage } end
  local stop = self.fmt.finish_to_canon[self.finish_reason] or "end_turn"
  out[#out + 1] = { type = "stop", stop_reason = canonical.final_stop(stop, self.saw_tool) }
  out[#out + 1] = { type = "done" }
  return out
end

-- ---------------------------------------------------------------- encoder --

local Encoder = {}
Encoder.__index = Encoder

function S.encoder(fmt, opts)
  opts = opts or {}
  return setmetatable({
    fmt = fmt, opts = opts, id = opts.id, model = opts.model,
    kinds = {}, calls = {}, usage = nil, saw_tool = false, closed = false,
  }, Encoder)
end

function Encoder:chunk(parts, finish_reason)
  local cand = { content = { role = "model", parts = json.array(parts) }, index = 0 }
  local c = { candidates = json.array({ cand }), modelVersion = self.model, responseId = self.id }
  if finish_reason then
    cand.finishReason = finish_reason
    c.usageMetadata = self.fmt.encode_usage(self.usage)
  end
  return sse.data(c)
end

function Encoder:encode(e)
  local out = {}
  if self.closed then return out end
  local t = e.type
  if t == "start" then
    self.id = self.id or e.id or common.gen_id("")
    self.model = self.model or e.model
    if e.usage then self.usage = e.usage end
  elseif t == "error" then
    self.closed = true
    out[1] = self.fmt.stream_error(e.status, e.message, e.kind)
  elseif t == "block_start" then
    local b = e.block
    self.kinds[e.index] = b.type
    if b.type == "tool_call" then
      self.saw_tool = true
      self.calls[e.index] = { id = b.id, name = b.name, signature = b.signature, args = {} }
    end
  elseif t == "delta" then
    local kind = self.kinds[e.index]
    if e.text and kind == "text" then
      out[1] = self:chunk({ { text = e.text } })
    elseif e.reasoning and kind == "reasoning" then
      out[1] = self:chunk({ { text = e.reasoning, thought = true } })
    elseif e.arguments and self.calls[e.index] then
      local c = self.calls[e.index]
      c.args[#c.args + 1] = e.arguments
    elseif e.signature then
      local c = self.calls[e.index]
      if c then c.signature = e.signature
      else out[1] = self:chunk({ { text = "", thought = kind == "reasoning" or nil, thoughtSignature = e.signature } }) end
    end
  elseif t == "block_stop" then
    local c = self.calls[e.index]
    if c then
      self.calls[e.index] = nil
      local part = self.fmt.encode_part({ type = "tool_call", id = c.id, name = c.name,
        arguments = concat(c.args), signature = c.signature }, false)
      out[1] = self:chunk({ part })
    end
  elseif t == "usage" then
    self.usage = e.usage
  elseif t == "stop" then
    local stop = canonical.final_stop(e.stop_reason, self.saw_tool)
    out[1] = self:chunk({ { text = "" } }, self.fmt.canon_to_finish[stop] or "STOP")
  elseif t == "done" then
    self.closed = true
  end
  return out
end

return S
