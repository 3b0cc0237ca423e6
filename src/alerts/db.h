/* db.h — the alerts engine's database thread: one SQLite connection
 * (read-write, WAL, busy timeout) used only by that thread, and a bounded
 * queue of jobs. A job's `run` executes on the thread; its `done` then
 * runs on the engine's loop (through an ev_async), or — for jobs still
 * queued when the thread closes — right inside mg_al_db_close with
 * cancelled = 1 after `run` still ran (writes are not lost at shutdown).
 * Uses SQLite, libev, pthreads. */
#ifndef MG_AL_DB_H
#define MG_AL_DB_H

#include <ev.h>

struct sqlite3;

#define MG_AL_DB_QUEUE_MAX 1024

typedef void (*mg_al_job_run)(struct sqlite3 *db, void *ud);
typedef void (*mg_al_job_done)(void *ud, int cancelled);

typedef struct mg_al_db mg_al_db;

/* Opens db_path (which the store created and migrated) and starts the
 * thread. NULL with err (MG_ERRLEN) filled. */
mg_al_db *mg_al_db_open(const char *db_path, struct ev_loop *loop, char *err);
/* Queue a job (any thread). MG_AGAIN when the queue is full: nothing runs
 * and nothing is called. done may be NULL. */
int mg_al_db_submit(mg_al_db *d, mg_al_job_run run, mg_al_job_done done, void *ud);
/* Loop thread: run what is queued, stop the thread, close. NULL ok. */
void mg_al_db_close(mg_al_db *d);

#endif
