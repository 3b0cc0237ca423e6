-- moongate.formats.anthropic_stream: Anthropic Messages streaming.
--   decoder: message_start / content_block_start|delta|stop / message_delta /
--     message_stop / ping / error -> canonical events. message_delta usage is
--     cumulative: it replaces the snapshot (fields it omits keep their value).
--   encoder: canonical events -> the same event sequence, with one content
--     block open at a time and contiguous indexes (via the sequencer),
--     message_start carrying usage, message_delta carrying stop_reason and the
--     full usage, then message_stop.
-- Uses: json, common, canonical, sse, sequencer.

local json = require "moongate.formats.json"
local common = require "moongate.formats.common"
local canonical = require "moongate.formats.canonical"
local sse = require "moongate.formats.sse"
local sequencer = require "moongate.formats.sequencer"

local S = {}

local type, tostring, ipairs = type, tostring, ipairs
local null = json.null

-- ---------------------------------------------------------------- decoder --

local Decoder = {}
Decoder.__index = Decoder

function S.decoder(fmt, opts)
  return setmetatable({
    fmt = fmt, opts = opts or {}, started = false, next_index = 0,
    map = {},       -- Anthropic block index -> canonical index
    open = {},      -- canonical index -> true
    usage = common.new_usage(), stop_reason = nil, stop_sequence = nil,
    saw_tool = false, finished = false,
  }, Decoder)
end

local function error_event(status, kind, message)
  return { type = "error", status = status, kind = kind, message = message }
end

function Decoder:ensure_started(out)
  if self.started then return end
  self.started = true
  out[#out + 1] = { type = "start" }
end

function Decoder:block_start(ev, out)
  local cb = type(ev.content_block) == "table" and ev.content_block or {}
  local t = cb.type
  local block
  if t == "text" then block = { type = "text" }
  elseif t == "tool_use" then
    block = { type = "tool_call", id = tostring(cb.id or ""), name = tostring(cb.name or "") }
    self.saw_tool = true
  elseif t == "thinking" then block = { type = "reasoning" }
  elseif t == "redacted_thinking" then block = { type = "reasoning", redacted = true, data = common.str(cb.data) }
  else
    return nil, "cannot convert Anthropic content block of type '" .. tostring(t) .. "'"
  end
  local idx = self.next_index
  self.next_index = idx + 1
  self.map[ev.index or idx] = idx
  self.open[idx] = true
  if t == "text" then self.text_up, self.text_idx = ev.index or idx, idx end
  out[#out + 1] = { type = "block_start", index = idx, block = block }
  if t == "text" and type(cb.text) == "string" and cb.text ~= "" then
    out[#out + 1] = { type = "delta", index = idx, text = cb.text }
  elseif t == "tool_use" and type(cb.input) == "table" and next(cb.input) ~= nil then
    out[#out + 1] = { type = "delta", index = idx, arguments = common.object_to_args(cb.input) }
  elseif t == "thinking" then
    if type(cb.thinking) == "string" and cb.thinking ~= "" then
      out[#out + 1] = { type = "delta", index = idx, reasoning = cb.thinking }
    end
    if type(cb.signature) == "string" and cb.signature ~= "" then
      out[#out + 1] = { type = "delta", index = idx, signature = cb.signature }
    end
  end
  return true
end

function Decoder:block_delta(ev, out)
  local idx = self.map[ev.index]
  if idx == nil or not self.open[idx] then return end
  local d = type(ev.delta) == "table" and ev.delta or {}
  local t = d.type
  if t == "text_delta" and type(d.text) == "string" and d.text ~= "" then
    out[#out + 1] = { type = "delta", index = idx, text = d.text }
  elseif t == "input_json_delta" and type(d.partial_json) == "string" and d.partial_json ~= "" then
    out[#out + 1] = { type = "delta", index = idx, arguments = d.partial_json }
  elseif t == "thinking_delta" and type(d.thinking) == "string" and d.thinking ~= "" then
    out[#out + 1] = { type = "delta", index = idx, reasoning = d.thinking }
  elseif t == "signature_delta" and type(d.signature) == "string" then
    out[#out + 1] = { type = "delta", index = idx, signature = d.signature }
  end
end

function Decoder:close_all(out)
  for idx = 0, self.next_index - 1 do
    if self.open[idx] then
      self.open[idx] = nil
      out[#out + 1] = { type = "block_stop", index = idx }
    end
  end
end

function Decoder:finalize(out)
  self:close_all(out)
  local stop = self.fmt.stop_to_canon[self.stop_reason] or "end_turn"
  out[#out + 1] = { type = "stop", stop_reason = canonical.final_stop(stop, self.saw_tool),
    stop_sequence = stop == "stop_sequence" and self.stop_sequence or nil }
  out[#out + 1] = { type = "done" }
  self.finished = true
end

-- The text lane (formats.Converter:text_lane): a text_delta of the last
-- text block, still open, adds one delta to it.
function Decoder:text_lane()
  local idx = self.text_idx
  if self.finished or idx == nil or not self.open[idx] or self.map[self.text_up] ~= idx
    or type(self.text_up) ~= "number" then
    return nil
  end
  return idx, self.text_up
end

function Decoder:feed(event, data)
  local out = {}
  if self.finished then return out end
  local ev, err = json.decode(data)
  if type(ev) ~= "table" then
    self.finished = true
    return { error_event(502, "upstream", "upstream sent invalid JSON: " .. tostring(err)) }
  end
  local t = ev.type or event
  if t == "message_start" then
    local msg = type(ev.message) == "table" and ev.message or {}
    self.usage = self.fmt.usage(msg.usage)
    self.started = true
    out[1] = { type = "start", id = common.str(msg.id), model = common.str(msg.model), usage = self.usage }
  elseif t == "content_block_start" then
    self:ensure_started(out)
    local ok, berr = self:block_start(ev, out)
    if not ok then
      self.finished = true
      out[#out + 1] = error_event(502, "upstream", berr)
    end
  elseif t == "content_block_delta" then
    self:block_delta(ev, out)
  elseif t == "content_block_stop" then
    local idx = self.map[ev.index]
    if idx ~= nil and self.open[idx] then
      self.open[idx] = nil
      out[1] = { type = "block_stop", index = idx }
    end
  elseif t == "message_delta" then
    self:ensure_started(out)
    local d = type(ev.delta) == "table" and ev.delta or {}
    if common.present(d.stop_reason) then self.stop_reason = d.stop_reason end
    if common.present(d.stop_sequence) then self.stop_sequence = d.stop_sequence end
    if type(ev.usage) == "table" then
      self.usage = self.fmt.merge_usage(self.usage, ev.usage)
      out[#out + 1] = { type = "usage", usage = self.usage }
    end
  elseif t == "message_stop" then
    self:ensure_started(out)
    self:finalize(out)
  elseif t == "error" then
    self.finished = true
    local e = type(ev.error) == "table" and ev.error or {}
    local kind = self.fmt.kind_by_type[e.type] or "server"
    local status = e.type == "overloaded_error" and 529 or common.status_from_kind(kind)
    out[1] = error_event(status, kind, tostring(e.message or "upstream error"))
  end
  return out
end

function Decoder:finish()
  local out = {}
  if self.finished then return out end
  if self.stop_reason then
    self:finalize(out)
    return out
  end
  self.finished = true
  return { error_event(502, "upstream", "upstream stream ended early") }
end

-- ---------------------------------------------------------------- encoder --

local Encoder = {}
Encoder.__index = Encoder

function S.encoder(fmt, opts)
  opts = opts or {}
  return setmetatable({
    fmt = fmt, opts = opts, seq = sequencer.new(), started = false,
    id = opts.id, model = opts.model, usage = common.new_usage(), kinds = {},
    saw_tool = false, closed = false,
  }, Encoder)
end

-- The events whose shape never varies are written from templates instead of
-- building a table per event and encoding it: they are most of the Lua work
-- of a converted stream that is otherwise plain text deltas. Key order is
-- Anthropic's own; a table's order was whatever the hash gave.
local encode_string = json.encode_string
local encode_value = json.encode

-- {"input_tokens":..} in Anthropic's accounting (fmt.encode_usage's numbers).
local function usage_text(u)
  return '{"input_tokens":' .. encode_value(u.input_tokens) .. ',"output_tokens":' ..
    encode_value(u.output_tokens) .. ',"cache_creation_input_tokens":' ..
    encode_value(u.cache_creation_input_tokens) .. ',"cache_read_input_tokens":' ..
    encode_value(u.cache_read_input_tokens) .. '}'
end

local function message_start_text(id, model, usage)
  return 'event: message_start\ndata: {"type":"message_start","message":{"id":' .. encode_string(id) ..
    ',"type":"message","role":"assistant","model":' .. encode_string(model) ..
    ',"content":[],"stop_reason":null,"stop_sequence":null,"usage":' .. usage_text(usage) .. '}}\n\n'
end

local function block_stop_text(out_idx)
  return 'event: content_block_stop\ndata: {"type":"content_block_stop","index":' ..
    encode_value(out_idx) .. '}\n\n'
end

local function message_delta_text(stop_reason, stop_sequence, usage)
  local seq = stop_sequence == nil and "null" or encode_value(stop_sequence)
  return 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":' ..
    encode_string(stop_reason) .. ',"stop_sequence":' .. seq .. '},"usage":' .. usage_text(usage) .. '}\n\n'
end

local message_stop_text = 'event: message_stop\ndata: {"type":"message_stop"}\n\n'

function Encoder:ensure_started(e, out)
  if self.started then return end
  self.started = true
  if e and e.usage then self.usage = common.copy_usage(e.usage) end
  self.id = self.id or (e and e.id) or common.gen_id("msg_")
  self.model = self.model or (e and e.model) or "unknown"
  out[#out + 1] = message_start_text(tostring(self.id), tostring(self.model), self.fmt.encode_usage(self.usage))
end

-- A text delta of output block out_idx: the lane's prefix and suffix around
-- the text's JSON string; the encoder writes its own text deltas the same way.
-- Cached per index: the lane asks for them after every batch.
local lane_prefix = {}
local function text_delta_parts(out_idx)
  local prefix = lane_prefix[out_idx]
  if not prefix then
    prefix = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
      .. string.format("%d", out_idx) .. ',"delta":{"type":"text_delta","text":'
    if out_idx >= 0 and out_idx < 64 then lane_prefix[out_idx] = prefix end
  end
  return prefix, '}}\n\n'
end

-- The text lane (formats.Converter:text_lane): once started, a delta of the
-- block streaming live is one content_block_delta and changes nothing.
function Encoder:text_lane(idx)
  if self.closed or not self.started or self.seq.current ~= idx then return nil end
  local out_idx = self.seq.map[idx]
  if out_idx == nil or self.kinds[out_idx] ~= "text" then return nil end
  return text_delta_parts(out_idx)
end

local function start_block(b)
  if b.type == "text" then return { type = "text", text = "" } end
  if b.type == "tool_call" then return { type = "tool_use", id = b.id, name = b.name, input = {} } end
  if b.redacted and b.data then return { type = "redacted_thinking", data = b.data } end
  return { type = "thinking", thinking = "", signature = "" }
end

function Encoder:emit(e, out)
  local t = e.type
  if t == "block_start" then
    local cb = start_block(e.block)
    self.kinds[e.index] = cb.type
    if cb.type == "tool_use" then self.saw_tool = true end
    if cb.type == "text" then
      out[#out + 1] = 'event: content_block_start\ndata: {"type":"content_block_start","index":' ..
        encode_value(e.index) .. ',"content_block":{"type":"text","text":""}}\n\n'
    else
      out[#out + 1] = sse.event("content_block_start", { type = "content_block_start", index = e.index, content_block = cb })
    end
  elseif t == "delta" then
    local kind = self.kinds[e.index]
    local d
    if e.text and kind == "text" then
      local prefix, suffix = text_delta_parts(e.index)
      out[#out + 1] = prefix .. json.encode_string(e.text) .. suffix
      return
    elseif e.arguments and kind == "tool_use" then d = { type = "input_json_delta", partial_json = e.arguments }
    elseif e.reasoning and kind == "thinking" then d = { type = "thinking_delta", thinking = e.reasoning }
    elseif e.signature and kind == "thinking" then d = { type = "signature_delta", signature = e.signature } end
    if d then
      out[#out + 1] = sse.event("content_block_delta", { type = "content_block_delta", index = e.index, delta = d })
    end
  elseif t == "block_stop" then
    out[#out + 1] = block_stop_text(e.index)
  elseif t == "usage" then
    self.usage = common.copy_usage(e.usage)
  elseif t == "stop" then
    local stop = canonical.final_stop(e.stop_reason, self.saw_tool)
    out[#out + 1] = message_delta_text(self.fmt.canon_to_stop[stop] or "end_turn",
      stop == "stop_sequence" and e.stop_sequence or nil, self.fmt.encode_usage(self.usage))
    out[#out + 1] = message_stop_text
  elseif t == "done" then
    self.closed = true
  end
end

function Encoder:encode(e)
  local out = {}
  if self.closed then return out end
  if e.type == "error" then
    self.closed = true
    out[1] = self.fmt.stream_error(e.status, e.message, e.kind)
    return out
  end
  if e.type == "start" then
    self:ensure_started(e, out)
    return out
  end
  self:ensure_started(nil, out)
  local events = self.seq:push(e, {})
  for _, ev in ipairs(events) do self:emit(ev, out) end
  return out
end

return S
