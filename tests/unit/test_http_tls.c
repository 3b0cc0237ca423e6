/* test_http_tls.c — the HTTP server over TLS: a self-signed certificate
 * made here with the OpenSSL API, a TLS server on a libev loop, and a
 * non-blocking SSL client that verifies it. Covers keep-alive, pipelining,
 * large bodies both ways (partial writes, WANT_READ/WANT_WRITE), a slow
 * reader, client aborts, plain HTTP on the TLS port, and context errors. */
#include <fcntl.h>
#include <signal.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "test.h"
#include "test_http_util.h"
#include "net/net.h" /* the TLS BIO is checked directly */

static char cert_path[128], key_path[128], other_key_path[128];
static SSL_CTX *client_ctx;

typedef struct tstate {
    int requests, aborts, writables;
    mg_http_req *held;
    size_t big_total, big_target, body_len;
} tstate;
static tstate ts;

static void on_abort(mg_http_req *req)
{
    MG_UNUSED(req);
    ts.aborts++;
    ts.held = NULL;
}

static void big_pump(mg_http_req *req)
{
    static char block[10000];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)('a' + i % 26);
    while (ts.big_total < ts.big_target) {
        size_t n = MG_MIN(sizeof block, ts.big_target - ts.big_total);
        int rc = mg_http_write(req, block, n);
        if (rc == MG_ERR)
            return;
        ts.big_total += n;
        if (rc == MG_AGAIN)
            return;
    }
    mg_http_finish(req);
}

static void big_writable(mg_http_req *req)
{
    ts.writables++;
    big_pump(req);
}

static void handler(mg_http_req *req, void *ud)
{
    MG_UNUSED(ud);
    ts.requests++;
    ts.body_len = req->body.len;
    char extra[64];
    snprintf(extra, sizeof extra, "X-Seq: %llu\r\n", (unsigned long long)req->seq);
    if (strcmp(req->path, "/hello") == 0) {
        mg_http_respond(req, 200, "text/plain", extra, "hello tls", 9);
    } else if (strcmp(req->path, "/echo") == 0) {
        mg_http_respond(req, 200, "application/octet-stream", extra, req->body.data,
                        req->body.len);
    } else if (strcmp(req->path, "/big") == 0) {
        req->on_writable = big_writable;
        req->on_abort = on_abort;
        mg_http_begin(req, 200, "application/octet-stream", NULL);
        big_pump(req);
    } else if (strcmp(req->path, "/hang") == 0) {
        ts.held = req;
        req->on_abort = on_abort;
    } else {
        mg_http_respond(req, 404, "text/plain", extra, "nope", 4);
    }
}

/* ---- certificate ---- */

static int write_pem_key(const char *path, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    return ok ? 0 : -1;
}

static int make_cert(void)
{
    int rc = -1;
    snprintf(cert_path, sizeof cert_path, "/tmp/mg_test_tls_%d_cert.pem", (int)getpid());
    snprintf(key_path, sizeof key_path, "/tmp/mg_test_tls_%d_key.pem", (int)getpid());
    snprintf(other_key_path, sizeof other_key_path, "/tmp/mg_test_tls_%d_other.pem",
             (int)getpid());
    EVP_PKEY *key = EVP_EC_gen("P-256");
    EVP_PKEY *other = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !other || !x)
        goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    if (!X509_sign(x, key, EVP_sha256()))
        goto out;
    FILE *f = fopen(cert_path, "w");
    if (!f)
        goto out;
    int ok = PEM_write_X509(f, x);
    fclose(f);
    if (!ok || write_pem_key(key_path, key) != 0 || write_pem_key(other_key_path, other) != 0)
        goto out;
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    return rc;
}

/* ---- TLS client ---- */

static int tls_connect(fx *f, client *c, int rcvbuf)
{
    if (cl_connect(f, c, rcvbuf) != 0)
        return -1;
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->ssl = SSL_new(client_ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    SSL_set1_host(c->ssl, "localhost");
    double end = mg_now_mono() + 5;
    while (mg_now_mono() < end) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            ERR_print_errors_fp(stderr);
            return -1;
        }
        fx_pump(f, 0.0005);
    }
    return -1;
}

static void setup_client_ctx(void)
{
    client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_load_verify_locations(client_ctx, cert_path, NULL);
    SSL_CTX_set_options(client_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    SSL_CTX_set_alpn_protos(client_ctx, alpn, sizeof alpn - 1);
}

static void *server_ctx(void)
{
    char err[MG_ERRLEN];
    void *ctx = mg_tls_ctx_new(cert_path, key_path, err);
    if (!ctx)
        fprintf(stderr, "mg_tls_ctx_new: %s\n", err);
    return ctx;
}

/* ---- tests ---- */

static void test_tls_keepalive_and_pipeline(void)
{
    fx f;
    client c;
    resp r;
    memset(&ts, 0, sizeof ts);
    void *ctx = server_ctx();
    CHECK(ctx != NULL);
    CHECK(fx_start(&f, NULL, handler, NULL, ctx) == 0);
    CHECK(tls_connect(&f, &c, 0) == 0);
    const unsigned char *proto = NULL;
    unsigned int plen = 0;
    SSL_get0_alpn_selected(c.ssl, &proto, &plen);
    CHECK(plen == 8 && memcmp(proto, "http/1.1", 8) == 0);
    for (int i = 0; i < 2; i++) {
        cl_sends(&c, "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
        CHECK(cl_response(&c, &r, 3));
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_STR(r.body.data, "hello tls");
        resp_free(&r);
    }
    cl_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                 "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    int want[] = {200, 200, 404};
    for (int i = 0; i < 3; i++) {
        CHECK(cl_response(&c, &r, 3));
        CHECK_EQ_INT(r.status, want[i]);
        if (i == 1)
            CHECK_EQ_STR(r.body.data, "abc");
        resp_free(&r);
    }
    CHECK_EQ_INT(ts.requests, 5);
    cl_close(&c);
    fx_pump(&f, 0.02);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
    fx_stop(&f);
    mg_tls_ctx_free(ctx);
}

static void test_tls_large_bodies(void)
{
    fx f;
    client c;
    resp r;
    mg_http_limits lim;
    memset(&ts, 0, sizeof ts);
    void *ctx = server_ctx();
    fx_limits(&lim);
    lim.out_high_watermark = 64 * 1024;
    lim.out_low_watermark = 16 * 1024;
    CHECK(fx_start(&f, &lim, handler, NULL, ctx) == 0);
    CHECK(tls_connect(&f, &c, 4096) == 0);

    /* 1 MiB up. */
    size_t up = 1024 * 1024;
    mg_buf req = {0};
    mg_buf_printf(&req, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", up);
    for (size_t i = 0; i < up; i++) {
        char ch = (char)('0' + i % 10);
        mg_buf_append(&req, &ch, 1);
    }
    CHECK(cl_send(&c, req.data, req.len) == 0);
    CHECK(cl_response(&c, &r, 10));
    CHECK_EQ_INT(ts.body_len, up);
    CHECK_EQ_INT(r.body.len, up);
    CHECK(r.body.len == up && memcmp(r.body.data, req.data + req.len - up, up) == 0);
    resp_free(&r);
    mg_buf_free(&req);

    /* 8 MiB down to a slow reader: backpressure through SSL_write. */
    ts.big_target = 8 * 1024 * 1024;
    cl_sends(&c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_pump(&f, 0.1);
    CHECK(ts.big_total < ts.big_target);
    CHECK(cl_response(&c, &r, 20));
    CHECK_EQ_INT(r.body.len, ts.big_target);
    int pattern_ok = 1;
    for (size_t i = 0; i < r.body.len && pattern_ok; i++)
        pattern_ok = r.body.data[i] == (char)('a' + (i % 10000) % 26);
    CHECK(pattern_ok);
    CHECK(ts.writables >= 1);
    resp_free(&r);
    cl_close(&c);
    fx_stop(&f);
    mg_tls_ctx_free(ctx);
}

static void test_tls_abort_and_plain_client(void)
{
    fx f;
    client c;
    memset(&ts, 0, sizeof ts);
    void *ctx = server_ctx();
    CHECK(fx_start(&f, NULL, handler, NULL, ctx) == 0);
    CHECK(tls_connect(&f, &c, 0) == 0);
    cl_sends(&c, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_pump(&f, 0.02);
    CHECK(ts.held != NULL);
    cl_close(&c);
    fx_pump(&f, 0.05);
    CHECK_EQ_INT(ts.aborts, 1);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);

    /* Plain HTTP on the TLS port: the handshake fails, the socket closes. */
    cl_connect(&f, &c, 0);
    cl_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(cl_wait_closed(&c, 2));
    CHECK(c.raw.data == NULL || strstr(c.raw.data, "hello tls") == NULL);
    cl_close(&c);
    fx_pump(&f, 0.02);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
    CHECK_EQ_INT(ts.requests, 1);
    fx_stop(&f);
    mg_tls_ctx_free(ctx);
}

/* A client that resets mid-response is aborted cleanly. */
static void test_tls_client_reset(void)
{
    fx f;
    client c;
    mg_http_limits lim;
    memset(&ts, 0, sizeof ts);
    void *ctx = server_ctx();
    fx_limits(&lim);
    lim.out_high_watermark = 32 * 1024;
    lim.out_low_watermark = 8 * 1024;
    CHECK(fx_start(&f, &lim, handler, NULL, ctx) == 0);
    CHECK(tls_connect(&f, &c, 4096) == 0);
    ts.big_target = 64 * 1024 * 1024;
    cl_sends(&c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_pump(&f, 0.05);
    struct linger lg = {1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    SSL_free(c.ssl);
    c.ssl = NULL; /* no close_notify: the client just vanishes */
    cl_close(&c);
    fx_pump(&f, 0.1);
    CHECK_EQ_INT(ts.aborts, 1);
    CHECK_EQ_INT(mg_http_server_conns(f.srv), 0);
    fx_stop(&f);
    mg_tls_ctx_free(ctx);
}

/* The server's TLS BIO writes with MSG_NOSIGNAL: writing to a socket whose
 * peer is gone returns an error instead of killing the process, whatever
 * the process did with SIGPIPE (here: the default action, which kills). */
static void test_tls_bio_no_sigpipe(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    close(sv[1]);
    void *ctx = server_ctx();
    mg_conn *c = mg_xcalloc(1, sizeof *c);
    c->fd = sv[0];
    snprintf(c->client_ip, sizeof c->client_ip, "test");
    CHECK(mg_tls_conn_init(c, ctx) == MG_OK);
    signal(SIGPIPE, SIG_DFL);
    int w = BIO_write(SSL_get_wbio(c->ssl), "x", 1);
    signal(SIGPIPE, SIG_IGN);
    CHECK(w <= 0);
    mg_tls_conn_free(c);
    free(c);
    close(sv[0]);
    mg_tls_ctx_free(ctx);
}

static void test_tls_ctx_errors(void)
{
    char err[MG_ERRLEN] = "";
    void *ctx = mg_tls_ctx_new("/nonexistent/cert.pem", key_path, err);
    CHECK(ctx == NULL);
    CHECK(strstr(err, "/nonexistent/cert.pem") != NULL);
    err[0] = '\0';
    ctx = mg_tls_ctx_new(cert_path, "/nonexistent/key.pem", err);
    CHECK(ctx == NULL);
    CHECK(strstr(err, "/nonexistent/key.pem") != NULL);
    err[0] = '\0';
    ctx = mg_tls_ctx_new(cert_path, other_key_path, err);
    CHECK(ctx == NULL);
    CHECK(strstr(err, "does not match") != NULL);
    ctx = mg_tls_ctx_new(cert_path, key_path, err);
    CHECK(ctx != NULL);
    mg_tls_ctx_free(ctx);
}

static void test_setup(void)
{
    /* Only the test's client needs this: its SSL_write uses OpenSSL's
     * plain socket BIO. The server's BIO sends with MSG_NOSIGNAL. */
    signal(SIGPIPE, SIG_IGN);
    CHECK(make_cert() == 0);
    setup_client_ctx();
}

static void test_teardown(void)
{
    SSL_CTX_free(client_ctx);
    unlink(cert_path);
    unlink(key_path);
    unlink(other_key_path);
}

TEST_MAIN(T(test_setup), T(test_tls_keepalive_and_pipeline), T(test_tls_large_bodies),
          T(test_tls_abort_and_plain_client), T(test_tls_client_reset),
          T(test_tls_bio_no_sigpipe), T(test_tls_ctx_errors), T(test_teardown))
