/* cfg-t.h — types and functions shared by the files of the config part
 * (not for use outside src/config/). The loader is split by job:
 *   errs.c     collects "file: key.path: problem" lines and redacts secrets;
 *   sandbox.c  the restricted LuaJIT state a config file is evaluated in;
 *   schema.c   the table of known keys, kinds, defaults and ranges;
 *   load.c     walks a Lua table against the schema and fills the structs;
 *   check.c    checks that span several keys (unique names, base_url);
 *   paths.c    which file to load and how relative paths resolve;
 *   models.c   model metadata lookups;
 *   config.c   mg_config_load and the public lookups. */
#ifndef MG_CFG_T_H
#define MG_CFG_T_H

#include <lua.h>

#include "../core/buf.h"
#include "config.h"

/* ---- errors (errs.c) ---------------------------------------------------- */

#define MG_CFG_MAX_ERRORS 50 /* lines kept; later ones are only counted */

/* Error lines for one load. Owns text and the secret copies. */
typedef struct mg_cfg_errs {
    mg_buf text;         /* newline-separated lines */
    int count;           /* lines reported, including those past the cap */
    const char *file;    /* file the next lines are about; borrowed */
    char **secrets;      /* values that must never appear in text */
    size_t nsecrets;
} mg_cfg_errs;

/* "<file>: <keypath>: <message>"; keypath NULL or "" gives "<file>: <message>". */
void mg_cfg_err(mg_cfg_errs *e, const char *keypath, const char *fmt, ...) MG_PRINTF(3, 4);
/* A line that is already complete (a Lua error with its own file:line). */
void mg_cfg_err_line(mg_cfg_errs *e, const char *line);
/* Remember a secret value so the final text replaces it with <redacted>. */
void mg_cfg_secret(mg_cfg_errs *e, const char *value, size_t len);
/* Redact, then copy into err (NUL-terminated, cut at errlen). */
void mg_cfg_errs_finish(mg_cfg_errs *e, char *err, size_t errlen);
void mg_cfg_errs_free(mg_cfg_errs *e);

/* A key path such as providers[2].timeouts.connect, built while walking. */
typedef struct mg_cfg_path {
    char s[256];
    size_t len;
} mg_cfg_path;

size_t mg_cfg_path_key(mg_cfg_path *p, const char *key, size_t keylen); /* returns mark */
size_t mg_cfg_path_index(mg_cfg_path *p, size_t index1);                /* "[n]" */
size_t mg_cfg_path_quoted(mg_cfg_path *p, const char *key, size_t keylen); /* ["k"] */
void mg_cfg_path_pop(mg_cfg_path *p, size_t mark);
/* Printable, bounded copy of a user string for messages ("..." if cut). */
void mg_cfg_printable(char *out, size_t outlen, const char *s, size_t n);

/* ---- sandbox (sandbox.c) ------------------------------------------------ */

/* One restricted LuaJIT state. Owns L; errs is borrowed (getenv records
 * secret-looking values there). */
typedef struct mg_cfg_vm {
    lua_State *L;
    size_t mem_used, mem_cap;
    double deadline;       /* monotonic seconds; the count hook checks it */
    mg_cfg_errs *errs;
    mg_buf unset_secrets;  /* names of unset *_KEY/TOKEN variables read */
} mg_cfg_vm;

int mg_cfg_vm_open(mg_cfg_vm *vm, mg_cfg_errs *errs);
/* Install the restricted globals. Raises Lua errors: call protected. */
void mg_cfg_vm_setup(mg_cfg_vm *vm);
/* Evaluate file; on MG_OK its single result is on top of the stack. On
 * MG_ERR the error is reported (as file:line: message) and nothing is
 * pushed. Sets errs->file = file for the errors that follow. Call from
 * inside a protected call. */
int mg_cfg_vm_run(mg_cfg_vm *vm, const char *file);
void mg_cfg_vm_close(mg_cfg_vm *vm);

/* ---- schema (schema.c) -------------------------------------------------- */

enum mg_cf_kind {
    MG_CF_STR,       /* char * */
    MG_CF_INT,       /* int */
    MG_CF_LONG,      /* long */
    MG_CF_SIZE,      /* size_t */
    MG_CF_NUM,       /* double */
    MG_CF_BOOL,      /* int 0/1 */
    MG_CF_ADDR,      /* "HOST:PORT": char * at off, int port at off2 */
    MG_CF_FORMAT,    /* provider format name: int enum mg_format */
    MG_CF_STR_LIST,  /* list of strings: char ** at off, size_t count at off2 */
    MG_CF_HEADERS,   /* { ["Name"] = "value" }: mg_kv * at off, size_t at off2 */
    MG_CF_TABLE,     /* nested record; its fields use the same base */
    MG_CF_PROVIDERS, /* list of provider records (mg_config.providers) */
    MG_CF_MODELS,    /* map of model name -> model record (mg_config.models) */
};

enum mg_cf_flag {
    MG_CFF_REQUIRED = 1 << 0,  /* must be present (in its table, if present) */
    MG_CFF_SECRET = 1 << 1,    /* never shown in errors */
    MG_CFF_FALSE_OFF = 1 << 2, /* string or false; false stores NULL */
    MG_CFF_NAME = 1 << 3,      /* [a-z0-9_.-]+, at most 64 chars */
    MG_CFF_URL = 1 << 4,       /* http:// or https:// with a host */
    MG_CFF_NONEMPTY = 1 << 5,  /* lists: at least one item */
};

typedef struct mg_cf_field {
    const char *name;
    enum mg_cf_kind kind;
    size_t off, off2;
    unsigned flags;
    double def_num;            /* default for numbers and booleans */
    const char *def_str;       /* default for strings/addresses; NULL: none */
    double min, max;           /* numbers: inclusive range; strings: min length */
    const char *choices;       /* strings: "a|b|c" */
    const struct mg_cf_field *sub; /* MG_CF_TABLE: its fields */
} mg_cf_field;

/* Field lists end with an entry whose name is NULL. */
extern const mg_cf_field mg_cf_config_fields[];   /* base: mg_config */
extern const mg_cf_field mg_cf_provider_fields[]; /* base: mg_provider_cfg */
extern const mg_cf_field mg_cf_model_fields[];    /* base: mg_model_info */

#define MG_CFG_MAX_STR 4096
#define MG_CFG_MAX_PROVIDERS 256
#define MG_CFG_MAX_LIST 4096
#define MG_CFG_MAX_HEADERS 64
#define MG_CFG_MAX_MODELS 10000

const mg_cf_field *mg_cf_find(const mg_cf_field *fields, const char *name, size_t len);
/* "a, b, c" into out. */
void mg_cf_known(const mg_cf_field *fields, mg_buf *out);
void mg_cf_defaults(const mg_cf_field *fields, void *base);
/* Parse "HOST:PORT" / "[v6]:PORT"; host owned by caller on MG_OK. */
int mg_cf_parse_addr(const char *s, char **host, int *port);

/* ---- walking Lua tables (load.c) ---------------------------------------- */

typedef struct mg_cfg_walk {
    lua_State *L;
    mg_cfg_errs *errs;
    mg_config *cfg;     /* being built; everything allocated hangs off it */
    mg_cfg_path path;
} mg_cfg_walk;

/* The table on top of the stack against fields, into base. Leaves the
 * stack as it found it. */
void mg_cfg_walk_record(mg_cfg_walk *w, const mg_cf_field *fields, void *base);
/* The table on top of the stack as model name -> record, merged into
 * w->cfg->models (fields not given keep their earlier values). */
void mg_cfg_walk_models(mg_cfg_walk *w);

/* ---- cross-key checks (check.c) and paths (paths.c) --------------------- */

void mg_cfg_check(mg_config *c, mg_cfg_errs *errs);

/* Which file to load: path, else ./moongate.lua, else the bundled demo.
 * Returns an owned string; *is_demo says whether it is the bundled demo. */
char *mg_cfg_pick_file(const char *path, const char *home, int *is_demo);
/* Resolve db, policies, cert, key, access_log, admin_token_file. */
void mg_cfg_resolve_paths(mg_config *c);
/* dir + "/" + rel, or rel itself when it is absolute or dir is "". */
char *mg_cfg_join(const char *dir, const char *rel);

/* ---- models (models.c) -------------------------------------------------- */

/* Index of the model named exactly name, or -1. */
long mg_cfg_model_index(const mg_config *c, const char *name, size_t len);
/* Append a zeroed model named name; returns its index. */
size_t mg_cfg_model_add(mg_config *c, const char *name, size_t len);

#endif
