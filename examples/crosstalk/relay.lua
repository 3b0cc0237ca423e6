-- relay.lua — an idea passed around a circle, each voice building on the
-- last.
--
--   moongate crosstalk examples/crosstalk/relay.lua --rounds 2
--
-- Paradigm "relay": the first speaker opens from the prompt; everyone
-- after receives the most recent message they hear and builds on it.
-- Topology "ring": a circle in the order below; the first speaker of each
-- new round hears the last speaker of the previous one.
-- Three providers take part: the gateway routes each turn like any request
-- (failover, limits and cost included), tagged with the session id.
return {
  name = "relay",
  description = "A philosopher, a scientist and a poet pass an idea around a ring",
  prompt = "What would a city designed for a hundred-year-old population look like?",

  participants = {
    { id = "philosopher", model = "gpt-4o-mini", template = "philosopher" },
    { id = "scientist", model = "claude-haiku-4-5", template = "scientist" },
    -- "provider/model" pins a provider; the routing policy then keeps it.
    { id = "poet", model = "mock-gemini/gemini-2.5-flash", template = "poet", temperature = 1.0 },
  },

  topology = "ring",
  paradigm = "relay",
  rounds = 3,
  budget_usd = 0.02,
  options = { max_tokens = 250 },
}
