-- moongate.formats.sequencer: turns canonical stream events whose blocks may
-- interleave (an OpenAI upstream can stream several tool calls at once) into
-- strictly sequential blocks, as Anthropic content blocks and Responses output
-- items require. The first open block streams live; events of later blocks are
-- held until the blocks before them stop. Output indexes are renumbered
-- contiguously in emission order. Uses nothing.

local sequencer = {}
sequencer.__index = sequencer

local ipairs = ipairs

function sequencer.new()
  return setmetatable({
    current = nil,     -- canonical index of the block streaming live
    queue = {},        -- canonical indexes waiting, in block_start order
    held = {},         -- canonical index -> { events = {...}, stopped = bool }
    map = {},          -- canonical index -> output index
    next_out = 0,
  }, sequencer)
end

local function renumbered(e, idx)
  if e.index == idx then return e end
  local c = {}
  for k, v in pairs(e) do c[k] = v end
  c.index = idx
  return c
end

function sequencer:emit(e, out)
  out[#out + 1] = renumbered(e, self.map[e.index])
end

-- Moves the next held blocks to the output until one is still open.
function sequencer:release(out)
  while self.current == nil and #self.queue > 0 do
    local idx = table.remove(self.queue, 1)
    local h = self.held[idx]
    self.held[idx] = nil
    self.map[idx] = self.next_out
    self.next_out = self.next_out + 1
    for _, e in ipairs(h.events) do self:emit(e, out) end
    if not h.stopped then self.current = idx end
  end
end

-- Feeds one canonical event; appends the sequential events to `out`.
function sequencer:push(e, out)
  local t = e.type
  if t == "block_start" then
    if self.current == nil and #self.queue == 0 then
      self.current = e.index
      self.map[e.index] = self.next_out
      self.next_out = self.next_out + 1
      self:emit(e, out)
    else
      self.held[e.index] = { events = { e }, stopped = false }
      self.queue[#self.queue + 1] = e.index
    end
  elseif t == "delta" or t == "block_stop" then
    if e.index == self.current then
      self:emit(e, out)
      if t == "block_stop" then
        self.current = nil
        self:release(out)
      end
    else
      local h = self.held[e.index]
      if h then
        h.events[#h.events + 1] = e
        if t == "block_stop" then h.stopped = true end
      end
    end
  else
    if t == "stop" or t == "done" then
      -- Blocks never stopped upstream: close them so the client sees a whole message.
      if self.current ~= nil then
        self:emit({ type = "block_stop", index = self.current }, out)
        self.current = nil
      end
      for _, idx in ipairs(self.queue) do self.held[idx].stopped = true end
      for _, idx in ipairs(self.queue) do
        local h = self.held[idx]
        local n = #h.events
        if h.events[n].type ~= "block_stop" then h.events[n + 1] = { type = "block_stop", index = idx } end
      end
      self:release(out)
    end
    out[#out + 1] = e
  end
  return out
end

return sequencer
