/* policy_files.h — reads the *.lua files of a policies folder in name
 * order, with their SHA-256, for building a generation and for the reload
 * watcher. Hidden files (".name.lua", editor temporaries) are skipped.
 * Uses OpenSSL's SHA-256. */
#ifndef MG_LUA_POLICY_FILES_H
#define MG_LUA_POLICY_FILES_H

#include <stddef.h>

#define MG_POLICY_MAX_FILES 256
#define MG_POLICY_MAX_BYTES (1024 * 1024) /* per file */

typedef struct mg_policy_file {
    char *name;       /* "routing.lua"; owned */
    char *data;       /* content, NUL-terminated; owned */
    size_t len;
    char sha256[65];
} mg_policy_file;

/* All policy files of dir in strcmp order. MG_OK, or MG_ERR with err (dir
 * unreadable, a file too large, too many files). */
int mg_policy_files_read(const char *dir, mg_policy_file **files, size_t *n, char *err,
                         size_t errlen);
void mg_policy_files_free(mg_policy_file *files, size_t n);

/* Read a whole regular file of at most max bytes (NUL-terminated copy). */
int mg_policy_read_file(const char *path, size_t max, char **data, size_t *len, char *err,
                        size_t errlen);

void mg_sha256_hex(const void *data, size_t len, char out[65]);

#endif
