/* tls.c — TLS for the HTTP server with OpenSSL: the server context
 * (certificate chain, key, TLS >= 1.2, ALPN "http/1.1") and the
 * non-blocking handshake, read and write used by io.c on the connection's
 * own loop. A call that needs the other direction (SSL_read wanting to
 * write, SSL_write wanting to read) sets a flag that conn.c turns into the
 * right watcher. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../core/log.h"
#include "net.h"

static void ssl_error_text(char *out, size_t outlen)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, out, outlen);
    else
        snprintf(out, outlen, "%s", errno ? strerror(errno) : "unknown error");
    ERR_clear_error();
}

/* Offer only HTTP/1.1: a client that asks for h2 alone gets no ALPN and
 * falls back, instead of speaking a protocol this server does not. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    MG_UNUSED(ssl);
    MG_UNUSED(arg);
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

void *mg_tls_ctx_new(const char *cert_file, const char *key_file, char *err)
{
    char why[200];
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_error_text(why, sizeof why);
        snprintf(err, MG_ERRLEN, "TLS context: %s", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Partial writes and a moving buffer: the output buffer may grow
     * (realloc) between a blocked SSL_write and its retry. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    static const unsigned char sid_ctx[] = "moongate";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);

    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        ssl_error_text(why, sizeof why);
        snprintf(err, MG_ERRLEN, "TLS certificate %s: %s", cert_file, why);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        int mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        ssl_error_text(why, sizeof why);
        if (mismatch)
            snprintf(err, MG_ERRLEN, "TLS key %s does not match certificate %s", key_file,
                     cert_file);
        else
            snprintf(err, MG_ERRLEN, "TLS key %s: %s", key_file, why);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error_text(why, sizeof why);
        snprintf(err, MG_ERRLEN, "TLS key %s does not match certificate %s: %s", key_file,
                 cert_file, why);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void mg_tls_ctx_free(void *ctx) { SSL_CTX_free(ctx); }

/* OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when the
 * client has gone. This BIO is the socket BIO with send(MSG_NOSIGNAL)
 * instead, so the library never depends on how the process set SIGPIPE.
 * The method table is built once and never changes (shared by threads). */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *buf, int len)
{
    int fd = -1;
    BIO_get_fd(b, &fd);
    BIO_clear_retry_flags(b);
    ssize_t n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static void nosig_build(void)
{
    const BIO_METHOD *sock = BIO_s_socket();
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "moongate socket");
    if (!m)
        return;
    BIO_meth_set_write(m, nosig_write);
    BIO_meth_set_read(m, BIO_meth_get_read(sock));
    BIO_meth_set_puts(m, BIO_meth_get_puts(sock));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock));
    BIO_meth_set_create(m, BIO_meth_get_create(sock));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock));
    nosig_method = m;
}

static BIO *nosig_bio(int fd)
{
    pthread_once(&nosig_once, nosig_build);
    BIO *b = nosig_method ? BIO_new(nosig_method) : NULL;
    if (b)
        BIO_set_fd(b, fd, BIO_NOCLOSE);
    return b;
}

int mg_tls_conn_init(mg_conn *c, SSL_CTX *ctx)
{
    ERR_clear_error();
    c->ssl = SSL_new(ctx);
    BIO *bio = c->ssl ? nosig_bio(c->fd) : NULL;
    if (!bio) {
        char why[200];
        ssl_error_text(why, sizeof why);
        mg_warn("http: TLS setup for %s: %s", c->client_ip, why);
        return MG_ERR;
    }
    SSL_set_bio(c->ssl, bio, bio); /* the SSL owns the BIO from here */
    SSL_set_accept_state(c->ssl);
    return MG_OK;
}

/* Classify a failed SSL call: MG_AGAIN with the direction recorded in
 * *want_write, or MG_ERR (peer gone or protocol error). */
static int classify(mg_conn *c, int ret, int *want_write)
{
    int e = SSL_get_error(c->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want_write = 0;
        return MG_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want_write = 1;
        return MG_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return 0;
    default:
        if (mg_log_get_level() <= MG_LOG_DEBUG) {
            char why[200];
            ssl_error_text(why, sizeof why);
            mg_debug("http: TLS %s: %s", c->client_ip, why);
        }
        ERR_clear_error();
        return MG_ERR;
    }
}

int mg_tls_handshake(mg_conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->tls_hs_want_write = 0;
        return MG_OK;
    }
    int want_write = 0;
    int rc = classify(c, r, &want_write);
    if (rc == MG_AGAIN) {
        c->tls_hs_want_write = (unsigned)want_write;
        return MG_AGAIN;
    }
    return MG_ERR;
}

ssize_t mg_tls_recv(mg_conn *c, char *buf, size_t len)
{
    ERR_clear_error();
    int cap = len > 1 << 30 ? 1 << 30 : (int)len;
    int r = SSL_read(c->ssl, buf, cap);
    if (r > 0)
        return r;
    int want_write = 0;
    int rc = classify(c, r, &want_write);
    if (rc == MG_AGAIN)
        c->tls_rd_want_write = (unsigned)want_write;
    return rc;
}

ssize_t mg_tls_send(mg_conn *c, const char *buf, size_t len)
{
    ERR_clear_error();
    int cap = len > 1 << 30 ? 1 << 30 : (int)len;
    int r = SSL_write(c->ssl, buf, cap);
    if (r > 0)
        return r;
    int want_write = 1;
    int rc = classify(c, r, &want_write);
    if (rc == MG_AGAIN) {
        c->tls_wr_want_read = (unsigned)!want_write;
        return MG_AGAIN;
    }
    return MG_ERR; /* a close_notify while we write is a closed peer too */
}

int mg_tls_has_pending(const mg_conn *c) { return c->ssl && SSL_pending(c->ssl) > 0; }

void mg_tls_shutdown(mg_conn *c)
{
    if (!c->ssl)
        return;
    ERR_clear_error();
    SSL_shutdown(c->ssl);
    ERR_clear_error();
}

void mg_tls_conn_free(mg_conn *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
}
