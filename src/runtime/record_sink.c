/* record_sink.c — where every finished request's record goes, on the
 * worker thread that served it: the policy's on_log hooks see it, then the
 * store's queue takes ownership (the SQLite writer thread persists it). */
#include "../core/log.h"
#include "../alerts/alerts.h"
#include "../live/live.h"
#include "gateway.h"

void mg_gateway_record(mg_worker *w, mg_record *r)
{
    mg_gen_on_log(w, r);
    mg_live_record(w->gw->live, r);
    mg_alerts_record(w->gw->alerts, r);
    if (w->gw->store)
        mg_store_submit(w->gw->store, r);
    else
        mg_record_free(r);
}
