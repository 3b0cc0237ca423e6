-- tests/lua/lib/gen.lua: seeded random canonical requests, responses and
-- stream fragmentations for property tests. Deterministic for a given seed
-- (Park–Miller PRNG, independent of math.random).

local json = require "moongate.formats.json"
local common = require "moongate.formats.common"

local G = {}
G.__index = G

function G.new(seed)
  return setmetatable({ s = (seed % 2147483646) + 1 }, G)
end

function G:int(lo, hi)
  self.s = self.s * 16807 % 2147483647
  return lo + self.s % (hi - lo + 1)
end

function G:chance(p)
  return self:int(1, 1000) <= p * 1000
end

function G:pick(list)
  return list[self:int(1, #list)]
end

local fragments = {
  "hello", " world", "wörld", "日本語", "😀", "\"quoted\"", "back\\slash", "line\nbreak", "\ttab",
  " ", "a", "Ω≈ç√", "<tag/>", "{json}", "[]", "ñ", "Zażółć", "🎉🎉", "ok.", "$ref", "\u{2028}", "🏳️‍🌈",
}

function G:text()
  local parts = {}
  for i = 1, self:int(1, 8) do parts[i] = self:pick(fragments) end
  return table.concat(parts)
end

local id_chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

function G:ident(prefix, n)
  local out = {}
  for i = 1, n or 12 do
    local k = self:int(1, #id_chars)
    out[i] = id_chars:sub(k, k)
  end
  return (prefix or "") .. table.concat(out)
end

function G:json_value(depth)
  local k = self:int(1, depth > 2 and 4 or 7)
  if k == 1 then return self:text() end
  if k == 2 then return self:int(-1000, 100000) end
  if k == 3 then return self:chance(0.5) end
  if k == 4 then return json.null end
  if k == 5 then
    local arr = json.array()
    for i = 1, self:int(0, 3) do arr[i] = self:json_value(depth + 1) end
    return arr
  end
  local obj = {}
  for _ = 1, self:int(0, 3) do obj[self:ident("k", 4)] = self:json_value(depth + 1) end
  return obj
end

function G:args()
  local obj = {}
  for _ = 1, self:int(0, 4) do obj[self:ident("p", 5)] = self:json_value(1) end
  return json.encode(obj)
end

local b64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"

function G:image()
  if self:chance(0.5) then
    return { type = "image", source = { kind = "base64", media_type = self:pick({ "image/png", "image/jpeg" }),
      data = b64 .. self:ident("", 8) } }
  end
  return { type = "image", source = { kind = "url", url = "https://example.com/img/" .. self:ident("", 6) ..
    self:pick({ ".png", ".jpg", "" }) } }
end

function G:tool_names(n)
  local names = {}
  for i = 1, n do names[i] = self:pick({ "get_weather", "search", "run_code", "read_file" }) .. "_" .. i end
  return names
end

function G:reasoning()
  local k = self:int(1, 4)
  if k == 1 then return { type = "reasoning", text = self:text(), signature = self:ident("sig", 20) } end
  if k == 2 then return { type = "reasoning", redacted = true, data = self:ident("red", 24) } end
  if k == 3 then return { type = "reasoning", text = self:text(), data = self:ident("enc", 24), id = self:ident("rs_", 10) } end
  return { type = "reasoning", text = self:text() }
end

-- Assistant content: [reasoning] [text...] [tool_call...]
function G:assistant(names)
  local content = {}
  if self:chance(0.4) then content[#content + 1] = self:reasoning() end
  for _ = 1, self:int(0, 2) do
    content[#content + 1] = { type = "text", text = self:text(), signature = self:chance(0.2) and self:ident("ts", 10) or nil }
  end
  if #names > 0 and self:chance(0.6) then
    for _ = 1, self:int(1, 3) do
      content[#content + 1] = { type = "tool_call", id = self:ident("call_", 16), name = self:pick(names),
        arguments = self:args(), signature = self:chance(0.2) and self:ident("fs", 10) or nil }
    end
  end
  if #content == 0 then content[1] = { type = "text", text = self:text() } end
  return content
end

function G:user()
  local content = {}
  for _ = 1, self:int(1, 3) do
    content[#content + 1] = self:chance(0.75) and { type = "text", text = self:text() } or self:image()
  end
  return content
end

function G:results(calls)
  local out = {}
  for _, c in ipairs(calls) do
    local content
    local k = self:int(1, 4)
    if k == 1 then content = {}
    elseif k == 2 then content = { { type = "text", text = self:text() } }
    elseif k == 3 then content = { { type = "text", text = self:text() }, { type = "text", text = self:text() } }
    else content = { { type = "text", text = self:text() }, self:image() } end
    out[#out + 1] = { type = "tool_result", tool_call_id = c.id, content = content,
      is_error = self:chance(0.2) or nil }
  end
  return out
end

function G:schema()
  local props = {}
  for _ = 1, self:int(0, 3) do
    props[self:ident("f", 4)] = self:pick({
      { type = "string", description = "a string" },
      { type = "integer", minimum = 0 },
      { type = "array", items = { type = "string" } },
      { type = "string", enum = json.array({ "a", "b" }) },
    })
  end
  if next(props) == nil then return { type = "object", properties = {} } end
  return { type = "object", properties = props }
end

function G:request()
  local r = { model = self:pick({ "model-a", "model-b" }), system = {}, messages = {}, stream = self:chance(0.5) }
  for _ = 1, self:int(0, 2) do r.system[#r.system + 1] = { type = "text", text = self:text() } end
  local names = {}
  if self:chance(0.6) then
    names = self:tool_names(self:int(1, 3))
    r.tools = {}
    for i, n in ipairs(names) do
      r.tools[i] = { name = n, description = self:chance(0.7) and self:text() or nil, parameters = self:schema() }
    end
    r.tool_choice = self:pick({ "auto", "none", "required", { name = names[1] }, nil })
    if self:chance(0.3) then r.parallel_tool_calls = self:chance(0.5) end
  end
  for _ = 1, self:int(1, 4) do
    r.messages[#r.messages + 1] = { role = "user", content = self:user() }
    local content = self:assistant(names)
    r.messages[#r.messages + 1] = { role = "assistant", content = content }
    local calls = {}
    for _, b in ipairs(content) do if b.type == "tool_call" then calls[#calls + 1] = b end end
    if #calls > 0 then r.messages[#r.messages + 1] = { role = "tool", content = self:results(calls) } end
  end
  if self:chance(0.5) then r.messages[#r.messages + 1] = { role = "user", content = self:user() } end
  if self:chance(0.5) then r.max_tokens = self:int(20000, 60000) end
  if self:chance(0.4) then r.temperature = self:int(0, 10) / 10 end
  if self:chance(0.3) then r.top_p = self:int(90, 100) / 100 end
  if self:chance(0.2) then r.top_k = self:int(1, 50) end
  if self:chance(0.2) then r.stop = { self:text() } end
  if self:chance(0.3) then r.user = self:ident("user-", 6) end
  if self:chance(0.2) then r.seed = self:int(1, 1000) end
  if self:chance(0.3) then
    r.reasoning = self:pick({ { effort = "low" }, { effort = "high" }, { budget_tokens = 3000 }, { effort = "none" } })
  end
  if self:chance(0.2) then
    r.response_format = self:pick({ { type = "json_object" }, { type = "json_schema", name = "out", schema = self:schema() } })
  end
  return r
end

function G:usage()
  local u = common.new_usage()
  u.cached_read = self:int(0, 50)
  u.cache_write = self:int(0, 50)
  u.tool_use = self:chance(0.2) and self:int(1, 20) or 0
  u.input = u.cached_read + u.cache_write + u.tool_use + self:int(1, 5000)
  u.reasoning = self:chance(0.5) and self:int(1, 300) or 0
  u.output = u.reasoning + self:int(1, 2000)
  return u
end

function G:response()
  local names = self:tool_names(3)
  local content = {}
  if self:chance(0.4) then content[#content + 1] = self:reasoning() end
  for _ = 1, self:int(0, 2) do content[#content + 1] = { type = "text", text = self:text() } end
  local calls = 0
  if self:chance(0.5) then
    for _ = 1, self:int(1, 3) do
      calls = calls + 1
      content[#content + 1] = { type = "tool_call", id = self:ident("toolu_", 16), name = self:pick(names),
        arguments = self:args() }
    end
  end
  if #content == 0 then content[1] = { type = "text", text = self:text() } end
  local stop = self:pick({ "end_turn", "max_tokens", "stop_sequence", "content_filter", "end_turn" })
  if calls > 0 and stop ~= "max_tokens" then stop = "tool_use" end
  return { id = self:ident("id_", 10), model = "model-x", content = content, stop_reason = stop,
    stop_sequence = stop == "stop_sequence" and "STOP" or nil, usage = self:usage() }
end

-- Splits s at random character (not byte) boundaries into 1..n pieces.
function G:split(s, n)
  if s == "" then return { "" } end
  local cuts = {}
  local pos = 1
  local pieces = {}
  while pos <= #s do
    local len = self:int(1, math.max(1, math.floor(#s / (n or 3)) + 1))
    local stop = pos + len
    while stop <= #s and s:byte(stop) >= 0x80 and s:byte(stop) < 0xC0 do stop = stop + 1 end
    pieces[#pieces + 1] = s:sub(pos, stop - 1)
    pos = stop
  end
  cuts = pieces
  return cuts
end

-- Canonical events for a response, text/arguments/reasoning split randomly.
function G:events(resp)
  local ev = { { type = "start", id = resp.id, model = resp.model } }
  for i, b in ipairs(resp.content) do
    local idx = i - 1
    local block = { type = b.type, id = b.id, name = b.name }
    if b.type == "reasoning" then block.redacted, block.data = b.redacted, b.redacted and b.data or nil end
    ev[#ev + 1] = { type = "block_start", index = idx, block = block }
    local field = b.type == "text" and "text" or b.type == "tool_call" and "arguments" or "reasoning"
    local value = b.type == "tool_call" and b.arguments or b.text
    if value and value ~= "" then
      for _, piece in ipairs(self:split(value, 4)) do ev[#ev + 1] = { type = "delta", index = idx, [field] = piece } end
    end
    if b.signature then ev[#ev + 1] = { type = "delta", index = idx, signature = b.signature } end
    if b.data and not b.redacted then ev[#ev + 1] = { type = "delta", index = idx, data = b.data } end
    ev[#ev + 1] = { type = "block_stop", index = idx }
  end
  ev[#ev + 1] = { type = "usage", usage = resp.usage }
  ev[#ev + 1] = { type = "stop", stop_reason = resp.stop_reason, stop_sequence = resp.stop_sequence }
  ev[#ev + 1] = { type = "done" }
  return ev
end

return G
