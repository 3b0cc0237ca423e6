-- star — a centre and spokes: the centre speaks first and hears every
-- spoke; then each spoke, in preset order, hears only the centre. Spokes
-- never hear each other. Options: center = participant id (default: the
-- first participant).  With centre m and spokes a, b:
--   m hears {a, b}, a hears {m}, b hears {m}
local M = {
  name = "star",
  describe = "a centre that hears every spoke; spokes hear only the centre",
}

local function center_of(speakers, opts)
  return (opts and opts.center) or speakers[1]
end

function M.check(speakers, opts)
  local c = center_of(speakers, opts)
  for _, id in ipairs(speakers) do
    if id == c then return nil end
  end
  return "center '" .. tostring(c) .. "' is not one of the speakers ("
    .. table.concat(speakers, ", ") .. ")"
end

function M.turns(speakers, round, opts)
  local c = center_of(speakers, opts)
  local spokes = {}
  for _, id in ipairs(speakers) do
    if id ~= c then spokes[#spokes + 1] = id end
  end
  local out = { { speaker = c, hears = spokes } }
  for _, id in ipairs(spokes) do
    out[#out + 1] = { speaker = id, hears = { c } }
  end
  return out
end

return M
