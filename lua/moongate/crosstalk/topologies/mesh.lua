-- mesh — everyone hears everyone: each speaks in preset order and hears
-- the latest message of every other participant.
--   a hears {b, c}, b hears {a, c}, c hears {a, b}
return {
  name = "mesh",
  describe = "everyone hears everyone",
  turns = function(speakers, round)
    local out = {}
    for i, id in ipairs(speakers) do
      local hears = {}
      for _, other in ipairs(speakers) do
        if other ~= id then hears[#hears + 1] = other end
      end
      out[i] = { speaker = id, hears = hears }
    end
    return out
  end,
}
