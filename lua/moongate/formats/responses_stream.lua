-- moongate.formats.responses_stream: OpenAI Responses streaming.
--   decoder: response.created, output_item.added/done, content_part.added/done,
--     output_text.delta, refusal.delta, function_call_arguments.delta/done,
--     reasoning_summary_part.added, reasoning_summary_text.delta,
--     reasoning_text.delta, response.completed/incomplete/failed, error
--     -> canonical events. Items are keyed by output_index (text parts by
--     output_index + content_index). Servers that send only the .done events
--     (no deltas) still produce the full text/arguments.
--   encoder: canonical events -> the same events with a sequence_number on
--     each, one output item at a time (via the sequencer): created,
--     in_progress, items, then response.completed (or response.incomplete)
--     carrying the whole response and usage. Errors: `error` then
--     `response.failed`.
-- Uses: json, common, sse, sequencer.

local json = require "moongate.formats.json"
local common = require "moongate.formats.common"
local sse = require "moongate.formats.sse"
local sequencer = require "moongate.formats.sequencer"

local S = {}

local type, tostring, ipairs = type, tostring, ipairs
local concat = table.concat
local null = json.null

-- ---------------------------------------------------------------- decoder --

local Decoder = {}
Decoder.__index = Decoder

function S.decoder(fmt, opts)
  return setmetatable({
    fmt = fmt, opts = opts or {}, started = false, next_index = 0,
    items = {},      -- output_index -> { kind, idx?, emitted = bool, texts = {content_index -> entry} }
    open = {},       -- canonical index -> true
    saw_tool = false, refused = false, finished = false,
  }, Decoder)
end

local function err_event(status, kind, message)
  return { type = "error", status = status, kind = kind, message = message }
end

function Decoder:ensure_started(resp, out)
  if self.started then return end
  self.started = true
  resp = type(resp) == "table" and resp or {}
  out[#out + 1] = { type = "start", id = common.str(resp.id), model = common.str(resp.model) }
end

function Decoder:open_block(block, out)
  local idx = self.next_index
  self.next_index = idx + 1
  self.open[idx] = true
  out[#out + 1] = { type = "block_start", index = idx, block = block }
  return idx
end

function Decoder:close_block(idx, out)
  if idx ~= nil and self.open[idx] then
    self.open[idx] = nil
    out[#out + 1] = { type = "block_stop", index = idx }
  end
end

function Decoder:text_entry(oi, ci, out)
  local item = self.items[oi]
  if not item then
    item = { kind = "message", texts = {} }
    self.items[oi] = item
  end
  item.texts = item.texts or {}
  local entry = item.texts[ci or 0]
  if not entry then
    entry = { idx = self:open_block({ type = "text" }, out), emitted = false }
    item.texts[ci or 0] = entry
  end
  return entry
end

function Decoder:text_delta(ev, out)
  if type(ev.delta) ~= "string" or ev.delta == "" then return end
  local entry = self:text_entry(ev.output_index, ev.content_index, out)
  if not self.open[entry.idx] then return end
  entry.emitted = true
  out[#out + 1] = { type = "delta", index = entry.idx, text = ev.delta }
end

function Decoder:item_added(ev, out)
  local item = type(ev.item) == "table" and ev.item or {}
  local oi = ev.output_index
  if item.type == "function_call" then
    self.saw_tool = true
    local e = { kind = "tool", emitted = false }
    e.idx = self:open_block({ type = "tool_call", id = tostring(item.call_id or item.id or ""),
      name = tostring(item.name or "") }, out)
    if type(item.arguments) == "string" and item.arguments ~= "" then
      e.emitted = true
      out[#out + 1] = { type = "delta", index = e.idx, arguments = item.arguments }
    end
    self.items[oi] = e
  elseif item.type == "reasoning" then
    self.items[oi] = { kind = "reasoning", emitted = false,
      idx = self:open_block({ type = "reasoning", id = common.str(item.id) }, out) }
  elseif item.type == "message" then
    self.items[oi] = self.items[oi] or { kind = "message", texts = {} }
  else
    return nil, "cannot convert Responses output item of type '" .. tostring(item.type) .. "'"
  end
  return true
end

function Decoder:item_done(ev, out)
  local item = type(ev.item) == "table" and ev.item or {}
  local e = self.items[ev.output_index]
  if not e then
    local ok, err = self:item_added(ev, out)
    if not ok then return nil, err end
    e = self.items[ev.output_index]
  end
  if e.kind == "tool" then
    if not e.emitted and type(item.arguments) == "string" and item.arguments ~= "" then
      out[#out + 1] = { type = "delta", index = e.idx, arguments = item.arguments }
    end
    self:close_block(e.idx, out)
  elseif e.kind == "reasoning" then
    if not e.emitted then
      local b = self.fmt.decode_item_block(item)
      if b and b.text then out[#out + 1] = { type = "delta", index = e.idx, reasoning = b.text } end
    end
    if type(item.encrypted_content) == "string" then
      out[#out + 1] = { type = "delta", index = e.idx, data = item.encrypted_content }
    end
    self:close_block(e.idx, out)
  elseif e.kind == "message" then
    if next(e.texts) == nil and type(item.content) == "table" then
      for ci, p in ipairs(item.content) do
        local text = type(p) == "table" and (p.text or p.refusal)
        if type(text) == "string" and text ~= "" then
          local entry = self:text_entry(ev.output_index, ci - 1, out)
          out[#out + 1] = { type = "delta", index = entry.idx, text = text }
        end
      end
    end
    for _, entry in pairs(e.texts) do self:close_block(entry.idx, out) end
  end
  return true
end

function Decoder:complete(resp, out)
  resp = type(resp) == "table" and resp or {}
  for idx = 0, self.next_index - 1 do self:close_block(idx, out) end
  out[#out + 1] = { type = "usage", usage = self.fmt.usage(resp.usage) }
  out[#out + 1] = { type = "stop", stop_reason = self.fmt.stop_of(resp, self.saw_tool, self.refused) }
  out[#out + 1] = { type = "done" }
  self.finished = true
end

function Decoder:handle(t, ev, out)
  if t == "response.created" or t == "response.in_progress" or t == "response.queued" then
    self:ensure_started(ev.response, out)
    return true
  end
  self:ensure_started(nil, out)
  if t == "response.output_item.added" then return self:item_added(ev, out)
  elseif t == "response.output_item.done" then return self:item_done(ev, out)
  elseif t == "response.content_part.added" then
    local entry = self:text_entry(ev.output_index, ev.content_index, out)
    local p = type(ev.part) == "table" and ev.part or {}
    if p.type == "refusal" then self.refused = true end
    local text = p.text or p.refusal
    if type(text) == "string" and text ~= "" then
      entry.emitted = true
      out[#out + 1] = { type = "delta", index = entry.idx, text = text }
    end
  elseif t == "response.output_text.delta" then
    self:text_delta(ev, out)
  elseif t == "response.refusal.delta" then
    self.refused = true
    self:text_delta(ev, out)
  elseif t == "response.output_text.done" or t == "response.refusal.done" then
    local entry = self:text_entry(ev.output_index, ev.content_index, out)
    local text = ev.text or ev.refusal
    if not entry.emitted and type(text) == "string" and text ~= "" then
      entry.emitted = true
      out[#out + 1] = { type = "delta", index = entry.idx, text = text }
    end
  elseif t == "response.content_part.done" then
    local item = self.items[ev.output_index]
    local entry = item and item.texts and item.texts[ev.content_index or 0]
    if entry then self:close_block(entry.idx, out) end
  elseif t == "response.function_call_arguments.delta" or t == "response.function_call_arguments.done" then
    local e = self.items[ev.output_index]
    local frag = t:sub(-5) == "delta" and ev.delta or (not (e and e.emitted) and ev.arguments or nil)
    if e and e.kind == "tool" and type(frag) == "string" and frag ~= "" and self.open[e.idx] then
      e.emitted = true
      out[#out + 1] = { type = "delta", index = e.idx, arguments = frag }
    end
  elseif t == "response.reasoning_summary_part.added" then
    local e = self.items[ev.output_index]
    if e and e.kind == "reasoning" and (ev.summary_index or 0) > 0 and self.open[e.idx] then
      out[#out + 1] = { type = "delta", index = e.idx, reasoning = "\n\n" }
    end
  elseif t == "response.reasoning_summary_text.delta" or t == "response.reasoning_text.delta" then
    local e = self.items[ev.output_index]
    if e and e.kind == "reasoning" and type(ev.delta) == "string" and ev.delta ~= "" and self.open[e.idx] then
      e.emitted = true
      out[#out + 1] = { type = "delta", index = e.idx, reasoning = ev.delta }
    end
  elseif t == "response.completed" or t == "response.incomplete" then
    self:complete(ev.response, out)
  elseif t == "response.failed" then
    local r = type(ev.response) == "table" and ev.response or {}
    local e = type(r.error) == "table" and r.error or {}
    self.finished = true
    out[#out + 1] = err_event(500, "server", tostring(e.message or "upstream response failed"))
  elseif t == "error" then
    self.finished = true
    local status = tonumber(ev.code) or (ev.code == "rate_limit_exceeded" and 429) or 500
    out[#out + 1] = err_event(status, common.kind_from_status(status), tostring(ev.message or "upstream error"))
  end
  return true
end

function Decoder:feed(event, data)
  local out = {}
  if self.finished then return out end
  local ev, err = json.decode(data)
  if type(ev) ~= "table" then
    self.finished = true
    return { err_event(502, "upstream", "upstream sent invalid JSON: " .. tostring(err)) }
  end
  local ok, herr = self:handle(ev.type or event, ev, out)
  if not ok then
    self.finished = true
    out[#out + 1] = err_event(502, "upstream", herr)
  end
  return out
end

function Decoder:finish()
  if self.finished then return {} end
  self.finished = true
  return { err_event(502, "upstream", "upstream stream ended early") }
end

-- ---------------------------------------------------------------- encoder --

local Encoder = {}
Encoder.__index = Encoder

function S.encoder(fmt, opts)
  opts = opts or {}
  return setmetatable({
    fmt = fmt, opts = opts, seq = sequencer.new(), seqno = 0, started = false,
    id = opts.id, model = opts.model, created = opts.created or common.now(),
    output = json.array(), cur = {}, usage = nil, closed = false,
  }, Encoder)
end

function Encoder:ev(out, name, payload)
  payload.type = name
  payload.sequence_number = self.seqno
  self.seqno = self.seqno + 1
  out[#out + 1] = sse.event(name, payload)
end

function Encoder:response(status, extra)
  extra = extra or {}
  return self.fmt.response_object({
    id = self.id, created_at = self.created, status = status, model = self.model,
    output = extra.output, usage = extra.usage, incomplete_details = extra.incomplete_details,
    error = extra.error,
  })
end

function Encoder:ensure_started(e, out)
  if self.started then return end
  self.started = true
  self.id = self.id or (e and e.id and e.id:sub(1, 5) == "resp_" and e.id) or common.gen_id("resp_")
  self.model = self.model or (e and e.model) or "unknown"
  self:ev(out, "response.created", { response = self:response("in_progress") })
  self:ev(out, "response.in_progress", { response = self:response("in_progress") })
end

function Encoder:block_start(e, out)
  local b = e.block
  local oi = #self.output
  local c = { oi = oi, kind = b.type, buf = {} }
  if b.type == "text" then
    c.item = { id = common.gen_id("msg_"), type = "message", status = "in_progress", role = "assistant", content = json.array() }
  elseif b.type == "tool_call" then
    c.item = { id = "fc_" .. common.gen_id(""), type = "function_call", status = "in_progress",
      call_id = b.id, name = b.name, arguments = "" }
  else
    c.item = { id = b.id or common.gen_id("rs_"), type = "reasoning", summary = json.array() }
  end
  self.cur[e.index] = c
  self.output[oi + 1] = c.item
  self:ev(out, "response.output_item.added", { output_index = oi, item = common.shallow_copy(c.item) })
  if b.type == "text" then
    self:ev(out, "response.content_part.added", { item_id = c.item.id, output_index = oi, content_index = 0,
      part = { type = "output_text", text = "", annotations = json.array() } })
  end
end

function Encoder:delta(e, out)
  local c = self.cur[e.index]
  if not c then return end
  local id, oi = c.item.id, c.oi
  if c.kind == "text" and e.text then
    c.buf[#c.buf + 1] = e.text
    self:ev(out, "response.output_text.delta", { item_id = id, output_index = oi, content_index = 0,
      delta = e.text, logprobs = json.array() })
  elseif c.kind == "tool_call" and e.arguments then
    c.buf[#c.buf + 1] = e.arguments
    self:ev(out, "response.function_call_arguments.delta", { item_id = id, output_index = oi, delta = e.arguments })
  elseif c.kind == "reasoning" and e.reasoning then
    if #c.buf == 0 then
      self:ev(out, "response.reasoning_summary_part.added", { item_id = id, output_index = oi, summary_index = 0,
        part = { type = "summary_text", text = "" } })
    end
    c.buf[#c.buf + 1] = e.reasoning
    self:ev(out, "response.reasoning_summary_text.delta", { item_id = id, output_index = oi, summary_index = 0,
      delta = e.reasoning })
  elseif c.kind == "reasoning" and e.data then
    c.item.encrypted_content = e.data
  end
end

function Encoder:block_stop(e, out)
  local c = self.cur[e.index]
  if not c then return end
  self.cur[e.index] = nil
  local id, oi, text = c.item.id, c.oi, concat(c.buf)
  if c.kind == "text" then
    local part = { type = "output_text", text = text, annotations = json.array() }
    self:ev(out, "response.output_text.done", { item_id = id, output_index = oi, content_index = 0, text = text,
      logprobs = json.array() })
    self:ev(out, "response.content_part.done", { item_id = id, output_index = oi, content_index = 0, part = part })
    c.item.content[1] = part
  elseif c.kind == "tool_call" then
    self:ev(out, "response.function_call_arguments.done", { item_id = id, output_index = oi, arguments = text })
    c.item.arguments = text
  else
    if #c.buf > 0 then
      local part = { type = "summary_text", text = text }
      self:ev(out, "response.reasoning_summary_text.done", { item_id = id, output_index = oi, summary_index = 0, text = text })
      self:ev(out, "response.reasoning_summary_part.done", { item_id = id, output_index = oi, summary_index = 0, part = part })
      c.item.summary[1] = part
    end
  end
  if c.item.status then c.item.status = "completed" end
  self:ev(out, "response.output_item.done", { output_index = oi, item = c.item })
end

function Encoder:emit(e, out)
  local t = e.type
  if t == "block_start" then self:block_start(e, out)
  elseif t == "delta" then self:delta(e, out)
  elseif t == "block_stop" then self:block_stop(e, out)
  elseif t == "usage" then self.usage = e.usage
  elseif t == "stop" then
    local status, details = self.fmt.status_of(e.stop_reason)
    local name = status == "incomplete" and "response.incomplete" or "response.completed"
    if status == "failed" then status, name = "completed", "response.completed" end
    self:ev(out, name, { response = self:response(status, { output = self.output,
      usage = self.fmt.encode_usage(self.usage), incomplete_details = details }) })
  elseif t == "done" then
    self.closed = true
  end
end

function Encoder:encode(e)
  local out = {}
  if self.closed then return out end
  if e.type == "error" then
    self.closed = true
    self:ensure_started(nil, out)
    local eo = self.fmt.error_object(e.status, e.message, e.kind)
    local code = eo.code ~= null and eo.code or eo.type
    self:ev(out, "error", { code = code, message = eo.message, param = null })
    self:ev(out, "response.failed", { response = self:response("failed", { output = self.output,
      error = { code = code, message = eo.message } }) })
    return out
  end
  if e.type == "start" then
    self:ensure_started(e, out)
    if e.usage then self.usage = e.usage end
    return out
  end
  self:ensure_started(nil, out)
  for _, ev in ipairs(self.seq:push(e, {})) do self:emit(ev, out) end
  return out
end

return S
