/* errors.c — errors in the client's own API format, whole-body and as a
 * stream event. The shapes are what each provider's SDK parses. */
#include <string.h>

#include "proxy.h"

static const char *anthropic_type(int status, const char *kind)
{
    switch (status) {
    case 400: case 413: case 422: return status == 413 ? "request_too_large" : "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 529: case 503: return "overloaded_error";
    case 504: return "timeout_error";
    default: return kind && *kind ? kind : "api_error";
    }
}

static const char *gemini_status(int status)
{
    switch (status) {
    case 400: case 413: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 429: return "RESOURCE_EXHAUSTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return "INTERNAL";
    }
}

static void append_openai(int status, const char *kind, const char *message, mg_buf *out)
{
    mg_buf_append_str(out, "{\"error\":{\"message\":");
    mg_buf_append_json_str(out, message, strlen(message));
    mg_buf_append_str(out, ",\"type\":");
    const char *type = kind && *kind ? kind : "api_error";
    mg_buf_append_json_str(out, type, strlen(type));
    mg_buf_printf(out, ",\"param\":null,\"code\":\"%d\"}}", status);
}

static void append_anthropic(int status, const char *kind, const char *message, mg_buf *out)
{
    const char *type = anthropic_type(status, kind);
    mg_buf_append_str(out, "{\"type\":\"error\",\"error\":{\"type\":");
    mg_buf_append_json_str(out, type, strlen(type));
    mg_buf_append_str(out, ",\"message\":");
    mg_buf_append_json_str(out, message, strlen(message));
    mg_buf_append_str(out, "}}");
}

static void append_gemini(int status, const char *message, mg_buf *out)
{
    mg_buf_printf(out, "{\"error\":{\"code\":%d,\"message\":", status);
    mg_buf_append_json_str(out, message, strlen(message));
    mg_buf_printf(out, ",\"status\":\"%s\"}}", gemini_status(status));
}

void mg_px_error_body(int client_format, int status, const char *kind, const char *message,
                      mg_buf *out)
{
    if (client_format == MG_FMT_ANTHROPIC)
        append_anthropic(status, kind, message, out);
    else if (client_format == MG_FMT_GEMINI)
        append_gemini(status, message, out);
    else
        append_openai(status, kind, message, out);
}

void mg_px_error_event(int client_format, int status, const char *kind, const char *message,
                       mg_buf *out)
{
    if (client_format == MG_FMT_ANTHROPIC) {
        mg_buf_append_str(out, "event: error\ndata: ");
        append_anthropic(status, kind, message, out);
    } else if (client_format == MG_FMT_RESPONSES) {
        mg_buf_append_str(out, "event: error\ndata: {\"type\":\"error\",\"code\":");
        const char *type = kind && *kind ? kind : "api_error";
        mg_buf_append_json_str(out, type, strlen(type));
        mg_buf_append_str(out, ",\"message\":");
        mg_buf_append_json_str(out, message, strlen(message));
        mg_buf_append_str(out, ",\"param\":null}");
    } else if (client_format == MG_FMT_GEMINI) {
        mg_buf_append_str(out, "data: ");
        append_gemini(status, message, out);
    } else {
        mg_buf_append_str(out, "data: ");
        append_openai(status, kind, message, out);
    }
    mg_buf_append_str(out, "\n\n");
}
