/* shared_dict.h — named key/value dictionaries that live in C, shared by
 * every worker thread and surviving policy reloads: the store behind
 * mg.shared (counters, flags, sticky sessions). Each dictionary has its own
 * mutex, a bound on entries and bytes, per-entry TTLs and LRU eviction when
 * full. Values are strings, numbers or booleans. Dictionaries are created on
 * first use and kept until mg_shared_reset (process end / tests).
 * Uses pthreads and the monotonic clock from core. */
#ifndef MG_LUA_SHARED_DICT_H
#define MG_LUA_SHARED_DICT_H

#include <stddef.h>

#include "../core/common.h"

#define MG_SHARED_MAX_NAME 64        /* dictionary name bytes */
#define MG_SHARED_MAX_KEY 512        /* key bytes */
#define MG_SHARED_MAX_VALUE 65536    /* string value bytes */
#define MG_SHARED_MAX_DICTS 256

enum mg_shv_type { MG_SHV_NIL = 0, MG_SHV_BOOL, MG_SHV_NUM, MG_SHV_STR };

/* A value. When a getter fills one, str is malloc'd and owned by the
 * caller (mg_shv_clear); when passed in, it is only read. */
typedef struct mg_shv {
    int type;      /* enum mg_shv_type */
    int boolean;
    double num;
    char *str;
    size_t len;
} mg_shv;

void mg_shv_clear(mg_shv *v);

typedef struct mg_shdict mg_shdict;

/* Find or create a dictionary. max_entries/max_bytes 0 = defaults (10000
 * entries, 16 MiB); they apply only when this call creates it. NULL with
 * err filled for a bad name or too many dictionaries. */
mg_shdict *mg_shdict_open(const char *name, size_t max_entries, size_t max_bytes, char *err,
                          size_t errlen);
const char *mg_shdict_name(const mg_shdict *d);

/* MG_OK and *out filled, or MG_ERR when missing or expired. */
int mg_shdict_get(mg_shdict *d, const char *key, size_t klen, mg_shv *out);
/* ttl seconds, 0 = never expires. MG_OK (*evicted = entries evicted to make
 * room, may be NULL) or MG_ERR with err (key or value too large). A NIL
 * value deletes. */
int mg_shdict_set(mg_shdict *d, const char *key, size_t klen, const mg_shv *v, double ttl,
                  int *evicted, char *err, size_t errlen);
/* Add `by` to a number. Missing key: if init is non-NULL, store *init + by
 * with init_ttl; otherwise MG_ERR "not found". Non-number: MG_ERR. */
int mg_shdict_incr(mg_shdict *d, const char *key, size_t klen, double by, const double *init,
                   double init_ttl, double *out, char *err, size_t errlen);
int mg_shdict_delete(mg_shdict *d, const char *key, size_t klen); /* MG_OK if it was there */
/* Seconds left: 0 = no expiry; MG_ERR when missing. */
int mg_shdict_ttl(mg_shdict *d, const char *key, size_t klen, double *left);
/* Live keys, most recently used first, at most max (0 = all). *keys is a
 * malloc'd array of malloc'd strings; free with mg_shdict_keys_free. */
size_t mg_shdict_keys(mg_shdict *d, size_t max, char ***keys);
void mg_shdict_keys_free(char **keys, size_t n);
size_t mg_shdict_count(mg_shdict *d);
void mg_shdict_flush(mg_shdict *d);

/* Name-based conveniences for C parts of the host (open with defaults). */
int mg_shared_get(const char *dict, const char *key, mg_shv *out);
int mg_shared_set(const char *dict, const char *key, const mg_shv *v, double ttl);
int mg_shared_incr(const char *dict, const char *key, double by, double init, double *out);

/* Free every dictionary. Only when no thread uses them any more. */
void mg_shared_reset(void);

#endif
