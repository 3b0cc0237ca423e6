-- moongate.formats.openai_stream: OpenAI Chat Completions streaming.
--   decoder: `data: {chat.completion.chunk}` … `data: [DONE]` -> canonical events.
--     Tool calls are keyed by their `index`; a call's block closes when the
--     stream moves on and its arguments already form a complete JSON object
--     (nothing valid can follow), otherwise at finish_reason — so calls that
--     stream interleaved stay apart. The stop event waits for [DONE] because
--     the usage chunk (stream_options.include_usage) comes after finish_reason.
--   encoder: canonical events -> chunks: first chunk carries the role, tool call
--     deltas carry index (+ id/name on the first fragment), a finish_reason
--     chunk, a usage chunk (`choices: []`) only when opts.include_usage, then
--     `data: [DONE]`.
-- Uses: json, common, canonical, sse.

local json = require "moongate.formats.json"
local common = require "moongate.formats.common"
local canonical = require "moongate.formats.canonical"
local sse = require "moongate.formats.sse"

local S = {}

local type, ipairs, tostring = type, ipairs, tostring
local null = json.null

-- ---------------------------------------------------------------- decoder --

local Decoder = {}
Decoder.__index = Decoder

function S.decoder(fmt, opts)
  return setmetatable({
    fmt = fmt, opts = opts or {}, started = false, next_index = 0,
    open = {},          -- canonical index -> kind ("text"|"reasoning"|"tool")
    open_order = {},    -- canonical indexes in opening order
    text_idx = nil, reasoning_idx = nil,
    tools = {},         -- upstream tool index -> { idx = canonical index?, args = {fragments}, id, name }
    tool_by_idx = {},   -- canonical index -> the same entry
    finish_reason = nil, saw_tool = false, stopped = false, finished = false,
  }, Decoder)
end

function Decoder:start_block(block, kind, out)
  local idx = self.next_index
  self.next_index = idx + 1
  self.open[idx] = kind
  self.open_order[#self.open_order + 1] = idx
  out[#out + 1] = { type = "block_start", index = idx, block = block }
  return idx
end

function Decoder:stop_block(idx, out)
  if idx == nil or not self.open[idx] then return end
  self.open[idx] = nil
  if self.text_idx == idx then self.text_idx = nil end
  if self.reasoning_idx == idx then self.reasoning_idx = nil end
  out[#out + 1] = { type = "block_stop", index = idx }
end

function Decoder:stop_all(out)
  for _, idx in ipairs(self.open_order) do self:stop_block(idx, out) end
  self.open_order = {}
end

-- Closes tool blocks whose arguments are already a whole JSON object.
function Decoder:close_finished_tools(out)
  for _, idx in ipairs(self.open_order) do
    local t = self.tool_by_idx[idx]
    if t and self.open[idx] and json.is_complete_object(table.concat(t.args)) then
      self:stop_block(idx, out)
    end
  end
end

function Decoder:on_text(text, out)
  if self.reasoning_idx then self:stop_block(self.reasoning_idx, out) end
  if not self.text_idx then self.text_idx = self:start_block({ type = "text" }, "text", out) end
  out[#out + 1] = { type = "delta", index = self.text_idx, text = text }
end

function Decoder:on_reasoning(text, out)
  if self.text_idx then self:stop_block(self.text_idx, out) end
  if not self.reasoning_idx then
    self.reasoning_idx = self:start_block({ type = "reasoning" }, "reasoning", out)
  end
  out[#out + 1] = { type = "delta", index = self.reasoning_idx, reasoning = text }
end

function Decoder:on_tool_call(tc, pos, out)
  local key = type(tc.index) == "number" and tc.index or (pos - 1)
  local f = type(tc["function"]) == "table" and tc["function"] or {}
  local t = self.tools[key]
  if not t then
    t = { args = {}, id = common.str(tc.id), name = common.str(f.name) }
    self.tools[key] = t
  else
    t.id = t.id or common.str(tc.id)
    if not t.idx and type(f.name) == "string" then t.name = (t.name or "") .. f.name end
  end
  local frag = f.arguments
  if type(frag) == "table" then frag = common.object_to_args(frag) end
  if type(frag) == "string" and frag ~= "" then t.args[#t.args + 1] = frag end
  if not t.idx then
    if not t.name then return end -- wait for the name before opening the block
    if self.text_idx then self:stop_block(self.text_idx, out) end
    if self.reasoning_idx then self:stop_block(self.reasoning_idx, out) end
    self:close_finished_tools(out)
    local ec = tc.extra_content
    local sig = type(ec) == "table" and type(ec.google) == "table" and common.str(ec.google.thought_signature) or nil
    t.idx = self:start_block({ type = "tool_call", id = t.id or ("call_" .. key), name = t.name, signature = sig },
      "tool", out)
    self.tool_by_idx[t.idx] = t
    self.saw_tool = true
    if #t.args > 0 then
      out[#out + 1] = { type = "delta", index = t.idx, arguments = table.concat(t.args) }
    end
  elseif type(frag) == "string" and frag ~= "" then
    out[#out + 1] = { type = "delta", index = t.idx, arguments = frag }
  end
end

function Decoder:on_chunk(chunk, out)
  if not self.started then
    self.started = true
    out[#out + 1] = { type = "start", id = common.str(chunk.id), model = common.str(chunk.model) }
  end
  local choices = type(chunk.choices) == "table" and chunk.choices or {}
  for _, choice in ipairs(choices) do
    if type(choice) == "table" and (choice.index == nil or choice.index == 0) then
      local d = type(choice.delta) == "table" and choice.delta or {}
      local r = d.reasoning_content
      if type(r) ~= "string" then r = d.reasoning end
      if type(r) == "string" and r ~= "" then self:on_reasoning(r, out) end
      if type(d.content) == "string" and d.content ~= "" then self:on_text(d.content, out) end
      if type(d.refusal) == "string" and d.refusal ~= "" then
        self.refused = true
        self:on_text(d.refusal, out)
      end
      if type(d.tool_calls) == "table" then
        for pos, tc in ipairs(d.tool_calls) do
          if type(tc) == "table" then self:on_tool_call(tc, pos, out) end
        end
      end
      if common.present(choice.finish_reason) then
        self.finish_reason = choice.finish_reason
        self:stop_all(out)
      end
    end
  end
  if type(chunk.usage) == "table" then
    out[#out + 1] = { type = "usage", usage = self.fmt.usage(chunk.usage) }
  end
end

function Decoder:finalize(out)
  self:stop_all(out)
  local stop = self.fmt.finish_to_canon[self.finish_reason] or "end_turn"
  if self.refused then stop = "content_filter" end
  out[#out + 1] = { type = "stop", stop_reason = canonical.final_stop(stop, self.saw_tool) }
  out[#out + 1] = { type = "done" }
  self.stopped, self.finished = true, true
end

-- The text lane (formats.Converter:text_lane): with a text block open and
-- no reasoning block, a chunk carrying only content adds one delta to it.
function Decoder:text_lane()
  if self.finished or not self.started or self.text_idx == nil or self.reasoning_idx ~= nil then
    return nil
  end
  return self.text_idx, 0
end

function Decoder:feed(_, data)
  local out = {}
  if self.finished then return out end
  if data == "[DONE]" then
    if not self.started then
      out[1] = { type = "start" }
      self.started = true
    end
    self:finalize(out)
    return out
  end
  local chunk, err = json.decode(data)
  if type(chunk) ~= "table" then
    self.finished = true
    return { { type = "error", status = 502, kind = "upstream", message = "upstream sent invalid JSON: " .. tostring(err) } }
  end
  if type(chunk.error) == "table" then
    self.finished = true
    local e = chunk.error
    local status = tonumber(e.code) or tonumber(e.status) or 500
    return { { type = "error", status = status, kind = common.kind_from_status(status),
      message = tostring(e.message or "upstream error") } }
  end
  self:on_chunk(chunk, out)
  return out
end

function Decoder:finish()
  local out = {}
  if self.finished then return out end
  if self.finish_reason then
    self:finalize(out)
    return out
  end
  self.finished = true
  return { { type = "error", status = 502, kind = "upstream", message = "upstream stream ended early" } }
end

-- ---------------------------------------------------------------- encoder --

local Encoder = {}
Encoder.__index = Encoder

function S.encoder(fmt, opts)
  opts = opts or {}
  return setmetatable({
    fmt = fmt, opts = opts, include_usage = opts.include_usage == true,
    id = opts.id, model = opts.model, created = opts.created or common.now(),
    started = false, tool_index = {}, next_tool = 0, usage = nil, saw_tool = false, closed = false,
  }, Encoder)
end

function Encoder:chunk(delta, finish_reason)
  local c = {
    id = self.id, object = "chat.completion.chunk", created = self.created, model = self.model,
    choices = json.array({ { index = 0, delta = delta, logprobs = null, finish_reason = finish_reason or null } }),
  }
  if self.include_usage then c.usage = null end
  return sse.data(c)
end

function Encoder:ensure_started(e, out)
  if self.started then return end
  self.started = true
  self.id = self.id or (e and e.id) or common.gen_id("chatcmpl-")
  self.model = self.model or (e and e.model) or "unknown"
  out[#out + 1] = self:chunk({ role = "assistant", content = "" })
end

function Encoder:encode(e)
  local out = {}
  if self.closed then return out end
  local t = e.type
  if t == "start" then
    self:ensure_started(e, out)
    if e.usage then self.usage = e.usage end
    return out
  end
  if t == "error" then
    self.closed = true
    out[1] = self.fmt.stream_error(e.status, e.message, e.kind)
    return out
  end
  self:ensure_started(nil, out)
  if t == "block_start" then
    local b = e.block
    if b.type == "tool_call" then
      local k = self.next_tool
      self.next_tool = k + 1
      self.tool_index[e.index] = k
      self.saw_tool = true
      local tc = { index = k, id = b.id, type = "function", ["function"] = { name = b.name, arguments = "" } }
      if b.signature then tc.extra_content = { google = { thought_signature = b.signature } } end
      out[#out + 1] = self:chunk({ tool_calls = json.array({ tc }) })
    end
  elseif t == "delta" then
    if e.text then
      out[#out + 1] = self:chunk({ content = e.text })
    elseif e.reasoning then
      out[#out + 1] = self:chunk({ reasoning_content = e.reasoning })
    elseif e.arguments and self.tool_index[e.index] then
      out[#out + 1] = self:chunk({ tool_calls = json.array({
        { index = self.tool_index[e.index], ["function"] = { arguments = e.arguments } } }) })
    end
  elseif t == "usage" then
    self.usage = e.usage
  elseif t == "stop" then
    local reason = canonical.final_stop(e.stop_reason, self.saw_tool)
    out[#out + 1] = self:chunk({}, self.fmt.canon_to_finish[reason] or "stop")
    if self.include_usage then
      out[#out + 1] = sse.data({
        id = self.id, object = "chat.completion.chunk", created = self.created, model = self.model,
        choices = json.array(), usage = self.fmt.encode_usage(self.usage),
      })
    end
  elseif t == "done" then
    self.closed = true
    out[#out + 1] = sse.done
  end
  return out
end

return S
