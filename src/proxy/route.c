/* route.c — the route stage: turn the requested model into an ordered list
 * of targets (provider + model). A policy's on_request/route hooks decide
 * when defined (they run in a coroutine and may wait); otherwise, and when
 * route returns nothing, "provider/model" names one provider and a bare
 * model goes to every provider that lists it, in config order, which gives
 * failover between providers for free. */
#include <string.h>

#include "px-t.h"

static void add_target(mg_px *px, const mg_provider_cfg *p, const char *model)
{
    if (px->ntargets >= MG_PX_MAX_TARGETS)
        return;
    px->targets[px->ntargets].provider = p;
    px->targets[px->ntargets].model = mg_xstrdup(model);
    px->ntargets++;
}

static int provider_serves(const mg_provider_cfg *p, const char *model)
{
    for (size_t i = 0; i < p->nmodels; i++)
        if (strcmp(p->models[i], model) == 0)
            return 1;
    return 0;
}

/* Append targets for one route entry ("provider/model" or "model"). */
int mg_px_route_add(mg_px *px, const char *entry)
{
    const char *slash = strchr(entry, '/');
    if (slash) {
        char name[128];
        size_t n = (size_t)(slash - entry);
        if (n < sizeof name) {
            memcpy(name, entry, n);
            name[n] = '\0';
            const mg_provider_cfg *p = mg_config_provider(px->cfg, name);
            if (p) {
                add_target(px, p, slash + 1);
                return MG_OK;
            }
        }
    }
    size_t before = px->ntargets;
    for (size_t i = 0; i < px->cfg->nproviders; i++) {
        const mg_provider_cfg *p = &px->cfg->providers[i];
        if (provider_serves(p, entry))
            add_target(px, p, entry);
    }
    return px->ntargets > before ? MG_OK : MG_ERR;
}

static int default_route(mg_px *px)
{
    if (mg_px_route_add(px, px->model) == MG_OK)
        return MG_OK;
    mg_px_fail(px, 404, "not_found_error",
               "model '%s' is not served by any configured provider; "
               "GET /v1/models lists the models this gateway serves",
               px->model);
    return MG_ERR;
}

static int add_policy_targets(mg_px *px, const mg_lua_target *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *model = t[i].model ? t[i].model : px->model;
        if (!t[i].provider) {
            if (mg_px_route_add(px, model) != MG_OK) {
                mg_px_fail(px, 500, "api_error",
                           "routing policy chose model '%s', which no provider serves", model);
                return MG_ERR;
            }
            continue;
        }
        const mg_provider_cfg *p = mg_config_provider(px->cfg, t[i].provider);
        if (!p) {
            mg_px_fail(px, 500, "api_error",
                       "routing policy chose provider '%s', which is not configured",
                       t[i].provider);
            return MG_ERR;
        }
        add_target(px, p, model);
    }
    return MG_OK;
}

/* Applies a finished route call; MG_OK when targets are ready. */
static int apply_route_call(mg_px *px, mg_lua_call *c)
{
    size_t n = 0;
    const mg_lua_target *t;
    switch (mg_lua_call_outcome(c)) {
    case MG_LUA_REFUSED:
        mg_record_set_text(&px->rec->status, "refused");
        mg_px_fail(px, mg_lua_call_status(c), NULL, "%s", mg_lua_call_message(c));
        return MG_ERR;
    case MG_LUA_ERROR:
        mg_px_fail(px, 500, "api_error", "routing policy failed: %s", mg_lua_call_message(c));
        return MG_ERR;
    case MG_LUA_OK:
        t = mg_lua_call_targets(c, &n);
        if (n)
            return add_policy_targets(px, t, n);
        return default_route(px);
    default:
        return default_route(px);
    }
}

static void on_route_done(mg_lua_call *c, void *ud)
{
    mg_px *px = ud;
    px->lcall = NULL;
    px->state = MG_PX_ST_UPSTREAM;
    int rc = apply_route_call(px, c);
    mg_lua_call_free(c);
    px->t_route_done = mg_now_mono();
    if (rc == MG_OK)
        mg_px_stage_upstream(px);
    else
        px->state = MG_PX_ST_DONE;
    if (!px->in_route_call) /* the hook waited: nobody else will free px */
        mg_px_maybe_free(px);
}

void mg_px_fill_lua_req(mg_px *px)
{
    mg_lua_req *l = &px->lreq;
    mg_http_req *h = px->http;
    l->id = px->rec->id;
    l->method = h->method;
    l->path = h->path;
    l->query = h->query;
    l->client_format = mg_format_name(px->ep.format);
    l->model = px->model;
    l->stream = px->stream;
    l->tokens_in_estimate = (long)(px->raw_body_len / 4);
    l->headers = h->headers;
    l->nheaders = h->nheaders;
    l->body = px->raw_body;
    l->body_len = px->raw_body_len;
    l->key_id = px->rec->key_id;
    l->user_id = px->rec->user_id;
    l->session_id = px->rec->session_id;
    l->environment = px->rec->environment;
}

/* MG_OK: targets ready; MG_AGAIN: a hook runs (it continues the pipeline
 * itself); MG_ERR: answered with an error. */
int mg_px_stage_route(mg_px *px)
{
    mg_lua_gen *lua = px->gen->lua;
    if (!lua || (!mg_lua_gen_has_hook(lua, MG_LUA_HOOK_ROUTE) &&
                 !mg_lua_gen_has_hook(lua, MG_LUA_HOOK_ON_REQUEST))) {
        px->t_route_done = mg_now_mono();
        return default_route(px);
    }
    mg_px_fill_lua_req(px);
    px->state = MG_PX_ST_ROUTE;
    px->in_route_call = 1;
    px->lcall = mg_lua_call_route(lua, &px->lreq, on_route_done, px);
    px->in_route_call = 0;
    return MG_AGAIN;
}

void mg_px_route_cancel(mg_px *px)
{
    if (!px->lcall)
        return;
    mg_lua_call_cancel(px->lcall);
    px->lcall = NULL;
    px->state = MG_PX_ST_DONE;
}
