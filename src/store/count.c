/* count.c — mg_store_count: a read-only row count over `requests` on its own
 * connection (store.h). For tests, `moongate check` and the analytics
 * reader thread; it blocks on disk, so never call it on a loop thread. */
#include <ctype.h>
#include <sqlite3.h>
#include <string.h>

#include "../core/buf.h"
#include "store.h"
#include "store_util.h"

#define COUNT_BUSY_TIMEOUT_MS 5000

/* Only blanks and semicolons may follow the one statement. */
static int only_trailing_noise(const char *tail)
{
    for (; tail && *tail; tail++) {
        if (!isspace((unsigned char)*tail) && *tail != ';')
            return 0;
    }
    return 1;
}

static int count_rows(sqlite3 *db, const char *where_sql, long long *out, char *err)
{
    mg_buf sql = {0};
    mg_buf_append_str(&sql, "SELECT count(*) FROM requests");
    if (where_sql && *where_sql)
        mg_buf_printf(&sql, " WHERE %s", where_sql);
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = MG_ERR;
    if (sqlite3_prepare_v2(db, mg_buf_cstr(&sql), -1, &st, &tail) != SQLITE_OK) {
        mg_store_set_err(err, "counting requests: %s", sqlite3_errmsg(db));
    } else if (!only_trailing_noise(tail) || !sqlite3_stmt_readonly(st)) {
        mg_store_set_err(err, "counting requests: the filter must be one read-only expression");
    } else if (sqlite3_step(st) != SQLITE_ROW) {
        mg_store_set_err(err, "counting requests: %s", sqlite3_errmsg(db));
    } else {
        *out = sqlite3_column_int64(st, 0);
        rc = MG_OK;
    }
    sqlite3_finalize(st);
    mg_buf_free(&sql);
    return rc;
}

int mg_store_count(const char *db_path, const char *where_sql, long long *out, char *err)
{
    sqlite3 *db = NULL;
    int rc = MG_ERR;
    if (!db_path || !out) {
        mg_store_set_err(err, "counting requests: db_path and out are required");
        return MG_ERR;
    }
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        mg_store_set_err(err, "cannot open database %s: %s", db_path,
                         db ? sqlite3_errmsg(db) : "out of memory");
    } else {
        sqlite3_busy_timeout(db, COUNT_BUSY_TIMEOUT_MS);
        rc = count_rows(db, where_sql, out, err);
    }
    sqlite3_close(db);
    return rc;
}
