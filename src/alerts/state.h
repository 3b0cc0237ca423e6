/* state.h — the life of each alert: one entry per rule + labels (the
 * alert key), so a hundred failing requests of one provider make one
 * alert. Each evaluation feeds one observation per key; the machine
 * answers what happened (fired, still firing, resolved) and whether to
 * notify: at most once per cooldown while firing, a resolution only when
 * its firing was notified, nothing while muted. Keys a pass did not
 * observe resolve at the end of it. Main thread only. Uses core. */
#ifndef MG_AL_STATE_H
#define MG_AL_STATE_H

#include <stddef.h>
#include <stdint.h>

#define MG_AL_MAX_ALERTS 10000

enum mg_al_cond {
    MG_AL_CLEAR = 0,    /* condition false */
    MG_AL_HOLDS = 1,    /* condition true with enough samples */
    MG_AL_NODATA = 2,   /* too few samples or no value: counts as clear */
};

enum mg_al_trans {
    MG_AL_T_NONE = 0,
    MG_AL_T_FIRED,      /* started firing */
    MG_AL_T_REMINDER,   /* still firing and the cooldown passed */
    MG_AL_T_RESOLVED,   /* stopped firing */
};

/* One alert. Owns its strings. */
typedef struct mg_al_alert {
    char *key;          /* "rule" or "rule{provider=openai}" */
    char *rule;
    int source;         /* enum mg_al_source of its rule */
    char *labels;       /* JSON object text */
    char *severity;
    int firing;
    int notified;       /* this firing episode's start was notified */
    int seen;           /* observed in the current pass */
    double value;       /* last observed value */
    uint64_t samples;
    int64_t since_ms;           /* firing since */
    int64_t last_notified_ms;   /* 0 = never */
    int64_t mute_until_ms;      /* per-alert mute */
    int64_t cooldown_ms;        /* of its rule, at the last observation */
    long notifications;         /* sent over the alert's life */
} mg_al_alert;

typedef struct mg_al_states {
    mg_al_alert *a;     /* owned */
    size_t n, cap;
} mg_al_states;

/* What one observation did. alert points into the table until the next
 * observe/sweep call. */
typedef struct mg_al_change {
    int trans;          /* enum mg_al_trans */
    int notify;         /* channels should hear about it */
    mg_al_alert *alert;
} mg_al_change;

void mg_al_states_free(mg_al_states *s);
/* Start a pass: nothing observed yet. */
void mg_al_states_begin(mg_al_states *s);
/* One observation. cooldown seconds; rule_mute_until_ms 0 = none.
 * MG_ERR (nothing changed) when the table is full and key is new. */
int mg_al_states_observe(mg_al_states *s, const char *key, const char *rule, int source,
                         const char *labels, const char *severity, int cond, double value,
                         uint64_t samples, double cooldown, int64_t rule_mute_until_ms,
                         int64_t now_ms, mg_al_change *out);
/* End of a pass: every firing alert not observed in it resolves when its
 * rule was evaluated (rule_state returns 1) or no longer exists (-1); rules
 * that were skipped (0, e.g. their Lua function failed) keep their alerts.
 * fn runs for each resolution (notify set as for observe). */
typedef void (*mg_al_change_fn)(void *ud, const mg_al_change *c);
void mg_al_states_sweep(mg_al_states *s, int (*rule_state)(void *ud, const char *rule),
                        void *ud, int64_t now_ms, mg_al_change_fn fn, void *fn_ud);
/* Forget alerts that are not firing, whose cooldown has passed (so a
 * flapping condition cannot notify again early) and whose mute ended. */
void mg_al_states_compact(mg_al_states *s, int64_t now_ms);
mg_al_alert *mg_al_states_find(mg_al_states *s, const char *key);
/* Build the key of a rule and its labels: rule{l1=v1,l2=v2}. Caller frees. */
char *mg_al_alert_key(const char *rule, const char *const *names, const char *const *values,
                      size_t n);

#endif
