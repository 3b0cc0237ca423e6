/* ct.c — the crosstalk context: created once per gateway, with one inbox
 * per worker loop (replies from the database thread and control requests
 * from other workers arrive there through an ev_async), the registry of
 * live session ids, and the worker lifecycle (attach, drain, detach).
 * Uses db.c (thread), session.c (what runs on a loop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "ct-t.h"

static const char *const state_names[MG_CT_NSTATES] = {
    [MG_CT_RUNNING] = "running",   [MG_CT_PAUSED] = "paused",   [MG_CT_STEPPING] = "stepping",
    [MG_CT_STOPPED] = "stopped",   [MG_CT_FINISHED] = "finished", [MG_CT_FAILED] = "failed",
    [MG_CT_INTERRUPTED] = "interrupted",
};

const char *mg_ct_state_name(int state)
{
    return state >= 0 && state < MG_CT_NSTATES ? state_names[state] : "unknown";
}

int mg_ct_state_is_final(int state)
{
    return state == MG_CT_STOPPED || state == MG_CT_FINISHED || state == MG_CT_FAILED ||
           state == MG_CT_INTERRUPTED;
}

static const char interrupt_sql[] =
    "UPDATE crosstalk_sessions SET state = 'interrupted', reason = 'restart', "
    "detail = 'the gateway stopped while the session ran', "
    "ended_ms = COALESCE(ended_ms, ?) WHERE state IN ('running', 'paused', 'stepping')";

mg_crosstalk *mg_crosstalk_new(mg_gateway *gw, char *err)
{
    if (!gw || !gw->cfg || !gw->cfg->cfg || !gw->cfg->cfg->db) {
        snprintf(err, MG_ERRLEN, "crosstalk: no database configured");
        return NULL;
    }
    mg_crosstalk *ct = mg_xcalloc(1, sizeof *ct);
    ct->gw = gw;
    ct->home = mg_xstrdup(gw->home ? gw->home : ".");
    ct->db_path = mg_xstrdup(gw->cfg->cfg->db);
    pthread_mutex_init(&ct->lock, NULL);
    pthread_cond_init(&ct->wake, NULL);
    if (ct_db_start(ct, err) != MG_OK) {
        mg_crosstalk_free(ct);
        return NULL;
    }
    /* Sessions an earlier process left running cannot resume: say so. */
    ct_param p[] = {CT_INT(mg_now_wall_ms())};
    ct_db_exec(ct, interrupt_sql, p, 1);
    return ct;
}

void mg_crosstalk_free(mg_crosstalk *ct)
{
    if (!ct)
        return;
    ct_db_stop(ct); /* runs every queued write first */
    for (ct_job *j = ct->queue_head, *next; j; j = next) {
        next = j->next;
        j->destroy(j);
    }
    for (size_t i = 0; i < ct->ninboxes; i++) {
        ct_inbox *ib = ct->inboxes[i];
        for (ct_job *j = ib->done_head, *next; j; j = next) {
            next = j->next;
            j->destroy(j);
        }
        for (ct_cmd *c = ib->cmds, *next; c; c = next) {
            next = c->next;
            free(c);
        }
        free(ib);
    }
    free(ct->inboxes);
    pthread_cond_destroy(&ct->wake);
    pthread_mutex_destroy(&ct->lock);
    free(ct->home);
    free(ct->db_path);
    free(ct);
}

/* ---- inboxes ------------------------------------------------------------ */

static void run_cmds(ct_inbox *ib, ct_cmd *cmds)
{
    for (ct_cmd *c = cmds, *next; c; c = next) {
        next = c->next;
        ct_session *s = ct_session_find(ib, c->id);
        int status;
        char err[160];
        if (s && ct_session_control(s, c->action, &status, err, sizeof err) != MG_OK)
            mg_info("crosstalk %s: %s", c->id, err);
        free(c);
    }
}

static void on_inbox(struct ev_loop *loop, ev_async *a, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    ct_inbox *ib = a->data;
    pthread_mutex_lock(&ib->ct->lock);
    ct_job *jobs = ib->done_head;
    ct_cmd *cmds = ib->cmds;
    ib->done_head = ib->done_tail = NULL;
    ib->cmds = NULL;
    pthread_mutex_unlock(&ib->ct->lock);
    for (ct_job *j = jobs, *next; j; j = next) {
        next = j->next;
        j->reply(j);
        j->destroy(j);
    }
    run_cmds(ib, cmds);
}

ct_inbox *ct_inbox_of(mg_crosstalk *ct, mg_worker *w)
{
    ct_inbox *found = NULL;
    pthread_mutex_lock(&ct->lock);
    for (size_t i = 0; i < ct->ninboxes && !found; i++)
        if (ct->inboxes[i]->w == w && ct->inboxes[i]->alive)
            found = ct->inboxes[i];
    pthread_mutex_unlock(&ct->lock);
    return found;
}

void mg_crosstalk_attach(mg_crosstalk *ct, mg_worker *w)
{
    if (!ct || !w || ct_inbox_of(ct, w))
        return;
    ct_inbox *ib = mg_xcalloc(1, sizeof *ib);
    ib->ct = ct;
    ib->w = w;
    ib->loop = w->loop;
    ib->alive = 1;
    ev_async_init(&ib->async, on_inbox);
    ib->async.data = ib;
    ev_async_start(ib->loop, &ib->async);
    ev_unref(ib->loop); /* an idle inbox must not keep the loop alive */
    pthread_mutex_lock(&ct->lock);
    ct->inboxes = mg_xrealloc(ct->inboxes, (ct->ninboxes + 1) * sizeof *ct->inboxes);
    ct->inboxes[ct->ninboxes++] = ib;
    pthread_mutex_unlock(&ct->lock);
}

void mg_crosstalk_drain(mg_crosstalk *ct, mg_worker *w)
{
    ct_inbox *ib = ct ? ct_inbox_of(ct, w) : NULL;
    if (!ib)
        return;
    ib->draining = 1;
    ct_sessions_interrupt(ib, 0);
}

void mg_crosstalk_detach(mg_crosstalk *ct, mg_worker *w)
{
    ct_inbox *ib = ct ? ct_inbox_of(ct, w) : NULL;
    if (!ib)
        return;
    ib->draining = 1;
    ct_sessions_interrupt(ib, 1);
    pthread_mutex_lock(&ct->lock);
    ib->alive = 0;
    ct_job *jobs = ib->done_head;
    ct_cmd *cmds = ib->cmds;
    ib->done_head = ib->done_tail = NULL;
    ib->cmds = NULL;
    pthread_mutex_unlock(&ct->lock);
    for (ct_job *j = jobs, *next; j; j = next) { /* their requests are gone */
        next = j->next;
        j->destroy(j);
    }
    for (ct_cmd *c = cmds, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    ev_ref(ib->loop);
    ev_async_stop(ib->loop, &ib->async);
}

int ct_post_cmd(mg_crosstalk *ct, ct_inbox *ib, const char *id, int action)
{
    ct_cmd *c = mg_xcalloc(1, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->action = action;
    pthread_mutex_lock(&ct->lock);
    int alive = ib->alive;
    if (alive) {
        c->next = ib->cmds;
        ib->cmds = c;
        ev_async_send(ib->loop, &ib->async);
    }
    pthread_mutex_unlock(&ct->lock);
    if (!alive)
        free(c);
    return alive ? MG_OK : MG_ERR;
}

/* ---- registry of live sessions ------------------------------------------ */

int ct_live_add(mg_crosstalk *ct, const char *id, ct_inbox *ib)
{
    int rc = MG_AGAIN;
    pthread_mutex_lock(&ct->lock);
    for (size_t i = 0; i < CT_MAX_LIVE; i++) {
        if (!ct->live[i].id[0]) {
            snprintf(ct->live[i].id, sizeof ct->live[i].id, "%s", id);
            ct->live[i].inbox = ib;
            rc = MG_OK;
            break;
        }
    }
    pthread_mutex_unlock(&ct->lock);
    return rc;
}

void ct_live_remove(mg_crosstalk *ct, const char *id)
{
    pthread_mutex_lock(&ct->lock);
    for (size_t i = 0; i < CT_MAX_LIVE; i++)
        if (strcmp(ct->live[i].id, id) == 0)
            memset(&ct->live[i], 0, sizeof ct->live[i]);
    pthread_mutex_unlock(&ct->lock);
}

ct_inbox *ct_live_find(mg_crosstalk *ct, const char *id)
{
    ct_inbox *ib = NULL;
    if (!id[0])
        return NULL;
    pthread_mutex_lock(&ct->lock);
    for (size_t i = 0; i < CT_MAX_LIVE && !ib; i++)
        if (strcmp(ct->live[i].id, id) == 0)
            ib = ct->live[i].inbox;
    pthread_mutex_unlock(&ct->lock);
    return ib;
}
