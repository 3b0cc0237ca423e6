/* alerts.h — alert rules, notification channels, alert history, insights
 * and the admin API behind /api/alerts*, /api/insights* and /api/whatif.
 *
 * One engine per gateway (mg_alerts), living on the MAIN thread's loop:
 *   - a metrics ring fed by every finished record (any worker thread,
 *     mutex-protected), answering mg.metrics and the rules' metrics;
 *   - rules from policies (`alerts = { ... }` in the policy files, declarative
 *     tables or functions over mg.metrics) and from SQLite (the API),
 *     evaluated on an ev_timer of the main loop (default every 5 s), never
 *     on the request path; one alert per rule + labels, notified once per
 *     cooldown, auto-resolved when the condition clears, mutable;
 *   - channels: generic webhook (HMAC-SHA256 signed), Slack, Microsoft
 *     Teams, Discord, email (SMTP via libcurl on a small thread) and in-app
 *     (live `alert_triggered` / `alert_resolved` events), with timeouts and
 *     retries with backoff; a dead channel never stalls evaluation;
 *   - insights: lua/moongate/insights/ generators (plus policies'
 *     `insights = { ... }`) over SQL aggregates computed on the engine's
 *     database thread, persisted with their state (applied, snoozed,
 *     dismissed);
 *   - what-if replays (src/whatif) run on a thread of their own.
 * SQLite work (rules, channels, history, insight state, insight data) runs
 * on one database thread with its own connection; tables come from
 * schema/005_alerts.sql, applied by the store at start.
 * Uses: live (events), lua/host.h (a policy generation of its own, bound to
 * the main loop), upstream (webhooks), store/record.h, keys/keys.h (budget
 * events), whatif, SQLite, jansson, OpenSSL, libcurl, libev, pthreads.
 *
 * ---- wire-up (the lead: runtime/gateway.c, record_sink.c, reload.c,
 * admin/admin.c, main.c) ---------------------------------------------------
 *  1. startup(), after open_store() succeeded and BEFORE start_workers():
 *         mg_alerts_opts ao = { .loop = gw->main_loop, .live = gw->live,
 *                               .db_path = cfg->db, .home = gw->home };
 *         gw->alerts = mg_alerts_new(&ao, err);   // NULL: mg_warn(err), go on
 *  2. mg.metrics: in register_host_ops() add `.metric = metric_op` with
 *         static int metric_op(void *ud, const mg_lua_metric_query *q, double *out)
 *         { return mg_alerts_metric(((mg_gateway *)ud)->alerts, q, out); }
 *     (mg_alerts_metric(NULL, ...) answers MG_ERR = "no data", so the
 *     order against step 1 does not matter.)
 *  3. mg_gateway_record() (worker thread), before the store takes r:
 *         mg_alerts_record(w->gw->alerts, r);     // NULL engine: no-op
 *  4. policies: on the main thread, once after start_workers() succeeded
 *     (number = gw->reload.generation) and after every successful reload,
 *     as the LAST statement of mg_gateway_reload (after
 *     mg_gateway_watch_rehash and the "reloaded" log line):
 *         mg_alerts_set_config(gw->alerts, gw->cfg->cfg, number);
 *     It builds the engine's own policy generation (alerts/insights
 *     definitions, prices; about a millisecond); on error it logs and keeps
 *     the previous one. Called before the rehash it would widen the window
 *     in which a file written during a reload is marked seen and missed.
 *  5. budgets (when the keys part is there):
 *         mg_keys_on_budget(gw->keys, mg_alerts_on_budget, gw->alerts);
 *  6. admin dispatch (worker thread, after the guard):
 *         else if (mg_alerts_handles(req->path))
 *             mg_alerts_admin(w->gw->alerts, req, req->path + 5);  // "alerts/..."
 *     It answers every such request itself (503 when the engine is NULL),
 *     possibly later, from req's own loop; it uses req->ud and
 *     req->on_abort while it waits.
 *  7. teardown(), after every worker thread was joined and BEFORE
 *     mg_live_free(): mg_alerts_free(gw->alerts);
 *  8. main.c: `whatif` → mg_whatif_main(argc - 1, argv + 1, home_dir())
 *     (src/whatif/whatif.h).
 * ------------------------------------------------------------------------ */
#ifndef MG_ALERTS_H
#define MG_ALERTS_H

#include <ev.h>
#include <stdint.h>

#include "../config/config.h"
#include "../lua/host.h"
#include "../net/http.h"
#include "../store/record.h"

struct mg_live;
struct mg_budget_event;

typedef struct mg_alerts mg_alerts;

typedef struct mg_alerts_opts {
    struct ev_loop *loop;     /* the main thread's loop: timer, webhooks, Lua */
    struct mg_live *live;     /* in-app channel; NULL: in-app events dropped */
    const char *db_path;      /* the gateway's SQLite file (schema applied) */
    const char *home;         /* install root (lua/ for the generators) */
    double interval;          /* seconds between evaluations; 0 = 5 */
    double insight_interval;  /* seconds between automatic insight runs;
                                 0 = 3600, < 0 = only on demand */
    size_t ring_samples;      /* recent records kept for percentiles; 0 = 20000 */
} mg_alerts_opts;

/* Main thread. Starts the database thread (own read-write connection),
 * loads API rules and channels, arms the evaluation timer. NULL with err
 * (MG_ERRLEN) filled when the database cannot be opened. */
mg_alerts *mg_alerts_new(const mg_alerts_opts *opts, char *err);
/* Main thread, after the workers stopped: cancels deliveries in flight,
 * stops the threads (a running what-if is interrupted), closes. NULL ok. */
void mg_alerts_free(mg_alerts *a);

/* Main thread: adopt a (re)loaded config — copies the model price table
 * and builds a policy generation bound to the main loop for the policies'
 * `alerts` and `insights`. number is the generation number. MG_OK, or
 * MG_ERR (logged; the previous generation stays). cfg is only read. */
int mg_alerts_set_config(mg_alerts *a, const mg_config *cfg, uint64_t number);

/* Any thread, quick: count a finished record in the metrics ring. */
void mg_alerts_record(mg_alerts *a, const mg_record *r);

/* mg_lua_host_ops.metric: answer mg.metrics from the ring (any thread).
 * MG_ERR when a is NULL or nothing matched (avg/percentile). */
int mg_alerts_metric(void *a, const mg_lua_metric_query *q, double *out);

/* mg_keys_budget_fn: remember spent/budget per scope and period for the
 * `budget_usage` metric (the next evaluation sees it). Any thread, quick. */
void mg_alerts_on_budget(void *a, const struct mg_budget_event *ev);

/* Main thread: evaluate every rule now (also what the timer does). */
void mg_alerts_evaluate(mg_alerts *a);

/* 1 for /api/alerts, /api/alerts/..., /api/insights, /api/insights/...,
 * /api/whatif. */
int mg_alerts_handles(const char *path);

/* Admin API (worker thread, after the admin guard). subpath is the path
 * after "/api/". Answers JSON; errors as {"error":{"message":..,"code":N}}.
 *   GET    alerts/rules              every rule: policy ones (read-only) and API ones
 *   POST   alerts/rules              create {name, metric, window, op, threshold,
 *                                    min_samples, severity, cooldown, channels,
 *                                    filters, group_by, mute_until, enabled} → 201
 *   GET    alerts/rules/{name}       one API or policy rule
 *   PATCH  alerts/rules/{name}       change fields of an API rule
 *   DELETE alerts/rules/{name}       remove an API rule
 *   GET    alerts/channels           named channels (secrets masked)
 *   POST   alerts/channels           create or replace {name, type, url, secret,
 *                                    headers, from, to, username, password} → 201
 *   DELETE alerts/channels/{name}
 *   POST   alerts/test               {channel: "name" | {type, url, ...}} → the
 *                                    delivery result {ok, status, attempts, error}
 *   GET    alerts/active             alerts firing now
 *   GET    alerts/history            ?limit=&rule=&since= fired/resolved, newest first,
 *                                    with the values that triggered them
 *   POST   alerts/mute               {rule, key?, until_ms | seconds}
 *   POST   alerts/evaluate           evaluate every rule now → {evaluated, firing}
 *   GET    insights                  ?state=active|all current insights
 *   POST   insights/generate         run the generators now → the list
 *   POST   insights/action           {id, action: apply|snooze|dismiss, seconds?}
 *   POST   whatif                    {policy: "<lua source>", since: "7d"} → report */
void mg_alerts_admin(mg_alerts *a, mg_http_req *req, const char *subpath);

#endif
