/* cli.h — the pieces of `moongate crosstalk` (internal to src/crosstalk):
 * cli.c parses arguments and picks the gateway, cli_follow.c starts the
 * session through the admin API and follows it on the live stream,
 * cli_print.c renders events for a human (or as JSON lines),
 * cli_standalone.c runs a gateway inside the process when none answers. */
#ifndef MG_CT_CLI_H
#define MG_CT_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "../core/buf.h"
#include "../upstream/sse.h"

/* Exit codes (crosstalk.h). */
enum { CLI_FINISHED = 0, CLI_ERROR = 1, CLI_USAGE = 2, CLI_STOPPED = 3, CLI_FAILED = 4,
       CLI_INTERRUPTED = 5 };

typedef struct ct_cli {
    /* options */
    const char *preset_path;
    const char *config_path;
    const char *url_opt;
    const char *token_opt;
    int rounds;              /* 0: the preset's */
    int json;                /* JSON lines instead of text */
    int standalone;
    const char *home;

    /* resolved */
    char url[300];
    char token[300];
    char *source;            /* the preset file's text (owned) */
    size_t source_len;
    char name[128];          /* the preset file's base name */

    /* the session being followed */
    char id[33];
    json_t *created;         /* the 201 answer (owned) */
    mg_sse_parser sse;
    size_t stream_bytes;     /* bytes received on the live stream */
    int ended;               /* session_end seen */
    int exit_code;
    int stop_sent;
    double t_start;
    double last_event;       /* when an event of our session last arrived */
    int color;
    int mid_line;            /* printed text without a newline yet */
    char speaker[80];        /* speaker of the turn being printed */
    struct ct_inproc *inproc; /* the in-process gateway, when standalone (owned) */
    FILE *err;               /* the user's stderr (the in-process gateway logs to a file) */
} ct_cli;

/* Set by the SIGINT handler. */
extern volatile sig_atomic_t ct_cli_interrupted;

/* HTTP with libcurl easy (blocking, for the CLI thread only). Returns the
 * HTTP status, or -1 when nothing answered (err filled). */
long ct_cli_request(const char *method, const char *url, const char *token, const char *body,
                    long timeout_ms, mg_buf *out, char *err, size_t errlen);

/* Start the session and follow it to its end; returns the exit code. */
int ct_cli_follow(ct_cli *c);

/* Rendering (cli_print.c). */
void ct_cli_print_header(ct_cli *c);
void ct_cli_print_event(ct_cli *c, json_t *ev);
void ct_cli_note(ct_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A gateway inside this process on an ephemeral 127.0.0.1 port (same
 * config, policies and database). MG_OK with c->url and c->token set. */
struct mg_config;
int ct_cli_standalone_start(ct_cli *c, const struct mg_config *cfg, char *err, size_t errlen);
/* Shut it down and wait (no-op when none was started). */
void ct_cli_standalone_stop(ct_cli *c);

#endif
