-- memory — a shared running summary instead of a transcript. Speakers do
-- not see each other's messages: each reads the shared memory, adds a
-- contribution and updates the memory. Topology fixes the speaking order
-- only (who hears whom is replaced by the memory).
-- Options: memory_chars = the memory's size limit (default 1200).
--
-- Prompt: "Topic: ...\n\nShared memory so far:\n<memory or (empty)>\n\n
--   Add your contribution ... end with a line 'MEMORY: <the updated
--   memory>'". The memory becomes the text after the reply's last
-- "MEMORY:" line; a reply without one has its first sentence appended as
-- "Name: sentence" (oldest lines dropped to stay under memory_chars).
local util = require("moongate.crosstalk.util")

local M = {
  name = "memory",
  describe = "participants read and update a shared running memory, not the transcript",
}

local DEFAULT_CHARS = 1200

local function limit(session)
  return tonumber(session.paradigm_opts.memory_chars) or DEFAULT_CHARS
end

function M.check(session)
  local n = session.paradigm_opts.memory_chars
  if n ~= nil and (type(n) ~= "number" or n < 100 or n > 20000) then
    return "paradigm.memory_chars: expected a number from 100 to 20000"
  end
  return nil
end

function M.messages(session, turn)
  local memory = session.state.memory or ""
  local n = limit(session)
  return {
    { role = "system", content = util.system(session, turn.speaker,
      "You share a running memory with the others. You never see their messages, "
      .. "only the memory, which everyone reads and updates.") },
    { role = "user", content = util.topic(session) .. "\n\nShared memory so far:\n"
      .. (memory ~= "" and memory or "(empty)")
      .. "\n\nAdd your contribution in a few sentences. Then end with one line that starts "
      .. "with 'MEMORY:' followed by the updated shared memory (at most " .. n
      .. " characters): keep what matters, add what you brought." },
  }
end

local function first_sentence(text)
  local s = text:gsub("%s+", " "):gsub("^ ", "")
  local cut = s:find("[%.!?] ")
  if cut then s = s:sub(1, cut) end
  if #s > 200 then s = s:sub(1, 197) .. "..." end
  return s
end

-- Drop whole lines from the front until the memory fits.
local function trim(memory, n)
  while #memory > n do
    local nl = memory:find("\n", 1, true)
    if not nl then return memory:sub(#memory - n + 1) end
    memory = memory:sub(nl + 1)
  end
  return memory
end

function M.on_turn(session, turn, entry)
  local n = limit(session)
  local updated
  for line in (entry.text .. "\n"):gmatch("([^\n]*)\n") do
    local m = line:match("^%s*MEMORY:%s*(.*)$")
    if m then updated = m end
  end
  if updated and updated ~= "" then
    session.state.memory = trim(updated, n)
  else
    local memory = session.state.memory or ""
    local line = util.name(session, entry.speaker) .. ": " .. first_sentence(entry.text)
    session.state.memory = trim(memory ~= "" and (memory .. "\n" .. line) or line, n)
  end
end

return M
