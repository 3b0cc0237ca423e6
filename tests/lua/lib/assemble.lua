-- tests/lua/lib/assemble.lua: assemblers that rebuild one message from a
-- stream, checking each protocol's rules on the way (raising on violations):
--   canonical(events)        -> canonical response (validates event order)
--   summary(resp)            -> { text, reasoning, tool_calls, stop_reason, usage }
--   client[fmt](sse_events)  -> the same summary, from a client-format stream
-- Tool call arguments in summaries are normalised JSON text (norm.json).

local json = require "moongate.formats.json"
local canonical = require "moongate.formats.canonical"
local common = require "moongate.formats.common"
local norm = require "lib.norm"

local openai = require "moongate.formats.openai"
local anthropic = require "moongate.formats.anthropic"
local responses = require "moongate.formats.responses"
local gemini = require "moongate.formats.gemini"

local M = { client = {} }

local concat = table.concat

local function check(cond, msg)
  if not cond then error("protocol: " .. msg, 2) end
end

-- ----------------------------------------------------------- canonical --

function M.canonical(events)
  local state = {}
  local resp = { content = {}, usage = common.new_usage() }
  local blocks, bufs = {}, {}
  local err
  for i, e in ipairs(events) do
    local ok, verr = canonical.validate_event(e, state)
    check(ok, "event " .. i .. " (" .. tostring(e.type) .. "): " .. tostring(verr))
    if e.type == "start" then
      resp.id, resp.model = e.id, e.model
      if e.usage then resp.usage = common.copy_usage(e.usage) end
    elseif e.type == "block_start" then
      local b = common.shallow_copy(e.block)
      blocks[e.index] = b
      bufs[e.index] = { text = {}, arguments = {}, reasoning = {} }
      resp.content[#resp.content + 1] = b
    elseif e.type == "delta" then
      local b, buf = blocks[e.index], bufs[e.index]
      if e.text then buf.text[#buf.text + 1] = e.text end
      if e.arguments then buf.arguments[#buf.arguments + 1] = e.arguments end
      if e.reasoning then buf.reasoning[#buf.reasoning + 1] = e.reasoning end
      if e.signature then b.signature = (b.signature or "") .. e.signature end
      if e.data then b.data = e.data end
    elseif e.type == "block_stop" then
      local b, buf = blocks[e.index], bufs[e.index]
      if b.type == "text" then b.text = concat(buf.text)
      elseif b.type == "tool_call" then b.arguments = concat(buf.arguments)
      else
        local r = concat(buf.reasoning)
        if r ~= "" or not b.redacted then b.text = r end
      end
    elseif e.type == "usage" then
      resp.usage = common.copy_usage(e.usage)
    elseif e.type == "stop" then
      resp.stop_reason, resp.stop_sequence = e.stop_reason, e.stop_sequence
    elseif e.type == "error" then
      err = e
    end
  end
  if err then return nil, err end
  return resp
end

function M.summary(resp)
  local text, reasoning, calls = {}, {}, {}
  for _, b in ipairs(resp.content) do
    if b.type == "text" then text[#text + 1] = b.text
    elseif b.type == "reasoning" then reasoning[#reasoning + 1] = b.text or ""
    elseif b.type == "tool_call" then
      calls[#calls + 1] = { id = b.id, name = b.name, args = norm.json(b.arguments ~= "" and b.arguments or "{}") }
    end
  end
  return { text = concat(text), reasoning = concat(reasoning), tool_calls = calls,
    stop_reason = resp.stop_reason, usage = common.copy_usage(resp.usage) }
end

local function new_summary()
  return { text = {}, reasoning = {}, tool_calls = {}, usage = common.new_usage() }
end

local function finish_summary(s)
  s.text = concat(s.text)
  s.reasoning = concat(s.reasoning)
  for _, c in ipairs(s.tool_calls) do
    c.args = norm.json(#c.args > 0 and concat(c.args) or "{}")
  end
  return s
end

-- --------------------------------------------------------------- openai --

M.client.openai = function(events)
  local s = new_summary()
  local n = #events
  local last = events[n]
  local finish, got_usage_chunk = nil, false
  for i, ev in ipairs(events) do
    if ev.data == "[DONE]" then
      check(i == n, "[DONE] must be last")
    else
      local c = json.decode(ev.data)
      check(type(c) == "table", "chunk is JSON")
      if c.error then s.error = c.error; break end
      check(c.object == "chat.completion.chunk", "object is chat.completion.chunk")
      if i == 1 then
        check(c.choices[1].delta.role == "assistant", "first chunk carries the role")
      end
      if ev.data:find('"choices":[]', 1, true) then
        check(finish ~= nil, "usage chunk comes after the finish_reason chunk")
        got_usage_chunk = true
        s.usage = openai.usage(c.usage)
      else
        check(not got_usage_chunk, "nothing after the usage chunk")
        local ch = c.choices[1]
        check(ch.index == 0, "choice index 0")
        local d = ch.delta
        if type(d.content) == "string" then s.text[#s.text + 1] = d.content end
        if type(d.reasoning_content) == "string" then s.reasoning[#s.reasoning + 1] = d.reasoning_content end
        for _, tc in ipairs(type(d.tool_calls) == "table" and d.tool_calls or {}) do
          local k = tc.index + 1
          local call = s.tool_calls[k]
          if not call then
            check(k == #s.tool_calls + 1, "tool call indexes are contiguous")
            check(type(tc.id) == "string" and type(tc["function"].name) == "string", "first fragment has id and name")
            call = { id = tc.id, name = tc["function"].name, args = {} }
            s.tool_calls[k] = call
          end
          local a = tc["function"] and tc["function"].arguments
          if type(a) == "string" then call.args[#call.args + 1] = a end
        end
        if common.present(ch.finish_reason) then
          check(finish == nil, "one finish_reason")
          finish = ch.finish_reason
        end
        if type(c.usage) == "table" then s.usage = openai.usage(c.usage) end
      end
    end
  end
  if not s.error then
    check(last.data == "[DONE]", "stream ends with [DONE]")
    check(finish ~= nil, "a finish_reason chunk")
    s.stop_reason = canonical.final_stop(openai.finish_to_canon[finish], false)
    s.got_usage_chunk = got_usage_chunk
  end
  return finish_summary(s)
end

-- ------------------------------------------------------------ anthropic --

M.client.anthropic = function(events)
  local s = new_summary()
  local started, open, count, stopped, stop = false, nil, 0, false, nil
  local kinds, calls = {}, {}
  for i, ev in ipairs(events) do
    local e = json.decode(ev.data)
    check(type(e) == "table" and e.type == ev.event, "event name matches type (" .. tostring(ev.event) .. ")")
    check(not stopped, "nothing after message_stop")
    if e.type == "error" then s.error = e.error; break end
    if i == 1 then
      check(e.type == "message_start", "first event is message_start")
      check(ev.data:find('"content"%s*:%s*%[%s*%]'), "message_start content is []")
      s.usage = anthropic.usage(e.message.usage)
      s.id = e.message.id
      started = true
    elseif e.type == "content_block_start" then
      check(open == nil, "one block open at a time")
      check(e.index == count, "contiguous block index " .. count .. " got " .. tostring(e.index))
      count = count + 1
      open = e.index
      local cb = e.content_block
      kinds[e.index] = cb.type
      if cb.type == "tool_use" then
        calls[e.index] = { id = cb.id, name = cb.name, args = {} }
        s.tool_calls[#s.tool_calls + 1] = calls[e.index]
      end
    elseif e.type == "content_block_delta" then
      check(e.index == open, "delta for the open block")
      local d, kind = e.delta, kinds[e.index]
      if d.type == "text_delta" then check(kind == "text", "text_delta in text"); s.text[#s.text + 1] = d.text
      elseif d.type == "input_json_delta" then check(kind == "tool_use", "json delta in tool_use"); calls[e.index].args[#calls[e.index].args + 1] = d.partial_json
      elseif d.type == "thinking_delta" then check(kind == "thinking", "thinking delta"); s.reasoning[#s.reasoning + 1] = d.thinking
      elseif d.type == "signature_delta" then check(kind == "thinking", "signature delta")
      else check(false, "unknown delta " .. tostring(d.type)) end
    elseif e.type == "content_block_stop" then
      check(e.index == open, "stop the open block")
      open = nil
    elseif e.type == "message_delta" then
      check(open == nil, "message_delta after all blocks stop")
      stop = e.delta.stop_reason
      s.usage = anthropic.merge_usage(s.usage, e.usage)
      s.stop_sequence = common.str(e.delta.stop_sequence)
    elseif e.type == "message_stop" then
      check(stop ~= nil, "message_delta before message_stop")
      stopped = true
    elseif e.type ~= "ping" then
      check(false, "unknown event " .. tostring(e.type))
    end
  end
  if not s.error then
    check(started and stopped, "message_start ... message_stop")
    s.stop_reason = anthropic.stop_to_canon[stop]
  end
  return finish_summary(s)
end

-- ------------------------------------------------------------ responses --

M.client.responses = function(events)
  local s = new_summary()
  local items, open, final = {}, nil, nil
  local bufs = {}
  for i, ev in ipairs(events) do
    local e = json.decode(ev.data)
    check(type(e) == "table" and e.type == ev.event, "event name matches type")
    check(e.sequence_number == i - 1, "sequence_number " .. (i - 1) .. " got " .. tostring(e.sequence_number))
    check(final == nil, "nothing after the final event")
    local t = e.type
    if i == 1 then check(t == "response.created" or t == "error", "first event response.created") end
    if t == "error" then s.error = e; break
    elseif t == "response.created" or t == "response.in_progress" then
      check(ev.data:find('"output"%s*:%s*%[%s*%]'), t .. " output is []")
    elseif t == "response.output_item.added" then
      check(open == nil, "one output item at a time")
      check(e.output_index == #items, "contiguous output_index")
      items[#items + 1] = e.item
      open = e.output_index
      bufs[open] = { text = {}, args = {}, reasoning = {} }
      if e.item.type == "function_call" then
        s.tool_calls[#s.tool_calls + 1] = { id = e.item.call_id, name = e.item.name, args = bufs[open].args }
      end
    elseif t == "response.output_text.delta" then
      check(e.output_index == open, "text delta for the open item")
      bufs[open].text[#bufs[open].text + 1] = e.delta
      s.text[#s.text + 1] = e.delta
    elseif t == "response.output_text.done" then
      check(e.text == concat(bufs[open].text), "output_text.done has the full text")
    elseif t == "response.function_call_arguments.delta" then
      check(e.output_index == open, "arguments delta for the open item")
      bufs[open].args[#bufs[open].args + 1] = e.delta
    elseif t == "response.function_call_arguments.done" then
      check(e.arguments == concat(bufs[open].args), "arguments.done has the full arguments")
    elseif t == "response.reasoning_summary_text.delta" then
      check(e.output_index == open, "reasoning delta for the open item")
      bufs[open].reasoning[#bufs[open].reasoning + 1] = e.delta
      s.reasoning[#s.reasoning + 1] = e.delta
    elseif t == "response.output_item.done" then
      check(e.output_index == open, "done for the open item")
      open = nil
    elseif t == "response.completed" or t == "response.incomplete" then
      check(open == nil, "all items done before completion")
      final = e.response
      check(#final.output == #items, "final output lists every item")
    elseif t == "response.failed" then
      s.error = e.response.error
      final = e.response
    end
  end
  if not s.error then
    check(final ~= nil, "stream ends with response.completed")
    s.usage = responses.usage(final.usage)
    s.id = final.id
    s.stop_reason = responses.stop_of(final, #s.tool_calls > 0, false)
  end
  return finish_summary(s)
end

-- --------------------------------------------------------------- gemini --

M.client.gemini = function(events)
  local s = new_summary()
  local finish, ncalls = nil, 0
  for _, ev in ipairs(events) do
    local c = json.decode(ev.data)
    check(type(c) == "table", "chunk is JSON")
    if c.error then s.error = c.error; break end
    check(finish == nil, "nothing after the finishReason chunk")
    local cand = c.candidates[1]
    for _, p in ipairs(cand.content.parts) do
      if p.functionCall then
        local fc = p.functionCall
        s.tool_calls[#s.tool_calls + 1] = { id = fc.id or common.gemini_call_id(ncalls, fc.name), name = fc.name,
          args = { norm.value(fc.args or {}) } }
        ncalls = ncalls + 1
      elseif p.thought then
        s.reasoning[#s.reasoning + 1] = p.text
      elseif p.text then
        s.text[#s.text + 1] = p.text
      end
    end
    if cand.finishReason then
      finish = cand.finishReason
      s.usage = gemini.usage(c)
    end
  end
  if not s.error then
    check(finish ~= nil, "a chunk with finishReason")
    s.stop_reason = canonical.final_stop(gemini.finish_to_canon[finish], ncalls > 0)
  end
  return finish_summary(s)
end

return M
