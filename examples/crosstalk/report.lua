-- report.lua — a moderated panel writes sections; an editor synthesises
-- the final report.
--
--   moongate crosstalk examples/crosstalk/report.lua --json
--
-- Paradigm "report": contributors add a section per turn, seeing what
-- they hear of the others; after the last round the synthesizer (who does
-- not contribute) reads every section and writes the report.
-- Topology "star": the moderator at the centre hears every spoke and
-- speaks first each round; spokes hear only the moderator.
return {
  name = "report",
  description = "A moderated panel drafts a short report on AI in schools",
  prompt = "Write a briefing for a school board: should pupils use AI assistants for homework?",

  participants = {
    { id = "moderator", model = "gpt-4o-mini", template = "moderator" },
    { id = "teacher", model = "claude-haiku-4-5",
      system = "You are a secondary-school teacher with twenty years in the classroom." },
    { id = "scientist", model = "gemini-2.5-flash", template = "scientist" },
    { id = "editor", model = "claude-sonnet-4-5", template = "synthesizer", max_tokens = 800 },
  },

  topology = { "star", center = "moderator" },
  paradigm = { "report", synthesizer = "editor" },
  rounds = 2,
  budget_usd = 0.10,
  options = { max_tokens = 300, temperature = 0.6 },
}
