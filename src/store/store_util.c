/* store_util.c — error text, parent folders and file sizes for the store
 * (see store_util.h). */
#include "store_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void mg_store_set_err(char *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, MG_ERRLEN, fmt, ap);
    va_end(ap);
}

/* mkdir that treats "already a folder" as success. */
static int mkdir_one(const char *dir, char *err)
{
    if (mkdir(dir, 0755) == 0)
        return MG_OK;
    int saved = errno;
    struct stat st;
    if (saved == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return MG_OK;
    mg_store_set_err(err, "cannot create folder %s: %s", dir,
                     saved == EEXIST ? "exists and is not a folder" : strerror(saved));
    return MG_ERR;
}

int mg_store_mkdir_parents(const char *path, char *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return MG_OK; /* relative file in the cwd, or directly under "/" */
    char *dir = mg_xstrndup(path, (size_t)(slash - path));
    int rc = MG_OK;
    /* Walk each prefix ending before a '/', then the whole dirname. */
    for (char *p = dir + 1; rc == MG_OK && *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        rc = mkdir_one(dir, err);
        *p = '/';
    }
    if (rc == MG_OK)
        rc = mkdir_one(dir, err);
    free(dir);
    return rc;
}

static int64_t file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

int64_t mg_store_db_bytes(const char *db_path)
{
    size_t n = strlen(db_path);
    char *wal = mg_xmalloc(n + sizeof "-wal");
    memcpy(wal, db_path, n);
    memcpy(wal + n, "-wal", sizeof "-wal");
    int64_t total = file_bytes(db_path) + file_bytes(wal);
    free(wal);
    return total;
}
