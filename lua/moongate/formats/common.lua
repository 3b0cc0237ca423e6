-- moongate.formats.common: small helpers shared by the format modules —
-- ids, data URLs, tool-argument JSON, reasoning effort <-> budget, error kinds,
-- usage arithmetic. No format knowledge beyond what two or more formats share.
-- Uses: moongate.formats.json.

local json = require "moongate.formats.json"

local M = {}

local type, tostring, tonumber, pairs, ipairs = type, tostring, tonumber, pairs, ipairs
local concat, fmt, floor = table.concat, string.format, math.floor
local bit = require "bit"

M.json = json
M.null = json.null
M.array = json.array

-- A value that JSON gave us is "absent" when nil or JSON null.
function M.present(v)
  return v ~= nil and v ~= json.null
end

function M.str(v)
  if type(v) == "string" then return v end
  return nil
end

-- true/false as given, anything else nil (`x and x or nil` would lose false).
function M.bool(v)
  if v == true or v == false then return v end
  return nil
end

function M.num(v)
  if type(v) == "number" then return v end
  return nil
end

-- Lists that came from JSON: a table (possibly empty/unmarked) or nothing.
function M.list(v)
  if type(v) == "table" then return v end
  return nil
end

-- ---------------------------------------------------------------------- ids --

local id_alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
local id_counter = 0

-- A fresh id like "msg_01Xy...": random enough to be unique within a process.
function M.gen_id(prefix)
  id_counter = id_counter + 1
  local out = {}
  for i = 1, 20 do
    local r = math.random(1, 62)
    out[i] = id_alphabet:sub(r, r)
  end
  return (prefix or "id_") .. concat(out) .. fmt("%04x", id_counter % 65536)
end

-- FNV-1a 32-bit as 8 hex digits: a stable short hash for ids.
function M.fnv_hex(s)
  local h = 0x811c9dc5
  for i = 1, #s do
    h = bit.bxor(h, s:byte(i))
    -- h * 0x01000193 mod 2^32, split so the product stays exact in a double
    h = bit.tobit(bit.lshift(h, 24) + h * 0x193)
  end
  return bit.tohex(h)
end

-- Anthropic tool ids must match ^[a-zA-Z0-9_-]+$; the same mapping is applied
-- to tool_use ids and tool_result ids so pairs stay matched.
function M.anthropic_id(id)
  if type(id) ~= "string" or id == "" then return "toolu_missing" end
  if id:find("[^%w_%-]") then
    return (id:gsub("[^%w_%-]", "_")) .. "_" .. M.fnv_hex(id)
  end
  return id
end

-- OpenAI rejects tool call ids longer than 40 characters.
function M.short_id(id, max)
  max = max or 40
  if type(id) ~= "string" then return id end
  if #id <= max then return id end
  return id:sub(1, max - 9) .. "_" .. M.fnv_hex(id)
end

-- Gemini has no call ids (in most responses): ids are derived from position
-- and name, so a request and the response it produced agree.
function M.gemini_call_id(index, name)
  local safe = tostring(name or "fn"):gsub("[^%w_%-]", "_")
  return "call_" .. index .. "_" .. safe
end

-- ------------------------------------------------------------------ images --

-- "data:image/png;base64,AAAA" -> "image/png", "AAAA"
function M.parse_data_url(url)
  if type(url) ~= "string" or url:sub(1, 5) ~= "data:" then return nil end
  local comma = url:find(",", 6, true)
  if not comma then return nil end
  local meta = url:sub(6, comma - 1)
  if not meta:find(";base64$") then return nil end
  local media_type = meta:gsub(";base64$", ""):match("^([^;]*)")
  if media_type == "" then media_type = "application/octet-stream" end
  return media_type, url:sub(comma + 1)
end

function M.data_url(media_type, data)
  return "data:" .. (media_type or "application/octet-stream") .. ";base64," .. (data or "")
end

local mime_by_ext = {
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif",
  webp = "image/webp", heic = "image/heic", heif = "image/heif", pdf = "application/pdf",
}

function M.guess_mime(url)
  local ext = type(url) == "string" and url:match("%.(%w+)[?#]?[^/]*$")
  return ext and mime_by_ext[ext:lower()] or "image/jpeg"
end

-- Canonical image block from a URL that may be a data: URL.
function M.image_from_url(url)
  local media_type, data = M.parse_data_url(url)
  if media_type then
    return { type = "image", source = { kind = "base64", media_type = media_type, data = data } }
  end
  return { type = "image", source = { kind = "url", url = url } }
end

function M.image_to_url(block)
  local src = block.source
  if src.kind == "base64" then return M.data_url(src.media_type, src.data) end
  return src.url
end

-- ---------------------------------------------------------- tool arguments --

-- Canonical arguments are JSON text; Anthropic/Gemini want an object.
function M.args_to_object(args)
  if args == nil or args == json.null then return {} end
  if type(args) == "table" then return args end
  if type(args) ~= "string" then return nil, "tool arguments must be a JSON string" end
  if args:find("^%s*$") then return {} end
  local v, err = json.decode(args)
  if v == nil then return nil, "tool arguments are not valid JSON: " .. tostring(err) end
  if type(v) ~= "table" or json.is_array(v) then
    return nil, "tool arguments must be a JSON object"
  end
  return v
end

function M.object_to_args(obj)
  if obj == nil or obj == json.null then return "{}" end
  if type(obj) == "string" then return obj end
  if type(obj) == "table" and next(obj) == nil then return "{}" end
  return json.encode(obj)
end

-- --------------------------------------------------------------- reasoning --

local effort_budget = { minimal = 1024, low = 1024, medium = 4096, high = 16384 }

function M.effort_to_budget(effort)
  return effort_budget[effort] or 4096
end

function M.budget_to_effort(budget)
  if type(budget) ~= "number" then return "medium" end
  if budget <= 0 then return "none" end
  if budget <= 2048 then return "low" end
  if budget <= 8192 then return "medium" end
  return "high"
end

-- ---------------------------------------------------------------- errors --

local status_by_kind = {
  invalid_request = 400, authentication = 401, permission = 403, not_found = 404,
  request_too_large = 413, rate_limit = 429, server = 500, upstream = 502,
  overloaded = 503, timeout = 504,
}
M.status_by_kind = status_by_kind

function M.kind_from_status(status)
  status = tonumber(status) or 500
  if status == 400 or status == 422 then return "invalid_request" end
  if status == 401 then return "authentication" end
  if status == 403 then return "permission" end
  if status == 404 then return "not_found" end
  if status == 413 then return "request_too_large" end
  if status == 429 then return "rate_limit" end
  if status == 502 then return "upstream" end
  if status == 503 or status == 529 then return "overloaded" end
  if status == 504 or status == 408 then return "timeout" end
  if status >= 400 and status < 500 then return "invalid_request" end
  return "server"
end

function M.status_from_kind(kind, status)
  if tonumber(status) then return tonumber(status) end
  return status_by_kind[kind] or 500
end

-- ----------------------------------------------------------------- usage --

local usage_keys = { "input", "output", "cached_read", "cache_write", "reasoning", "tool_use", "audio" }
M.usage_keys = usage_keys

function M.new_usage()
  return { input = 0, output = 0, cached_read = 0, cache_write = 0, reasoning = 0, tool_use = 0, audio = 0 }
end

function M.n(v)
  if type(v) == "number" then return v end
  return 0
end

function M.copy_usage(u)
  local out = M.new_usage()
  if type(u) == "table" then
    for _, k in ipairs(usage_keys) do out[k] = M.n(u[k]) end
  end
  return out
end

-- ----------------------------------------------------------------- misc --

-- Refuse a lossy conversion unless the caller opted into dropping it.
function M.lossy(opts, message)
  if opts and opts.lenient then return true end
  return nil, message
end

function M.shallow_copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

function M.deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = M.deep_copy(x) end
  return setmetatable(out, getmetatable(v))
end

-- Concatenated text of the text blocks in a list (or a plain string).
function M.text_of(blocks, sep)
  if type(blocks) == "string" then return blocks end
  if type(blocks) ~= "table" then return "" end
  local parts = {}
  for _, b in ipairs(blocks) do
    if b.type == "text" and type(b.text) == "string" then parts[#parts + 1] = b.text end
  end
  return concat(parts, sep or "")
end

function M.now()
  return os.time()
end

-- Integer-ish number or nil.
function M.int(v)
  if type(v) == "number" then return floor(v) end
  return nil
end

return M
