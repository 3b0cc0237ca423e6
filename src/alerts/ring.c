/* ring.c — the metrics ring of ring.h: second, minute and hour slots of labelled
 * series, a ring of recent samples for percentiles, interned label
 * strings. One mutex guards everything; every operation is O(window slots
 * x series) or O(samples) at worst, with no allocation on the query path
 * except the percentile scratch array. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define NONE_ID 0          /* NULL text */
#define OTHER_ID 0xFFFF    /* past the intern table */
#define HASH_SIZE 8192     /* > 2 x MG_AL_MAX_STRINGS */
#define SEC_SERIES_MAX 32  /* series per second slot (label sets; the rest is "other") */
#define MIN_SERIES_MAX 64  /* series per minute slot */
#define HOUR_SERIES_MAX 256 /* bounds the hour slots at ~55 MiB worst case */

static const char *const label_names[MG_AL_NLABELS] = {
    "provider", "model_requested", "model_routed", "status",
    "key_id",   "user_id",         "environment",  "client_format",
};

typedef struct series {
    uint16_t lab[MG_AL_NLABELS];
    uint64_t count, errors, switched;
    double sum[MG_AL_MAX_NUM];
} series;

/* Owns s[]. t: the second (or hour) it holds, -1 when empty. */
typedef struct slot {
    int64_t t;
    series *s;
    uint32_t n, cap;
} slot;

typedef struct sample {
    int64_t ts_ms;
    uint16_t lab[MG_AL_NLABELS];
    float num[MG_AL_MAX_NUM];
} sample;

struct mg_al_ring {
    pthread_mutex_t lock;
    slot sec[MG_AL_SECONDS];
    slot min[MG_AL_MINUTES];
    slot hour[MG_AL_HOURS];
    sample *samples; /* owned, nsamples entries, head = next write */
    size_t nsamples, head, filled;
    char *strings[MG_AL_MAX_STRINGS + 1]; /* id -> owned string, [0] unused */
    size_t nstrings;
    uint16_t hash[HASH_SIZE]; /* open addressing, 0 = empty */
};

/* ---- field tables (built once from the record definition) --------------- */

static int num_fields[MG_AL_MAX_NUM]; /* index into mg_record_fields */
static size_t num_offsets[MG_AL_MAX_NUM]; /* ... and that field's offset and kind, */
static int num_is_int[MG_AL_MAX_NUM];     /* read once per added record */
static int nnum;
static size_t label_offsets[MG_AL_NLABELS];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static int field_index(const char *name)
{
    for (size_t i = 0; i < mg_record_nfields; i++)
        if (strcmp(mg_record_fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void build_tables(void)
{
    for (size_t i = 0; i < mg_record_nfields && nnum < MG_AL_MAX_NUM; i++) {
        if (mg_record_fields[i].kind == MG_REC_TEXT)
            continue;
        num_offsets[nnum] = mg_record_fields[i].offset;
        num_is_int[nnum] = mg_record_fields[i].kind == MG_REC_INT;
        num_fields[nnum++] = (int)i;
    }
    for (int l = 0; l < MG_AL_NLABELS; l++)
        label_offsets[l] = mg_record_fields[field_index(label_names[l])].offset;
}

int mg_al_label_of(const char *field)
{
    for (int l = 0; l < MG_AL_NLABELS; l++)
        if (strcmp(label_names[l], field) == 0)
            return l;
    return -1;
}

const char *mg_al_label_name(int label)
{
    return label >= 0 && label < MG_AL_NLABELS ? label_names[label] : NULL;
}

int mg_al_num_of(const char *field)
{
    pthread_once(&tables_once, build_tables);
    int f = field_index(field);
    for (int i = 0; f >= 0 && i < nnum; i++)
        if (num_fields[i] == f)
            return i;
    return -1;
}

static double num_value(const mg_record *rec, int i)
{
    const char *p = (const char *)rec + num_offsets[i];
    if (num_is_int[i]) {
        int64_t v;
        memcpy(&v, p, sizeof v);
        return (double)v;
    }
    double d;
    memcpy(&d, p, sizeof d);
    return d;
}

/* ---- interning ------------------------------------------------------------ */

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The id of s; create it when `add`. NULL is NONE_ID; a missing string
 * without add is OTHER_ID (matches nothing a filter asks for). */
static uint16_t intern(mg_al_ring *r, const char *s, int add)
{
    if (!s)
        return NONE_ID;
    uint32_t i = hash_str(s) & (HASH_SIZE - 1);
    for (;; i = (i + 1) & (HASH_SIZE - 1)) {
        uint16_t id = r->hash[i];
        if (id == 0)
            break;
        if (strcmp(r->strings[id], s) == 0)
            return id;
    }
    if (!add || r->nstrings >= MG_AL_MAX_STRINGS)
        return OTHER_ID;
    uint16_t id = (uint16_t)++r->nstrings;
    r->strings[id] = mg_xstrdup(s);
    r->hash[i] = id;
    return id;
}

/* ---- life ---------------------------------------------------------------- */

mg_al_ring *mg_al_ring_new(size_t nsamples)
{
    pthread_once(&tables_once, build_tables);
    mg_al_ring *r = mg_xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    for (int i = 0; i < MG_AL_SECONDS; i++)
        r->sec[i].t = -1;
    for (int i = 0; i < MG_AL_MINUTES; i++)
        r->min[i].t = -1;
    for (int i = 0; i < MG_AL_HOURS; i++)
        r->hour[i].t = -1;
    r->nsamples = nsamples ? nsamples : 20000;
    r->samples = mg_xcalloc(r->nsamples, sizeof *r->samples);
    /* Touch every page now: a buffer that became resident sample by sample
     * would read as memory creeping up for the first 20,000 requests. */
    memset(r->samples, 0, r->nsamples * sizeof *r->samples);
    return r;
}

void mg_al_ring_free(mg_al_ring *r)
{
    if (!r)
        return;
    for (int i = 0; i < MG_AL_SECONDS; i++)
        free(r->sec[i].s);
    for (int i = 0; i < MG_AL_MINUTES; i++)
        free(r->min[i].s);
    for (int i = 0; i < MG_AL_HOURS; i++)
        free(r->hour[i].s);
    for (size_t i = 1; i <= r->nstrings; i++)
        free(r->strings[i]);
    free(r->samples);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* ---- adding ---------------------------------------------------------------- */

static series *slot_series(slot *s, int64_t t, const uint16_t *lab, uint32_t max)
{
    if (s->t != t) {
        s->t = t;
        s->n = 0;
    }
    for (uint32_t i = 0; i < s->n; i++)
        if (memcmp(s->s[i].lab, lab, sizeof s->s[i].lab) == 0)
            return &s->s[i];
    uint16_t other[MG_AL_NLABELS];
    if (s->n + 1 >= max) { /* full: the last series is "other", for everything else */
        for (int l = 0; l < MG_AL_NLABELS; l++)
            other[l] = OTHER_ID;
        for (uint32_t i = 0; i < s->n; i++)
            if (memcmp(s->s[i].lab, other, sizeof other) == 0)
                return &s->s[i];
        lab = other;
    }
    if (s->n == s->cap) {
        /* Linear growth: a slot keeps its array for the next time round,
         * so doubling would leave up to half of every slot unused. */
        s->cap += 4;
        s->s = mg_xrealloc(s->s, s->cap * sizeof *s->s);
    }
    series *se = &s->s[s->n++];
    memset(se, 0, sizeof *se);
    memcpy(se->lab, lab, sizeof se->lab);
    return se;
}

static void series_add(series *se, uint64_t count, uint64_t errors, uint64_t switched,
                       const double *sums)
{
    se->count += count;
    se->errors += errors;
    se->switched += switched;
    for (int i = 0; sums && i < nnum; i++)
        se->sum[i] += sums[i];
}

void mg_al_ring_add(mg_al_ring *r, const mg_record *rec, int64_t now_ms)
{
    double sums[MG_AL_MAX_NUM];
    for (int i = 0; i < nnum; i++)
        sums[i] = num_value(rec, i);
    int errored = !rec->status || strcmp(rec->status, "success") != 0;
    int switched = rec->model_routed && rec->model_requested &&
                   strcmp(rec->model_routed, rec->model_requested) != 0;
    int64_t sec = now_ms / 1000, minute = now_ms / 60000, hour = now_ms / 3600000;
    pthread_mutex_lock(&r->lock);
    uint16_t lab[MG_AL_NLABELS];
    for (int l = 0; l < MG_AL_NLABELS; l++) {
        const char *s;
        memcpy(&s, (const char *)rec + label_offsets[l], sizeof s);
        lab[l] = intern(r, s, 1);
    }
    series_add(slot_series(&r->sec[sec % MG_AL_SECONDS], sec, lab, SEC_SERIES_MAX), 1,
               (uint64_t)errored, (uint64_t)switched, sums);
    series_add(slot_series(&r->min[minute % MG_AL_MINUTES], minute, lab, MIN_SERIES_MAX), 1,
               (uint64_t)errored, (uint64_t)switched, sums);
    series_add(slot_series(&r->hour[hour % MG_AL_HOURS], hour, lab, HOUR_SERIES_MAX), 1,
               (uint64_t)errored, (uint64_t)switched, sums);
    sample *sa = &r->samples[r->head];
    sa->ts_ms = now_ms;
    memcpy(sa->lab, lab, sizeof lab);
    for (int i = 0; i < nnum; i++)
        sa->num[i] = (float)sums[i];
    r->head = (r->head + 1) % r->nsamples;
    if (r->filled < r->nsamples)
        r->filled++;
    pthread_mutex_unlock(&r->lock);
}

void mg_al_ring_seed_hour(mg_al_ring *r, int64_t hour_start_ms, const char *const *labels,
                          uint64_t count, uint64_t errors, const double *sums)
{
    int64_t hour = hour_start_ms / 3600000;
    pthread_mutex_lock(&r->lock);
    uint16_t lab[MG_AL_NLABELS];
    for (int l = 0; l < MG_AL_NLABELS; l++)
        lab[l] = intern(r, labels ? labels[l] : NULL, 1);
    slot *s = &r->hour[hour % MG_AL_HOURS];
    if (s->t <= hour) /* never overwrite a newer hour with an older one */
        series_add(slot_series(s, hour, lab, HOUR_SERIES_MAX), count, errors, 0, sums);
    pthread_mutex_unlock(&r->lock);
}

/* ---- querying -------------------------------------------------------------- */

/* Filters resolved against the intern table. want[l]: required id or -1. */
typedef struct resolved {
    int want[MG_AL_NLABELS];
    int num_idx[MG_AL_MAX_FILTERS]; /* numeric filters: field index */
    double num_val[MG_AL_MAX_FILTERS];
    int nnumf;
} resolved;

/* MG_ERR when a filter names a field the ring does not keep. */
static int resolve(mg_al_ring *r, const mg_al_filter *f, size_t n, resolved *out)
{
    memset(out, 0, sizeof *out);
    for (int l = 0; l < MG_AL_NLABELS; l++)
        out->want[l] = -1;
    if (n > MG_AL_MAX_FILTERS)
        return MG_ERR;
    for (size_t i = 0; i < n; i++) {
        int l = mg_al_label_of(f[i].field);
        if (l >= 0) {
            uint16_t id = intern(r, f[i].value, 0);
            out->want[l] = id == NONE_ID ? OTHER_ID : id; /* "" never matches NULL */
            continue;
        }
        int k = mg_al_num_of(f[i].field);
        if (k < 0 || !f[i].value)
            return MG_ERR;
        char *end;
        double v = strtod(f[i].value, &end);
        if (end == f[i].value || *end)
            return MG_ERR;
        out->num_idx[out->nnumf] = k;
        out->num_val[out->nnumf++] = v;
    }
    return MG_OK;
}

static int labels_match(const resolved *rs, const uint16_t *lab)
{
    for (int l = 0; l < MG_AL_NLABELS; l++)
        if (rs->want[l] >= 0 && (rs->want[l] == OTHER_ID || lab[l] != rs->want[l]))
            return 0;
    return 1;
}

static int sample_match(const resolved *rs, const sample *sa)
{
    if (!labels_match(rs, sa->lab))
        return 0;
    for (int i = 0; i < rs->nnumf; i++)
        if (fabs((double)sa->num[rs->num_idx[i]] - rs->num_val[i]) > 1e-9)
            return 0;
    return 1;
}

typedef struct totals {
    double count, errors, switched, sum;
} totals;

static void add_series(totals *t, const series *se, int num, double weight)
{
    t->count += (double)se->count * weight;
    t->errors += (double)se->errors * weight;
    t->switched += (double)se->switched * weight;
    if (num >= 0)
        t->sum += se->sum[num] * weight;
}

/* Adds the slots of one tier (each `width` seconds long) that overlap the
 * seconds (lo, hi], prorated by the overlap. */
static void tier_totals(const slot *slots, int nslots, double width, const resolved *rs, int num,
                        double lo, double hi, totals *t)
{
    for (int i = 0; i < nslots; i++) {
        const slot *s = &slots[i];
        if (s->t < 0)
            continue;
        double s0 = (double)s->t * width, s1 = s0 + width;
        double overlap = MG_MIN(s1, hi) - MG_MAX(s0, lo);
        if (overlap <= 0)
            continue;
        for (uint32_t k = 0; k < s->n; k++)
            if (labels_match(rs, s->s[k].lab))
                add_series(t, &s->s[k], num, overlap / width);
    }
}

/* Sums over the window from the slots: the last 5 minutes from seconds,
 * the rest of the last hour from minutes, older from hours (the oldest
 * slot of each tier prorated). Seconds only for 5 minutes keeps the
 * resident size small and reached early: an hour of second slots filled
 * for an hour, which read as memory creeping up. */
static void slot_totals(mg_al_ring *r, const resolved *rs, int num, double window,
                        int64_t now_ms, totals *t)
{
    int64_t now_sec = now_ms / 1000;
    double secs = ceil(window);
    double in_seconds = MG_MIN(secs, (double)MG_AL_SECONDS);
    for (int i = 0; i < MG_AL_SECONDS; i++) {
        const slot *s = &r->sec[i];
        if (s->t < 0 || s->t > now_sec || (double)(now_sec - s->t) >= in_seconds)
            continue;
        for (uint32_t k = 0; k < s->n; k++)
            if (labels_match(rs, s->s[k].lab))
                add_series(t, &s->s[k], num, 1.0);
    }
    if (secs <= MG_AL_SECONDS)
        return;
    double hour_span = MG_AL_MINUTES * 60.0;
    tier_totals(r->min, MG_AL_MINUTES, 60.0, rs, num, (double)now_sec - MG_MIN(secs, hour_span),
                (double)(now_sec - MG_AL_SECONDS), t);
    if (secs <= hour_span)
        return;
    tier_totals(r->hour, MG_AL_HOURS, 3600.0, rs, num, (double)now_sec - secs,
                (double)now_sec - hour_span, t);
}

/* The same from the samples only (numeric filters, percentiles). vals, when
 * non-NULL, collects the field's values (capacity r->nsamples). */
static void sample_totals(mg_al_ring *r, const resolved *rs, int num, double window,
                          int64_t now_ms, totals *t, double *vals, size_t *nvals)
{
    int64_t from = now_ms - (int64_t)(window * 1000.0);
    size_t n = 0;
    for (size_t i = 0; i < r->filled; i++) {
        const sample *sa = &r->samples[i];
        if (sa->ts_ms < from || sa->ts_ms > now_ms || !sample_match(rs, sa))
            continue;
        t->count += 1;
        if (num >= 0) {
            t->sum += sa->num[num];
            if (vals)
                vals[n++] = sa->num[num];
        }
    }
    if (nvals)
        *nvals = n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Collects the window's values under the lock; the caller sorts them
 * after unlocking, so record adds never wait for a sort. */
static double *percentile_values(mg_al_ring *r, const resolved *rs, const mg_al_query *q,
                                 int64_t now_ms, size_t *n)
{
    double *vals = malloc(r->nsamples * sizeof *vals);
    *n = 0;
    if (!vals)
        return NULL;
    totals t = {0};
    sample_totals(r, rs, q->num, q->window, now_ms, &t, vals, n);
    return vals;
}

static int percentile_of(double *vals, size_t n, double pct, double *value)
{
    if (n == 0)
        return MG_ERR;
    qsort(vals, n, sizeof *vals, cmp_double);
    /* Nearest rank: the smallest value with at least pct% of values <= it. */
    double rank = ceil(pct / 100.0 * (double)n);
    size_t idx = rank < 1 ? 0 : (size_t)rank - 1;
    *value = vals[MG_MIN(idx, n - 1)];
    return MG_OK;
}

static int finish(const mg_al_query *q, const totals *t, double *value)
{
    switch (q->agg) {
    case MG_AL_SUM: *value = t->sum; return MG_OK;
    case MG_AL_RATE: *value = t->sum / q->window; return MG_OK;
    case MG_AL_COUNT: *value = t->count; return MG_OK;
    case MG_AL_ERRORS: *value = t->errors; return MG_OK;
    case MG_AL_SWITCHED: *value = t->switched; return MG_OK;
    case MG_AL_AVG:
        if (t->count <= 0)
            return MG_ERR;
        *value = t->sum / t->count;
        return MG_OK;
    default: return MG_ERR;
    }
}

int mg_al_ring_query(mg_al_ring *r, const mg_al_query *q, int64_t now_ms, double *value,
                     uint64_t *samples)
{
    *value = 0;
    *samples = 0;
    if (!(q->window > 0 && q->window <= MG_AL_MAX_WINDOW))
        return MG_ERR;
    int needs_num = q->agg == MG_AL_SUM || q->agg == MG_AL_AVG || q->agg == MG_AL_RATE ||
                    q->agg == MG_AL_PCT;
    if (needs_num && (q->num < 0 || q->num >= nnum))
        return MG_ERR;
    int num = needs_num ? q->num : -1;
    double *vals = NULL;
    size_t nvals = 0;
    pthread_mutex_lock(&r->lock);
    resolved rs;
    int rc = resolve(r, q->filters, q->nfilters, &rs);
    if (rc == MG_OK && q->agg == MG_AL_PCT) {
        vals = percentile_values(r, &rs, q, now_ms, &nvals);
        rc = vals ? MG_OK : MG_ERR;
    } else if (rc == MG_OK) {
        totals t = {0};
        if (rs.nnumf > 0) {
            if (q->agg == MG_AL_ERRORS || q->agg == MG_AL_SWITCHED)
                rc = MG_ERR; /* samples keep no status flags */
            else
                sample_totals(r, &rs, num, q->window, now_ms, &t, NULL, NULL);
        } else {
            slot_totals(r, &rs, num, q->window, now_ms, &t);
        }
        *samples = (uint64_t)llround(t.count);
        if (rc == MG_OK)
            rc = finish(q, &t, value);
    }
    pthread_mutex_unlock(&r->lock);
    if (vals) {
        *samples = nvals;
        rc = percentile_of(vals, nvals, q->q, value);
        free(vals);
    }
    return rc;
}

static void note_group(uint16_t id, uint16_t *seen, size_t *n, size_t max)
{
    if (id == NONE_ID || id == OTHER_ID || *n >= max)
        return;
    for (size_t i = 0; i < *n; i++)
        if (seen[i] == id)
            return;
    seen[(*n)++] = id;
}

size_t mg_al_ring_groups(mg_al_ring *r, int label, double window, const mg_al_filter *filters,
                         size_t nfilters, int64_t now_ms, size_t max, char ***out)
{
    *out = NULL;
    if (label < 0 || label >= MG_AL_NLABELS || max == 0)
        return 0;
    uint16_t *seen = mg_xcalloc(max, sizeof *seen);
    size_t n = 0;
    pthread_mutex_lock(&r->lock);
    resolved rs;
    if (resolve(r, filters, nfilters, &rs) == MG_OK) {
        int64_t now_sec = now_ms / 1000;
        double secs = MG_MIN(ceil(window), (double)MG_AL_SECONDS);
        for (int i = 0; i < MG_AL_SECONDS; i++) {
            const slot *s = &r->sec[i];
            if (s->t < 0 || s->t > now_sec || (double)(now_sec - s->t) >= secs)
                continue;
            for (uint32_t k = 0; k < s->n; k++)
                if (labels_match(&rs, s->s[k].lab))
                    note_group(s->s[k].lab[label], seen, &n, max);
        }
        int64_t from_minute = (now_ms - (int64_t)(window * 1000.0)) / 60000;
        for (int i = 0; window > MG_AL_SECONDS && i < MG_AL_MINUTES; i++) {
            const slot *s = &r->min[i];
            if (s->t < from_minute || s->t > now_ms / 60000)
                continue;
            for (uint32_t k = 0; k < s->n; k++)
                if (labels_match(&rs, s->s[k].lab))
                    note_group(s->s[k].lab[label], seen, &n, max);
        }
        int64_t from_hour = (now_ms - (int64_t)(window * 1000.0)) / 3600000;
        for (int i = 0; window > MG_AL_MINUTES * 60 && i < MG_AL_HOURS; i++) {
            const slot *s = &r->hour[i];
            if (s->t < from_hour)
                continue;
            for (uint32_t k = 0; k < s->n; k++)
                if (labels_match(&rs, s->s[k].lab))
                    note_group(s->s[k].lab[label], seen, &n, max);
        }
    }
    char **names = n ? mg_xcalloc(n, sizeof *names) : NULL;
    for (size_t i = 0; i < n; i++)
        names[i] = mg_xstrdup(r->strings[seen[i]]);
    pthread_mutex_unlock(&r->lock);
    free(seen);
    *out = names;
    return n;
}

void mg_al_strings_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}
