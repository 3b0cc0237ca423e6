-- The JSON codec (moongate.formats.json): exact outputs of both the C codec
-- (moongate.jsonc, present under the host) and the pure-Lua one (the
-- fallback, json._lua_*), and properties that tie them together: the same
-- text for the same table, the same value or the same error for any text.
-- Under a plain `luajit` only the Lua codec is checked.

local A = require "lib.assert"
local json = require "moongate.formats.json"

local T = {}

local null = json.null
local has_c = json.codec == "c"

-- The codecs under test, each with decode (value | nil, msg), encode and
-- encode_string.
local codecs = { { name = "lua", decode = json._lua_decode, encode = json._lua_encode,
  encode_string = json._lua_encode_string } }
if has_c then
  codecs[2] = { name = "c", decode = json.decode, encode = json.encode, encode_string = json.encode_string }
end

local function each_codec(fn)
  for _, c in ipairs(codecs) do
    local ok, err = pcall(fn, c)
    if not ok then error(c.name .. " codec: " .. tostring(err), 0) end
  end
end

-- Deep equality that also requires the same array marks; -0 and 0 differ.
local function same(a, b, path)
  path = path or "value"
  if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) == "number" then
    if a == b and (a ~= 0 or 1 / a == 1 / b) then return true end
    return false, path .. ": " .. string.format("%.17g vs %.17g", a, b)
  end
  if type(a) ~= "table" then
    if a == b then return true end
    return false, path .. ": " .. A.render(a) .. " vs " .. A.render(b)
  end
  if getmetatable(a) ~= getmetatable(b) then return false, path .. ": array mark differs" end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "." .. tostring(k) .. ": only in the second" end
  end
  return true
end

local function assert_same(a, b, msg)
  local ok, why = same(a, b)
  if not ok then error((msg and msg .. ": " or "") .. why, 2) end
end

-- ------------------------------------------------------------- exact text --

T["the host provides the C codec"] = function()
  -- The host preloads cjson and moongate.jsonc; a plain luajit has neither.
  if package.preload["cjson"] then A.eq(json.codec, "c") end
end

T["string escapes"] = function()
  each_codec(function(c)
    A.eq(c.encode('"\\/\b\f\n\r\t\0\1\31\127 é😀\255'),
      '"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\\u007f é😀\255"')
    A.eq(c.encode_string("a\nb"), '"a\\nb"')
    A.eq(c.encode_string(""), '""')
    A.eq(c.encode({ ["k\n"] = "v\t" }), '{"k\\n":"v\\t"}')
    local v = assert(c.decode('"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0000\\u00e9\\u00E9"'))
    A.eq(v, 'a"b\\c/d\b\f\n\r\t\0éé')
    -- Raw bytes inside strings, valid UTF-8 or not, pass through.
    A.eq(c.decode('"\255\1é"'), "\255\1é")
  end)
end

T["numbers encode"] = function()
  local cases = {
    { 0, "0" }, { -0.0, "0" }, { 1, "1" }, { -1, "-1" }, { 0.1, "0.1" }, { -2.5, "-2.5" },
    { 1e300, "1e+300" }, { 1 / 0, "null" }, { -1 / 0, "null" }, { 0 / 0, "null" },
    { 2 ^ 53, "9007199254740992" }, { 999999999999999, "999999999999999" },
    { -999999999999999, "-999999999999999" }, { 1e15, "1e+15" }, { -1e15, "-1e+15" },
    { 1e15 + 0.5, "1000000000000000.5" }, { 1 / 3, "0.33333333333333331" },
    { 123.456, "123.456" }, { 1e-7, "1e-07" }, { 5e-324, "4.9406564584125e-324" },
    { 2 ^ 63, "9.2233720368547758e+18" }, { 1700000000, "1700000000" },
    -- Ties at the 18th digit round half away from zero (LuaJIT's
    -- string.format), not half to even (glibc's printf).
    { -1200959900634798.25, "-1200959900634798.3" }, { 2 ^ -25, "2.9802322387695313e-08" },
    { 1e15 + 0.25, "1000000000000000.3" },
  }
  each_codec(function(c)
    for _, case in ipairs(cases) do
      A.eq(c.encode(case[1]), case[2], string.format("%.17g", case[1]))
    end
  end)
end

T["numbers decode"] = function()
  local cases = {
    { "0", 0 }, { "-0", -0.0 }, { "1.5e3", 1500 }, { "1E-2", 0.01 }, { "0.1", 0.1 },
    { "123456789012345678", 123456789012345678 }, { "9007199254740993", 9007199254740992 },
    { "1e400", math.huge }, { "-1e400", -math.huge }, { "1e-400", 0 },
    { "3.141592653589793238462643383279", math.pi }, { "1" .. string.rep("0", 100), 1e100 },
    { "0." .. string.rep("0", 300) .. "1", 1e-301 }, { "-12.5e+1", -125 }, { "2.5E0", 2.5 },
    { "1e22", 1e22 }, { "1e23", 1e23 }, { "4.9406564584124654e-324", 5e-324 },
    { "1e81439232", math.huge }, { "-1.5E+123456789012", -math.huge }, { "-2e-99999999999", -0.0 },
    { "0e99999999999", 0 }, { "-0.0e+99999999999", -0.0 }, { "0.00001e-2147483649", 0 },
  }
  each_codec(function(c)
    for _, case in ipairs(cases) do
      local v, err = c.decode(case[1])
      A.ok(v, case[1] .. ": " .. tostring(err))
      assert_same(v, case[2], case[1])
    end
  end)
end

T["invalid input returns nil and a message"] = function()
  local cases = {
    { "", "expected a value at byte 1 (end of text)" },
    { "  ", "expected a value at byte 3 (end of text)" },
    { '{"a":1', "expected ',' or '}' at byte 7 (end of text)" },
    { '[1,2', "expected ',' or ']' at byte 5 (end of text)" },
    { '{"a"', "expected ':' at byte 5 (end of text)" },
    { '{"a":', "expected a value at byte 6 (end of text)" },
    { '"abc', "unterminated string at byte 1" },
    { '["a", "b', "unterminated string at byte 7" },
    { '{} x', "trailing data after the value at byte 4" },
    { '1 2', "trailing data after the value at byte 3" },
    { '[1] ]', "trailing data after the value at byte 5" },
    { '{"a":1,}', "expected a string key at byte 8" },
    { '{a:1}', "expected a string key at byte 2" },
    { '[1,]', "expected a value at byte 4" },
    { '[1 2]', "expected ',' or ']' at byte 4" },
    { '{"a" 1}', "expected ':' at byte 6" },
    { '"\\x"', "invalid escape at byte 2" },
    { '"ab\\', "invalid escape at byte 4" },
    { '"\\u12"', "invalid \\u escape at byte 2" },
    { '"\\u12g4"', "invalid \\u escape at byte 2" },
    { '"\\u-123"', "invalid \\u escape at byte 2" },
    { '"\\u 123"', "invalid \\u escape at byte 2" },
    { "tru", "expected a value at byte 1" },
    { "nul", "expected a value at byte 1" },
    { "True", "expected a value at byte 1" },
    { "NaN", "expected a value at byte 1" },
    { "Infinity", "expected a value at byte 1" },
    { "-", "invalid number at byte 1" },
    { "-a", "invalid number at byte 1" },
    { "1.", "invalid number at byte 1" },
    { "[1.e5]", "invalid number at byte 2" },
    { "1e", "invalid number at byte 1" },
    { "1e+", "invalid number at byte 1" },
    { ".5", "expected a value at byte 1" },
    { "+1", "expected a value at byte 1" },
    { "01", "trailing data after the value at byte 2" },
    { "0x10", "trailing data after the value at byte 2" },
    { "[--1]", "invalid number at byte 2" },
    { "\0", "expected a value at byte 1" },
    { "{}\0", "trailing data after the value at byte 3" },
  }
  each_codec(function(c)
    for _, case in ipairs(cases) do
      local v, err = c.decode(case[1])
      A.is_nil(v, case[1])
      A.eq(err, "json.decode: " .. case[2], case[1])
    end
    for _, bad in ipairs({ 5, true, {} }) do
      local v, err = c.decode(bad)
      A.is_nil(v)
      A.eq(err, "json.decode: expected a string")
    end
    A.is_nil((c.decode()))
  end)
end

T["whitespace around and between values"] = function()
  each_codec(function(c)
    assert_same(c.decode(' \t\r\n{ "a" : [ 1 , 2 ] , "b" : { } } \n'),
      { a = json.array({ 1, 2 }), b = {} })
  end)
end

T["empty arrays and objects round trip; every array is marked"] = function()
  each_codec(function(c)
    local text = '{"a":[],"b":{},"c":[[]],"d":[{}],"e":[1,[2,[3]],{"f":[]}]}'
    local v = assert(c.decode(text))
    A.ok(json.is_array(v.a) and json.is_array(v.c) and json.is_array(v.c[1]) and json.is_array(v.d))
    A.ok(json.is_array(v.e) and json.is_array(v.e[2]) and json.is_array(v.e[2][2]) and json.is_array(v.e[3].f))
    A.ok(not json.is_array(v) and not json.is_array(v.b) and not json.is_array(v.d[1]) and not json.is_array(v.e[3]))
    assert_same(assert(c.decode(c.encode(v))), v)
    A.eq(c.encode(v.a), "[]")
    A.eq(c.encode(v.b), "{}")
    A.eq(c.encode(v.c), "[[]]")
    A.eq(c.encode(v.d), "[{}]")
  end)
end

T["null"] = function()
  each_codec(function(c)
    A.ok(c.decode("null") == null)
    A.ok(c.decode("[null]")[1] == null)
    A.ok(c.decode('{"a":null}').a == null)
    A.eq(c.encode(null), "null")
    A.eq(c.encode(nil), "null")
    A.eq(c.encode({ null, 1 }), "[null,1]")
    A.eq(c.encode({ a = null }), '{"a":null}')
    A.eq(c.encode(json.array({ 1, nil, 3 })):sub(1, 1), "[")
    A.eq(c.encode(true), "true")
    A.eq(c.encode(false), "false")
    A.eq(c.encode({ true, false }), "[true,false]")
  end)
end

T["unicode escapes and surrogates"] = function()
  local fffd = "\239\191\189"
  local cases = {
    { '"\\u00e9"', "é" }, { '"\\u20AC"', "€" }, { '"\\u0041"', "A" }, { '"\\u0000"', "\0" },
    { '"\\ud83d\\ude00"', "😀" }, { '"\\uD83D\\uDE00"', "😀" }, { '"\\udbff\\udfff"', "\244\143\191\191" },
    { '"\\ud800"', fffd }, { '"\\udc00"', fffd }, { '"\\ud800\\ud800"', fffd .. fffd },
    { '"\\ud800\\u0041"', fffd .. "A" }, { '"\\ud800x"', fffd .. "x" }, { '"\\ud800\\n"', fffd .. "\n" },
    { '"\\udc00\\ud800\\udc00"', fffd .. "\240\144\128\128" }, { '"x\\ud83d"', "x" .. fffd },
  }
  each_codec(function(c)
    for _, case in ipairs(cases) do A.eq(c.decode(case[1]), case[2], case[1]) end
  end)
end

T["tables: arrays, sequences, objects, keys"] = function()
  each_codec(function(c)
    A.eq(c.encode({ 1, 2, 3 }), "[1,2,3]")
    A.eq(c.encode({}), "{}")
    A.eq(c.encode(json.array()), "[]")
    A.eq(c.encode(json.array({ "a" })), '["a"]')
    A.eq(c.encode({ [1.5] = "a" }), '{"1.5":"a"}')
    A.eq(c.encode({ [1e20] = 1 }), '{"1e+20":1}')
    A.eq(c.encode({ [true] = 1, [{}] = 2 }), "{}")
    A.eq(c.encode({ [2] = "b" }), '{"2":"b"}')
    assert_same(c.decode(c.encode({ 1, 2, x = 1 })), { ["1"] = 1, ["2"] = 2, x = 1 })
    assert_same(c.decode(c.encode({ [1] = 1, [3] = 3 })), { ["1"] = 1, ["3"] = 3 })
    -- A marked table is an array whatever else it holds.
    A.eq(c.encode(json.array({ 1, 2, x = 3 })), "[1,2]")
  end)
end

T["decode nesting is capped at 1000"] = function()
  each_codec(function(c)
    local ok = string.rep("[", 1000) .. string.rep("]", 1000)
    A.ok(c.decode(ok))
    local v, err = c.decode(string.rep("[", 1001) .. string.rep("]", 1001))
    A.is_nil(v)
    A.eq(err, "json.decode: nesting deeper than 1000 at byte 1001")
    v, err = c.decode(string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001))
    A.is_nil(v)
    A.eq(err, "json.decode: nesting deeper than 1000 at byte 5001")
    v, err = c.decode(string.rep("[", 200000))
    A.is_nil(v)
    A.eq(err, "json.decode: nesting deeper than 1000 at byte 1001")
  end)
end

T["encode errors"] = function()
  local deep_ok, deep_bad = {}, {}
  local t = deep_ok
  for _ = 2, 201 do t[1] = {}; t = t[1] end
  t = deep_bad
  for _ = 2, 202 do t[1] = {}; t = t[1] end
  local cyclic = {}
  cyclic.self = cyclic
  each_codec(function(c)
    A.ok(c.encode(deep_ok))
    A.raises(function() c.encode(deep_bad) end, "json.encode: nesting deeper than 200")
    A.raises(function() c.encode(cyclic) end, "json.encode: nesting deeper than 200")
    local ok, err = pcall(c.encode, { f = print })
    A.ok(not ok)
    A.eq(err, "json.encode: cannot encode a function")
    ok, err = pcall(c.encode, { coroutine.create(print) })
    A.eq(err, "json.encode: cannot encode a thread")
    ok, err = pcall(c.encode, newproxy())
    A.eq(err, "json.encode: cannot encode a userdata")
    local has_ffi, ffi = pcall(require, "ffi")
    if has_ffi then
      ok, err = pcall(c.encode, ffi.new("int", 1))
      A.eq(err, "json.encode: cannot encode a cdata")
    end
    -- After an error the codec still works.
    A.eq(c.encode({ 1 }), "[1]")
  end)
end

T["large values"] = function()
  each_codec(function(c)
    local big = {}
    for i = 1, 100000 do big[i] = i end
    local text = c.encode(big)
    A.eq(#text, #table.concat(big, ",") + 2)
    local back = assert(c.decode(text))
    A.eq(#back, 100000)
    A.eq(back[100000], 100000)
    local s = string.rep('a"\\\n\1é', 5000)
    A.eq(assert(c.decode(c.encode({ s }))[1]), s)
    local obj = {}
    for i = 1, 5000 do obj["k" .. i] = { i, "v" .. i } end
    assert_same(assert(c.decode(c.encode(obj))), (function()
      local m = {}
      for k, v in pairs(obj) do m[k] = json.array(v) end
      return m
    end)())
  end)
end

T["is_complete_object"] = function()
  A.ok(json.is_complete_object('{"a":1}'))
  A.ok(json.is_complete_object(' {"a":[]} '))
  A.ok(not json.is_complete_object('{"a":'))
  A.ok(not json.is_complete_object('{"a":1}}'))
  A.ok(not json.is_complete_object('[1]'))
  A.ok(not json.is_complete_object(nil))
end

-- ------------------------------------------------- C against Lua, random --

local rand = math.random

local function rand_string()
  local pieces = { "a", "Z", " ", '"', "\\", "/", "\n", "\t", "\0", "\1", "\127", "é", "😀", "\255", "\\u", "k" }
  local n = rand(0, 8)
  local out = {}
  for i = 1, n do out[i] = pieces[rand(#pieces)] end
  return table.concat(out)
end

local function rand_number()
  local kind = rand(8)
  if kind == 1 then return rand(-1000, 1000) end
  if kind == 2 then return (rand() - 0.5) * 10 ^ rand(-30, 30) end
  if kind == 3 then return rand(0, 2 ^ 31) * 2 ^ rand(0, 40) end
  if kind == 4 then return rand() end
  if kind == 5 then return -rand(0, 1e6) / 1000 end
  if kind == 6 then return (rand() + 1) * 2 ^ rand(-1070, 1020) end
  if kind == 7 then return 1e15 - rand(0, 3) + rand(0, 1) * 0.5 end
  return rand(0, 1) == 1 and -0.0 or 0
end

-- A value in the shape decode returns (arrays marked, string keys only),
-- so decode(encode(v)) must give v back exactly.
local function rand_value(depth)
  local kind = rand(depth > 5 and 5 or 8)
  if kind == 1 then return rand_string() end
  if kind == 2 then return rand_number() end
  if kind == 3 then return rand(0, 1) == 1 end
  if kind == 4 then return null end
  if kind == 5 then return rand_number() end
  if kind <= 6 then
    local a = json.array()
    for i = 1, rand(0, 4) do a[i] = rand_value(depth + 1) end
    return a
  end
  local o = {}
  for _ = 1, rand(0, 4) do o[rand_string()] = rand_value(depth + 1) end
  return o
end

-- Damage a JSON text: cut it, flip a byte, insert or drop one.
local junk = { "[", "]", "{", "}", ",", ":", '"', "\\", "u", "-", "0", "1", ".", "e", " ", "n", "t", "\255", "\0", "d8" }
local function mutate(s)
  for _ = 1, rand(1, 3) do
    local kind, pos = rand(4), rand(1, #s + 1)
    if kind == 1 then s = s:sub(1, pos - 1)
    elseif kind == 2 then s = s:sub(1, pos - 1) .. junk[rand(#junk)] .. s:sub(pos + 1)
    elseif kind == 3 then s = s:sub(1, pos - 1) .. junk[rand(#junk)] .. s:sub(pos)
    else s = s:sub(1, pos - 1) .. s:sub(pos + 1) end
  end
  return s
end

T["C and Lua codecs agree on random values"] = function()
  if not has_c then return end
  math.randomseed(20240611)
  for i = 1, 400 do
    local v = rand_value(0)
    local text_c, text_l = json.encode(v), json._lua_encode(v)
    A.eq(text_c, text_l, "value " .. i)
    local back_c, err_c = json.decode(text_c)
    local back_l, err_l = json._lua_decode(text_c)
    A.ok(back_c ~= nil, tostring(err_c))
    A.ok(back_l ~= nil, tostring(err_l))
    -- -0 encodes as 0; otherwise the value comes back exactly.
    local ok, why = same(back_c, back_l)
    if not ok then error("decoders differ on " .. text_c .. ": " .. why) end
    local norm, err = json._lua_decode(json._lua_encode(v))
    A.is_nil(err)
    ok, why = same(back_c, norm)
    if not ok then error("round trip of " .. text_c .. ": " .. why) end
  end
end

T["C and Lua decoders agree on damaged texts"] = function()
  if not has_c then return end
  math.randomseed(77)
  for i = 1, 3000 do
    local text = mutate(json._lua_encode(rand_value(0)))
    local v_c, err_c = json.decode(text)
    local v_l, err_l = json._lua_decode(text)
    A.eq(err_c, err_l, string.format("text %d %q", i, text))
    local ok, why = same(v_c, v_l)
    if not ok then error(string.format("text %d %q: %s", i, text, why)) end
    if v_c ~= nil then A.eq(json.encode(v_c), json._lua_encode(v_c)) end
  end
end

T["C and Lua decoders agree on extreme numbers"] = function()
  if not has_c then return end
  local texts = {
    string.rep("1", 100000), "0." .. string.rep("0", 100000) .. "1",
    string.rep("1", 100000) .. "e-99990", "0." .. string.rep("0", 100000) .. "1e100005",
    "2.2250738585072011e-308", "2.2250738585072014e-308", "1.7976931348623157e308",
    "1.7976931348623159e308", "9007199254740993.0000000001", "0.1e-22", "123456789012345678e-40",
    "18446744073709551615", "18446744073709551616e-5", "1" .. string.rep("0", 22) .. "e-22",
  }
  for _, text in ipairs(texts) do
    local v_c, v_l = json.decode(text), json._lua_decode(text)
    local ok, why = same(v_c, v_l)
    if not ok then error(text:sub(1, 40) .. ": " .. why) end
  end
end

T["C and Lua encoders agree on numbers with short binary fractions"] = function()
  if not has_c then return end
  -- m * 2^-f: the doubles whose "%.17g" can meet an exact tie.
  math.randomseed(5)
  for _ = 1, 20000 do
    local m = rand(0, 2 ^ 31) * 2 + 1
    if rand(2) == 1 then m = m * 2 ^ rand(0, 21) + 1 end
    local v = m * 2 ^ -rand(1, 60) * (rand(2) == 1 and -1 or 1)
    A.eq(json.encode(v), json._lua_encode(v), string.format("%a", v))
  end
end

T["C and Lua encode_string agree on every byte"] = function()
  if not has_c then return end
  for b = 0, 255 do
    local s = "x" .. string.char(b) .. "y"
    A.eq(json.encode_string(s), json._lua_encode_string(s), "byte " .. b)
    A.eq(json.decode(json.encode_string(s)), s, "byte " .. b)
  end
  A.eq(json.encode_string(12), '"12"')
end

return T
