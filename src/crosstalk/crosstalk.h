/* crosstalk.h — several models conversing: a preset (Lua) names the
 * participants, a topology (who speaks, who hears) and a paradigm (how each
 * speaker's prompt is built, when the session ends). Each turn is a real
 * request through the gateway's pipeline (mg_px_internal_start), tagged with
 * the session id, so routing, failover, limits, cost and the request record
 * apply to it unchanged. Sessions are observable (crosstalk_event on the
 * live stream), controllable (pause / resume / step / stop at the next turn
 * boundary; stop also cancels the turn in flight) and budgeted (a turn whose
 * worst case would pass the session budget is never started).
 *
 * Uses: proxy/internal.h (turns), runtime/gateway.h (workers, generations,
 * config), lua/host.h (paradigms and topologies run in the generation the
 * session started on), live/live.h (events), SQLite on a thread of its own
 * (sessions, events, messages: schema/006_crosstalk.sql), jansson, libcurl
 * (the CLI only).
 *
 * Threads. One mg_crosstalk per gateway, shared by every worker. A session
 * runs on the worker loop whose admin request created it and keeps that
 * worker's generation (mg_wgen) until it ends, so reloads never change it.
 * Control requests may arrive on any worker: they are posted to the owner
 * loop. Database work (writes in order, reads for the GET endpoints) runs on
 * the crosstalk thread; no SQLite call happens on a loop thread.
 *
 * ------------------------------------------------------------------------
 * Wire-up (the lead; every function here accepts ct == NULL and then does
 * nothing, or answers 503 in mg_crosstalk_admin):
 *
 *  1. runtime/gateway.h: forward-declare `struct mg_crosstalk;` and add the
 *     field `struct mg_crosstalk *crosstalk;` to struct mg_gateway.
 *  2. runtime/gateway.c startup(): after open_store() succeeded and before
 *     start_workers():
 *         char xerr[MG_ERRLEN] = "";
 *         gw->crosstalk = mg_crosstalk_new(gw, xerr);
 *         if (!gw->crosstalk) mg_warn("crosstalk unavailable: %s", xerr);
 *     (marks sessions left unfinished by a previous run as interrupted)
 *  3. runtime/worker.c:
 *       worker_main(), first line:      mg_crosstalk_attach(w->gw->crosstalk, w);
 *       begin_drain(), first line:      mg_crosstalk_drain(w->gw->crosstalk, w);
 *       worker_main(), after ev_run(), AFTER the http servers are freed (their
 *       aborts must reach this part first) and BEFORE mg_upstream_free() and
 *       mg_wgen_release(w->gen):        mg_crosstalk_detach(w->gw->crosstalk, w);
 *  4. runtime/gateway.c teardown(): after the worker threads are joined and
 *     before mg_store_close():          mg_crosstalk_free(gw->crosstalk);
 *  5. admin/admin.c dispatch(), before the analytics branch:
 *       } else if (strncmp(req->path, "/api/crosstalk", 14) == 0) {
 *           mg_crosstalk_admin(w->gw->crosstalk, w, req, req->path + 14);
 *  6. main.c, in main():
 *       if (!strcmp(cmd, "crosstalk"))
 *           return mg_crosstalk_cli_main(argc, argv, home_dir());
 *     and in usage_text:
 *       "  crosstalk PRESET.lua [-c CONFIG] [--rounds N] [--json] [--standalone]\n"
 *       "            [--url URL] [--token T]\n"
 *       "                     run a multi-model conversation (examples/crosstalk/)\n"
 *  Live events go out through mg_live_publish(gw->live, "crosstalk_event",
 *  ...) from inside this part: nothing to wire for the live hub.
 * ------------------------------------------------------------------------
 *
 * Admin API (subpath is what follows "/api/crosstalk"):
 *   POST /api/crosstalk/sessions          body: {"preset":"debate"} (a file of
 *        examples/crosstalk/), {"preset":{...}} (a preset as JSON), or
 *        {"source":"return {...}","name":"my.lua"} (Lua preset text); optional
 *        "rounds", "budget_usd", "paused" (start paused) → 201 {"id":...}
 *   GET  /api/crosstalk/sessions          ?state=&paradigm=&preset=&limit=&offset=
 *   GET  /api/crosstalk/sessions/{id}     transcript, per-model and per-round figures
 *   POST /api/crosstalk/sessions/{id}/pause|resume|step|stop
 *   GET  /api/crosstalk/stats             totals, by paradigm, by model
 *   GET  /api/crosstalk/presets           the presets of examples/crosstalk/
 * docs/crosstalk.md describes every field. */
#ifndef MG_CROSSTALK_H
#define MG_CROSSTALK_H

#include "../core/common.h"
#include "../net/http.h"

struct mg_gateway;
struct mg_worker;

typedef struct mg_crosstalk mg_crosstalk;

/* Session states, as stored and reported ("running", ...). */
typedef enum mg_ct_state {
    MG_CT_RUNNING = 0,
    MG_CT_PAUSED,
    MG_CT_STEPPING,    /* runs one turn, then pauses */
    MG_CT_STOPPED,     /* by an operator (API, CLI Ctrl-C) */
    MG_CT_FINISHED,    /* rounds done, paradigm done, or budget (see reason) */
    MG_CT_FAILED,      /* a turn failed twice, or the paradigm raised: see reason */
    MG_CT_INTERRUPTED, /* the gateway stopped under it */
    MG_CT_NSTATES
} mg_ct_state;

const char *mg_ct_state_name(int state);
/* 1 for stopped / finished / failed / interrupted. */
int mg_ct_state_is_final(int state);

/* Main thread, at start, after the store opened the database (so its
 * schema is current). Starts the crosstalk thread, opens its own
 * connection to cfg->db and marks sessions left running, paused or
 * stepping by an earlier process as interrupted. NULL with err
 * (MG_ERRLEN) filled on failure. */
mg_crosstalk *mg_crosstalk_new(struct mg_gateway *gw, char *err);

/* Worker thread, before its loop runs: this worker may own sessions. */
void mg_crosstalk_attach(mg_crosstalk *ct, struct mg_worker *w);
/* Worker thread, when it starts draining: its sessions end as interrupted
 * (turns in flight are cancelled), so the loop can go idle. */
void mg_crosstalk_drain(mg_crosstalk *ct, struct mg_worker *w);
/* Worker thread, after its loop ended, before its upstream and generation
 * are freed: whatever is left is interrupted and released. */
void mg_crosstalk_detach(mg_crosstalk *ct, struct mg_worker *w);

/* Main thread, after every worker is joined: writes what is queued, stops
 * the thread, frees. */
void mg_crosstalk_free(mg_crosstalk *ct);

/* Worker thread: answers one /api/crosstalk* request (already past the
 * admin guard). subpath: "" , "/sessions", "/sessions/ID", "/sessions/ID/stop",
 * "/stats", "/presets". */
void mg_crosstalk_admin(mg_crosstalk *ct, struct mg_worker *w, mg_http_req *req,
                        const char *subpath);

/* `moongate crosstalk PRESET.lua [-c CONFIG] [--rounds N] [--json]
 * [--standalone] [--url URL] [--token T]`. argv[1] is "crosstalk". Returns
 * the process exit code: 0 finished, 3 stopped, 4 failed, 5 interrupted,
 * 2 usage error, 1 could not run. */
int mg_crosstalk_cli_main(int argc, char **argv, const char *home);

#endif
