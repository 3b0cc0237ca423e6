/* reload.c — hot reload on the main thread: load the config and every
 * policy into a complete new generation, and only when all of it loads
 * hand it to the workers. Requests in flight finish on the generation they
 * started on. A failed reload changes nothing and is reported (log,
 * GET /api/policies). Triggers: SIGHUP, file changes, the admin API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../keys/keys.h"
#include "../alerts/alerts.h"
#include "../live/live.h"
#include "gateway.h"

static void publish_reload(mg_gateway *gw, uint64_t generation, const char *error)
{
    mg_buf b = {0};
    mg_buf_printf(&b, "{\"generation\":%llu,\"error\":", (unsigned long long)generation);
    if (error)
        mg_buf_append_json_str(&b, error, strlen(error));
    else
        mg_buf_append_str(&b, "null");
    mg_buf_append_str(&b, "}");
    mg_live_publish(gw->live, "reload", b.data, b.len);
    mg_buf_free(&b);
}

static void set_error(mg_gateway *gw, const char *msg)
{
    if (msg)
        publish_reload(gw, atomic_load(&gw->generation), msg);
    pthread_mutex_lock(&gw->status_lock);
    free(gw->reload.last_error);
    gw->reload.last_error = msg ? mg_xstrdup(msg) : NULL;
    gw->reload.last_error_at_ms = msg ? mg_now_wall_ms() : gw->reload.last_error_at_ms;
    pthread_mutex_unlock(&gw->status_lock);
}

/* Keys that only a restart applies keep their running values, so the rest
 * of the new config can still take effect. */
static void keep_restart_keys(mg_gateway *gw, mg_config *next)
{
    const mg_config *cur = gw->cfg->cfg;
    char what[256] = "";
    if (!mg_config_restart_needed(cur, next, what, sizeof what))
        return;
    mg_warn("config change needs a restart to apply: %s", what);
    pthread_mutex_lock(&gw->status_lock);
    free(gw->reload.restart_needed);
    gw->reload.restart_needed = mg_xstrdup(what);
    pthread_mutex_unlock(&gw->status_lock);
    free(next->listen_host);
    next->listen_host = mg_xstrdup(cur->listen_host);
    next->listen_port = cur->listen_port;
    free(next->db);
    next->db = mg_xstrdup(cur->db);
    next->workers = cur->workers;
    /* The TLS listener keeps its socket and certificate until a restart. */
    free(next->tls_addr_host);
    next->tls_addr_host = cur->tls_addr_host ? mg_xstrdup(cur->tls_addr_host) : NULL;
    next->tls_port = cur->tls_port;
}

void mg_gateway_reload(mg_gateway *gw, const char *why)
{
    if (gw->shutting_down)
        return;
    double t0 = mg_now_mono();
    char err[8192] = "";
    mg_config *next = mg_config_load(gw->config_path, gw->home, err, sizeof err);
    if (next && mg_config_override(next, gw->opts.listen, gw->opts.db, err, sizeof err) != MG_OK) {
        mg_config_free(next);
        next = NULL;
    }
    if (!next) {
        mg_error("reload (%s) failed, keeping generation %llu: %s", why,
                 (unsigned long long)atomic_load(&gw->generation), err);
        set_error(gw, err);
        return;
    }
    keep_restart_keys(gw, next);
    mg_cfg_ref *ref = mg_cfg_ref_new(next);
    mg_wgen **gens = mg_xcalloc((size_t)gw->nworkers, sizeof *gens);
    uint64_t number = atomic_load(&gw->generation) + 1;
    if (mg_gen_build_all(gw, ref, number, gens, err, sizeof err) != MG_OK) {
        mg_error("reload (%s) failed, keeping generation %llu: %s", why,
                 (unsigned long long)(number - 1), err);
        set_error(gw, err);
        mg_cfg_ref_release(ref);
        free(gens);
        return;
    }
    atomic_store(&gw->generation, number);
    mg_gen_set_status_source(gw, gens[0]);
    for (int i = 0; i < gw->nworkers; i++)
        mg_worker_handoff(&gw->workers[i], gens[i]);
    free(gens);
    mg_cfg_ref_release(gw->cfg);
    gw->cfg = ref;
    if (gw->store)
        mg_store_set_retention_days(gw->store, next->retention_days);
    if (gw->keys) {
        mg_keys_opts ko;
        mg_keys_opts_default(&ko);
        ko.auth_mode = mg_keys_auth_from_name(next->auth);
        ko.budget_day_usd = next->budget_daily_usd;
        ko.budget_month_usd = next->budget_monthly_usd;
        ko.warn_at[0] = next->budget_warn_at;
        mg_keys_configure(gw->keys, &ko);
    }
    double ms = (mg_now_mono() - t0) * 1e3;
    pthread_mutex_lock(&gw->status_lock);
    gw->reload.generation = number;
    gw->reload.loaded_at_ms = mg_now_wall_ms();
    gw->reload.load_ms = ms; /* the whole reload: config, every worker's state */
    pthread_mutex_unlock(&gw->status_lock);
    set_error(gw, NULL);
    mg_gateway_watch_rehash(gw);
    publish_reload(gw, number, NULL);
    mg_info("reloaded (%s): generation %llu in %.1f ms", why, (unsigned long long)number, ms);
    mg_alerts_set_config(gw->alerts, gw->cfg->cfg, number);
}

void mg_gateway_reload_status_json(mg_gateway *gw, mg_buf *out)
{
    pthread_mutex_lock(&gw->status_lock);
    mg_buf_printf(out, "{\"generation\":%llu,\"loaded_at_ms\":%lld,\"load_ms\":%.3f,",
                  (unsigned long long)gw->reload.generation,
                  (long long)gw->reload.loaded_at_ms, gw->reload.load_ms);
    mg_buf_append_str(out, "\"last_error\":");
    if (gw->reload.last_error)
        mg_buf_append_json_str(out, gw->reload.last_error, strlen(gw->reload.last_error));
    else
        mg_buf_append_str(out, "null");
    mg_buf_printf(out, ",\"last_error_at_ms\":%lld,\"restart_needed\":",
                  (long long)gw->reload.last_error_at_ms);
    if (gw->reload.restart_needed)
        mg_buf_append_json_str(out, gw->reload.restart_needed,
                               strlen(gw->reload.restart_needed));
    else
        mg_buf_append_str(out, "null");
    pthread_mutex_unlock(&gw->status_lock);
    mg_buf_append_str(out, ",\"files\":");
    mg_gen_files_json(gw, out);
    mg_buf_append_str(out, "}");
}
