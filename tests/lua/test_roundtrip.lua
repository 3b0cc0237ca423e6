-- Round-trip property tests: random canonical requests/responses (seeded)
-- go canonical -> format -> JSON text -> format -> canonical and must equal
-- what the format can carry (lib/project.lua). Also: random fragmentation of
-- streams gives the same assembled message for every provider/client pair.

local A = require "lib.assert"
local G = require "lib.gen"
local P = require "lib.project"
local norm = require "lib.norm"
local json = require "moongate.formats.json"
local formats = require "moongate.formats"
local canonical = require "moongate.formats.canonical"
local assemble = require "lib.assemble"
local sse_parse = require "lib.sse_parse"

local FORMATS = { "openai", "anthropic", "responses", "gemini" }
local CASES = 120

local T = {}

local function wire(body)
  local v, err = json.decode(json.encode(body))
  assert(v ~= nil, err)
  return v
end

for _, fmt in ipairs(FORMATS) do
  T["request round trip " .. fmt] = function()
    local m = formats.get(fmt)
    for seed = 1, CASES do
      local c = G.new(seed * 7919 + #fmt):request()
      assert(canonical.validate_request(c))
      local body, path = m.encode_request(c, { lenient = true })
      A.ok(body, "seed " .. seed .. ": encode failed: " .. tostring(path))
      local back, err = m.decode_request(wire(body), { model = c.model, stream = c.stream })
      A.ok(back, "seed " .. seed .. ": decode failed: " .. tostring(err))
      assert(canonical.validate_request(back))
      A.eq(norm.canon(back), norm.canon(P.request[fmt](c)), fmt .. " seed " .. seed)
    end
  end

  T["response round trip " .. fmt] = function()
    local m = formats.get(fmt)
    for seed = 1, CASES do
      local r = G.new(seed * 104729 + #fmt):response()
      assert(canonical.validate_response(r))
      local body = m.encode_response(r, {})
      local back, err = m.decode_response(wire(body))
      A.ok(back, "seed " .. seed .. ": decode failed: " .. tostring(err))
      assert(canonical.validate_response(back))
      A.eq(norm.canon(back), norm.canon(P.response[fmt](r)), fmt .. " seed " .. seed)
    end
  end
end

-- Provider stream made by the provider's own encoder from random fragments.
local function provider_stream(g, provider, resp)
  local enc = formats.get(provider).stream_encoder({ include_usage = true, model = resp.model, id = resp.id })
  local texts = {}
  for _, e in ipairs(g:events(resp)) do
    for _, t in ipairs(enc:encode(e)) do texts[#texts + 1] = t end
  end
  return sse_parse(table.concat(texts))
end

local function decode_direct(provider, events)
  local dec = formats.get(provider).stream_decoder({})
  local out = {}
  for _, ev in ipairs(events) do
    for _, e in ipairs(dec:feed(ev.event, ev.data)) do out[#out + 1] = e end
  end
  for _, e in ipairs(dec:finish()) do out[#out + 1] = e end
  return assert(assemble.canonical(out))
end

local function convert(client, provider, events, opts)
  local conv = assert(formats.stream(client, provider, opts))
  local texts = {}
  for _, ev in ipairs(events) do
    for _, t in ipairs(conv:feed(ev.event, ev.data)) do texts[#texts + 1] = t end
  end
  for _, t in ipairs(conv:finish()) do texts[#texts + 1] = t end
  return sse_parse(table.concat(texts)), conv
end

for _, provider in ipairs(FORMATS) do
  T["stream round trip " .. provider] = function()
    for seed = 1, CASES do
      local g = G.new(seed * 31337 + #provider)
      local r = g:response()
      local got = decode_direct(provider, provider_stream(g, provider, r))
      local want = P.response[provider](r)
      -- streams carry the stop/usage of the response encoder, except what differs below
      A.eq(assemble.summary(norm.canon(got)), P.summary(provider, assemble.summary(norm.canon(want))),
        provider .. " seed " .. seed)
    end
  end

  for _, client in ipairs(FORMATS) do
    T["stream fragments " .. provider .. " -> " .. client] = function()
      for seed = 1, CASES / 2 do
        local r = G.new(seed * 65537 + #provider * 7 + #client):response()
        local results = {}
        for split = 1, 2 do
          local g = G.new(seed * 13 + split * 100003)
          local events = provider_stream(g, provider, r)
          local expected = P.summary(client, assemble.summary(decode_direct(provider, events)))
          local client_events, conv = convert(client, provider, events, { include_usage = true })
          local got = assemble.client[client](client_events)
          got.id, got.got_usage_chunk, got.stop_sequence = nil, nil, nil
          A.eq(norm.canon(got), norm.canon(expected), provider .. " -> " .. client .. " seed " .. seed .. " split " .. split)
          A.eq(conv:usage(), decode_direct(provider, events).usage, "converter usage")
          results[split] = got
        end
        A.eq(results[2], results[1], "different fragmentation, same result (seed " .. seed .. ")")
      end
    end
  end
end

return T
