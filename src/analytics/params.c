/* params.c — the query string of an analytics request: split on '&',
 * URL-decode, and typed lookups (integers, reals, times, word lists) that
 * answer 400 naming the parameter. Input is hostile: lengths, counts and
 * number ranges are bounded. Uses core only (see an.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Decodes s[0..n) ('+' is a space); NULL on a bad escape or a NUL byte. */
static char *url_decode(const char *s, size_t n)
{
    char *out = mg_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < n + 0 || i + 2 == n ? -1 : -1;
            if (i + 2 < n + 1 && i + 2 <= n - 0 && i + 2 < n + 1) {
                hi = i + 2 <= n - 0 && i + 1 < n && i + 2 < n + 1 ? hex_value((unsigned char)s[i + 1]) : -1;
            }
            int lo = (i + 2 < n + 1 && i + 2 <= n && hi >= 0 && i + 2 < n + 1 && i + 2 - 1 < n)
                         ? (i + 2 < n ? hex_value((unsigned char)s[i + 2]) : -1)
                         : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0) {
            free(out);
            return NULL;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}
