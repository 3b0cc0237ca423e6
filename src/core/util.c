/* util.c — allocation, time, randomness and string helpers (see common.h). */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static void oom(size_t n)
{
    fprintf(stderr, "moongate: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mg_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *mg_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *mg_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *mg_xstrdup(const char *s) { return mg_xstrndup(s, strlen(s)); }

char *mg_xstrndup(const char *s, size_t n)
{
    char *d = mg_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

double mg_now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t mg_now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mg_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return MG_ERR;
        }
        p += got;
        n -= (size_t)got;
    }
    return MG_OK;
}

/* Ids need uniqueness, not secrecy: a per-thread splitmix64 seeded once
 * from the OS saves a getrandom() syscall per request. */
static uint64_t next_random64(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local int seeded;
    if (!seeded) {
        if (mg_random_bytes(&state, sizeof state) != MG_OK)
            state = (uint64_t)mg_now_wall_ms() ^ (uint64_t)(uintptr_t)&state;
        seeded = 1;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void mg_random_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t parts[2] = {next_random64(), next_random64()};
    for (int i = 0; i < 32; i++) {
        uint64_t v = parts[i / 16];
        out[i] = hex[(v >> ((i % 16) * 4)) & 15];
    }
    out[32] = '\0';
}

int mg_ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Compare over the longer length so timing depends on neither content
     * nor where the first difference is. */
    size_t n = alen > blen ? alen : blen;
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        unsigned char y = i < blen ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

int mg_strncaseeq(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++) {
        if (!lit[i])
            return 0;
        unsigned char a = (unsigned char)s[i], b = (unsigned char)lit[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b + 32);
        if (a != b)
            return 0;
    }
    return lit[i] == '\0';
}

void mg_time_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t ms = (uint64_t)mg_now_wall_ms();
    for (int i = 11; i >= 0; i--) {
        out[i] = hex[ms & 15];
        ms >>= 4;
    }
    char rnd[33];
    mg_random_id(rnd);
    for (int i = 12; i < 32; i++)
        out[i] = rnd[i];
    out[32] = '\0';
}
