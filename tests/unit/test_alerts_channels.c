/* test_alerts_channels.c — notification channels: the HMAC signature
 * (RFC 4231 vector), channel spec parsing and masking, and the body each
 * channel kind receives (generic, Slack, Teams, Discord, e-mail). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/alerts/channel.h"
#include "test.h"

static json_t *details(void)
{
    return json_pack("{s:s,s:s,s:f,s:f,s:f,s:i,s:{s:s}}", "rule", "slow", "metric", "p95_latency",
                     "value", 2500.0, "threshold", 2000.0, "window", 300.0, "samples", 12,
                     "labels", "provider", "openai");
}

static mg_al_notice notice(json_t *alert, const char *event)
{
    mg_al_notice n = {.event = event, .title = "slow: p95_latency 2500 > 2000",
                      .text = "p95_latency is 2500 (> 2000) over 300 s, provider=openai",
                      .severity = "critical", .alert = alert, .ts_ms = 1700000000000LL};
    return n;
}

static json_t *body_of(int type, const mg_al_notice *n)
{
    mg_buf b = {0};
    mg_al_format_body(type, n, &b);
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    mg_buf_free(&b);
    return j;
}

static void test_hmac_rfc4231(void)
{
    char sig[80];
    const char *data = "what do ya want for nothing?";
    mg_al_sign("Jefe", data, strlen(data), sig);
    CHECK_EQ_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    mg_al_sign("Jefe", data, strlen(data) - 1, sig); /* any change changes it */
    CHECK(strcmp(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

static void test_generic_body(void)
{
    json_t *a = details();
    mg_al_notice n = notice(a, "alert_triggered");
    json_t *j = body_of(MG_AL_CH_WEBHOOK, &n);
    CHECK(j != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "event")), "alert_triggered");
    CHECK_EQ_STR(json_string_value(json_object_get(j, "severity")), "critical");
    CHECK(json_integer_value(json_object_get(j, "ts_ms")) == 1700000000000LL);
    json_t *al = json_object_get(j, "alert");
    CHECK_EQ_STR(json_string_value(json_object_get(al, "rule")), "slow");
    CHECK(json_number_value(json_object_get(al, "value")) == 2500.0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(al, "labels"), "provider")),
                 "openai");
    json_decref(j);
    json_decref(a);
}

static void test_slack_body(void)
{
    json_t *a = details();
    mg_al_notice n = notice(a, "alert_triggered");
    json_t *j = body_of(MG_AL_CH_SLACK, &n);
    CHECK(json_is_string(json_object_get(j, "text")));
    json_t *blocks = json_object_get(j, "blocks");
    CHECK_EQ_INT(json_array_size(blocks), 3);
    json_t *header = json_array_get(blocks, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(header, "type")), "header");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(header, "text"), "type")),
                 "plain_text");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(header, "text"), "text")),
                 n.title);
    json_decref(j);
    /* Slack's header block takes at most 150 characters. */
    char longt[400];
    memset(longt, 'x', sizeof longt - 1);
    longt[sizeof longt - 1] = 0;
    n.title = longt;
    j = body_of(MG_AL_CH_SLACK, &n);
    header = json_array_get(json_object_get(j, "blocks"), 0);
    CHECK_EQ_INT(strlen(json_string_value(json_object_get(json_object_get(header, "text"), "text"))), 150);
    json_decref(j);
    json_decref(a);
}

static void test_teams_body(void)
{
    json_t *a = details();
    mg_al_notice n = notice(a, "alert_resolved");
    json_t *j = body_of(MG_AL_CH_TEAMS, &n);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "type")), "message");
    json_t *att = json_array_get(json_object_get(j, "attachments"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(att, "contentType")),
                 "application/vnd.microsoft.card.adaptive");
    json_t *card = json_object_get(att, "content");
    CHECK_EQ_STR(json_string_value(json_object_get(card, "type")), "AdaptiveCard");
    json_t *body = json_object_get(card, "body");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(body, 0), "color")), "Good");
    json_t *facts = json_object_get(json_array_get(body, 2), "facts");
    CHECK(json_array_size(facts) >= 6);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(facts, 0), "title")), "rule");
    json_decref(j);
    json_decref(a);
}

static void test_discord_body(void)
{
    json_t *a = details();
    mg_al_notice n = notice(a, "alert_triggered");
    json_t *j = body_of(MG_AL_CH_DISCORD, &n);
    json_t *embed = json_array_get(json_object_get(j, "embeds"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(embed, "title")), n.title);
    CHECK_EQ_INT(json_integer_value(json_object_get(embed, "color")), 0xD73A49);
    CHECK_EQ_STR(json_string_value(json_object_get(embed, "timestamp")), "2023-11-14T22:13:20Z");
    CHECK(json_array_size(json_object_get(embed, "fields")) >= 6);
    json_decref(j);
    json_decref(a);
}

static void test_email_message(void)
{
    json_t *spec = json_pack("{s:s,s:s,s:s,s:[s,s]}", "type", "email", "url",
                             "smtp://127.0.0.1:2525", "from", "gw@example.com", "to",
                             "a@example.com", "b@example.com");
    mg_al_channel c;
    char err[256] = "";
    CHECK(mg_al_channel_parse(spec, "mail", &c, err, sizeof err) == MG_OK);
    json_t *a = details();
    mg_al_notice n = notice(a, "alert_triggered");
    n.title = "héllo";
    mg_buf b = {0};
    mg_al_format_email(&c, &n, &b);
    const char *m = mg_buf_cstr(&b);
    CHECK(strstr(m, "From: gw@example.com\r\n") != NULL);
    CHECK(strstr(m, "To: a@example.com, b@example.com\r\n") != NULL);
    CHECK(strstr(m, "Subject: [moongate] =?UTF-8?B?aMOpbGxv?=\r\n") != NULL);
    CHECK(strstr(m, "\r\n\r\n") != NULL);
    CHECK(strstr(m, "value: 2500\r\n") != NULL);
    for (const char *p = m; (p = strchr(p, '\n')); p++) /* every LF ends a CRLF */
        CHECK(p > m && p[-1] == '\r');
    mg_buf_free(&b);
    mg_al_channel_clear(&c);
    json_decref(spec);
    json_decref(a);
}

static void test_channel_specs(void)
{
    char err[256] = "";
    mg_al_channel c;
    json_t *bad = json_pack("{s:s,s:s}", "type", "webhook", "url", "ftp://x");
    CHECK(mg_al_channel_parse(bad, "x", &c, err, sizeof err) == MG_ERR);
    CHECK(strstr(err, "url") != NULL);
    json_decref(bad);
    bad = json_pack("{s:s,s:s,s:{s:s}}", "type", "webhook", "url", "http://x/",
                    "headers", "X-A", "a\r\nInjected: 1");
    CHECK(mg_al_channel_parse(bad, "x", &c, err, sizeof err) == MG_ERR);
    json_decref(bad);
    bad = json_pack("{s:s}", "type", "pager");
    CHECK(mg_al_channel_parse(bad, "x", &c, err, sizeof err) == MG_ERR);
    json_decref(bad);
    json_t *ok = json_pack("{s:s,s:s,s:s,s:{s:s},s:i}", "type", "webhook", "url",
                           "http://127.0.0.1:9/hook", "secret", "s3cret", "headers", "X-Team",
                           "ops", "retries", 0);
    CHECK(mg_al_channel_parse(ok, "ops", &c, err, sizeof err) == MG_OK);
    CHECK_EQ_STR(c.secret, "s3cret");
    CHECK_EQ_STR(c.headers[0], "X-Team: ops");
    CHECK_EQ_INT(c.retries, 0);
    mg_al_channel_clear(&c);
    json_t *masked = mg_al_channel_masked(ok);
    CHECK_EQ_STR(json_string_value(json_object_get(masked, "secret")), "***");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(masked, "headers"), "X-Team")),
                 "***");
    CHECK_EQ_STR(json_string_value(json_object_get(ok, "secret")), "s3cret");
    json_decref(masked);
    json_decref(ok);
    json_t *inapp = json_pack("{s:s}", "type", "in_app");
    CHECK(mg_al_channel_parse(inapp, NULL, &c, err, sizeof err) == MG_OK);
    CHECK_EQ_INT(c.type, MG_AL_CH_IN_APP);
    mg_al_channel_clear(&c);
    json_decref(inapp);
}

TEST_MAIN(T(test_hmac_rfc4231), T(test_generic_body), T(test_slack_body), T(test_teams_body),
          T(test_discord_body), T(test_email_message), T(test_channel_specs))
