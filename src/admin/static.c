/* static.c — in-memory static files for /dashboard/ (see static.h), with
 * content types, ETags (304 on If-None-Match) and cache headers: every
 * file is revalidated on each load (the URLs carry no version, so an
 * upgrade must never mix a new page with old modules); a 304 costs little. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "static.h"

#define MAX_TOTAL (16u << 20)
#define MAX_DEPTH 4

typedef struct static_file {
    char *path;   /* "/index.html" */
    char *data;
    size_t len;
    const char *type;
    char etag[24];
} static_file;

struct mg_static {
    static_file *files;
    size_t n, cap, total;
};

static const char *content_type(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"}, {".map", "application/json"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < MG_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static void add_file(mg_static *s, const char *rel, const char *full, size_t size)
{
    if (s->total + size > MAX_TOTAL)
        return;
    FILE *f = fopen(full, "rb");
    if (!f)
        return;
    char *data = mg_xmalloc(size + 1);
    size_t got = fread(data, 1, size, f);
    fclose(f);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 32;
        s->files = mg_xrealloc(s->files, s->cap * sizeof *s->files);
    }
    static_file *sf = &s->files[s->n++];
    sf->path = mg_xstrdup(rel);
    sf->data = data;
    sf->len = got;
    sf->type = content_type(rel);
    uint64_t h = 1469598103934665603ull; /* FNV-1a: an ETag, not security */
    for (size_t i = 0; i < got; i++)
        h = (h ^ (unsigned char)data[i]) * 1099511628211ull;
    snprintf(sf->etag, sizeof sf->etag, "\"%016llx\"", (unsigned long long)h);
    s->total += got;
}

static void walk(mg_static *s, const char *dir, const char *rel, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char full[1024], sub[512];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH)
            walk(s, full, sub, depth + 1);
        else if (S_ISREG(st.st_mode))
            add_file(s, sub, full, (size_t)st.st_size);
    }
    closedir(d);
}

mg_static *mg_static_load(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    mg_static *s = mg_xcalloc(1, sizeof *s);
    walk(s, dir, "", 0);
    return s;
}

void mg_static_free(mg_static *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].path);
        free(s->files[i].data);
    }
    free(s->files);
    free(s);
}

static const static_file *find(const mg_static *s, const char *path)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->files[i].path, path) == 0)
            return &s->files[i];
    return NULL;
}

void mg_static_serve(const mg_static *s, mg_http_req *req, const char *subpath)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        mg_http_respond(req, 405, "text/plain", "Allow: GET, HEAD\r\n", "method not allowed\n", 19);
        return;
    }
    const char *path = !*subpath || strcmp(subpath, "/") == 0 ? "/index.html" : subpath;
    const static_file *f = strstr(path, "..") ? NULL : find(s, path);
    if (!f) {
        static const char msg[] = "not found: the dashboard has no such file\n";
        mg_http_respond(req, 404, "text/plain; charset=utf-8", NULL, msg, sizeof msg - 1);
        return;
    }
    char hdrs[256];
    int html = strncmp(f->type, "text/html", 9) == 0;
    snprintf(hdrs, sizeof hdrs,
             "ETag: %s\r\nCache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n%s", f->etag,
             "no-cache",
             html ? "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
                    "style-src 'self' 'unsafe-inline'\r\nX-Frame-Options: DENY\r\n"
                  : "");
    size_t n;
    const char *inm = mg_http_header(req, "if-none-match", &n);
    if (inm && n == strlen(f->etag) && memcmp(inm, f->etag, n) == 0) {
        mg_http_respond(req, 304, f->type, hdrs, "", 0);
        return;
    }
    mg_http_respond(req, 200, f->type, hdrs, f->data, f->len);
}
