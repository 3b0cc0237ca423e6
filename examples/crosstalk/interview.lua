-- interview.lua — a paradigm and a topology of your own, written inline.
--
--   moongate crosstalk examples/crosstalk/interview.lua
--
-- A preset may define its conversation itself instead of naming a built-in
-- one: `topology` as a function (speaker ids, round) → turns, and
-- `paradigm` as a table with at least messages(session, turn). The same
-- definitions can live in policies/ under `topologies` / `paradigms` and be
-- named here; see docs/crosstalk.md. Preset code runs sandboxed and under
-- a deadline, like policies.
local util = require("moongate.crosstalk.util")

return {
  name = "interview",
  description = "A journalist interviews a scientist: a custom paradigm and topology",
  prompt = "Could we run the world's data centres on the heat they make?",

  participants = {
    { id = "journalist", model = "gpt-4o-mini",
      system = "You are a curious science journalist. You ask one short, sharp question at a time." },
    { id = "scientist", model = "claude-haiku-4-5", template = "scientist" },
  },

  -- Each round: the journalist asks (hearing the last answer), the guest answers.
  topology = function(ids, round)
    return {
      { speaker = ids[1], hears = { ids[2] } },
      { speaker = ids[2], hears = { ids[1] } },
    }
  end,

  paradigm = {
    name = "interview",
    messages = function(session, turn)
      local heard = util.heard(session, turn)[1]
      local asking = turn.speaker == session.participants[1].id
      local user
      if asking then
        user = heard and ("The guest answered:\n\n" .. heard.text .. "\n\nAsk your next question.")
          or (util.topic(session) .. "\n\nOpen the interview with your first question.")
      else
        user = util.topic(session) .. "\n\nThe journalist asks:\n\n" .. (heard and heard.text or "")
          .. "\n\nAnswer in a short paragraph."
      end
      return {
        { role = "system", content = util.system(session, turn.speaker) },
        { role = "user", content = user },
      }
    end,
    -- End early once the guest has said enough (here: four answers).
    done = function(session)
      local answers = 0
      for _, e in ipairs(session.transcript) do
        if e.speaker == session.participants[2].id then answers = answers + 1 end
      end
      if answers >= 4 then return "enough" end
    end,
  },

  rounds = 6,
  budget_usd = 0.01,
  options = { max_tokens = 200 },
}
