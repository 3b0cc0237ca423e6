/* sessions.h — dashboard login sessions: POST /api/login trades the admin
 * token for a random session id in an httpOnly SameSite=Strict cookie.
 * Thread-safe (any worker); bounded (oldest evicted); 12 h lifetime. */
#ifndef MG_SESSIONS_H
#define MG_SESSIONS_H

#include <stddef.h>

typedef struct mg_sessions mg_sessions;

mg_sessions *mg_sessions_new(void);
void mg_sessions_free(mg_sessions *s);
/* New session; id gets 64 hex chars + NUL. */
void mg_sessions_create(mg_sessions *s, char id[65]);
int mg_sessions_valid(mg_sessions *s, const char *id, size_t len);
void mg_sessions_drop(mg_sessions *s, const char *id, size_t len);

#endif
