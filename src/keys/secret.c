/* secret.c — virtual key secrets: 256 random bits written as "mg-" + 43
 * base62 characters, and the SHA-256 that is all the gateway keeps of
 * them. Uses the OS random source (core) and OpenSSL's digest. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SECRET_BYTES 32
#define SECRET_DIGITS 43 /* ceil(256 / log2(62)) */

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Long division of a big-endian number by 62, in place; returns the
 * remainder. */
static unsigned divmod62(uint8_t *num, size_t n)
{
    unsigned rem = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned cur = rem * 256 + num[i];
        num[i] = (uint8_t)(cur / 62);
        rem = cur % 62;
    }
    return rem;
}

int mg_keys_secret_new(char out[MG_KEYS_SECRET_LEN + 1])
{
    uint8_t raw[SECRET_BYTES];
    if (mg_random_bytes(raw, sizeof raw) != MG_OK)
        return MG_ERR;
    memcpy(out, "mg-", 3);
    /* Digits come out least significant first; any fixed order is as
     * random, so no reversal is needed. */
    for (int i = 0; i < SECRET_DIGITS; i++)
        out[3 + i] = base62[divmod62(raw, sizeof raw)];
    out[3 + SECRET_DIGITS] = '\0';
    return MG_OK;
}

void mg_keys_hash(const char *s, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    if (EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) != 1)
        abort(); /* only fails when OpenSSL cannot allocate */
}

void mg_keys_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mg_keys_unhex(const char *hex, uint8_t *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return MG_ERR;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return MG_ERR;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return MG_OK;
}
