/* sessions.c — dashboard sessions (see sessions.h). A fixed table: a few
 * people log in to one gateway; the oldest session makes room. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "sessions.h"

#define MAX_SESSIONS 64
#define SESSION_TTL 43200.0

typedef struct session {
    char id[65];
    double expires; /* mg_now_mono(); 0 = free slot */
} session;

struct mg_sessions {
    pthread_mutex_t lock;
    session slots[MAX_SESSIONS];
};

mg_sessions *mg_sessions_new(void)
{
    mg_sessions *s = mg_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void mg_sessions_free(mg_sessions *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void mg_sessions_create(mg_sessions *s, char id[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    if (mg_random_bytes(raw, sizeof raw) != MG_OK)
        abort(); /* a guessable session id would be worse than no dashboard */
    for (int i = 0; i < 32; i++) {
        id[2 * i] = hex[raw[i] >> 4];
        id[2 * i + 1] = hex[raw[i] & 15];
    }
    id[64] = '\0';
    pthread_mutex_lock(&s->lock);
    session *slot = &s->slots[0];
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (s->slots[i].expires < slot->expires)
            slot = &s->slots[i];
    memcpy(slot->id, id, 65);
    slot->expires = mg_now_mono() + SESSION_TTL;
    pthread_mutex_unlock(&s->lock);
}

int mg_sessions_valid(mg_sessions *s, const char *id, size_t len)
{
    if (len != 64)
        return 0;
    int ok = 0;
    double now = mg_now_mono();
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < MAX_SESSIONS; i++)
        ok |= s->slots[i].expires > now && mg_ct_equal(s->slots[i].id, 64, id, len);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

void mg_sessions_drop(mg_sessions *s, const char *id, size_t len)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (len == 64 && mg_ct_equal(s->slots[i].id, 64, id, len))
            s->slots[i].expires = 0;
    pthread_mutex_unlock(&s->lock);
}
