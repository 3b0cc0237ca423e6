/* cli.h — shared by the files of `moongate keys` (cli.c: commands and
 * output; cli_http.c: finding the gateway and calling it). Internal. */
#ifndef MG_KEYS_CLI_H
#define MG_KEYS_CLI_H

#include <jansson.h>

#include "keys.h"

typedef struct mg_keys_cli {
    char url[512];           /* gateway base URL, no trailing slash */
    char token[512];         /* admin token */
    const char *config_path; /* -c: the config `serve` was started with */
    int json;                /* --json: print answers as JSON */
} mg_keys_cli;

/* Fill url and token from flags, MOONGATE_URL / MOONGATE_ADMIN_TOKEN, the
 * config `serve` would use, then data/admin_token. MG_ERR after printing
 * why. */
int mg_keys_cli_target(mg_keys_cli *c, const char *home);
/* One admin call; MG_OK with *answer (caller decrefs), or MG_ERR after
 * printing a sentence (no gateway, refused token, the API's message). */
int mg_keys_cli_call(const mg_keys_cli *c, const char *method, const char *path,
                     const char *body, json_t **answer);

#endif
