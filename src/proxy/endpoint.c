/* endpoint.c — which API an inbound path speaks (parse stage, part 1). */
#include <string.h>

#include "proxy.h"

static int starts_with(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return 0;
    *rest = s + n;
    return 1;
}

static void parse_gemini(const char *rest, mg_px_endpoint *out)
{
    /* rest is "{model}:generateContent" or "{model}:streamGenerateContent" */
    const char *colon = strrchr(rest, ':');
    if (!colon || colon == rest || (size_t)(colon - rest) >= sizeof out->model)
        return;
    if (strcmp(colon + 1, "generateContent") == 0)
        out->kind = MG_PX_GEMINI;
    else if (strcmp(colon + 1, "streamGenerateContent") == 0)
        out->kind = MG_PX_GEMINI_STREAM;
    else
        return;
    memcpy(out->model, rest, (size_t)(colon - rest));
    out->model[colon - rest] = '\0';
    out->format = MG_FMT_GEMINI;
}

void mg_px_endpoint_parse(const char *method, const char *path, mg_px_endpoint *out)
{
    memset(out, 0, sizeof *out);
    const char *rest;
    int post = strcmp(method, "POST") == 0;
    if (strcmp(method, "GET") == 0 && strcmp(path, "/v1/models") == 0) {
        out->kind = MG_PX_MODELS;
        out->format = MG_FMT_OPENAI;
    } else if (!post) {
        return;
    } else if (strcmp(path, "/v1/chat/completions") == 0) {
        out->kind = MG_PX_CHAT;
        out->format = MG_FMT_OPENAI;
    } else if (strcmp(path, "/v1/embeddings") == 0) {
        out->kind = MG_PX_EMBEDDINGS;
        out->format = MG_FMT_OPENAI;
    } else if (strcmp(path, "/v1/messages") == 0) {
        out->kind = MG_PX_MESSAGES;
        out->format = MG_FMT_ANTHROPIC;
    } else if (strcmp(path, "/v1/messages/count_tokens") == 0) {
        out->kind = MG_PX_COUNT_TOKENS;
        out->format = MG_FMT_ANTHROPIC;
    } else if (strcmp(path, "/v1/responses") == 0) {
        out->kind = MG_PX_RESPONSES;
        out->format = MG_FMT_RESPONSES;
    } else if (starts_with(path, "/v1beta/models/", &rest)) {
        parse_gemini(rest, out);
    }
}

const char *mg_px_kind_upstream_path(int kind)
{
    switch (kind) {
    case MG_PX_CHAT: return "/chat/completions";
    case MG_PX_EMBEDDINGS: return "/embeddings";
    case MG_PX_MESSAGES: return "/v1/messages";
    case MG_PX_COUNT_TOKENS: return "/v1/messages/count_tokens";
    case MG_PX_RESPONSES: return "/responses";
    default: return NULL;
    }
}
