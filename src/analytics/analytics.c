/* analytics.c — the engine's threads (analytics.h): a bounded queue of
 * queries, ONE reader thread running them on its own read-only SQLite
 * connection, and one inbox per loop (an ev_async) through which replies
 * come back to the loop that asked. Cancel, detach and close can drop a
 * query wherever it is; a running statement is interrupted through
 * SQLite's progress handler. Uses SQLite, libev, pthreads, dispatch.c. */
#include "analytics.h"

#include <ev.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "an.h"

#define BUSY_TIMEOUT_MS 5000
#define PROGRESS_OPS 10000 /* SQLite VM steps between cancel/deadline checks */

typedef struct job job;
typedef struct inbox inbox;

/* One query. Owned by the list that holds it — the queue, a->running,
 * an inbox's replies — and freed by the loop after `done`, or by cancel,
 * detach or close; a running job marked cancelled is freed by the reader. */
struct job {
    uint64_t ticket;
    inbox *box;             /* where the reply goes; valid while not cancelled */
    char *endpoint, *query; /* owned copies */
    mg_analytics_done done;
    void *ud;
    int cancelled;          /* under a->lock: the reader drops it when it ends */
    mg_an_result result;
    job *next;
};

typedef struct job_fifo {
    job *head, *tail;
} job_fifo;

/* A loop's mailbox. Owned by the analytics list; freed by detach or close. */
struct inbox {
    ev_async async;
    struct ev_loop *loop;
    mg_analytics *a;
    job_fifo replies; /* under a->lock */
    inbox *next;
};

struct mg_analytics {
    char *db_path;           /* owned */
    sqlite3 *db;             /* after open, used by the reader thread only */
    pthread_t thread;
    pthread_mutex_t lock;    /* guards the fields below up to `interrupt` */
    pthread_cond_t wake;     /* queue not empty, or stopping */
    int stopping;
    job_fifo queue;
    size_t queued;
    job *running;
    inbox *inboxes;
    uint64_t next_ticket;
    atomic_int interrupt;    /* the running statement should stop */
    double deadline;         /* reader thread only: when the running query stops */
};

/* ---- jobs and lists ------------------------------------------------------- */

static void job_free(job *j)
{
    free(j->endpoint);
    free(j->query);
    mg_an_result_free(&j->result);
    free(j);
}

static void fifo_push(job_fifo *f, job *j)
{
    j->next = NULL;
    if (f->tail)
        f->tail->next = j;
    else
        f->head = j;
    f->tail = j;
}

static job *fifo_pop(job_fifo *f)
{
    job *j = f->head;
    if (j) {
        f->head = j->next;
        if (!f->head)
            f->tail = NULL;
        j->next = NULL;
    }
    return j;
}

/* Moves every job of f matching (ticket, or box when ticket is 0) onto
 * *out; returns how many moved. */
static size_t fifo_take(job_fifo *f, uint64_t ticket, const inbox *box, job_fifo *out)
{
    job_fifo keep = {0};
    size_t moved = 0;
    job *j;
    while ((j = fifo_pop(f)) != NULL) {
        int match = ticket ? j->ticket == ticket : j->box == box;
        fifo_push(match ? out : &keep, j);
        moved += match;
    }
    *f = keep;
    return moved;
}

static void fifo_free_all(job_fifo *f)
{
    job *j;
    while ((j = fifo_pop(f)) != NULL)
        job_free(j);
}

static inbox *find_inbox(mg_analytics *a, struct ev_loop *loop)
{
    for (inbox *b = a->inboxes; b; b = b->next) {
        if (b->loop == loop)
            return b;
    }
    return NULL;
}

/* ---- the reader thread ------------------------------------------------------ */

static int on_progress(void *ud)
{
    mg_analytics *a = ud;
    return atomic_load(&a->interrupt) || mg_now_mono() > a->deadline;
}

/* Hands a finished job to its loop, or drops it if cancelled meanwhile. */
static void deliver(mg_analytics *a, job *j)
{
    pthread_mutex_lock(&a->lock);
    a->running = NULL;
    if (j->cancelled) {
        pthread_mutex_unlock(&a->lock);
        job_free(j);
        return;
    }
    fifo_push(&j->box->replies, j);
    ev_async_send(j->box->loop, &j->box->async);
    pthread_mutex_unlock(&a->lock);
}

static void *reader_main(void *arg)
{
    mg_analytics *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->stopping && !a->queue.head)
            pthread_cond_wait(&a->wake, &a->lock);
        if (a->stopping)
            break;
        job *j = fifo_pop(&a->queue);
        a->queued--;
        a->running = j;
        atomic_store(&a->interrupt, 0);
        a->deadline = mg_now_mono() + MG_ANALYTICS_QUERY_TIMEOUT_S;
        pthread_mutex_unlock(&a->lock);
        mg_an_execute(a->db, a->db_path, j->endpoint, j->query, &j->result);
        deliver(a, j);
        pthread_mutex_lock(&a->lock);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* ---- open / close ------------------------------------------------------------ */

static int open_db(mg_analytics *a, char *err)
{
    int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(a->db_path, &a->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, MG_ERRLEN, "analytics: cannot open %s: %s", a->db_path,
                 a->db ? sqlite3_errmsg(a->db) : "out of memory");
        return MG_ERR;
    }
    sqlite3_busy_timeout(a->db, BUSY_TIMEOUT_MS);
    sqlite3_stmt *st = NULL;
    /* Fail now, on the main thread, rather than on every query. */
    if (sqlite3_exec(a->db, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(a->db, "SELECT 1 FROM requests, rollup_minute LIMIT 0", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(err, MG_ERRLEN, "analytics: %s is not a moongate database: %s", a->db_path,
                 sqlite3_errmsg(a->db));
        sqlite3_finalize(st);
        return MG_ERR;
    }
    sqlite3_finalize(st);
    sqlite3_progress_handler(a->db, PROGRESS_OPS, on_progress, a);
    return MG_OK;
}

mg_analytics *mg_analytics_open(const char *db_path, char *err)
{
    if (!db_path || !*db_path) {
        snprintf(err, MG_ERRLEN, "analytics: no database path");
        return NULL;
    }
    mg_analytics *a = mg_xcalloc(1, sizeof *a);
    a->db_path = mg_xstrdup(db_path);
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    if (open_db(a, err) != MG_OK)
        goto fail;
    /* The reader must not take the process's signals: the main loop does. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&a->thread, NULL, reader_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        pthread_setname_np(a->thread, "mg-analytics");
    if (rc != 0) {
        snprintf(err, MG_ERRLEN, "analytics: cannot start the reader thread");
        goto fail;
    }
    return a;
fail:
    sqlite3_close(a->db);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    free(a->db_path);
    free(a);
    return NULL;
}

void mg_analytics_close(mg_analytics *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = 1;
    atomic_store(&a->interrupt, 1);
    pthread_cond_broadcast(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    fifo_free_all(&a->queue);
    while (a->inboxes) {
        inbox *b = a->inboxes;
        a->inboxes = b->next;
        mg_warn("analytics: closed with a loop still attached; its inbox is freed");
        fifo_free_all(&b->replies);
        free(b);
    }
    sqlite3_close(a->db);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    free(a->db_path);
    free(a);
}

/* ---- loops ------------------------------------------------------------------- */

static void on_inbox(struct ev_loop *loop, ev_async *w, int revents)
{
    MG_UNUSED(loop), MG_UNUSED(revents);
    inbox *b = w->data;
    /* One at a time, so a `done` that cancels another ticket finds it here. */
    for (;;) {
        pthread_mutex_lock(&b->a->lock);
        job *j = fifo_pop(&b->replies);
        pthread_mutex_unlock(&b->a->lock);
        if (!j)
            break;
        mg_an_result *r = &j->result;
        mg_analytics_reply reply = {
            .status = r->status,
            .content_type = r->content_type ? r->content_type : "application/json",
            .extra_headers = r->headers.len ? mg_buf_cstr(&r->headers) : NULL,
            .body = r->body.len ? mg_buf_rptr(&r->body) : "",
            .len = mg_buf_unread(&r->body),
            .truncated = r->truncated,
        };
        j->done(j->ud, &reply);
        job_free(j);
    }
}

int mg_analytics_attach_loop(mg_analytics *a, struct ev_loop *loop)
{
    if (!a || !loop)
        return MG_ERR;
    pthread_mutex_lock(&a->lock);
    int known = find_inbox(a, loop) != NULL, stopping = a->stopping;
    pthread_mutex_unlock(&a->lock);
    if (known || stopping)
        return known ? MG_OK : MG_ERR;
    inbox *b = mg_xcalloc(1, sizeof *b);
    b->loop = loop;
    b->a = a;
    ev_async_init(&b->async, on_inbox);
    b->async.data = b;
    ev_async_start(loop, &b->async);
    ev_unref(loop); /* a waiting inbox must not keep a draining loop alive */
    pthread_mutex_lock(&a->lock);
    b->next = a->inboxes;
    a->inboxes = b;
    pthread_mutex_unlock(&a->lock);
    return MG_OK;
}

void mg_analytics_detach_loop(mg_analytics *a, struct ev_loop *loop)
{
    if (!a || !loop)
        return;
    job_fifo dropped = {0};
    pthread_mutex_lock(&a->lock);
    inbox **link = &a->inboxes;
    while (*link && (*link)->loop != loop)
        link = &(*link)->next;
    inbox *b = *link;
    if (b) {
        *link = b->next;
        a->queued -= fifo_take(&a->queue, 0, b, &dropped);
        if (a->running && a->running->box == b) {
            a->running->cancelled = 1;
            atomic_store(&a->interrupt, 1);
        }
        fifo_take(&b->replies, 0, b, &dropped);
    }
    pthread_mutex_unlock(&a->lock);
    if (!b)
        return;
    ev_ref(loop);
    ev_async_stop(loop, &b->async);
    fifo_free_all(&dropped);
    free(b);
}

/* ---- queries ------------------------------------------------------------------- */

int mg_analytics_query(mg_analytics *a, struct ev_loop *loop, const char *endpoint,
                       const char *query_string, mg_analytics_done done, void *ud,
                       uint64_t *ticket)
{
    if (!a || !loop || !endpoint || !done)
        return MG_ERR;
    job *j = mg_xcalloc(1, sizeof *j);
    j->endpoint = mg_xstrdup(endpoint);
    j->query = mg_xstrdup(query_string ? query_string : "");
    j->done = done;
    j->ud = ud;
    int rc = MG_OK;
    pthread_mutex_lock(&a->lock);
    j->box = find_inbox(a, loop);
    if (a->stopping || !j->box) {
        rc = MG_ERR;
    } else if (a->queued >= MG_ANALYTICS_QUEUE_MAX) {
        rc = MG_AGAIN;
    } else {
        j->ticket = ++a->next_ticket;
        if (ticket)
            *ticket = j->ticket;
        fifo_push(&a->queue, j);
        a->queued++;
        pthread_cond_signal(&a->wake);
    }
    pthread_mutex_unlock(&a->lock);
    if (rc != MG_OK)
        job_free(j);
    return rc;
}

void mg_analytics_cancel(mg_analytics *a, uint64_t ticket)
{
    if (!a || !ticket)
        return;
    job_fifo dropped = {0};
    pthread_mutex_lock(&a->lock);
    if (fifo_take(&a->queue, ticket, NULL, &dropped)) {
        a->queued--;
    } else if (a->running && a->running->ticket == ticket) {
        a->running->cancelled = 1;
        atomic_store(&a->interrupt, 1);
    } else {
        for (inbox *b = a->inboxes; b && !dropped.head; b = b->next)
            fifo_take(&b->replies, ticket, NULL, &dropped);
    }
    pthread_mutex_unlock(&a->lock);
    fifo_free_all(&dropped);
}
