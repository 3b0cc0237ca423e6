-- moongate.formats: API format conversion for the gateway.
--
-- DESIGN
-- Every supported API format converts to and from ONE canonical shape
-- (documented in moongate/formats/canonical.lua), so N formats need 2N
-- converters instead of N². A conversion client -> provider is always
-- "client decode -> canonical -> provider encode"; the same format on both
-- sides is the identity (pass-through: bodies are not rebuilt, stream events
-- are re-framed unchanged while still being decoded for usage).
--
-- One module per format, all with the same functions:
--   decode_request(body, ctx?)    -> canon | nil, err   client body -> canonical
--                                    (ctx.model / ctx.stream: what the URL said;
--                                    Gemini puts both there, not in the body)
--   encode_request(canon, opts)   -> body, path | nil, err
--                                    opts.model, opts.stream, opts.default_max_tokens,
--                                    opts.lenient (drop what cannot be carried instead of refusing)
--   decode_response(body)         -> canon_response | nil, err
--   encode_response(resp, opts)   -> body               opts.model, opts.id, opts.created
--   stream_decoder(opts)          -> :feed(event_name, data) -> { canonical events }, :finish() -> { events }
--   stream_encoder(opts)          -> :encode(event) -> { SSE text }   opts.include_usage, opts.model, opts.id
--   error_body(status, message, kind) -> status, body   the format's own error shape
--   stream_error(status, message, kind) -> SSE text     the format's mid-stream error
--   usage(body_or_canon)          -> canonical usage
--   request_path(opts, body)      -> upstream path for a pass-through request
-- Built in: openai (Chat Completions), anthropic (Messages), responses (OpenAI
-- Responses), gemini (generateContent). formats.register(name, module) adds or
-- replaces one (policies/ may ship their own).
--
-- Usage semantics are fixed in canonical form: input includes cached tokens,
-- output includes reasoning tokens; each module converts its provider's
-- accounting on the way in and back on the way out.
--
-- Bodies: these functions take and return Lua tables. Serialise them with
-- moongate.formats.json (formats.json.encode), not plain cjson: Debian's cjson
-- 2.1 writes every empty table as {} and loses empty arrays ([] in tool
-- arguments, `content: []` the SDKs push into). formats.json.decode keeps them.
--
-- Refusals: what cannot be converted comes back as nil plus a message meant
-- for the client (the caller answers 400 in the client's format), e.g.
-- Responses previous_response_id to any other provider, server tools, unknown
-- block types (named in the message).
--
-- Uses: moongate.formats.{canonical,json,sse,common} and the format modules.

local json = require "moongate.formats.json"
local canonical = require "moongate.formats.canonical"
local common = require "moongate.formats.common"
local sse = require "moongate.formats.sse"

local formats = {
  json = json, canonical = canonical, common = common,
}

local builtin = {
  openai = "moongate.formats.openai",
  anthropic = "moongate.formats.anthropic",
  responses = "moongate.formats.responses",
  gemini = "moongate.formats.gemini",
}

local registry = {}

local required_functions = {
  "decode_request", "encode_request", "decode_response", "encode_response",
  "stream_decoder", "stream_encoder", "error_body", "stream_error", "usage",
}

-- Adds or replaces a format. Returns true, or nil and what is missing.
function formats.register(name, module)
  if type(name) ~= "string" or name == "" then return nil, "format name must be a non-empty string" end
  if type(module) ~= "table" then return nil, "format " .. name .. " must be a table" end
  for _, fn in ipairs(required_functions) do
    if type(module[fn]) ~= "function" then
      return nil, "format " .. name .. " lacks function " .. fn
    end
  end
  registry[name] = module
  return true
end

function formats.get(name)
  local m = registry[name]
  if m then return m end
  local path = builtin[name]
  if not path then return nil, "unknown format '" .. tostring(name) .. "'" end
  m = require(path)
  registry[name] = m
  return m
end

-- True when `name` is served by the bundled module (not replaced from
-- policies/): the host then runs its conversions without a deadline hook.
function formats.is_builtin(name)
  local path = builtin[name]
  if not path then return false end
  return formats.get(name) == require(path)
end

function formats.names()
  local seen, out = {}, {}
  for name in pairs(builtin) do seen[name] = true end
  for name in pairs(registry) do seen[name] = true end
  for name in pairs(seen) do out[#out + 1] = name end
  table.sort(out)
  return out
end

local function pair(client_fmt, provider_fmt)
  local client, err = formats.get(client_fmt)
  if not client then return nil, nil, err end
  local provider
  provider, err = formats.get(provider_fmt)
  if not provider then return nil, nil, err end
  return client, provider
end

-- Client body -> canonical (for policies that inspect requests).
function formats.decode_request(fmt, body, ctx)
  local m, err = formats.get(fmt)
  if not m then return nil, err end
  return m.decode_request(body, ctx)
end

-- Client request body -> provider body, path. Identity when the formats match.
function formats.request(client_fmt, provider_fmt, body, opts, ctx)
  local client, provider, err = pair(client_fmt, provider_fmt)
  if not client then return nil, err end
  opts = opts or {}
  if client_fmt == provider_fmt then
    local path = provider.request_path and provider.request_path(opts, body) or nil
    return body, path
  end
  local canon
  canon, err = client.decode_request(body, ctx)
  if not canon then return nil, err end
  return provider.encode_request(canon, opts)
end

-- Provider response body -> client body. Identity when the formats match.
function formats.response(client_fmt, provider_fmt, body, opts)
  local client, provider, err = pair(client_fmt, provider_fmt)
  if not client then return nil, err end
  if client_fmt == provider_fmt then return body end
  local resp
  resp, err = provider.decode_response(body)
  if not resp then return nil, err end
  return client.encode_response(resp, opts or {})
end

-- Normalised usage of a provider response body.
function formats.usage(fmt, body)
  local m, err = formats.get(fmt)
  if not m then return nil, err end
  return m.usage(body)
end

-- Error in the client's own format: status, body table.
function formats.error(fmt, status, message, kind)
  local m = formats.get(fmt) or formats.get("openai")
  return m.error_body(status, message, kind)
end

-- Same-format requests: make sure a streamed upstream reports usage (the
-- gateway records it) and say what the client itself asked for, so the
-- stream converter can hide what the client did not ask for. Returns body
-- (changed in place when needed) and hints { include_usage = bool?, changed = bool? }
-- to pass as the stream converter's opts.
function formats.prepare_passthrough(fmt, body)
  if fmt == "openai" and type(body) == "table" and body.stream == true then
    local so = body.stream_options
    if type(so) == "table" and so.include_usage == true then return body, { include_usage = true } end
    if type(so) ~= "table" then so = {} end
    so.include_usage = true
    body.stream_options = so
    return body, { include_usage = false, changed = true }
  end
  return body, {}
end

-- -------------------------------------------------------- stream converter --

local Converter = {}
Converter.__index = Converter

-- Returns an object converting a provider stream to client SSE text:
--   :feed(event_name, data) -> { SSE strings }   one upstream SSE event
--   :finish()               -> { SSE strings }   at the end of the upstream body
--   :usage()                -> canonical usage so far
--   :state()                -> { started, stop_reason, error, done }
function formats.stream(client_fmt, provider_fmt, opts)
  local client, provider, err = pair(client_fmt, provider_fmt)
  if not client then return nil, err end
  opts = opts or {}
  return setmetatable({
    client = client, passthrough = client_fmt == provider_fmt,
    decoder = provider.stream_decoder(opts),
    encoder = client_fmt ~= provider_fmt and client.stream_encoder(opts) or nil,
    -- pass-through to an OpenAI client that did not ask for the usage chunk
    hide_usage_chunk = client_fmt == provider_fmt and client_fmt == "openai" and opts.include_usage == false,
    current_usage = common.new_usage(), stop_reason = nil, error = nil,
    started = false, done = false, closed = false,
  }, Converter)
end

function Converter:observe(e)
  local t = e.type
  if t == "start" then
    self.started = true
    if e.usage then self.current_usage = common.copy_usage(e.usage) end
  elseif t == "usage" then
    self.current_usage = common.copy_usage(e.usage)
  elseif t == "stop" then
    self.stop_reason = e.stop_reason
  elseif t == "error" then
    self.error = e.message
  elseif t == "done" then
    self.done = true
  end
end

function Converter:fail(message, out)
  self.closed = true
  self.error = message
  out[#out + 1] = self.client.stream_error(500, message, "server")
  return out
end

function Converter:pass(events, out)
  local encoder = self.encoder
  for i = 1, #events do
    local e = events[i]
    self:observe(e)
    if encoder then
      local texts = encoder:encode(e)
      for j = 1, #texts do out[#out + 1] = texts[j] end
    elseif e.type == "error" and e.synthetic then
      out[#out + 1] = self.client.stream_error(e.status, e.message, e.kind)
    end
    if e.type == "error" then self.closed = true end
  end
  return out
end

local function passthrough_events(self, event, data, events, out)
  if not (self.hide_usage_chunk and data:find('"choices"%s*:%s*%[%s*%]')) then out[#out + 1] = sse.raw(event, data) end
  for _, e in ipairs(events) do
    self:observe(e)
    if e.type == "error" then self.closed = true end
  end
  return out
end

-- Decodes and encodes one event under a single pcall (feed_into).
local function convert_event(self, event, data, out)
  local events = self.decoder:feed(event, data)
  if self.passthrough then return passthrough_events(self, event, data, events, out) end
  return self:pass(events, out)
end

-- Like feed, appending to out (the host's batch collects one list for a
-- whole network chunk instead of a table per event).
function Converter:feed_into(event, data, out)
  if self.closed or type(data) ~= "string" then return out end
  local ok, err = pcall(convert_event, self, event, data, out)
  if not ok then return self:fail("stream conversion failed: " .. tostring(err), out) end
  return out
end

function Converter:feed(event, data)
  return self:feed_into(event, data, {})
end

function Converter:finish()
  local out = {}
  if self.closed then return out end
  local ok, events = pcall(self.decoder.finish, self.decoder)
  if not ok then return self:fail("stream conversion failed: " .. tostring(events), out) end
  if self.passthrough then
    for _, e in ipairs(events) do
      if e.type == "error" then e.synthetic = true end
    end
  end
  local ok2, res = pcall(self.pass, self, events, out)
  self.closed = true
  if not ok2 then return self:fail("stream conversion failed: " .. tostring(res), out) end
  return res
end

-- The text lane: the host may convert a plain text delta of the provider
-- stream without calling feed when the decoder and encoder both say it
-- would change no state and come out as one client event. text_lane()
-- returns that event's text before and after the delta's JSON string, and
-- the provider's block index the delta must carry; nil when not now.
-- Decoders and encoders offer it through an optional text_lane method
-- (the bundled OpenAI and Anthropic ones do); without it, feed sees all.
function Converter:has_text_lane()
  return not self.passthrough and self.encoder ~= nil
    and type(self.decoder.text_lane) == "function" and type(self.encoder.text_lane) == "function"
end

function Converter:text_lane()
  if self.closed or not self:has_text_lane() then return nil end
  local idx, up_index = self.decoder:text_lane()
  if idx == nil then return nil end
  local prefix, suffix = self.encoder:text_lane(idx)
  if prefix == nil then return nil end
  return prefix, suffix, up_index
end

function Converter:usage()
  return common.copy_usage(self.current_usage)
end

function Converter:state()
  return { started = self.started, stop_reason = self.stop_reason, error = self.error, done = self.done }
end

return formats
