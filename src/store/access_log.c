/* access_log.c — formats and writes access log lines (see access_log.h). */
#include "access_log.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "store_util.h"

#define TOKEN_MAX 256 /* bytes of one client-supplied field kept in a line */
#define ERROR_MAX 512

int mg_store_access_log_open(mg_store_access_log *log, const char *path, char *err)
{
    memset(log, 0, sizeof *log);
    if (!path)
        return MG_OK;
    if (strcmp(path, "-") == 0) {
        log->f = stderr;
        return MG_OK;
    }
    if (mg_store_mkdir_parents(path, err) != MG_OK)
        return MG_ERR;
    log->f = fopen(path, "a");
    if (!log->f) {
        mg_store_set_err(err, "cannot open access log %s: %s", path, strerror(errno));
        return MG_ERR;
    }
    log->owned = 1;
    return MG_OK;
}

void mg_store_access_log_close(mg_store_access_log *log)
{
    if (log->owned)
        fclose(log->f);
    mg_buf_free(&log->text);
    memset(log, 0, sizeof *log);
}

/* Appends s escaped: controls, non-ASCII bytes, quote, backslash and (in a
 * bare token) space become \xNN, so a hostile value cannot start a new line,
 * split a field or reach a terminal as an escape sequence. */
static void append_escaped(mg_buf *out, const char *s, size_t max, int escape_space)
{
    size_t n = strlen(s);
    size_t keep = MG_MIN(n, max);
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || (escape_space && c == ' '))
            mg_buf_printf(out, "\\x%02x", c);
        else
            mg_buf_append(out, &s[i], 1);
    }
    if (keep < n)
        mg_buf_append_str(out, "...");
}

static void append_token(mg_buf *out, const char *s)
{
    if (!s || !*s)
        mg_buf_append_str(out, "-");
    else
        append_escaped(out, s, TOKEN_MAX, 1);
}

static void append_iso_time(mg_buf *out, int64_t ts_ms)
{
    int64_t ms = ts_ms % 1000;
    int64_t secs = ts_ms / 1000;
    if (ms < 0) {
        ms += 1000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    char when[32];
    if (!gmtime_r(&t, &tm) || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        mg_buf_append_str(out, "-");
        return;
    }
    mg_buf_printf(out, "%s.%03dZ", when, (int)ms);
}

void mg_store_access_log_format(const mg_record *r, mg_buf *out)
{
    append_iso_time(out, r->ts_ms);
    mg_buf_append_str(out, " ");
    append_token(out, r->id);
    mg_buf_append_str(out, " ");
    append_token(out, r->client_format);
    mg_buf_append_str(out, " ");
    append_token(out, r->endpoint);
    mg_buf_append_str(out, " ");
    append_token(out, r->provider);
    mg_buf_append_str(out, "/");
    append_token(out, r->model_routed);
    mg_buf_printf(out, " %lld ", (long long)r->http_status);
    append_token(out, r->status);
    mg_buf_printf(out, " %.1fms in=%lld out=%lld cost=%.6f attempts=%lld", r->duration_ms,
                  (long long)r->tokens_input, (long long)r->tokens_output, r->cost,
                  (long long)r->attempts);
    if (r->error) {
        mg_buf_append_str(out, " err=\"");
        append_escaped(out, r->error, ERROR_MAX, 0);
        mg_buf_append_str(out, "\"");
    }
    mg_buf_append_str(out, "\n");
}

void mg_store_access_log_write(mg_store_access_log *log, mg_record *const *recs, size_t n)
{
    if (!log->f || n == 0)
        return;
    mg_buf_reset(&log->text);
    for (size_t i = 0; i < n; i++)
        mg_store_access_log_format(recs[i], &log->text);
    /* One fwrite per batch: on unbuffered stderr that is one write(2). */
    size_t wrote = fwrite(log->text.data, 1, log->text.len, log->f);
    int ok = wrote == log->text.len && fflush(log->f) == 0;
    if (!ok && !log->failing)
        mg_warn("store: cannot write the access log: %s", strerror(errno));
    log->failing = !ok;
    if (!ok)
        clearerr(log->f);
    /* Keep a burst's worth of capacity, not the largest batch ever. */
    if (log->text.cap > (1u << 20))
        mg_buf_free(&log->text);
}
