-- tests/lua/lib/sse_parse.lua: parses SSE text (what the converters emit, or
-- a vector file) into { {event=, data=}... }. Test helper only: the gateway's
-- real SSE framing lives in the C host.

return function(text)
  local events = {}
  text = text:gsub("\r\n", "\n")
  for block in (text .. "\n\n"):gmatch("(.-)\n\n+") do
    local name, data = nil, {}
    for line in (block .. "\n"):gmatch("(.-)\n") do
      if line:sub(1, 1) ~= ":" and line ~= "" then
        local field, value = line:match("^([^:]*):? ?(.*)$")
        if field == "event" then name = value
        elseif field == "data" then data[#data + 1] = value end
      end
    end
    if #data > 0 then events[#events + 1] = { event = name, data = table.concat(data, "\n") } end
  end
  return events
end
