/* fuzz_config.c — libFuzzer harness for the config loader
 * (src/config/config.h). The input is written to a temp file and loaded
 * with mg_config_load against the repository's home (so the bundled model
 * data loads too). A config that loads is then run through the lookups the
 * rest of the host uses (providers, models, route entries, overrides,
 * restart comparison) and freed. Checks beyond the sanitizers: a failed
 * load always says why, and a value read from an environment variable
 * whose name marks it secret never appears in the error text.
 * Uses src/config, src/core, LuaJIT. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/log.h"

#define SECRET_VALUE "sk-fuzz-secret-7f3a9c"

static char cfg_path[256];
static char tmp_dir[128];

static void cleanup(void)
{
    unlink(cfg_path);
    rmdir(tmp_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mg_log_set_level(MG_LOG_ERROR + 1);
    /* A config may read it with os.getenv("FUZZ_API_KEY"); errors must
     * never echo it. */
    setenv("FUZZ_API_KEY", SECRET_VALUE, 1);
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/mg-fuzz-config-%d", (int)getpid());
    if (mkdir(tmp_dir, 0700) != 0 && access(tmp_dir, W_OK) != 0) {
        perror(tmp_dir);
        abort();
    }
    snprintf(cfg_path, sizeof cfg_path, "%s/moongate.lua", tmp_dir);
    atexit(cleanup);
    return 0;
}

static void exercise(mg_config *c)
{
    static const char *const models[] = {"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai/gpt-4o",
                                         "models/gemini-2.5-pro", "claude-sonnet-4-5", "x", ""};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        (void)mg_config_model(c, models[i]);
        (void)mg_config_provider_for_model(c, models[i]);
        const mg_provider_cfg *p;
        const char *m;
        (void)mg_config_resolve(c, models[i], &p, &m);
    }
    for (size_t i = 0; i < c->nproviders; i++) {
        const mg_provider_cfg *pc = &c->providers[i];
        if (mg_config_provider(c, pc->name) == NULL)
            abort(); /* every loaded provider is found by its name */
        for (size_t j = 0; j < pc->nmodels; j++) {
            const mg_provider_cfg *p;
            const char *m;
            char spec[512];
            snprintf(spec, sizeof spec, "%s/%s", pc->name, pc->models[j]);
            (void)mg_config_resolve(c, spec, &p, &m);
        }
    }
    char what[128];
    if (mg_config_restart_needed(c, c, what, sizeof what) != 0)
        abort(); /* a config never differs from itself */
    char err[256];
    (void)mg_config_override(c, "127.0.0.1:18080", "/tmp/mg-fuzz.db", err, sizeof err);
    (void)mg_config_override(c, "[::1]:99999", NULL, err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(cfg_path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);

    char err[8192];
    mg_config *c = mg_config_load(cfg_path, MG_HOME, err, sizeof err);
    if (c) {
        exercise(c);
        mg_config_free(c);
        return 0;
    }
    if (err[0] == '\0') {
        fprintf(stderr, "fuzz_config: load failed without a message\n");
        abort();
    }
    /* Only a secret the file did not spell out itself counts: a syntax
     * error may quote the line it is on. */
    if (strstr(err, SECRET_VALUE) && !memmem(data, size, SECRET_VALUE, strlen(SECRET_VALUE))) {
        fprintf(stderr, "fuzz_config: a secret leaked into the error text:\n%s\n", err);
        abort();
    }
    return 0;
}
