/* check.c — rules that span several keys and so cannot live in the schema:
 * unique provider names, base_url required for every non-mock provider,
 * distinct plain and TLS listen addresses. Runs after the walk, on what it
 * built; reports into the same error list. */
#include <stdio.h>
#include <string.h>

#include "cfg-t.h"

static void check_provider(const mg_config *c, size_t i, mg_cfg_errs *errs)
{
    const mg_provider_cfg *p = &c->providers[i];
    char where[64];
    snprintf(where, sizeof where, "providers[%zu]", i + 1);
    if (p->format != MG_FMT_UNKNOWN && p->format != MG_FMT_MOCK && !p->base_url) {
        char key[80];
        snprintf(key, sizeof key, "%s.base_url", where);
        mg_cfg_err(errs, key, "required for format '%s' (only mock providers run without one)",
                   mg_format_name(p->format));
    }
    if (!p->name)
        return;
    for (size_t j = 0; j < i; j++) {
        if (c->providers[j].name && strcmp(c->providers[j].name, p->name) == 0) {
            char key[80];
            snprintf(key, sizeof key, "%s.name", where);
            mg_cfg_err(errs, key, "duplicate provider name '%s' (also providers[%zu])", p->name,
                       j + 1);
            return;
        }
    }
}

void mg_cfg_check(mg_config *c, mg_cfg_errs *errs)
{
    for (size_t i = 0; i < c->nproviders; i++)
        check_provider(c, i, errs);
    if (c->tls_addr_host && c->listen_host && c->tls_port == c->listen_port &&
        c->tls_port != 0 && strcmp(c->tls_addr_host, c->listen_host) == 0)
        mg_cfg_err(errs, "listen_tls.addr", "same address as listen");
}
