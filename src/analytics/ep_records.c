/* ep_records.c — whole records: analytics/requests (a page), analytics/request
 * (one) and analytics/export (CSV or JSON). Columns and JSON keys come from
 * mg_record_fields, so a new record field shows up here by itself.
 *
 * analytics/requests?limit=1..500 (default 50)&cursor=C | &offset=0..100000
 *   → {from, to, limit, rows: [record…], has_more, next_cursor}; newest
 *   first (ts_ms, then id, descending). next_cursor ("<ts_ms>:<id>", null on
 *   the last page) continues after the last row even while rows arrive.
 * analytics/request?id=ID → the record object; 404 when absent. Filters
 *   (including the default 24 h range) do not apply.
 * analytics/export?format=csv|json (default csv)&limit=1..100000 → newest
 *   first, at most MG_ANALYTICS_EXPORT_MAX rows, built whole in memory.
 *   CSV (RFC 4180): a header row of the field names, NULL as an empty cell,
 *   and a text cell starting with = + - @ TAB or CR prefixed with ' so a
 *   spreadsheet does not run it as a formula. JSON: an array of records.
 *   Headers: Content-Disposition (attachment), X-Moongate-Rows, and
 *   X-Moongate-Truncated: 1 when rows were left out.
 * Uses store/record.h, sql.c, filter.c, json.c (see an.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/record.h"
#include "an.h"
#include "analytics.h"

#define PAGE_MAX 500
#define OFFSET_MAX 100000
#define ID_MAX 128

/* "SELECT <every record field> FROM requests" */
static void select_fields(mg_an_sql *q)
{
    mg_an_sql_add(q, "SELECT ");
    for (size_t i = 0; i < mg_record_nfields; i++) {
        if (i)
            mg_an_sql_add(q, ", ");
        mg_an_sql_add(q, mg_record_fields[i].name);
    }
    mg_an_sql_add(q, " FROM requests");
}

/* Column number of a record field in select_fields' statement. */
static int field_column(const char *name)
{
    for (size_t i = 0; i < mg_record_nfields; i++) {
        if (strcmp(mg_record_fields[i].name, name) == 0)
            return (int)i;
    }
    return -1; /* only for names that are not record fields: a bug here */
}

static void json_record(mg_an_json *w, sqlite3_stmt *st)
{
    mg_an_json_obj(w, NULL);
    for (size_t i = 0; i < mg_record_nfields; i++) {
        const mg_record_field *f = &mg_record_fields[i];
        int col = (int)i;
        if (sqlite3_column_type(st, col) == SQLITE_NULL)
            mg_an_json_null(w, f->name);
        else if (f->kind == MG_REC_INT)
            mg_an_json_int(w, f->name, sqlite3_column_int64(st, col));
        else if (f->kind == MG_REC_REAL)
            mg_an_json_real(w, f->name, sqlite3_column_double(st, col));
        else
            mg_an_json_str(w, f->name, (const char *)sqlite3_column_text(st, col));
    }
    mg_an_json_end(w);
}

/* ---- analytics/requests ------------------------------------------------------------ */

typedef struct cursor {
    int64_t ts_ms;
    char id[ID_MAX + 1];
} cursor;

static int parse_cursor(const char *s, cursor *cur)
{
    char *colon;
    errno = 0;
    cur->ts_ms = strtoll(s, &colon, 10);
    size_t id_len = *colon == ':' ? strlen(colon + 1) : 0;
    if (errno || colon == s || id_len == 0 || id_len > ID_MAX)
        return 0;
    memcpy(cur->id, colon + 1, id_len + 1);
    return 1;
}

static void page_query(mg_an_ctx *c, const cursor *cur, int64_t limit, int64_t offset,
                       mg_an_sql *q)
{
    select_fields(q);
    mg_an_where_requests(q, c->filter, 0);
    if (cur) {
        mg_an_sql_add(q, " AND (ts_ms < ");
        mg_an_sql_int(q, cur->ts_ms);
        mg_an_sql_add(q, " OR (ts_ms = ");
        mg_an_sql_int(q, cur->ts_ms);
        mg_an_sql_add(q, " AND id < ");
        mg_an_sql_text(q, cur->id);
        mg_an_sql_add(q, "))");
    }
    /* One row more than asked tells whether another page exists. */
    mg_an_sql_add(q, " ORDER BY ts_ms DESC, id DESC LIMIT ");
    mg_an_sql_int(q, limit + 1);
    mg_an_sql_add(q, " OFFSET ");
    mg_an_sql_int(q, offset);
}

int mg_an_ep_requests(mg_an_ctx *c)
{
    int64_t limit = 50, offset = 0;
    cursor cur;
    const char *cursor_text = mg_an_param(c->params, "cursor");
    if (mg_an_param_int(c->params, "limit", 1, PAGE_MAX, &limit, c->out) != MG_OK ||
        mg_an_param_int(c->params, "offset", 0, OFFSET_MAX, &offset, c->out) != MG_OK)
        return MG_ERR;
    if (cursor_text && !parse_cursor(cursor_text, &cur)) {
        mg_an_fail(c->out, 400, "parameter 'cursor' must be a next_cursor value");
        return MG_ERR;
    }
    if (cursor_text && offset) {
        mg_an_fail(c->out, 400, "parameter 'offset' cannot be combined with 'cursor'");
        return MG_ERR;
    }
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    page_query(c, cursor_text ? &cur : NULL, limit, offset, &q);
    int rc = mg_an_prepare(c->db, &q, &st, c->out), step = SQLITE_DONE;
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    mg_an_json w;
    mg_an_begin_json(c, &w, 1);
    mg_an_json_int(&w, "limit", limit);
    mg_an_json_arr(&w, "rows");
    int64_t n = 0;
    cursor last = {0};
    while (n < limit && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_record(&w, st);
        last.ts_ms = sqlite3_column_int64(st, field_column("ts_ms"));
        const unsigned char *id = sqlite3_column_text(st, field_column("id"));
        snprintf(last.id, sizeof last.id, "%s", id ? (const char *)id : "");
        n++;
    }
    int has_more = n == limit && (step = sqlite3_step(st)) == SQLITE_ROW;
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "listing requests", c->out);
        sqlite3_finalize(st);
        return MG_ERR;
    }
    sqlite3_finalize(st);
    mg_an_json_end(&w);
    mg_an_json_bool(&w, "has_more", has_more);
    if (has_more) {
        char next[ID_MAX + 32];
        snprintf(next, sizeof next, "%lld:%s", (long long)last.ts_ms, last.id);
        mg_an_json_str(&w, "next_cursor", next);
    } else {
        mg_an_json_null(&w, "next_cursor");
    }
    mg_an_end_json(c, &w);
    return MG_OK;
}

/* ---- analytics/request ----------------------------------------------------------------- */

int mg_an_ep_request(mg_an_ctx *c)
{
    const char *id = mg_an_param(c->params, "id");
    if (!id || strlen(id) > ID_MAX) {
        mg_an_fail(c->out, 400, "parameter 'id' is required (at most %d characters)", ID_MAX);
        return MG_ERR;
    }
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    select_fields(&q);
    mg_an_sql_add(&q, " WHERE id = ");
    mg_an_sql_text(&q, id);
    int rc = mg_an_prepare(c->db, &q, &st, c->out);
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        c->out->status = 200;
        c->out->content_type = "application/json";
        mg_an_json w;
        mg_an_json_init(&w, &c->out->body);
        json_record(&w, st);
    } else if (step == SQLITE_DONE) {
        mg_an_fail(c->out, 404, "no request with this id");
    } else {
        mg_an_sql_fail(c->db, "reading the request", c->out);
    }
    sqlite3_finalize(st);
    return c->out->status == 200 ? MG_OK : MG_ERR;
}

/* ---- analytics/export ----------------------------------------------------------------- */

static void csv_text(mg_buf *b, const char *s, size_t n)
{
    int formula = n > 0 && strchr("=+-@\t\r", s[0]) != NULL;
    int quote = formula || memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\n', n) ||
                memchr(s, '\r', n);
    if (!quote) {
        mg_buf_append(b, s, n);
        return;
    }
    mg_buf_append(b, formula ? "\"'" : "\"", formula ? 2 : 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            mg_buf_append(b, "\"", 1);
        mg_buf_append(b, &s[i], 1);
    }
    mg_buf_append(b, "\"", 1);
}

static void csv_header(mg_buf *b)
{
    for (size_t i = 0; i < mg_record_nfields; i++)
        mg_buf_printf(b, "%s%s", i ? "," : "", mg_record_fields[i].name);
    mg_buf_append(b, "\r\n", 2);
}

static void csv_record(mg_buf *b, sqlite3_stmt *st)
{
    for (size_t i = 0; i < mg_record_nfields; i++) {
        int col = (int)i, kind = mg_record_fields[i].kind;
        if (i)
            mg_buf_append(b, ",", 1);
        if (sqlite3_column_type(st, col) == SQLITE_NULL)
            continue;
        if (kind == MG_REC_INT)
            mg_buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, col));
        else if (kind == MG_REC_REAL)
            mg_buf_printf(b, "%.15g", sqlite3_column_double(st, col));
        else
            csv_text(b, (const char *)sqlite3_column_text(st, col),
                     (size_t)sqlite3_column_bytes(st, col));
    }
    mg_buf_append(b, "\r\n", 2);
}

static const char *const FORMATS[] = {"csv", "json", NULL};

static void export_headers(mg_an_ctx *c, int csv, int64_t rows)
{
    mg_buf *h = &c->out->headers;
    mg_buf_printf(h, "Content-Disposition: attachment; filename=\"moongate-requests-%lld-%lld.%s\"\r\n",
                  (long long)c->filter->from_ms, (long long)c->filter->to_ms, csv ? "csv" : "json");
    mg_buf_printf(h, "X-Moongate-Rows: %lld\r\n", (long long)rows);
    if (c->out->truncated)
        mg_buf_append_str(h, "X-Moongate-Truncated: 1\r\n");
}

int mg_an_ep_export(mg_an_ctx *c)
{
    int format = 0;
    int64_t limit = MG_ANALYTICS_EXPORT_MAX;
    if (mg_an_param_enum(c->params, "format", FORMATS, &format, c->out) != MG_OK ||
        mg_an_param_int(c->params, "limit", 1, MG_ANALYTICS_EXPORT_MAX, &limit, c->out) != MG_OK)
        return MG_ERR;
    int csv = format == 0;
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    page_query(c, NULL, limit, 0, &q);
    int rc = mg_an_prepare(c->db, &q, &st, c->out), step = SQLITE_DONE;
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    mg_buf *b = &c->out->body;
    mg_an_json w;
    mg_an_json_init(&w, b);
    if (csv)
        csv_header(b);
    else
        mg_an_json_arr(&w, NULL);
    int64_t n = 0;
    while (n < limit && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (csv)
            csv_record(b, st);
        else
            json_record(&w, st);
        n++;
    }
    c->out->truncated = n == limit && (step = sqlite3_step(st)) == SQLITE_ROW;
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        mg_an_sql_fail(c->db, "exporting requests", c->out);
        sqlite3_finalize(st);
        return MG_ERR;
    }
    sqlite3_finalize(st);
    if (!csv)
        mg_an_json_end(&w);
    c->out->status = 200;
    c->out->content_type = csv ? "text/csv; charset=utf-8" : "application/json";
    export_headers(c, csv, n);
    return MG_OK;
}
