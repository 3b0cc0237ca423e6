-- test_crosstalk.lua — the Lua half of crosstalk: exact turn orders of
-- every topology for 3 and 4 participants, the prompts each paradigm
-- promises, session flow (rounds, verdict, report, memory), preset errors
-- with file:line, and user-defined paradigms and topologies.
local crosstalk = require("moongate.crosstalk")
local cjson = require("cjson")

local function eq(a, b, what)
  if a ~= b then error((what or "value") .. ": expected " .. tostring(b) .. ", got " .. tostring(a), 2) end
end

-- "a<c b<a c<b": speaker<heard,heard per turn, in order.
local function order(turns)
  local out = {}
  for _, t in ipairs(turns) do out[#out + 1] = t.speaker .. "<" .. table.concat(t.hears, ",") end
  return table.concat(out, " ")
end

local function topo(name, ids, opts)
  return order(require("moongate.crosstalk.topologies." .. name).turns(ids, 1, opts))
end

local function has(s, needle, what)
  if not s:find(needle, 1, true) then error((what or "text") .. " lacks " .. string.format("%q", needle) .. ":\n" .. s, 2) end
end

local function lacks(s, needle, what)
  if s:find(needle, 1, true) then error((what or "text") .. " should not contain " .. string.format("%q", needle), 2) end
end

local function people(n)
  local p = {}
  for i = 1, n do p[i] = { id = string.char(96 + i), model = "gpt-4o-mini", template = "skeptic" } end
  return p
end

local function session(over)
  local p = { prompt = "Is water wet?", participants = people(3), topology = "ring", paradigm = "relay", rounds = 2 }
  for k, v in pairs(over or {}) do p[k] = v end
  local s, err = crosstalk.new(p, { file = "t.lua", id = "s1" })
  if not s then error(err, 2) end
  return s
end

-- Runs the session to its end, replying reply(turn) to each turn; returns
-- the turns' request bodies (decoded) and the end reason.
local function run(s, reply)
  local turns = {}
  for _ = 1, 500 do
    local t, reason = crosstalk.next_turn(s)
    if not t then return turns, reason end
    t.request = cjson.decode(t.body)
    turns[#turns + 1] = t
    crosstalk.commit(s, reply and reply(t) or ("reply of " .. t.speaker .. " in round " .. t.round))
  end
  error("session did not end")
end

local function user_msg(t) return t.request.messages[#t.request.messages].content end
local function system_msg(t) return t.request.messages[1].content end

local T = {}

function T.ring_orders()
  eq(topo("ring", { "a", "b", "c" }), "a<c b<a c<b", "ring 3")
  eq(topo("ring", { "a", "b", "c", "d" }), "a<d b<a c<b d<c", "ring 4")
end

function T.chain_orders()
  eq(topo("chain", { "a", "b", "c" }), "a< b<a c<b", "chain 3")
  eq(topo("chain", { "a", "b", "c", "d" }), "a< b<a c<b d<c", "chain 4")
end

function T.mesh_orders()
  eq(topo("mesh", { "a", "b", "c" }), "a<b,c b<a,c c<a,b", "mesh 3")
  eq(topo("mesh", { "a", "b", "c", "d" }), "a<b,c,d b<a,c,d c<a,b,d d<a,b,c", "mesh 4")
end

function T.star_orders()
  eq(topo("star", { "a", "b", "c" }), "a<b,c b<a c<a", "star 3 (centre: first)")
  eq(topo("star", { "a", "b", "c", "d" }, { center = "c" }), "c<a,b,d a<c b<c d<c", "star 4, centre c")
end

function T.every_round_repeats_the_order()
  local s = session({ participants = people(4), topology = { "star", center = "b" }, rounds = 3 })
  local turns = run(s)
  eq(#turns, 12, "turns")
  local seq = {}
  for _, t in ipairs(turns) do seq[#seq + 1] = t.round .. t.speaker end
  eq(table.concat(seq, " "), "1b 1a 1c 1d 2b 2a 2c 2d 3b 3a 3c 3d", "speaking order")
  eq(table.concat(turns[1].to, ","), "a,c,d", "who hears the centre")
  eq(table.concat(turns[2].to, ","), "b", "who hears a spoke")
end

function T.relay_passes_the_previous_message()
  local s = session({ topology = "ring", rounds = 2 })
  local turns, reason = run(s)
  eq(reason, "rounds", "end reason")
  eq(#turns, 6, "turns")
  has(user_msg(turns[1]), "Topic: Is water wet?")
  has(user_msg(turns[1]), "You open the relay")
  has(user_msg(turns[2]), "a passed you this:\n\nreply of a in round 1")
  has(user_msg(turns[2]), "Build on it")
  has(user_msg(turns[4]), "c passed you this:\n\nreply of c in round 1", "ring closes the circle")
  has(system_msg(turns[1]), "You are a skeptic")
  has(system_msg(turns[1]), "relay")
  eq(turns[1].request.stream, true, "stream")
  eq(turns[1].request.model, "gpt-4o-mini", "model")
  eq(turns[1].request.max_tokens, 400, "default max_tokens")
end

function T.relay_on_a_chain_restarts_each_round()
  local s = session({ topology = "chain", rounds = 2 })
  local turns = run(s)
  has(user_msg(turns[4]), "You open the relay")
  has(user_msg(turns[4]), "Your previous contribution was:\n\nreply of a in round 1")
  lacks(user_msg(turns[4]), "reply of c")
end

function T.debate_positions_rebuttals_and_verdict()
  local p = people(3)
  p[3].id = "judge"
  p[3].template = "judge"
  local s = session({ participants = p, paradigm = { "debate", judge = "judge" }, topology = "mesh", rounds = 2 })
  eq(crosstalk.planned_turns(s), 5, "planned turns")
  local turns, reason = run(s, function(t) return t.speaker == "judge" and "Verdict: a" or ("argument of " .. t.speaker .. " r" .. t.round) end)
  eq(reason, "verdict", "end reason")
  eq(#turns, 5, "2 debaters x 2 rounds + verdict")
  has(user_msg(turns[1]), "Motion: Is water wet?")
  has(user_msg(turns[1]), "You argue for.")
  has(user_msg(turns[1]), "opening position")
  has(user_msg(turns[2]), "You argue against.")
  has(user_msg(turns[2]), "a (for):\nargument of a r1", "b hears a's opening")
  has(user_msg(turns[3]), "Rebut the strongest point")
  has(user_msg(turns[3]), "b (against):\nargument of b r1")
  eq(turns[5].speaker, "judge", "judge speaks last")
  eq(turns[5].round, 2, "judge speaks in the final round")
  local j = user_msg(turns[5])
  has(j, "[Round 1] a (for):\nargument of a r1")
  has(j, "[Round 2] b (against):\nargument of b r2")
  has(j, "verdict")
  has(system_msg(turns[5]), "impartial judge")
  eq(s.rounds_done, 2, "rounds done")
end

function T.debate_without_judge_ends_after_rounds()
  local s = session({ paradigm = "debate", topology = "ring", rounds = 1 })
  local turns, reason = run(s)
  eq(#turns, 3, "turns")
  eq(reason, "rounds", "reason")
end

function T.memory_shares_a_summary_not_the_transcript()
  local s = session({ paradigm = { "memory", memory_chars = 300 }, topology = "mesh", rounds = 2 })
  local turns = run(s, function(t)
    if t.speaker == "b" and t.round == 1 then return "Point of b. More.\nMEMORY: water is wet; b agrees" end
    return "Secret detail of " .. t.speaker .. t.round .. ". Second sentence."
  end)
  has(user_msg(turns[1]), "Shared memory so far:\n(empty)")
  has(user_msg(turns[2]), "Shared memory so far:\na: Secret detail of a1.")
  lacks(user_msg(turns[2]), "Second sentence", "memory keeps the first sentence only")
  has(user_msg(turns[3]), "Shared memory so far:\nwater is wet; b agrees", "MEMORY: line replaces the memory")
  lacks(user_msg(turns[3]), "Secret detail of a1", "the old memory was replaced")
  has(user_msg(turns[3]), "MEMORY:")
  for _, t in ipairs(turns) do
    lacks(user_msg(t), "Point of b", "speakers never see raw messages")
  end
end

function T.memory_stays_within_its_limit()
  local s = session({ paradigm = { "memory", memory_chars = 120 }, rounds = 5 })
  run(s, function(t) return string.rep("word ", 30) .. t.seq .. "." end)
  if #s.state.memory > 120 then error("memory grew to " .. #s.state.memory) end
end

function T.report_contributions_then_synthesis()
  local s = session({ participants = people(4), paradigm = { "report", synthesizer = "d" }, topology = "chain", rounds = 2 })
  local turns, reason = run(s, function(t) return "section by " .. t.speaker .. t.round end)
  eq(reason, "report", "reason")
  eq(#turns, 7, "3 contributors x 2 rounds + synthesis")
  has(user_msg(turns[2]), "Other contributions so far:\n\na:\nsection by a1")
  has(user_msg(turns[2]), "Add a section")
  eq(turns[7].speaker, "d", "synthesiser last")
  local u = user_msg(turns[7])
  for _, want in ipairs({ "section by a1", "section by b1", "section by c1", "section by a2", "section by c2" }) do has(u, want) end
  has(u, "Write the final report")
  eq(s.state.report, "section by d2", "report kept")
end

function T.report_defaults_to_last_participant()
  local s = session({ paradigm = "report", rounds = 1 })
  local turns = run(s)
  eq(turns[#turns].speaker, "c", "synthesiser")
  eq(#turns, 3, "turns")
end

function T.inline_paradigm_and_topology()
  local s = session({
    topology = function(speakers, round) return { { speaker = speakers[#speakers], hears = {} }, { speaker = speakers[1], hears = { speakers[#speakers] } } } end,
    paradigm = { name = "echo", messages = function(sess, turn)
      return { { role = "user", content = "custom " .. turn.speaker .. " " .. turn.round } }
    end, done = function(sess) if sess.turns_done >= 3 then return "enough" end end },
    rounds = 10,
  })
  local turns, reason = run(s)
  eq(reason, "enough", "custom done")
  eq(order({ turns[1], turns[2] }), "c< a<c", "inline order")
  eq(user_msg(turns[3]), "custom c 2", "custom prompt")
  eq(s.paradigm_name, "echo", "name")
end

function T.user_definitions_win_over_builtins()
  local defs = { relay = { messages = function() return { { role = "user", content = "mine" } } end } }
  local tdefs = { zigzag = function(speakers) return { { speaker = speakers[2], hears = { speakers[1] } } } end }
  local s = assert(crosstalk.new({ prompt = "x", participants = people(2), paradigm = "relay", topology = "zigzag", rounds = 1 },
    { file = "t.lua", paradigms = defs, topologies = tdefs }))
  local turns = run(s)
  eq(#turns, 1, "turns")
  eq(turns[1].speaker, "b", "speaker")
  eq(user_msg(turns[1]), "mine", "user paradigm used")
end

function T.transcript_in_memory_is_bounded()
  local s = session({ rounds = 30 })
  local big = string.rep("x", 40000)
  run(s, function() return big end)
  local bytes = 0
  for _, e in ipairs(s.transcript) do bytes = bytes + #e.text end
  if bytes > crosstalk.MAX_TRANSCRIPT_BYTES then error("transcript holds " .. bytes .. " bytes") end
  eq(s.transcript[#s.transcript].seq, 90, "the newest entries stay")
end

function T.max_turns_ends_unlimited_sessions()
  local s = assert(crosstalk.new({ prompt = "x", participants = people(3), topology = "ring", paradigm = "relay",
    options = { max_turns = 7 } }, { file = "t.lua" }))
  local turns, reason = run(s)
  eq(#turns, 7, "turns")
  eq(reason, "max_turns", "reason")
  eq(crosstalk.planned_turns(s), nil, "unlimited")
end

function T.participant_settings_reach_the_request()
  local p = people(2)
  p[1].temperature = 0.3
  p[1].max_tokens = 50
  p[1].headers = { ["X-Mock-Echo"] = "1" }
  p[2].system = "You are terse."
  p[2].template = nil
  local s = session({ participants = p, rounds = 1, options = { max_tokens = 99 } })
  local turns = run(s)
  eq(turns[1].request.temperature, 0.3, "temperature")
  eq(turns[1].request.max_tokens, 50, "max_tokens")
  eq(turns[1].headers["x-mock-echo"], "1", "headers lower-cased")
  eq(turns[2].request.max_tokens, 99, "options.max_tokens default")
  has(system_msg(turns[2]), "You are terse.")
end

local function preset_error(p, source)
  local s, err = crosstalk.new(p, { file = "bad.lua", source = source })
  if s then error("preset should have been refused", 2) end
  return err
end

function T.errors_name_file_line_and_key()
  local src = table.concat({
    "return {",                                   -- 1
    "  prompt = 'x',",                            -- 2
    "  participants = {",                         -- 3
    "    { id = 'a', model = 'm' },",             -- 4
    "    { id = 'b',",                            -- 5
    "      model = 'm',",                         -- 6
    "      temperature = 'hot' },",               -- 7
    "  },",
    "  topology = 'ring', paradigm = 'relay',",
    "}",
  }, "\n")
  local p = { prompt = "x", participants = { { id = "a", model = "m" }, { id = "b", model = "m", temperature = "hot" } },
              topology = "ring", paradigm = "relay" }
  eq(preset_error(p, src), 'bad.lua:7: participants[2].temperature: expected a number from 0 to 2, got "hot"')
end

function T.errors_for_common_mistakes()
  local base = function() return { prompt = "x", participants = people(2), topology = "ring", paradigm = "relay" } end
  local p = base(); p.partcipants = {}
  has(preset_error(p), 'bad.lua: unknown key "partcipants"')
  p = base(); p.prompt = nil
  eq(preset_error(p), "bad.lua: prompt: is required")
  p = base(); p.topology = "donut"
  has(preset_error(p), 'topology: unknown topology "donut" (built in: ring, star, mesh, chain')
  p = base(); p.paradigm = "gossip"
  has(preset_error(p), 'paradigm: unknown paradigm "gossip"')
  p = base(); p.participants[2].id = "a"
  has(preset_error(p), 'participants[2].id: "a" is already used by participants[1]')
  p = base(); p.participants[1].template = "wizard"
  has(preset_error(p), 'participants[1].template: no template "wizard"')
  p = base(); p.participants[1].model = nil
  eq(preset_error(p), "bad.lua: participants[1].model: is required")
  p = base(); p.rounds = 2.5
  has(preset_error(p), "rounds: expected an integer from 1 to 1000")
  p = base(); p.paradigm = { "debate", judge = "zed" }; p.rounds = 2
  has(preset_error(p), "paradigm.judge: 'zed' is not a participant id")
  p = base(); p.paradigm = { "debate", judge = "b" }
  has(preset_error(p), "needs rounds")
  p = base(); p.topology = { "star", center = "q" }
  has(preset_error(p), "topology: center 'q' is not one of the speakers")
  p = base(); p.participants[1].headers = { Authorization = "x" }
  has(preset_error(p), "set by the gateway")
  has(preset_error(42), "a preset returns a table")
end

function T.json_nulls_are_absent()
  local p = cjson.decode('{"prompt":"x","rounds":null,"participants":[{"id":"a","model":"m","temperature":null}],"topology":"chain","paradigm":"relay"}')
  local s = assert(crosstalk.new(p, { file = "json" }))
  eq(s.rounds, nil, "rounds")
end

function T.overrides_from_the_caller()
  local s = assert(crosstalk.new({ prompt = "x", participants = people(2), topology = "ring", paradigm = "relay", rounds = 20 },
    { rounds = 3, budget_usd = 0.5 }))
  eq(s.rounds, 3, "rounds override")
  eq(s.budget_usd, 0.5, "budget override")
end

function T.describe_is_json()
  local s = session({ paradigm = { "debate", judge = "c" }, rounds = 2 })
  local d = cjson.decode(crosstalk.describe(s))
  eq(d.paradigm.name, "debate", "paradigm")
  eq(d.paradigm.options.judge, "c", "judge")
  eq(d.topology.name, "ring", "topology")
  eq(#d.participants, 3, "participants")
  eq(#d.speakers, 2, "judge is not a speaker")
end

function T.example_presets_load()
  local home = os.getenv("MOONGATE_HOME") or "."
  local names = { "relay", "debate", "memory", "report", "interview" }
  for _, n in ipairs(names) do
    local path = home .. "/examples/crosstalk/" .. n .. ".lua"
    local f = io.open(path)
    if not f then error("missing " .. path) end
    local src = f:read("*a")
    f:close()
    local chunk = assert(loadstring(src, "@" .. n .. ".lua"))
    setfenv(chunk, crosstalk.preset_env()) -- the sandbox the host gives presets
    local s, err = crosstalk.new(chunk(), { file = n .. ".lua", source = src })
    if not s then error(err) end
    eq(s.paradigm_name, n, n .. " paradigm")
    local turns, reason = run(s)
    if #turns == 0 then error(n .. ": no turns") end
    if n == "interview" then
      eq(reason, "enough", "interview ends itself")
      eq(#turns, 8, "4 questions, 4 answers")
      eq(turns[1].speaker, "journalist", "the journalist asks first")
    end
  end
end

return T
