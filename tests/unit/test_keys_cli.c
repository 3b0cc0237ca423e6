/* test_keys_cli.c — `moongate keys` against a real HTTP admin endpoint: a
 * libev server thread answers /api/keys with mg_keys_admin behind a bearer
 * check, and the CLI runs in the test thread with stdout captured. Covers
 * create (secret printed once, usable at once), list (table, no secrets),
 * update, revoke (refused at once), rotate, --json, a wrong token, no
 * gateway listening, and usage errors. */
#include <ev.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "test_keys_util.h"

#define TOKEN "cli-test-admin-token-0123456789"

typedef struct server {
    struct ev_loop *loop;
    mg_http_server *srv;
    ev_async stop;
    pthread_t thread;
    int lfd, port;
    mg_keys *keys;
} server;

static void handle(mg_http_req *req, void *ud)
{
    server *s = ud;
    size_t n;
    const char *auth = mg_http_header(req, "authorization", &n);
    if (!auth || n != 7 + strlen(TOKEN) || memcmp(auth + 7, TOKEN, strlen(TOKEN)) != 0) {
        static const char body[] = "{\"error\":{\"message\":\"wrong admin token\",\"code\":401}}";
        mg_http_respond(req, 401, "application/json", NULL, body, sizeof body - 1);
        return;
    }
    if (strncmp(req->path, "/api/keys", 9) == 0) {
        mg_keys_admin(s->keys, req, req->path + 9);
        return;
    }
    mg_http_respond(req, 404, "application/json", NULL, "{}", 2);
}

static void on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
    MG_UNUSED(w);
    MG_UNUSED(revents);
    ev_break(loop, EVBREAK_ALL);
}

static void *server_main(void *arg)
{
    server *s = arg;
    ev_run(s->loop, 0);
    return NULL;
}

static void server_start(server *s, mg_keys *k)
{
    char err[MG_ERRLEN];
    memset(s, 0, sizeof *s);
    s->keys = k;
    s->loop = ev_loop_new(EVFLAG_AUTO);
    s->lfd = mg_http_listen("127.0.0.1", 0, &s->port, err);
    mg_http_limits lim;
    mg_http_limits_default(&lim);
    s->srv = mg_http_server_new(s->loop, s->lfd, NULL, &lim, handle, s);
    ev_async_init(&s->stop, on_stop);
    ev_async_start(s->loop, &s->stop);
    pthread_create(&s->thread, NULL, server_main, s);
}

static void server_stop(server *s)
{
    ev_async_send(s->loop, &s->stop);
    pthread_join(s->thread, NULL);
    mg_http_server_free(s->srv);
    ev_run(s->loop, EVRUN_NOWAIT);
    close(s->lfd);
    ev_loop_destroy(s->loop);
}

/* Runs the CLI with stdout and stderr captured into out (NUL-terminated). */
static int run_cli(char *out, size_t cap, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    for (; args[argc] && argc < 31; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    char path[] = "/tmp/mg-keys-cli-XXXXXX";
    int fd = mkstemp(path);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    int rc = mg_keys_cli_main(argc, argv, ".");
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    if (getenv("KEYS_CLI_ECHO")) /* to eyeball the output while developing */
        fprintf(stderr, "$ moongate %s %s\n%s[exit %d]\n", args[0], args[1] ? args[1] : "", out, rc);
    return rc;
}

/* The secret printed by create/rotate: the "  mg-..." line. */
static void secret_from(const char *out, char secret[64])
{
    const char *p = strstr(out, "\n  mg-");
    secret[0] = '\0';
    if (p)
        sscanf(p + 3, "%63s", secret);
}

static void test_cli_flow(void)
{
    mg_keys *k = test_keys_new(MG_AUTH_KEYS, NULL);
    server s;
    server_start(&s, k);
    char url[64], out[8192], secret[64], secret2[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);

    const char *create[] = {"keys", "create", "ci-bot", "--rpm", "100", "--budget-day", "$5",
                            "--models", "gpt-4o-mini, claude-*", "--user", "ann", "--url", url,
                            "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, create), 0);
    CHECK(strstr(out, "created key 'ci-bot'") != NULL);
    CHECK(strstr(out, "shown once") != NULL);
    secret_from(out, secret);
    CHECK_EQ_INT(strlen(secret), MG_KEYS_SECRET_LEN);
    mg_key_admission a;
    CHECK_EQ_INT(test_admit(k, secret, "claude-haiku", 0, 0, &a), MG_OK);
    CHECK_EQ_STR(a.user_id, "ann");
    mg_keys_release(k, &a.lease, 0.25, 10);

    const char *list[] = {"keys", "list", "--url", url, "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, list), 0);
    CHECK(strstr(out, "NAME") && strstr(out, "ci-bot") && strstr(out, "100 rpm"));
    CHECK(strstr(out, "$0.25/$5.00") != NULL);
    CHECK(strstr(out, secret) == NULL);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.9s", secret);
    CHECK(strstr(out, prefix) != NULL);

    const char *update[] = {"keys", "update", "ci-bot", "--rpm", "none", "--tpm", "5000",
                            "--url", url, "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, update), 0);
    CHECK(strstr(out, "limits:   5000 tpm") != NULL);

    const char *json[] = {"keys", "show", "ci-bot", "--json", "--url", url, "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, json), 0);
    json_t *j = json_loads(out, 0, NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "tpm")), 5000);
    json_decref(j);

    const char *rotate[] = {"keys", "rotate", "ci-bot", "--url", url, "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, rotate), 0);
    secret_from(out, secret2);
    CHECK(secret2[0] && strcmp(secret, secret2) != 0);
    CHECK_EQ_INT(test_admit(k, secret, "claude-haiku", 0, 0, &a), MG_ERR);
    CHECK_EQ_INT(test_admit(k, secret2, "claude-haiku", 0, 0, &a), MG_OK);
    mg_keys_release(k, &a.lease, 0, 0);

    const char *revoke[] = {"keys", "revoke", "ci-bot", "--url", url, "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, revoke), 0);
    CHECK(strstr(out, "revoked key 'ci-bot'") != NULL);
    CHECK_EQ_INT(test_admit(k, secret2, "claude-haiku", 0, 0, &a), MG_ERR);
    CHECK_EQ_INT(a.status, 401);

    /* The API's own messages come through. */
    const char *bad[] = {"keys", "create", "x", "--expires", "2001-01-01", "--url", url,
                         "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, bad), 1);
    CHECK(strstr(out, "expires_at: is in the past") != NULL);
    const char *missing[] = {"keys", "show", "nobody", "--url", url, "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, missing), 1);
    CHECK(strstr(out, "no key with id or name 'nobody'") != NULL);

    const char *wrong[] = {"keys", "list", "--url", url, "--token", "nope-nope-nope-nope", NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, wrong), 1);
    CHECK(strstr(out, "refused the admin token") != NULL);
    server_stop(&s);
    mg_keys_close(k);
}

static void test_cli_no_gateway(void)
{
    /* A port nobody listens on: bind one, close it. */
    char err[MG_ERRLEN];
    int port = 0, fd = mg_http_listen("127.0.0.1", 0, &port, err);
    close(fd);
    char url[64], out[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    const char *list[] = {"keys", "list", "--url", url, "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, list), 1);
    char want[128];
    snprintf(want, sizeof want, "no gateway at %s", url);
    CHECK(strstr(out, want) != NULL);
    CHECK(strstr(out, "start one with `moongate serve`") != NULL);
}

static void test_cli_usage(void)
{
    char out[4096];
    const char *none[] = {"keys", NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, none), 2);
    CHECK(strstr(out, "usage: moongate keys") != NULL);
    const char *unknown[] = {"keys", "explode", NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, unknown), 2);
    const char *no_target[] = {"keys", "revoke", "--token", TOKEN, NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, no_target), 2);
    CHECK(strstr(out, "which key?") != NULL);
    const char *bad_num[] = {"keys", "create", "x", "--rpm", "lots", NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, bad_num), 2);
    CHECK(strstr(out, "--rpm wants a whole number") != NULL);
    const char *nothing[] = {"keys", "update", "x", NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, nothing), 2);
    const char *unknown_opt[] = {"keys", "list", "--frobnicate", "1", NULL};
    CHECK_EQ_INT(run_cli(out, sizeof out, unknown_opt), 2);
    CHECK(strstr(out, "unknown option '--frobnicate'") != NULL);
}

TEST_MAIN(T(test_cli_flow), T(test_cli_no_gateway), T(test_cli_usage))
