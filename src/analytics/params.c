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
            int hi = i + 1 < n ? hex_value((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value((unsigned char)s[i + 2]) : -1;
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

static const char *find(const mg_an_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->items[i].name, name) == 0)
            return p->items[i].value;
    }
    return NULL;
}

/* Adds one "name=value" piece; MG_ERR with a 400 in r. */
static int add_pair(mg_an_params *p, const char *s, size_t n, mg_an_result *r)
{
    const char *eq = memchr(s, '=', n);
    size_t name_len = eq ? (size_t)(eq - s) : n;
    char *name = url_decode(s, name_len);
    char *value = eq ? url_decode(eq + 1, n - name_len - 1) : mg_xstrdup("");
    if (!name || !value) {
        mg_an_fail(r, 400, "malformed query string: bad %%-escape or NUL byte");
        goto fail;
    }
    if (find(p, name)) {
        mg_an_fail(r, 400, "parameter '%.64s' given more than once", name);
        goto fail;
    }
    if (p->n == MG_AN_PARAMS_MAX) {
        mg_an_fail(r, 400, "too many query parameters (at most %d)", MG_AN_PARAMS_MAX);
        goto fail;
    }
    p->items[p->n].name = name;
    p->items[p->n].value = value;
    p->n++;
    return MG_OK;
fail:
    free(name);
    free(value);
    return MG_ERR;
}

int mg_an_params_parse(mg_an_params *p, const char *qs, mg_an_result *r)
{
    p->n = 0;
    if (!qs)
        return MG_OK;
    size_t len = strlen(qs);
    if (len > MG_AN_QUERY_MAX) {
        mg_an_fail(r, 400, "query string longer than %d bytes", MG_AN_QUERY_MAX);
        return MG_ERR;
    }
    const char *s = qs, *end = qs + len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        size_t n = amp ? (size_t)(amp - s) : (size_t)(end - s);
        if (n > 0 && add_pair(p, s, n, r) != MG_OK) {
            mg_an_params_free(p);
            return MG_ERR;
        }
        s += n + 1;
    }
    return MG_OK;
}

void mg_an_params_free(mg_an_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].value);
    }
    p->n = 0;
}

const char *mg_an_param(const mg_an_params *p, const char *name)
{
    const char *v = find(p, name);
    return v && *v ? v : NULL;
}

int mg_an_param_int(const mg_an_params *p, const char *name, int64_t lo, int64_t hi,
                    int64_t *out, mg_an_result *r)
{
    const char *v = mg_an_param(p, name);
    if (!v)
        return MG_OK;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || isspace((unsigned char)*v) || n < lo || n > hi) {
        mg_an_fail(r, 400, "parameter '%s' must be an integer from %lld to %lld", name,
                   (long long)lo, (long long)hi);
        return MG_ERR;
    }
    *out = n;
    return MG_OK;
}

int mg_an_param_real(const mg_an_params *p, const char *name, double *out, int *given,
                     mg_an_result *r)
{
    const char *v = mg_an_param(p, name);
    if (!v)
        return MG_OK;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || isspace((unsigned char)*v) || !isfinite(d)) {
        mg_an_fail(r, 400, "parameter '%s' must be a finite number", name);
        return MG_ERR;
    }
    *out = d;
    if (given)
        *given = 1;
    return MG_OK;
}

int mg_an_param_enum(const mg_an_params *p, const char *name, const char *const *words,
                     int *index, mg_an_result *r)
{
    const char *v = mg_an_param(p, name);
    if (!v)
        return MG_OK;
    for (int i = 0; words[i]; i++) {
        if (strcmp(v, words[i]) == 0) {
            *index = i;
            return MG_OK;
        }
    }
    mg_buf list = {0};
    for (int i = 0; words[i]; i++)
        mg_buf_printf(&list, "%s%s", i ? "|" : "", words[i]);
    mg_an_fail(r, 400, "parameter '%s' must be one of %s", name, mg_buf_cstr(&list));
    mg_buf_free(&list);
    return MG_ERR;
}

/* ---- time ---------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

/* Reads exactly `width` digits at *s into *out, advancing *s. */
static int digits(const char **s, int width, int *out)
{
    int v = 0;
    for (int i = 0; i < width; i++) {
        if (!isdigit((unsigned char)(*s)[i]))
            return 0;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += width;
    *out = v;
    return 1;
}

/* "Z", "+HH:MM", "+HHMM", "+HH" or nothing (UTC); offset in minutes. */
static int zone(const char *s, int *offset_min)
{
    *offset_min = 0;
    if (*s == '\0' || (s[0] == 'Z' && s[1] == '\0'))
        return 1;
    int sign = *s == '+' ? 1 : *s == '-' ? -1 : 0;
    int hh, mm = 0;
    if (!sign)
        return 0;
    s++;
    if (!digits(&s, 2, &hh) || hh > 23)
        return 0;
    if (*s == ':')
        s++;
    if (*s && (!digits(&s, 2, &mm) || mm > 59))
        return 0;
    *offset_min = sign * (hh * 60 + mm);
    return *s == '\0';
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][zone] → epoch ms. */
static int parse_iso(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off;
    if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
        !digits(&s, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return 0;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) || h > 23 || mi > 59)
            return 0;
        if (*s == ':') {
            s++;
            if (!digits(&s, 2, &sec) || sec > 60)
                return 0;
            if (*s == '.' || *s == ',') {
                s++;
                int scale = 100, any = 0;
                for (; isdigit((unsigned char)*s); s++, any = 1) {
                    ms += (*s - '0') * scale;
                    scale /= 10;
                }
                if (!any)
                    return 0;
            }
        }
    }
    if (!zone(s, &off))
        return 0;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off * 60;
    *out = secs * 1000 + ms;
    return 1;
}

/* Epoch ms (digits, optional '-') or ISO 8601; 1 on success. */
static int parse_time(const char *s, int64_t *out)
{
    const char *p = s + (*s == '-');
    size_t ndigits = strspn(p, "0123456789");
    if (ndigits > 0 && p[ndigits] == '\0') {
        if (ndigits > 15) /* beyond year ±33000: nonsense, and keeps math in range */
            return 0;
        *out = strtoll(s, NULL, 10);
        return 1;
    }
    return parse_iso(s, out);
}

int mg_an_param_time(const mg_an_params *p, const char *name, int64_t *out, int *given,
                     mg_an_result *r)
{
    const char *v = mg_an_param(p, name);
    if (!v)
        return MG_OK;
    if (!parse_time(v, out)) {
        mg_an_fail(r, 400,
                   "parameter '%s' must be epoch milliseconds or ISO 8601 "
                   "(e.g. 2025-01-31T12:00:00Z)",
                   name);
        return MG_ERR;
    }
    if (given)
        *given = 1;
    return MG_OK;
}
