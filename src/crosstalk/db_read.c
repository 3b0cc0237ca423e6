/* db_read.c — the admin API's reads, run on the crosstalk database thread:
 * one session with its transcript and per-model / per-participant /
 * per-round figures, the session list with filters, overall stats, and the
 * preset files of examples/crosstalk/. Each returns JSON text.
 * Uses SQLite, jansson, POSIX directory reading. */
#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct-t.h"

#define MAX_ROWS 5000     /* transcript / events rows in one answer */
#define LIST_DEFAULT 50
#define LIST_MAX 500
#define MAX_PRESETS 200

static int is_json_column(const char *name)
{
    return strcmp(name, "to") == 0 || strcmp(name, "heard") == 0 || strcmp(name, "config") == 0;
}

/* The current row as an object: column names as keys, *_json columns
 * parsed. */
static json_t *row_object(sqlite3_stmt *st)
{
    json_t *o = json_object();
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        json_t *v;
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
        case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, i)); break;
        case SQLITE_TEXT: {
            const char *text = (const char *)sqlite3_column_text(st, i);
            size_t len = (size_t)sqlite3_column_bytes(st, i);
            v = is_json_column(name) ? json_loadb(text, len, 0, NULL) : json_stringn(text, len);
            if (!v)
                v = json_stringn_nocheck("", 0);
            break;
        }
        default: v = json_null(); break;
        }
        json_object_set_new(o, name, v);
    }
    return o;
}

/* Run sql with text parameters; rows as an array (NULL on SQL error). */
static json_t *query_rows(sqlite3 *db, const char *sql, const ct_param *params, int n, int max)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (params[i].type == CT_P_TEXT)
            sqlite3_bind_text(st, i + 1, params[i].s, -1, SQLITE_TRANSIENT);
        else if (params[i].type == CT_P_INT)
            sqlite3_bind_int64(st, i + 1, params[i].i);
        else if (params[i].type == CT_P_REAL)
            sqlite3_bind_double(st, i + 1, params[i].d);
    }
    json_t *rows = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && (int)json_array_size(rows) < max)
        json_array_append_new(rows, row_object(st));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(rows);
        return NULL;
    }
    return rows;
}

static int finish(json_t *o, mg_buf *out, int *status, int code)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    if (o)
        json_decref(o);
    mg_buf_reset(out);
    if (!text) {
        mg_buf_append_str(out, "{\"error\":{\"message\":\"crosstalk: database read failed\","
                               "\"code\":500}}");
        *status = 500;
        return MG_ERR;
    }
    mg_buf_append_str(out, text);
    free(text);
    *status = code;
    return code < 400 ? MG_OK : MG_ERR;
}

static int set_rows(json_t *o, const char *key, json_t *rows)
{
    if (!rows)
        return MG_ERR;
    json_object_set_new(o, key, rows);
    return MG_OK;
}

static const char session_sql[] =
    "SELECT id, preset, paradigm, topology, state, reason, detail, created_ms, started_ms,"
    " ended_ms, rounds_planned, rounds_done, turns_done, requests, cost, tokens_input,"
    " tokens_output, budget_usd, policy_generation, prompt, config_json AS config"
    " FROM crosstalk_sessions WHERE id = ?";
static const char transcript_sql[] =
    "SELECT round, turn, role, speaker, name, model, content, ts_ms FROM crosstalk_messages"
    " WHERE session_id = ? ORDER BY id";
static const char events_sql[] =
    "SELECT round, turn, from_id AS \"from\", to_ids AS \"to\", heard_ids AS heard, model,"
    " model_routed, provider, status, request_id, tokens_input, tokens_output, cost,"
    " duration_ms, ttft_ms, ts_ms, error FROM crosstalk_events WHERE session_id = ? ORDER BY id";
static const char by_model_sql[] =
    "SELECT COALESCE(model_routed, model) AS model, count(*) AS requests,"
    " sum(status = 'success') AS turns, sum(tokens_input) AS tokens_input,"
    " sum(tokens_output) AS tokens_output, sum(cost) AS cost,"
    " avg(duration_ms) AS avg_duration_ms, avg(ttft_ms) AS avg_ttft_ms"
    " FROM crosstalk_events WHERE session_id = ? GROUP BY 1 ORDER BY cost DESC";
static const char by_speaker_sql[] =
    "SELECT from_id AS participant, count(*) AS requests, sum(status = 'success') AS turns,"
    " sum(tokens_input) AS tokens_input, sum(tokens_output) AS tokens_output, sum(cost) AS cost,"
    " avg(duration_ms) AS avg_duration_ms FROM crosstalk_events WHERE session_id = ?"
    " GROUP BY 1 ORDER BY min(id)";
static const char by_round_sql[] =
    "SELECT round, count(*) AS requests, sum(tokens_input) AS tokens_input,"
    " sum(tokens_output) AS tokens_output, sum(cost) AS cost, sum(duration_ms) AS duration_ms"
    " FROM crosstalk_events WHERE session_id = ? GROUP BY round ORDER BY round";

int ct_read_session(sqlite3 *db, const char *id, mg_buf *out, int *status)
{
    ct_param p[] = {CT_TEXT(id)};
    json_t *rows = query_rows(db, session_sql, p, 1, 1);
    if (!rows || json_array_size(rows) == 0) {
        json_decref(rows);
        json_t *e = json_pack("{s:{s:s,s:i}}", "error", "message", "no crosstalk session by that id",
                              "code", 404);
        return finish(e, out, status, 404);
    }
    json_t *o = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    int ok = set_rows(o, "transcript", query_rows(db, transcript_sql, p, 1, MAX_ROWS)) == MG_OK &&
             set_rows(o, "events", query_rows(db, events_sql, p, 1, MAX_ROWS)) == MG_OK &&
             set_rows(o, "by_model", query_rows(db, by_model_sql, p, 1, 1000)) == MG_OK &&
             set_rows(o, "by_participant", query_rows(db, by_speaker_sql, p, 1, 1000)) == MG_OK &&
             set_rows(o, "by_round", query_rows(db, by_round_sql, p, 1, MAX_ROWS)) == MG_OK;
    if (!ok) {
        json_decref(o);
        o = NULL;
    }
    return finish(o, out, status, 200);
}

/* ---- list ---------------------------------------------------------------- */

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Value of key in a query string, percent-decoded into out. 1 if found. */
static int query_get(const char *q, const char *key, char *out, size_t n)
{
    size_t klen = strlen(key);
    for (const char *p = q; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t o = 0;
            for (size_t i = klen + 1; i < len && o + 1 < n; i++) {
                if (p[i] == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 &&
                    hexval(p[i + 2]) >= 0) {
                    out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
                    i += 2;
                } else {
                    out[o++] = p[i] == '+' ? ' ' : p[i];
                }
            }
            out[o] = '\0';
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int ct_read_list(sqlite3 *db, const char *query, mg_buf *out, int *status)
{
    static const char *const text_filters[] = {"state", "paradigm", "topology", "preset"};
    char vals[4][128], num[32];
    mg_buf sql = {0};
    ct_param p[8];
    int n = 0;
    mg_buf_append_str(&sql,
                      "SELECT id, preset, paradigm, topology, state, reason, detail, created_ms,"
                      " started_ms, ended_ms, rounds_planned, rounds_done, turns_done, requests,"
                      " cost, tokens_input, tokens_output, budget_usd FROM crosstalk_sessions"
                      " WHERE 1");
    for (int i = 0; i < 4; i++) {
        if (query_get(query, text_filters[i], vals[i], sizeof vals[i]) && vals[i][0]) {
            mg_buf_printf(&sql, " AND %s = ?", text_filters[i]);
            p[n++] = CT_TEXT(vals[i]);
        }
    }
    if (query_get(query, "since", num, sizeof num)) {
        mg_buf_append_str(&sql, " AND created_ms >= ?");
        p[n++] = CT_INT(strtoll(num, NULL, 10));
    }
    long limit = query_get(query, "limit", num, sizeof num) ? strtol(num, NULL, 10) : LIST_DEFAULT;
    long offset = query_get(query, "offset", num, sizeof num) ? strtol(num, NULL, 10) : 0;
    limit = limit < 1 ? LIST_DEFAULT : MG_MIN(limit, LIST_MAX);
    offset = MG_MAX(offset, 0L);
    mg_buf_printf(&sql, " ORDER BY created_ms DESC, id DESC LIMIT %ld OFFSET %ld", limit, offset);
    json_t *rows = query_rows(db, mg_buf_cstr(&sql), p, n, LIST_MAX);
    mg_buf_free(&sql);
    if (!rows)
        return finish(NULL, out, status, 500);
    json_t *o = json_object();
    json_object_set_new(o, "sessions", rows);
    json_object_set_new(o, "limit", json_integer(limit));
    json_object_set_new(o, "offset", json_integer(offset));
    return finish(o, out, status, 200);
}

/* ---- stats --------------------------------------------------------------- */

static const char totals_sql[] =
    "SELECT count(*) AS sessions, COALESCE(sum(cost), 0) AS cost,"
    " COALESCE(sum(tokens_input), 0) AS tokens_input,"
    " COALESCE(sum(tokens_output), 0) AS tokens_output, COALESCE(sum(turns_done), 0) AS turns,"
    " COALESCE(avg(rounds_done), 0) AS avg_rounds, COALESCE(avg(cost), 0) AS avg_cost"
    " FROM crosstalk_sessions";
static const char by_state_sql[] =
    "SELECT state, count(*) AS sessions FROM crosstalk_sessions GROUP BY state ORDER BY state";
static const char by_paradigm_sql[] =
    "SELECT paradigm, count(*) AS sessions, sum(cost) AS cost, avg(rounds_done) AS avg_rounds,"
    " sum(tokens_input) AS tokens_input, sum(tokens_output) AS tokens_output"
    " FROM crosstalk_sessions GROUP BY paradigm ORDER BY sessions DESC";
static const char by_topology_sql[] =
    "SELECT topology, count(*) AS sessions, sum(cost) AS cost, avg(rounds_done) AS avg_rounds"
    " FROM crosstalk_sessions GROUP BY topology ORDER BY sessions DESC";
static const char stats_by_model_sql[] =
    "SELECT COALESCE(model_routed, model) AS model, count(*) AS requests,"
    " sum(status = 'success') AS turns, count(DISTINCT session_id) AS sessions,"
    " sum(tokens_input) AS tokens_input, sum(tokens_output) AS tokens_output, sum(cost) AS cost,"
    " avg(duration_ms) AS avg_duration_ms FROM crosstalk_events GROUP BY 1 ORDER BY cost DESC";

int ct_read_stats(sqlite3 *db, mg_buf *out, int *status)
{
    json_t *totals = query_rows(db, totals_sql, NULL, 0, 1);
    if (!totals || json_array_size(totals) != 1) {
        json_decref(totals);
        return finish(NULL, out, status, 500);
    }
    json_t *o = json_incref(json_array_get(totals, 0));
    json_decref(totals);
    int ok = set_rows(o, "by_state", query_rows(db, by_state_sql, NULL, 0, 100)) == MG_OK &&
             set_rows(o, "by_paradigm", query_rows(db, by_paradigm_sql, NULL, 0, 1000)) == MG_OK &&
             set_rows(o, "by_topology", query_rows(db, by_topology_sql, NULL, 0, 1000)) == MG_OK &&
             set_rows(o, "by_model", query_rows(db, stats_by_model_sql, NULL, 0, 1000)) == MG_OK;
    if (!ok) {
        json_decref(o);
        o = NULL;
    }
    return finish(o, out, status, 200);
}

/* ---- preset files ---------------------------------------------------------- */

static int name_ok(const char *name, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int read_small_file(const char *path, size_t max, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return MG_ERR;
    mg_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= max)
        mg_buf_append(&b, chunk, n);
    fclose(f);
    if (b.len > max) {
        mg_buf_free(&b);
        return MG_AGAIN;
    }
    *len = b.len;
    *text = mg_xstrndup(b.data ? b.data : "", b.len);
    mg_buf_free(&b);
    return MG_OK;
}

int ct_read_preset_file(const char *home, const char *name, char **text, size_t *len,
                        int *status, char *err, size_t errlen)
{
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".lua") == 0)
        n -= 4;
    if (!name_ok(name, n)) {
        *status = 400;
        snprintf(err, errlen, "a preset name is letters, digits, '_' and '-' (a file of "
                              "examples/crosstalk/), or send the preset itself");
        return MG_ERR;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/examples/crosstalk/%.*s.lua", home, (int)n, name);
    int rc = read_small_file(path, CT_MAX_PRESET_BYTES, text, len);
    if (rc == MG_OK)
        return MG_OK;
    *status = rc == MG_AGAIN ? 413 : 404;
    snprintf(err, errlen, rc == MG_AGAIN ? "preset %.*s is larger than %d bytes"
                                         : "no preset %.*s in examples/crosstalk/ (GET /api/crosstalk/presets lists them)",
             (int)n, name, CT_MAX_PRESET_BYTES);
    return MG_ERR;
}

/* The text after "NAME.lua — " on the file's first line, else "". */
static json_t *description_of(const char *path)
{
    char line[512] = "";
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    line[strcspn(line, "\r\n")] = '\0';
    const char *dash = strstr(line, "\xe2\x80\x94"); /* an em dash */
    const char *text = dash ? dash + 3 : (strncmp(line, "--", 2) == 0 ? line + 2 : "");
    while (*text == ' ')
        text++;
    json_t *v = json_string(text);
    return v ? v : json_string("");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ct_read_presets(const char *home, mg_buf *out, int *status)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/examples/crosstalk", home);
    char *names[MAX_PRESETS];
    size_t count = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) && count < MAX_PRESETS;) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".lua") == 0 && name_ok(e->d_name, n - 4))
            names[count++] = mg_xstrndup(e->d_name, n - 4);
    }
    if (d)
        closedir(d);
    qsort(names, count, sizeof *names, cmp_str);
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.lua", dir, names[i]);
        json_t *item = json_object();
        json_object_set_new(item, "name", json_string(names[i]));
        json_object_set_new(item, "description", description_of(path));
        json_array_append_new(list, item);
        free(names[i]);
    }
    json_t *o = json_object();
    json_object_set_new(o, "presets", list);
    return finish(o, out, status, 200);
}
