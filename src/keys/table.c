/* table.c — the in-memory key table: keys in creation order (owned) and an
 * open-addressing map from secret hash to key (borrowed), so the request
 * path finds a key with one hash and no disk. Also the per-key model
 * allow-list. Callers hold table_lock (read or write, as internal.h says). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct mg_key *mg_keys_key_new(void)
{
    struct mg_key *key = mg_xcalloc(1, sizeof *key);
    pthread_mutex_init(&key->lock, NULL);
    return key;
}

static void free_models(struct mg_key *key)
{
    for (size_t i = 0; i < key->nmodels; i++)
        free(key->models[i]);
    free(key->models);
    key->models = NULL;
    key->nmodels = 0;
}

void mg_keys_key_free(struct mg_key *key)
{
    if (!key)
        return;
    free_models(key);
    free(key->metadata);
    pthread_mutex_destroy(&key->lock);
    free(key);
}

void mg_keys_set_models(struct mg_key *key, char **models, size_t n)
{
    free_models(key);
    if (!models)
        return;
    key->models = mg_xcalloc(n ? n : 1, sizeof *key->models);
    for (size_t i = 0; i < n; i++)
        key->models[i] = mg_xstrdup(models[i]);
    key->nmodels = n;
}

/* An entry matches exactly, or as a prefix when it ends in '*'. */
int mg_keys_model_allowed(const struct mg_key *key, const char *model)
{
    if (!key->models || !model)
        return 1;
    for (size_t i = 0; i < key->nmodels; i++) {
        const char *m = key->models[i];
        size_t n = strlen(m);
        if (n && m[n - 1] == '*' ? strncmp(model, m, n - 1) == 0 : strcmp(model, m) == 0)
            return 1;
    }
    return 0;
}

static size_t slot_of(const uint8_t hash[32], size_t cap)
{
    uint64_t h;
    memcpy(&h, hash, sizeof h); /* a SHA-256 is already uniform */
    return (size_t)(h & (cap - 1));
}

static void map_put(struct mg_key **map, size_t cap, struct mg_key *key)
{
    size_t i = slot_of(key->hash, cap);
    while (map[i])
        i = (i + 1) & (cap - 1);
    map[i] = key;
}

struct mg_key *mg_keys_find_hash(mg_keys *k, const uint8_t hash[32])
{
    if (!k->map_cap)
        return NULL;
    for (size_t i = slot_of(hash, k->map_cap);; i = (i + 1) & (k->map_cap - 1)) {
        struct mg_key *key = k->map[i];
        if (!key)
            return NULL;
        /* Comparing hashes of the secret: no timing here tells an attacker
         * anything about a secret, but stay constant-time all the same. */
        if (mg_ct_equal((const char *)key->hash, 32, (const char *)hash, 32))
            return key;
    }
}

/* Rebuild the map from the table (after a rotation changed a hash, or to
 * grow). */
void mg_keys_table_rehash(mg_keys *k)
{
    size_t cap = 16;
    while (cap < 2 * k->nkeys + 2)
        cap *= 2;
    struct mg_key **map = mg_xcalloc(cap, sizeof *map);
    for (size_t i = 0; i < k->nkeys; i++)
        map_put(map, cap, k->keys[i]);
    free(k->map);
    k->map = map;
    k->map_cap = cap;
}

void mg_keys_table_add(mg_keys *k, struct mg_key *key)
{
    if (k->nkeys == k->keys_cap) {
        k->keys_cap = k->keys_cap ? 2 * k->keys_cap : 16;
        k->keys = mg_xrealloc(k->keys, k->keys_cap * sizeof *k->keys);
    }
    k->keys[k->nkeys++] = key;
    if (2 * k->nkeys + 2 > k->map_cap)
        mg_keys_table_rehash(k);
    else
        map_put(k->map, k->map_cap, key);
}

/* By id first; then by name, preferring an active key, else the newest. */
struct mg_key *mg_keys_find(mg_keys *k, const char *id_or_name)
{
    struct mg_key *named = NULL;
    for (size_t i = 0; i < k->nkeys; i++)
        if (strcmp(k->keys[i]->id, id_or_name) == 0)
            return k->keys[i];
    for (size_t i = k->nkeys; i-- > 0;) {
        struct mg_key *key = k->keys[i];
        pthread_mutex_lock(&key->lock);
        int match = strcmp(key->name, id_or_name) == 0, active = !key->revoked_at;
        pthread_mutex_unlock(&key->lock);
        if (match && active)
            return key;
        if (match && !named)
            named = key;
    }
    return named;
}

/* Is name used by another key that is not revoked? Table lock held. */
int mg_keys_name_taken(mg_keys *k, const char *name, const struct mg_key *except)
{
    for (size_t i = 0; i < k->nkeys; i++) {
        struct mg_key *key = k->keys[i];
        if (key == except)
            continue;
        pthread_mutex_lock(&key->lock);
        int taken = !key->revoked_at && strcmp(key->name, name) == 0;
        pthread_mutex_unlock(&key->lock);
        if (taken)
            return 1;
    }
    return 0;
}

void mg_keys_table_free(mg_keys *k)
{
    for (size_t i = 0; i < k->nkeys; i++)
        mg_keys_key_free(k->keys[i]);
    free(k->keys);
    free(k->map);
    k->keys = k->map = NULL;
    k->nkeys = k->keys_cap = k->map_cap = 0;
}
