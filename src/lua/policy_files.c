/* policy_files.c — list, read and hash policy files (see policy_files.h). */
#include "policy_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/common.h"

void mg_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    for (size_t i = 0; i < sizeof md; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int mg_policy_read_file(const char *path, size_t max, char **data, size_t *len, char *err,
                        size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return MG_ERR;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return MG_ERR;
    }
    if ((size_t)st.st_size > max) {
        snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
        close(fd);
        return MG_ERR;
    }
    size_t cap = (size_t)st.st_size + 1, got = 0;
    char *buf = mg_xmalloc(cap);
    for (;;) {
        if (got + 1 == cap) { /* file grew while we read it */
            if (cap > max) {
                snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
                goto fail;
            }
            cap *= 2;
            buf = mg_xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return MG_OK;
fail:
    close(fd);
    free(buf);
    return MG_ERR;
}

static int is_policy_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".lua") == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const mg_policy_file *)a)->name, ((const mg_policy_file *)b)->name);
}

static int list_names(const char *dir, mg_policy_file **files, size_t *n, char *err,
                      size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "policies: cannot open %s: %s", dir, strerror(errno));
        return MG_ERR;
    }
    mg_policy_file *list = NULL;
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_policy_name(de->d_name))
            continue;
        if (count == MG_POLICY_MAX_FILES) {
            snprintf(err, errlen, "policies: more than %d files in %s", MG_POLICY_MAX_FILES,
                     dir);
            closedir(d);
            mg_policy_files_free(list, count);
            return MG_ERR;
        }
        list = mg_xrealloc(list, (count + 1) * sizeof *list);
        memset(&list[count], 0, sizeof *list);
        list[count++].name = mg_xstrdup(de->d_name);
    }
    closedir(d);
    if (count > 1)
        qsort(list, count, sizeof *list, by_name);
    *files = list;
    *n = count;
    return MG_OK;
}

int mg_policy_files_read(const char *dir, mg_policy_file **files, size_t *n, char *err,
                         size_t errlen)
{
    mg_policy_file *list;
    size_t count;
    *files = NULL;
    *n = 0;
    if (list_names(dir, &list, &count, err, errlen) != MG_OK)
        return MG_ERR;
    for (size_t i = 0; i < count; i++) {
        size_t plen = strlen(dir) + strlen(list[i].name) + 2;
        char *path = mg_xmalloc(plen);
        snprintf(path, plen, "%s/%s", dir, list[i].name);
        int rc = mg_policy_read_file(path, MG_POLICY_MAX_BYTES, &list[i].data, &list[i].len, err,
                                     errlen);
        free(path);
        if (rc != MG_OK) {
            mg_policy_files_free(list, count);
            return MG_ERR;
        }
        mg_sha256_hex(list[i].data, list[i].len, list[i].sha256);
    }
    *files = list;
    *n = count;
    return MG_OK;
}

void mg_policy_files_free(mg_policy_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].data);
    }
    free(files);
}
