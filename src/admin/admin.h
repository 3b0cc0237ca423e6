/* admin.h — the admin surface: everything under /api/ (JSON, admin token
 * required, cross-origin browser requests refused) and /metrics
 * (Prometheus text). Uses runtime (gateway state), store (stats). */
#ifndef MG_ADMIN_H
#define MG_ADMIN_H

#include "../net/http.h"

struct mg_worker;

int mg_admin_handles(const char *path);
void mg_admin_handle(struct mg_worker *w, mg_http_req *req);

/* The guard, exposed for tests: MG_OK when the request carries the admin
 * token and is not a cross-origin browser request; MG_AGAIN when it
 * carries a session cookie instead (the caller checks the session);
 * otherwise MG_ERR with *status and a message. */
int mg_admin_guard(const mg_http_req *req, const char *token, int *status, const char **why);

const char *mg_admin_session_cookie(const mg_http_req *req, size_t *len);

struct mg_provider_cfg;
/* POST /api/providers/{name}/test (provider_test.c). */
void mg_admin_provider_test(struct mg_worker *w, mg_http_req *req,
                            const struct mg_provider_cfg *p);

/* Admin token file: read it, or create one (0600) when missing. Runs at
 * start on the main thread. Returns MG_OK and fills out (hex); *created is
 * set when a new token was generated. */
int mg_admin_token_load_or_create(const char *path, char *out, size_t outlen, int *created,
                                  char *err);

#endif
