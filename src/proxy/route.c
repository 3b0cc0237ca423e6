/* route.c — the route stage: turn the requested model into an ordered list
 * of targets (provider + model). Without a policy hook: "provider/model"
 * names one provider; a bare model goes to every provider that lists it,
 * in config order, which gives failover between providers for free. */
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

int mg_px_stage_route(mg_px *px)
{
    if (mg_px_route_add(px, px->model) != MG_OK) {
        mg_px_fail(px, 404, "not_found_error",
                   "model '%s' is not served by any configured provider; "
                   "GET /v1/models lists the models this gateway serves",
                   px->model);
        return MG_ERR;
    }
    px->t_route_done = mg_now_mono();
    return MG_OK;
}
