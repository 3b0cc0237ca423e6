/* errs.c — the config loader's error list: every problem in one pass, one
 * line each, with secret values replaced by <redacted> before the text
 * leaves the loader. Also the key-path builder used to name a problem's
 * place ("providers[2].timeouts.connect"). Uses core/buf. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg-t.h"

/* Shorter values are too likely to occur by chance in ordinary text
 * (a 3-letter key would blank out words); they are never printed anyway. */
#define MG_CFG_SECRET_MIN 6

static int room_for_line(mg_cfg_errs *e)
{
    e->count++;
    return e->count <= MG_CFG_MAX_ERRORS;
}

void mg_cfg_err(mg_cfg_errs *e, const char *keypath, const char *fmt, ...)
{
    if (!room_for_line(e))
        return;
    mg_buf_printf(&e->text, "%s: ", e->file ? e->file : "(config)");
    if (keypath && keypath[0])
        mg_buf_printf(&e->text, "%s: ", keypath);
    va_list ap;
    va_start(ap, fmt);
    mg_buf_vprintf(&e->text, fmt, ap);
    va_end(ap);
    mg_buf_append(&e->text, "\n", 1);
}

void mg_cfg_err_line(mg_cfg_errs *e, const char *line)
{
    if (!room_for_line(e))
        return;
    mg_buf_append_str(&e->text, line);
    mg_buf_append(&e->text, "\n", 1);
}

static void remember_secret(mg_cfg_errs *e, const char *value, size_t len)
{
    /* A Lua string may hold a NUL; what is kept (and matched) is the C
     * string before it, so its length must be that string's. */
    len = strnlen(value, len);
    if (len < MG_CFG_SECRET_MIN)
        return;
    for (size_t i = 0; i < e->nsecrets; i++)
        if (strlen(e->secrets[i]) == len && memcmp(e->secrets[i], value, len) == 0)
            return;
    e->secrets = mg_xrealloc(e->secrets, (e->nsecrets + 1) * sizeof *e->secrets);
    e->secrets[e->nsecrets++] = mg_xstrndup(value, len);
}

void mg_cfg_secret(mg_cfg_errs *e, const char *value, size_t len)
{
    remember_secret(e, value, len);
    /* A pasted key often carries a stray newline or space; the bare key
     * must not show either. */
    size_t start = 0, end = len;
    while (start < end && (unsigned char)value[start] <= 0x20)
        start++;
    while (end > start && (unsigned char)value[end - 1] <= 0x20)
        end--;
    if (start > 0 || end < len)
        remember_secret(e, value + start, end - start);
}

/* Replace every occurrence of secret in b. */
static void redact_one(mg_buf *b, const char *secret)
{
    size_t slen = strlen(secret);
    if (slen == 0 || b->len < slen)
        return; /* an empty secret would match everywhere, forever */
    mg_buf out = {0};
    size_t i = 0;
    while (i < b->len) {
        if (b->len - i >= slen && memcmp(b->data + i, secret, slen) == 0) {
            mg_buf_append_str(&out, "<redacted>");
            i += slen;
        } else {
            mg_buf_append(&out, b->data + i, 1);
            i++;
        }
    }
    mg_buf_free(b);
    *b = out;
}

/* Index where a cut at most max bytes long ends without splitting a UTF-8
 * sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

void mg_cfg_errs_finish(mg_cfg_errs *e, char *err, size_t errlen)
{
    if (e->count > MG_CFG_MAX_ERRORS)
        mg_buf_printf(&e->text, "(%d more errors not shown)\n",
                      e->count - MG_CFG_MAX_ERRORS);
    for (size_t i = 0; i < e->nsecrets; i++)
        redact_one(&e->text, e->secrets[i]);
    size_t len = e->text.len;
    while (len > 0 && e->text.data[len - 1] == '\n')
        len--;
    if (!err || errlen == 0)
        return;
    if (len < errlen) {
        if (len)
            memcpy(err, e->text.data, len);
        err[len] = '\0';
        return;
    }
    static const char more[] = "...";
    if (errlen <= sizeof more) {
        size_t n = utf8_cut(e->text.data, errlen - 1);
        memcpy(err, e->text.data, n);
        err[n] = '\0';
        return;
    }
    size_t n = utf8_cut(e->text.data, errlen - sizeof more);
    memcpy(err, e->text.data, n);
    memcpy(err + n, more, sizeof more);
}

void mg_cfg_errs_free(mg_cfg_errs *e)
{
    for (size_t i = 0; i < e->nsecrets; i++) {
        /* Do not leave key material lying around in freed heap memory. */
        memset(e->secrets[i], 0, strlen(e->secrets[i]));
        free(e->secrets[i]);
    }
    free(e->secrets);
    mg_buf_free(&e->text);
    memset(e, 0, sizeof *e);
}

/* ---- key paths ---------------------------------------------------------- */

void mg_cfg_printable(char *out, size_t outlen, const char *s, size_t n)
{
    const size_t show = 64;
    size_t o = 0;
    for (size_t i = 0; i < n && i < show && o + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (n > show && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static void path_append(mg_cfg_path *p, const char *s)
{
    size_t n = strlen(s);
    size_t room = sizeof p->s - 1 - p->len;
    if (n > room)
        n = room;
    memcpy(p->s + p->len, s, n);
    p->len += n;
    p->s[p->len] = '\0';
}

size_t mg_cfg_path_key(mg_cfg_path *p, const char *key, size_t keylen)
{
    size_t mark = p->len;
    char shown[80];
    mg_cfg_printable(shown, sizeof shown, key, keylen);
    if (p->len)
        path_append(p, ".");
    path_append(p, shown);
    return mark;
}

size_t mg_cfg_path_index(mg_cfg_path *p, size_t index1)
{
    size_t mark = p->len;
    char num[32];
    snprintf(num, sizeof num, "[%zu]", index1);
    path_append(p, num);
    return mark;
}

size_t mg_cfg_path_quoted(mg_cfg_path *p, const char *key, size_t keylen)
{
    size_t mark = p->len;
    char shown[80];
    mg_cfg_printable(shown, sizeof shown, key, keylen);
    path_append(p, "[\"");
    path_append(p, shown);
    path_append(p, "\"]");
    return mark;
}

void mg_cfg_path_pop(mg_cfg_path *p, size_t mark)
{
    if (mark <= p->len) {
        p->len = mark;
        p->s[mark] = '\0';
    }
}
