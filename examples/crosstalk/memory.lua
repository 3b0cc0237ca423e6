-- memory.lua — four specialists who never read each other directly: they
-- share one running memory that each reads and rewrites.
--
--   moongate crosstalk examples/crosstalk/memory.lua
--
-- Paradigm "memory": every prompt holds the topic and the shared memory,
-- not the transcript. A reply ends with a line "MEMORY: ..." holding the
-- updated memory; when a model forgets it, the first sentence of its reply
-- is appended instead. memory_chars bounds the memory.
-- Topology "chain": the speaking order below, every round (the memory,
-- not the topology, decides what each speaker knows).
return {
  name = "memory",
  description = "Four specialists plan a flood defence through a shared memory",
  prompt = "Our river town floods every spring. Plan defences for the next ten years.",

  participants = {
    { id = "engineer", model = "gpt-4o-mini", template = "engineer" },
    { id = "economist", model = "gpt-4.1-mini", template = "economist" },
    { id = "historian", model = "claude-haiku-4-5", template = "historian" },
    { id = "critic", model = "gemini-2.5-flash", template = "critic" },
  },

  topology = "chain",
  paradigm = { "memory", memory_chars = 1500 },
  rounds = 2,
  budget_usd = 0.03,
}
