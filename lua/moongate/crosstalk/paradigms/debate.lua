-- debate — positions, rebuttals and an optional verdict.
-- Options: judge = participant id (optional; the judge does not debate and
-- speaks once, after the last round, hearing the whole debate);
-- sides = { id = "for" | "against" | any label } (default: speakers
-- alternate "for", "against" in preset order).
--
-- Prompts:
--   round 1 (no own argument yet): "Motion: <prompt>. You argue <side>.
--     State your opening position ..."
--   later rounds: "Motion ... You argue <side>. Since your last turn:
--     <each heard speaker's latest argument, with their side> ...
--     Rebut the strongest point against you ..."
--   judge: "Motion ... The debate:\n\n[Round n] Name (side): ... Give
--     your verdict ... Start with 'Verdict:'".
-- Ends after the verdict (reason "verdict"), or after `rounds` without a
-- judge. A judge needs `rounds` (it speaks after the last one).
local util = require("moongate.crosstalk.util")

local M = {
  name = "debate",
  describe = "opening positions, then rebuttals; a judge may give a verdict",
}

local function side(session, id)
  local sides = session.paradigm_opts.sides
  if sides and sides[id] then return sides[id] end
  for i, s in ipairs(session.speakers) do
    if s == id then return i % 2 == 1 and "for" or "against" end
  end
  return "neutral"
end

function M.check(session)
  local o = session.paradigm_opts
  if o.judge ~= nil then
    if not session.by_id[o.judge] then
      return "paradigm.judge: '" .. tostring(o.judge) .. "' is not a participant id"
    end
    if not session.rounds then
      return "paradigm.judge: a debate with a judge needs rounds (the verdict comes after the last round)"
    end
  end
  if o.sides ~= nil and type(o.sides) ~= "table" then
    return "paradigm.sides: expected a table { participant_id = \"for\" | \"against\" }"
  end
  if #session.speakers < 2 then return "a debate needs at least two debaters" end
  return nil
end

function M.exclude(session)
  return { session.paradigm_opts.judge }
end

function M.turns(session, round, turns)
  local judge = session.paradigm_opts.judge
  if judge and session.rounds and round == session.rounds then
    turns[#turns + 1] = { speaker = judge, hears = session.speakers, role = "judge" }
  end
  return turns
end

function M.final_turns(session)
  return session.paradigm_opts.judge and 1 or 0
end

local function judge_messages(session, turn)
  local text = util.transcript_text(session, function(e) return e.speaker ~= turn.speaker end)
  local labelled = {}
  for _, e in ipairs(session.transcript) do
    if e.speaker ~= turn.speaker then
      labelled[#labelled + 1] = "[Round " .. e.round .. "] "
        .. util.quote(session, e, side(session, e.speaker))
    end
  end
  if #labelled > 0 then text = table.concat(labelled, "\n\n") end
  return {
    { role = "system", content = util.system(session, turn.speaker,
      "You are the judge of this debate. You do not take part in it.") },
    { role = "user", content = "Motion: " .. session.prompt .. "\n\nThe debate:\n\n" .. text
      .. "\n\nGive your verdict: which side argued better, and why, in a few points. "
      .. "Start with 'Verdict:'." },
  }
end

function M.messages(session, turn)
  if turn.role == "judge" then return judge_messages(session, turn) end
  local me = side(session, turn.speaker)
  local head = "Motion: " .. session.prompt .. "\n\nYou argue " .. me .. "."
  local user
  if not util.latest(session, turn.speaker) then
    user = head .. " State your opening position in a few sentences, with your strongest argument."
    local heard = util.heard(session, turn)
    if #heard > 0 then
      local parts = {}
      for _, e in ipairs(heard) do parts[#parts + 1] = util.quote(session, e, side(session, e.speaker)) end
      user = user .. "\n\nSo far:\n\n" .. table.concat(parts, "\n\n")
    end
  else
    local parts = {}
    for _, e in ipairs(util.heard(session, turn)) do
      parts[#parts + 1] = util.quote(session, e, side(session, e.speaker))
    end
    user = head .. " Since your last turn:\n\n"
      .. (#parts > 0 and table.concat(parts, "\n\n") or "(nobody spoke to you)")
      .. "\n\nRebut the strongest point against you, then strengthen your case. Be concise."
  end
  return {
    { role = "system", content = util.system(session, turn.speaker,
      "You are in a formal debate. Argue your side well and answer your opponents directly.") },
    { role = "user", content = user },
  }
end

function M.on_turn(session, turn, entry)
  if turn.role == "judge" then session.state.verdict = entry.text end
end

function M.done(session)
  if session.state.verdict then return "verdict" end
  return nil
end

return M
