/* test_record.c — the request record against its SQL table and its JSON
 * form: every field of mg_record_fields is a column of `requests` with the
 * same name, order and declared type after migrating schema/, and
 * mg_record_to_json gives valid JSON holding every field. */
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/record.h"
#include "store/store.h"
#include "test.h"

/* MOONGATE_HOME (set by ctest) or the source tree CMake compiled in. */
static const char *sql_type_of(int kind)
{
    return kind == MG_REC_TEXT ? "TEXT" : kind == MG_REC_INT ? "INTEGER" : "REAL";
}

static void test_fields_match_requests_columns(void)
{
    sqlite3 *db = NULL;
    char err[MG_ERRLEN] = "";
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    int version = mg_store_migrate(db, schema_dir(), err);
    if (version < 0)
        fprintf(stderr, "migrate: %s\n", err);
    CHECK(version >= 1);

    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "PRAGMA table_info(requests)", -1, &st, NULL) == SQLITE_OK);
    size_t ncols = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *type = (const char *)sqlite3_column_text(st, 2);
        int pk = sqlite3_column_int(st, 5);
        if (ncols < mg_record_nfields) {
            const mg_record_field *f = &mg_record_fields[ncols];
            CHECK_EQ_STR(name, f->name);
            CHECK_EQ_STR(type, sql_type_of(f->kind));
            CHECK_EQ_INT(pk, strcmp(f->name, "id") == 0);
        }
        ncols++;
    }
    CHECK_EQ_INT(ncols, mg_record_nfields);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_set_text(void)
{
    mg_record *r = mg_record_new();
    CHECK(r->id && strlen(r->id) == 32);
    CHECK(r->ts_ms > 1600000000000LL);
    CHECK(r->provider == NULL);
    mg_record_set_text(&r->provider, "openai");
    CHECK_EQ_STR(r->provider, "openai");
    mg_record_set_text(&r->provider, "anthropic"); /* replaces, old copy freed */
    CHECK_EQ_STR(r->provider, "anthropic");
    mg_record_set_text(&r->provider, NULL);
    CHECK(r->provider == NULL);
    mg_record_set_textn(&r->model_routed, "gpt-4o-mini-extra", 11);
    CHECK_EQ_STR(r->model_routed, "gpt-4o-mini");
    char source[] = "copied";
    mg_record_set_text(&r->status, source);
    source[0] = 'X'; /* the record keeps its own copy */
    CHECK_EQ_STR(r->status, "copied");
    mg_record_free(r);
    mg_record_free(NULL);
}

/* Fills every field with a value derived from its index. */
static void fill_record(mg_record *r)
{
    for (size_t i = 0; i < mg_record_nfields; i++) {
        const mg_record_field *f = &mg_record_fields[i];
        char *p = (char *)r + f->offset;
        if (f->kind == MG_REC_TEXT) {
            char text[64];
            snprintf(text, sizeof text, "v%zu \"q\" \\ \n\t\x01 \xc3\xa9", i);
            mg_record_set_text((char **)p, text);
        } else if (f->kind == MG_REC_INT) {
            *(int64_t *)p = (int64_t)i * 1000000007LL;
        } else {
            *(double *)p = (double)i + 0.25;
        }
    }
}

static json_t *record_json(const mg_record *r)
{
    mg_buf out = {0};
    mg_record_to_json(r, &out);
    json_error_t jerr;
    json_t *root = json_loadb(out.data, out.len, 0, &jerr);
    if (!root)
        fprintf(stderr, "invalid JSON (%s): %.*s\n", jerr.text, (int)out.len, out.data);
    mg_buf_free(&out);
    return root;
}

static void test_json_has_every_field(void)
{
    mg_record *r = mg_record_new();
    fill_record(r);
    json_t *root = record_json(r);
    CHECK(json_is_object(root));
    if (!root) {
        mg_record_free(r);
        return;
    }
    CHECK_EQ_INT(json_object_size(root), mg_record_nfields);
    for (size_t i = 0; i < mg_record_nfields; i++) {
        const mg_record_field *f = &mg_record_fields[i];
        const char *p = (const char *)r + f->offset;
        json_t *v = json_object_get(root, f->name);
        CHECK(v != NULL);
        if (!v)
            continue;
        if (f->kind == MG_REC_TEXT) {
            CHECK(json_is_string(v));
            CHECK_EQ_STR(json_string_value(v), *(char *const *)p);
        } else if (f->kind == MG_REC_INT) {
            CHECK(json_is_integer(v));
            CHECK_EQ_INT(json_integer_value(v), *(const int64_t *)p);
        } else {
            CHECK(json_is_number(v));
            CHECK(fabs(json_number_value(v) - *(const double *)p) < 1e-9);
        }
    }
    json_decref(root);
    mg_record_free(r);
}

static void test_json_null_text_and_non_finite(void)
{
    mg_record *r = mg_record_new();
    r->cost = NAN;
    r->duration_ms = INFINITY;
    json_t *root = record_json(r);
    CHECK(root != NULL);
    if (root) {
        CHECK(json_is_null(json_object_get(root, "provider")));
        CHECK(json_is_null(json_object_get(root, "error")));
        CHECK(json_is_string(json_object_get(root, "id")));
        CHECK(json_is_null(json_object_get(root, "cost")));
        CHECK(json_is_null(json_object_get(root, "duration_ms")));
        CHECK(json_is_integer(json_object_get(root, "tokens_input")));
        CHECK_EQ_INT(json_object_size(root), mg_record_nfields);
    }
    json_decref(root);
    mg_record_free(r);
}

TEST_MAIN(T(test_fields_match_requests_columns), T(test_set_text), T(test_json_has_every_field),
          T(test_json_null_text_and_non_finite))
