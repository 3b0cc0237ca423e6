/* load.c — reading the keys table and this day's and month's spend at
 * open. Blocks on the disk, so it runs once on the main thread before any
 * traffic; afterwards everything is in memory. Uses SQLite and jansson
 * (allowed_models). */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "internal.h"

static const char keys_sql[] =
    "SELECT id, name, hash, prefix, user_id, environment, created_at, revoked_at, expires_at,"
    " allowed_models, rpm, tpm, max_concurrency, budget_usd_day, budget_usd_month, metadata,"
    " updated_at FROM keys ORDER BY created_at, id";

/* Spend since the start of the month, and of it since the start of the
 * day, per key (NULL key_id: requests without a key). Read from the
 * per-minute rollups the writer keeps with every row (days and months
 * start on a minute): summing a month of raw rows took seconds per ten
 * million requests, on every start. */
static const char spend_sql[] =
    "SELECT NULLIF(key_id, ''), total(CASE WHEN minute >= ?1 THEN cost END), total(cost)"
    " FROM rollup_minute WHERE minute >= ?2 GROUP BY key_id";

static void copy_col(sqlite3_stmt *st, int col, char *out, size_t len)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(out, len, "%s", s ? (const char *)s : "");
}

static void load_models(struct mg_key *key, const char *json)
{
    json_t *arr = json ? json_loads(json, 0, NULL) : NULL;
    if (!json_is_array(arr)) {
        if (json)
            mg_warn("keys: key %s has unreadable allowed_models; it may use no model", key->id);
        /* A list we cannot read must not widen into "every model". */
        char *none[1] = {NULL};
        mg_keys_set_models(key, json ? none : NULL, 0);
        json_decref(arr);
        return;
    }
    size_t n = json_array_size(arr), used = 0;
    char **names = mg_xcalloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; i < n; i++)
        if (json_is_string(json_array_get(arr, i)))
            names[used++] = (char *)json_string_value(json_array_get(arr, i));
    mg_keys_set_models(key, names, used);
    free(names);
    json_decref(arr);
}

/* A copy of text when it is a JSON object (it is echoed into answers as
 * is), else NULL. */
static char *valid_object(const char *text, const char *id)
{
    if (!text)
        return NULL;
    json_t *v = json_loads(text, 0, NULL);
    int ok = json_is_object(v);
    json_decref(v);
    if (!ok)
        mg_warn("keys: key %s has unreadable metadata; ignored", id);
    return ok ? mg_xstrdup(text) : NULL;
}

static struct mg_key *key_from_row(sqlite3_stmt *st)
{
    struct mg_key *key = mg_keys_key_new();
    copy_col(st, 0, key->id, sizeof key->id);
    copy_col(st, 1, key->name, sizeof key->name);
    if (mg_keys_unhex((const char *)sqlite3_column_text(st, 2), key->hash, 32) != MG_OK) {
        mg_warn("keys: key %s has a malformed hash; skipped", key->id);
        mg_keys_key_free(key);
        return NULL;
    }
    copy_col(st, 3, key->prefix, sizeof key->prefix);
    copy_col(st, 4, key->user_id, sizeof key->user_id);
    copy_col(st, 5, key->environment, sizeof key->environment);
    key->created_at = sqlite3_column_int64(st, 6);
    key->revoked_at = sqlite3_column_int64(st, 7);
    key->expires_at = sqlite3_column_int64(st, 8);
    load_models(key, (const char *)sqlite3_column_text(st, 9));
    key->rpm = (long)sqlite3_column_int64(st, 10);
    key->tpm = (long)sqlite3_column_int64(st, 11);
    key->max_concurrency = (long)sqlite3_column_int64(st, 12);
    key->budget_day = sqlite3_column_double(st, 13);
    key->budget_month = sqlite3_column_double(st, 14);
    key->metadata = valid_object((const char *)sqlite3_column_text(st, 15), key->id);
    key->updated_at = sqlite3_column_int64(st, 16);
    return key;
}

static int load_keys(mg_keys *k, sqlite3 *db, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, keys_sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, MG_ERRLEN, "keys: cannot read the keys table (is schema 003 applied?): %s",
                 sqlite3_errmsg(db));
        return MG_ERR;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct mg_key *key = key_from_row(st);
        if (!key)
            continue;
        mg_keys_table_add(k, key);
        if (!key->revoked_at)
            atomic_fetch_add(&k->nactive, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, MG_ERRLEN, "keys: reading keys: %s", sqlite3_errmsg(db));
        return MG_ERR;
    }
    return MG_OK;
}

static void add_spend(mg_keys_spend *s, int64_t now_ms, double day, double month)
{
    mg_keys_spend_roll(s, now_ms);
    s->day_spent += day;
    s->month_spent += month;
}

static int load_spend(mg_keys *k, sqlite3 *db, int64_t now_ms, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, spend_sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, MG_ERRLEN, "keys: cannot read spend from rollup_minute: %s", sqlite3_errmsg(db));
        return MG_ERR;
    }
    sqlite3_bind_int64(st, 1, mg_keys_day_start_ms(mg_keys_day_of(now_ms)) / 60000);
    sqlite3_bind_int64(st, 2, mg_keys_month_start_ms(mg_keys_month_of(now_ms)) / 60000);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        double day = sqlite3_column_double(st, 1), month = sqlite3_column_double(st, 2);
        add_spend(&k->global, now_ms, day, month);
        const char *id = (const char *)sqlite3_column_text(st, 0);
        struct mg_key *key = id ? mg_keys_find(k, id) : NULL;
        if (key && strcmp(key->id, id) == 0)
            add_spend(&key->spend, now_ms, day, month);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, MG_ERRLEN, "keys: reading spend: %s", sqlite3_errmsg(db));
        return MG_ERR;
    }
    return MG_OK;
}

int mg_keys_load(mg_keys *k, const char *db_path, char *err)
{
    sqlite3 *db = NULL;
    int rc = MG_ERR;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, MG_ERRLEN, "keys: cannot open %s: %s", db_path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        goto done;
    }
    sqlite3_busy_timeout(db, 5000);
    int64_t now_ms = mg_keys_now_ms(k);
    if (load_keys(k, db, err) != MG_OK || load_spend(k, db, now_ms, err) != MG_OK)
        goto done;
    for (size_t i = 0; i < k->nkeys; i++) {
        struct mg_key *key = k->keys[i];
        mg_keys_spend_roll(&key->spend, now_ms);
        mg_keys_spend_mark_reached(&key->spend, key->budget_day, key->budget_month,
                                   k->thresholds, k->nthresholds);
    }
    mg_keys_spend_roll(&k->global, now_ms);
    mg_keys_spend_mark_reached(&k->global, k->budget_day, k->budget_month, k->thresholds,
                               k->nthresholds);
    rc = MG_OK;
done:
    sqlite3_close(db);
    return rc;
}
