/* channel.c — channel specs (channel.h): parsing with bounds, masking for
 * listings, and the webhook signature (OpenSSL HMAC-SHA256). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "channel.h"

#define MAX_URL 2048
#define MAX_FIELD 512

static const char *const type_names[] = {"webhook", "slack", "teams", "discord", "email",
                                         "in_app"};

const char *mg_al_channel_type_name(int type)
{
    return type >= 0 && type < (int)MG_ARRAY_LEN(type_names) ? type_names[type] : "?";
}

void mg_al_channel_clear(mg_al_channel *c)
{
    free(c->name);
    free(c->url);
    free(c->secret);
    for (size_t i = 0; i < c->nheaders; i++)
        free(c->headers[i]);
    free(c->from);
    for (size_t i = 0; i < c->nto; i++)
        free(c->to[i]);
    free(c->username);
    free(c->password);
    memset(c, 0, sizeof *c);
}

static int fail(char *err, size_t errlen, const char *key, const char *why)
{
    snprintf(err, errlen, "channel %s: %s", key, why);
    return MG_ERR;
}

/* No CR, LF or NUL: every string here may end up in a header line. */
static int clean(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n <= max && !strpbrk(s, "\r\n");
}

static int opt_str(const json_t *spec, const char *key, size_t max, char **out, char *err,
                   size_t errlen)
{
    const json_t *v = json_object_get(spec, key);
    if (!v || json_is_null(v))
        return MG_OK;
    if (!json_is_string(v) || !clean(json_string_value(v), max))
        return fail(err, errlen, key, "must be a single-line string");
    *out = mg_xstrdup(json_string_value(v));
    return MG_OK;
}

static int url_ok(const char *url, int type)
{
    if (type == MG_AL_CH_EMAIL)
        return !strncmp(url, "smtp://", 7) || !strncmp(url, "smtps://", 8);
    return !strncmp(url, "http://", 7) || !strncmp(url, "https://", 8);
}

static int parse_headers(const json_t *spec, mg_al_channel *c, char *err, size_t errlen)
{
    const json_t *h = json_object_get(spec, "headers");
    if (!h || json_is_null(h))
        return MG_OK;
    if (!json_is_object(h) || json_object_size(h) > MG_AL_CH_MAX_HEADERS)
        return fail(err, errlen, "headers", "must be an object of at most 16 names");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)h, k, v)
    {
        const char *s = json_string_value(v);
        if (!s || !clean(k, 128) || !clean(s, MAX_FIELD) || !*k || strchr(k, ':'))
            return fail(err, errlen, "headers", "names and values must be single-line strings");
        mg_buf b = {0};
        mg_buf_printf(&b, "%s: %s", k, s);
        c->headers[c->nheaders++] = mg_xstrdup(mg_buf_cstr(&b));
        mg_buf_free(&b);
    }
    return MG_OK;
}

static int parse_to(const json_t *spec, mg_al_channel *c, char *err, size_t errlen)
{
    const json_t *to = json_object_get(spec, "to");
    if (json_is_string(to)) {
        if (!clean(json_string_value(to), 320))
            return fail(err, errlen, "to", "must be an address");
        c->to[c->nto++] = mg_xstrdup(json_string_value(to));
        return MG_OK;
    }
    if (!json_is_array(to) || json_array_size(to) == 0 || json_array_size(to) > MG_AL_CH_MAX_TO)
        return fail(err, errlen, "to", "must be 1..16 addresses");
    for (size_t i = 0; i < json_array_size(to); i++) {
        const char *s = json_string_value(json_array_get(to, i));
        if (!s || !clean(s, 320) || !strchr(s, '@'))
            return fail(err, errlen, "to", "must hold addresses like ops@example.com");
        c->to[c->nto++] = mg_xstrdup(s);
    }
    return MG_OK;
}

static int parse_limits(const json_t *spec, mg_al_channel *c, char *err, size_t errlen)
{
    c->timeout = 10;
    c->retries = 2;
    const json_t *t = json_object_get(spec, "timeout");
    if (t) {
        if (!json_is_number(t) || !(json_number_value(t) > 0 && json_number_value(t) <= 120))
            return fail(err, errlen, "timeout", "must be 0 < seconds <= 120");
        c->timeout = json_number_value(t);
    }
    const json_t *r = json_object_get(spec, "retries");
    if (r) {
        if (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > 10)
            return fail(err, errlen, "retries", "must be 0..10");
        c->retries = (int)json_integer_value(r);
    }
    return MG_OK;
}

static int parse_type(const json_t *spec, int *type)
{
    const char *t = json_string_value(json_object_get(spec, "type"));
    for (int i = 0; t && i < (int)MG_ARRAY_LEN(type_names); i++)
        if (!strcmp(t, type_names[i])) {
            *type = i;
            return MG_OK;
        }
    return MG_ERR;
}

int mg_al_channel_parse(const json_t *spec, const char *name, mg_al_channel *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->name = mg_xstrdup(name ? name : "");
    if (!json_is_object(spec) || parse_type(spec, &out->type) != MG_OK) {
        fail(err, errlen, "type", "must be webhook, slack, teams, discord, email or in_app");
        goto fail;
    }
    if (parse_limits(spec, out, err, errlen) != MG_OK)
        goto fail;
    if (out->type == MG_AL_CH_IN_APP)
        return MG_OK;
    if (opt_str(spec, "url", MAX_URL, &out->url, err, errlen) != MG_OK)
        goto fail;
    if (!out->url || !url_ok(out->url, out->type)) {
        fail(err, errlen, "url", out->type == MG_AL_CH_EMAIL ? "must be smtp://host:port or smtps://"
                                                            : "must be an http(s) URL");
        goto fail;
    }
    if (opt_str(spec, "secret", MAX_FIELD, &out->secret, err, errlen) != MG_OK ||
        parse_headers(spec, out, err, errlen) != MG_OK)
        goto fail;
    if (out->type != MG_AL_CH_EMAIL)
        return MG_OK;
    if (opt_str(spec, "from", 320, &out->from, err, errlen) != MG_OK ||
        opt_str(spec, "username", MAX_FIELD, &out->username, err, errlen) != MG_OK ||
        opt_str(spec, "password", MAX_FIELD, &out->password, err, errlen) != MG_OK ||
        parse_to(spec, out, err, errlen) != MG_OK)
        goto fail;
    if (!out->from || !strchr(out->from, '@')) {
        fail(err, errlen, "from", "must be an address");
        goto fail;
    }
    return MG_OK;
fail:
    mg_al_channel_clear(out);
    return MG_ERR;
}

json_t *mg_al_channel_masked(const json_t *spec)
{
    json_t *copy = json_deep_copy(spec);
    if (!json_is_object(copy))
        return copy;
    static const char *const secret_keys[] = {"secret", "password"};
    for (size_t i = 0; i < MG_ARRAY_LEN(secret_keys); i++)
        if (json_is_string(json_object_get(copy, secret_keys[i])))
            json_object_set_new(copy, secret_keys[i], json_string("***"));
    json_t *h = json_object_get(copy, "headers");
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v)
    {
        json_object_set_new(h, k, json_string("***"));
    }
    return copy;
}

void mg_al_sign(const char *secret, const char *body, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &maclen);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256=", 7);
    for (unsigned int i = 0; i < maclen; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[7 + 2 * maclen] = 0;
}
