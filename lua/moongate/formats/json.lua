-- moongate.formats.json: JSON encode/decode that keeps empty arrays.
--
-- Why not plain cjson: Debian's lua-cjson 2.1.0 decodes `[]` and `{}` to the
-- same empty Lua table and encodes every empty table as `{}`. In a gateway that
-- corrupts data: a tool call `{"todos":[]}` comes back as `{"todos":{}}`, a
-- schema's `"required":[]` becomes an object and the provider rejects it, and
-- Anthropic/Responses/OpenAI stream snapshots need `content: []` / `output: []`
-- / `choices: []` or the official SDKs crash when they push into them.
--
-- Arrays carry the metatable `json.array_mt` (set by `json.array(t)` and by
-- `json.decode` on every decoded array). The encoder writes a table as an array
-- when it has that metatable or is a non-empty sequence; an unmarked empty table
-- is `{}`. `json.null` is cjson.null, so tables decoded by cjson interoperate.
--
-- The codec: moongate.jsonc (C, src/lua/json_codec*.c, preloaded by the host)
-- when present; it does exactly what the Lua code below does, only faster, and
-- marks every decoded array. Without it (a plain `luajit`): the Lua encoder, and
-- for decoding cjson when the text has no empty array, else the Lua decoder.
-- json.codec says which ("c" or "lua"). json._lua_encode, _lua_decode and
-- _lua_encode_string are the pure-Lua codec, the reference the tests and the
-- fuzzer compare the C one against. Uses: cjson, moongate.jsonc.

local cjson = require "cjson"

local json = {}

local type, pairs, next, tostring, tonumber = type, pairs, next, tostring, tonumber
local setmetatable, getmetatable = setmetatable, getmetatable
local concat, fmt, byte, sub, find, char = table.concat, string.format, string.byte, string.sub, string.find, string.char
local floor, huge = math.floor, math.huge

json.null = cjson.null
json.array_mt = { __name = "json.array" }
local array_mt = json.array_mt

-- Marks t (or a new table) as a JSON array, so it encodes as [] even when empty.
function json.array(t)
  return setmetatable(t or {}, array_mt)
end

function json.is_array(t)
  return type(t) == "table" and getmetatable(t) == array_mt
end

-- ---------------------------------------------------------------- encoding --

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}
for i = 0, 31 do
  local c = char(i)
  if not escapes[c] then escapes[c] = fmt("\\u%04x", i) end
end
escapes["\127"] = "\\u007f"

local function encode_string(s)
  if find(s, '[%c"\\]') then
    s = s:gsub('[%c"\\]', escapes)
  end
  return '"' .. s .. '"'
end
json.encode_string = encode_string
json._lua_encode_string = encode_string

local function encode_number(n)
  if n ~= n or n == huge or n == -huge then return "null" end
  if floor(n) == n and n < 1e15 and n > -1e15 then return fmt("%d", n) end
  local s = fmt("%.14g", n)
  if tonumber(s) ~= n then s = fmt("%.17g", n) end
  return s
end

-- How a table should be written: "array" (with its length) or "object".
local function table_kind(t)
  if getmetatable(t) == array_mt then return "array", #t end
  local n = #t
  if n == 0 then return "object" end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  if count == n then return "array", n end
  return "object"
end

local encode_value

local function encode_table(t, buf, depth)
  if depth > 200 then error("json.encode: nesting deeper than 200", 0) end
  local kind, n = table_kind(t)
  if kind == "array" then
    buf[#buf + 1] = "["
    for i = 1, n do
      if i > 1 then buf[#buf + 1] = "," end
      encode_value(t[i], buf, depth + 1)
    end
    buf[#buf + 1] = "]"
    return
  end
  buf[#buf + 1] = "{"
  local first = true
  for k, v in pairs(t) do
    local tk = type(k)
    if tk == "string" or tk == "number" then
      if not first then buf[#buf + 1] = "," end
      first = false
      buf[#buf + 1] = encode_string(tk == "string" and k or tostring(k))
      buf[#buf + 1] = ":"
      encode_value(v, buf, depth + 1)
    end
  end
  buf[#buf + 1] = "}"
end

encode_value = function(v, buf, depth)
  local tv = type(v)
  if tv == "string" then buf[#buf + 1] = encode_string(v)
  elseif tv == "number" then buf[#buf + 1] = encode_number(v)
  elseif tv == "boolean" then buf[#buf + 1] = v and "true" or "false"
  elseif tv == "table" then encode_table(v, buf, depth)
  elseif v == nil or v == cjson.null then buf[#buf + 1] = "null"
  else error("json.encode: cannot encode a " .. tv, 0) end
end

function json.encode(v)
  local buf = {}
  encode_value(v, buf, 0)
  return concat(buf)
end
json._lua_encode = json.encode

-- ---------------------------------------------------------------- decoding --

local max_depth = 1000

local function decode_error(s, pos, what)
  error(fmt("json.decode: %s at byte %d%s", what, pos, pos > #s and " (end of text)" or ""), 0)
end

local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40) end
  if cp < 0x10000 then
    return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
    0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local simple_unescape = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }

-- The code point of the 4 hex digits at pos, or nil.
local function hex4(s, pos)
  local hex = sub(s, pos, pos + 3)
  if find(hex, "^%x%x%x%x$") then return tonumber(hex, 16) end
end

-- A \u escape (its 4 digits at pos) to UTF-8, joining a surrogate pair;
-- a lone surrogate becomes U+FFFD. Returns the text and the next position.
local function decode_u_escape(s, pos)
  local cp = hex4(s, pos)
  local nextpos = pos + 4
  if cp >= 0xD800 and cp <= 0xDBFF then
    local lo = sub(s, nextpos, nextpos + 1) == "\\u" and hex4(s, nextpos + 2)
    if lo and lo >= 0xDC00 and lo <= 0xDFFF then
      return utf8_char(0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)), nextpos + 6
    end
    cp = 0xFFFD
  elseif cp >= 0xDC00 and cp <= 0xDFFF then
    cp = 0xFFFD
  end
  return utf8_char(cp), nextpos
end

local function decode_string(s, pos)
  -- pos is just after the opening quote
  local parts, np = nil, 0
  local start = pos
  while true do
    local q = find(s, '["\\]', pos)
    if not q then decode_error(s, start - 1, "unterminated string") end
    if byte(s, q) == 34 then -- closing quote
      if not parts then return sub(s, start, q - 1), q + 1 end
      np = np + 1; parts[np] = sub(s, pos, q - 1)
      return concat(parts), q + 1
    end
    parts = parts or {}
    np = np + 1; parts[np] = sub(s, pos, q - 1)
    local e = sub(s, q + 1, q + 1)
    if e == "u" then
      if not hex4(s, q + 2) then decode_error(s, q, "invalid \\u escape") end
      np = np + 1; parts[np], pos = decode_u_escape(s, q + 2)
    else
      local r = simple_unescape[e]
      if not r then decode_error(s, q, "invalid escape") end
      np = np + 1; parts[np] = r
      pos = q + 2
    end
  end
end

-- RFC 8259 numbers only: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
local function decode_number(s, pos)
  local p = pos
  if byte(s, p) == 45 then p = p + 1 end
  local c = byte(s, p)
  if c == 48 then
    p = p + 1
  elseif c and c >= 49 and c <= 57 then
    local _, e = find(s, "^[0-9]+", p)
    p = e + 1
  else
    decode_error(s, pos, "invalid number")
  end
  if byte(s, p) == 46 then
    local _, e = find(s, "^[0-9]+", p + 1)
    if not e then decode_error(s, pos, "invalid number") end
    p = e + 1
  end
  local mant_end = p
  c = byte(s, p)
  if c == 101 or c == 69 then
    local _, e = find(s, "^[-+]?[0-9]+", p + 1)
    if not e then decode_error(s, pos, "invalid number") end
    p = e + 1
  end
  local n = tonumber(sub(s, pos, p - 1))
  if not n then
    -- LuaJIT's scanner gives up on exponents of ~8 digits and more; at
    -- that size the value is 0 or infinite (as strtod says).
    n = tonumber(sub(s, pos, mant_end - 1))
    if n ~= 0 then n = n * (byte(s, mant_end + 1) == 45 and 0 or huge) end
  end
  return n, p
end

local decode_value

local function skip_ws(s, pos)
  return find(s, "[^ \t\r\n]", pos) or #s + 1
end

local function decode_array(s, pos, depth)
  local arr, n = setmetatable({}, array_mt), 0
  pos = skip_ws(s, pos)
  if byte(s, pos) == 93 then return arr, pos + 1 end
  while true do
    local v
    v, pos = decode_value(s, pos, depth)
    n = n + 1; arr[n] = v
    pos = skip_ws(s, pos)
    local c = byte(s, pos)
    if c == 93 then return arr, pos + 1 end
    if c ~= 44 then decode_error(s, pos, "expected ',' or ']'") end
    pos = pos + 1
  end
end

local function decode_object(s, pos, depth)
  local obj = {}
  pos = skip_ws(s, pos)
  if byte(s, pos) == 125 then return obj, pos + 1 end
  while true do
    if byte(s, pos) ~= 34 then decode_error(s, pos, "expected a string key") end
    local k
    k, pos = decode_string(s, pos + 1)
    pos = skip_ws(s, pos)
    if byte(s, pos) ~= 58 then decode_error(s, pos, "expected ':'") end
    local v
    v, pos = decode_value(s, pos + 1, depth)
    obj[k] = v
    pos = skip_ws(s, pos)
    local c = byte(s, pos)
    if c == 125 then return obj, pos + 1 end
    if c ~= 44 then decode_error(s, pos, "expected ',' or '}'") end
    pos = skip_ws(s, pos + 1)
  end
end

decode_value = function(s, pos, depth)
  pos = skip_ws(s, pos)
  local c = byte(s, pos)
  if c == 123 or c == 91 then
    if depth >= max_depth then decode_error(s, pos, "nesting deeper than 1000") end
    if c == 123 then return decode_object(s, pos + 1, depth + 1) end
    return decode_array(s, pos + 1, depth + 1)
  end
  if c == 34 then return decode_string(s, pos + 1) end
  if c == 116 and sub(s, pos, pos + 3) == "true" then return true, pos + 4 end
  if c == 102 and sub(s, pos, pos + 4) == "false" then return false, pos + 5 end
  if c == 110 and sub(s, pos, pos + 3) == "null" then return cjson.null, pos + 4 end
  if c == 45 or (c and c >= 48 and c <= 57) then return decode_number(s, pos) end
  decode_error(s, pos, "expected a value")
end

local function mark_arrays(v, depth)
  -- cjson output: mark the non-empty sequences so callers can test is_array.
  if type(v) ~= "table" or depth > max_depth then return end
  if v[1] ~= nil then
    local n, count = #v, 0
    for _ in pairs(v) do count = count + 1 end
    if count == n then setmetatable(v, array_mt) end
  end
  for _, x in pairs(v) do
    if type(x) == "table" then mark_arrays(x, depth + 1) end
  end
end

local function lua_decode(s)
  local v, pos = decode_value(s, 1, 0)
  pos = skip_ws(s, pos)
  if pos <= #s then decode_error(s, pos, "trailing data after the value") end
  return v
end

-- The pure-Lua decoder alone: value, or nil and a message.
function json._lua_decode(s)
  if type(s) ~= "string" then return nil, "json.decode: expected a string" end
  local ok, v = pcall(lua_decode, s)
  if not ok then return nil, v end
  return v
end

local has_c, jsonc = pcall(require, "moongate.jsonc")
json.codec = has_c and type(jsonc) == "table" and "c" or "lua"

if json.codec == "c" then
  local codec = jsonc.new(array_mt)
  local c_decode = codec.decode

  -- Decodes JSON text. Returns value, or nil and an error message (never
  -- raises). Every array carries array_mt.
  json.decode = c_decode
  json.encode = codec.encode
  json.encode_string = codec.encode_string

  -- True when s is a complete JSON object text (used to tell finished tool
  -- arguments from fragments).
  function json.is_complete_object(s)
    if type(s) ~= "string" or not find(s, "^%s*{") or not find(s, "}%s*$") then return false end
    return type(c_decode(s)) == "table"
  end
else
  -- Decodes JSON text. Returns value, or nil and an error message (never
  -- raises). mark_all: also mark non-empty arrays on the cjson path (slower;
  -- the Lua path always marks them).
  function json.decode(s, mark_all)
    if type(s) ~= "string" then return nil, "json.decode: expected a string" end
    if not find(s, "%[%s*%]") then
      local ok, v = pcall(cjson.decode, s)
      if not ok then return nil, tostring(v) end
      if mark_all then mark_arrays(v, 0) end
      return v
    end
    return json._lua_decode(s)
  end

  function json.is_complete_object(s)
    if type(s) ~= "string" or not find(s, "^%s*{") or not find(s, "}%s*$") then return false end
    local ok, v = pcall(cjson.decode, s)
    return ok and type(v) == "table"
  end
end

return json
