/* ep_system.c — system/db: how big the database is and what it holds.
 * → {db_bytes, wal_bytes, page_size, page_count, freelist_count,
 *    schema_version, requests, rollup_rows, oldest_ts_ms, newest_ts_ms}
 * db_bytes is the main file plus its WAL, as the store's stats count it.
 * Filters do not apply. Uses sql.c, json.c (see an.h). */
#include <stdio.h>
#include <sys/stat.h>

#include "an.h"

static int64_t file_bytes(const char *path, const char *suffix)
{
    char full[4096];
    struct stat st;
    if (snprintf(full, sizeof full, "%s%s", path, suffix) >= (int)sizeof full ||
        stat(full, &st) != 0)
        return 0;
    return (int64_t)st.st_size;
}

/* Runs one trusted statement and writes each column of its single row. */
static int row_fields(mg_an_ctx *c, mg_an_json *w, const char *sql, const char *const *names)
{
    mg_an_sql q = {0};
    sqlite3_stmt *st = NULL;
    mg_an_sql_add(&q, sql);
    int rc = mg_an_one_row(c->db, &q, &st, c->out);
    mg_an_sql_free(&q);
    if (rc != MG_OK)
        return MG_ERR;
    for (int i = 0; names[i]; i++)
        mg_an_json_col(w, names[i], st, i);
    sqlite3_finalize(st);
    return MG_OK;
}

int mg_an_ep_system_db(mg_an_ctx *c)
{
    static const char *const page_size[] = {"page_size", NULL};
    static const char *const page_count[] = {"page_count", NULL};
    static const char *const freelist[] = {"freelist_count", NULL};
    static const char *const version[] = {"schema_version", NULL};
    static const char *const rows[] = {"requests", "oldest_ts_ms", "newest_ts_ms", NULL};
    static const char *const rollups[] = {"rollup_rows", NULL};
    int64_t wal = file_bytes(c->db_path, "-wal");
    mg_an_json w;
    mg_an_begin_json(c, &w, 0);
    mg_an_json_int(&w, "db_bytes", file_bytes(c->db_path, "") + wal);
    mg_an_json_int(&w, "wal_bytes", wal);
    if (row_fields(c, &w, "PRAGMA page_size", page_size) != MG_OK ||
        row_fields(c, &w, "PRAGMA page_count", page_count) != MG_OK ||
        row_fields(c, &w, "PRAGMA freelist_count", freelist) != MG_OK ||
        row_fields(c, &w, "SELECT coalesce(max(version), 0) FROM schema_version", version) !=
            MG_OK ||
        row_fields(c, &w, "SELECT count(*), min(ts_ms), max(ts_ms) FROM requests", rows) !=
            MG_OK ||
        row_fields(c, &w, "SELECT count(*) FROM rollup_minute", rollups) != MG_OK)
        return MG_ERR;
    mg_an_end_json(c, &w);
    return MG_OK;
}
