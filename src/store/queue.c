/* queue.c — bounded MPSC record queue for the store writer (see queue.h). */
#include "queue.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mg_store_queue_init(mg_store_queue *q, size_t capacity, size_t due_count)
{
    memset(q, 0, sizeof *q);
    q->capacity = capacity;
    q->due_count = due_count ? MG_MIN(due_count, capacity) : capacity;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return MG_ERR;
    /* Wall-clock jumps must not stretch or skip a flush. */
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
                     pthread_cond_init(&q->wake, &attr) == 0
                 ? MG_OK
                 : MG_ERR;
    pthread_condattr_destroy(&attr);
    if (rc != MG_OK)
        return MG_ERR;
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        pthread_cond_destroy(&q->wake);
        return MG_ERR;
    }
    q->ring = mg_xcalloc(capacity, sizeof *q->ring);
    return MG_OK;
}

void mg_store_queue_destroy(mg_store_queue *q)
{
    for (size_t i = 0; i < q->count; i++)
        mg_record_free(q->ring[(q->head + i) % q->capacity]);
    free(q->ring);
    pthread_cond_destroy(&q->wake);
    pthread_mutex_destroy(&q->mu);
    memset(q, 0, sizeof *q);
}

int mg_store_queue_push(mg_store_queue *q, mg_record *r)
{
    pthread_mutex_lock(&q->mu);
    q->pushed++;
    if (q->closing || q->count == q->capacity) {
        q->rejected++;
        pthread_mutex_unlock(&q->mu);
        return MG_AGAIN;
    }
    q->ring[(q->head + q->count) % q->capacity] = r;
    q->count++;
    /* The consumer sleeps without a deadline only while the queue is empty,
     * and otherwise only needs a nudge when a full batch is ready. */
    if (q->count == 1) {
        q->first_mono = mg_now_mono();
        pthread_cond_signal(&q->wake);
    } else if (q->count == q->due_count) {
        pthread_cond_signal(&q->wake);
    }
    pthread_mutex_unlock(&q->mu);
    return MG_OK;
}

static struct timespec mono_deadline(double at)
{
    struct timespec ts;
    double whole = floor(at);
    ts.tv_sec = (time_t)whole;
    ts.tv_nsec = (long)((at - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    return ts;
}

/* Called with the mutex held; returns with it held. */
static void wait_until_due(mg_store_queue *q, double flush_interval)
{
    for (;;) {
        if (q->closing || q->count >= q->due_count)
            return;
        if (q->count == 0) {
            pthread_cond_wait(&q->wake, &q->mu);
            continue;
        }
        double due_at = q->first_mono + flush_interval;
        if (mg_now_mono() >= due_at)
            return;
        struct timespec ts = mono_deadline(due_at);
        int rc = pthread_cond_timedwait(&q->wake, &q->mu, &ts);
        if (rc != 0 && rc != ETIMEDOUT && rc != EINTR)
            return; /* cannot wait: write what is there rather than spin */
    }
}

size_t mg_store_queue_take(mg_store_queue *q, mg_record **out, size_t max, double flush_interval,
                           int *finished)
{
    pthread_mutex_lock(&q->mu);
    wait_until_due(q, flush_interval);
    size_t n = MG_MIN(max, q->count);
    for (size_t i = 0; i < n; i++) {
        out[i] = q->ring[q->head];
        q->ring[q->head] = NULL;
        q->head = (q->head + 1) % q->capacity;
    }
    q->count -= n;
    /* Records left behind keep the old first_mono: they are already due. */
    *finished = q->closing && q->count == 0;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void mg_store_queue_close(mg_store_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closing = 1;
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->mu);
}

void mg_store_queue_counts(mg_store_queue *q, size_t *depth, uint64_t *pushed,
                           uint64_t *rejected)
{
    pthread_mutex_lock(&q->mu);
    *depth = q->count;
    *pushed = q->pushed;
    *rejected = q->rejected;
    pthread_mutex_unlock(&q->mu);
}
