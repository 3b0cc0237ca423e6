/* db.c — the crosstalk database thread: one SQLite connection of its own
 * (WAL lets it write beside the store's writer), a FIFO of jobs, and
 * replies handed back to the loop that asked (ct.c's inboxes). Writes and
 * reads share the one queue, so a GET queued after a write sees it.
 * Uses SQLite and pthreads; the tables are schema/006_crosstalk.sql. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "ct-t.h"

#define BUSY_TIMEOUT_MS 5000

/* A write statement with its parameters. Owner: the queue, then the thread. */
typedef struct exec_job {
    ct_job base;
    const char *sql; /* static text */
    ct_param params[24];
    int n;
} exec_job;

static void exec_destroy(ct_job *job)
{
    exec_job *e = (exec_job *)job;
    for (int i = 0; i < e->n; i++)
        if (e->params[i].type == CT_P_TEXT)
            free((char *)e->params[i].s);
    free(e);
}

static void bind_params(sqlite3_stmt *st, const ct_param *p, int n)
{
    for (int i = 0; i < n; i++) {
        switch (p[i].type) {
        case CT_P_INT: sqlite3_bind_int64(st, i + 1, p[i].i); break;
        case CT_P_REAL: sqlite3_bind_double(st, i + 1, p[i].d); break;
        case CT_P_TEXT: sqlite3_bind_text(st, i + 1, p[i].s, -1, SQLITE_STATIC); break;
        default: sqlite3_bind_null(st, i + 1); break;
        }
    }
}

static void exec_run(ct_job *job, sqlite3 *db)
{
    exec_job *e = (exec_job *)job;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, e->sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        bind_params(st, e->params, e->n);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        mg_error("crosstalk: database write failed: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

int ct_db_exec(mg_crosstalk *ct, const char *sql, const ct_param *params, int n)
{
    exec_job *e = mg_xcalloc(1, sizeof *e);
    e->base.run = exec_run;
    e->base.destroy = exec_destroy;
    e->sql = sql;
    e->n = n < (int)MG_ARRAY_LEN(e->params) ? n : (int)MG_ARRAY_LEN(e->params);
    for (int i = 0; i < e->n; i++) {
        e->params[i] = params[i];
        if (params[i].type == CT_P_TEXT)
            e->params[i].s = mg_xstrdup(params[i].s);
    }
    return ct_db_submit(ct, &e->base);
}

/* After a job ran: to its inbox when that loop is still there, else gone. */
static void deliver(mg_crosstalk *ct, ct_job *job)
{
    ct_inbox *ib = job->inbox;
    if (!ib || !job->reply) {
        job->destroy(job);
        return;
    }
    pthread_mutex_lock(&ct->lock);
    int alive = ib->alive;
    if (alive) {
        job->next = NULL;
        if (ib->done_tail)
            ib->done_tail->next = job;
        else
            ib->done_head = job;
        ib->done_tail = job;
        ev_async_send(ib->loop, &ib->async);
    }
    pthread_mutex_unlock(&ct->lock);
    if (!alive)
        job->destroy(job);
}

static void *db_main(void *arg)
{
    mg_crosstalk *ct = arg;
    for (;;) {
        pthread_mutex_lock(&ct->lock);
        while (!ct->queue_head && !ct->stopping)
            pthread_cond_wait(&ct->wake, &ct->lock);
        ct_job *job = ct->queue_head;
        if (job) {
            ct->queue_head = job->next;
            if (!ct->queue_head)
                ct->queue_tail = NULL;
            ct->queued--;
        }
        pthread_mutex_unlock(&ct->lock);
        if (!job)
            break; /* stopping and nothing left */
        job->run(job, ct->db);
        deliver(ct, job);
    }
    return NULL;
}

static int check_tables(sqlite3 *db, char *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM crosstalk_sessions", -1, &st, NULL);
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        return MG_OK;
    snprintf(err, MG_ERRLEN, "crosstalk tables missing (schema/006_crosstalk.sql not applied?): %s",
             sqlite3_errmsg(db));
    return MG_ERR;
}

int ct_db_start(mg_crosstalk *ct, char *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(ct->db_path, &ct->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, MG_ERRLEN, "crosstalk: cannot open %s: %s", ct->db_path,
                 ct->db ? sqlite3_errmsg(ct->db) : "out of memory");
        return MG_ERR;
    }
    sqlite3_busy_timeout(ct->db, BUSY_TIMEOUT_MS);
    if (check_tables(ct->db, err) != MG_OK)
        return MG_ERR;
    /* The thread takes no signals: they belong to the main loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&ct->thread, NULL, db_main, ct);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        pthread_setname_np(ct->thread, "mg-crosstalk");
    if (rc != 0) {
        snprintf(err, MG_ERRLEN, "crosstalk: cannot start its database thread");
        return MG_ERR;
    }
    ct->thread_started = 1;
    return MG_OK;
}

void ct_db_stop(mg_crosstalk *ct)
{
    pthread_mutex_lock(&ct->lock);
    ct->stopping = 1;
    pthread_cond_signal(&ct->wake);
    pthread_mutex_unlock(&ct->lock);
    if (ct->thread_started)
        pthread_join(ct->thread, NULL);
    ct->thread_started = 0;
    if (ct->db)
        sqlite3_close(ct->db);
    ct->db = NULL;
}

int ct_db_submit(mg_crosstalk *ct, ct_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&ct->lock);
    int ok = !ct->stopping && ct->queued < CT_MAX_QUEUE && ct->thread_started;
    if (ok) {
        if (ct->queue_tail)
            ct->queue_tail->next = job;
        else
            ct->queue_head = job;
        ct->queue_tail = job;
        ct->queued++;
        pthread_cond_signal(&ct->wake);
    }
    pthread_mutex_unlock(&ct->lock);
    if (!ok) {
        mg_warn("crosstalk: database queue full or closed; a write or read was dropped");
        job->destroy(job);
        return MG_ERR;
    }
    return MG_OK;
}
