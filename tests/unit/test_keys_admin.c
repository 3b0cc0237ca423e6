/* test_keys_admin.c — the /api/keys and /api/budget calls (list, create,
 * show, patch, revoke, rotate; 400 naming the field; 404/405/409), that
 * only hashes reach SQLite, and a persistence round trip: keys, limits,
 * revocations and rotations survive a restart, and spend is read back
 * from requests so budgets and warnings carry on where they were. */
#include <sqlite3.h>
#include <unistd.h>

#include "keys/internal.h"
#include "store/store.h"
#include "test_keys_util.h"

/* A fresh database with every schema file applied. */
static void fresh_db(char path[256])
{
    char dir[] = "/tmp/mg-keys-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    snprintf(path, 256, "%s/mg.db", dir);
    sqlite3 *db;
    char err[MG_ERRLEN];
    if (sqlite3_open(path, &db) != SQLITE_OK || mg_store_migrate(db, schema_dir(), err) < 0) {
        fprintf(stderr, "migrate: %s\n", err);
        abort();
    }
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    sqlite3_close(db);
}

static void remove_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    snprintf(p, sizeof p, "%s", path);
    *strrchr(p, '/') = '\0';
    rmdir(p);
}

static mg_keys *open_db(const char *path, test_clock *clock, double budget_day)
{
    mg_keys_opts o;
    mg_keys_opts_default(&o);
    o.db_path = path;
    o.auth_mode = MG_AUTH_KEYS;
    o.budget_day_usd = budget_day;
    char err[MG_ERRLEN] = "";
    mg_keys *k = mg_keys_open(&o, err);
    if (!k) {
        fprintf(stderr, "open: %s\n", err);
        abort();
    }
    mg_keys_set_clock(k, test_clock_now, clock);
    return k;
}

static int64_t count_rows(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = -1;
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "count: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Does any text column of any keys row contain needle? */
static int db_contains(const char *path, const char *needle)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM keys WHERE instr(id||name||hash||prefix||"
             "coalesce(user_id,'')||coalesce(allowed_models,'')||coalesce(metadata,''), '%s') > 0",
             needle);
    return count_rows(path, sql) > 0;
}

static void test_list_never_shows_secrets(void)
{
    mg_keys *k = test_keys_new(MG_AUTH_OPEN, NULL);
    char secret[64], id[40];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"x\",\"rpm\":5,\"models\":[\"a\"],"
                                "\"metadata\":{\"team\":\"ml\"}}",
                             secret, id),
                 201);
    mg_buf out = {0};
    CHECK_EQ_INT(mg_keys_admin_call(k, "GET", "", "", 0, &out), 200);
    const char *text = mg_buf_cstr(&out);
    CHECK(strstr(text, secret) == NULL);
    CHECK(strstr(text, secret + 12) == NULL); /* not even a tail of it */
    uint8_t hash[32];
    char hex[65];
    mg_keys_hash(secret, strlen(secret), hash);
    mg_keys_hex(hash, 32, hex);
    CHECK(strstr(text, hex) == NULL);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    json_t *key = json_array_get(json_object_get(j, "keys"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(key, "id")), id);
    CHECK_EQ_STR(json_string_value(json_object_get(key, "status")), "active");
    CHECK_EQ_INT(json_integer_value(json_object_get(key, "rpm")), 5);
    CHECK(json_is_null(json_object_get(key, "tpm")));
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(key, "metadata"), "team")),
                 "ml");
    const char *prefix = json_string_value(json_object_get(key, "prefix"));
    CHECK(prefix && strncmp(prefix, secret, 9) == 0 && strlen(prefix) == 9 + 3);
    CHECK(json_object_get(key, "hash") == NULL && json_object_get(key, "secret") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "auth")), "open");
    json_decref(j);
    mg_buf_free(&out);
    mg_keys_close(k);
}

static void check_400(mg_keys *k, const char *method, const char *sub, const char *body,
                      const char *field)
{
    json_t *j = NULL;
    int status = test_call(k, method, sub, body, &j);
    CHECK_EQ_INT(status, 400);
    json_t *err = json_object_get(j, "error");
    if (field) {
        CHECK_EQ_STR(json_string_value(json_object_get(err, "field")), field);
        const char *msg = json_string_value(json_object_get(err, "message"));
        CHECK(msg && strncmp(msg, field, strlen(field)) == 0);
    }
    json_decref(j);
}

static void test_validation(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_OPEN, &clock);
    check_400(k, "POST", "", "{}", "name");
    check_400(k, "POST", "", "{\"name\":\"\"}", "name");
    check_400(k, "POST", "", "{\"name\":\"0123456789abcdef0123456789abcdef\"}", "name");
    check_400(k, "POST", "", "{\"name\":\"a\",\"rpm\":-1}", "rpm");
    check_400(k, "POST", "", "{\"name\":\"a\",\"tpm\":1.5}", "tpm");
    check_400(k, "POST", "", "{\"name\":\"a\",\"max_concurrency\":\"3\"}", "max_concurrency");
    check_400(k, "POST", "", "{\"name\":\"a\",\"budget_usd_day\":-2}", "budget_usd_day");
    check_400(k, "POST", "", "{\"name\":\"a\",\"models\":[]}", "models");
    check_400(k, "POST", "", "{\"name\":\"a\",\"models\":[1]}", "models");
    check_400(k, "POST", "", "{\"name\":\"a\",\"expires_at\":\"2020-01-01\"}", "expires_at");
    check_400(k, "POST", "", "{\"name\":\"a\",\"expires_at\":\"2026-02-30\"}", "expires_at");
    check_400(k, "POST", "", "{\"name\":\"a\",\"metadata\":[1]}", "metadata");
    check_400(k, "POST", "", "{\"name\":\"a\",\"colour\":\"red\"}", "colour");
    check_400(k, "POST", "", "{\"name\":\"a\",\"user_id\":\"x\\u0001\"}", "user_id");
    check_400(k, "POST", "", "{\"name\":\"a\",\"name\":\"b\"}", NULL);
    check_400(k, "POST", "", "[1]", NULL);
    check_400(k, "POST", "", "{nope", NULL);
    CHECK_EQ_INT(test_create(k, "{\"name\":\"ok\",\"expires_at\":\"2026-01-31T18:00:00+02:00\"}",
                             NULL, NULL),
                 201);
    json_t *j;
    CHECK_EQ_INT(test_call(k, "GET", "/ok", NULL, &j), 200);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "expires_at")), "2026-01-31T16:00:00Z");
    json_decref(j);
    CHECK_EQ_INT(test_call(k, "POST", "", "{\"name\":\"ok\"}", NULL), 409);
    check_400(k, "PATCH", "/ok", "{\"rpm\":\"many\"}", "rpm");
    check_400(k, "PATCH", "/ok", "{}", NULL);
    CHECK_EQ_INT(test_call(k, "GET", "/nope", NULL, NULL), 404);
    CHECK_EQ_INT(test_call(k, "DELETE", "/ok", NULL, NULL), 405);
    CHECK_EQ_INT(test_call(k, "GET", "/ok/revoke", NULL, NULL), 405);
    CHECK_EQ_INT(test_call(k, "POST", "/ok/explode", NULL, NULL), 404);
    CHECK_EQ_INT(test_call(k, "PUT", "", NULL, NULL), 405);
    mg_keys_close(k);
}

static void test_patch_and_names(void)
{
    test_clock clock = {T0_MS};
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, &clock);
    char secret[64], id[40];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"team a\",\"rpm\":1}", secret, id), 201);
    CHECK_EQ_INT(test_create(k, "{\"name\":\"other\"}", NULL, NULL), 201);
    mg_key_admission a;
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a), MG_OK);
    mg_keys_release(k, &a.lease, 0, 0);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a), MG_ERR);
    /* A percent-encoded name finds the key; the new limit applies at once. */
    json_t *j;
    CHECK_EQ_INT(test_call(k, "PATCH", "/team%20a", "{\"rpm\":null,\"models\":[\"m\"]}", &j), 200);
    CHECK(json_is_null(json_object_get(j, "rpm")));
    json_decref(j);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a), MG_OK);
    mg_keys_release(k, &a.lease, 0, 0);
    CHECK_EQ_INT(test_admit(k, secret, "other-model", 0, 0, &a), MG_ERR);
    CHECK_EQ_INT(test_call(k, "PATCH", "/team%20a", "{\"name\":\"other\"}", NULL), 409);
    /* Revoked names may be reused; lookup by name prefers the active key. */
    CHECK_EQ_INT(test_call(k, "POST", "/other/revoke", NULL, NULL), 200);
    CHECK_EQ_INT(test_call(k, "POST", "/other/revoke", NULL, NULL), 200); /* idempotent */
    char id2[40];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"other\"}", NULL, id2), 201);
    CHECK_EQ_INT(test_call(k, "GET", "/other", NULL, &j), 200);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "id")), id2);
    json_decref(j);
    mg_keys_close(k);
}

static void test_hash_only_in_sqlite(void)
{
    char path[256];
    fresh_db(path);
    test_clock clock = {T0_MS};
    mg_keys *k = open_db(path, &clock, 0);
    char secret[64], id[40];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"h\",\"user_id\":\"u\"}", secret, id), 201);
    CHECK_EQ_INT(mg_keys_flush(k), MG_OK);
    CHECK_EQ_INT(count_rows(path, "SELECT count(*) FROM keys"), 1);
    uint8_t hash[32];
    char hex[65], sql[256];
    mg_keys_hash(secret, strlen(secret), hash);
    mg_keys_hex(hash, 32, hex);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM keys WHERE hash = '%s'", hex);
    CHECK_EQ_INT(count_rows(path, sql), 1);
    CHECK(!db_contains(path, secret));
    CHECK(!db_contains(path, secret + 9)); /* nothing past the display prefix */
    mg_keys_close(k);
    /* Nor anywhere in the file (WAL folded or not). */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat %s %s-wal 2>/dev/null | grep -c -a -F '%s' >/dev/null", path,
             path, secret + 9);
    CHECK(system(cmd) != 0);
    remove_db(path);
}

static void insert_request(const char *path, const char *key_id, int64_t ts_ms, double cost)
{
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO requests (id, ts_ms, key_id, cost) VALUES (?, ?, ?, ?)",
                       -1, &st, NULL);
    char id[33];
    mg_random_id(id);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, ts_ms);
    if (key_id)
        sqlite3_bind_text(st, 3, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 4, cost);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    /* As the store's writer does, the row's minute rollup too. */
    sqlite3_prepare_v2(db,
                       "INSERT INTO rollup_minute (minute, key_id, requests, cost) VALUES (?, ?, 1, ?)"
                       " ON CONFLICT (minute, provider, model, key_id, status, environment)"
                       " DO UPDATE SET requests = requests + 1, cost = cost + excluded.cost",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, ts_ms / 60000);
    sqlite3_bind_text(st, 2, key_id ? key_id : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, cost);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

typedef struct warns {
    int n;
    double last_threshold;
} warns;

static void count_warn(void *ud, const mg_budget_event *ev)
{
    warns *w = ud;
    w->n++;
    w->last_threshold = ev->threshold;
}

static void test_persistence_round_trip(void)
{
    char path[256];
    fresh_db(path);
    test_clock clock = {T0_MS};
    mg_keys *k = open_db(path, &clock, 0);
    char s_keep[64], s_rev[64], s_rot[64], id_keep[40], id_rot[40];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"keep\",\"user_id\":\"ann\",\"environment\":\"prod\","
                                "\"models\":[\"gpt-*\"],\"rpm\":7,\"tpm\":9000,"
                                "\"max_concurrency\":2,\"budget_usd_day\":1,"
                                "\"budget_usd_month\":30,\"expires_at\":\"2030-01-01\","
                                "\"metadata\":{\"team\":\"ml\"}}",
                             s_keep, id_keep),
                 201);
    CHECK_EQ_INT(test_create(k, "{\"name\":\"rev\"}", s_rev, NULL), 201);
    CHECK_EQ_INT(test_create(k, "{\"name\":\"rot\"}", s_rot, id_rot), 201);
    CHECK_EQ_INT(test_call(k, "POST", "/rev/revoke", NULL, NULL), 200);
    json_t *j;
    CHECK_EQ_INT(test_call(k, "POST", "/rot/rotate", NULL, &j), 200);
    char s_rot2[64];
    snprintf(s_rot2, sizeof s_rot2, "%s", json_string_value(json_object_get(j, "secret")));
    json_decref(j);
    CHECK_EQ_INT(test_call(k, "PATCH", "/keep", "{\"rpm\":8}", NULL), 200);
    mg_keys_close(k); /* close flushes */

    mg_keys_opts o;
    mg_keys_opts_default(&o);
    o.db_path = path;
    o.auth_mode = MG_AUTH_KEYS;
    char err[MG_ERRLEN] = "";
    k = mg_keys_open(&o, err);
    CHECK(k != NULL);
    if (!k) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ_INT(test_call(k, "GET", "/keep", NULL, &j), 200);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "user_id")), "ann");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "environment")), "prod");
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(j, "models"), 0)), "gpt-*");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "rpm")), 8);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "tpm")), 9000);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "max_concurrency")), 2);
    CHECK(json_number_value(json_object_get(j, "budget_usd_month")) == 30);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "expires_at")), "2030-01-01T00:00:00Z");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(j, "metadata"), "team")), "ml");
    json_decref(j);

    mg_key_admission a;
    CHECK_EQ_INT(test_admit(k, s_keep, "gpt-4o", 0, 0, &a), MG_OK);
    CHECK_EQ_STR(a.key_id, id_keep);
    CHECK_EQ_STR(a.user_id, "ann");
    mg_keys_release(k, &a.lease, 0, 0);
    CHECK_EQ_INT(test_admit(k, s_keep, "claude", 0, 0, &a), MG_ERR);
    CHECK_EQ_INT(a.status, 403);
    CHECK_EQ_INT(test_admit(k, s_rev, "m", 0, 0, &a), MG_ERR);
    CHECK(strstr(a.message, "was revoked") != NULL);
    CHECK_EQ_INT(test_admit(k, s_rot, "m", 0, 0, &a), MG_ERR);
    CHECK_EQ_INT(a.status, 401);
    CHECK_EQ_INT(test_admit(k, s_rot2, "m", 0, 0, &a), MG_OK);
    CHECK_EQ_STR(a.key_id, id_rot);
    mg_keys_release(k, &a.lease, 0, 0);
    mg_keys_close(k);
    remove_db(path);
}

/* Spend is read from `requests` at open: budgets and warnings carry on. */
static void test_spend_loaded_at_open(void)
{
    char path[256];
    fresh_db(path);
    int64_t now = mg_now_wall_ms();
    test_clock clock = {now};
    mg_keys *k = open_db(path, &clock, 0);
    char secret[64], id[40];
    CHECK_EQ_INT(test_create(k, "{\"name\":\"s\",\"budget_usd_day\":1}", secret, id), 201);
    mg_keys_close(k);
    /* $0.85 today: past the 80% warning already, so it must not fire
     * again; $0.15 more reaches 100% and fires that one. */
    insert_request(path, id, now - 1000, 0.85);
    insert_request(path, NULL, now - 1000, 5.0);
    mg_keys_opts o;
    mg_keys_opts_default(&o);
    o.db_path = path;
    o.auth_mode = MG_AUTH_KEYS;
    o.budget_day_usd = 6;
    char err[MG_ERRLEN] = "";
    k = mg_keys_open(&o, err);
    CHECK(k != NULL);
    if (!k)
        return;
    warns w = {0};
    mg_keys_on_budget(k, count_warn, &w);
    mg_key_admission a;
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0.2, &a), MG_ERR); /* 0.85 + 0.2 > 1 */
    CHECK(strstr(a.message, "has $0.15 left") != NULL);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0.15, &a), MG_OK);
    mg_keys_release(k, &a.lease, 0.15, 0);
    /* Key at 100%, gateway at $6.00 of $6: both 1.0 warnings, no 0.8. */
    CHECK_EQ_INT(w.n, 2);
    CHECK(w.last_threshold == 1.0);
    CHECK_EQ_INT(test_admit(k, secret, "m", 0, 0, &a), MG_ERR);
    CHECK(strstr(a.message, "reached its $1.00 daily budget") != NULL);
    mg_buf out = {0};
    CHECK_EQ_INT(mg_keys_budget_call(k, "GET", "/config", &out), 200);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    CHECK(json_number_value(json_object_get(j, "daily_usd")) == 6);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "thresholds")), 2);
    json_decref(j);
    mg_buf_free(&out);
    mg_keys_close(k);
    remove_db(path);
}

static void test_open_errors(void)
{
    mg_keys_opts o;
    mg_keys_opts_default(&o);
    o.db_path = "/nonexistent/dir/mg.db";
    char err[MG_ERRLEN] = "";
    CHECK(mg_keys_open(&o, err) == NULL);
    CHECK(strstr(err, "cannot open") != NULL);
    /* A database without schema 003. */
    char path[] = "/tmp/mg-keys-noschema-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    o.db_path = path;
    CHECK(mg_keys_open(&o, err) == NULL);
    CHECK(strstr(err, "schema 003") != NULL);
    unlink(path);
}

TEST_MAIN(T(test_list_never_shows_secrets), T(test_validation), T(test_patch_and_names),
          T(test_hash_only_in_sqlite), T(test_persistence_round_trip),
          T(test_spend_loaded_at_open), T(test_open_errors))
