-- moongate.formats.sse: builds Server-Sent Events text for the client side.
-- The C host parses upstream SSE framing and writes what these return as is.
-- JSON never contains a raw newline, so one `data:` line per event suffices.
-- Uses: moongate.formats.json.

local json = require "moongate.formats.json"

local sse = {}

-- "event: <name>\ndata: <json>\n\n"
function sse.event(name, payload)
  return "event: " .. name .. "\ndata: " .. json.encode(payload) .. "\n\n"
end

-- "data: <json>\n\n"
function sse.data(payload)
  return "data: " .. json.encode(payload) .. "\n\n"
end

-- Re-frames an already serialised event (pass-through of same-format streams).
function sse.raw(name, data)
  if data:find("\n", 1, true) then data = data:gsub("\r?\n", "\ndata: ") end
  if name and name ~= "" and name ~= "message" then
    return "event: " .. name .. "\ndata: " .. data .. "\n\n"
  end
  return "data: " .. data .. "\n\n"
end

sse.done = "data: [DONE]\n\n"

return sse
