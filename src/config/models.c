/* models.c — model metadata: the list built from the bundled
 * lua/moongate/data/models.lua plus the config's `models = { ... }`, and the
 * lookup that prices a request by the model name a client or upstream used
 * (which often carries a date or version suffix). */
#include <stdlib.h>
#include <string.h>

#include "cfg-t.h"

long mg_cfg_model_index(const mg_config *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->nmodels; i++)
        if (strlen(c->models[i].name) == len && memcmp(c->models[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

size_t mg_cfg_model_add(mg_config *c, const char *name, size_t len)
{
    c->models = mg_xrealloc(c->models, (c->nmodels + 1) * sizeof *c->models);
    mg_model_info *m = &c->models[c->nmodels];
    memset(m, 0, sizeof *m);
    m->name = mg_xstrndup(name, len);
    m->name_len = len;
    return c->nmodels++;
}

/* Characters after which a listed name may end inside a longer one:
 * "gpt-4o-mini-2024-07-18", "claude-sonnet-4-5@20250929". Not '.', so
 * "gpt-4.1" never falls back to a "gpt-4" entry, nor digits ("gpt-50"). */
static int suffix_boundary(char ch) { return ch == '-' || ch == '@' || ch == ':' || ch == '_'; }

static const mg_model_info *lookup(const mg_config *c, const char *model)
{
    const mg_model_info *best = NULL;
    size_t best_len = 0;
    size_t len = strlen(model);
    for (size_t i = 0; i < c->nmodels; i++) {
        const mg_model_info *m = &c->models[i];
        size_t n = m->name_len ? m->name_len : strlen(m->name); /* 0: built by hand */
        if (n > len || model[0] != m->name[0] || memcmp(model, m->name, n) != 0)
            continue;
        if (model[n] == '\0')
            return m;
        if (n > best_len && suffix_boundary(model[n])) {
            best = m;
            best_len = n;
        }
    }
    return best;
}

const mg_model_info *mg_config_model(const mg_config *c, const char *model)
{
    if (!c || !model || !model[0])
        return NULL;
    const mg_model_info *m = lookup(c, model);
    if (m)
        return m;
    /* "provider/gpt-4o", "models/gemini-2.5-pro", "openai/gpt-4o" */
    const char *slash = strrchr(model, '/');
    if (slash && slash[1])
        return lookup(c, slash + 1);
    return NULL;
}
