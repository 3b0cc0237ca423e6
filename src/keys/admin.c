/* admin.c — /api/keys: list, create, show, patch, revoke, rotate. Each
 * call changes the in-memory table at once (the next admission sees it)
 * and queues the row for the writer thread; the answer never waits on the
 * disk. Secrets appear only in the answers to create and rotate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ID_MAX 128 /* a path segment: a 32-hex id or a (percent-encoded) name */

static int error(mg_buf *out, int status, const char *msg)
{
    mg_keys_error_json(out, status, NULL, "%s", msg);
    return status;
}

static int list_keys(mg_keys *k, mg_buf *out)
{
    int64_t now_ms = mg_keys_now_ms(k);
    mg_buf_printf(out, "{\"auth\":\"%s\",\"auth_required\":%s,\"keys\":[",
                  mg_keys_auth_name(atomic_load(&k->auth_mode)),
                  mg_keys_auth_mode(k) == MG_AUTH_KEYS ? "true" : "false");
    pthread_rwlock_rdlock(&k->table_lock);
    for (size_t i = 0; i < k->nkeys; i++) {
        if (i)
            mg_buf_append_str(out, ",");
        mg_keys_key_json(k, k->keys[i], now_ms, out);
    }
    pthread_rwlock_unlock(&k->table_lock);
    mg_buf_append_str(out, "]}");
    return 200;
}

/* The answer to create and rotate: the key plus its secret, once. */
static void secret_answer(mg_keys *k, struct mg_key *key, const char *secret, mg_buf *out)
{
    mg_buf_reset(out);
    mg_buf_append_str(out, "{\"key\":");
    mg_keys_key_json(k, key, mg_keys_now_ms(k), out);
    mg_buf_printf(out, ",\"secret\":\"%s\",\"note\":\"store the secret now: moongate keeps only "
                       "its hash and cannot show it again\"}",
                  secret);
}

static void apply_fields(struct mg_key *key, const mg_keys_fields *f)
{
    if (f->has_name)
        snprintf(key->name, sizeof key->name, "%s", f->name);
    if (f->has_user)
        snprintf(key->user_id, sizeof key->user_id, "%s", f->user_id);
    if (f->has_env)
        snprintf(key->environment, sizeof key->environment, "%s", f->environment);
    if (f->has_models)
        mg_keys_set_models(key, f->models, f->nmodels);
    if (f->has_rpm)
        key->rpm = f->rpm;
    if (f->has_tpm)
        key->tpm = f->tpm;
    if (f->has_conc)
        key->max_concurrency = f->max_concurrency;
    if (f->has_bday)
        key->budget_day = f->budget_day;
    if (f->has_bmonth)
        key->budget_month = f->budget_month;
    if (f->has_expires)
        key->expires_at = f->expires_at;
    if (f->has_metadata) {
        free(key->metadata);
        key->metadata = f->metadata ? mg_xstrdup(f->metadata) : NULL;
    }
}

static void set_secret(struct mg_key *key, const char *secret)
{
    mg_keys_hash(secret, strlen(secret), key->hash);
    snprintf(key->prefix, sizeof key->prefix, "%.*s", MG_KEYS_PREFIX_LEN, secret);
}

static int create_key(mg_keys *k, const char *body, size_t len, mg_buf *out)
{
    int64_t now_ms = mg_keys_now_ms(k);
    mg_keys_fields f;
    if (mg_keys_fields_parse(body, len, 1, now_ms, &f, out) != MG_OK) {
        mg_keys_fields_free(&f);
        return 400;
    }
    char secret[MG_KEYS_SECRET_LEN + 1];
    if (mg_keys_secret_new(secret) != MG_OK) {
        mg_keys_fields_free(&f);
        return error(out, 500, "cannot read the system's random source");
    }
    struct mg_key *key = mg_keys_key_new();
    mg_time_id(key->id);
    set_secret(key, secret);
    apply_fields(key, &f);
    key->created_at = key->updated_at = now_ms;
    mg_keys_spend_roll(&key->spend, now_ms);
    pthread_rwlock_wrlock(&k->table_lock);
    if (mg_keys_name_taken(k, key->name, NULL)) {
        pthread_rwlock_unlock(&k->table_lock);
        mg_keys_error_json(out, 409, "name", "name: an active key named '%s' exists already",
                           key->name);
        mg_keys_key_free(key);
        mg_keys_fields_free(&f);
        return 409;
    }
    mg_keys_table_add(k, key);
    atomic_fetch_add(&k->nactive, 1);
    pthread_mutex_lock(&key->lock);
    mg_keys_persist(k, key);
    pthread_mutex_unlock(&key->lock);
    pthread_rwlock_unlock(&k->table_lock);
    mg_keys_fields_free(&f);
    secret_answer(k, key, secret, out);
    memset(secret, 0, sizeof secret);
    return 201;
}

static int patch_key(mg_keys *k, struct mg_key *key, const char *body, size_t len, mg_buf *out)
{
    int64_t now_ms = mg_keys_now_ms(k);
    mg_keys_fields f;
    if (mg_keys_fields_parse(body, len, 0, now_ms, &f, out) != MG_OK) {
        mg_keys_fields_free(&f);
        return 400;
    }
    /* The write lock keeps a rename and a create from taking one name. */
    pthread_rwlock_wrlock(&k->table_lock);
    if (f.has_name && mg_keys_name_taken(k, f.name, key)) {
        pthread_rwlock_unlock(&k->table_lock);
        mg_keys_error_json(out, 409, "name", "name: an active key named '%s' exists already",
                           f.name);
        mg_keys_fields_free(&f);
        return 409;
    }
    pthread_mutex_lock(&key->lock);
    apply_fields(key, &f);
    key->updated_at = now_ms;
    mg_keys_persist(k, key);
    pthread_mutex_unlock(&key->lock);
    pthread_rwlock_unlock(&k->table_lock);
    mg_keys_fields_free(&f);
    mg_keys_key_json(k, key, now_ms, out);
    return 200;
}

static int revoke_key(mg_keys *k, struct mg_key *key, mg_buf *out)
{
    int64_t now_ms = mg_keys_now_ms(k);
    pthread_mutex_lock(&key->lock);
    if (!key->revoked_at) {
        key->revoked_at = key->updated_at = now_ms;
        atomic_fetch_sub(&k->nactive, 1);
        mg_keys_persist(k, key);
    }
    pthread_mutex_unlock(&key->lock);
    mg_keys_key_json(k, key, now_ms, out);
    return 200;
}

static int rotate_key(mg_keys *k, struct mg_key *key, mg_buf *out)
{
    char secret[MG_KEYS_SECRET_LEN + 1];
    if (mg_keys_secret_new(secret) != MG_OK)
        return error(out, 500, "cannot read the system's random source");
    pthread_rwlock_wrlock(&k->table_lock);
    pthread_mutex_lock(&key->lock);
    if (key->revoked_at) {
        pthread_mutex_unlock(&key->lock);
        pthread_rwlock_unlock(&k->table_lock);
        mg_keys_error_json(out, 409, NULL, "key '%s' is revoked: create a new key instead",
                           key->name);
        return 409;
    }
    set_secret(key, secret);
    key->updated_at = mg_keys_now_ms(k);
    mg_keys_persist(k, key);
    pthread_mutex_unlock(&key->lock);
    /* The map is keyed by hash: rebuild it so the old secret finds
     * nothing and the new one finds the key. */
    mg_keys_table_rehash(k);
    pthread_rwlock_unlock(&k->table_lock);
    secret_answer(k, key, secret, out);
    memset(secret, 0, sizeof secret);
    return 200;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Splits "/{id}[/{action}]" and percent-decodes id. MG_ERR if malformed. */
static int split_path(const char *sub, char id[ID_MAX + 1], char action[16])
{
    if (*sub != '/' || !sub[1])
        return MG_ERR;
    const char *seg = sub + 1, *slash = strchr(seg, '/');
    size_t seglen = slash ? (size_t)(slash - seg) : strlen(seg);
    size_t n = 0;
    for (size_t i = 0; i < seglen; i++) {
        int c = (unsigned char)seg[i];
        if (c == '%' && i + 2 < seglen && hexval(seg[i + 1]) >= 0 && hexval(seg[i + 2]) >= 0) {
            c = hexval(seg[i + 1]) * 16 + hexval(seg[i + 2]);
            i += 2;
        }
        if (c < 0x20 || n >= ID_MAX)
            return MG_ERR;
        id[n++] = (char)c;
    }
    id[n] = '\0';
    action[0] = '\0';
    if (slash && (strlen(slash + 1) >= 16 || strchr(slash + 1, '/')))
        return MG_ERR;
    if (slash)
        snprintf(action, 16, "%s", slash + 1);
    return n ? MG_OK : MG_ERR;
}

static int one_key(mg_keys *k, const char *method, const char *sub, const char *body,
                   size_t len, mg_buf *out)
{
    char id[ID_MAX + 1], action[16];
    if (split_path(sub, id, action) != MG_OK)
        return error(out, 404, "use /api/keys, /api/keys/{id}, /api/keys/{id}/revoke or "
                               "/api/keys/{id}/rotate");
    pthread_rwlock_rdlock(&k->table_lock);
    struct mg_key *key = mg_keys_find(k, id);
    pthread_rwlock_unlock(&k->table_lock);
    if (!key) {
        mg_keys_error_json(out, 404, NULL, "no key with id or name '%s'", id);
        return 404;
    }
    int post = strcmp(method, "POST") == 0;
    if (!action[0] && strcmp(method, "GET") == 0) {
        mg_keys_key_json(k, key, mg_keys_now_ms(k), out);
        return 200;
    }
    if (!action[0] && strcmp(method, "PATCH") == 0)
        return patch_key(k, key, body, len, out);
    if (!action[0] && strcmp(method, "DELETE") == 0)
        return error(out, 405, "keys are revoked, not deleted: POST /api/keys/{id}/revoke");
    if (strcmp(action, "revoke") == 0 && post)
        return revoke_key(k, key, out);
    if (strcmp(action, "rotate") == 0 && post)
        return rotate_key(k, key, out);
    if (!action[0] || !strcmp(action, "revoke") || !strcmp(action, "rotate"))
        return error(out, 405, action[0] ? "use POST" : "use GET or PATCH");
    return error(out, 404, "unknown key action: use revoke or rotate");
}

int mg_keys_admin_call(mg_keys *k, const char *method, const char *subpath, const char *body,
                       size_t body_len, mg_buf *out)
{
    if (!subpath[0] || strcmp(subpath, "/") == 0) {
        if (strcmp(method, "GET") == 0)
            return list_keys(k, out);
        if (strcmp(method, "POST") == 0)
            return create_key(k, body, body_len, out);
        return error(out, 405, "use GET (list) or POST (create)");
    }
    return one_key(k, method, subpath, body, body_len, out);
}

void mg_keys_admin(mg_keys *k, mg_http_req *req, const char *subpath)
{
    mg_buf out = {0};
    const char *body = req->body.data ? mg_buf_rptr(&req->body) : "";
    int status = mg_keys_admin_call(k, req->method, subpath, body, mg_buf_unread(&req->body),
                                    &out);
    mg_http_respond(req, status, "application/json", "Cache-Control: no-store\r\n",
                    out.data ? out.data : "", out.len);
    mg_buf_free(&out);
}
