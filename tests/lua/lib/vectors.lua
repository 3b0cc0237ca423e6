-- tests/lua/lib/vectors.lua: reads the golden vectors next to this folder.
--   V.json("openai/request") -> decoded table (moongate.formats.json)
--   V.sse("openai/stream_tools") -> { {event=, data=}... }
--   V.expected["openai/request"] -> the hand-written canonical form

local json = require "moongate.formats.json"
local sse_parse = require "lib.sse_parse"

local src = debug.getinfo(1, "S").source:sub(2)
local root = (src:match("^(.*)/lib/[^/]*$") or "tests/lua") .. "/vectors/"

local V = {}

function V.read(name)
  local f = assert(io.open(root .. name, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function V.json(name)
  return assert(json.decode(V.read(name .. ".json")))
end

function V.sse(name)
  return sse_parse(V.read(name .. ".sse"))
end

V.expected = dofile(root .. "expected.lua")

V.requests = { "openai/request", "anthropic/request", "responses/request", "gemini/request" }
V.responses = { "openai/response_tools", "openai/response_text", "anthropic/response", "responses/response", "gemini/response" }
V.streams = { "openai/stream_tools", "openai/stream_interleaved", "openai/stream_reasoning", "anthropic/stream",
  "responses/stream", "gemini/stream", "gemini/stream_max_tokens" }

function V.format(name)
  return name:match("^([^/]+)/")
end

-- ctx a gateway would pass for a vector (Gemini carries model/stream in the URL)
function V.ctx(name)
  if V.format(name) == "gemini" then return { model = "gemini-2.5-flash", stream = false } end
  return nil
end

return V
