/* queue.h — the store's bounded multi-producer, single-consumer queue of
 * records (internal). Producers (loop threads) only ever wait for the
 * mutex; the consumer (the writer thread) sleeps on a condition variable
 * until a batch is due. Uses pthreads. */
#ifndef MG_STORE_QUEUE_H
#define MG_STORE_QUEUE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* A ring of record pointers. Records in the ring are owned by the queue
 * until taken; the writer owns what it takes. */
typedef struct mg_store_queue {
    pthread_mutex_t mu;
    pthread_cond_t wake;  /* consumer waits here (CLOCK_MONOTONIC) */
    mg_record **ring;     /* owned; capacity slots */
    size_t capacity;
    size_t head;          /* index of the oldest record */
    size_t count;         /* records in the ring */
    size_t due_count;     /* a batch this large is written at once */
    double first_mono;    /* when the queue last went from empty to non-empty */
    uint64_t pushed;      /* every push, accepted or not */
    uint64_t rejected;    /* pushes refused because the ring was full or closed */
    int closing;          /* set once; the consumer drains and stops */
} mg_store_queue;

/* MG_OK, or MG_ERR when a pthread object could not be made. */
int mg_store_queue_init(mg_store_queue *q, size_t capacity, size_t due_count);
/* Frees records still queued, then the ring. */
void mg_store_queue_destroy(mg_store_queue *q);

/* MG_OK (the queue owns r), or MG_AGAIN when full or closing (the caller
 * still owns r). Never waits for the consumer. */
int mg_store_queue_push(mg_store_queue *q, mg_record *r);

/* Consumer: waits until records are due — due_count are queued, the oldest
 * has waited flush_interval seconds, or the queue is closing — then moves up
 * to max of them, oldest first, into out. Returns how many. *finished is set
 * when the queue is closing and nothing is left. */
size_t mg_store_queue_take(mg_store_queue *q, mg_record **out, size_t max, double flush_interval,
                           int *finished);

/* Refuse further pushes and wake the consumer to drain. */
void mg_store_queue_close(mg_store_queue *q);

/* Current depth and counters, read under the mutex. */
void mg_store_queue_counts(mg_store_queue *q, size_t *depth, uint64_t *pushed,
                           uint64_t *rejected);

#endif
