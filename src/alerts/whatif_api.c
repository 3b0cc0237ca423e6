/* whatif_api.c — POST /api/whatif {policy: "<lua source>", since: "7d"}:
 * one replay at a time on a thread of its own (it reads the database and
 * runs Lua for every recorded request), answering the report as JSON.
 * The thread loads the config itself (prices, providers) from the path the
 * running gateway uses. Uses whatif/whatif.h, pthreads. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../whatif/whatif.h"
#include "al-t.h"

#define MAX_SOURCE (256 * 1024)

/* Owned by the engine (a->whatif); the thread only reads the strings and
 * sets `finished` once its work is done (it may still be sending the
 * answer: joining it then waits only for that). */
typedef struct mg_al_whatif {
    pthread_t thread;
    atomic_int stop;      /* engine closing */
    atomic_int finished;  /* the thread is done: join it */
    mg_al_reply *reply;   /* answered by the thread */
    char *config_path, *home, *db_path, *source;
    double since;
} mg_al_whatif;

static int on_progress(void *ud, long done, long total)
{
    MG_UNUSED(done);
    MG_UNUSED(total);
    mg_al_whatif *w = ud;
    return atomic_load(&w->stop) || !mg_al_reply_alive(w->reply);
}

static void *run(void *arg)
{
    mg_al_whatif *w = arg;
    char err[4096] = "";
    mg_config *cfg = mg_config_load(w->config_path, w->home, err, sizeof err);
    if (cfg) {
        mg_whatif_opts o = {.cfg = cfg, .db_path = w->db_path, .policy_src = w->source,
                            .policy_len = strlen(w->source), .since_seconds = w->since,
                            .progress = on_progress, .progress_ud = w};
        mg_whatif_report rep;
        int rc = mg_whatif_run(&o, &rep, err, sizeof err);
        mg_config_free(cfg);
        /* Finished before answering: a client that asks again at once must
         * find this replay joinable, not "already running". */
        atomic_store(&w->finished, 1);
        if (rc == MG_OK) {
            mg_buf b = {0};
            mg_whatif_report_json(&rep, &b);
            mg_al_reply_send(w->reply, 200, b.data, b.len);
            mg_buf_free(&b);
            mg_whatif_report_free(&rep);
        } else {
            /* A policy that does not load is the caller's problem: 400. */
            mg_al_reply_error(w->reply, strcmp(err, "cancelled") ? 400 : 503, err);
        }
        return NULL;
    }
    atomic_store(&w->finished, 1);
    mg_al_reply_error(w->reply, 500, err);
    return NULL;
}

static void whatif_free(mg_al_whatif *w)
{
    free(w->config_path);
    free(w->home);
    free(w->db_path);
    free(w->source);
    free(w);
}

/* Join a finished replay (or, when stopping, wait for it). */
static void reap(mg_alerts *a, int wait)
{
    mg_al_whatif *w = a->whatif;
    if (!w || (!wait && !atomic_load(&w->finished)))
        return;
    pthread_join(w->thread, NULL);
    whatif_free(w);
    a->whatif = NULL;
}

void mg_al_whatif_stop(mg_alerts *a)
{
    if (a->whatif)
        atomic_store(&a->whatif->stop, 1);
    reap(a, 1);
}

void mg_al_api_whatif(mg_alerts *a, mg_al_cmd *c)
{
    reap(a, 0);
    json_t *body = mg_al_cmd_json(c);
    if (!body)
        return;
    const char *src = json_string_value(json_object_get(body, "policy"));
    json_t *since_j = json_object_get(body, "since");
    double since = 7 * 86400.0;
    const char *err = NULL;
    if (!src || !*src || strlen(src) > MAX_SOURCE)
        err = "policy: the Lua source of a routing policy (at most 256 KiB)";
    else if (since_j && !(json_is_string(since_j) &&
                          mg_whatif_parse_since(json_string_value(since_j), &since) == MG_OK))
        err = "since: a period such as 7d, 24h or 90m";
    else if (a->whatif)
        err = "a what-if replay is already running; try again when it ends";
    if (err) {
        mg_al_reply_error(c->reply, a->whatif && src ? 409 : 400, err);
        c->reply = NULL;
        json_decref(body);
        return;
    }
    mg_al_whatif *w = mg_xcalloc(1, sizeof *w);
    w->reply = c->reply;
    c->reply = NULL;
    w->config_path = a->config_path ? mg_xstrdup(a->config_path) : NULL;
    w->home = mg_xstrdup(a->home);
    w->db_path = mg_xstrdup(a->db_path);
    w->source = mg_xstrdup(src);
    w->since = since;
    json_decref(body);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        mg_al_reply_error(w->reply, 503, "cannot start the replay thread");
        whatif_free(w);
        return;
    }
    a->whatif = w;
}
