/* cli_standalone.c — `moongate crosstalk` without a running gateway: the
 * real gateway (mg_gateway_serve: same config, policies, pipeline and
 * database) runs on a thread of this process, listening on an ephemeral
 * 127.0.0.1 port, and the CLI talks to it exactly as it would to a
 * separate one. So there is one code path, and the dashboard of a gateway
 * started later on the same database shows the session.
 * The gateway takes SIGINT while it starts; from then on the CLI's own
 * handler (cli_follow.c) owns Ctrl-C, and the CLI ends the gateway with
 * SIGTERM, which the gateway handles as a graceful shutdown. The gateway's
 * log and access log (stderr) go to crosstalk-gateway.log next to the
 * database, so the terminal shows only the conversation.
 * Uses runtime/gateway.h, admin.h (the token file), net/http.h (a port). */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../admin/admin.h"
#include "../core/log.h"
#include "../runtime/gateway.h"
#include "cli.h"

#define START_TIMEOUT 20.0

struct ct_inproc {
    pthread_t thread;
    int saved_stderr;      /* the user's stderr while fd 2 is the log; -1 when not moved */
    char log_path[1200];
    mg_serve_opts opts;
    char listen[64];
    atomic_int done;
    int rc;
};

static void *serve_main(void *arg)
{
    struct ct_inproc *p = arg;
    p->rc = mg_gateway_serve(&p->opts);
    atomic_store(&p->done, 1);
    return NULL;
}

static void nap(double secs)
{
    struct timespec ts = {0, (long)(secs * 1e9)};
    nanosleep(&ts, NULL);
}

static int ensure_token(ct_cli *c, const mg_config *cfg, char *err, size_t errlen)
{
    if (cfg->admin_token) {
        snprintf(c->token, sizeof c->token, "%s", cfg->admin_token);
        return MG_OK;
    }
    int created = 0;
    char e[MG_ERRLEN] = "";
    if (mg_admin_token_load_or_create(cfg->admin_token_file, c->token, sizeof c->token, &created,
                                      e) != MG_OK) {
        snprintf(err, errlen, "%s", e);
        return MG_ERR;
    }
    return MG_OK;
}

/* fd 2 → <db folder>/crosstalk-gateway.log; c->err keeps the terminal. */
static void redirect_logs(ct_cli *c, struct ct_inproc *p, const mg_config *cfg)
{
    char path[1200];
    const char *slash = strrchr(cfg->db, '/');
    if (slash)
        snprintf(path, sizeof path, "%.*s", (int)(slash - cfg->db), cfg->db);
    else
        snprintf(path, sizeof path, ".");
    mkdir(path, 0700); /* the store creates deeper folders itself */
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/crosstalk-gateway.log");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int saved = fd >= 0 ? dup(2) : -1;
    FILE *term = saved >= 0 ? fdopen(saved, "w") : NULL;
    if (!term) {
        if (saved >= 0)
            close(saved);
        if (fd >= 0)
            close(fd);
        return;
    }
    setvbuf(term, NULL, _IONBF, 0);
    fflush(stderr);
    dup2(fd, 2);
    close(fd);
    p->saved_stderr = saved;
    snprintf(p->log_path, sizeof p->log_path, "%s", path);
    c->err = term;
    if (!c->json)
        fprintf(term, "moongate crosstalk: gateway log in %s\n", path);
}

static void restore_logs(ct_cli *c, struct ct_inproc *p)
{
    if (p->saved_stderr < 0)
        return;
    fflush(stderr);
    dup2(p->saved_stderr, 2);
    fclose(c->err); /* closes saved_stderr */
    c->err = stderr;
    p->saved_stderr = -1;
}

int ct_cli_standalone_start(ct_cli *c, const mg_config *cfg, char *err, size_t errlen)
{
    char e[MG_ERRLEN] = "";
    int port = 0;
    int fd = mg_http_listen("127.0.0.1", 0, &port, e);
    if (fd < 0) {
        snprintf(err, errlen, "no free local port: %s", e);
        return MG_ERR;
    }
    close(fd);
    if (ensure_token(c, cfg, err, errlen) != MG_OK)
        return MG_ERR;
    struct ct_inproc *p = mg_xcalloc(1, sizeof *p);
    p->saved_stderr = -1;
    redirect_logs(c, p, cfg);
    snprintf(p->listen, sizeof p->listen, "127.0.0.1:%d", port);
    p->opts.config_path = c->config_path;
    p->opts.listen = p->listen;
    if (pthread_create(&p->thread, NULL, serve_main, p) != 0) {
        restore_logs(c, p);
        free(p);
        snprintf(err, errlen, "cannot start the in-process gateway");
        return MG_ERR;
    }
    c->inproc = p;
    snprintf(c->url, sizeof c->url, "http://127.0.0.1:%d", port);
    char url[400];
    snprintf(url, sizeof url, "%s/healthz", c->url);
    for (double waited = 0; waited < START_TIMEOUT; waited += 0.05) {
        if (atomic_load(&p->done)) {
            snprintf(err, errlen, "the in-process gateway did not start; see %s",
                     p->log_path[0] ? p->log_path : "the messages above");
            return MG_ERR;
        }
        mg_buf out = {0};
        long status = ct_cli_request("GET", url, NULL, NULL, 1000, &out, e, sizeof e);
        mg_buf_free(&out);
        if (status == 200)
            return MG_OK;
        nap(0.05);
    }
    snprintf(err, errlen, "the in-process gateway did not answer within %.0fs", START_TIMEOUT);
    return MG_ERR;
}

void ct_cli_standalone_stop(ct_cli *c)
{
    struct ct_inproc *p = c->inproc;
    if (!p)
        return;
    if (!atomic_load(&p->done))
        kill(getpid(), SIGTERM); /* the gateway's graceful shutdown */
    pthread_join(p->thread, NULL);
    restore_logs(c, p);
    free(p);
    c->inproc = NULL;
}
