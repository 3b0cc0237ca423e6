/* db.c — the database thread (db.h). Jobs move from `todo` to the thread,
 * then to `done_list`, which the loop drains on its ev_async. Both lists
 * are singly linked FIFOs under one mutex. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/common.h"
#include "../core/log.h"
#include "db.h"

typedef struct job {
    struct job *next;
    mg_al_job_run run;
    mg_al_job_done done;
    void *ud;
} job;

typedef struct fifo {
    job *head, *tail;
    size_t n;
} fifo;

struct mg_al_db {
    sqlite3 *db;
    struct ev_loop *loop;
    ev_async wake;           /* thread → loop: jobs done */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    fifo todo, finished;     /* under lock */
    int stopping;            /* under lock */
};

static void push(fifo *f, job *j)
{
    j->next = NULL;
    if (f->tail)
        f->tail->next = j;
    else
        f->head = j;
    f->tail = j;
    f->n++;
}

static job *pop(fifo *f)
{
    job *j = f->head;
    if (!j)
        return NULL;
    f->head = j->next;
    if (!f->head)
        f->tail = NULL;
    f->n--;
    return j;
}

static void *thread_main(void *arg)
{
    mg_al_db *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->todo.head && !d->stopping)
            pthread_cond_wait(&d->cond, &d->lock);
        job *j = pop(&d->todo);
        if (!j)
            break; /* stopping and nothing left */
        pthread_mutex_unlock(&d->lock);
        j->run(d->db, j->ud);
        pthread_mutex_lock(&d->lock);
        if (d->stopping) {
            push(&d->finished, j); /* close hands these to done(cancelled) */
            continue;
        }
        push(&d->finished, j);
        ev_async_send(d->loop, &d->wake);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_al_db *d = w->data;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        job *j = pop(&d->finished);
        pthread_mutex_unlock(&d->lock);
        if (!j)
            break;
        if (j->done)
            j->done(j->ud, 0);
        free(j);
    }
}

mg_al_db *mg_al_db_open(const char *db_path, struct ev_loop *loop, char *err)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, MG_ERRLEN, "alerts: cannot open %s: %s", db_path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    int have = sqlite3_prepare_v2(db, "SELECT 1 FROM alert_rules LIMIT 0", -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    if (!have) {
        snprintf(err, MG_ERRLEN, "alerts: %s has no alert tables (schema/005_alerts.sql not applied)",
                 db_path);
        sqlite3_close(db);
        return NULL;
    }
    mg_al_db *d = mg_xcalloc(1, sizeof *d);
    d->db = db;
    d->loop = loop;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    ev_async_init(&d->wake, on_wake);
    d->wake.data = d;
    ev_async_start(loop, &d->wake);
    ev_unref(loop); /* never keeps the loop alive on its own */
    if (pthread_create(&d->thread, NULL, thread_main, d) != 0) {
        snprintf(err, MG_ERRLEN, "alerts: cannot start the database thread");
        ev_ref(loop);
        ev_async_stop(loop, &d->wake);
        sqlite3_close(db);
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->cond);
        free(d);
        return NULL;
    }
    pthread_setname_np(d->thread, "mg-alerts");
    return d;
}

int mg_al_db_submit(mg_al_db *d, mg_al_job_run run, mg_al_job_done done, void *ud)
{
    pthread_mutex_lock(&d->lock);
    if (d->stopping || d->todo.n >= MG_AL_DB_QUEUE_MAX) {
        pthread_mutex_unlock(&d->lock);
        return MG_AGAIN;
    }
    job *j = mg_xcalloc(1, sizeof *j);
    j->run = run;
    j->done = done;
    j->ud = ud;
    push(&d->todo, j);
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    return MG_OK;
}

void mg_al_db_close(mg_al_db *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    ev_ref(d->loop);
    ev_async_stop(d->loop, &d->wake);
    job *j;
    while ((j = pop(&d->finished))) {
        if (j->done)
            j->done(j->ud, 1);
        free(j);
    }
    sqlite3_close(d->db);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}
