/* test_jscan.c — the validating JSON scanner (src/core/jscan.c): what it
 * accepts and refuses, the member index, decoding, splicing, and a
 * differential check against jansson over mutated documents. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/jscan.h"
#include "test.h"

static int ok(const char *s)
{
    mg_js_object o;
    mg_js_error e;
    return mg_js_scan(s, strlen(s), &o, &e) == MG_OK;
}

static void test_accepts(void)
{
    const char *good[] = {
        "{}", " { } ", "[]", "0", "-0", "1.5e-3", "-12E+4", "\"x\"", "true", "false", "null",
        "{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\\ud83d\\ude00\\n\"}",
        "{\"k\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "[[[[[]]]],{}]", "\n\t{\r\n\"a\" : 1 }\n",
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(good); i++) {
        if (!ok(good[i]))
            fprintf(stderr, "refused: %s\n", good[i]);
        CHECK(ok(good[i]));
    }
}

static void test_refuses(void)
{
    const char *bad[] = {
        "", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "{a:1}",
        "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "True", "\"abc", "\"\\x\"",
        "\"\\u12\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"a\x01\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xe2\x82\"",
        "\"\xf4\x90\x80\x80\"", "{} {}", "{}x", "{\"a\":1,\"a\":2}",
        "{\"model\":\"x\",\"mod\\u0065l\":\"y\"}", "[1]]", "{\"a\":1}}",
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
        if (ok(bad[i]))
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(!ok(bad[i]));
    }
    /* Nested duplicates are the provider's business; top-level ones ours. */
    CHECK(ok("{\"a\":{\"b\":1,\"b\":2}}"));
}

static void test_depth_and_position(void)
{
    size_t n = MG_JS_MAX_DEPTH;
    char *s = mg_xmalloc(2 * n + 3);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    CHECK(ok(s));
    char *t = mg_xmalloc(2 * n + 3);
    t[0] = '[';
    memcpy(t + 1, s, 2 * n);
    t[2 * n + 1] = ']';
    t[2 * n + 2] = '\0';
    mg_js_object o;
    mg_js_error e;
    CHECK(mg_js_scan(t, strlen(t), &o, &e) == MG_ERR);
    CHECK(strstr(e.text, "deep") != NULL);
    free(s);
    free(t);
    const char *doc = "{\n  \"a\": 1,\n  \"b\": tru\n}";
    CHECK(mg_js_scan(doc, strlen(doc), &o, &e) == MG_ERR);
    CHECK_EQ_INT(e.line, 3);
    CHECK_EQ_INT(e.column, 8);
}

static void test_members(void)
{
    const char *doc = "{\"model\":\"gpt\\u002d4o\",\"stream\":true,\"max_tokens\":128,"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                      "\"stream_options\":{\"include_usage\":false},\"big\":1e400,"
                      "\"neg\":-7,\"frac\":2.5,\"huge\":123456789012345678901234}";
    mg_js_object o;
    mg_js_error e;
    CHECK(mg_js_scan(doc, strlen(doc), &o, &e) == MG_OK);
    CHECK_EQ_INT(o.whole.type, MG_JS_OBJECT);
    CHECK_EQ_INT(o.n, 9);
    char *model = mg_js_strdup(mg_js_get(&o, "model"));
    CHECK_EQ_STR(model, "gpt-4o");
    free(model);
    CHECK(mg_js_is_true(mg_js_get(&o, "stream")));
    long long v = 0;
    CHECK(mg_js_int(mg_js_get(&o, "max_tokens"), &v) && v == 128);
    CHECK(mg_js_int(mg_js_get(&o, "neg"), &v) && v == -7);
    CHECK(!mg_js_int(mg_js_get(&o, "frac"), &v));
    CHECK(!mg_js_int(mg_js_get(&o, "big"), &v));
    CHECK(!mg_js_int(mg_js_get(&o, "huge"), &v));
    CHECK(mg_js_get(&o, "absent") == NULL);
    const mg_js_span *msgs = mg_js_get(&o, "messages");
    CHECK(msgs && msgs->type == MG_JS_ARRAY && msgs->n == strlen("[{\"role\":\"user\",\"content\":\"hi\"}]"));
    mg_js_object so;
    CHECK(mg_js_object_of(mg_js_get(&o, "stream_options"), &so) == MG_OK);
    const mg_js_span *iu = mg_js_get(&so, "include_usage");
    CHECK(iu && iu->type == MG_JS_FALSE);
    CHECK(mg_js_object_of(msgs, &so) == MG_ERR);
    /* A key spelled with escapes is found by its meaning. */
    const char *esc = "{\"\\u006dodel\":\"m\"}";
    CHECK(mg_js_scan(esc, strlen(esc), &o, &e) == MG_OK);
    char *m = mg_js_strdup(mg_js_get(&o, "model"));
    CHECK_EQ_STR(m, "m");
    free(m);
}

static void test_many_members(void)
{
    mg_buf b = {0};
    mg_buf_append_str(&b, "{");
    for (int i = 0; i < 100; i++)
        mg_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    mg_buf_append_str(&b, "}");
    mg_js_object o;
    mg_js_error e;
    CHECK(mg_js_scan(b.data, b.len, &o, &e) == MG_OK);
    CHECK_EQ_INT(o.n, MG_JS_MAX_MEMBERS);
    CHECK_EQ_INT(o.total, 100);
    long long v;
    CHECK(mg_js_int(mg_js_get(&o, "k31"), &v) && v == 31);
    CHECK(mg_js_get(&o, "k32") == NULL);
    /* A duplicate of an indexed key is caught even past the index. */
    b.len--;
    mg_buf_append_str(&b, ",\"k3\":1}");
    CHECK(mg_js_scan(b.data, b.len, &o, &e) == MG_ERR);
    mg_buf_free(&b);
}

static void test_apply(void)
{
    const char *src = "{\"model\":\"a\",\"x\":1}";
    mg_js_edit edits[] = {{9, 3, "\"bb\"", 4}, {18, 0, ",\"y\":2", 6}};
    mg_buf out = {0};
    mg_js_apply(src, strlen(src), edits, 2, &out);
    CHECK_EQ_STR(mg_buf_cstr(&out), "{\"model\":\"bb\",\"x\":1,\"y\":2}");
    mg_buf_free(&out);
}

/* Whatever jansson (with duplicates refused) accepts, the scanner accepts;
 * what the scanner accepts, jansson accepts unless the reason is one the
 * scanner leaves to providers (nested duplicates, number range). */
static void test_differential(void)
{
    const char *seeds[] = {
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9\"}],\"n\":1.5e3}",
        "{\"a\":[true,false,null,{\"b\":[]}],\"c\":\"\\ud83d\\ude00\",\"d\":-0.25}",
    };
    const char alphabet[] = "{}[]\":,\\u0123456789abcdefnrtlse.-+E \x80\xc3\xa9\xed\xf0";
    unsigned seed = 12345;
    int checked = 0, mismatches = 0;
    for (int round = 0; round < 20000; round++) {
        const char *base = seeds[round % 2];
        size_t len = strlen(base);
        char buf[256];
        memcpy(buf, base, len);
        int muts = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3;
        for (int k = 0; k < muts; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            char c = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
            int op = (int)((seed >> 20) % 3);
            if (op == 0)
                buf[at] = c;
            else if (op == 1 && len + 1 < sizeof buf) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = c;
                len++;
            } else if (len > 1) {
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
            }
        }
        mg_js_object o;
        mg_js_error e;
        int ours = mg_js_scan(buf, len, &o, &e) == MG_OK;
        json_error_t je;
        json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        int theirs = j != NULL;
        if (j)
            json_decref(j);
        int excused = !theirs && (strstr(je.text, "uplicate") || strstr(je.text, "too big") ||
                                  strstr(je.text, "overflow"));
        checked++;
        if (ours != theirs && !(ours && excused)) {
            if (mismatches++ < 5)
                fprintf(stderr, "differs (ours %d, jansson %d: %s): %.*s\n", ours, theirs,
                        theirs ? "" : je.text, (int)len, buf);
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK(checked == 20000);
}

TEST_MAIN(T(test_accepts), T(test_refuses), T(test_depth_and_position), T(test_members),
          T(test_many_members), T(test_apply), T(test_differential))
