-- tests/lua/lib/norm.lua: canonical JSON text with sorted keys, so two JSON
-- texts can be compared for meaning while [] and {} stay different.

local json = require "moongate.formats.json"

local N = {}

local function enc(v, buf)
  local t = type(v)
  if t == "table" then
    local is_arr = json.is_array(v) or (v[1] ~= nil)
    if is_arr then
      buf[#buf + 1] = "["
      for i, x in ipairs(v) do
        if i > 1 then buf[#buf + 1] = "," end
        enc(x, buf)
      end
      buf[#buf + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      buf[#buf + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then buf[#buf + 1] = "," end
        buf[#buf + 1] = json.encode_string(k) .. ":"
        enc(v[k], buf)
      end
      buf[#buf + 1] = "}"
    end
  else
    buf[#buf + 1] = json.encode(v)
  end
end

-- JSON text -> canonical text ("" and invalid text are returned as given).
function N.json(s)
  if type(s) ~= "string" then return s end
  local v = json.decode(s)
  if v == nil then return s end
  local buf = {}
  enc(v, buf)
  return table.concat(buf)
end

function N.value(v)
  local buf = {}
  enc(v, buf)
  return table.concat(buf)
end

-- Deep copy with every tool_call's arguments normalised.
function N.canon(v)
  if type(v) ~= "table" or v == require("lib.assert").ANY then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = N.canon(x) end
  if out.type == "tool_call" and type(out.arguments) == "string" then
    out.arguments = out.arguments:find("^%s*$") and "{}" or N.json(out.arguments)
  end
  return out
end

return N
