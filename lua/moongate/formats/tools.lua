-- moongate.formats.tools: JSON-schema handling for tool definitions.
--   clean_schema(s)  -> copy safe to send to OpenAI/Anthropic/Responses: keys
--                       whose value must be a JSON array stay arrays even when
--                       empty (cjson 2.1 turns [] into {}), empty `required`
--                       lists are dropped.
--   gemini_schema(s) -> Gemini's OpenAPI-subset schema: $ref/$defs inlined,
--                       type lists and null branches turned into `nullable`,
--                       unsupported keywords dropped (additionalProperties,
--                       $schema, default, examples, pattern, const…), empty
--                       `properties` removed, `required` filtered to defined
--                       properties, non-string enums moved into the description.
--   object_schema(s) -> a schema that is certainly `type: object` (Anthropic).
-- Uses: moongate.formats.json.

local json = require "moongate.formats.json"

local tools = {}

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local concat = table.concat

local array_keys = {
  required = true, enum = true, anyOf = true, oneOf = true, allOf = true,
  prefixItems = true, examples = true, propertyOrdering = true,
}

local function copy_schema(v, depth)
  if type(v) ~= "table" then return v end
  if depth > 64 then return {} end
  local out = {}
  for k, x in pairs(v) do
    if array_keys[k] and type(x) == "table" then
      local arr = json.array()
      for i, item in ipairs(x) do arr[i] = copy_schema(item, depth + 1) end
      if not (k == "required" and #arr == 0) then out[k] = arr end
    elseif type(x) == "table" then
      out[k] = copy_schema(x, depth + 1)
    else
      out[k] = x
    end
  end
  if json.is_array(v) then setmetatable(out, json.array_mt) end
  return out
end

function tools.clean_schema(schema)
  if type(schema) ~= "table" then return nil end
  return copy_schema(schema, 0)
end

-- Anthropic requires input_schema with type "object".
function tools.object_schema(schema)
  local s = tools.clean_schema(schema) or {}
  if s.type == nil then s.type = "object" end
  if s.type == "object" and s.properties == nil then s.properties = {} end
  return s
end

-- ------------------------------------------------------------- Gemini --

local gemini_keep = {
  description = true, title = true, nullable = true, minimum = true, maximum = true,
  minItems = true, maxItems = true, minLength = true, maxLength = true,
  minProperties = true, maxProperties = true,
}

local gemini_formats = {
  string = { ["date-time"] = true, enum = true },
  integer = { int32 = true, int64 = true },
  number = { float = true, double = true },
}

local max_ref_depth = 6

local function resolve_ref(root, ref)
  if type(ref) ~= "string" then return nil end
  local name = ref:match("^#/%$defs/(.+)$") or ref:match("^#/definitions/(.+)$")
  if not name then return nil end
  local defs = root["$defs"] or root.definitions
  return type(defs) == "table" and defs[name] or nil
end

local sanitize

local function merge_all_of(node)
  local merged = {}
  for k, v in pairs(node) do if k ~= "allOf" then merged[k] = v end end
  for _, sub in ipairs(node.allOf) do
    if type(sub) == "table" then
      for k, v in pairs(sub) do
        if k == "properties" and type(v) == "table" then
          merged.properties = merged.properties or {}
          for pk, pv in pairs(v) do merged.properties[pk] = pv end
        elseif k == "required" and type(v) == "table" then
          merged.required = merged.required or {}
          for _, r in ipairs(v) do merged.required[#merged.required + 1] = r end
        elseif merged[k] == nil then
          merged[k] = v
        end
      end
    end
  end
  return merged
end

local function describe_values(desc, values)
  local parts = {}
  for i, v in ipairs(values) do parts[i] = type(v) == "string" and v or json.encode(v) end
  local note = "Allowed values: " .. concat(parts, ", ")
  if type(desc) == "string" and desc ~= "" then return desc .. " (" .. note .. ")" end
  return note
end

local function sanitize_union(out, branches, ctx, depth)
  local kept = json.array()
  for _, sub in ipairs(branches) do
    if type(sub) == "table" and sub.type == "null" then
      out.nullable = true
    else
      local s = sanitize(sub, ctx, depth + 1)
      if s then kept[#kept + 1] = s end
    end
  end
  if #kept == 1 then
    for k, v in pairs(kept[1]) do if out[k] == nil then out[k] = v end end
  elseif #kept > 1 then
    out.anyOf = kept
  end
end

local function sanitize_type(out, node)
  local t = node.type
  if type(t) == "table" then
    local types = {}
    for _, x in ipairs(t) do
      if x == "null" then out.nullable = true else types[#types + 1] = x end
    end
    if #types == 1 then
      out.type = types[1]
    elseif #types > 1 then
      out.anyOf = json.array()
      for i, x in ipairs(types) do out.anyOf[i] = { type = x } end
    end
  elseif type(t) == "string" and t ~= "null" then
    out.type = t
  elseif t == "null" then
    out.nullable = true
  end
end

sanitize = function(node, ctx, depth)
  if type(node) ~= "table" then return nil end
  if depth > 40 then return { type = "object" } end
  local ref = node["$ref"]
  if ref then
    local target = resolve_ref(ctx.root, ref)
    if not target or (ctx.ref_depth[ref] or 0) >= max_ref_depth then
      return { type = "object", description = node.description }
    end
    ctx.ref_depth[ref] = (ctx.ref_depth[ref] or 0) + 1
    local s = sanitize(target, ctx, depth + 1)
    ctx.ref_depth[ref] = ctx.ref_depth[ref] - 1
    if s and node.description then s.description = node.description end
    return s
  end
  if type(node.allOf) == "table" then node = merge_all_of(node) end

  local out = {}
  for k in pairs(gemini_keep) do
    if node[k] ~= nil and node[k] ~= json.null then out[k] = node[k] end
  end
  sanitize_type(out, node)
  local union = node.anyOf or node.oneOf
  if type(union) == "table" then sanitize_union(out, union, ctx, depth) end

  local values = node.enum
  if node.const ~= nil and node.const ~= json.null then values = { node.const } end
  if type(values) == "table" and #values > 0 then
    local all_strings = true
    for _, v in ipairs(values) do if type(v) ~= "string" then all_strings = false end end
    if all_strings and (out.type == nil or out.type == "string") then
      out.type = "string"
      out.enum = json.array()
      for i, v in ipairs(values) do out.enum[i] = v end
    else
      out.description = describe_values(out.description, values)
    end
  end

  local allowed_formats = gemini_formats[out.type]
  if type(node.format) == "string" and allowed_formats and allowed_formats[node.format] then
    out.format = node.format
  end

  if type(node.properties) == "table" then
    local props, names = {}, {}
    for name, sub in pairs(node.properties) do
      local s = sanitize(sub, ctx, depth + 1)
      if s then props[name] = s; names[name] = true end
    end
    if next(props) ~= nil then
      out.properties = props
      if out.type == nil then out.type = "object" end
      if type(node.required) == "table" then
        local req = json.array()
        for _, r in ipairs(node.required) do
          if names[r] then req[#req + 1] = r end
        end
        if #req > 0 then out.required = req end
      end
    end
  end

  if out.type == "array" or node.items ~= nil then
    local items = node.items
    if type(items) == "table" and items[1] ~= nil then items = items[1] end
    out.items = sanitize(items, ctx, depth + 1) or { type = "string" }
    out.type = out.type or "array"
  end
  if out.nullable == false then out.nullable = nil end
  return out
end

-- Returns the Gemini `parameters` schema, or nil when the tool takes no
-- parameters (Gemini rejects an object type with empty properties).
function tools.gemini_schema(schema)
  if type(schema) ~= "table" then return nil end
  local out = sanitize(schema, { root = schema, ref_depth = {} }, 0)
  if not out then return nil end
  if out.type == "object" and out.properties == nil then return nil end
  return out
end

return tools
