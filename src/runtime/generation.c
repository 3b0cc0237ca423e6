/* generation.c — building a generation: the config shared by all workers
 * plus one policy state per worker, built off the worker loops (on the main
 * thread) and handed over whole. A reload that fails anywhere changes
 * nothing. */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "gateway.h"

mg_cfg_ref *mg_cfg_ref_new(mg_config *cfg)
{
    mg_cfg_ref *r = mg_xcalloc(1, sizeof *r);
    atomic_init(&r->refs, 1);
    r->cfg = cfg;
    return r;
}

void mg_cfg_ref_retain(mg_cfg_ref *r) { atomic_fetch_add(&r->refs, 1); }

void mg_cfg_ref_release(mg_cfg_ref *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
        mg_config_free(r->cfg);
        free(r);
    }
}

/* Build one generation for every worker into gens[]; all or nothing. */
int mg_gen_build_all(mg_gateway *gw, mg_cfg_ref *cfg, uint64_t number, mg_wgen **gens,
                     char *err, size_t errlen)
{
    for (int i = 0; i < gw->nworkers; i++) {
        mg_wgen *g = mg_xcalloc(1, sizeof *g);
        g->refs = 1;
        g->number = number;
        mg_cfg_ref_retain(cfg);
        g->cfg = cfg;
        gens[i] = g;
        if (mg_gen_build_lua(g, err, errlen) != MG_OK) {
            for (int j = 0; j <= i; j++)
                mg_wgen_release(gens[j]);
            return MG_ERR;
        }
    }
    return MG_OK;
}
