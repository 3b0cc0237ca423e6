/* cli.c — `moongate crosstalk PRESET.lua [-c CONFIG] [--rounds N] [--json]
 * [--standalone] [--url URL] [--token T]`: reads the preset, finds the
 * gateway (the config's listen address, or --url) and its admin token
 * (--token, the config's admin_token, or its admin_token_file), and
 * follows the session there, so the dashboard shows it too. With
 * --standalone, or when no gateway answers, it starts one inside this
 * process first (cli_standalone.c). Uses config, libcurl, cli_*.c. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/config.h"
#include "cli.h"
#include "crosstalk.h"

static const char usage[] =
    "usage: moongate crosstalk PRESET.lua [-c CONFIG] [--rounds N] [--json] [--standalone]\n"
    "                          [--url URL] [--token TOKEN]\n"
    "\n"
    "Runs a multi-model conversation from a preset (see examples/crosstalk/) on the\n"
    "running gateway, printing it live; Ctrl-C stops it. Without a running gateway\n"
    "(or with --standalone) it runs one in this process, with the same config,\n"
    "policies and database.\n"
    "\n"
    "  -c, --config FILE  gateway config (default: ./moongate.lua, else the demo)\n"
    "  --rounds N         override the preset's rounds\n"
    "  --json             print the session's events as JSON lines\n"
    "  --standalone       do not look for a running gateway\n"
    "  --url URL          the gateway (default: the config's listen address)\n"
    "  --token TOKEN      admin token (default: the config's, or its token file)\n"
    "\n"
    "exit status: 0 finished, 3 stopped, 4 failed, 5 interrupted, 1 error, 2 usage\n";

static int parse_args(ct_cli *c, int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && v)
            c->config_path = v, i++;
        else if (!strcmp(a, "--rounds") && v) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000) {
                fprintf(stderr, "moongate crosstalk: --rounds wants 1..1000, got '%s'\n", v);
                return -1;
            }
            c->rounds = (int)n;
            i++;
        } else if (!strcmp(a, "--json"))
            c->json = 1;
        else if (!strcmp(a, "--standalone"))
            c->standalone = 1;
        else if (!strcmp(a, "--url") && v)
            c->url_opt = v, i++;
        else if (!strcmp(a, "--token") && v)
            c->token_opt = v, i++;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 1;
        } else if (a[0] != '-' && !c->preset_path)
            c->preset_path = a;
        else {
            fprintf(stderr, "moongate crosstalk: unknown or incomplete option '%s'\n\n%s", a,
                    usage);
            return -1;
        }
    }
    if (!c->preset_path) {
        fputs(usage, stderr);
        return -1;
    }
    return 0;
}

static int read_preset(ct_cli *c)
{
    FILE *f = fopen(c->preset_path, "rb");
    if (!f) {
        fprintf(stderr, "moongate crosstalk: cannot open %s\n", c->preset_path);
        return -1;
    }
    mg_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < 256 * 1024)
        mg_buf_append(&b, chunk, n);
    fclose(f);
    c->source = mg_xstrndup(b.data ? b.data : "", b.len);
    c->source_len = b.len;
    mg_buf_free(&b);
    const char *base = strrchr(c->preset_path, '/');
    snprintf(c->name, sizeof c->name, "%s", base ? base + 1 : c->preset_path);
    return 0;
}

static void read_token_file(const char *path, char *out, size_t n)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    if (fgets(out, (int)n, f))
        out[strcspn(out, " \t\r\n")] = '\0';
    fclose(f);
}

/* URL and token of the gateway the config describes. */
static void resolve_target(ct_cli *c, const mg_config *cfg)
{
    if (c->url_opt) {
        snprintf(c->url, sizeof c->url, "%s", c->url_opt);
        size_t n = strlen(c->url);
        while (n && c->url[n - 1] == '/')
            c->url[--n] = '\0';
    } else {
        const char *host = cfg->listen_host;
        if (!strcmp(host, "0.0.0.0") || !*host)
            host = "127.0.0.1";
        else if (!strcmp(host, "::"))
            host = "::1";
        int v6 = strchr(host, ':') != NULL;
        snprintf(c->url, sizeof c->url, "http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "",
                 cfg->listen_port);
    }
    if (c->token_opt)
        snprintf(c->token, sizeof c->token, "%s", c->token_opt);
    else if (cfg->admin_token)
        snprintf(c->token, sizeof c->token, "%s", cfg->admin_token);
    else
        read_token_file(cfg->admin_token_file, c->token, sizeof c->token);
}

/* 1 when a moongate answers /healthz at c->url. */
static int gateway_answers(ct_cli *c)
{
    char url[400], err[256];
    snprintf(url, sizeof url, "%s/healthz", c->url);
    mg_buf out = {0};
    long status = ct_cli_request("GET", url, NULL, NULL, 1500, &out, err, sizeof err);
    mg_buf_free(&out);
    return status == 200;
}

int mg_crosstalk_cli_main(int argc, char **argv, const char *home)
{
    ct_cli c;
    memset(&c, 0, sizeof c);
    c.home = home;
    c.exit_code = CLI_ERROR;
    c.err = stderr;
    int parsed = parse_args(&c, argc, argv);
    if (parsed != 0)
        return parsed > 0 ? 0 : CLI_USAGE;
    if (read_preset(&c) != 0)
        return CLI_ERROR;
    char err[8192] = "";
    mg_config *cfg = mg_config_load(c.config_path, home, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "moongate crosstalk: the config does not load:\n%s\n", err);
        free(c.source);
        return CLI_ERROR;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    resolve_target(&c, cfg);
    int rc = CLI_ERROR;
    if (!c.standalone && !gateway_answers(&c)) {
        if (c.url_opt) {
            fprintf(stderr, "moongate crosstalk: no gateway answers at %s\n", c.url);
            goto done;
        }
        if (!c.json)
            fprintf(stderr, "moongate crosstalk: no gateway at %s; running one in this process "
                            "(config %s, db %s)\n", c.url, cfg->path, cfg->db);
        c.standalone = 1;
    }
    if (c.standalone && ct_cli_standalone_start(&c, cfg, err, sizeof err) != MG_OK) {
        fprintf(c.err, "moongate crosstalk: %s\n", err); /* the terminal, not the log */
        goto done;
    }
    rc = ct_cli_follow(&c);
done:
    ct_cli_standalone_stop(&c);
    mg_config_free(cfg);
    if (c.created)
        json_decref(c.created);
    free(c.source);
    curl_global_cleanup();
    return rc;
}
