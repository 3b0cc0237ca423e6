/* config.c — mg_config_load (evaluate the bundled model data and the config
 * file in one sandboxed LuaJIT state, walk the result against the schema,
 * check, resolve paths), mg_config_free, and the lookups the rest of the
 * host uses: providers by name or model, route entries, format names,
 * restart-needed comparison, command-line overrides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg-t.h"

#define MG_CFG_MODELS_FILE "lua/moongate/data/models.lua"

static const char *const format_names[] = {
    [MG_FMT_UNKNOWN] = "unknown", [MG_FMT_OPENAI] = "openai",
    [MG_FMT_ANTHROPIC] = "anthropic", [MG_FMT_RESPONSES] = "responses",
    [MG_FMT_GEMINI] = "gemini", [MG_FMT_MOCK] = "mock",
};

const char *mg_format_name(int fmt)
{
    if (fmt < 0 || (size_t)fmt >= MG_ARRAY_LEN(format_names))
        return "unknown";
    return format_names[fmt];
}

int mg_format_from_name(const char *name)
{
    if (!name)
        return MG_FMT_UNKNOWN;
    for (size_t i = 1; i < MG_ARRAY_LEN(format_names); i++)
        if (strcmp(name, format_names[i]) == 0)
            return (int)i;
    return MG_FMT_UNKNOWN;
}

/* ---- loading ------------------------------------------------------------ */

/* What the protected loader needs; all borrowed from mg_config_load. */
typedef struct mg_cfg_job {
    mg_cfg_vm *vm;
    mg_config *cfg;
    mg_cfg_errs *errs;
    const char *models_file;
} mg_cfg_job;

static void walk_models_file(mg_cfg_job *job, mg_cfg_walk *w)
{
    if (mg_cfg_vm_run(job->vm, job->models_file) != MG_OK)
        return;
    if (lua_type(w->L, -1) == LUA_TTABLE)
        mg_cfg_walk_models(w);
    else
        mg_cfg_err(job->errs, NULL, "must return a table of models, got %s",
                   lua_typename(w->L, lua_type(w->L, -1)));
    lua_pop(w->L, 1);
}

static void walk_config_file(mg_cfg_job *job, mg_cfg_walk *w)
{
    if (mg_cfg_vm_run(job->vm, job->cfg->path) != MG_OK)
        return;
    if (lua_type(w->L, -1) == LUA_TTABLE)
        mg_cfg_walk_record(w, mg_cf_config_fields, job->cfg);
    else
        mg_cfg_err(job->errs, NULL, "must return a table (return { listen = ..., providers = "
                   "{ ... } }), got %s", lua_typename(w->L, lua_type(w->L, -1)));
    lua_pop(w->L, 1);
}

/* Runs under lua_cpcall: any Lua error (out of memory) lands in
 * mg_config_load, and everything built so far already hangs off cfg. */
static int load_protected(lua_State *L)
{
    mg_cfg_job *job = lua_touserdata(L, 1);
    lua_settop(L, 0);
    mg_cfg_vm_setup(job->vm);
    mg_cfg_walk w = {.L = L, .errs = job->errs, .cfg = job->cfg};
    mg_cf_defaults(mg_cf_config_fields, job->cfg);
    walk_models_file(job, &w);
    walk_config_file(job, &w);
    job->errs->file = job->cfg->path;
    mg_cfg_check(job->cfg, job->errs);
    return 0;
}

static const char *pick_home(const char *home)
{
    if (home && home[0])
        return home;
    const char *env = getenv("MOONGATE_HOME");
    if (env && env[0])
        return env;
#ifdef MG_HOME
    return MG_HOME;
#else
    return ".";
#endif
}

mg_config *mg_config_load(const char *path, const char *home, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    home = pick_home(home);
    mg_config *c = mg_xcalloc(1, sizeof *c);
    c->home = mg_xstrdup(home);
    c->path = mg_cfg_pick_file(path, home, &c->is_demo);
    char *models_file = mg_cfg_join(home, MG_CFG_MODELS_FILE);

    mg_cfg_errs errs = {.file = c->path};
    mg_cfg_vm vm;
    if (mg_cfg_vm_open(&vm, &errs) == MG_OK) {
        mg_cfg_job job = {.vm = &vm, .cfg = c, .errs = &errs, .models_file = models_file};
        if (lua_cpcall(vm.L, load_protected, &job) != 0) {
            const char *msg = lua_tostring(vm.L, -1);
            mg_cfg_err(&errs, NULL, "%s", msg ? msg : "error while loading");
        }
    }
    mg_cfg_vm_close(&vm);
    free(models_file);

    if (errs.count > 0) {
        mg_cfg_errs_finish(&errs, err, errlen);
        mg_cfg_errs_free(&errs);
        mg_config_free(c);
        return NULL;
    }
    mg_cfg_errs_free(&errs);
    mg_cfg_resolve_paths(c);
    return c;
}

/* ---- freeing ------------------------------------------------------------ */

/* Free a string that may hold a credential, wiping it first. */
static void free_secret(char *s)
{
    if (!s)
        return;
    memset(s, 0, strlen(s));
    free(s);
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

static void free_provider(mg_provider_cfg *p)
{
    free(p->name);
    free(p->base_url);
    free_secret(p->api_key);
    free_list(p->models, p->nmodels);
    for (size_t i = 0; i < p->nheaders; i++) {
        free(p->headers[i].name);
        free_secret(p->headers[i].value);
    }
    free(p->headers);
    free_list(p->tags, p->ntags);
}

void mg_config_free(mg_config *c)
{
    if (!c)
        return;
    char **strings[] = {&c->path, &c->home, &c->listen_host, &c->tls_addr_host,
                        &c->tls_cert, &c->tls_key, &c->db, &c->policies,
                        &c->admin_token_file, &c->access_log, &c->log_level,
                        &c->environment, &c->auth};
    for (size_t i = 0; i < MG_ARRAY_LEN(strings); i++)
        free(*strings[i]);
    free_secret(c->admin_token);
    for (size_t i = 0; i < c->nproviders; i++)
        free_provider(&c->providers[i]);
    free(c->providers);
    for (size_t i = 0; i < c->nmodels; i++) {
        free(c->models[i].name);
        free(c->models[i].vendor);
    }
    free(c->models);
    free(c);
}

/* ---- lookups ------------------------------------------------------------ */

const mg_provider_cfg *mg_config_provider(const mg_config *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->nproviders; i++)
        if (c->providers[i].name && strcmp(c->providers[i].name, name) == 0)
            return &c->providers[i];
    return NULL;
}

static const mg_provider_cfg *provider_named(const mg_config *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->nproviders; i++) {
        const char *pn = c->providers[i].name;
        if (pn && strlen(pn) == len && memcmp(pn, name, len) == 0)
            return &c->providers[i];
    }
    return NULL;
}

int mg_config_resolve(const mg_config *c, const char *spec, const mg_provider_cfg **provider,
                      const char **model)
{
    *provider = NULL;
    *model = NULL;
    if (!c || !spec || !spec[0])
        return MG_ERR;
    const char *slash = strchr(spec, '/');
    if (slash && slash[1]) {
        const mg_provider_cfg *p = provider_named(c, spec, (size_t)(slash - spec));
        if (p) {
            *provider = p;
            *model = slash + 1;
            return MG_OK;
        }
    }
    for (size_t i = 0; i < c->nproviders; i++) {
        const mg_provider_cfg *p = &c->providers[i];
        for (size_t j = 0; j < p->nmodels; j++) {
            if (p->models[j] && strcmp(p->models[j], spec) == 0) {
                *provider = p;
                *model = spec;
                return MG_OK;
            }
        }
    }
    return MG_ERR;
}

const mg_provider_cfg *mg_config_provider_for_model(const mg_config *c, const char *model)
{
    const mg_provider_cfg *p;
    const char *m;
    return mg_config_resolve(c, model, &p, &m) == MG_OK ? p : NULL;
}

/* ---- reload and command line -------------------------------------------- */

static int str_differs(const char *a, const char *b)
{
    if (!a || !b)
        return a != b;
    return strcmp(a, b) != 0;
}

static void name_key(char *what, size_t len, size_t *used, const char *key)
{
    if (!what || len == 0)
        return;
    int n = snprintf(what + *used, len - *used, "%s%s", *used ? ", " : "", key);
    if (n > 0)
        *used = MG_MIN(len - 1, *used + (size_t)n);
}

int mg_config_restart_needed(const mg_config *old, const mg_config *new_cfg, char *what,
                             size_t len)
{
    size_t used = 0;
    if (what && len)
        what[0] = '\0';
    if (!old || !new_cfg)
        return 0;
    int changed = 0;
    if (str_differs(old->listen_host, new_cfg->listen_host) ||
        old->listen_port != new_cfg->listen_port) {
        name_key(what, len, &used, "listen");
        changed = 1;
    }
    if (str_differs(old->tls_addr_host, new_cfg->tls_addr_host) ||
        old->tls_port != new_cfg->tls_port || str_differs(old->tls_cert, new_cfg->tls_cert) ||
        str_differs(old->tls_key, new_cfg->tls_key)) {
        name_key(what, len, &used, "listen_tls");
        changed = 1;
    }
    if (str_differs(old->db, new_cfg->db)) {
        name_key(what, len, &used, "db");
        changed = 1;
    }
    if (old->workers != new_cfg->workers) {
        name_key(what, len, &used, "workers");
        changed = 1;
    }
    return changed;
}

int mg_config_parse_addr(const char *addr, char **host, int *port)
{
    if (!addr || !host || !port)
        return MG_ERR;
    return mg_cf_parse_addr(addr, host, port);
}

int mg_config_override(mg_config *c, const char *listen, const char *db, char *err,
                       size_t errlen)
{
    if (listen) {
        char *host = NULL;
        int port = 0;
        if (mg_cf_parse_addr(listen, &host, &port) != MG_OK) {
            if (err && errlen)
                snprintf(err, errlen, "--listen: invalid address '%.80s' (expected HOST:PORT)",
                         listen);
            return MG_ERR;
        }
        free(c->listen_host);
        c->listen_host = host;
        c->listen_port = port;
    }
    if (db) {
        if (!db[0]) {
            if (err && errlen)
                snprintf(err, errlen, "--db: empty path");
            return MG_ERR;
        }
        free(c->db);
        c->db = mg_xstrdup(db);
    }
    return MG_OK;
}
