-- The request fast path (moongate.formats.fastpath) against the general
-- path it shortcuts: for every body it accepts, the JSON it writes decodes
-- to the same value as the general path's; bodies it must not take (a
-- field only the general path carries, empty texts, block lists) it
-- declines, so the general path answers them.

local A = require "lib.assert"
local formats = require "moongate.formats"
local fastpath = require "moongate.formats.fastpath"
local json = formats.json

local T = {}

local function general(body_text, model, stream)
  local body = json.decode(body_text)
  local out = assert(formats.request("anthropic", "openai", body,
    { model = model, stream = stream, default_max_tokens = 4096 }, { model = body.model, stream = stream }))
  return out
end

local function fast(body_text, model, stream)
  return fastpath.anthropic_to_openai(json.decode(body_text), { model = model, stream = stream })
end

local accepted = {
  '{"model":"m","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"Say hello."}]}',
  '{"model":"m","max_tokens":10,"system":"Be brief.","messages":[{"role":"user","content":"a\\"b\\n\\u00e9"},' ..
    '{"role":"assistant","content":"ok"},{"role":"user","content":"again"}]}',
  '{"model":"m","system":"","messages":[{"role":"user","content":"no max_tokens"}],"unknown_field":1}',
  '{"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x","extra":true}]}',
}

T["accepted bodies mean what the general path writes"] = function()
  for _, text in ipairs(accepted) do
    for _, stream in ipairs({ true, false }) do
      for _, model in ipairs({ "routed-model", false }) do
        local m = model or nil
        local got = fast(text, m, stream)
        A.ok(got, "fast path takes " .. text)
        A.eq(json.decode(got), json.decode(json.encode(general(text, m, stream))), text)
      end
    end
  end
end

local declined = {
  '{"model":"m","messages":[{"role":"user","content":""}]}',
  '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}',
  '{"model":"m","system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":"hi"}]}',
  '{"model":"m","temperature":0.5,"messages":[{"role":"user","content":"hi"}]}',
  '{"model":"m","tools":[],"messages":[{"role":"user","content":"hi"}]}',
  '{"model":"m","thinking":{"type":"enabled","budget_tokens":2048},"messages":[{"role":"user","content":"hi"}]}',
  '{"model":"m","metadata":{"user_id":"u"},"messages":[{"role":"user","content":"hi"}]}',
  '{"model":"m","stop_sequences":["x"],"messages":[{"role":"user","content":"hi"}]}',
  '{"model":"m","messages":[{"role":"system","content":"hi"}]}',
  '{"model":"m","messages":[]}',
  '{"model":"m","messages":{}}',
}

T["bodies outside the plain shape are left to the general path"] = function()
  for _, text in ipairs(declined) do
    A.is_nil(fast(text, "m", true), text)
  end
end

T["the bridge answers a plain body like the general path"] = function()
  local bridge = require "moongate.bridge"
  local text = accepted[2]
  local got = assert(bridge.request("anthropic", "openai", text, "up-model", true, 4096, nil))
  A.eq(json.decode(got), json.decode(json.encode(general(text, "up-model", true))))
end

return T
