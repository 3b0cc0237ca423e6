/* test_convert_lane.c — the text lane's matcher (src/proxy/convert_lane.c):
 * which upstream events it takes as plain text deltas, the exact span of
 * the text it copies, and everything it must leave to the Lua converter. */
#include <stdio.h>
#include <string.h>

#include "proxy/convert_lane.h"
#include "test.h"

static int match(int fmt, long long up_index, const char *data, mg_js_span *text)
{
    return mg_px_lane_match(fmt, up_index, data, strlen(data), text);
}

static int oa(const char *data)
{
    mg_js_span t;
    return match(MG_FMT_OPENAI, 0, data, &t);
}

#define OA_HEAD "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","

static void test_openai_takes(void)
{
    mg_js_span t;
    const char *d = OA_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok0 \"},"
                            "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}";
    CHECK(match(MG_FMT_OPENAI, 0, d, &t));
    CHECK(t.n == 7 && memcmp(t.p, "\"tok0 \"", 7) == 0);
    /* Escapes stay as written; quotes and brackets inside the text do not
     * end it early. */
    d = " { \"choices\" : [ { \"delta\" : { \"content\" : \"a\\\"}]\\\\\" } } ] } ";
    CHECK(match(MG_FMT_OPENAI, 0, d, &t));
    CHECK(t.n == strlen("\"a\\\"}]\\\\\"") && memcmp(t.p, "\"a\\\"}]\\\\\"", t.n) == 0);
    CHECK(oa("{\"choices\":[{\"delta\":{\"content\":\"x\",\"role\":\"assistant\"}}]}"));
    CHECK(oa("{\"choices\":[{\"delta\":{\"content\":\"x\",\"refusal\":null,\"tool_calls\":null}}],"
             "\"error\":null}"));
}

static void test_openai_leaves(void)
{
    const char *bad[] = {
        "[DONE]",
        "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]",                  /* invalid JSON */
        "{\"choices\":[{\"delta\":{\"content\":\"\"}}]}",                  /* empty text */
        "{\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":1}}",
        "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"error\":{\"message\":\"e\"}}",
        "{\"choices\":[{\"delta\":{\"content\":\"x\",\"tool_calls\":[]}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"x\",\"reasoning_content\":\"r\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"x\",\"reasoning\":\"\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"x\",\"refusal\":\"no\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"x\"}},{\"delta\":{\"content\":\"y\"}}]}",
        "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"x\"}}]}",
        "{\"choices\":[{\"index\":null,\"delta\":{\"content\":\"x\"}}]}",
        "{\"choices\":[{\"delta\":{\"cont\\u0065nt\":\"x\"}}]}",             /* escaped key */
        "{\"choices\":[{\"delta\":{\"content\":\"x\",\"content\":\"y\"}}]}", /* Lua takes the last */
        "{\"choices\":[{\"delta\":{\"content\":5}}]}",
        "{\"choices\":[{\"delta\":\"x\"}]}",
        "{\"choices\":[]}",
        "{\"choices\":{\"delta\":{\"content\":\"x\"}}}",
        "{\"choices\":[{\"delta\":{\"content\":\"\\ud800\"}}]}",           /* lone surrogate */
        "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]} {}",
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
        if (oa(bad[i]))
            fprintf(stderr, "taken: %s\n", bad[i]);
        CHECK(!oa(bad[i]));
    }
}

static void test_anthropic(void)
{
    mg_js_span t;
    const char *d = "{\"type\":\"content_block_delta\",\"index\":2,"
                    "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}";
    CHECK(match(MG_FMT_ANTHROPIC, 2, d, &t));
    CHECK(t.n == 4 && memcmp(t.p, "\"Hi\"", 4) == 0);
    CHECK(match(MG_FMT_ANTHROPIC, -1, d, &t)); /* any block: the shape alone */
    CHECK(!match(MG_FMT_ANTHROPIC, 0, d, &t)); /* another block's delta */
    CHECK(!match(MG_FMT_ANTHROPIC, 0,
                 "{\"type\":\"content_block_delta\",\"index\":0,"
                 "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}",
                 &t));
    CHECK(!match(MG_FMT_ANTHROPIC, 0,
                 "{\"type\":\"content_block_delta\",\"index\":0,"
                 "\"delta\":{\"type\":\"text_delta\",\"text\":\"\"}}",
                 &t));
    CHECK(!match(MG_FMT_ANTHROPIC, 0, "{\"type\":\"message_stop\"}", &t));
    /* Formats without a matcher never take anything. */
    CHECK(!match(MG_FMT_GEMINI, 0, d, &t));
}

/* After one full match, a chunk with the same bytes around a valid text
 * string is taken on the template; anything else gets the full check. */
static void test_openai_template(void)
{
    mg_px_lane lane = {0};
    mg_js_span t;
#define OA_CHUNK(text) OA_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":" text "}," \
                       "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}"
    const char *first = OA_CHUNK("\"tok0 \"");
    CHECK(mg_px_lane_match_cached(&lane, MG_FMT_OPENAI, 0, first, strlen(first), &t));
    CHECK(lane.tpl_ok);
    const char *next = OA_CHUNK("\"caf\\u00e9 \\\"q\\\" }]\"");
    CHECK(mg_px_lane_match_cached(&lane, MG_FMT_OPENAI, 0, next, strlen(next), &t));
    const char *want = "\"caf\\u00e9 \\\"q\\\" }]\"";
    CHECK(t.n == strlen(want) && memcmp(t.p, want, t.n) == 0 && t.p > next);
    const char *bad[] = {
        OA_CHUNK("\"x\",\"content\":\"y\""), /* two keys where one string was */
        OA_CHUNK("\"\""),                     /* empty text */
        OA_CHUNK("\"bad \\q escape\""),
        OA_CHUNK("5"),
        OA_CHUNK("\"unterminated"),
    };
    for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
        int taken = mg_px_lane_match_cached(&lane, MG_FMT_OPENAI, 0, bad[i], strlen(bad[i]), &t);
        if (taken)
            fprintf(stderr, "taken: %s\n", bad[i]);
        CHECK(!taken);
    }
    /* Other bytes around the text: the full check decides (and refreshes
     * the template). */
    const char *spaced = OA_CHUNK("\"a\" ");
    CHECK(mg_px_lane_match_cached(&lane, MG_FMT_OPENAI, 0, spaced, strlen(spaced), &t));
    CHECK(t.n == 3 && memcmp(t.p, "\"a\"", 3) == 0);
    /* A finishing chunk differs around the text: full check, refused. */
    const char *stop = OA_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"z\"},"
                               "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}";
    CHECK(!mg_px_lane_match_cached(&lane, MG_FMT_OPENAI, 0, stop, strlen(stop), &t));
    mg_buf_free(&lane.prefix);
    mg_buf_free(&lane.suffix);
    mg_buf_free(&lane.tpl_head);
    mg_buf_free(&lane.tpl_tail);
#undef OA_CHUNK
}

TEST_MAIN(T(test_openai_template), T(test_openai_takes), T(test_openai_leaves), T(test_anthropic))
