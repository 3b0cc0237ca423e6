/* lua_test_util.h — helpers shared by the policy host's unit tests: a
 * temporary policies folder, a config made in C (providers openai,
 * anthropic, mock with a few priced models), building a generation bound
 * to a test loop, and running a route call to completion. Header-only. */
#ifndef MG_LUA_TEST_UTIL_H
#define MG_LUA_TEST_UTIL_H

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/common.h"
#include "lua/host.h"

#ifndef MG_HOME
#define MG_HOME "."
#endif

typedef struct lt_dir {
    char root[64];
    char policies[96];
} lt_dir;

static inline void lt_dir_init(lt_dir *d)
{
    snprintf(d->root, sizeof d->root, "/tmp/mgluaXXXXXX");
    if (!mkdtemp(d->root))
        abort();
    snprintf(d->policies, sizeof d->policies, "%s/policies", d->root);
    mkdir(d->policies, 0700);
}

static inline void lt_write(lt_dir *d, const char *name, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", d->policies, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(content, f);
    fclose(f);
}

static inline void lt_dir_free(lt_dir *d)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", d->root);
}

static inline const char *lt_home(void)
{
    const char *h = getenv("MOONGATE_HOME");
    return h && *h ? h : MG_HOME;
}

static char *lt_openai_models[] = {"gpt-4o", "gpt-4o-mini"};
static char *lt_anthropic_models[] = {"claude-sonnet", "claude-haiku"};
static char *lt_mock_models[] = {"mock-small", "mock-large"};
static char *lt_tags_cloud[] = {"cloud", "eu"};
static char *lt_tags_local[] = {"local"};

static inline mg_config lt_config(const char *policies)
{
    static mg_provider_cfg providers[3];
    static mg_model_info models[6];
    memset(providers, 0, sizeof providers);
    providers[0] = (mg_provider_cfg){.name = "openai", .format = MG_FMT_OPENAI,
                                     .models = lt_openai_models, .nmodels = 2,
                                     .tags = lt_tags_cloud, .ntags = 2};
    providers[1] = (mg_provider_cfg){.name = "anthropic", .format = MG_FMT_ANTHROPIC,
                                     .models = lt_anthropic_models, .nmodels = 2,
                                     .tags = lt_tags_cloud, .ntags = 1};
    providers[2] = (mg_provider_cfg){.name = "mock", .format = MG_FMT_MOCK,
                                     .models = lt_mock_models, .nmodels = 2,
                                     .tags = lt_tags_local, .ntags = 1};
    models[0] = (mg_model_info){.name = "gpt-4o", .vendor = "openai", .price_input = 2.5,
                                .price_output = 10, .context_window = 128000};
    models[1] = (mg_model_info){.name = "gpt-4o-mini", .vendor = "openai", .price_input = 0.15,
                                .price_output = 0.6, .context_window = 128000};
    models[2] = (mg_model_info){.name = "claude-sonnet", .vendor = "anthropic",
                                .price_input = 3, .price_output = 15, .context_window = 200000};
    models[3] = (mg_model_info){.name = "claude-haiku", .vendor = "anthropic",
                                .price_input = 0.8, .price_output = 4, .context_window = 200000};
    models[4] = (mg_model_info){.name = "mock-small", .vendor = "mock", .context_window = 8000};
    models[5] = (mg_model_info){.name = "mock-large", .vendor = "mock",
                                .context_window = 100000};
    mg_config cfg = {0};
    cfg.path = "(test)";
    cfg.home = (char *)lt_home();
    cfg.policies = (char *)policies;
    cfg.providers = providers;
    cfg.nproviders = 3;
    cfg.models = models;
    cfg.nmodels = 6;
    cfg.environment = "test";
    return cfg;
}

static struct ev_loop *lt_loop(void)
{
    static struct ev_loop *loop;
    if (!loop)
        loop = ev_loop_new(EVFLAG_AUTO);
    return loop;
}

static inline mg_lua_gen *lt_build_err(lt_dir *d, const mg_lua_limits *lim, char *err)
{
    mg_config cfg = lt_config(d->policies);
    err[0] = '\0';
    mg_lua_gen *g = mg_lua_gen_build_with(&cfg, lim, 7, err, MG_ERRLEN);
    if (g)
        mg_lua_gen_bind(g, lt_loop(), NULL);
    return g;
}

static inline mg_lua_gen *lt_build(lt_dir *d, const mg_lua_limits *lim)
{
    char err[MG_ERRLEN];
    mg_lua_gen *g = lt_build_err(d, lim, err);
    if (!g)
        fprintf(stderr, "build failed: %s\n", err);
    return g;
}

static mg_header lt_headers[] = {
    {.name = "X-Multi", .value = "a", .name_len = 7, .value_len = 1},
    {.name = "Content-Type", .value = "application/json", .name_len = 12, .value_len = 16},
    {.name = "x-multi", .value = "b", .name_len = 7, .value_len = 1},
};

static inline mg_lua_req lt_req(const char *model, const char *body)
{
    mg_lua_req r = {
        .id = "req-1", .method = "POST", .path = "/v1/chat/completions", .query = "",
        .client_format = "openai", .model = model, .stream = 1, .tokens_in_estimate = 1234,
        .headers = lt_headers, .nheaders = 3, .body = body, .body_len = body ? strlen(body) : 0,
        .key_id = "key1", .user_id = "user1", .session_id = "sess1", .environment = "test",
    };
    return r;
}

/* A finished route call, copied out (the call is freed in done). */
typedef struct lt_result {
    int done, was_pending, outcome, status;
    char msgbuf[600];
    const char *msg; /* NULL when the call had no message */
    size_t n;
    struct {
        char provider_buf[64], model_buf[128];
        const char *provider, *model;
        double timeout_total, timeout_first_byte;
        int max_attempts;
    } t[8];
    mg_lua_req req;
} lt_result;

static inline void lt_on_done(mg_lua_call *c, void *ud)
{
    lt_result *r = ud;
    r->done = 1;
    r->outcome = mg_lua_call_outcome(c);
    r->status = mg_lua_call_status(c);
    const char *m = mg_lua_call_message(c);
    snprintf(r->msgbuf, sizeof r->msgbuf, "%s", m ? m : "");
    r->msg = m ? r->msgbuf : NULL;
    size_t n;
    const mg_lua_target *t = mg_lua_call_targets(c, &n);
    r->n = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        r->t[i].provider = t[i].provider ? r->t[i].provider_buf : NULL;
        r->t[i].model = t[i].model ? r->t[i].model_buf : NULL;
        snprintf(r->t[i].provider_buf, 64, "%s", t[i].provider ? t[i].provider : "");
        snprintf(r->t[i].model_buf, 128, "%s", t[i].model ? t[i].model : "");
        r->t[i].timeout_total = t[i].timeout_total;
        r->t[i].timeout_first_byte = t[i].timeout_first_byte;
        r->t[i].max_attempts = t[i].max_attempts;
    }
    mg_lua_call_free(c);
}

static inline void lt_route_body(mg_lua_gen *g, const char *model, const char *body,
                                 size_t body_len, lt_result *r)
{
    memset(r, 0, sizeof *r);
    r->req = lt_req(model, NULL);
    r->req.body = body;
    r->req.body_len = body_len;
    mg_lua_call *c = mg_lua_call_route(g, &r->req, lt_on_done, r);
    r->was_pending = c != NULL;
    double until = mg_now_mono() + 10;
    while (!r->done && mg_now_mono() < until)
        ev_run(lt_loop(), EVRUN_ONCE);
}

static inline void lt_route(mg_lua_gen *g, const char *model, lt_result *r)
{
    lt_route_body(g, model, NULL, 0, r);
}

/* Start a call that waits, let the loop turn, cancel it. Returns whether
 * done fired (it must not). */
static inline int lt_route_cancel(mg_lua_gen *g, const char *model)
{
    lt_result r;
    memset(&r, 0, sizeof r);
    r.req = lt_req(model, NULL);
    mg_lua_call *c = mg_lua_call_route(g, &r.req, lt_on_done, &r);
    if (!c)
        return 1;
    for (int i = 0; i < 3; i++)
        ev_run(lt_loop(), EVRUN_NOWAIT);
    if (r.done)
        return 1;
    mg_lua_call_cancel(c);
    ev_run(lt_loop(), EVRUN_NOWAIT);
    return r.done;
}

#endif
