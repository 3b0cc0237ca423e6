/* main.c — the `moongate` command line: serve, check, mock, version and the
 * test helper lua-test. Each command is a function in its part; this file
 * only parses arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "mock/mock.h"
#include "runtime/gateway.h"
#include "crosstalk/crosstalk.h"
#include "whatif/whatif.h"
#include "keys/keys.h"

static const char usage_text[] =
    "usage: moongate <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [-c CONFIG] [--listen HOST:PORT] [--db PATH]\n"
    "                     run the gateway (no -c: ./moongate.lua, else the bundled demo)\n"
    "  check [-c CONFIG]  load config and policies, print every problem, exit 1 on error\n"
    "  mock --listen HOST:PORT [--speed X]\n"
    "                     run the mock providers as a real HTTP upstream\n"
    "  keys list|create|revoke|rotate ...\n"
    "                     manage virtual keys on the running gateway (moongate keys for help)\n"
    "  whatif POLICY.lua [--since 7d] [-c CONFIG]\n"
    "                     replay recorded traffic through a routing policy: cost, saving, share moved\n"
    "  crosstalk PRESET.lua [-c CONFIG] [--rounds N] [--json] [--standalone]\n"
    "            [--url URL] [--token T]\n"
    "                     run a multi-model conversation (examples/crosstalk/)\n"
    "  version            print the version\n";

static const char *home_dir(void)
{
    const char *h = getenv("MOONGATE_HOME");
    return h && *h ? h : MG_HOME;
}

/* Parses the options shared by serve and check. Returns 0 or prints why. */
static int parse_serve_args(int argc, char **argv, mg_serve_opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && v)
            o->config_path = v, i++;
        else if (!strcmp(a, "--listen") && v)
            o->listen = v, i++;
        else if (!strcmp(a, "--db") && v)
            o->db = v, i++;
        else {
            fprintf(stderr, "moongate: unknown or incomplete option '%s'\n\n%s", a, usage_text);
            return -1;
        }
    }
    return 0;
}

static int cmd_check(const mg_serve_opts *o)
{
    char err[8192] = "";
    mg_config *cfg = mg_config_load(o->config_path, home_dir(), err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = mg_gateway_check_policies(cfg, err, sizeof err);
    if (rc != MG_OK)
        fprintf(stderr, "%s\n", err);
    else
        printf("%s: ok (%zu providers, %zu models priced, policies in %s)\n", cfg->path,
               cfg->nproviders, cfg->nmodels, cfg->policies);
    mg_config_free(cfg);
    return rc == MG_OK ? 0 : 1;
}

static int cmd_mock(int argc, char **argv)
{
    const char *listen = NULL;
    mg_mock_opts opts = {.speed = 1.0};
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            listen = argv[++i];
        else if (!strcmp(argv[i], "--speed") && i + 1 < argc)
            opts.speed = atof(argv[++i]);
        else {
            fprintf(stderr, "moongate mock: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!listen) {
        fprintf(stderr, "moongate mock: --listen HOST:PORT is required\n");
        return 2;
    }
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) {
        fprintf(stderr, "moongate mock: --listen wants HOST:PORT, got '%s'\n", listen);
        return 2;
    }
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    return mg_mock_serve(host, atoi(colon + 1), &opts);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("moongate %s\n", MG_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "serve") || !strcmp(cmd, "check")) {
        mg_serve_opts o = {0};
        if (parse_serve_args(argc, argv, &o) != 0)
            return 2;
        return !strcmp(cmd, "serve") ? mg_gateway_serve(&o) : cmd_check(&o);
    }
    if (!strcmp(cmd, "keys"))
        return mg_keys_cli_main(argc - 1, argv + 1, home_dir());
    if (!strcmp(cmd, "whatif"))
        return mg_whatif_main(argc - 1, argv + 1, home_dir());
    if (!strcmp(cmd, "crosstalk"))
        return mg_crosstalk_cli_main(argc, argv, home_dir());
    if (!strcmp(cmd, "mock"))
        return cmd_mock(argc, argv);
    if (!strcmp(cmd, "lua-test") && argc == 3)
        return mg_lua_test_main(home_dir(), argv[2]);
    fprintf(stderr, "moongate: unknown command '%s'\n\n%s", cmd, usage_text);
    return 2;
}
