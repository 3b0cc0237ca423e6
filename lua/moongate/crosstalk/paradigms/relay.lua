-- relay — pass it on and build on it. The first speaker opens from the
-- topic; every later speaker receives the most recent message among those
-- it hears (the topology decides whose) and builds on it: keep what holds,
-- add one new idea. Ends after `rounds` (or at the budget / a stop).
--
-- Each speaker's prompt:
--   system: its character + "You are one voice in a relay ..."
--   user:   "Topic: ..." then either "You open the relay ..." or
--           "<Name> passed you this:\n\n<their text>\n\nBuild on it: ..."
local util = require("moongate.crosstalk.util")

local M = {
  name = "relay",
  describe = "each speaker receives the previous message and builds on it",
}

local INSTRUCTION = "You are one voice in a relay. You receive what the previous speaker "
  .. "wrote and build on it. Keep your reply short: one or two paragraphs."

function M.messages(session, turn)
  local heard = util.heard(session, turn)
  local last = heard[#heard]
  local user
  if last then
    user = util.topic(session) .. "\n\n" .. util.name(session, last.speaker)
      .. " passed you this:\n\n" .. last.text
      .. "\n\nBuild on it: keep what holds, add one new idea, and pass it on."
  else
    local own = util.latest(session, turn.speaker)
    user = util.topic(session) .. "\n\nYou open the relay. Give your first contribution."
    if own then
      user = user .. "\n\nYour previous contribution was:\n\n" .. own.text
        .. "\n\nStart a new pass that goes further."
    end
  end
  return {
    { role = "system", content = util.system(session, turn.speaker, INSTRUCTION) },
    { role = "user", content = user },
  }
end

return M
