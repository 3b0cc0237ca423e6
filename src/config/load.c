/* load.c — walks the table a config file returned against the schema
 * (schema.c) and fills mg_config. Generic: it knows kinds, not keys. Every
 * problem is reported (never just the first) with its key path. Reads the
 * table only with raw accesses, so no metamethod of the file's runs here.
 * Every allocation is attached to the config under construction before the
 * next Lua call, so a Lua error midway leaks nothing. Uses LuaJIT. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "cfg-t.h"

static void *at(void *base, size_t off) { return (char *)base + off; }

static void fmt_num(char *out, size_t len, double d)
{
    if (isnan(d))
        snprintf(out, len, "nan");
    else if (d == floor(d) && fabs(d) < 1e15)
        snprintf(out, len, "%.0f", d);
    else
        snprintf(out, len, "%g", d);
}

static void type_error(mg_cfg_walk *w, const char *expected)
{
    mg_cfg_err(w->errs, w->path.s, "expected %s, got %s", expected, luaL_typename(w->L, -1));
}

/* Text rules shared by every string: length bounds and no control bytes
 * (a CR or LF in an api_key or header would split the upstream request). */
static int text_ok(mg_cfg_walk *w, const char *s, size_t len, size_t minlen, int secret,
                   int allow_tab)
{
    if (len < minlen) {
        if (minlen <= 1)
            mg_cfg_err(w->errs, w->path.s, "must not be empty");
        else
            mg_cfg_err(w->errs, w->path.s, "must be at least %zu characters (got %zu)", minlen,
                       len);
        return 0;
    }
    if (len > MG_CFG_MAX_STR) {
        mg_cfg_err(w->errs, w->path.s, "too long (%zu bytes, at most %d)", len, MG_CFG_MAX_STR);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && !(allow_tab && ch == '\t')) || ch == 0x7f) {
            mg_cfg_err(w->errs, w->path.s, "%scontains a control character or line break",
                       secret ? "value <redacted> " : "");
            return 0;
        }
    }
    return 1;
}

static int name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
              ch == '-'))
            return 0;
    }
    return 1;
}

static int url_ok(const char *s, size_t len)
{
    size_t skip = 0;
    if (len > 7 && strncmp(s, "http://", 7) == 0)
        skip = 7;
    else if (len > 8 && strncmp(s, "https://", 8) == 0)
        skip = 8;
    if (!skip || s[skip] == '/' || s[skip] == ':')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ' ')
            return 0;
    return 1;
}

static int choice_ok(const char *choices, const char *s, size_t len)
{
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && memcmp(p, s, n) == 0)
            return 1;
        p += n + (bar ? 1 : 0);
    }
    return 0;
}

static void choices_error(mg_cfg_walk *w, const char *choices, const char *s, size_t len)
{
    char list[256], shown[80];
    size_t o = 0;
    for (const char *p = choices; *p && o + 3 < sizeof list; p++) {
        if (*p == '|') {
            list[o++] = ',';
            list[o++] = ' ';
        } else {
            list[o++] = *p;
        }
    }
    list[o] = '\0';
    mg_cfg_printable(shown, sizeof shown, s, len);
    mg_cfg_err(w->errs, w->path.s, "expected one of %s (got '%s')", list, shown);
}

/* The string on top of the stack, checked against f; NULL if it is not
 * acceptable (the problem is reported). */
static const char *get_string(mg_cfg_walk *w, const mg_cf_field *f, size_t *len)
{
    lua_State *L = w->L;
    int secret = (f->flags & MG_CFF_SECRET) != 0;
    if (lua_type(L, -1) != LUA_TSTRING) {
        type_error(w, (f->flags & MG_CFF_FALSE_OFF) ? "string or false" : "string");
        return NULL;
    }
    const char *s = lua_tolstring(L, -1, len);
    if (secret)
        mg_cfg_secret(w->errs, s, *len);
    size_t minlen = f->min > 1 ? (size_t)f->min : 1;
    if (!text_ok(w, s, *len, minlen, secret, 0))
        return NULL;
    if (f->choices && !choice_ok(f->choices, s, *len)) {
        choices_error(w, f->choices, s, *len);
        return NULL;
    }
    char shown[80];
    if ((f->flags & MG_CFF_NAME) && !name_ok(s, *len)) {
        mg_cfg_printable(shown, sizeof shown, s, *len);
        mg_cfg_err(w->errs, w->path.s,
                   "'%s' is not a valid name (lowercase letters, digits, '_', '.', '-'; "
                   "at most 64)", shown);
        return NULL;
    }
    if ((f->flags & MG_CFF_URL) && !url_ok(s, *len)) {
        mg_cfg_err(w->errs, w->path.s, "must start with http:// or https:// and name a host");
        return NULL;
    }
    return s;
}

static int get_number(mg_cfg_walk *w, const mg_cf_field *f, int integral, double *out)
{
    lua_State *L = w->L;
    if (lua_type(L, -1) != LUA_TNUMBER) {
        type_error(w, integral ? "integer" : "number");
        return 0;
    }
    double d = lua_tonumber(L, -1);
    char got[40], lo[40], hi[40];
    fmt_num(got, sizeof got, d);
    if (!isfinite(d)) {
        mg_cfg_err(w->errs, w->path.s, "must be a finite number (got %s)", got);
        return 0;
    }
    if (integral && d != floor(d)) {
        mg_cfg_err(w->errs, w->path.s, "expected integer, got %s", got);
        return 0;
    }
    if (d < f->min || d > f->max) {
        fmt_num(lo, sizeof lo, f->min);
        fmt_num(hi, sizeof hi, f->max);
        mg_cfg_err(w->errs, w->path.s, "must be between %s and %s (got %s)", lo, hi, got);
        return 0;
    }
    *out = d;
    return 1;
}

static void set_str(void *base, size_t off, const char *s)
{
    char **slot = at(base, off);
    free(*slot);
    *slot = s ? mg_xstrdup(s) : NULL;
}

static void walk_scalar(mg_cfg_walk *w, const mg_cf_field *f, void *base)
{
    lua_State *L = w->L;
    size_t len;
    double d;
    const char *s;
    switch (f->kind) {
    case MG_CF_STR:
        if ((f->flags & MG_CFF_FALSE_OFF) && lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
            set_str(base, f->off, NULL);
        else if ((s = get_string(w, f, &len)))
            set_str(base, f->off, s);
        break;
    case MG_CF_INT:
        if (get_number(w, f, 1, &d))
            *(int *)at(base, f->off) = (int)d;
        break;
    case MG_CF_LONG:
        if (get_number(w, f, 1, &d))
            *(long *)at(base, f->off) = (long)d;
        break;
    case MG_CF_SIZE:
        if (get_number(w, f, 1, &d))
            *(size_t *)at(base, f->off) = (size_t)d;
        break;
    case MG_CF_NUM:
        if (get_number(w, f, 0, &d))
            *(double *)at(base, f->off) = d;
        break;
    case MG_CF_BOOL:
        if (lua_type(L, -1) == LUA_TBOOLEAN)
            *(int *)at(base, f->off) = lua_toboolean(L, -1);
        else
            type_error(w, "boolean");
        break;
    default:
        break;
    }
}

static void walk_addr(mg_cfg_walk *w, const mg_cf_field *f, void *base)
{
    size_t len;
    const char *s = get_string(w, f, &len);
    if (!s)
        return;
    char *host = NULL;
    int port = 0;
    if (mg_cf_parse_addr(s, &host, &port) != MG_OK) {
        char shown[80];
        mg_cfg_printable(shown, sizeof shown, s, len);
        mg_cfg_err(w->errs, w->path.s,
                   "invalid address '%s' (expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)",
                   shown);
        return;
    }
    char **slot = at(base, f->off);
    free(*slot);
    *slot = host;
    *(int *)at(base, f->off2) = port;
}

static void walk_format(mg_cfg_walk *w, const mg_cf_field *f, void *base)
{
    if (lua_type(w->L, -1) != LUA_TSTRING) {
        type_error(w, "string");
        return;
    }
    size_t len;
    const char *s = lua_tolstring(w->L, -1, &len);
    int fmt = strlen(s) == len ? mg_format_from_name(s) : MG_FMT_UNKNOWN;
    if (fmt == MG_FMT_UNKNOWN)
        choices_error(w, f->choices, s, len);
    else
        *(int *)at(base, f->off) = fmt;
}

/* A list is a table whose keys are exactly 1..n. Returns n, or -1 after
 * reporting why the value on top of the stack is not such a list. */
static long list_length(mg_cfg_walk *w, const char *what, size_t max)
{
    lua_State *L = w->L;
    if (lua_type(L, -1) != LUA_TTABLE) {
        mg_cfg_err(w->errs, w->path.s, "expected a list of %s, got %s", what,
                   luaL_typename(L, -1));
        return -1;
    }
    size_t count = 0;
    double top = 0;
    int bad = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        count++;
        double k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
        if (k >= 1 && k == floor(k) && k <= 1e9) {
            top = k > top ? k : top;
        } else if (!bad) {
            bad = 1;
            char shown[80] = "?";
            if (lua_type(L, -1) == LUA_TSTRING) {
                size_t n;
                const char *s = lua_tolstring(L, -1, &n);
                mg_cfg_printable(shown, sizeof shown, s, n);
            }
            mg_cfg_err(w->errs, w->path.s,
                       "expected a list { ..., ... } of %s, found key '%s' "
                       "(missing inner braces?)", what, shown);
        }
    }
    if (bad)
        return -1;
    if ((double)count != top) {
        mg_cfg_err(w->errs, w->path.s, "list has holes (nil items)");
        return -1;
    }
    if (count > max) {
        mg_cfg_err(w->errs, w->path.s, "too many items (%zu, at most %zu)", count, max);
        return -1;
    }
    return (long)count;
}

static void walk_str_list(mg_cfg_walk *w, const mg_cf_field *f, void *base)
{
    long n = list_length(w, "strings", MG_CFG_MAX_LIST);
    if (n < 0)
        return;
    if (n == 0 && (f->flags & MG_CFF_NONEMPTY)) {
        mg_cfg_err(w->errs, w->path.s, "must not be empty");
        return;
    }
    char ***items = at(base, f->off);
    size_t *count = at(base, f->off2);
    for (size_t i = 0; i < *count; i++)
        free((*items)[i]);
    free(*items);
    *items = mg_xcalloc((size_t)n, sizeof **items);
    *count = (size_t)n;
    for (long i = 0; i < n; i++) {
        lua_rawgeti(w->L, -1, (int)i + 1);
        size_t mark = mg_cfg_path_index(&w->path, (size_t)i + 1);
        size_t len;
        if (lua_type(w->L, -1) != LUA_TSTRING) {
            type_error(w, "string");
        } else {
            const char *s = lua_tolstring(w->L, -1, &len);
            if (text_ok(w, s, len, 1, 0, 0))
                (*items)[i] = mg_xstrndup(s, len);
        }
        mg_cfg_path_pop(&w->path, mark);
        lua_pop(w->L, 1);
    }
}

/* RFC 9110 token characters. */
static int header_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 128)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(ch > 0x20 && ch < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", ch)))
            return 0;
    }
    return 1;
}

/* Headers the upstream client sets itself; a second copy breaks framing. */
static int header_reserved(const char *s)
{
    static const char *const names[] = {"host", "content-length", "transfer-encoding",
                                        "connection", "upgrade", "te", "trailer"};
    for (size_t i = 0; i < MG_ARRAY_LEN(names); i++)
        if (strcasecmp(s, names[i]) == 0)
            return 1;
    return 0;
}

static int kv_cmp(const void *a, const void *b)
{
    return strcasecmp(((const mg_kv *)a)->name, ((const mg_kv *)b)->name);
}

static void add_header(mg_cfg_walk *w, mg_kv *kv, size_t *count)
{
    lua_State *L = w->L;
    size_t nlen, vlen;
    const char *name = lua_tolstring(L, -2, &nlen);
    size_t mark = mg_cfg_path_quoted(&w->path, name, nlen);
    if (lua_type(L, -1) != LUA_TSTRING) {
        type_error(w, "string");
        goto out;
    }
    const char *value = lua_tolstring(L, -1, &vlen);
    mg_cfg_secret(w->errs, value, vlen); /* Authorization and friends */
    if (!header_name_ok(name, nlen)) {
        mg_cfg_err(w->errs, w->path.s, "not a valid header name");
        goto out;
    }
    if (header_reserved(name)) {
        mg_cfg_err(w->errs, w->path.s, "set by the gateway itself; cannot be overridden");
        goto out;
    }
    for (size_t i = 0; i < *count; i++)
        if (strcasecmp(kv[i].name, name) == 0) {
            mg_cfg_err(w->errs, w->path.s, "given twice (header names ignore case)");
            goto out;
        }
    if (!text_ok(w, value, vlen, 0, 1, 1))
        goto out;
    kv[*count].name = mg_xstrndup(name, nlen);
    kv[*count].value = mg_xstrndup(value, vlen);
    (*count)++;
out:
    mg_cfg_path_pop(&w->path, mark);
}

static void walk_headers(mg_cfg_walk *w, const mg_cf_field *f, void *base)
{
    lua_State *L = w->L;
    if (lua_type(L, -1) != LUA_TTABLE) {
        type_error(w, "table of header name = value");
        return;
    }
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    if (n > MG_CFG_MAX_HEADERS) {
        mg_cfg_err(w->errs, w->path.s, "too many headers (%zu, at most %d)", n,
                   MG_CFG_MAX_HEADERS);
        return;
    }
    mg_kv **kv = at(base, f->off);
    size_t *count = at(base, f->off2);
    *kv = mg_xcalloc(n, sizeof **kv);
    *count = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING)
            add_header(w, *kv, count);
        else
            mg_cfg_err(w->errs, w->path.s, "header names must be strings, got %s",
                       luaL_typename(L, -2));
        lua_pop(L, 1);
    }
    qsort(*kv, *count, sizeof **kv, kv_cmp);
}

static void walk_providers(mg_cfg_walk *w)
{
    lua_State *L = w->L;
    long n = list_length(w, "provider tables", MG_CFG_MAX_PROVIDERS);
    if (n < 0)
        return;
    if (n == 0) {
        mg_cfg_err(w->errs, w->path.s, "at least one provider is required");
        return;
    }
    mg_config *c = w->cfg;
    c->providers = mg_xcalloc((size_t)n, sizeof *c->providers);
    c->nproviders = (size_t)n;
    for (long i = 0; i < n; i++) {
        mg_cf_defaults(mg_cf_provider_fields, &c->providers[i]);
        lua_rawgeti(L, -1, (int)i + 1);
        size_t mark = mg_cfg_path_index(&w->path, (size_t)i + 1);
        if (lua_type(L, -1) == LUA_TTABLE)
            mg_cfg_walk_record(w, mg_cf_provider_fields, &c->providers[i]);
        else
            type_error(w, "table");
        mg_cfg_path_pop(&w->path, mark);
        lua_pop(L, 1);
    }
}

static void walk_value(mg_cfg_walk *w, const mg_cf_field *f, void *base)
{
    switch (f->kind) {
    case MG_CF_ADDR:
        walk_addr(w, f, base);
        break;
    case MG_CF_FORMAT:
        walk_format(w, f, base);
        break;
    case MG_CF_STR_LIST:
        walk_str_list(w, f, base);
        break;
    case MG_CF_HEADERS:
        walk_headers(w, f, base);
        break;
    case MG_CF_TABLE:
        if (lua_type(w->L, -1) == LUA_TTABLE)
            mg_cfg_walk_record(w, f->sub, base);
        else
            type_error(w, "table");
        break;
    case MG_CF_PROVIDERS:
        walk_providers(w);
        break;
    case MG_CF_MODELS:
        mg_cfg_walk_models(w);
        break;
    default:
        walk_scalar(w, f, base);
        break;
    }
}

static void report_unknown_keys(mg_cfg_walk *w, const mg_cf_field *fields, int t)
{
    lua_State *L = w->L;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *key = lua_tolstring(L, -1, &len);
            if (mg_cf_find(fields, key, len))
                continue;
            size_t mark = mg_cfg_path_key(&w->path, key, len);
            mg_buf known = {0};
            mg_cf_known(fields, &known);
            mg_cfg_err(w->errs, w->path.s, "unknown key (known: %s)", mg_buf_cstr(&known));
            mg_buf_free(&known);
            mg_cfg_path_pop(&w->path, mark);
        } else if (lua_type(L, -1) == LUA_TNUMBER) {
            char num[40];
            fmt_num(num, sizeof num, lua_tonumber(L, -1));
            mg_cfg_err(w->errs, w->path.s, "unexpected list item [%s] (expected name = value)",
                       num);
        } else {
            mg_cfg_err(w->errs, w->path.s, "unexpected key of type %s", luaL_typename(L, -1));
        }
    }
}

void mg_cfg_walk_record(mg_cfg_walk *w, const mg_cf_field *fields, void *base)
{
    lua_State *L = w->L;
    luaL_checkstack(L, 8, "config nesting");
    int t = lua_gettop(L);
    for (const mg_cf_field *f = fields; f->name; f++) {
        lua_pushstring(L, f->name);
        lua_rawget(L, t);
        size_t mark = mg_cfg_path_key(&w->path, f->name, strlen(f->name));
        if (!lua_isnil(L, -1))
            walk_value(w, f, base);
        else if (f->flags & MG_CFF_REQUIRED)
            mg_cfg_err(w->errs, w->path.s, "required");
        mg_cfg_path_pop(&w->path, mark);
        lua_pop(L, 1);
    }
    report_unknown_keys(w, fields, t);
}

static int model_name_ok(mg_cfg_walk *w, const char *s, size_t len)
{
    if (len == 0 || len > 256 || strlen(s) != len) {
        mg_cfg_err(w->errs, w->path.s, "model names must be 1 to 256 characters");
        return 0;
    }
    return text_ok(w, s, len, 1, 0, 0);
}

void mg_cfg_walk_models(mg_cfg_walk *w)
{
    lua_State *L = w->L;
    if (lua_type(L, -1) != LUA_TTABLE) {
        type_error(w, "table of model name = { ... }");
        return;
    }
    mg_config *c = w->cfg;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            mg_cfg_err(w->errs, w->path.s, "model names must be strings, got %s",
                       luaL_typename(L, -2));
            lua_pop(L, 1);
            continue;
        }
        size_t len;
        const char *name = lua_tolstring(L, -2, &len);
        size_t mark = mg_cfg_path_quoted(&w->path, name, len);
        if (model_name_ok(w, name, len)) {
            long idx = mg_cfg_model_index(c, name, len);
            if (lua_type(L, -1) != LUA_TTABLE)
                type_error(w, "table");
            else if (idx < 0 && c->nmodels >= MG_CFG_MAX_MODELS)
                mg_cfg_err(w->errs, w->path.s, "too many models (at most %d)", MG_CFG_MAX_MODELS);
            else {
                if (idx < 0)
                    idx = (long)mg_cfg_model_add(c, name, len);
                mg_cfg_walk_record(w, mg_cf_model_fields, &c->models[idx]);
            }
        }
        mg_cfg_path_pop(&w->path, mark);
        lua_pop(L, 1);
    }
}
