/* test_config.c — the config loader: the bundled demo, defaults, every
 * error kind (with its file and key path), all errors in one pass, secrets
 * kept out of errors, the sandbox, model lookups and restart detection.
 * Fixtures: tests/unit/fixtures/config/. Home: $MOONGATE_HOME, else the
 * MG_HOME macro (-DMG_HOME=\"/work/main\" when compiling by hand). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "test.h"

#ifndef MG_HOME
#define MG_HOME "."
#endif

static char err[4096];

static const char *home(void)
{
    const char *h = getenv("MOONGATE_HOME");
    return h && h[0] ? h : MG_HOME;
}

static const char *fixture(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/tests/unit/fixtures/config/%s", home(), name);
    return path;
}

static mg_config *load(const char *name)
{
    err[0] = '\0';
    return mg_config_load(fixture(name), home(), err, sizeof err);
}

static int has(const char *text, const char *needle)
{
    if (!strstr(text, needle)) {
        fprintf(stderr, "  expected to find \"%s\" in:\n%s\n", needle, text);
        return 0;
    }
    return 1;
}

static int count_lines(const char *text)
{
    int n = text[0] ? 1 : 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

static void test_demo_loads(void)
{
    char demo[1024];
    snprintf(demo, sizeof demo, "%s/examples/demo.lua", home());
    mg_config *c = mg_config_load(demo, home(), err, sizeof err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(c->is_demo);
    CHECK_EQ_INT(c->nproviders, 3);
    CHECK_EQ_STR(c->providers[0].name, "mock-openai");
    CHECK_EQ_STR(c->providers[1].name, "mock-anthropic");
    CHECK_EQ_STR(c->providers[2].name, "mock-gemini");
    for (size_t i = 0; i < c->nproviders; i++) {
        CHECK_EQ_INT(c->providers[i].format, MG_FMT_MOCK);
        CHECK(c->providers[i].base_url == NULL);
    }
    CHECK_EQ_STR(c->listen_host, "127.0.0.1");
    CHECK_EQ_INT(c->listen_port, 8080);
    /* The demo's data goes to the working directory, policies to home. */
    CHECK_EQ_STR(c->db, "data/moongate.db");
    char pol[1100];
    snprintf(pol, sizeof pol, "%s/policies", home());
    CHECK_EQ_STR(c->policies, pol);
    CHECK(mg_config_provider_for_model(c, "gpt-4o-mini") == &c->providers[0]);
    CHECK(mg_config_provider_for_model(c, "claude-sonnet-4-5") == &c->providers[1]);
    CHECK(mg_config_provider_for_model(c, "gemini-2.5-pro") == &c->providers[2]);
    /* Mock models are priced like the real ones they imitate. */
    const mg_model_info *m = mg_config_model(c, "gpt-4o-mini");
    CHECK(m && m->price_input > 0 && m->price_output > 0);
    const mg_model_info *mock = mg_config_model(c, "mock-gpt-4o-mini");
    CHECK(mock && m && near(mock->price_input, m->price_input));
    CHECK_EQ_STR(mock ? mock->vendor : NULL, "mock");
    mg_config_free(c);
}

static void test_default_and_cwd_config(void)
{
    char cwd[1024], dir[] = "/tmp/mg-cfg-test-XXXXXX";
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(mkdtemp(dir) != NULL);
    CHECK(chdir(dir) == 0);
    mg_config *c = mg_config_load(NULL, home(), err, sizeof err);
    CHECK(c && c->is_demo && c->nproviders == 3);
    mg_config_free(c);

    FILE *f = fopen("moongate.lua", "w");
    CHECK(f != NULL);
    if (f) {
        fputs("return { db = 'x.db', providers = { { name = 'm', format = 'mock', "
              "models = { 'a' } } } }\n", f);
        fclose(f);
    }
    c = mg_config_load(NULL, home(), err, sizeof err);
    CHECK(c != NULL);
    if (c) {
        CHECK(!c->is_demo);
        CHECK_EQ_STR(c->path, "./moongate.lua");
        CHECK_EQ_STR(c->db, "x.db");
        CHECK_EQ_INT(c->nproviders, 1);
    }
    mg_config_free(c);
    unlink("moongate.lua");
    CHECK(chdir(cwd) == 0);
    rmdir(dir);
}

static void test_defaults_applied(void)
{
    mg_config *c = load("minimal.lua");
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    char want[1100];
    CHECK_EQ_STR(c->home, home());
    CHECK_EQ_STR(c->path, fixture("minimal.lua"));
    CHECK_EQ_STR(c->listen_host, "127.0.0.1");
    CHECK_EQ_INT(c->listen_port, 8080);
    CHECK(c->tls_addr_host == NULL);
    snprintf(want, sizeof want, "%s/tests/unit/fixtures/config/data/moongate.db", home());
    CHECK_EQ_STR(c->db, want);
    snprintf(want, sizeof want, "%s/tests/unit/fixtures/config/policies", home());
    CHECK_EQ_STR(c->policies, want);
    snprintf(want, sizeof want, "%s/tests/unit/fixtures/config/data/admin_token", home());
    CHECK_EQ_STR(c->admin_token_file, want);
    CHECK_EQ_INT(c->workers, 1);
    CHECK(c->admin_token == NULL);
    CHECK_EQ_STR(c->access_log, "-");
    CHECK_EQ_STR(c->log_level, "info");
    CHECK_EQ_STR(c->environment, "default");
    CHECK_EQ_INT(c->max_header_bytes, 32768);
    CHECK_EQ_INT(c->max_headers, 100);
    CHECK_EQ_INT(c->max_body_bytes, 32 * 1024 * 1024);
    CHECK(near(c->header_timeout, 10) && near(c->body_timeout, 30) && near(c->request_timeout, 60));
    CHECK(near(c->keepalive_timeout, 75) && near(c->shutdown_grace, 30));
    CHECK(near(c->flush_interval, 0.01));
    CHECK_EQ_INT(c->queue_capacity, 65536);
    CHECK_EQ_INT(c->retention_days, 30);
    CHECK_EQ_INT(c->previews, 0);
    CHECK_EQ_INT(c->max_attempts, 3);
    CHECK_EQ_INT(c->default_max_tokens, 4096);
    const mg_provider_cfg *p = &c->providers[0];
    CHECK(near(p->t_connect, 10) && near(p->t_first_byte, 300));
    CHECK(near(p->t_idle, 120) && near(p->t_total, 1800));
    CHECK_EQ_INT(p->breaker.failure_threshold, 5);
    CHECK(near(p->breaker.cooldown, 30));
    CHECK_EQ_INT(p->breaker.half_open_probes, 1);
    CHECK(near(p->mock_speed, 1.0));
    CHECK(p->api_key == NULL && p->nheaders == 0 && p->ntags == 0);
    CHECK(c->nmodels > 20); /* the bundled data */
    mg_config_free(c);
}

static void test_every_key(void)
{
    mg_config *c = load("full.lua");
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    char want[1100];
    CHECK_EQ_STR(c->listen_host, "::1");
    CHECK_EQ_INT(c->listen_port, 9090);
    CHECK_EQ_STR(c->tls_addr_host, "0.0.0.0");
    CHECK_EQ_INT(c->tls_port, 8443);
    snprintf(want, sizeof want, "%s/tests/unit/fixtures/config/tls/cert.pem", home());
    CHECK_EQ_STR(c->tls_cert, want);
    CHECK_EQ_STR(c->tls_key, "/etc/moongate/key.pem");
    CHECK_EQ_STR(c->policies, "/srv/policies");
    CHECK_EQ_INT(c->workers, 4);
    CHECK_EQ_STR(c->admin_token, "0123456789abcdef-admin");
    CHECK(c->access_log == NULL);
    CHECK_EQ_STR(c->log_level, "debug");
    CHECK_EQ_INT(c->max_body_bytes, 1048576);
    CHECK(near(c->body_timeout, 15.5) && near(c->request_timeout, 20));
    CHECK_EQ_INT(c->retention_days, 0);
    CHECK_EQ_INT(c->previews, 1);
    CHECK_EQ_INT(c->max_attempts, 2);
    CHECK_EQ_INT(c->nproviders, 3);
    const mg_provider_cfg *p = &c->providers[0];
    CHECK_EQ_INT(p->format, MG_FMT_RESPONSES);
    CHECK(near(p->t_connect, 1) && near(p->t_total, 4));
    CHECK_EQ_INT(p->breaker.half_open_probes, 3);
    CHECK(near(p->breaker.cooldown, 1.5));
    CHECK_EQ_INT(p->ntags, 2);
    CHECK_EQ_STR(p->ntags == 2 ? p->tags[1] : NULL, "fast");
    CHECK_EQ_INT(c->providers[1].format, MG_FMT_GEMINI);
    CHECK(near(c->providers[2].mock_speed, 0));
    mg_config_free(c);
}

static void test_env_api_key(void)
{
    setenv("MG_TEST_OPENAI_API_KEY", "sk-test-from-env-123456", 1);
    unsetenv("MG_TEST_UNSET_API_KEY");
    mg_config *c = load("env_key.lua");
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_STR(c->providers[0].api_key, "sk-test-from-env-123456");
        CHECK_EQ_STR(c->providers[0].base_url, "https://api.openai.com/v1/");
        CHECK(c->providers[1].api_key == NULL); /* unset: pass the client's key */
        CHECK_EQ_INT(c->providers[1].nheaders, 2);
        if (c->providers[1].nheaders == 2) { /* sorted by name */
            CHECK_EQ_STR(c->providers[1].headers[0].name, "anthropic-beta");
            CHECK_EQ_STR(c->providers[1].headers[1].name, "X-Team");
            CHECK_EQ_STR(c->providers[1].headers[1].value, "core");
        }
    } else {
        fprintf(stderr, "%s\n", err);
    }
    mg_config_free(c);
    unsetenv("MG_TEST_OPENAI_API_KEY");
}

static void test_unknown_nested_key(void)
{
    mg_config *c = load("unknown_nested.lua");
    CHECK(c == NULL);
    char want[1200];
    snprintf(want, sizeof want,
             "%s: providers[2].timeouts.conect: unknown key (known: connect, first_byte, "
             "idle, total)", fixture("unknown_nested.lua"));
    CHECK(has(err, want));
    CHECK_EQ_INT(count_lines(err), 1);
    mg_config_free(c);
}

static void test_wrong_type(void)
{
    mg_config *c = load("wrong_type.lua");
    CHECK(c == NULL);
    char want[1200];
    snprintf(want, sizeof want, "%s: workers: expected integer, got string",
             fixture("wrong_type.lua"));
    CHECK(has(err, want));
}

static void test_missing_models(void)
{
    mg_config *c = load("missing_models.lua");
    CHECK(c == NULL);
    CHECK(has(err, "providers[1].models: required"));
    CHECK(has(err, "providers[2].models: must not be empty"));
}

static void test_duplicate_names(void)
{
    mg_config *c = load("duplicate_names.lua");
    CHECK(c == NULL);
    CHECK(has(err, "providers[3].name: duplicate provider name 'same' (also providers[1])"));
    CHECK_EQ_INT(count_lines(err), 1);
}

static void test_syntax_error(void)
{
    mg_config *c = load("syntax_error.lua");
    CHECK(c == NULL);
    char want[1200];
    snprintf(want, sizeof want, "%s:3:", fixture("syntax_error.lua"));
    CHECK(has(err, want));
    CHECK(has(err, "unexpected symbol near '='"));
    CHECK(!strstr(err, "moongate-config"));

    c = load("runtime_error.lua");
    CHECK(c == NULL);
    snprintf(want, sizeof want, "%s:4: attempt to index", fixture("runtime_error.lua"));
    CHECK(has(err, want));

    c = load("not_table.lua");
    CHECK(c == NULL);
    CHECK(has(err, "must return a table"));
    CHECK(has(err, "got number"));

    c = load("does-not-exist.lua");
    CHECK(c == NULL);
    CHECK(has(err, "does-not-exist.lua: cannot open: No such file or directory"));
}

static void test_multiple_errors(void)
{
    mg_config *c = load("multiple_errors.lua");
    CHECK(c == NULL);
    CHECK(has(err, "listen: invalid address 'localhost'"));
    CHECK(has(err, "workers: must be between 1 and 64 (got 100)"));
    CHECK(has(err, "log_level: expected one of debug, info, warn, error (got 'verbose')"));
    CHECK(has(err, "providers[1].name: 'Bad Name' is not a valid name"));
    CHECK(has(err, "providers[1].base_url: required for format 'openai'"));
    CHECK(has(err, "limits.max_body_bytes: expected integer, got 1.5"));
    CHECK_EQ_INT(count_lines(err), 6);

    c = load("list_shapes.lua");
    CHECK(c == NULL);
    CHECK(has(err, "providers: expected a list { ..., ... } of provider tables, found key"));
    CHECK(has(err, "limits: unexpected list item [1]"));
}

static void test_secrets_never_in_errors(void)
{
    setenv("MG_TEST_OPENAI_API_KEY", "sk-env-SECRET-0003", 1);
    mg_config *c = load("secret_errors.lua");
    CHECK(c == NULL);
    CHECK(!strstr(err, "SECRET"));
    CHECK(has(err, "providers[1].api_key: value <redacted> contains a control character"));
    CHECK(has(err, "admin_token: must be at least 16 characters (got 11)"));
    CHECK(has(err, "providers[2].timeouts.connect: expected number, got string"));
    CHECK(has(err, "providers[2].headers[\"Bad Header\"]: not a valid header name"));
    CHECK(has(err, "providers[3].format: expected one of openai, anthropic, gemini, "
                   "responses, mock (got 'bogus')"));
    CHECK(has(err, "providers[3].api_key: expected string, got number"));
    CHECK(!strstr(err, "12345"));

    c = load("secret_runtime.lua");
    CHECK(c == NULL);
    CHECK(has(err, "cannot use key <redacted>"));
    CHECK(!strstr(err, "sk-env-SECRET-0003"));
    unsetenv("MG_TEST_OPENAI_API_KEY");
}

static void test_error_truncation(void)
{
    char small[24];
    memset(small, 'x', sizeof small);
    mg_config *c = mg_config_load(fixture("multiple_errors.lua"), home(), small, sizeof small);
    CHECK(c == NULL);
    CHECK(strlen(small) == sizeof small - 1);
    CHECK(strcmp(small + sizeof small - 4, "...") == 0);
    char one[1] = {'x'};
    c = mg_config_load(fixture("multiple_errors.lua"), home(), one, sizeof one);
    CHECK(c == NULL && one[0] == '\0');
    c = mg_config_load(fixture("multiple_errors.lua"), home(), NULL, 0);
    CHECK(c == NULL);
}

static void test_sandbox(void)
{
    mg_config *c = load("sandbox.lua");
    CHECK(c != NULL);
    if (!c)
        fprintf(stderr, "%s\n", err);
    CHECK_EQ_STR(c ? c->environment : NULL, "A2-B2");
    mg_config_free(c);

    c = load("endless.lua");
    CHECK(c == NULL);
    char want[1200];
    snprintf(want, sizeof want, "%s:2: evaluation took longer than", fixture("endless.lua"));
    CHECK(has(err, want));

    c = load("memory_hog.lua");
    CHECK(c == NULL);
    snprintf(want, sizeof want, "%s: not enough memory", fixture("memory_hog.lua"));
    CHECK(has(err, want));

    char dir[1100];
    snprintf(dir, sizeof dir, "%s/tests/unit/fixtures/config", home());
    c = mg_config_load(dir, home(), err, sizeof err);
    CHECK(c == NULL);
    CHECK(has(err, "cannot read: Is a directory"));
}

static void test_model_lookup(void)
{
    mg_config *c = load("minimal.lua");
    CHECK(c != NULL);
    if (!c)
        return;
    const mg_model_info *m = mg_config_model(c, "gpt-4o-mini");
    CHECK(m && strcmp(m->name, "gpt-4o-mini") == 0);
    CHECK(m && near(m->price_input, 0.15) && near(m->price_output, 0.60));
    CHECK_EQ_STR(m ? m->vendor : NULL, "openai");
    m = mg_config_model(c, "gpt-4o-mini-2024-07-18");
    CHECK_EQ_STR(m ? m->name : NULL, "gpt-4o-mini");
    m = mg_config_model(c, "gpt-4o-2024-08-06");
    CHECK_EQ_STR(m ? m->name : NULL, "gpt-4o");
    m = mg_config_model(c, "claude-opus-4-1-20250805");
    CHECK_EQ_STR(m ? m->name : NULL, "claude-opus-4-1");
    m = mg_config_model(c, "claude-sonnet-4-5@20250929");
    CHECK_EQ_STR(m ? m->name : NULL, "claude-sonnet-4-5");
    m = mg_config_model(c, "claude-sonnet-4-5-20250929");
    CHECK(m && near(m->price_cache_write, 3.75) && near(m->price_cached_read, 0.30));
    m = mg_config_model(c, "openai/gpt-4.1-nano");
    CHECK_EQ_STR(m ? m->name : NULL, "gpt-4.1-nano");
    m = mg_config_model(c, "models/gemini-2.5-flash-lite-preview-09-2025");
    CHECK_EQ_STR(m ? m->name : NULL, "gemini-2.5-flash-lite");
    CHECK(mg_config_model(c, "gpt-50") == NULL);  /* no match inside a number */
    CHECK(mg_config_model(c, "gpt-4.5") == NULL); /* '.' is not a boundary */
    CHECK(mg_config_model(c, "") == NULL);
    CHECK(mg_config_model(c, "unheard-of") == NULL);
    CHECK(mg_config_model(NULL, "gpt-4o") == NULL);
    mg_config_free(c);
}

static void test_provider_lookup(void)
{
    mg_config *c = load("full.lua");
    CHECK(c != NULL);
    if (!c)
        return;
    const mg_provider_cfg *p;
    const char *model;
    CHECK(mg_config_provider(c, "g") == &c->providers[1]);
    CHECK(mg_config_provider(c, "nope") == NULL);
    CHECK(mg_config_provider_for_model(c, "gemini-2.5-pro") == &c->providers[1]);
    CHECK(mg_config_provider_for_model(c, "gemini-2.5-pro-001") == NULL); /* exact only */
    CHECK(mg_config_resolve(c, "mk/anything-new", &p, &model) == MG_OK);
    CHECK(p == &c->providers[2]);
    CHECK_EQ_STR(model, "anything-new");
    CHECK(mg_config_resolve(c, "gpt-5", &p, &model) == MG_OK);
    CHECK(p == &c->providers[0]);
    CHECK_EQ_STR(model, "gpt-5");
    CHECK(mg_config_resolve(c, "nobody/gpt-5", &p, &model) == MG_ERR);
    CHECK(p == NULL && model == NULL);
    CHECK(mg_config_resolve(c, "mk/", &p, &model) == MG_ERR);
    CHECK_EQ_STR(mg_format_name(MG_FMT_ANTHROPIC), "anthropic");
    CHECK_EQ_STR(mg_format_name(99), "unknown");
    CHECK_EQ_INT(mg_format_from_name("gemini"), MG_FMT_GEMINI);
    CHECK_EQ_INT(mg_format_from_name("Gemini"), MG_FMT_UNKNOWN);
    mg_config_free(c);
}

static void test_config_overrides_price(void)
{
    mg_config *c = load("model_override.lua");
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const mg_model_info *m = mg_config_model(c, "gpt-4o");
    CHECK(m && near(m->price_input, 1.00));
    CHECK(m && near(m->price_output, 10.00)); /* untouched fields keep bundled values */
    CHECK_EQ_STR(m ? m->vendor : NULL, "openai");
    m = mg_config_model(c, "house-model");
    CHECK(m && near(m->price_input, 0.5) && near(m->price_output, 1.5));
    CHECK(m && m->context_window == 32000);
    CHECK_EQ_STR(m ? m->vendor : NULL, "acme");
    mg_config_free(c);
}

static void test_restart_needed(void)
{
    mg_config *a = load("restart_a.lua");
    mg_config *a2 = load("restart_a.lua");
    mg_config *b = load("restart_b.lua");
    CHECK(a && a2 && b);
    if (a && a2 && b) {
        char what[128];
        CHECK_EQ_INT(mg_config_restart_needed(a, a2, what, sizeof what), 0);
        CHECK_EQ_STR(what, "");
        CHECK_EQ_INT(mg_config_restart_needed(a, b, what, sizeof what), 1);
        CHECK_EQ_STR(what, "listen, db, workers");
        char tiny[6];
        CHECK_EQ_INT(mg_config_restart_needed(a, b, tiny, sizeof tiny), 1);
        CHECK(strlen(tiny) < sizeof tiny);
        CHECK_EQ_INT(mg_config_restart_needed(a, b, NULL, 0), 1);
    }
    mg_config_free(a);
    mg_config_free(a2);
    mg_config_free(b);
}

static void test_override_and_addr(void)
{
    mg_config *c = load("minimal.lua");
    CHECK(c != NULL);
    if (!c)
        return;
    char e[128];
    CHECK(mg_config_override(c, "0.0.0.0:9999", "/tmp/x.db", e, sizeof e) == MG_OK);
    CHECK_EQ_STR(c->listen_host, "0.0.0.0");
    CHECK_EQ_INT(c->listen_port, 9999);
    CHECK_EQ_STR(c->db, "/tmp/x.db");
    CHECK(mg_config_override(c, "nope", NULL, e, sizeof e) == MG_ERR);
    CHECK(has(e, "--listen"));
    mg_config_free(c);

    char *host = NULL;
    int port = 0;
    static const char *const bad[] = {"", ":80", "host:", "host:99999", "host:8o", "[::1]80",
                                      "[]:80", "a b:80", "::1:80", "host:-1"};
    for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
        CHECK(mg_config_parse_addr(bad[i], &host, &port) == MG_ERR);
        CHECK(host == NULL);
    }
    CHECK(mg_config_parse_addr("[fe80::1]:443", &host, &port) == MG_OK);
    CHECK_EQ_STR(host, "fe80::1");
    CHECK_EQ_INT(port, 443);
    free(host);
    CHECK(mg_config_parse_addr("localhost:0", &host, &port) == MG_OK);
    CHECK_EQ_INT(port, 0);
    free(host);
}

static void test_example_config_loads(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/moongate.example.lua", home());
    mg_config *c = mg_config_load(path, home(), err, sizeof err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(!c->is_demo);
    CHECK_EQ_INT(c->nproviders, 5);
    CHECK(mg_config_model(c, "llama3.1:8b") != NULL);
    mg_config_free(c);
}

TEST_MAIN(T(test_demo_loads), T(test_default_and_cwd_config), T(test_defaults_applied),
          T(test_every_key), T(test_env_api_key), T(test_unknown_nested_key),
          T(test_wrong_type), T(test_missing_models), T(test_duplicate_names),
          T(test_syntax_error), T(test_multiple_errors), T(test_secrets_never_in_errors),
          T(test_error_truncation), T(test_sandbox), T(test_model_lookup),
          T(test_provider_lookup), T(test_config_overrides_price), T(test_restart_needed),
          T(test_override_and_addr), T(test_example_config_loads))
