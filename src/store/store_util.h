/* store_util.h — small helpers shared by the store's files (internal):
 * the error text convention, creating a database's parent folders, and
 * file sizes for stats. Uses libc only. */
#ifndef MG_STORE_UTIL_H
#define MG_STORE_UTIL_H

#include <stdint.h>

#include "../core/common.h"

/* Fill err (MG_ERRLEN bytes, may be NULL) with a message for a human. */
void mg_store_set_err(char *err, const char *fmt, ...) MG_PRINTF(2, 3);
/* Create every missing folder above `path` (mkdir -p of its dirname).
 * MG_OK, or MG_ERR with err filled. */
int mg_store_mkdir_parents(const char *path, char *err);
/* Bytes of the database file plus its -wal file; missing files count 0. */
int64_t mg_store_db_bytes(const char *db_path);

#endif
