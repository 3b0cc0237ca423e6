-- chain — an open line: each speaks in preset order and hears only the one
-- before; the first hears nobody, so every round is a fresh pass from the
-- prompt down the line (unlike ring, nothing flows from last to first).
--   a hears {}, b hears {a}, c hears {b}
return {
  name = "chain",
  describe = "an open line: each hears the previous speaker, the first hears nobody",
  turns = function(speakers, round)
    local out = {}
    for i, id in ipairs(speakers) do
      out[i] = { speaker = id, hears = i > 1 and { speakers[i - 1] } or {} }
    end
    return out
  end,
}
