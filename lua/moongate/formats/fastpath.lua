-- moongate.formats.fastpath: the common request shape converted straight to
-- the provider's JSON text, skipping the canonical tables and the generic
-- encoder. It exists because a plain chat request (model, max_tokens,
-- stream, a system string, text messages) is most of the traffic, and the
-- general path builds every table twice for it. Anything else returns nil
-- and the caller takes the general path; for what it accepts the result
-- means exactly what the general path's does (keys in a fixed order rather
-- than hash order). tests/lua/test_fastpath.lua compares the two.
-- Uses: moongate.formats.json.

local json = require "moongate.formats.json"

local type, pairs = type, pairs
local concat = table.concat
local encode_string, encode_value = json.encode_string, json.encode

local M = {}

-- Body keys the Anthropic decoder reads that the fast path carries; a body
-- with any other key (tools, thinking, metadata, sampling ...) goes the
-- general way. Unknown keys are ignored by both paths alike.
local anthropic_keys = { model = true, max_tokens = true, stream = true, system = true, messages = true }
local general_anthropic_keys = {
  stop_sequences = true, metadata = true, tools = true, tool_choice = true, thinking = true,
  temperature = true, top_p = true, top_k = true,
}

local function plain_shape(body)
  for k in pairs(body) do
    if not anthropic_keys[k] and general_anthropic_keys[k] then return false end
  end
  return true
end

-- One message as OpenAI JSON, or nil when it is not a non-empty text string
-- of user or assistant (empty texts are dropped by the general path).
local function message_text(m)
  if type(m) ~= "table" then return nil end
  local role, content = m.role, m.content
  if (role ~= "user" and role ~= "assistant") or type(content) ~= "string" or content == "" then return nil end
  return '{"role":"' .. role .. '","content":' .. encode_string(content) .. '}'
end

-- Anthropic Messages body (decoded) -> OpenAI Chat Completions body text,
-- or nil. opts as for encode_request: model, stream.
function M.anthropic_to_openai(body, opts)
  local msgs = body.messages
  if type(msgs) ~= "table" or #msgs == 0 or not plain_shape(body) then return nil end
  local model = opts.model or body.model
  if type(model) ~= "string" then return nil end
  local parts, n = { '{"model":', encode_string(model), ',"messages":[' }, 3
  local sys = body.system
  if type(sys) == "string" then
    if sys ~= "" then
      parts[n + 1] = '{"role":"system","content":' .. encode_string(sys) .. '},'
      n = n + 1
    end
  elseif sys ~= nil then
    return nil
  end
  for i = 1, #msgs do
    local text = message_text(msgs[i])
    if not text then return nil end
    parts[n + 1] = i == 1 and text or ',' .. text
    n = n + 1
  end
  parts[n + 1] = ']'
  n = n + 1
  if type(body.max_tokens) == "number" then
    parts[n + 1] = ',"max_completion_tokens":' .. encode_value(body.max_tokens)
    n = n + 1
  end
  local stream = opts.stream
  if stream == nil then stream = body.stream == true end
  if stream then
    parts[n + 1] = ',"stream":true,"stream_options":{"include_usage":true}'
    n = n + 1
  end
  parts[n + 1] = '}'
  return concat(parts, "", 1, n + 1)
end

return M
