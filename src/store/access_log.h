/* access_log.h — the access log: one line per stored record, written by the
 * store's writer thread after the batch commits (internal to the store).
 * Records carry no secrets by design (key_id is an id, not a key); values
 * that came from clients are escaped so a line stays one line. Uses stdio. */
#ifndef MG_STORE_ACCESS_LOG_H
#define MG_STORE_ACCESS_LOG_H

#include <stddef.h>
#include <stdio.h>

#include "../core/buf.h"
#include "record.h"

typedef struct mg_store_access_log {
    FILE *f;     /* NULL when disabled; closed on close unless it is stderr */
    int owned;   /* f was opened here */
    int failing; /* the last flush failed: warn once until one succeeds */
    mg_buf text; /* owned scratch: the lines of one batch */
} mg_store_access_log;

/* path: a file (appended to, parent folders created), "-" for stderr, or
 * NULL for no log. MG_OK, or MG_ERR with err filled. */
int mg_store_access_log_open(mg_store_access_log *log, const char *path, char *err);
/* Appends one line per record and flushes. Failures are logged, not fatal. */
void mg_store_access_log_write(mg_store_access_log *log, mg_record *const *recs, size_t n);
void mg_store_access_log_close(mg_store_access_log *log);

/* One line, newline included:
 * <ISO time> <id> <client_format> <endpoint> <provider>/<model_routed>
 * <http_status> <status> <duration_ms>ms in=<tokens_input> out=<tokens_output>
 * cost=<cost> attempts=<n>[ err="<error>"] */
void mg_store_access_log_format(const mg_record *r, mg_buf *out);

#endif
