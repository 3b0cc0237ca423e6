/* shared_dict.c — the store behind mg.shared (see shared_dict.h): per
 * dictionary a chained hash table with a seeded hash (keys may come from
 * clients, e.g. session ids), an LRU list for eviction, lazy expiry and a
 * mutex. The dictionary registry has its own mutex; dictionaries live until
 * mg_shared_reset. Uses pthreads and core. */
#include "shared_dict.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_ENTRIES 10000
#define DEFAULT_MAX_BYTES ((size_t)16 << 20)
#define ENTRY_OVERHEAD 64 /* counted per entry on top of key and value */

typedef struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list, head = most recently used */
    uint64_t hash;
    double expires;            /* monotonic seconds; 0 = never */
    mg_shv v;                  /* v.str owned by the entry */
    size_t klen;
    char key[];
} entry;

struct mg_shdict {
    char name[MG_SHARED_MAX_NAME + 1];
    pthread_mutex_t mu;
    entry **buckets; /* owned */
    size_t nbuckets;
    entry *head, *tail;
    size_t count, bytes, max_entries, max_bytes;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static mg_shdict *registry[MG_SHARED_MAX_DICTS];
static size_t nregistry;
static uint64_t hash_seed;

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ hash_seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

void mg_shv_clear(mg_shv *v)
{
    if (v->type == MG_SHV_STR)
        free(v->str);
    memset(v, 0, sizeof *v);
}

static size_t entry_bytes(const entry *e)
{
    return ENTRY_OVERHEAD + e->klen + (e->v.type == MG_SHV_STR ? e->v.len : 0);
}

static void lru_unlink(mg_shdict *d, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        d->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        d->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(mg_shdict *d, entry *e)
{
    e->prev = NULL;
    e->next = d->head;
    if (d->head)
        d->head->prev = e;
    d->head = e;
    if (!d->tail)
        d->tail = e;
}

static entry **find_slot(mg_shdict *d, const char *key, size_t klen, uint64_t h)
{
    entry **p = &d->buckets[h & (d->nbuckets - 1)];
    while (*p && !((*p)->hash == h && (*p)->klen == klen && memcmp((*p)->key, key, klen) == 0))
        p = &(*p)->hnext;
    return p;
}

static void remove_entry(mg_shdict *d, entry *e)
{
    entry **p = find_slot(d, e->key, e->klen, e->hash);
    *p = e->hnext;
    lru_unlink(d, e);
    d->count--;
    d->bytes -= entry_bytes(e);
    mg_shv_clear(&e->v);
    free(e);
}

static int expired(const entry *e, double now) { return e->expires > 0 && e->expires <= now; }

/* Live entry for key, touched as recently used; expired ones are dropped. */
static entry *lookup(mg_shdict *d, const char *key, size_t klen)
{
    entry *e = *find_slot(d, key, klen, hash_key(key, klen));
    if (!e)
        return NULL;
    if (expired(e, mg_now_mono())) {
        remove_entry(d, e);
        return NULL;
    }
    lru_unlink(d, e);
    lru_push_front(d, e);
    return e;
}

static void grow(mg_shdict *d)
{
    size_t n = d->nbuckets * 2;
    entry **b = mg_xcalloc(n, sizeof *b);
    for (size_t i = 0; i < d->nbuckets; i++) {
        entry *e = d->buckets[i];
        while (e) {
            entry *next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(d->buckets);
    d->buckets = b;
    d->nbuckets = n;
}

/* Evict least recently used entries (expired ones go the same way) until
 * one more entry of `need` bytes fits. Returns how many live ones went. */
static int make_room(mg_shdict *d, size_t need)
{
    int evicted = 0;
    double now = mg_now_mono();
    while (d->tail && (d->count + 1 > d->max_entries || d->bytes + need > d->max_bytes)) {
        if (!expired(d->tail, now))
            evicted++;
        remove_entry(d, d->tail);
    }
    return evicted;
}

static void copy_value(mg_shv *dst, const mg_shv *src)
{
    *dst = *src;
    if (src->type == MG_SHV_STR) {
        dst->str = mg_xmalloc(src->len + 1);
        memcpy(dst->str, src->str, src->len);
        dst->str[src->len] = '\0';
    }
}

static double expiry(double ttl) { return ttl > 0 ? mg_now_mono() + ttl : 0; }

static void insert(mg_shdict *d, const char *key, size_t klen, const mg_shv *v, double ttl)
{
    entry *e = mg_xcalloc(1, sizeof *e + klen + 1);
    memcpy(e->key, key, klen);
    e->klen = klen;
    e->hash = hash_key(key, klen);
    e->expires = expiry(ttl);
    copy_value(&e->v, v);
    if (d->count + 1 > d->nbuckets)
        grow(d);
    entry **slot = &d->buckets[e->hash & (d->nbuckets - 1)];
    e->hnext = *slot;
    *slot = e;
    lru_push_front(d, e);
    d->count++;
    d->bytes += entry_bytes(e);
}

static int check_sizes(size_t klen, const mg_shv *v, char *err, size_t errlen)
{
    if (klen == 0 || klen > MG_SHARED_MAX_KEY) {
        snprintf(err, errlen, "key must be 1..%d bytes", MG_SHARED_MAX_KEY);
        return MG_ERR;
    }
    if (v && v->type == MG_SHV_STR && v->len > MG_SHARED_MAX_VALUE) {
        snprintf(err, errlen, "value larger than %d bytes", MG_SHARED_MAX_VALUE);
        return MG_ERR;
    }
    return MG_OK;
}

int mg_shdict_get(mg_shdict *d, const char *key, size_t klen, mg_shv *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&d->mu);
    entry *e = lookup(d, key, klen);
    if (e)
        copy_value(out, &e->v);
    pthread_mutex_unlock(&d->mu);
    return e ? MG_OK : MG_ERR;
}

int mg_shdict_set(mg_shdict *d, const char *key, size_t klen, const mg_shv *v, double ttl,
                  int *evicted, char *err, size_t errlen)
{
    if (evicted)
        *evicted = 0;
    if (check_sizes(klen, v, err, errlen) != MG_OK)
        return MG_ERR;
    pthread_mutex_lock(&d->mu);
    entry *old = *find_slot(d, key, klen, hash_key(key, klen));
    if (old)
        remove_entry(d, old);
    if (v->type != MG_SHV_NIL) {
        size_t need = ENTRY_OVERHEAD + klen + (v->type == MG_SHV_STR ? v->len : 0);
        if (need > d->max_bytes) {
            pthread_mutex_unlock(&d->mu);
            snprintf(err, errlen, "value larger than the dictionary's %zu bytes", d->max_bytes);
            return MG_ERR;
        }
        int n = make_room(d, need);
        if (evicted)
            *evicted = n;
        insert(d, key, klen, v, ttl);
    }
    pthread_mutex_unlock(&d->mu);
    return MG_OK;
}

int mg_shdict_incr(mg_shdict *d, const char *key, size_t klen, double by, const double *init,
                   double init_ttl, double *out, char *err, size_t errlen)
{
    if (check_sizes(klen, NULL, err, errlen) != MG_OK)
        return MG_ERR;
    int rc = MG_OK;
    pthread_mutex_lock(&d->mu);
    entry *e = lookup(d, key, klen);
    if (e && e->v.type == MG_SHV_NUM) {
        e->v.num += by;
        *out = e->v.num;
    } else if (e) {
        snprintf(err, errlen, "not a number");
        rc = MG_ERR;
    } else if (!init) {
        snprintf(err, errlen, "not found");
        rc = MG_ERR;
    } else {
        mg_shv v = {.type = MG_SHV_NUM, .num = *init + by};
        make_room(d, ENTRY_OVERHEAD + klen);
        insert(d, key, klen, &v, init_ttl);
        *out = v.num;
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

int mg_shdict_delete(mg_shdict *d, const char *key, size_t klen)
{
    pthread_mutex_lock(&d->mu);
    entry *e = *find_slot(d, key, klen, hash_key(key, klen));
    int found = e && !expired(e, mg_now_mono());
    if (e)
        remove_entry(d, e);
    pthread_mutex_unlock(&d->mu);
    return found ? MG_OK : MG_ERR;
}

int mg_shdict_ttl(mg_shdict *d, const char *key, size_t klen, double *left)
{
    pthread_mutex_lock(&d->mu);
    entry *e = lookup(d, key, klen);
    if (e)
        *left = e->expires > 0 ? e->expires - mg_now_mono() : 0;
    pthread_mutex_unlock(&d->mu);
    return e ? MG_OK : MG_ERR;
}

size_t mg_shdict_keys(mg_shdict *d, size_t max, char ***keys)
{
    pthread_mutex_lock(&d->mu);
    double now = mg_now_mono();
    size_t cap = max && max < d->count ? max : d->count, n = 0;
    char **out = mg_xmalloc((cap ? cap : 1) * sizeof *out);
    for (entry *e = d->head; e && n < cap; e = e->next)
        if (!expired(e, now))
            out[n++] = mg_xstrndup(e->key, e->klen);
    pthread_mutex_unlock(&d->mu);
    *keys = out;
    return n;
}

void mg_shdict_keys_free(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

size_t mg_shdict_count(mg_shdict *d)
{
    pthread_mutex_lock(&d->mu);
    size_t n = d->count;
    pthread_mutex_unlock(&d->mu);
    return n;
}

void mg_shdict_flush(mg_shdict *d)
{
    pthread_mutex_lock(&d->mu);
    while (d->head)
        remove_entry(d, d->head);
    pthread_mutex_unlock(&d->mu);
}

const char *mg_shdict_name(const mg_shdict *d) { return d->name; }

static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > MG_SHARED_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x21 || name[i] == 0x7f)
            return 0;
    return 1;
}

mg_shdict *mg_shdict_open(const char *name, size_t max_entries, size_t max_bytes, char *err,
                          size_t errlen)
{
    if (!name_ok(name)) {
        snprintf(err, errlen, "dictionary name must be 1..%d printable bytes", MG_SHARED_MAX_NAME);
        return NULL;
    }
    pthread_mutex_lock(&registry_mu);
    mg_shdict *d = NULL;
    for (size_t i = 0; i < nregistry && !d; i++)
        if (strcmp(registry[i]->name, name) == 0)
            d = registry[i];
    if (!d && nregistry == MG_SHARED_MAX_DICTS)
        snprintf(err, errlen, "more than %d shared dictionaries", MG_SHARED_MAX_DICTS);
    if (!d && nregistry < MG_SHARED_MAX_DICTS) {
        if (nregistry == 0 && hash_seed == 0 &&
            mg_random_bytes(&hash_seed, sizeof hash_seed) != MG_OK)
            hash_seed = (uint64_t)mg_now_wall_ms();
        d = mg_xcalloc(1, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", name);
        pthread_mutex_init(&d->mu, NULL);
        d->nbuckets = 64;
        d->buckets = mg_xcalloc(d->nbuckets, sizeof *d->buckets);
        d->max_entries = max_entries ? max_entries : DEFAULT_MAX_ENTRIES;
        d->max_bytes = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
        registry[nregistry++] = d;
    }
    pthread_mutex_unlock(&registry_mu);
    return d;
}

void mg_shared_reset(void)
{
    pthread_mutex_lock(&registry_mu);
    for (size_t i = 0; i < nregistry; i++) {
        mg_shdict *d = registry[i];
        mg_shdict_flush(d);
        pthread_mutex_destroy(&d->mu);
        free(d->buckets);
        free(d);
    }
    nregistry = 0;
    pthread_mutex_unlock(&registry_mu);
}

int mg_shared_get(const char *dict, const char *key, mg_shv *out)
{
    char err[MG_ERRLEN];
    mg_shdict *d = mg_shdict_open(dict, 0, 0, err, sizeof err);
    memset(out, 0, sizeof *out);
    return d ? mg_shdict_get(d, key, strlen(key), out) : MG_ERR;
}

int mg_shared_set(const char *dict, const char *key, const mg_shv *v, double ttl)
{
    char err[MG_ERRLEN];
    mg_shdict *d = mg_shdict_open(dict, 0, 0, err, sizeof err);
    return d ? mg_shdict_set(d, key, strlen(key), v, ttl, NULL, err, sizeof err) : MG_ERR;
}

int mg_shared_incr(const char *dict, const char *key, double by, double init, double *out)
{
    char err[MG_ERRLEN];
    mg_shdict *d = mg_shdict_open(dict, 0, 0, err, sizeof err);
    return d ? mg_shdict_incr(d, key, strlen(key), by, &init, 0, out, err, sizeof err) : MG_ERR;
}
