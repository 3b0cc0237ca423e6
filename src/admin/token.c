/* token.c — the admin token file: created once with 0600 permissions and
 * 256 random bits, read on later starts. Runs on the main thread before
 * any loop starts, so plain blocking file I/O is fine here. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"

static void mkdir_parent(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(dir, 0700);
        *p = '/';
    }
}

static int read_token(const char *path, char *out, size_t outlen, char *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return MG_AGAIN;
    size_t n = fread(out, 1, outlen - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    if (n < 16) {
        snprintf(err, MG_ERRLEN, "%s: admin token is shorter than 16 characters", path);
        return MG_ERR;
    }
    return MG_OK;
}

int mg_admin_token_load_or_create(const char *path, char *out, size_t outlen, int *created,
                                  char *err)
{
    *created = 0;
    int rc = read_token(path, out, outlen, err);
    if (rc != MG_AGAIN)
        return rc;
    unsigned char raw[32];
    static const char hex[] = "0123456789abcdef";
    if (outlen < 2 * sizeof raw + 1 || mg_random_bytes(raw, sizeof raw) != MG_OK) {
        snprintf(err, MG_ERRLEN, "cannot generate an admin token");
        return MG_ERR;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * sizeof raw] = '\0';
    mkdir_parent(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, MG_ERRLEN, "cannot save the admin token to %s: %s", path, strerror(errno));
        return MG_ERR;
    }
    ssize_t w = write(fd, out, strlen(out));
    close(fd);
    if (w != (ssize_t)strlen(out)) {
        snprintf(err, MG_ERRLEN, "cannot write the admin token to %s", path);
        return MG_ERR;
    }
    *created = 1;
    return MG_OK;
}
