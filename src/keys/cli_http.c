/* cli_http.c — how `moongate keys` reaches a running gateway: finding its
 * address and admin token (flags, environment, the config `serve` would
 * use, data/admin_token), and one synchronous admin call with libcurl's
 * easy interface (a CLI may block). Errors are sentences for a human. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"
#include "cli.h"

#define CONNECT_TIMEOUT_S 3L
#define TOTAL_TIMEOUT_S 15L
#define MAX_ANSWER_BYTES (16u << 20)

static int read_token_file(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return MG_ERR;
    size_t n = fread(out, 1, len - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    return n ? MG_OK : MG_ERR;
}

/* 0.0.0.0 and :: listen everywhere; the CLI talks to the loopback. */
static void url_for_listen(const char *host, int port, char *out, size_t len)
{
    if (!host || !*host || !strcmp(host, "0.0.0.0"))
        host = "127.0.0.1";
    if (!strcmp(host, "::"))
        host = "::1";
    snprintf(out, len, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, port);
}

int mg_keys_cli_target(mg_keys_cli *c, const char *home)
{
    int explicit_config = c->config_path != NULL;
    const char *env_url = getenv("MOONGATE_URL"), *env_token = getenv("MOONGATE_ADMIN_TOKEN");
    if (!c->url[0] && env_url && *env_url)
        snprintf(c->url, sizeof c->url, "%s", env_url);
    if (!c->token[0] && env_token && *env_token)
        snprintf(c->token, sizeof c->token, "%s", env_token);
    char token_file[1024] = "data/admin_token";
    if (!c->url[0] || !c->token[0]) {
        /* The config `moongate serve` would load here says where it
         * listens and where its token is. */
        char err[4096] = "";
        mg_config *cfg = mg_config_load(c->config_path, home, err, sizeof err);
        if (!cfg && explicit_config) {
            fprintf(stderr, "moongate keys: %s\n", err);
            return MG_ERR;
        }
        if (cfg) {
            if (!c->url[0])
                url_for_listen(cfg->listen_host, cfg->listen_port, c->url, sizeof c->url);
            if (!c->token[0] && cfg->admin_token)
                snprintf(c->token, sizeof c->token, "%s", cfg->admin_token);
            if (cfg->admin_token_file)
                snprintf(token_file, sizeof token_file, "%s", cfg->admin_token_file);
            mg_config_free(cfg);
        }
    }
    if (!c->url[0])
        snprintf(c->url, sizeof c->url, "http://127.0.0.1:8080");
    size_t n = strlen(c->url);
    while (n && c->url[n - 1] == '/')
        c->url[--n] = '\0';
    if (!c->token[0] && read_token_file(token_file, c->token, sizeof c->token) != MG_OK) {
        fprintf(stderr,
                "moongate keys: no admin token: pass --token, set MOONGATE_ADMIN_TOKEN, or run "
                "from the folder where `moongate serve` wrote %s\n",
                token_file);
        return MG_ERR;
    }
    return MG_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    mg_buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > MAX_ANSWER_BYTES)
        return 0; /* aborts the transfer */
    mg_buf_append(b, data, n);
    return n;
}

/* The message of an admin error answer, or the raw text. */
static void print_error(const mg_keys_cli *c, long status, mg_buf *answer)
{
    json_t *j = json_loadb(answer->data ? answer->data : "", answer->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (status == 401)
        fprintf(stderr,
                "moongate keys: the gateway at %s refused the admin token (%s); pass --token "
                "or run from the folder holding its data/admin_token\n",
                c->url, msg ? msg : "401");
    else
        fprintf(stderr, "moongate keys: %s (HTTP %ld)\n",
                msg ? msg : (answer->len ? mg_buf_cstr(answer) : "no answer"), status);
    json_decref(j);
}

int mg_keys_cli_call(const mg_keys_cli *c, const char *method, const char *path,
                     const char *body, json_t **answer)
{
    *answer = NULL;
    CURL *h = curl_easy_init();
    if (!h) {
        fprintf(stderr, "moongate keys: cannot start libcurl\n");
        return MG_ERR;
    }
    char url[1400], auth[600], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%s%s", c->url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    struct curl_slist *hdrs = curl_slist_append(NULL, auth);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    mg_buf got = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    int result = MG_ERR;
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
        fprintf(stderr, "moongate keys: no gateway at %s \xe2\x80\x94 start one with `moongate serve`\n",
                c->url);
    else if (rc != CURLE_OK)
        fprintf(stderr, "moongate keys: calling %s failed: %s\n", url,
                errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (status < 200 || status >= 300)
        print_error(c, status, &got);
    else if (!(*answer = json_loadb(got.data ? got.data : "", got.len, 0, NULL)))
        fprintf(stderr, "moongate keys: %s answered something that is not JSON; is it moongate?\n",
                c->url);
    else
        result = MG_OK;
    mg_buf_free(&got);
    return result;
}
