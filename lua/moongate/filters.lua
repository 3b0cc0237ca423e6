-- moongate.filters — content filters for on_request hooks.
--
--   local filters = require("moongate.filters")
--   local words = filters.words({ "project phoenix", "password%s*[:=]" })
--   return { on_request = function(req) return words:check(req) end }
--
-- Patterns are Lua patterns matched case-insensitively against every
-- string in the request body (messages, system prompt, tool arguments —
-- whatever the client format calls them), so one list covers all formats.
-- A match refuses the request (status 400 unless opts.status says
-- otherwise) and logs a warning naming the rule, never the matched text.

local mg = require("mg")

local M = {}

local MAX_DEPTH = 32
local MAX_TEXT = 4 * 1024 * 1024 -- bytes of body text scanned

-- "abc%d[xy]" -> "[aA][bB][cC]%d[xXyY]": letters match either case;
-- escapes (%a, %S, %%) and set ranges are kept as written.
function M.caseless(pattern)
  local out, i, n, in_set = {}, 1, #pattern, false
  while i <= n do
    local c = pattern:sub(i, i)
    if c == "%" then
      out[#out + 1] = pattern:sub(i, i + 1)
      i = i + 2
    else
      if c == "[" and not in_set then
        in_set = true
        out[#out + 1] = c
        if pattern:sub(i + 1, i + 1) == "^" then out[#out + 1] = "^" i = i + 1 end
      elseif c == "]" and in_set then
        in_set = false
        out[#out + 1] = c
      elseif c:match("%a") and not (in_set and pattern:sub(i + 1, i + 1) == "-") and
             not (in_set and pattern:sub(i - 1, i - 1) == "-") then
        local pair = c:lower() .. c:upper()
        out[#out + 1] = in_set and pair or "[" .. pair .. "]"
      else
        out[#out + 1] = c
      end
      i = i + 1
    end
  end
  return table.concat(out)
end

-- Every string value in a decoded JSON body, joined by newlines.
function M.body_text(req)
  local parts, size = {}, 0
  local function walk(v, depth)
    if depth > MAX_DEPTH or size > MAX_TEXT then return end
    if type(v) == "string" then
      parts[#parts + 1] = v
      size = size + #v
    elseif type(v) == "table" then
      for _, child in pairs(v) do walk(child, depth + 1) end
    end
  end
  local body = req.body
  if body == nil then
    local raw = req.body_raw or ""
    return raw:sub(1, MAX_TEXT)
  end
  walk(body, 0)
  return table.concat(parts, "\n")
end

local Words = {}
Words.__index = Words

-- A filter for a list of patterns. opts: status (default 400), message
-- (what the client reads), name (for the log line).
function M.words(patterns, opts)
  opts = opts or {}
  local compiled = {}
  for i, p in ipairs(patterns) do
    if type(p) ~= "string" or p == "" then error("pattern " .. i .. " must be a non-empty string", 2) end
    local caseless = M.caseless(p)
    local ok, err = pcall(string.find, "", caseless)
    if not ok then error("pattern " .. i .. " (" .. p .. "): " .. tostring(err), 2) end
    compiled[i] = caseless
  end
  return setmetatable({
    patterns = compiled,
    status = opts.status or 400,
    message = opts.message or "request refused by content policy",
    name = opts.name or "sensitive_words",
  }, Words)
end

-- The index of the first matching pattern in text, or nil.
function Words:match(text)
  for i, p in ipairs(self.patterns) do
    if text:find(p) then return i end
  end
  return nil
end

-- For on_request: nil to let the request through, or a refusal.
function Words:check(req)
  local rule = self:match(M.body_text(req))
  if not rule then return nil end
  mg.log.warn(self.name .. ": refused request " .. tostring(req.id) .. " (rule " .. rule .. ")")
  return mg.refuse(self.status, self.message)
end

return M
