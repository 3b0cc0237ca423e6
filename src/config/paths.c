/* paths.c — which config file to load, and where the relative paths inside
 * it point. A user's config resolves db, policies, cert, key, access_log and
 * admin_token_file against its own folder, so `moongate serve -c
 * /etc/moongate/moongate.lua` works from any directory. The bundled demo
 * lives in the install tree, which may be read-only: its data files go to
 * the working directory and its policies come from <home>/policies. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg-t.h"

#define MG_CFG_DEFAULT_FILE "./moongate.lua"
#define MG_CFG_DEMO_FILE "examples/demo.lua"

char *mg_cfg_join(const char *dir, const char *rel)
{
    if (!dir || !dir[0] || rel[0] == '/')
        return mg_xstrdup(rel);
    size_t dlen = strlen(dir), rlen = strlen(rel);
    int slash = dir[dlen - 1] != '/';
    char *out = mg_xmalloc(dlen + (size_t)slash + rlen + 1);
    memcpy(out, dir, dlen);
    if (slash)
        out[dlen] = '/';
    memcpy(out + dlen + (size_t)slash, rel, rlen + 1);
    return out;
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

char *mg_cfg_pick_file(const char *path, const char *home, int *is_demo)
{
    char *demo = mg_cfg_join(home, MG_CFG_DEMO_FILE);
    char *chosen;
    if (path)
        chosen = mg_xstrdup(path);
    else if (is_regular_file(MG_CFG_DEFAULT_FILE))
        chosen = mg_xstrdup(MG_CFG_DEFAULT_FILE);
    else
        chosen = mg_xstrdup(demo);
    /* By identity, not by name: "-c examples/demo.lua" is the demo too. */
    *is_demo = same_file(chosen, demo);
    free(demo);
    return chosen;
}

/* Folder of file, "" for the working directory. Owned result. */
static char *folder_of(const char *file)
{
    const char *slash = strrchr(file, '/');
    if (!slash)
        return mg_xstrdup("");
    if (slash == file)
        return mg_xstrdup("/");
    size_t n = (size_t)(slash - file);
    if (n == 1 && file[0] == '.')
        return mg_xstrdup("");
    return mg_xstrndup(file, n);
}

static void resolve(char **slot, const char *dir)
{
    if (!*slot || !dir || !dir[0] || (*slot)[0] == '/')
        return;
    char *joined = mg_cfg_join(dir, *slot);
    free(*slot);
    *slot = joined;
}

/* SQLite names that are not files. */
static int db_is_special(const char *db)
{
    return strcmp(db, ":memory:") == 0 || strncmp(db, "file:", 5) == 0;
}

void mg_cfg_resolve_paths(mg_config *c)
{
    char *dir = c->is_demo ? mg_xstrdup("") : folder_of(c->path);
    if (c->db && !db_is_special(c->db))
        resolve(&c->db, dir);
    resolve(&c->policies, c->is_demo ? c->home : dir);
    resolve(&c->admin_token_file, dir);
    if (c->access_log && strcmp(c->access_log, "-") != 0)
        resolve(&c->access_log, dir);
    resolve(&c->tls_cert, dir);
    resolve(&c->tls_key, dir);
    free(dir);
}
