/* lua_glue.c — the runtime's side of the policy host: one Lua generation
 * per worker per generation, bound to the worker's loop when adopted, the
 * on_log hooks, and what /api/policies and `moongate check` report. */
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "../lua/host.h"
#include "../lua/watch.h"
#include "gateway.h"

int mg_gen_build_lua(mg_wgen *g, char *err, size_t errlen)
{
    g->lua = mg_lua_gen_build(g->cfg->cfg, g->number, err, errlen);
    return g->lua ? MG_OK : MG_ERR;
}

void mg_gen_adopt_lua(mg_wgen *g, mg_worker *w)
{
    if (g->lua)
        mg_lua_gen_bind(g->lua, w->loop, w->up);
}

void mg_gen_free_lua(mg_wgen *g)
{
    if (g->lua)
        mg_lua_gen_release(g->lua);
    g->lua = NULL;
}

void mg_gen_on_log(mg_worker *w, const mg_record *r)
{
    mg_wgen *g = w->gen;
    if (g && g->lua && mg_lua_gen_has_hook(g->lua, MG_LUA_HOOK_ON_LOG))
        mg_lua_on_log(g->lua, r);
}

void mg_gen_set_status_source(mg_gateway *gw, mg_wgen *g)
{
    pthread_mutex_lock(&gw->status_lock);
    if (gw->status_lua)
        mg_lua_gen_release(gw->status_lua);
    gw->status_lua = g && g->lua ? g->lua : NULL;
    if (gw->status_lua)
        mg_lua_gen_retain(gw->status_lua);
    if (g && g->lua)
        gw->reload.load_ms = mg_lua_gen_load_ms(g->lua);
    pthread_mutex_unlock(&gw->status_lock);
}

void mg_gen_files_json(mg_gateway *gw, mg_buf *out)
{
    pthread_mutex_lock(&gw->status_lock);
    size_t n = 0;
    const mg_lua_file *files = gw->status_lua ? mg_lua_gen_files(gw->status_lua, &n) : NULL;
    mg_buf_append_str(out, "[");
    for (size_t i = 0; i < n; i++) {
        mg_buf_append_str(out, i ? ",{\"name\":" : "{\"name\":");
        mg_buf_append_json_str(out, files[i].name, strlen(files[i].name));
        mg_buf_printf(out, ",\"sha256\":\"%s\",\"size\":%zu}", files[i].sha256, files[i].size);
    }
    mg_buf_append_str(out, "]");
    pthread_mutex_unlock(&gw->status_lock);
}

int mg_gateway_check_policies(const mg_config *cfg, char *err, size_t errlen)
{
    mg_lua_gen *g = mg_lua_gen_build(cfg, 0, err, errlen);
    if (!g)
        return MG_ERR;
    mg_lua_gen_release(g);
    return MG_OK;
}

static void on_files_changed(void *ud)
{
    mg_gateway_reload(ud, "file change");
}

void mg_gateway_watch_start(mg_gateway *gw)
{
    const mg_config *cfg = gw->cfg->cfg;
    char err[MG_ERRLEN] = "";
    /* The bundled demo config is part of the install, not the user's. */
    const char *config_file = gw->config_path ? cfg->path : NULL;
    gw->watch = mg_lua_watch_start(gw->main_loop, cfg->policies, config_file, on_files_changed,
                                   gw, err, sizeof err);
    if (!gw->watch)
        mg_warn("policy files are not watched (%s); reload with SIGHUP or "
                "POST /api/policies/reload",
                err);
}

void mg_gateway_watch_stop(mg_gateway *gw)
{
    if (gw->watch)
        mg_lua_watch_stop(gw->watch);
    gw->watch = NULL;
}

void mg_gateway_watch_rehash(mg_gateway *gw)
{
    if (gw->watch)
        mg_lua_watch_rehash(gw->watch);
}
