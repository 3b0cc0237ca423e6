/* sql.c — statements built from trusted SQL text plus bound values: the
 * only way analytics code reaches SQLite, so a value from a client can
 * never become SQL text. Also the error replies for failed statements.
 * Uses SQLite and json.c (see an.h). */
#include <assert.h>

#include "an.h"

void mg_an_sql_free(mg_an_sql *q)
{
    mg_buf_free(&q->text);
    q->nbinds = 0;
}

void mg_an_sql_add(mg_an_sql *q, const char *trusted_sql) { mg_buf_append_str(&q->text, trusted_sql); }

/* The bind count is fixed by our own code, never by a client. */
static mg_an_bind *next_bind(mg_an_sql *q, int kind)
{
    assert(q->nbinds < MG_AN_BINDS_MAX);
    mg_an_bind *b = &q->binds[q->nbinds++];
    b->kind = kind;
    mg_buf_append(&q->text, "?", 1);
    return b;
}

void mg_an_sql_int(mg_an_sql *q, int64_t v) { next_bind(q, SQLITE_INTEGER)->i = v; }
void mg_an_sql_real(mg_an_sql *q, double v) { next_bind(q, SQLITE_FLOAT)->d = v; }
void mg_an_sql_text(mg_an_sql *q, const char *v) { next_bind(q, SQLITE_TEXT)->s = v; }

void mg_an_sql_fail(sqlite3 *db, const char *what, mg_an_result *r)
{
    if (sqlite3_errcode(db) == SQLITE_INTERRUPT)
        mg_an_fail(r, 503, "%s: query cancelled or took longer than its time limit", what);
    else
        mg_an_fail(r, 500, "%s: %s", what, sqlite3_errmsg(db));
}

int mg_an_prepare(sqlite3 *db, const mg_an_sql *q, sqlite3_stmt **st, mg_an_result *r)
{
    /* An explicit length: SQLite needs no NUL terminator. */
    if (sqlite3_prepare_v2(db, mg_buf_rptr(&q->text), (int)mg_buf_unread(&q->text), st, NULL) !=
        SQLITE_OK) {
        *st = NULL;
        mg_an_sql_fail(db, "preparing a query", r);
        return MG_ERR;
    }
    for (int i = 0; i < q->nbinds; i++) {
        const mg_an_bind *b = &q->binds[i];
        int rc;
        if (b->kind == SQLITE_INTEGER)
            rc = sqlite3_bind_int64(*st, i + 1, b->i);
        else if (b->kind == SQLITE_FLOAT)
            rc = sqlite3_bind_double(*st, i + 1, b->d);
        else
            rc = sqlite3_bind_text(*st, i + 1, b->s, -1, SQLITE_STATIC);
        if (rc != SQLITE_OK) {
            mg_an_sql_fail(db, "binding a query", r);
            sqlite3_finalize(*st);
            *st = NULL;
            return MG_ERR;
        }
    }
    return MG_OK;
}

int mg_an_one_row(sqlite3 *db, const mg_an_sql *q, sqlite3_stmt **st, mg_an_result *r)
{
    if (mg_an_prepare(db, q, st, r) != MG_OK)
        return MG_ERR;
    if (sqlite3_step(*st) == SQLITE_ROW)
        return MG_OK;
    mg_an_sql_fail(db, "running a query", r);
    sqlite3_finalize(*st);
    *st = NULL;
    return MG_ERR;
}

int mg_an_emit_rows(sqlite3 *db, const mg_an_sql *q, mg_an_json *w, const char *key,
                    const char *const *names, mg_an_result *r)
{
    sqlite3_stmt *st = NULL;
    if (mg_an_prepare(db, q, &st, r) != MG_OK)
        return MG_ERR;
    int ncols = sqlite3_column_count(st), step;
    mg_an_json_arr(w, key);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        mg_an_json_obj(w, NULL);
        for (int i = 0; i < ncols && names[i]; i++)
            mg_an_json_col(w, names[i], st, i);
        mg_an_json_end(w);
    }
    mg_an_json_end(w);
    if (step != SQLITE_DONE) {
        mg_an_sql_fail(db, "reading rows", r);
        sqlite3_finalize(st);
        return MG_ERR;
    }
    sqlite3_finalize(st);
    return MG_OK;
}
