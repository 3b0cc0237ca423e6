/* test_keys_util.h — helpers shared by the keys unit tests: a settable
 * clock, creating keys through the admin call, reading answers. */
#ifndef MG_TEST_KEYS_UTIL_H
#define MG_TEST_KEYS_UTIL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "test.h"

/* 2025-03-10T12:00:00Z: mid-day, mid-month. */
#define T0_MS 1741608000000LL

typedef struct test_clock {
    _Atomic int64_t ms;
} test_clock;

static inline int64_t test_clock_now(void *ud) { return atomic_load(&((test_clock *)ud)->ms); }

static inline mg_keys *test_keys_new(int auth_mode, test_clock *clock)
{
    mg_keys_opts o;
    mg_keys_opts_default(&o);
    o.auth_mode = auth_mode;
    char err[MG_ERRLEN] = "";
    mg_keys *k = mg_keys_open(&o, err);
    if (!k) {
        fprintf(stderr, "mg_keys_open: %s\n", err);
        abort();
    }
    if (clock)
        mg_keys_set_clock(k, test_clock_now, clock);
    return k;
}

/* POST /api/keys with body; fills secret and id; returns the status. */
static inline int test_create(mg_keys *k, const char *body, char secret[64], char id[40])
{
    mg_buf out = {0};
    int status = mg_keys_admin_call(k, "POST", "", body, strlen(body), &out);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    if (secret)
        snprintf(secret, 64, "%s", json_string_value(json_object_get(j, "secret")) ?: "");
    if (id)
        snprintf(id, 40, "%s",
                 json_string_value(json_object_get(json_object_get(j, "key"), "id")) ?: "");
    if (status != 201)
        fprintf(stderr, "create %s -> %d %.*s\n", body, status, (int)out.len, out.data);
    json_decref(j);
    mg_buf_free(&out);
    return status;
}

/* Any admin call; returns the status and the parsed answer (caller
 * decrefs). */
static inline int test_call(mg_keys *k, const char *method, const char *sub, const char *body,
                     json_t **answer)
{
    mg_buf out = {0};
    int status = mg_keys_admin_call(k, method, sub, body ? body : "", body ? strlen(body) : 0,
                                    &out);
    if (answer)
        *answer = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
    mg_buf_free(&out);
    return status;
}

static inline int test_admit(mg_keys *k, const char *secret, const char *model, long est_tokens,
                      double est_cost, mg_key_admission *adm)
{
    return mg_keys_admit(k, secret, secret ? strlen(secret) : 0, model, est_tokens, est_cost,
                         adm);
}

#endif
