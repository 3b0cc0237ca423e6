/* live-t.h — types of the live hub, shared by live.c and subs.c. */
#ifndef MG_LIVE_T_H
#define MG_LIVE_T_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "live.h"

#define MG_LIVE_RING 1024   /* recent events kept for subscribers */
#define MG_LIVE_BUCKETS 80  /* latency histogram, 0.1 ms .. ~100 s */
#define MG_LIVE_MODELS 32   /* distinct models counted per second */

typedef struct mg_live_event {
    uint64_t seq;   /* 0: empty slot */
    char type[32];
    char *json;     /* owned */
    size_t len;
} mg_live_event;

typedef struct mg_live_second {
    uint64_t requests, errors, tokens;
    double cost;
} mg_live_second;

struct mg_live {
    pthread_mutex_t lock;
    mg_live_event ring[MG_LIVE_RING];
    uint64_t next_seq;
    atomic_int subscribers;    /* across all workers */
    mg_live_second sec;        /* the second being counted */
    uint32_t hist[MG_LIVE_BUCKETS];
    struct {
        char name[96];
        uint64_t count;
    } models[MG_LIVE_MODELS];
    int nmodels;
    uint64_t total_requests, total_errors;
    double cost_today;
    int64_t day;               /* epoch day cost_today belongs to */
    mg_buf last_metrics;
};

#endif
