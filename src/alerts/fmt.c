/* fmt.c — what each channel kind receives (channel.h): the generic JSON
 * event, Slack blocks, a Microsoft Teams Adaptive Card message, a Discord
 * embed, and a plain-text e-mail. Lengths are clipped to what each service
 * accepts so a long rule name cannot get a notification rejected. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "channel.h"

static int color_of(const char *event, const char *severity)
{
    if (event && !strcmp(event, "alert_resolved"))
        return 0x2EA043; /* green */
    if (severity && !strcmp(severity, "critical"))
        return 0xD73A49; /* red */
    if (severity && !strcmp(severity, "info"))
        return 0x0969DA; /* blue */
    return 0xD29922;     /* amber */
}

/* A string clipped to max bytes without splitting a UTF-8 sequence. */
static json_t *clipped(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n <= max)
        return json_stringn(s ? s : "", n);
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return json_stringn(s, max);
}

static void iso8601(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* name → value lines for facts, from the alert details. */
static json_t *facts(const json_t *alert)
{
    static const char *const keys[] = {"rule", "metric", "value", "threshold", "window", "samples"};
    json_t *out = json_array();
    for (size_t i = 0; i < MG_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(alert, keys[i]);
        if (!v || json_is_null(v))
            continue;
        char buf[128];
        if (json_is_string(v))
            snprintf(buf, sizeof buf, "%s", json_string_value(v));
        else if (json_is_number(v))
            snprintf(buf, sizeof buf, "%.6g", json_number_value(v));
        else
            continue;
        json_array_append_new(out, json_pack("{s:s,s:s}", "name", keys[i], "value", buf));
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(alert, "labels"), k, v)
    {
        if (json_is_string(v))
            json_array_append_new(out, json_pack("{s:s,s:s}", "name", k, "value",
                                                 json_string_value(v)));
    }
    return out;
}

static json_t *generic(const mg_al_notice *n)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:O,s:s}", "event", n->event, "title", n->title,
                     "text", n->text, "severity", n->severity ? n->severity : "warning", "ts_ms",
                     (json_int_t)n->ts_ms, "alert", n->alert ? n->alert : json_null(), "source",
                     "moongate");
}

static json_t *slack(const mg_al_notice *n)
{
    char ctx[160];
    snprintf(ctx, sizeof ctx, "severity: %s · moongate", n->severity ? n->severity : "warning");
    char fallback[600];
    snprintf(fallback, sizeof fallback, "%s: %s", n->title, n->text);
    return json_pack("{s:o,s:[{s:s,s:{s:s,s:o}},{s:s,s:{s:s,s:o}},{s:s,s:[{s:s,s:s}]}]}",
                     "text", clipped(fallback, 3000), "blocks", "type", "header", "text", "type",
                     "plain_text", "text", clipped(n->title, 150), "type", "section", "text", "type",
                     "mrkdwn", "text", clipped(n->text, 3000), "type", "context", "elements",
                     "type", "mrkdwn", "text", ctx);
}

static json_t *teams(const mg_al_notice *n)
{
    json_t *fs = facts(n->alert);
    json_t *card_facts = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(fs, i, f)
    {
        json_array_append_new(card_facts,
                              json_pack("{s:O,s:O}", "title", json_object_get(f, "name"), "value",
                                        json_object_get(f, "value")));
    }
    json_decref(fs);
    int critical = n->severity && !strcmp(n->severity, "critical") &&
                   strcmp(n->event, "alert_resolved") != 0;
    json_t *content = json_pack(
        "{s:s,s:s,s:s,s:[{s:s,s:o,s:s,s:s,s:b,s:s},{s:s,s:o,s:b},{s:s,s:o}]}", "$schema",
        "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard", "version",
        "1.4", "body", "type", "TextBlock", "text", clipped(n->title, 256), "weight", "Bolder",
        "size", "Medium", "wrap", 1, "color",
        !strcmp(n->event, "alert_resolved") ? "Good" : critical ? "Attention" : "Warning", "type",
        "TextBlock", "text", clipped(n->text, 4000), "wrap", 1, "type", "FactSet", "facts",
        card_facts);
    return json_pack("{s:s,s:s,s:[{s:s,s:n,s:o}]}", "type", "message", "summary", n->title,
                     "attachments", "contentType", "application/vnd.microsoft.card.adaptive",
                     "contentUrl", "content", content);
}

static json_t *discord(const mg_al_notice *n)
{
    char ts[32];
    iso8601(n->ts_ms, ts, sizeof ts);
    json_t *fields = json_array();
    json_t *fs = facts(n->alert);
    size_t i;
    json_t *f;
    json_array_foreach(fs, i, f)
    {
        if (i >= 25) /* Discord's limit */
            break;
        json_array_append_new(fields, json_pack("{s:o,s:o,s:b}", "name",
                                                clipped(json_string_value(json_object_get(f, "name")), 256),
                                                "value",
                                                clipped(json_string_value(json_object_get(f, "value")), 1024),
                                                "inline", 1));
    }
    json_decref(fs);
    return json_pack("{s:s,s:o,s:[{s:o,s:o,s:i,s:s,s:o}]}", "username", "moongate", "content",
                     clipped(n->title, 2000), "embeds", "title", clipped(n->title, 256),
                     "description", clipped(n->text, 4096), "color",
                     color_of(n->event, n->severity), "timestamp", ts, "fields", fields);
}

void mg_al_format_body(int type, const mg_al_notice *n, mg_buf *out)
{
    json_t *body = type == MG_AL_CH_SLACK     ? slack(n)
                   : type == MG_AL_CH_TEAMS   ? teams(n)
                   : type == MG_AL_CH_DISCORD ? discord(n)
                                              : generic(n);
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    mg_buf_append_str(out, s ? s : "{}");
    free(s);
    if (body)
        json_decref(body);
}

/* ---- e-mail ------------------------------------------------------------- */

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || *s == '\r' || *s == '\n')
            return 0;
    return 1;
}

/* RFC 2047 for a subject that is not plain ASCII. */
static void header_text(mg_buf *out, const char *s)
{
    if (is_ascii(s)) {
        mg_buf_append_str(out, s);
        return;
    }
    size_t n = strlen(s);
    if (n > 600)
        n = 600;
    unsigned char enc[4 * 600 / 3 + 8];
    int len = EVP_EncodeBlock(enc, (const unsigned char *)s, (int)n);
    mg_buf_printf(out, "=?UTF-8?B?%.*s?=", len, enc);
}

/* Body text with CRLF line ends and lines of at most 990 bytes. */
static void body_text(mg_buf *out, const char *s)
{
    size_t col = 0;
    for (; *s; s++) {
        if (*s == '\r')
            continue;
        if (*s == '\n' || col >= 990) {
            mg_buf_append(out, "\r\n", 2);
            col = 0;
            if (*s == '\n')
                continue;
        }
        mg_buf_append(out, s, 1);
        col++;
    }
    mg_buf_append(out, "\r\n", 2);
}

void mg_al_format_email(const mg_al_channel *c, const mg_al_notice *n, mg_buf *out)
{
    char date[64], id[33];
    time_t t = (time_t)(n->ts_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    mg_random_id(id);
    const char *at = strchr(c->from, '@');
    mg_buf_printf(out, "Date: %s\r\nFrom: %s\r\nTo: ", date, c->from);
    for (size_t i = 0; i < c->nto; i++)
        mg_buf_printf(out, "%s%s", i ? ", " : "", c->to[i]);
    mg_buf_printf(out, "\r\nMessage-ID: <%s%s>\r\nSubject: [moongate] ", id, at ? at : "@moongate");
    header_text(out, n->title);
    mg_buf_append_str(out, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 8bit\r\n\r\n");
    body_text(out, n->text);
    mg_buf_append_str(out, "\r\n");
    json_t *fs = facts(n->alert);
    size_t i;
    json_t *f;
    json_array_foreach(fs, i, f)
    {
        mg_buf b = {0};
        mg_buf_printf(&b, "%s: %s", json_string_value(json_object_get(f, "name")),
                      json_string_value(json_object_get(f, "value")));
        body_text(out, mg_buf_cstr(&b));
        mg_buf_free(&b);
    }
    json_decref(fs);
    mg_buf_printf(out, "\r\n-- \r\nmoongate (%s, severity %s)\r\n", n->event,
                  n->severity ? n->severity : "warning");
}
