-- debate.lua — two models argue a motion over three rounds; a third judges.
--
--   moongate crosstalk examples/crosstalk/debate.lua
--
-- Paradigm "debate": round 1 is opening positions, later rounds are
-- rebuttals of what each debater heard; after the last round the judge
-- (who never debates) reads the whole debate and gives a verdict.
-- Sides alternate "for", "against" in the order below unless `sides` says
-- otherwise. Topology "mesh": each debater hears every other debater.
--
-- With the bundled demo config these models are built-in mocks, so this
-- runs with no API key; with real providers configured it costs real money
-- (the budget below stops it before a turn that could pass $0.05).
return {
  name = "debate",
  description = "Optimist vs skeptic on remote work, judged by a third model",
  prompt = "This house believes that remote work makes teams more productive.",

  participants = {
    { id = "optimist", name = "Ada (optimist)", model = "gpt-4o-mini",
      template = "optimist", temperature = 0.8 },
    { id = "skeptic", name = "Basil (skeptic)", model = "claude-haiku-4-5",
      template = "skeptic", temperature = 0.7 },
    { id = "judge", name = "The judge", model = "gemini-2.5-flash",
      template = "judge", temperature = 0.2, max_tokens = 600 },
  },

  topology = "mesh",
  paradigm = { "debate", judge = "judge" },
  -- paradigm = { "debate", judge = "judge", sides = { optimist = "for", skeptic = "against" } },

  rounds = 3,        -- nil: until the budget, max_turns or a stop
  budget_usd = 0.05, -- the session stops before a turn that could exceed it

  options = {
    max_tokens = 300, -- per turn, unless a participant says otherwise
  },
}
