-- report — participants contribute sections; one synthesiser writes the
-- final report after the last round, from every contribution.
-- Options: synthesizer = participant id (default: the last participant).
-- Needs `rounds`.
--
-- Prompts:
--   contributor: "Topic: ...\n\nYou are contributing to a report. Other
--     contributions so far:\n\n<heard>\n\nAdd a section the report still
--     lacks: a heading and a short paragraph."
--   synthesiser: "Topic: ...\n\nContributions:\n\n[Round n] Name: ...\n\n
--     Write the final report ... Start with a title line."
-- Ends after the synthesis (reason "report").
local util = require("moongate.crosstalk.util")

local M = {
  name = "report",
  describe = "participants contribute sections; a synthesiser writes the final report",
}

local function synthesizer(session)
  return session.paradigm_opts.synthesizer or session.participants[#session.participants].id
end

function M.check(session)
  local s = synthesizer(session)
  if not session.by_id[s] then
    return "paradigm.synthesizer: '" .. tostring(s) .. "' is not a participant id"
  end
  if not session.rounds then
    return "paradigm: a report needs rounds (the synthesis comes after the last one)"
  end
  if #session.speakers < 1 then return "a report needs at least one contributor besides the synthesizer" end
  return nil
end

function M.exclude(session)
  return { synthesizer(session) }
end

function M.turns(session, round, turns)
  if round == session.rounds then
    turns[#turns + 1] = { speaker = synthesizer(session), hears = session.speakers, role = "synthesizer" }
  end
  return turns
end

function M.final_turns() return 1 end

function M.messages(session, turn)
  if turn.role == "synthesizer" then
    return {
      { role = "system", content = util.system(session, turn.speaker,
        "You write the final report from everyone's contributions.") },
      { role = "user", content = util.topic(session) .. "\n\nContributions:\n\n"
        .. util.transcript_text(session)
        .. "\n\nWrite the final report: a title line, a short executive summary, then one "
        .. "section per theme. Keep the best of each contribution and say where they disagree." },
    }
  end
  local parts = {}
  for _, e in ipairs(util.heard(session, turn)) do parts[#parts + 1] = util.quote(session, e) end
  local own = util.latest(session, turn.speaker)
  if own then parts[#parts + 1] = "Your own last section:\n" .. own.text end
  return {
    { role = "system", content = util.system(session, turn.speaker,
      "You are contributing sections to a shared report.") },
    { role = "user", content = util.topic(session)
      .. "\n\nYou are contributing to a report. Other contributions so far:\n\n"
      .. (#parts > 0 and table.concat(parts, "\n\n") or "(none yet)")
      .. "\n\nAdd a section the report still lacks: a heading and a short paragraph." },
  }
end

function M.on_turn(session, turn, entry)
  if turn.role == "synthesizer" then session.state.report = entry.text end
end

function M.done(session)
  if session.state.report then return "report" end
  return nil
end

return M
