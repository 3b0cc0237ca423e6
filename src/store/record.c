/* record.c — field table, lifecycle and JSON form of the request record. */
#include "record.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const mg_record_field mg_record_fields[] = {
#define X(kind, name, doc) {#name, MG_REC_##kind, offsetof(mg_record, name), doc},
    MG_RECORD_FIELDS(X)
#undef X
};
const size_t mg_record_nfields = sizeof mg_record_fields / sizeof mg_record_fields[0];

mg_record *mg_record_new(void)
{
    mg_record *r = mg_xcalloc(1, sizeof *r);
    r->id = mg_xmalloc(33);
    mg_time_id(r->id);
    r->ts_ms = mg_now_wall_ms();
    return r;
}

void mg_record_free(mg_record *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < mg_record_nfields; i++) {
        if (mg_record_fields[i].kind == MG_REC_TEXT)
            free(*(char **)((char *)r + mg_record_fields[i].offset));
    }
    free(r);
}

void mg_record_set_text(char **field, const char *s)
{
    free(*field);
    *field = s ? mg_xstrdup(s) : NULL;
}

void mg_record_set_textn(char **field, const char *s, size_t n)
{
    free(*field);
    *field = s ? mg_xstrndup(s, n) : NULL;
}

void mg_record_to_json(const mg_record *r, mg_buf *out)
{
    mg_buf_append(out, "{", 1);
    for (size_t i = 0; i < mg_record_nfields; i++) {
        const mg_record_field *f = &mg_record_fields[i];
        const char *p = (const char *)r + f->offset;
        if (i)
            mg_buf_append(out, ",", 1);
        mg_buf_printf(out, "\"%s\":", f->name);
        if (f->kind == MG_REC_TEXT) {
            const char *s = *(char *const *)p;
            if (s)
                mg_buf_append_json_str(out, s, strlen(s));
            else
                mg_buf_append_str(out, "null");
        } else if (f->kind == MG_REC_INT) {
            mg_buf_printf(out, "%lld", (long long)*(const int64_t *)p);
        } else {
            double d = *(const double *)p;
            if (isfinite(d))
                mg_buf_printf(out, "%.10g", d);
            else
                mg_buf_append_str(out, "null");
        }
    }
    mg_buf_append(out, "}", 1);
}
