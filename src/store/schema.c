/* schema.c — the schema runner: applies schema/NNN_name.sql files newer than
 * the database's schema_version, each in its own transaction, and refuses a
 * database written by a newer moongate. Implements mg_store_migrate from
 * store.h; uses SQLite and POSIX directory listing. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"
#include "store_util.h"

#define SCHEMA_MAX_FILES 1000          /* NNN has three digits */
#define SCHEMA_MAX_FILE_BYTES (4 << 20) /* a schema file is small; bound the read */

typedef struct schema_file {
    int version;
    char *name; /* owned */
} schema_file;

/* Owns files[] and every name in it. */
typedef struct schema_list {
    schema_file *files;
    size_t n, cap;
} schema_list;

static void schema_list_free(schema_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->files[i].name);
    free(l->files);
    memset(l, 0, sizeof *l);
}

/* ^[0-9]{3}_.*\.sql$ ; returns the version or -1. */
static int schema_file_version(const char *name)
{
    size_t len = strlen(name);
    if (len < 8 || strcmp(name + len - 4, ".sql") != 0 || name[3] != '_')
        return -1;
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)name[i]))
            return -1;
    }
    return (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
}

static int by_version(const void *a, const void *b)
{
    const schema_file *fa = a, *fb = b;
    return (fa->version > fb->version) - (fa->version < fb->version);
}

/* Lists the schema files of dir sorted by version; rejects duplicates. */
static int schema_list_read(schema_list *l, const char *dir, char *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        mg_store_set_err(err, "cannot open schema folder %s: %s", dir, strerror(errno));
        return MG_ERR;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int version = schema_file_version(e->d_name);
        if (version < 0)
            continue;
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 16;
            l->files = mg_xrealloc(l->files, l->cap * sizeof *l->files);
        }
        l->files[l->n].version = version;
        l->files[l->n].name = mg_xstrdup(e->d_name);
        l->n++;
    }
    closedir(d);
    if (l->n > SCHEMA_MAX_FILES) {
        mg_store_set_err(err, "too many schema files in %s", dir);
        return MG_ERR;
    }
    if (l->n)
        qsort(l->files, l->n, sizeof *l->files, by_version);
    for (size_t i = 1; i < l->n; i++) {
        if (l->files[i].version == l->files[i - 1].version) {
            mg_store_set_err(err, "duplicate schema version %03d: %s and %s", l->files[i].version,
                             l->files[i - 1].name, l->files[i].name);
            return MG_ERR;
        }
    }
    return MG_OK;
}

/* Reads dir/name into a NUL-terminated string the caller frees. */
static char *read_schema_file(const char *dir, const char *name, char *err)
{
    size_t plen = strlen(dir) + 1 + strlen(name) + 1;
    char *path = mg_xmalloc(plen);
    snprintf(path, plen, "%s/%s", dir, name);
    char *text = NULL;
    struct stat st;
    FILE *f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st) != 0) {
        mg_store_set_err(err, "cannot open %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > SCHEMA_MAX_FILE_BYTES) {
        mg_store_set_err(err, "cannot read %s: not a regular file of at most %d bytes", path,
                         SCHEMA_MAX_FILE_BYTES);
        goto done;
    }
    size_t size = (size_t)st.st_size;
    text = mg_xmalloc(size + 1);
    size_t n = fread(text, 1, size, f);
    if (n != size || ferror(f)) {
        mg_store_set_err(err, "cannot read %s: short read", path);
        free(text);
        text = NULL;
        goto done;
    }
    text[n] = '\0';
done:
    if (f)
        fclose(f);
    free(path);
    return text;
}

static int exec_sql(sqlite3 *db, const char *sql, const char *what, char *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return MG_OK;
    mg_store_set_err(err, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return MG_ERR;
}

/* max(version) in schema_version, 0 when empty; -1 on error. */
static int current_version(sqlite3 *db, char *err)
{
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    else
        mg_store_set_err(err, "reading schema_version: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return version;
}

static int record_version(sqlite3 *db, int version, char *err)
{
    sqlite3_stmt *st = NULL;
    int rc = MG_ERR;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO schema_version (version, applied_at) "
                           "VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int(st, 1, version);
        if (sqlite3_step(st) == SQLITE_DONE)
            rc = MG_OK;
    }
    if (rc != MG_OK)
        mg_store_set_err(err, "recording schema version %d: %s", version, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

/* Applies one file in one transaction. BEGIN IMMEDIATE takes the write lock
 * first, so two processes migrating the same file serialise, and the second
 * sees the version the first recorded and skips. */
static int apply_file(sqlite3 *db, const char *dir, const schema_file *f, char *err)
{
    char *sql = read_schema_file(dir, f->name, err);
    if (!sql)
        return MG_ERR;
    int rc = exec_sql(db, "BEGIN IMMEDIATE", "starting schema transaction", err);
    if (rc != MG_OK) {
        free(sql);
        return rc;
    }
    int version = current_version(db, err);
    if (version < 0) {
        rc = MG_ERR;
    } else if (version < f->version) {
        char what[300];
        snprintf(what, sizeof what, "schema file %s", f->name);
        rc = exec_sql(db, sql, what, err);
        if (rc == MG_OK)
            rc = record_version(db, f->version, err);
    }
    if (rc == MG_OK)
        rc = exec_sql(db, "COMMIT", "committing schema", err);
    if (rc != MG_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    free(sql);
    return rc;
}

int mg_store_migrate(sqlite3 *db, const char *schema_dir, char *err)
{
    schema_list list = {0};
    int result = -1;
    if (schema_list_read(&list, schema_dir, err) != MG_OK)
        goto done;
    if (exec_sql(db,
                 "CREATE TABLE IF NOT EXISTS schema_version ("
                 "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
                 "creating schema_version", err) != MG_OK)
        goto done;
    int version = current_version(db, err);
    if (version < 0)
        goto done;
    int newest = list.n ? list.files[list.n - 1].version : 0;
    if (version > newest) {
        mg_store_set_err(err,
                         "database schema version %d is newer than this moongate "
                         "(knows up to %d); upgrade moongate",
                         version, newest);
        goto done;
    }
    for (size_t i = 0; i < list.n; i++) {
        if (list.files[i].version <= version)
            continue;
        if (apply_file(db, schema_dir, &list.files[i], err) != MG_OK)
            goto done;
        version = list.files[i].version;
    }
    result = version;
done:
    schema_list_free(&list);
    return result;
}
