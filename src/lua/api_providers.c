/* api_providers.c — mg.providers.list(), .get(name), .for_model(model) and
 * mg.models: the configured providers and model metadata (copied from the
 * config when the generation is built; no keys, URLs or headers) plus the
 * live state the gateway reports through mg_lua_host_ops.provider_state
 * (healthy, breaker, disabled, latency, error rate, in flight; defaults
 * when the gateway registered nothing). Uses config.h and api.c's host ops. */
#include <string.h>

#include "internal.h"

static const char *format_label(int fmt)
{
    static const char *const names[] = {"unknown", "openai", "anthropic",
                                        "responses", "gemini", "mock"};
    return fmt >= 0 && fmt < (int)MG_ARRAY_LEN(names) ? names[fmt] : "unknown";
}

static void push_strings(lua_State *L, char *const *v, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

static void push_model_info(lua_State *L, const mg_model_info *m)
{
    lua_createtable(L, 0, 9);
    mg_lua_set_str(L, "name", m->name);
    mg_lua_set_str(L, "vendor", m->vendor);
    mg_lua_set_num(L, "price_input", m->price_input);
    mg_lua_set_num(L, "price_output", m->price_output);
    mg_lua_set_num(L, "price_cached_read", m->price_cached_read);
    mg_lua_set_num(L, "price_cache_write", m->price_cache_write);
    mg_lua_set_num(L, "price_reasoning", m->price_reasoning ? m->price_reasoning : m->price_output);
    mg_lua_set_num(L, "context_window", (double)m->context_window);
    mg_lua_set_num(L, "max_output", (double)m->max_output);
}

/* host.providers = array of {name, format, models, tags} in config order,
 * host.models = name -> info, g->ref_provider_set = name -> true. */
void mg_lua_providers_load(lua_State *L, mg_lua_gen *g, const mg_config *cfg)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_host);
    lua_createtable(L, (int)cfg->nproviders, 0);
    lua_createtable(L, 0, (int)cfg->nproviders);
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const mg_provider_cfg *p = &cfg->providers[i];
        lua_createtable(L, 0, 4);
        mg_lua_set_str(L, "name", p->name);
        mg_lua_set_str(L, "format", format_label(p->format));
        push_strings(L, p->models, p->nmodels);
        lua_setfield(L, -2, "models");
        push_strings(L, p->tags, p->ntags);
        lua_setfield(L, -2, "tags");
        lua_rawseti(L, -3, (int)i + 1);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, p->name);
    }
    g->ref_provider_set = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_setfield(L, -2, "providers");
    lua_createtable(L, 0, (int)cfg->nmodels);
    for (size_t i = 0; i < cfg->nmodels; i++) {
        push_model_info(L, &cfg->models[i]);
        lua_setfield(L, -2, cfg->models[i].name);
    }
    lua_setfield(L, -2, "models");
    lua_pop(L, 1);
}

static const char *breaker_label(int b)
{
    return b == MG_LUA_BREAKER_OPEN ? "open" : b == MG_LUA_BREAKER_HALF_OPEN ? "half_open"
                                                                              : "closed";
}

static void copy_array(lua_State *L, int src)
{
    int n = (int)lua_objlen(L, src);
    lua_createtable(L, n, 0);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, src, i);
        lua_rawseti(L, -2, i);
    }
}

/* Push a fresh table for the static provider entry at idx. */
static void push_provider(lua_State *L, int idx)
{
    const mg_lua_host_ops *ops = mg_lua_host_ops_get();
    idx = lua_gettop(L) + idx + 1;
    lua_createtable(L, 0, 10);
    lua_getfield(L, idx, "name");
    const char *name = lua_tostring(L, -1);
    lua_setfield(L, -2, "name");
    lua_getfield(L, idx, "format");
    lua_setfield(L, -2, "format");
    static const char *const arrays[] = {"models", "tags"};
    for (int i = 0; i < 2; i++) {
        lua_getfield(L, idx, arrays[i]);
        copy_array(L, lua_gettop(L));
        lua_setfield(L, -3, arrays[i]);
        lua_pop(L, 1);
    }
    mg_lua_provider_state st = {.healthy = 1, .breaker = MG_LUA_BREAKER_CLOSED,
                                .latency_ms = -1, .error_rate = -1, .inflight = -1};
    if (ops->provider_state && name)
        ops->provider_state(ops->ud, name, &st);
    lua_pushboolean(L, st.healthy);
    lua_setfield(L, -2, "healthy");
    lua_pushstring(L, breaker_label(st.breaker));
    lua_setfield(L, -2, "breaker");
    lua_pushboolean(L, st.disabled);
    lua_setfield(L, -2, "disabled");
    if (st.latency_ms >= 0)
        mg_lua_set_num(L, "latency_ms", st.latency_ms);
    if (st.error_rate >= 0)
        mg_lua_set_num(L, "error_rate", st.error_rate);
    if (st.inflight >= 0)
        mg_lua_set_num(L, "inflight", (double)st.inflight);
}

static void push_static_list(lua_State *L)
{
    mg_lua_gen *g = mg_lua_gen_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_host);
    lua_getfield(L, -1, "providers");
    lua_replace(L, -2);
}

static int providers_list(lua_State *L)
{
    push_static_list(L);
    int list = lua_gettop(L);
    int n = (int)lua_objlen(L, list);
    lua_createtable(L, n, 0);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, list, i);
        push_provider(L, -1);
        lua_rawseti(L, -3, i);
        lua_pop(L, 1);
    }
    return 1;
}

static int providers_get(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    push_static_list(L);
    int list = lua_gettop(L);
    int n = (int)lua_objlen(L, list);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, list, i);
        lua_getfield(L, -1, "name");
        int same = strcmp(lua_tostring(L, -1), name) == 0;
        lua_pop(L, 1);
        if (same) {
            push_provider(L, -1);
            return 1;
        }
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    return 1;
}

/* Names of the providers that list model, in config order. */
static int providers_for_model(lua_State *L)
{
    const char *model = luaL_checkstring(L, 1);
    push_static_list(L);
    int list = lua_gettop(L);
    int n = (int)lua_objlen(L, list), found = 0;
    lua_newtable(L);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, list, i);
        lua_getfield(L, -1, "models");
        int m = (int)lua_objlen(L, -1);
        for (int j = 1; j <= m; j++) {
            lua_rawgeti(L, -1, j);
            int same = strcmp(lua_tostring(L, -1), model) == 0;
            lua_pop(L, 1);
            if (same) {
                lua_getfield(L, -2, "name");
                lua_rawseti(L, -4, ++found);
                break;
            }
        }
        lua_pop(L, 2);
    }
    return 1;
}

void mg_lua_inject_providers(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"list", providers_list}, {"get", providers_get}, {"for_model", providers_for_model},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_setfield(L, -2, "providers");
    mg_lua_gen *g = mg_lua_gen_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->ref_host);
    lua_getfield(L, -1, "models");
    lua_setfield(L, -3, "models");
    lua_pop(L, 1);
}
