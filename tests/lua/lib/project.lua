-- tests/lua/lib/project.lua: what each format can carry, written as
-- "canonical -> the canonical you get back after a round trip through it".
-- The round-trip property is: decode(encode(c)) == project(c). These functions
-- are the executable form of the "cannot carry" lists in the format modules.

local common = require "moongate.formats.common"
local canonical = require "moongate.formats.canonical"
local tools = require "moongate.formats.tools"
local norm = require "lib.norm"

local A = require "lib.assert"

local P = { request = {}, response = {}, stop = {}, usage_keys = {}, ANY = A.ANY }

local copy = common.deep_copy

local function text_join(blocks, sep)
  local t = {}
  for _, b in ipairs(blocks) do if b.type == "text" then t[#t + 1] = b.text end end
  return table.concat(t, sep or "")
end

local function strip(b, keys)
  local c = copy(b)
  for _, k in ipairs(keys) do c[k] = nil end
  return c
end

local function scalars(c, keep)
  local out = { model = c.model, system = copy(c.system), messages = {}, stream = c.stream }
  for _, k in ipairs(keep) do out[k] = copy(c[k]) end
  return out
end

local function drop_empty_assistants(msgs)
  local out = {}
  for _, m in ipairs(msgs) do
    if not (m.role == "assistant" and #m.content == 0) then out[#out + 1] = m end
  end
  return out
end

-- ----------------------------------------------------------------- openai --

P.request.openai = function(c)
  local out = scalars(c, { "max_tokens", "temperature", "top_p", "seed", "user", "stop", "response_format" })
  if c.tools then
    out.tools, out.tool_choice, out.parallel_tool_calls = {}, copy(c.tool_choice), c.parallel_tool_calls
    for i, t in ipairs(c.tools) do out.tools[i] = { name = t.name, description = t.description, parameters = tools.clean_schema(t.parameters) } end
  end
  if c.stream then out.include_usage = true end
  if c.reasoning then
    local effort = c.reasoning.effort or common.budget_to_effort(c.reasoning.budget_tokens)
    if effort ~= "none" then out.reasoning = { effort = effort } end
  end
  if out.response_format and out.response_format.type == "json_schema" then
    out.response_format.name = out.response_format.name or "response"
  end
  for _, m in ipairs(c.messages) do
    if m.role == "user" then
      out.messages[#out.messages + 1] = copy(m)
    elseif m.role == "assistant" then
      local content = {}
      local text = text_join(m.content)
      if text ~= "" then content[1] = { type = "text", text = text } end
      for _, b in ipairs(m.content) do
        if b.type == "tool_call" then content[#content + 1] = copy(b) end
      end
      out.messages[#out.messages + 1] = { role = "assistant", content = content }
    else
      local results, images = {}, {}
      for _, r in ipairs(m.content) do
        local text = text_join(r.content, "\n")
        results[#results + 1] = { type = "tool_result", tool_call_id = r.tool_call_id,
          content = text ~= "" and { { type = "text", text = text } } or {} }
        for _, b in ipairs(r.content) do if b.type == "image" then images[#images + 1] = copy(b) end end
      end
      out.messages[#out.messages + 1] = { role = "tool", content = results }
      if #images > 0 then out.messages[#out.messages + 1] = { role = "user", content = images } end
    end
  end
  return out
end

-- -------------------------------------------------------------- anthropic --

local function anthropic_thinking(c, out)
  local r = c.reasoning
  if not r or r.effort == "none" then return end
  local tc = c.tool_choice
  if tc == "required" or type(tc) == "table" then return end
  local msgs = c.messages
  local i = #msgs
  while i > 0 and msgs[i].role == "tool" do i = i - 1 end
  if i < #msgs and i > 0 and msgs[i].role == "assistant" then
    local signed = false
    for _, b in ipairs(msgs[i].content) do
      if b.type == "reasoning" and (b.signature or b.redacted) then signed = true end
    end
    if not signed then return end
  end
  local budget = r.budget_tokens or common.effort_to_budget(r.effort)
  local max = c.max_tokens or 4096
  if max <= budget then budget = math.floor(max / 2) end
  if budget < 1024 then return end
  out.reasoning = { budget_tokens = budget }
  if out.temperature ~= 1 then out.temperature = nil end
  out.top_k = nil
  if out.top_p and out.top_p < 0.95 then out.top_p = nil end
end

P.request.anthropic = function(c)
  local out = scalars(c, { "temperature", "top_p", "top_k", "user", "stop" })
  out.max_tokens = c.max_tokens or 4096
  if c.tools then
    out.tools, out.tool_choice = {}, copy(c.tool_choice)
    for i, t in ipairs(c.tools) do out.tools[i] = { name = t.name, description = t.description, parameters = tools.object_schema(t.parameters) } end
    if c.parallel_tool_calls == false and c.tool_choice ~= "none" then
      out.parallel_tool_calls = false
      if out.tool_choice == nil then out.tool_choice = "auto" end
    end
  end
  anthropic_thinking(c, out)
  local msgs = {}
  for _, m in ipairs(c.messages) do
    if m.role == "assistant" then
      local content = {}
      for _, b in ipairs(m.content) do
        if b.type == "reasoning" then
          if b.redacted then content[#content + 1] = { type = "reasoning", redacted = true, data = b.data }
          elseif b.signature then content[#content + 1] = { type = "reasoning", text = b.text or "", signature = b.signature } end
        elseif b.type == "text" then content[#content + 1] = strip(b, { "signature" })
        else content[#content + 1] = strip(b, { "signature" }) end
      end
      msgs[#msgs + 1] = { role = "assistant", content = content }
    elseif m.role == "tool" then
      local results = {}
      for i, r in ipairs(m.content) do results[i] = strip(r, { "name" }) end
      msgs[#msgs + 1] = { role = "tool", content = results }
    else
      msgs[#msgs + 1] = copy(m)
    end
  end
  out.messages = drop_empty_assistants(msgs)
  return out
end

-- -------------------------------------------------------------- responses --

P.request.responses = function(c)
  local out = scalars(c, { "max_tokens", "temperature", "top_p", "user", "response_format" })
  out.store = false
  if c.tools then
    out.tools, out.tool_choice, out.parallel_tool_calls = {}, copy(c.tool_choice), c.parallel_tool_calls
    for i, t in ipairs(c.tools) do out.tools[i] = { name = t.name, description = t.description, parameters = tools.object_schema(t.parameters) } end
  end
  if c.reasoning then
    local effort = c.reasoning.effort or common.budget_to_effort(c.reasoning.budget_tokens)
    if effort ~= "none" then out.reasoning = { effort = effort, summary = true } end
  end
  if out.response_format and out.response_format.type == "json_schema" then
    out.response_format.name = out.response_format.name or "response"
  end
  local msgs = {}
  for _, m in ipairs(c.messages) do
    if m.role == "assistant" then
      local content = {}
      for _, b in ipairs(m.content) do
        if b.type == "text" then content[#content + 1] = strip(b, { "signature" })
        elseif b.type == "tool_call" then content[#content + 1] = strip(b, { "signature" })
        elseif b.type == "reasoning" and (b.data or (b.id and b.id:sub(1, 3) == "rs_")) then
          content[#content + 1] = { type = "reasoning", text = (b.text ~= "" and b.text) or nil, data = b.data,
            id = not b.data and b.id or nil }
        end
      end
      msgs[#msgs + 1] = { role = "assistant", content = content }
    elseif m.role == "tool" then
      local results = {}
      for i, r in ipairs(m.content) do results[i] = strip(r, { "name", "is_error" }) end
      msgs[#msgs + 1] = { role = "tool", content = results }
    else
      msgs[#msgs + 1] = copy(m)
    end
  end
  out.messages = drop_empty_assistants(msgs)
  return out
end

-- ----------------------------------------------------------------- gemini --

local function gemini_image(b)
  local c = copy(b)
  if c.source.kind == "url" and not c.source.media_type then c.source.media_type = common.guess_mime(c.source.url) end
  return c
end

P.request.gemini = function(c)
  local out = scalars(c, { "max_tokens", "temperature", "top_p", "top_k", "seed", "stop" })
  if c.tools then
    out.tools, out.tool_choice = {}, copy(c.tool_choice)
    for i, t in ipairs(c.tools) do out.tools[i] = { name = t.name, description = t.description, parameters = tools.gemini_schema(t.parameters) } end
  end
  local r = c.reasoning
  if r then
    if r.effort == "none" then out.reasoning = { effort = "none" }
    else out.reasoning = { budget_tokens = r.budget_tokens or common.effort_to_budget(r.effort), summary = true } end
  end
  local rf = c.response_format
  if rf then
    local schema = rf.schema and tools.gemini_schema(rf.schema)
    out.response_format = { type = schema and "json_schema" or "json_object", schema = schema }
  end
  local msgs, ids = {}, {}
  local function push(role, content)
    local last = msgs[#msgs]
    if role == "user" and last and last.role == "user" then
      for _, b in ipairs(content) do last.content[#last.content + 1] = b end
    elseif #content > 0 then
      msgs[#msgs + 1] = { role = role, content = content }
    end
  end
  for _, m in ipairs(c.messages) do
    if m.role == "assistant" then
      local content, k = {}, 0
      for _, b in ipairs(m.content) do
        if b.type == "reasoning" then
          if b.signature and not b.redacted then content[#content + 1] = { type = "reasoning", text = b.text or "", signature = b.signature } end
        elseif b.type == "tool_call" then
          local id = common.gemini_call_id(k, b.name)
          k = k + 1
          ids[b.id] = { id = id, name = b.name }
          local tc = copy(b)
          tc.id = id
          content[#content + 1] = tc
        else
          content[#content + 1] = copy(b)
        end
      end
      push("assistant", content)
    elseif m.role == "tool" then
      local results, images = {}, {}
      for _, res in ipairs(m.content) do
        local text = text_join(res.content, "\n")
        local call = ids[res.tool_call_id]
        results[#results + 1] = { type = "tool_result", tool_call_id = call.id, name = call.name,
          content = text ~= "" and { { type = "text", text = text } } or {}, is_error = res.is_error }
        for _, b in ipairs(res.content) do if b.type == "image" then images[#images + 1] = gemini_image(b) end end
      end
      msgs[#msgs + 1] = { role = "tool", content = results }
      if #images > 0 then msgs[#msgs + 1] = { role = "user", content = images } end
    else
      local content = {}
      for i, b in ipairs(m.content) do content[i] = b.type == "image" and gemini_image(b) or copy(b) end
      push("user", content)
    end
  end
  out.messages = msgs
  return out
end

-- -------------------------------------------------------------- responses --
-- (canonical response -> what comes back after encode_response/decode_response)

local function final(resp, content, stop_map)
  local saw_tool = false
  for _, b in ipairs(content) do if b.type == "tool_call" then saw_tool = true end end
  local stop = stop_map[resp.stop_reason] or resp.stop_reason
  return { id = resp.id, model = resp.model, content = content, stop_reason = canonical.final_stop(stop, saw_tool) }
end

P.stop.openai = { stop_sequence = "end_turn", error = "end_turn" }
P.stop.anthropic = { error = "end_turn" }
P.stop.responses = { stop_sequence = "end_turn", error = "end_turn" }
P.stop.gemini = { stop_sequence = "end_turn", error = "end_turn" }

P.usage_keys.openai = { "input", "output", "cached_read", "reasoning" }
P.usage_keys.anthropic = { "input", "output", "cached_read", "cache_write" }
P.usage_keys.responses = { "input", "output", "cached_read", "reasoning" }
P.usage_keys.gemini = { "input", "output", "cached_read", "reasoning", "tool_use" }

function P.usage(fmt, u)
  local out = common.new_usage()
  for _, k in ipairs(P.usage_keys[fmt]) do out[k] = u[k] end
  return out
end

P.response.openai = function(resp)
  local content = {}
  local reasoning = {}
  for _, b in ipairs(resp.content) do if b.type == "reasoning" and b.text and b.text ~= "" then reasoning[#reasoning + 1] = b.text end end
  if #reasoning > 0 then content[1] = { type = "reasoning", text = table.concat(reasoning) } end
  local text = text_join(resp.content)
  if text ~= "" then content[#content + 1] = { type = "text", text = text } end
  for _, b in ipairs(resp.content) do if b.type == "tool_call" then content[#content + 1] = copy(b) end end
  local out = final(resp, content, P.stop.openai)
  out.usage = P.usage("openai", resp.usage)
  return out
end

P.response.anthropic = function(resp)
  local content = {}
  for _, b in ipairs(resp.content) do
    if b.type == "reasoning" then
      if b.redacted then content[#content + 1] = { type = "reasoning", redacted = true, data = b.data }
      else content[#content + 1] = { type = "reasoning", text = b.text or "", signature = b.signature } end
    else
      content[#content + 1] = strip(b, { "signature" })
    end
  end
  local out = final(resp, content, P.stop.anthropic)
  out.stop_sequence = out.stop_reason == "stop_sequence" and resp.stop_sequence or nil
  out.usage = P.usage("anthropic", resp.usage)
  return out
end

P.response.responses = function(resp)
  local content = {}
  for _, b in ipairs(resp.content) do
    if b.type == "reasoning" then
      content[#content + 1] = { type = "reasoning", text = (b.text ~= "" and b.text) or nil, data = b.data,
        id = b.id or P.ANY }
    else
      content[#content + 1] = strip(b, { "signature" })
    end
  end
  local out = final(resp, content, { stop_sequence = "end_turn" })
  out.usage = P.usage("responses", resp.usage)
  return out
end

P.response.gemini = function(resp)
  local content, k = {}, 0
  for _, b in ipairs(resp.content) do
    if b.type == "reasoning" then
      if not b.redacted then content[#content + 1] = { type = "reasoning", text = b.text or "", signature = b.signature } end
    elseif b.type == "tool_call" then
      local c = copy(b)
      if c.id:find("^call_%d+_") then c.id = common.gemini_call_id(k, c.name) end
      k = k + 1
      content[#content + 1] = c
    else
      content[#content + 1] = copy(b)
    end
  end
  local out = final(resp, content, P.stop.gemini)
  out.usage = P.usage("gemini", resp.usage)
  return out
end

-- Summary as seen through a client format.
function P.summary(fmt, s)
  local out = copy(s)
  local stop = P.stop[fmt][s.stop_reason] or s.stop_reason
  out.stop_reason = canonical.final_stop(stop, #s.tool_calls > 0)
  out.usage = P.usage(fmt, s.usage)
  for k, c in ipairs(out.tool_calls) do
    if fmt == "gemini" and c.id:find("^call_%d+_") then c.id = common.gemini_call_id(k - 1, c.name) end
  end
  return out
end

P.norm = norm.canon

return P
