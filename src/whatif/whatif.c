/* whatif.c — the replay engine of whatif.h: a private policy generation
 * built from a temporary folder holding the one policy file, a private
 * libev loop for hooks that wait, a read-only SQLite connection walking
 * the period's rows in time order, and per-model totals. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "../lua/host.h"
#include "whatif.h"

#define HOOK_WAIT_S 5.0    /* a hook that waits longer counts as an error */
#define MAX_POLICY_BYTES (1 << 20)
#define MAX_MODELS 1000    /* distinct recorded models tracked; the rest pool in "(other)" */
#define MAX_TARGETS 8      /* targets counted per model for top_target */

int mg_whatif_parse_since(const char *s, double *seconds)
{
    if (!s || !*s)
        return MG_ERR;
    char *end;
    double n = strtod(s, &end);
    if (end == s || !(n > 0))
        return MG_ERR;
    double unit = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60
                : !strcmp(end, "h") ? 3600 : !strcmp(end, "d") ? 86400
                : !strcmp(end, "w") ? 7 * 86400 : -1;
    if (unit < 0 || n * unit > 3650 * 86400.0)
        return MG_ERR;
    *seconds = n * unit;
    return MG_OK;
}

/* ---- the policy: a temporary folder with one file --------------------------- */

typedef struct tmp_policy {
    char dir[64];
    char file[128];
} tmp_policy;

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return MG_ERR;
    }
    mg_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= MAX_POLICY_BYTES)
        mg_buf_append(&b, chunk, n);
    fclose(f);
    if (b.len > MAX_POLICY_BYTES) {
        mg_buf_free(&b);
        snprintf(err, errlen, "%s is larger than 1 MiB", path);
        return MG_ERR;
    }
    *len = b.len;
    *out = mg_xstrndup(b.data ? b.data : "", b.len);
    mg_buf_free(&b);
    return MG_OK;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int make_policy(const mg_whatif_opts *o, tmp_policy *tp, char *err, size_t errlen)
{
    char *src = NULL;
    size_t len = 0;
    if (o->policy_path) {
        if (read_file(o->policy_path, &src, &len, err, errlen) != MG_OK)
            return MG_ERR;
    } else if (o->policy_src && o->policy_len <= MAX_POLICY_BYTES) {
        src = mg_xstrndup(o->policy_src, o->policy_len);
        len = o->policy_len;
    } else {
        snprintf(err, errlen, "no policy given (or larger than 1 MiB)");
        return MG_ERR;
    }
    snprintf(tp->dir, sizeof tp->dir, "/tmp/moongate-whatif-XXXXXX");
    if (!mkdtemp(tp->dir)) {
        snprintf(err, errlen, "cannot make a temporary folder: %s", strerror(errno));
        free(src);
        return MG_ERR;
    }
    const char *name = o->policy_path ? base_name(o->policy_path) : "policy.lua";
    size_t nlen = strlen(name);
    if (nlen < 5 || nlen > 60 || strcmp(name + nlen - 4, ".lua") != 0)
        name = "policy.lua";
    snprintf(tp->file, sizeof tp->file, "%s/%s", tp->dir, name);
    FILE *f = fopen(tp->file, "wb");
    int ok = f && fwrite(src, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    free(src);
    if (!ok) {
        snprintf(err, errlen, "cannot write %s", tp->file);
        unlink(tp->file);
        rmdir(tp->dir);
        return MG_ERR;
    }
    return MG_OK;
}

static void drop_policy(tmp_policy *tp)
{
    unlink(tp->file);
    rmdir(tp->dir);
}

/* ---- per-model totals ----------------------------------------------------------- */

typedef struct target_count {
    char *model;
    long n;
} target_count;

typedef struct model_acc {
    mg_whatif_model m;
    target_count targets[MAX_TARGETS];
    size_t ntargets;
} model_acc;

typedef struct totals {
    model_acc *models;
    size_t n, cap;
} totals;

static model_acc *acc_for(totals *t, const char *model)
{
    if (t->n >= MAX_MODELS)
        model = "(other)";
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->models[i].m.model, model))
            return &t->models[i];
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->models = mg_xrealloc(t->models, t->cap * sizeof *t->models);
    }
    model_acc *a = &t->models[t->n++];
    memset(a, 0, sizeof *a);
    a->m.model = mg_xstrdup(model);
    return a;
}

static void count_target(model_acc *a, const char *target)
{
    for (size_t i = 0; i < a->ntargets; i++)
        if (!strcmp(a->targets[i].model, target)) {
            a->targets[i].n++;
            return;
        }
    if (a->ntargets < MAX_TARGETS) {
        a->targets[a->ntargets].model = mg_xstrdup(target);
        a->targets[a->ntargets++].n = 1;
    }
}

static int by_old_cost(const void *x, const void *y)
{
    const mg_whatif_model *a = x, *b = y;
    return (a->old_cost < b->old_cost) - (a->old_cost > b->old_cost);
}

static void finish_totals(totals *t, mg_whatif_report *out)
{
    out->models = t->n ? mg_xcalloc(t->n, sizeof *out->models) : NULL;
    for (size_t i = 0; i < t->n; i++) {
        model_acc *a = &t->models[i];
        long best = 0;
        for (size_t k = 0; k < a->ntargets; k++) {
            if (a->targets[k].n > best) {
                best = a->targets[k].n;
                free(a->m.top_target);
                a->m.top_target = mg_xstrdup(a->targets[k].model);
            }
            free(a->targets[k].model);
        }
        out->models[out->nmodels++] = a->m;
    }
    free(t->models);
    if (out->nmodels)
        qsort(out->models, out->nmodels, sizeof *out->models, by_old_cost);
}

/* ---- one row ---------------------------------------------------------------------- */

typedef struct row {
    const char *id, *endpoint, *client_format, *model_requested, *model_routed;
    const char *key_id, *user_id, *environment, *session_id;
    int stream;
    long tokens_input, tokens_output, tokens_reasoning, cached_read, cache_write;
    double cost;
} row;

typedef struct wait_ctx {
    int done;
    int outcome;
    char *model;       /* new model (owned), NULL: none chosen */
    char msg[256];
} wait_ctx;

static void on_done(mg_lua_call *c, void *ud)
{
    wait_ctx *w = ud;
    w->done = 1;
    w->outcome = mg_lua_call_outcome(c);
    size_t n = 0;
    const mg_lua_target *t = w->outcome == MG_LUA_OK ? mg_lua_call_targets(c, &n) : NULL;
    if (n > 0 && t[0].model)
        w->model = mg_xstrdup(t[0].model);
    const char *m = mg_lua_call_message(c);
    if (m)
        snprintf(w->msg, sizeof w->msg, "%s", m);
    mg_lua_call_free(c);
}

static void on_wait_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(revents);
    MG_UNUSED(t);
    ev_break(loop, EVBREAK_ONE);
}

/* Run on_request + route for one row; fills w. */
static void route_row(mg_lua_gen *g, struct ev_loop *loop, const row *r, wait_ctx *w)
{
    mg_lua_req req = {
        .id = r->id, .method = "POST", .path = r->endpoint ? r->endpoint : "/v1/chat/completions",
        .query = "", .client_format = r->client_format, .model = r->model_requested,
        .stream = r->stream, .tokens_in_estimate = r->tokens_input, .key_id = r->key_id,
        .user_id = r->user_id, .session_id = r->session_id, .environment = r->environment,
    };
    mg_lua_call *c = mg_lua_call_route(g, &req, on_done, w);
    if (!c)
        return;
    ev_timer limit;
    ev_timer_init(&limit, on_wait_timeout, HOOK_WAIT_S, 0);
    ev_timer_start(loop, &limit);
    while (!w->done && ev_is_active(&limit))
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &limit);
    if (!w->done) {
        mg_lua_call_cancel(c);
        w->outcome = MG_LUA_ERROR;
        snprintf(w->msg, sizeof w->msg, "a hook waited longer than %.0f s", HOOK_WAIT_S);
    }
}

static double price_of(const mg_model_info *m, const row *r)
{
    long fresh = r->tokens_input - r->cached_read - r->cache_write;
    long plain_out = r->tokens_output - r->tokens_reasoning;
    double rp = m->price_reasoning > 0 ? m->price_reasoning : m->price_output;
    double cp = m->price_cached_read > 0 ? m->price_cached_read : m->price_input;
    double wp = m->price_cache_write > 0 ? m->price_cache_write : m->price_input;
    return ((double)(fresh > 0 ? fresh : 0) * m->price_input + (double)r->cached_read * cp +
            (double)r->cache_write * wp + (double)(plain_out > 0 ? plain_out : 0) * m->price_output +
            (double)r->tokens_reasoning * rp) / 1e6;
}

static void account(const mg_whatif_opts *o, totals *t, mg_whatif_report *rep, const row *r,
                    wait_ctx *w)
{
    const char *old = r->model_routed ? r->model_routed : r->model_requested;
    model_acc *a = acc_for(t, old);
    a->m.requests++;
    a->m.old_cost += r->cost;
    rep->requests++;
    rep->old_cost += r->cost;
    double new_cost = r->cost;
    if (w->outcome == MG_LUA_REFUSED) {
        rep->refused++;
    } else if (w->outcome == MG_LUA_ERROR) {
        if (!rep->errors++)
            snprintf(rep->first_error, sizeof rep->first_error, "%s", w->msg);
    } else {
        /* nil / no route: the gateway would send the asked-for model */
        const char *target = w->model ? w->model : r->model_requested;
        if (strcmp(target, old) != 0) {
            const mg_model_info *info = mg_config_model(o->cfg, target);
            a->m.moved++;
            rep->moved++;
            count_target(a, target);
            if (info)
                new_cost = price_of(info, r);
            else
                rep->unpriced++;
        }
    }
    a->m.new_cost += new_cost;
    rep->new_cost += new_cost;
}

/* ---- the walk ---------------------------------------------------------------------- */

static const char select_sql[] =
    "SELECT id, endpoint, client_format, model_requested, model_routed, key_id, user_id, "
    "environment, session_id, stream, tokens_input, tokens_output, tokens_reasoning, "
    "tokens_cached_read, tokens_cache_write, cost FROM requests "
    "WHERE ts_ms >= ?1 AND ts_ms <= ?2 AND model_requested IS NOT NULL ORDER BY ts_ms";

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static void read_row(sqlite3_stmt *st, row *r)
{
    r->id = col_text(st, 0);
    r->endpoint = col_text(st, 1);
    r->client_format = col_text(st, 2);
    r->model_requested = col_text(st, 3);
    r->model_routed = col_text(st, 4);
    r->key_id = col_text(st, 5);
    r->user_id = col_text(st, 6);
    r->environment = col_text(st, 7);
    r->session_id = col_text(st, 8);
    r->stream = sqlite3_column_int(st, 9);
    r->tokens_input = (long)sqlite3_column_int64(st, 10);
    r->tokens_output = (long)sqlite3_column_int64(st, 11);
    r->tokens_reasoning = (long)sqlite3_column_int64(st, 12);
    r->cached_read = (long)sqlite3_column_int64(st, 13);
    r->cache_write = (long)sqlite3_column_int64(st, 14);
    r->cost = sqlite3_column_double(st, 15);
}

static long count_rows(sqlite3 *db, int64_t from, int64_t to)
{
    sqlite3_stmt *st = NULL;
    long n = 0;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM requests WHERE ts_ms >= ?1 AND ts_ms <= ?2 "
                               "AND model_requested IS NOT NULL", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, from);
        sqlite3_bind_int64(st, 2, to);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = (long)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

static int walk(const mg_whatif_opts *o, sqlite3 *db, mg_lua_gen *g, struct ev_loop *loop,
                mg_whatif_report *rep, char *err, size_t errlen)
{
    long total = count_rows(db, rep->from_ms, rep->to_ms);
    if (o->max_rows > 0 && total > o->max_rows)
        total = o->max_rows;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, select_sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read requests: %s", sqlite3_errmsg(db));
        return MG_ERR;
    }
    sqlite3_bind_int64(st, 1, rep->from_ms);
    sqlite3_bind_int64(st, 2, rep->to_ms);
    totals t = {0};
    int rc = MG_OK, step;
    long done = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && (o->max_rows <= 0 || done < o->max_rows)) {
        row r;
        read_row(st, &r);
        wait_ctx w = {0};
        route_row(g, loop, &r, &w);
        account(o, &t, rep, &r, &w);
        free(w.model);
        done++;
        if (o->progress && (done % 500 == 0 || done == total) && o->progress(o->progress_ud, done, total)) {
            snprintf(err, errlen, "cancelled");
            rc = MG_ERR;
            break;
        }
    }
    if (rc == MG_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
        snprintf(err, errlen, "reading requests: %s", sqlite3_errmsg(db));
        rc = MG_ERR;
    }
    sqlite3_finalize(st);
    finish_totals(&t, rep);
    return rc;
}

int mg_whatif_run(const mg_whatif_opts *o, mg_whatif_report *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    double t0 = mg_now_mono();
    const char *db_path = o->db_path ? o->db_path : o->cfg->db;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", db_path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return MG_ERR;
    }
    sqlite3_busy_timeout(db, 5000);
    tmp_policy tp;
    if (make_policy(o, &tp, err, errlen) != MG_OK) {
        sqlite3_close(db);
        return MG_ERR;
    }
    mg_config view = *o->cfg; /* a shallow view: only `policies` differs, read during build */
    view.policies = tp.dir;
    mg_lua_gen *g = mg_lua_gen_build(&view, 0, err, errlen);
    drop_policy(&tp);
    if (!g) {
        sqlite3_close(db);
        return MG_ERR;
    }
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    mg_lua_gen_bind(g, loop, NULL);
    out->to_ms = o->now_ms ? o->now_ms : mg_now_wall_ms();
    out->from_ms = out->to_ms - (int64_t)(o->since_seconds * 1000.0);
    int rc = walk(o, db, g, loop, out, err, errlen);
    mg_lua_gen_release(g);
    ev_loop_destroy(loop);
    sqlite3_close(db);
    out->seconds = mg_now_mono() - t0;
    if (rc != MG_OK)
        mg_whatif_report_free(out);
    return rc;
}

void mg_whatif_report_free(mg_whatif_report *r)
{
    for (size_t i = 0; i < r->nmodels; i++) {
        free(r->models[i].model);
        free(r->models[i].top_target);
    }
    free(r->models);
    r->models = NULL;
    r->nmodels = 0;
}
