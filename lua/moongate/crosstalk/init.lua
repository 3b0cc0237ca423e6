-- moongate.crosstalk — the Lua half of the crosstalk engine. The C session
-- (src/crosstalk/) owns time, requests, budget and state; this module owns
-- the conversation: who speaks next, what they are told, and when the
-- paradigm says it is over. All calls run in the policy generation the
-- session started on, under the host's deadline.
--
--   local s, err = crosstalk.new(preset, ctx)  -- checked session, or nil, "file:line: ..."
--   local turn, reason = crosstalk.next_turn(s)
--       turn: { round, index, seq, speaker, name, model, max_tokens, role,
--               hears = {ids}, to = {ids}, headers, body = JSON request,
--               turns_in_round }
--       nil, reason when the session is over ("rounds", "verdict", ...)
--   local round_done = crosstalk.commit(s, text)  -- the turn's reply
--   crosstalk.describe(s) → JSON of the normalised preset (for the database)
--   crosstalk.planned_turns(s) → expected number of turns, or nil (unlimited)
--
-- A topology is turns(speakers, round, opts) → { {speaker=, hears={...}}, ... }.
-- A paradigm is a table: messages(session, turn) (required), and optional
-- check(session) → error, exclude(session) → ids kept out of the topology,
-- turns(session, round, turns) → turns, on_turn(session, turn, entry),
-- done(session) → reason, final_turns(session) → extra turns after the last
-- round. See docs/crosstalk.md.
local cjson = require("cjson")
local preset = require("moongate.crosstalk.preset")
local util = require("moongate.crosstalk.util")

local M = { util = util }

-- What a session keeps of its transcript in the generation's Lua state
-- (which policies share, under one memory cap); the database keeps all.
M.MAX_TRANSCRIPT = 2000           -- entries
M.MAX_TRANSCRIPT_BYTES = 512 * 1024

local function copy(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  return out
end

-- The environment a preset chunk runs in (the host compiles it as text,
-- with the JIT off, under a deadline): an allow-list of plain functions,
-- private copies of string/table/math/bit, and a require that hands out
-- read-only views of the crosstalk helpers. No os, io, load, package,
-- debug or mg: a preset describes a conversation, it does not act.
local SAFE_GLOBALS = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
  "type", "unpack", "rawequal", "rawget", "rawset", "setmetatable", "getmetatable", "_VERSION",
}
local COPIED_LIBS = { "string", "table", "math", "bit" }
local PRESET_MODULES = { ["moongate.crosstalk.util"] = true, ["moongate.crosstalk.templates"] = true }

local function read_only(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function(_, k) error("shared module: cannot set " .. tostring(k), 2) end,
    __metatable = false,
  })
end

function M.preset_env()
  local env = {}
  for _, k in ipairs(SAFE_GLOBALS) do env[k] = _G[k] end
  for _, lib in ipairs(COPIED_LIBS) do
    local copy = {}
    for k, v in pairs(_G[lib] or {}) do copy[k] = v end
    env[lib] = copy
  end
  env.require = function(name)
    if PRESET_MODULES[name] then return read_only(require(name)) end
    error("a preset may require only moongate.crosstalk.util and moongate.crosstalk.templates", 2)
  end
  env._G = env
  return env
end

function M.new(p, ctx)
  local cfg, err = preset.check(p, ctx or {})
  if not cfg then return nil, err end
  local s = {
    id = ctx and ctx.id,
    name = cfg.name or (ctx and ctx.file and (ctx.file:gsub("%.%w+$", ""))) or "preset",
    description = cfg.description, prompt = cfg.prompt,
    participants = cfg.participants, by_id = {},
    rounds = cfg.rounds, budget_usd = cfg.budget_usd, key_id = cfg.key_id,
    max_turns = cfg.max_turns, options = cfg.options,
    topology = cfg.topology, topology_name = cfg.topology_name, topology_opts = cfg.topology_opts,
    paradigm = cfg.paradigm, paradigm_name = cfg.paradigm_name, paradigm_opts = cfg.paradigm_opts,
    transcript = {}, state = {},
    round = 1, queue = nil, pos = 0, seq = 0, rounds_done = 0, turns_done = 0,
  }
  for _, q in ipairs(s.participants) do s.by_id[q.id] = q end
  local excluded = {}
  if s.paradigm.exclude then
    for _, id in pairs(s.paradigm.exclude(s) or {}) do excluded[id] = true end
  end
  s.speakers = {}
  for _, q in ipairs(s.participants) do
    if not excluded[q.id] then s.speakers[#s.speakers + 1] = q.id end
  end
  local file = (ctx and ctx.file) or "preset"
  if s.paradigm.check then
    local perr = s.paradigm.check(s)
    if perr then return nil, file .. ": " .. perr end
  end
  if #s.speakers == 0 then return nil, file .. ": participants: nobody is left to speak" end
  if s.topology.check then
    local terr = s.topology.check(copy(s.speakers), s.topology_opts)
    if terr then return nil, file .. ": topology: " .. terr end
  end
  return s
end

local function check_turns(s, turns, who)
  if type(turns) ~= "table" then error(who .. " returned " .. type(turns) .. ", expected a list of turns", 0) end
  for i, t in ipairs(turns) do
    if type(t) ~= "table" or not s.by_id[t.speaker] then
      error(who .. ": turn " .. i .. " names no participant (speaker = " .. tostring(type(t) == "table" and t.speaker) .. ")", 0)
    end
    t.hears = t.hears or {}
    for _, h in ipairs(t.hears) do
      if not s.by_id[h] then error(who .. ": turn " .. i .. " hears unknown participant " .. tostring(h), 0) end
    end
  end
  return turns
end

local function check_messages(msgs, who)
  if type(msgs) ~= "table" or #msgs == 0 then error(who .. ".messages returned no messages", 0) end
  for i, m in ipairs(msgs) do
    if type(m) ~= "table" or type(m.content) ~= "string"
      or (m.role ~= "system" and m.role ~= "user" and m.role ~= "assistant") then
      error(who .. ".messages: message " .. i .. " needs role = system|user|assistant and content = string", 0)
    end
  end
  return msgs
end

-- Who hears the speaker in this round's turns (for the events' "to").
local function listeners(queue, speaker)
  local out = {}
  for _, t in ipairs(queue) do
    if t.speaker ~= speaker and util.contains(t.hears, speaker) and not util.contains(out, t.speaker) then
      out[#out + 1] = t.speaker
    end
  end
  return out
end

local function start_round(s)
  local turns = check_turns(s, s.topology.turns(copy(s.speakers), s.round, s.topology_opts),
    "topology " .. s.topology_name)
  if s.paradigm.turns then
    turns = check_turns(s, s.paradigm.turns(s, s.round, turns) or turns, "paradigm " .. s.paradigm_name .. ".turns")
  end
  s.queue, s.pos = turns, 1
  return #turns > 0
end

function M.next_turn(s)
  if s.current then return s.current end -- the turn in flight, again (a retry)
  if s.turns_done >= s.max_turns then return nil, "max_turns" end
  if s.paradigm.done then
    local reason = s.paradigm.done(s)
    if reason then return nil, tostring(reason) end
  end
  if not s.queue then
    if s.rounds and s.round > s.rounds then return nil, "rounds" end
    if not start_round(s) then return nil, "no_turns" end
  end
  local t = s.queue[s.pos]
  local p = s.by_id[t.speaker]
  local turn = { speaker = t.speaker, hears = copy(t.hears), role = t.role, round = s.round, index = s.pos }
  local msgs = check_messages(s.paradigm.messages(s, turn), "paradigm " .. s.paradigm_name)
  local body = {
    model = p.model, messages = msgs, max_tokens = p.max_tokens,
    stream = true, stream_options = { include_usage = true },
  }
  if p.temperature then body.temperature = p.temperature end
  turn.seq = s.seq + 1
  turn.name = p.name
  turn.model = p.model
  turn.max_tokens = p.max_tokens
  turn.headers = p.headers
  turn.to = listeners(s.queue, t.speaker)
  turn.turns_in_round = #s.queue
  turn.body = cjson.encode(body)
  s.current = turn
  return turn
end

-- The reply of the turn in flight. Returns true when it completed a round.
function M.commit(s, text)
  local t = s.current
  if not t then error("commit without a turn in flight", 0) end
  s.current = nil
  s.seq = s.seq + 1
  local entry = { round = t.round, index = t.index, seq = s.seq, speaker = t.speaker,
                  name = t.name, model = t.model, role = t.role, text = text }
  local tr = s.transcript
  tr[#tr + 1] = entry
  s.transcript_bytes = (s.transcript_bytes or 0) + #text
  while #tr > 1 and (#tr > M.MAX_TRANSCRIPT or s.transcript_bytes > M.MAX_TRANSCRIPT_BYTES) do
    s.transcript_bytes = s.transcript_bytes - #tr[1].text
    table.remove(tr, 1)
  end
  s.turns_done = s.turns_done + 1
  s.pos = s.pos + 1
  if s.paradigm.on_turn then s.paradigm.on_turn(s, t, entry) end
  if s.pos > #s.queue then
    s.queue = nil
    s.rounds_done = s.round
    s.round = s.round + 1
    return true
  end
  return false
end

function M.planned_turns(s)
  if not s.rounds then return nil end
  local ok, turns = pcall(s.topology.turns, copy(s.speakers), 1, s.topology_opts)
  local per_round = ok and type(turns) == "table" and #turns or #s.speakers
  local extra = s.paradigm.final_turns and tonumber(s.paradigm.final_turns(s)) or 0
  return per_round * s.rounds + extra
end

local function plain(v, depth)
  if type(v) == "function" then return "<function>" end
  if type(v) ~= "table" or depth > 6 then
    if type(v) == "table" then return "<table>" end
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    if type(k) == "string" or type(k) == "number" then out[k] = plain(x, depth + 1) end
  end
  return out
end

function M.describe(s)
  local participants = {}
  for i, p in ipairs(s.participants) do
    participants[i] = { id = p.id, name = p.name, model = p.model, template = p.template,
                        temperature = p.temperature, max_tokens = p.max_tokens,
                        system = p.system, speaks_in_rotation = util.contains(s.speakers, p.id) }
  end
  return cjson.encode({
    name = s.name, description = s.description, prompt = s.prompt,
    paradigm = { name = s.paradigm_name, options = plain(s.paradigm_opts, 0) },
    topology = { name = s.topology_name, options = plain(s.topology_opts, 0) },
    rounds = s.rounds, budget_usd = s.budget_usd, max_turns = s.max_turns,
    participants = participants, speakers = s.speakers,
  })
end

return M
