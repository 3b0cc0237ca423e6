/* test_lua_http.c — mg.http.request against a small local HTTP server run
 * by the test (one thread per connection): a GET with response headers, a
 * POST of a JSON table, a timeout, a refused connection, the body limit, a
 * cancelled call (the transfer is aborted), and the places where a wait is
 * not allowed (a coroutine of the policy's own, a C function boundary). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lua/shared_dict.h"
#include "lua_test_util.h"
#include "test.h"
#include "upstream/upstream.h"

static int server_port;
static int closed_port;
static volatile int slow_closed; /* the server saw a slow client go away */

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    size_t got = 0;
    char *end = NULL;
    while (!end && got < sizeof buf - 1) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end) {
        close(fd);
        return NULL;
    }
    size_t clen = 0;
    const char *cl = strcasestr(buf, "content-length:");
    if (cl)
        clen = (size_t)atol(cl + 15);
    while (got < (size_t)(end + 4 - buf) + clen && got < sizeof buf - 1) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    char out[8192];
    if (strncmp(buf, "GET /ok ", 8) == 0) {
        const char *body = "{\"hello\":\"world\"}";
        snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  "X-Test: 1\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
        write(fd, out, strlen(out));
    } else if (strncmp(buf, "POST /echo ", 11) == 0) {
        const char *ct = strcasestr(buf, "content-type: application/json") ? "json" : "other";
        char body[4096];
        snprintf(body, sizeof body, "%s %s", ct, end + 4);
        snprintf(out, sizeof out, "HTTP/1.1 201 Created\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
        write(fd, out, strlen(out));
    } else if (strncmp(buf, "GET /big ", 9) == 0) {
        static char big[100000];
        memset(big, 'b', sizeof big);
        snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof big);
        write(fd, out, strlen(out));
        write(fd, big, sizeof big);
    } else if (strncmp(buf, "GET /slow ", 10) == 0) {
        char c;
        while (read(fd, &c, 1) > 0) /* until the client gives up */
            ;
        slow_closed = 1;
    } else {
        const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        write(fd, nf, strlen(nf));
    }
    close(fd);
    return NULL;
}

static void *server_main(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static int listen_any(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    listen(fd, 64);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static const char policy[] =
    "local base = mg.shared.dict('t_http'):get('base')\n"
    "local closed = mg.shared.dict('t_http'):get('closed')\n"
    "local cases = {}\n"
    "function cases.get()\n"
    "  local r = assert(mg.http.request{ url = base .. '/ok' })\n"
    "  return r.status .. ' ' .. r.headers['x-test'] .. ' ' .. mg.json.decode(r.body).hello\n"
    "end\n"
    "function cases.post()\n"
    "  local r = assert(mg.http.request{ url = base .. '/echo', body = { a = 1 } })\n"
    "  local r2 = assert(mg.http.request{ url = base .. '/missing' })\n"
    "  return r.status .. ' ' .. r.body .. ' ' .. r2.status\n"
    "end\n"
    "function cases.timeout()\n"
    "  local r, err = mg.http.request{ url = base .. '/slow', timeout = 0.2 }\n"
    "  return tostring(r) .. ' ' .. err\n"
    "end\n"
    "function cases.refused()\n"
    "  local r, err = mg.http.request{ url = closed .. '/x', timeout = 2 }\n"
    "  return tostring(r) .. ' ' .. err\n"
    "end\n"
    "function cases.big()\n"
    "  local r, err = mg.http.request{ url = base .. '/big', max_body = 1000 }\n"
    "  return tostring(r) .. ' ' .. err\n"
    "end\n"
    "function cases.cancel() mg.http.request{ url = base .. '/slow' } return 'no' end\n"
    "function cases.badurl() return mg.http.request{ url = 'file:///etc/passwd' } end\n"
    "function cases.own_co()\n"
    "  return coroutine.wrap(function() return mg.http.request{ url = base .. '/ok' } end)()\n"
    "end\n"
    "function cases.sort()\n"
    "  local t = { 2, 1 }\n"
    "  table.sort(t, function(a, b) mg.http.request{ url = base .. '/ok' } return a < b end)\n"
    "end\n"
    "return { route = function(req) return cases[req.model]() end }\n";

static void test_http(void)
{
    int lfd = listen_any();
    server_port = port_of(lfd);
    int cfd = listen_any(); /* bound, then closed: connections are refused */
    closed_port = port_of(cfd);
    close(cfd);
    pthread_t srv;
    pthread_create(&srv, NULL, server_main, (void *)(intptr_t)lfd);
    pthread_detach(srv);

    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", server_port);
    mg_shv v = {.type = MG_SHV_STR, .str = base, .len = strlen(base)};
    mg_shared_set("t_http", "base", &v, 0);
    char closed[64];
    snprintf(closed, sizeof closed, "http://127.0.0.1:%d", closed_port);
    mg_shv cv = {.type = MG_SHV_STR, .str = closed, .len = strlen(closed)};
    mg_shared_set("t_http", "closed", &cv, 0);

    lt_dir d;
    lt_dir_init(&d);
    lt_write(&d, "http.lua", policy);
    mg_lua_limits lim;
    mg_lua_limits_default(&lim);
    mg_lua_gen *g = lt_build(&d, &lim);
    CHECK(g != NULL);
    if (!g)
        return;
    mg_upstream *up = mg_upstream_new(lt_loop());
    mg_lua_gen_bind(g, lt_loop(), up);

    lt_result r;
    lt_route(g, "get", &r);
    CHECK(r.was_pending);
    CHECK_EQ_STR(r.n ? r.t[0].model : r.msg, "200 1 world");
    lt_route(g, "post", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : r.msg, "201 json {\"a\":1} 404");
    lt_route(g, "timeout", &r);
    CHECK(r.n && strncmp(r.t[0].model, "nil ", 4) == 0 && strstr(r.t[0].model, "timeout"));
    if (r.n)
        printf("  timeout -> %s\n", r.t[0].model);
    lt_route(g, "refused", &r);
    CHECK(r.n && strncmp(r.t[0].model, "nil connect", 11) == 0);
    if (r.n)
        printf("  refused -> %s\n", r.t[0].model);
    lt_route(g, "big", &r);
    CHECK_EQ_STR(r.n ? r.t[0].model : r.msg, "nil response body larger than 1000 bytes");

    slow_closed = 0;
    CHECK_EQ_INT(lt_route_cancel(g, "cancel"), 0);
    CHECK_EQ_INT(mg_upstream_active(up), 0);
    for (int i = 0; i < 100 && !slow_closed; i++)
        usleep(10000);
    CHECK(slow_closed); /* the transfer was aborted, the server saw the close */

    lt_route(g, "badurl", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    /* a tail call: no policy frame left to name, so the hook's file */
    CHECK(r.msg && strstr(r.msg, "policies/http.lua: route: mg.http.request: url must be"));
    lt_route(g, "own_co", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(r.msg && strstr(r.msg, "cannot wait inside a coroutine of your own"));
    lt_route(g, "sort", &r);
    CHECK_EQ_INT(r.outcome, MG_LUA_ERROR);
    CHECK(r.msg && strstr(r.msg, "called through a C function"));

    mg_lua_gen_release(g);
    mg_upstream_free(up);
    lt_dir_free(&d);
}

TEST_MAIN(T(test_http))
