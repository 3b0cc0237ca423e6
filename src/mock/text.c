/* text.c — the mock's deterministic text: a hash and a small PRNG, the word
 * source that writes "Mock reply to: <prompt>" and then words picked from a
 * fixed list, token estimates, UTF-8-safe cutting, and small JSON helpers
 * (collecting the text of message content, strings that survive bad UTF-8,
 * ids, base64). Uses jansson and core/buf. */
#include "mock_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

#define LEAD_PROMPT_BYTES 40

static const char *const words_list[] = {
    "the",     "model",   "gateway",  "routes",   "tokens",  "through", "a",        "quiet",
    "moon",    "light",   "stream",   "of",       "careful", "answers", "and",      "every",
    "request", "finds",   "its",      "way",      "across",  "bright",  "fields",   "where",
    "small",   "ideas",   "grow",     "into",     "clear",   "plans",   "with",     "patient",
    "steps",   "under",   "open",     "skies",    "while",   "signals", "travel",   "fast",
    "between", "distant", "servers",  "that",     "speak",   "in",      "measured", "turns",
    "so",      "each",    "reply",    "arrives",  "complete", "calm",   "simple",   "useful",
    "gentle",  "paths",   "lead",     "home",     "again",   "today",   "together", "forward",
};

uint64_t mg_mock_hash(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull ^ seed; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t mg_mock_rand(uint64_t *state)
{
    /* xorshift64*: tiny, and plenty for picking words. */
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

long mg_mock_tokens_of(size_t bytes)
{
    long t = (long)((bytes + 3) / 4);
    return t < 1 ? 1 : t;
}

size_t mg_mock_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    /* Back off continuation bytes so a character is never split. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

void mg_mock_words_init(mg_mock_words *w, const char *label, const char *prompt, uint64_t salt)
{
    size_t plen = strlen(prompt);
    size_t cut = mg_mock_utf8_cut(prompt, plen, LEAD_PROMPT_BYTES);
    mg_buf lead = {0};
    mg_buf_append_str(&lead, label);
    if (cut > 0)
        mg_buf_append(&lead, " ", 1);
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)prompt[i];
        char ch = c < 0x20 || c == 0x7f ? ' ' : (char)c; /* the lead stays one line */
        mg_buf_append(&lead, &ch, 1);
    }
    while (lead.len > 0 && lead.data[lead.len - 1] == ' ')
        lead.len--;
    if (cut > 0 && isalnum((unsigned char)lead.data[lead.len - 1]))
        mg_buf_append(&lead, ".", 1); /* the words after it start a sentence */
    memset(w, 0, sizeof *w);
    w->lead = mg_xstrdup(mg_buf_cstr(&lead));
    mg_buf_free(&lead);
    w->rng = mg_mock_hash(prompt, plen, salt);
    w->capital = 1;
}

void mg_mock_words_free(mg_mock_words *w)
{
    free(w->lead);
    w->lead = NULL;
}

/* Next word of the lead, with the spaces before it; 0 when the lead is used up. */
static int next_lead_word(mg_mock_words *w, mg_buf *out)
{
    const char *s = w->lead + w->lead_pos;
    if (*s == '\0')
        return 0;
    size_t n = 0;
    while (s[n] == ' ')
        n++;
    while (s[n] && s[n] != ' ')
        n++;
    if (w->count == 0)
        while (*s == ' ' && n > 0) /* the text never starts with a space */
            s++, n--, w->lead_pos++;
    mg_buf_append(out, s, n);
    w->lead_pos += n;
    return n > 0;
}

void mg_mock_words_next(mg_mock_words *w, mg_buf *out)
{
    if (next_lead_word(w, out)) {
        w->count++;
        if (w->lead[w->lead_pos] == '\0')
            w->capital = 1;
        return;
    }
    if (w->until_stop <= 0)
        w->until_stop = 6 + (int)(mg_mock_rand(&w->rng) % 9);
    const char *word = words_list[mg_mock_rand(&w->rng) % MG_ARRAY_LEN(words_list)];
    if (w->count > 0)
        mg_buf_append(out, " ", 1);
    size_t at = out->len;
    mg_buf_append_str(out, word);
    if (w->capital)
        out->data[at] = (char)toupper((unsigned char)out->data[at]);
    w->capital = 0;
    if (--w->until_stop == 0) {
        mg_buf_append(out, ".", 1);
        w->capital = 1;
    }
    w->count++;
}

/* Text of a message's content: a string, an array of parts, or a part with
 * "text" (or nested "content", as tool results have). */
void mg_mock_collect_text(const json_t *v, mg_buf *out, int depth)
{
    if (!v || depth > 8)
        return;
    if (json_is_string(v)) {
        if (out->len)
            mg_buf_append(out, "\n", 1);
        mg_buf_append(out, json_string_value(v), json_string_length(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) mg_mock_collect_text(item, out, depth + 1);
    } else if (json_is_object(v)) {
        mg_mock_collect_text(json_object_get(v, "text"), out, depth + 1);
        mg_mock_collect_text(json_object_get(v, "content"), out, depth + 1);
        mg_mock_collect_text(json_object_get(v, "parts"), out, depth + 1);
    }
}

int mg_mock_contains_ci(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

void mg_mock_ascii_fix(char *s, size_t n)
{
    json_t *probe = json_stringn(s, n);
    if (probe) {
        json_decref(probe);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80 || s[i] == '\0')
            s[i] = '?';
}

json_t *mg_mock_jstr(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    /* Not UTF-8 (a raw header or path, say): keep ASCII, mark the rest. */
    char *copy = mg_xstrndup(s, n);
    mg_mock_ascii_fix(copy, n);
    j = json_stringn(copy, n);
    free(copy);
    return j;
}

void mg_mock_hex(char out[MG_MOCK_HEX + 1])
{
    char id[33];
    mg_random_id(id);
    memcpy(out, id, MG_MOCK_HEX);
    out[MG_MOCK_HEX] = '\0';
}

char *mg_mock_base64(const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = mg_xmalloc((n + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}
