-- tests/lua/lib/assert.lua: small assertion library with deep equality and a
-- diff that names the first differing path, e.g.
--   messages[2].content[1].text: expected "a" got "b"
-- Metatables (JSON array marks) are ignored when comparing.

local json = require "moongate.formats.json"

local A = {}

local function render(v)
  if type(v) == "table" then
    local ok, s = pcall(json.encode, v)
    if ok then
      if #s > 300 then s = s:sub(1, 300) .. "…" end
      return s
    end
    return tostring(v)
  end
  if type(v) == "string" then return string.format("%q", #v > 300 and v:sub(1, 300) .. "…" or v) end
  if v == json.null then return "null" end
  return tostring(v)
end
A.render = render

local function key_path(path, k)
  if type(k) == "number" then return path .. "[" .. k .. "]" end
  if path == "" then return tostring(k) end
  return path .. "." .. tostring(k)
end

-- In an expected value: matches any non-nil actual value (generated ids).
A.ANY = setmetatable({}, { __tostring = function() return "<any>" end })

-- Returns nil when equal, else a message naming the first difference.
local function diff(expected, actual, path)
  if expected == actual then return nil end
  if expected == A.ANY and actual ~= nil then return nil end
  if type(expected) ~= "table" or type(actual) ~= "table" then
    return (path == "" and "value" or path) .. ": expected " .. render(expected) .. " got " .. render(actual)
  end
  local keys = {}
  for k in pairs(expected) do keys[#keys + 1] = k end
  for k in pairs(actual) do if expected[k] == nil then keys[#keys + 1] = k end end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  for _, k in ipairs(keys) do
    local d = diff(expected[k], actual[k], key_path(path, k))
    if d then return d end
  end
  return nil
end
A.diff = function(e, a) return diff(e, a, "") end

function A.eq(actual, expected, msg)
  local d = diff(expected, actual, "")
  if d then error((msg and (msg .. ": ") or "") .. d, 2) end
end

function A.ok(v, msg)
  if not v then error(msg or "expected a true value", 2) end
  return v
end

function A.is_nil(v, msg)
  if v ~= nil then error((msg or "expected nil") .. ", got " .. render(v), 2) end
end

function A.contains(haystack, needle, msg)
  if type(haystack) ~= "string" or not haystack:find(needle, 1, true) then
    error((msg and (msg .. ": ") or "") .. "expected " .. render(haystack) .. " to contain " .. render(needle), 2)
  end
end

-- Calls fn and expects it to raise an error containing `needle`.
function A.raises(fn, needle)
  local ok, err = pcall(fn)
  if ok then error("expected an error", 2) end
  if needle and not tostring(err):find(needle, 1, true) then
    error("error " .. render(tostring(err)) .. " does not contain " .. render(needle), 2)
  end
end

-- Expects a (nil, message) result whose message contains needle.
function A.refused(v, err, needle)
  if v ~= nil then error("expected a refusal, got " .. render(v), 2) end
  if needle and not tostring(err):find(needle, 1, true) then
    error("refusal " .. render(tostring(err)) .. " does not contain " .. render(needle), 2)
  end
end

return A
