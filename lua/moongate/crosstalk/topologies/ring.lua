-- ring — everyone in a circle: each speaks in preset order and hears the
-- one before (the first hears the last, whose message comes from the
-- previous round). Three participants a, b, c give every round:
--   a hears {c}, b hears {a}, c hears {b}
return {
  name = "ring",
  describe = "a circle: each hears the previous speaker, the first hears the last",
  turns = function(speakers, round)
    local n, out = #speakers, {}
    for i, id in ipairs(speakers) do
      local prev = speakers[i - 1] or speakers[n]
      out[i] = { speaker = id, hears = prev ~= id and { prev } or {} }
    end
    return out
  end,
}
