/* json_codec.h — moongate.jsonc, the C JSON codec used by
 * lua/moongate/formats/json.lua (which keeps a pure-Lua codec as the
 * fallback and as the reference the tests compare against).
 *
 *   local jsonc = require("moongate.jsonc").new(json.array_mt)
 *   jsonc.decode(text)      -> value | nil, "json.decode: <what> at byte <n>"
 *   jsonc.encode(value)     -> text, raises "json.encode: ..." on what JSON
 *                              cannot hold
 *   jsonc.encode_string(s)  -> s quoted and escaped
 *
 * Register luaopen_moongate_jsonc as package.preload["moongate.jsonc"]
 * wherever cjson is preloaded. Uses LuaJIT's C API. */
#ifndef MG_LUA_JSON_CODEC_H
#define MG_LUA_JSON_CODEC_H

#include <lua.h>

int luaopen_moongate_jsonc(lua_State *L);

#endif
