/* models.c — GET /v1/models: every configured model in OpenAI's list
 * format, each once, owned_by the first provider that serves it. */
#include <string.h>

#include "px-t.h"

static int seen_before(const mg_config *cfg, size_t pi, size_t mi)
{
    const char *name = cfg->providers[pi].models[mi];
    for (size_t p = 0; p <= pi; p++) {
        size_t limit = p == pi ? mi : cfg->providers[p].nmodels;
        for (size_t m = 0; m < limit; m++)
            if (strcmp(cfg->providers[p].models[m], name) == 0)
                return 1;
    }
    return 0;
}

void mg_px_models(struct mg_worker *w, mg_http_req *req)
{
    const mg_config *cfg = w->gen->cfg->cfg;
    mg_buf b = {0};
    mg_buf_append_str(&b, "{\"object\":\"list\",\"data\":[");
    int first = 1;
    long created = (long)(w->gw->started_at_ms / 1000);
    for (size_t p = 0; p < cfg->nproviders; p++) {
        const mg_provider_cfg *pc = &cfg->providers[p];
        for (size_t m = 0; m < pc->nmodels; m++) {
            if (seen_before(cfg, p, m))
                continue;
            mg_buf_append_str(&b, first ? "{\"id\":" : ",{\"id\":");
            first = 0;
            mg_buf_append_json_str(&b, pc->models[m], strlen(pc->models[m]));
            mg_buf_printf(&b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":", created);
            mg_buf_append_json_str(&b, pc->name, strlen(pc->name));
            mg_buf_append_str(&b, "}");
        }
    }
    mg_buf_append_str(&b, "]}");
    char hdr[96];
    snprintf(hdr, sizeof hdr, "x-moongate-policy-generation: %llu\r\n",
             (unsigned long long)w->gen->number);
    mg_http_respond(req, 200, "application/json", hdr, b.data, b.len);
    mg_buf_free(&b);
}
