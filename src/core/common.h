/* common.h — status codes, small helpers and attributes shared by every part
 * of the host. Uses nothing but libc. */
#ifndef MG_COMMON_H
#define MG_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* One status convention across the host. Functions that can fail return one
 * of these and, where a human needs to know why, fill an `char *err` buffer
 * of MG_ERRLEN bytes. */
enum {
    MG_OK = 0,
    MG_ERR = -1,
    MG_AGAIN = -2, /* would block / above a watermark: try again later */
};

#define MG_ERRLEN 256

#define MG_UNUSED(x) ((void)(x))
#define MG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MG_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define MG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MG_PRINTF(fmt, args)
#endif

/* Allocation that cannot fail: out of memory aborts with a message, as Redis
 * does; every caller would otherwise need a path it cannot test. */
void *mg_xmalloc(size_t n);
void *mg_xcalloc(size_t n, size_t size);
void *mg_xrealloc(void *p, size_t n);
char *mg_xstrdup(const char *s);
char *mg_xstrndup(const char *s, size_t n);

/* Time: monotonic seconds (for durations and timers) and wall milliseconds
 * (for records). */
double mg_now_mono(void);
int64_t mg_now_wall_ms(void);

/* A random 128-bit id rendered as 32 lowercase hex chars plus NUL. */
/* Time-ordered id: 48-bit wall ms then 80 random bits, 32 hex chars. Sorts
 * by creation time, so database indexes on it append instead of splitting. */
void mg_time_id(char out[33]);
void mg_random_id(char out[33]);
/* Fill buf with n bytes from the OS random source; MG_OK or MG_ERR. */
int mg_random_bytes(void *buf, size_t n);

/* Constant-time comparison of two byte strings (lengths may differ). */
int mg_ct_equal(const char *a, size_t alen, const char *b, size_t blen);

/* ASCII case-insensitive comparison of a length-delimited string with a
 * NUL-terminated one. */
int mg_strncaseeq(const char *s, size_t n, const char *lit);

#endif
