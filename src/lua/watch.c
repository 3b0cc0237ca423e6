/* watch.c — reload on file change (see watch.h): one inotify descriptor
 * on the control loop, a trailing-edge debounce timer, and a combined
 * SHA-256 of the policy files and the config file so that a save without
 * changes, or an editor's temporary files, do not reload. A watched folder
 * that disappears is watched again when it comes back (checked on each
 * debounce and every few seconds).
 * Uses libev, inotify, OpenSSL EVP and policy_files.c. */
#include "watch.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "../core/common.h"
#include "../core/log.h"
#include "policy_files.h"

#define WATCH_MASK                                                                         \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | \
     IN_MOVE_SELF)
#define RETRY_INTERVAL 5.0 /* seconds between attempts to re-watch a missing folder */

struct mg_lua_watch {
    struct ev_loop *loop;   /* borrowed */
    ev_io io;
    ev_timer debounce;
    ev_timer retry;
    int fd;
    int wd_policies, wd_config; /* -1 when not watched */
    char *policies_dir;     /* owned */
    char *config_path;      /* owned; NULL: none */
    char *config_dir;       /* owned */
    const char *config_name; /* into config_path */
    char last[65];          /* combined hash of what was last seen */
    double delay;
    void (*changed)(void *ud);
    void *ud;
};

static void hash_update_str(EVP_MD_CTX *ctx, const char *s)
{
    EVP_DigestUpdate(ctx, s, strlen(s) + 1);
}

static void combined_hash(mg_lua_watch *w, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    mg_policy_file *files;
    size_t n;
    char err[MG_ERRLEN];
    if (mg_policy_files_read(w->policies_dir, &files, &n, err, sizeof err) == MG_OK) {
        for (size_t i = 0; i < n; i++) {
            hash_update_str(ctx, files[i].name);
            hash_update_str(ctx, files[i].sha256);
        }
        mg_policy_files_free(files, n);
    } else {
        hash_update_str(ctx, err); /* a broken folder is a state too */
    }
    if (w->config_path) {
        char *data;
        size_t len;
        if (mg_policy_read_file(w->config_path, MG_POLICY_MAX_BYTES, &data, &len, err,
                                sizeof err) == MG_OK) {
            hash_update_str(ctx, "config");
            EVP_DigestUpdate(ctx, data, len);
            free(data);
        } else {
            hash_update_str(ctx, err);
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned int i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void add_watches(mg_lua_watch *w)
{
    if (w->wd_policies < 0)
        w->wd_policies = inotify_add_watch(w->fd, w->policies_dir, WATCH_MASK | IN_ONLYDIR);
    if (w->config_dir && w->wd_config < 0)
        w->wd_config = inotify_add_watch(w->fd, w->config_dir, WATCH_MASK | IN_ONLYDIR);
}

static int is_lua_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".lua") == 0 && name[0] != '.';
}

static int relevant(mg_lua_watch *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) /* events were lost: compare contents */
        return 1;
    if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (ev->wd == w->wd_policies)
            w->wd_policies = -1;
        if (ev->wd == w->wd_config)
            w->wd_config = -1;
        return 1;
    }
    const char *name = ev->len ? ev->name : "";
    if (ev->wd == w->wd_policies && is_lua_name(name))
        return 1;
    return ev->wd == w->wd_config && w->config_name && strcmp(name, w->config_name) == 0;
}

static void schedule(mg_lua_watch *w)
{
    ev_timer_stop(w->loop, &w->debounce);
    ev_timer_set(&w->debounce, w->delay, 0);
    ev_timer_start(w->loop, &w->debounce);
}

static void on_events(struct ev_loop *loop, ev_io *io, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_lua_watch *w = io->data;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int any = 0;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            any |= relevant(w, ev);
            p += sizeof *ev + ev->len;
        }
    }
    if (any)
        schedule(w);
}

static void on_settled(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_lua_watch *w = t->data;
    add_watches(w);
    char now[65];
    combined_hash(w, now);
    if (strcmp(now, w->last) == 0)
        return;
    memcpy(w->last, now, sizeof now);
    w->changed(w->ud);
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    MG_UNUSED(loop);
    MG_UNUSED(revents);
    mg_lua_watch *w = t->data;
    int missing = w->wd_policies < 0 || (w->config_dir && w->wd_config < 0);
    add_watches(w);
    if (missing && w->wd_policies >= 0 && (!w->config_dir || w->wd_config >= 0))
        schedule(w); /* it came back: compare contents */
}

static void split_config(mg_lua_watch *w, const char *config_path)
{
    w->config_path = mg_xstrdup(config_path);
    char *slash = strrchr(w->config_path, '/');
    if (!slash) {
        w->config_dir = mg_xstrdup(".");
        w->config_name = w->config_path;
    } else {
        w->config_dir = slash == w->config_path ? mg_xstrdup("/")
                                                : mg_xstrndup(w->config_path,
                                                              (size_t)(slash - w->config_path));
        w->config_name = slash + 1;
    }
}

mg_lua_watch *mg_lua_watch_start(struct ev_loop *loop, const char *policies_dir,
                                 const char *config_path, void (*changed)(void *ud), void *ud,
                                 char *err, size_t errlen)
{
    if (!policies_dir) {
        snprintf(err, errlen, "no policies folder configured");
        return NULL;
    }
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "inotify: %s", strerror(errno));
        return NULL;
    }
    mg_lua_watch *w = mg_xcalloc(1, sizeof *w);
    w->loop = loop;
    w->fd = fd;
    w->wd_policies = w->wd_config = -1;
    w->policies_dir = mg_xstrdup(policies_dir);
    if (config_path)
        split_config(w, config_path);
    w->delay = 0.1;
    w->changed = changed;
    w->ud = ud;
    add_watches(w);
    if (w->wd_policies < 0)
        mg_warn("watch: %s is not watched yet (%s); retrying", policies_dir, strerror(errno));
    combined_hash(w, w->last);
    ev_io_init(&w->io, on_events, fd, EV_READ);
    w->io.data = w;
    ev_io_start(loop, &w->io);
    ev_timer_init(&w->debounce, on_settled, 0, 0);
    w->debounce.data = w;
    ev_timer_init(&w->retry, on_retry, RETRY_INTERVAL, RETRY_INTERVAL);
    w->retry.data = w;
    ev_timer_start(loop, &w->retry);
    return w;
}

void mg_lua_watch_set_delay(mg_lua_watch *w, double seconds)
{
    w->delay = seconds >= 0 ? seconds : 0;
}

void mg_lua_watch_rehash(mg_lua_watch *w) { combined_hash(w, w->last); }

void mg_lua_watch_stop(mg_lua_watch *w)
{
    if (!w)
        return;
    ev_io_stop(w->loop, &w->io);
    ev_timer_stop(w->loop, &w->debounce);
    ev_timer_stop(w->loop, &w->retry);
    close(w->fd);
    free(w->policies_dir);
    free(w->config_path);
    free(w->config_dir);
    free(w);
}
