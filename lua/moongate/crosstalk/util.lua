-- moongate.crosstalk.util — helpers paradigms use to build a speaker's
-- messages from the session: who a participant is, what it heard, the
-- transcript as text. Plain functions over the session table the engine
-- (moongate.crosstalk) keeps; user paradigms in policies/ may require it.

local M = {}

-- Display name of a participant ("skeptic" when it has none).
function M.name(session, id)
  local p = session.by_id[id]
  return p and p.name or tostring(id)
end

-- The participant's own system prompt (template or `system`), followed by
-- the paradigm's instruction for this kind of conversation.
function M.system(session, id, instruction)
  local p = session.by_id[id]
  local parts = {}
  if p and p.system and p.system ~= "" then parts[#parts + 1] = p.system end
  local others = {}
  for _, q in ipairs(session.participants) do
    if q.id ~= id then others[#others + 1] = q.name end
  end
  parts[#parts + 1] = "Your name in this conversation is " .. M.name(session, id)
    .. ". The others are: " .. table.concat(others, ", ") .. "."
  if instruction and instruction ~= "" then parts[#parts + 1] = instruction end
  return table.concat(parts, "\n\n")
end

-- The last transcript entry spoken by id, or nil.
function M.latest(session, id)
  local t = session.transcript
  for i = #t, 1, -1 do
    if t[i].speaker == id then return t[i] end
  end
  return nil
end

-- The latest entry of each participant the turn hears, oldest first.
function M.heard(session, turn)
  local out = {}
  for _, id in ipairs(turn.hears or {}) do
    local e = M.latest(session, id)
    if e then out[#out + 1] = e end
  end
  table.sort(out, function(a, b) return a.seq < b.seq end)
  return out
end

-- "Name: text" for one entry; `label` adds a tag after the name.
function M.quote(session, entry, label)
  local who = M.name(session, entry.speaker)
  if label then who = who .. " (" .. label .. ")" end
  return who .. ":\n" .. entry.text
end

-- Every entry (or those keep(entry) accepts) as "[Round n] Name: text".
function M.transcript_text(session, keep)
  local lines = {}
  for _, e in ipairs(session.transcript) do
    if not keep or keep(e) then
      lines[#lines + 1] = "[Round " .. e.round .. "] " .. M.quote(session, e)
    end
  end
  return table.concat(lines, "\n\n")
end

-- The opening of every user message: the topic, once, clearly marked.
function M.topic(session)
  return "Topic: " .. session.prompt
end

function M.contains(list, value)
  for _, v in ipairs(list or {}) do
    if v == value then return true end
  end
  return false
end

return M
