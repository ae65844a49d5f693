/* trace_otlp: OTLP/HTTP JSON export requests into stored spans (see
 * trace_otlp.h). The OTLP JSON mapping writes ids as hex, 64-bit integers
 * as decimal strings (numbers are accepted too) and enums as integers (their
 * names are accepted too). What Jaeger derives from OTLP is derived the same
 * way: span.kind, otel.status_code, otel.status_description, error=true,
 * otel.scope.name; events become logs with an "event" field.
 *
 * This is the receiver's hot path, so the body is read in one pass with a
 * pull reader (trace_jread) and each span's Jaeger tags and logs are written
 * as JSON text as its fields go by: no tree, a few allocations per span.
 * JSON leaves object keys in any order; where a span's context comes after
 * its spans (a resource after its scopeSpans, a scope after its spans), the
 * spans read so far are taken back and read again from a mark. */
#include "observe/trace_otlp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "observe/trace_jread.h"

void trace_batch_init(struct trace_batch *b)
{
    b->spans = NULL;
    b->n = b->cap = 0;
}

void trace_batch_free(struct trace_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct trace_span *s = &b->spans[i];
        free(s->service);
        free(s->operation);
        free(s->tags);
        free(s->logs);
        free(s->ptags);
    }
    xfree(b->spans);
    b->n = b->cap = 0;
}

struct trace_span *trace_batch_add(struct trace_batch *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->spans = xrealloc(b->spans, b->cap * sizeof *b->spans);
    }
    struct trace_span *s = &b->spans[b->n++];
    memset(s, 0, sizeof *s);
    return s;
}

void trace_batch_move(struct trace_batch *dst, struct trace_batch *src)
{
    if (!dst->n) {
        trace_batch_free(dst);
        *dst = *src;
        trace_batch_init(src);
        return;
    }
    if (dst->n + src->n > dst->cap) { /* doubling: many small moves into a deep queue stay linear */
        dst->cap = dst->n + src->n > 2 * dst->cap ? dst->n + src->n : 2 * dst->cap;
        dst->spans = xrealloc(dst->spans, dst->cap * sizeof *dst->spans);
    }
    if (src->n) memcpy(dst->spans + dst->n, src->spans, src->n * sizeof *src->spans);
    dst->n += src->n;
    xfree(src->spans);
    src->n = src->cap = 0;
}

void trace_batch_take(struct trace_batch *dst, struct trace_batch *src, size_t max)
{
    if (src->n <= max) {
        trace_batch_move(dst, src);
        return;
    }
    if (dst->n + max > dst->cap) {
        dst->cap = dst->n + max;
        dst->spans = xrealloc(dst->spans, dst->cap * sizeof *dst->spans);
    }
    memcpy(dst->spans + dst->n, src->spans, max * sizeof *src->spans);
    dst->n += max;
    src->n -= max;
    memmove(src->spans, src->spans + max, src->n * sizeof *src->spans);
}

const char *trace_kind_name(int kind)
{
    static const char *const names[] = {"", "internal", "server", "client", "producer", "consumer"};
    return kind >= 0 && kind <= 5 ? names[kind] : "";
}

/* The parser's state and its reusable scratch buffers (kept across spans so
 * that a body costs a handful of allocations, not a few per value). */
struct otlp {
    struct jread r;
    struct trace_batch *out;
    size_t *rejected;
    int shape_error;
    struct jstr key, akey, str, num, dump[3]; /* one attribute: reader's key, its "key", values */
    struct jstr tid, sid, pid, name, msg, tags, logs, fields, evname;
    struct jstr service, ptags, scope;
};

/* One OTLP AnyValue as read: which fields it had and what they held. */
struct anyv {
    int has_str, str_ok, has_bool, boolv, has_int, int_ok, has_dbl, dbl_ok, has_dump[3], dump_ok[3];
    long long i;
    double d;
};

static int is_key(const struct jstr *k, const char *name)
{
    return k->len == strlen(name) && !memcmp(k->s, name, k->len);
}

/* Lowercase hex id of exactly n digits, not all zero, from a decoded string. */
static int hex_id(const struct jstr *v, size_t n, char *out)
{
    if (v->len != n) return -1;
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v->s[i];
        if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return -1;
        if (c != '0') nonzero = 1;
        out[i] = c;
    }
    out[n] = '\0';
    return nonzero ? 0 : -1;
}

/* A uint64 written as a decimal string or a JSON number; *ok says whether
 * the value was one. */
static void read_u64(struct otlp *o, int *ok, uint64_t *out)
{
    struct jread *r = &o->r;
    int kind = jr_peek(r), is_int;
    long long i;
    double d;
    *ok = 0;
    if (kind == JR_NUMBER) {
        if (jr_number(r, &is_int, &i, &d)) return;
        if (is_int && i >= 0) *out = (uint64_t)i, *ok = 1;
        else if (!is_int && d >= 0 && d < 1.8e19) *out = (uint64_t)d, *ok = 1;
        return;
    }
    if (kind != JR_STRING) {
        jr_value(r, NULL);
        return;
    }
    jstr_reset(&o->num);
    if (jr_string(r, &o->num) || !o->num.len || o->num.len > 20) return;
    uint64_t v = 0;
    for (size_t k = 0; k < o->num.len; k++) {
        char c = o->num.s[k];
        if (c < '0' || c > '9') return;
        uint64_t dg = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - dg) / 10) return;
        v = v * 10 + dg;
    }
    *out = v;
    *ok = 1;
}

/* An enum as an integer or one of its names (anything else: 0). */
static int read_enum(struct otlp *o, const char *const names[], int n)
{
    struct jread *r = &o->r;
    int kind = jr_peek(r), is_int, v = 0;
    long long i;
    double d;
    if (kind == JR_NUMBER) {
        if (!jr_number(r, &is_int, &i, &d) && is_int) v = (int)i;
    } else if (kind == JR_STRING) {
        jstr_reset(&o->num);
        if (!jr_string(r, &o->num))
            for (int k = 0; k < n; k++)
                if (is_key(&o->num, names[k])) v = k;
    } else {
        jr_value(r, NULL);
    }
    return v;
}

/* A string value into out (reset first); 1 if it was a string, else the
 * value is skipped and 0 returned. */
static int read_str(struct otlp *o, struct jstr *out)
{
    jstr_reset(out);
    if (jr_peek(&o->r) != JR_STRING) {
        jr_value(&o->r, NULL);
        return 0;
    }
    return !jr_string(&o->r, out);
}

static void read_any(struct otlp *o, struct anyv *a)
{
    static const char *const dumps[3] = {"arrayValue", "kvlistValue", "bytesValue"};
    struct jread *r = &o->r;
    memset(a, 0, sizeof *a);
    if (jr_peek(r) != JR_OBJECT) {
        jr_value(r, NULL);
        return;
    }
    jr_object(r);
    while (jr_key(r, &o->key) == 1) {
        int kind = jr_peek(r), is_int;
        if (is_key(&o->key, "stringValue")) {
            a->has_str = 1;
            a->str_ok = read_str(o, &o->str);
        } else if (is_key(&o->key, "boolValue")) {
            a->has_bool = 1;
            a->boolv = kind == JR_TRUE ? 1 : kind == JR_FALSE ? 0 : -1;
            jr_value(r, NULL);
        } else if (is_key(&o->key, "intValue")) {
            a->has_int = 1;
            if (kind == JR_NUMBER) {
                a->int_ok = !jr_number(r, &is_int, &a->i, &a->d) && is_int;
            } else if (read_str(o, &o->num) && o->num.len && o->num.len <= 20) {
                char *end;
                errno = 0;
                a->i = strtoll(o->num.s, &end, 10);
                a->int_ok = !errno && !*end;
            }
        } else if (is_key(&o->key, "doubleValue")) {
            a->has_dbl = 1;
            if (kind == JR_NUMBER && !jr_number(r, &is_int, &a->i, &a->d)) {
                a->dbl_ok = 1;
                if (is_int) a->d = (double)a->i;
            } else if (kind != JR_NUMBER) {
                jr_value(r, NULL);
            }
        } else {
            int k = 0;
            while (k < 3 && !is_key(&o->key, dumps[k])) k++;
            if (k < 3) {
                a->has_dump[k] = 1;
                jstr_reset(&o->dump[k]);
                a->dump_ok[k] = kind == JR_OBJECT || kind == JR_ARRAY;
                jr_value(r, a->dump_ok[k] ? &o->dump[k] : NULL);
            } else {
                jr_value(r, NULL);
            }
        }
    }
}

/* s cut to max bytes on a UTF-8 boundary: the length to keep. */
static size_t cut_len(const char *s, size_t len, size_t max)
{
    if (len <= max) return len;
    len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;
    return len;
}

static void tag_head(struct jstr *dst, int *count, const char *key, size_t klen, const char *type)
{
    if ((*count)++) jstr_put(dst, ",", 1);
    jstr_put(dst, "{\"key\":", 7);
    jstr_put_json(dst, key, klen);
    jstr_put(dst, ",\"type\":\"", 9);
    jstr_put(dst, type, strlen(type));
    jstr_put(dst, "\",\"value\":", 10);
}

static void str_tag(struct jstr *dst, int *count, const char *key, const char *v, size_t vlen)
{
    tag_head(dst, count, key, strlen(key), "string");
    jstr_put_json(dst, v, vlen);
    jstr_put(dst, "}", 1);
}

/* One AnyValue as a Jaeger tag appended to dst, as Jaeger derives it (the
 * first usable of string, bool, int, double, then array/kvlist/bytes as
 * their JSON text); nothing when unusable. Sets *error on error=true. */
static void any_to_tag(struct otlp *o, const struct anyv *a, struct jstr *dst, int *count, int *error)
{
    const char *key = o->akey.s;
    size_t klen = o->akey.len;
    int is_error_key = error && klen == 5 && !memcmp(key, "error", 5);
    if (a->has_str && a->str_ok) {
        size_t n = cut_len(o->str.s, o->str.len, TRACE_VALUE_MAX);
        tag_head(dst, count, key, klen, "string");
        jstr_put_json(dst, o->str.s, n);
        if (is_error_key && n == 4 && !memcmp(o->str.s, "true", 4)) *error = 1;
    } else if (a->has_bool && a->boolv >= 0) {
        tag_head(dst, count, key, klen, "bool");
        jstr_put(dst, a->boolv ? "true" : "false", a->boolv ? 4 : 5);
        if (is_error_key && a->boolv) *error = 1;
    } else if (a->has_int) {
        if (!a->int_ok) return;
        tag_head(dst, count, key, klen, "int64");
        jstr_put_int(dst, a->i);
    } else if (a->has_dbl && a->dbl_ok) {
        tag_head(dst, count, key, klen, "float64");
        jstr_put_real(dst, a->d);
    } else {
        int k = 0;
        while (k < 3 && !a->has_dump[k]) k++;
        if (k == 3 || !a->dump_ok[k]) return;
        tag_head(dst, count, key, klen, "string");
        jstr_put_json(dst, o->dump[k].s, cut_len(o->dump[k].s, o->dump[k].len, TRACE_VALUE_MAX));
    }
    jstr_put(dst, "}", 1);
}

/* An attributes array (KeyValue objects) as Jaeger tags appended to dst
 * (at most TRACE_ATTRS_MAX, keys of 1..TRACE_NAME_MAX bytes). skip: a key
 * left out; error: set on error=true, and *has_error when an "error" tag was
 * written; service: when not NULL, set to the last non-empty service.name
 * string (looked for in every attribute, past the maximum too). */
static void read_attrs(struct otlp *o, struct jstr *dst, int *count, const char *skip, int *error, int *has_error,
                       struct jstr *service)
{
    struct jread *r = &o->r;
    if (!jr_enter_array(r)) return;
    for (size_t i = 0; jr_more(r) == 1; i++) {
        if (jr_peek(r) != JR_OBJECT || (i >= TRACE_ATTRS_MAX && !service)) {
            jr_value(r, NULL);
            continue;
        }
        struct anyv a;
        int key_ok = 0, has_value = 0;
        memset(&a, 0, sizeof a);
        jr_object(r);
        while (jr_key(r, &o->key) == 1) {
            if (is_key(&o->key, "key")) {
                key_ok = read_str(o, &o->akey);
            } else if (is_key(&o->key, "value")) {
                has_value = 1;
                read_any(o, &a);
            } else {
                jr_value(r, NULL);
            }
        }
        if (!key_ok || !has_value) continue;
        if (service && a.has_str && a.str_ok && o->str.len && is_key(&o->akey, "service.name")) {
            jstr_reset(service);
            jstr_put(service, o->str.s, o->str.len);
        }
        if (i >= TRACE_ATTRS_MAX || !o->akey.len || o->akey.len > TRACE_NAME_MAX || (skip && is_key(&o->akey, skip)))
            continue;
        int before = *count;
        any_to_tag(o, &a, dst, count, error);
        if (has_error && *count > before && is_key(&o->akey, "error")) *has_error = 1;
    }
}

/* A span's events as Jaeger logs appended to o->logs (at most
 * TRACE_EVENTS_MAX; events without a valid time are left out). */
static void read_events(struct otlp *o, int *nlogs)
{
    struct jread *r = &o->r;
    if (!jr_enter_array(r)) return;
    for (size_t i = 0; jr_more(r) == 1; i++) {
        if (i >= TRACE_EVENTS_MAX || jr_peek(r) != JR_OBJECT) {
            jr_value(r, NULL);
            continue;
        }
        int t_ok = 0, has_name = 0, nfields = 0;
        uint64_t t = 0;
        jstr_reset(&o->fields);
        jr_object(r);
        while (jr_key(r, &o->key) == 1) {
            if (is_key(&o->key, "timeUnixNano")) read_u64(o, &t_ok, &t);
            else if (is_key(&o->key, "name")) has_name = read_str(o, &o->evname);
            else if (is_key(&o->key, "attributes")) read_attrs(o, &o->fields, &nfields, NULL, NULL, NULL, NULL);
            else jr_value(r, NULL);
        }
        if (!t_ok) continue;
        if ((*nlogs)++) jstr_put(&o->logs, ",", 1);
        jstr_put(&o->logs, "{\"timestamp\":", 13);
        jstr_put_int(&o->logs, (long long)(t / 1000));
        jstr_put(&o->logs, ",\"fields\":[", 11);
        if (has_name) {
            int one = 0;
            str_tag(&o->logs, &one, "event", o->evname.s, o->evname.len);
            if (nfields) jstr_put(&o->logs, ",", 1);
        }
        if (o->fields.len) jstr_put(&o->logs, o->fields.s, o->fields.len);
        jstr_put(&o->logs, "]}", 2);
    }
}

static char *text_of(const struct jstr *b, const char *open, const char *close)
{
    size_t n = b->len, lo = strlen(open), lc = strlen(close);
    char *s = xmalloc(lo + n + lc + 1);
    memcpy(s, open, lo);
    if (n) memcpy(s + lo, b->s, n);
    memcpy(s + lo + n, close, lc + 1);
    return s;
}

/* One span object; appended to o->out, or counted as rejected when its ids
 * or times are not valid. service, ptags and scope are its context. */
static void read_span(struct otlp *o)
{
    static const char *const kinds[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
                                        "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"};
    static const char *const codes[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};
    struct jread *r = &o->r;
    if (jr_peek(r) != JR_OBJECT) {
        jr_value(r, NULL);
        (*o->rejected)++;
        return;
    }
    int tid_ok = 0, sid_ok = 0, has_parent = 0, parent_str = 0, has_name = 0, start_ok = 0, end_ok = 0;
    int kind = 0, code = 0, has_msg = 0, error = 0, has_error = 0, ntags = 0, nlogs = 0;
    uint64_t start = 0, end = 0;
    jstr_reset(&o->tags);
    jstr_reset(&o->logs);
    jr_object(r);
    while (jr_key(r, &o->key) == 1) {
        const struct jstr *k = &o->key;
        if (is_key(k, "traceId")) tid_ok = read_str(o, &o->tid);
        else if (is_key(k, "spanId")) sid_ok = read_str(o, &o->sid);
        else if (is_key(k, "parentSpanId")) has_parent = 1, parent_str = read_str(o, &o->pid);
        else if (is_key(k, "name")) has_name = read_str(o, &o->name);
        else if (is_key(k, "kind")) kind = read_enum(o, kinds, 6);
        else if (is_key(k, "startTimeUnixNano")) read_u64(o, &start_ok, &start);
        else if (is_key(k, "endTimeUnixNano")) read_u64(o, &end_ok, &end);
        else if (is_key(k, "attributes")) read_attrs(o, &o->tags, &ntags, NULL, &error, &has_error, NULL);
        else if (is_key(k, "events")) read_events(o, &nlogs);
        else if (is_key(k, "status")) {
            if (jr_peek(r) != JR_OBJECT) {
                jr_value(r, NULL);
                continue;
            }
            jr_object(r);
            while (jr_key(r, &o->key) == 1) {
                if (is_key(&o->key, "code")) code = read_enum(o, codes, 3);
                else if (is_key(&o->key, "message")) has_msg = read_str(o, &o->msg);
                else jr_value(r, NULL);
            }
        } else jr_value(r, NULL);
    }
    char trace_id[33], span_id[17], parent_id[17] = "";
    if (!tid_ok || hex_id(&o->tid, 32, trace_id) || !sid_ok || hex_id(&o->sid, 16, span_id) ||
        (has_parent && !(parent_str && !o->pid.len) && (!parent_str || hex_id(&o->pid, 16, parent_id))) ||
        !start_ok || !end_ok || start == 0 || end < start) {
        (*o->rejected)++;
        return;
    }
    if (kind < 0 || kind > 5) kind = 0;
    error |= code == 2;
    if (kind) str_tag(&o->tags, &ntags, "span.kind", trace_kind_name(kind), strlen(trace_kind_name(kind)));
    if (code == 1 || code == 2) str_tag(&o->tags, &ntags, "otel.status_code", code == 2 ? "ERROR" : "OK", code == 2 ? 5 : 2);
    if (has_msg && o->msg.len)
        str_tag(&o->tags, &ntags, "otel.status_description", o->msg.s, cut_len(o->msg.s, o->msg.len, TRACE_VALUE_MAX));
    if (o->scope.len) str_tag(&o->tags, &ntags, "otel.scope.name", o->scope.s, o->scope.len);
    if (error && code == 2 && !has_error) { /* Jaeger marks error spans with error=true */
        tag_head(&o->tags, &ntags, "error", 5, "bool");
        jstr_put(&o->tags, "true}", 5);
    }
    struct trace_span *s = trace_batch_add(o->out);
    memcpy(s->trace_id, trace_id, sizeof trace_id);
    memcpy(s->span_id, span_id, sizeof span_id);
    memcpy(s->parent_id, parent_id, sizeof parent_id);
    const char *svc = o->service.len ? o->service.s : "unknown_service";
    const char *name = has_name && o->name.len ? o->name.s : "unnamed";
    s->service = xstrndup(svc, strnlen(svc, TRACE_NAME_MAX));
    s->operation = xstrndup(name, strnlen(name, TRACE_NAME_MAX));
    s->kind = kind;
    s->error = error;
    s->start_us = (int64_t)(start / 1000);
    s->duration_us = (int64_t)((end - start) / 1000);
    s->tags = text_of(&o->tags, "[", "]");
    s->logs = text_of(&o->logs, "[", "]");
    s->ptags = xstrdup(o->ptags.s);
}

/* Take back what was appended since n0 spans and rej0 rejections. */
static void rollback(struct otlp *o, size_t n0, size_t rej0)
{
    for (size_t i = n0; i < o->out->n; i++) {
        struct trace_span *s = &o->out->spans[i];
        free(s->service);
        free(s->operation);
        free(s->tags);
        free(s->logs);
        free(s->ptags);
    }
    o->out->n = n0;
    *o->rejected = rej0;
}

/* A value read again from a mark (its context changed after it was read):
 * what it gave is taken back, it is read with fn, and the reader returns
 * to where it was. */
static void reread(struct otlp *o, struct jr_mark at, size_t n0, size_t rej0, void (*fn)(struct otlp *))
{
    struct jr_mark here = jr_tell(&o->r);
    rollback(o, n0, rej0);
    jr_seek(&o->r, at);
    fn(o);
    jr_seek(&o->r, here);
}

static void read_spans(struct otlp *o)
{
    struct jread *r = &o->r;
    jr_array(r);
    while (jr_more(r) == 1) read_span(o);
}

/* A scopeSpans array: each scope's name and spans. */
static void read_scopes(struct otlp *o)
{
    struct jread *r = &o->r;
    if (!jr_enter_array(r)) return;
    while (jr_more(r) == 1) {
        if (jr_peek(r) != JR_OBJECT) {
            jr_value(r, NULL);
            continue;
        }
        int spans_read = 0, stale = 0;
        struct jr_mark at = {0};
        size_t n0 = 0, rej0 = 0;
        jstr_reset(&o->scope);
        jr_object(r);
        while (jr_key(r, &o->key) == 1) {
            if (is_key(&o->key, "scope")) {
                if (jr_peek(r) != JR_OBJECT) {
                    jr_value(r, NULL);
                    continue;
                }
                jr_object(r);
                while (jr_key(r, &o->key) == 1) {
                    if (is_key(&o->key, "name")) read_str(o, &o->scope);
                    else jr_value(r, NULL);
                }
                stale = spans_read;
            } else if (is_key(&o->key, "spans")) {
                if (jr_peek(r) != JR_ARRAY) {
                    jr_value(r, NULL);
                    (*o->rejected)++;
                    continue;
                }
                at = jr_tell(r), n0 = o->out->n, rej0 = *o->rejected;
                spans_read = 1;
                read_spans(o);
            } else {
                jr_value(r, NULL);
            }
        }
        if (stale && !r->failed) reread(o, at, n0, rej0, read_spans);
    }
}

/* One resourceSpans element: the resource (service name and process tags)
 * and its scopeSpans (or, from older exporters, instrumentationLibrarySpans
 * when there is no scopeSpans). */
static void read_resource_spans(struct otlp *o)
{
    struct jread *r = &o->r;
    if (jr_peek(r) != JR_OBJECT) {
        jr_value(r, NULL);
        return;
    }
    int which = 0, stale = 0, nptags = 0; /* which: 1 scopeSpans, 2 instrumentationLibrarySpans read */
    struct jr_mark at = {0};
    size_t n0 = 0, rej0 = 0;
    jstr_reset(&o->service);
    jstr_reset(&o->ptags);
    jstr_put(&o->ptags, "[]", 2);
    jr_object(r);
    while (jr_key(r, &o->key) == 1) {
        if (is_key(&o->key, "resource")) {
            if (jr_peek(r) != JR_OBJECT) {
                jr_value(r, NULL);
                continue;
            }
            jstr_reset(&o->fields);
            jr_object(r);
            while (jr_key(r, &o->key) == 1) {
                if (is_key(&o->key, "attributes"))
                    read_attrs(o, &o->fields, &nptags, "service.name", NULL, NULL, &o->service);
                else jr_value(r, NULL);
            }
            jstr_reset(&o->ptags);
            jstr_put(&o->ptags, "[", 1);
            if (o->fields.len) jstr_put(&o->ptags, o->fields.s, o->fields.len);
            jstr_put(&o->ptags, "]", 1);
            stale = which != 0;
        } else if (is_key(&o->key, "scopeSpans") || (is_key(&o->key, "instrumentationLibrarySpans") && which != 1)) {
            int ils = o->key.s[0] == 'i';
            if (which == 2) rollback(o, n0, rej0); /* scopeSpans wins over the older name */
            at = jr_tell(r), n0 = o->out->n, rej0 = *o->rejected;
            which = ils ? 2 : 1;
            stale = 0;
            read_scopes(o);
        } else {
            jr_value(r, NULL);
        }
    }
    if (stale && !r->failed) reread(o, at, n0, rej0, read_scopes);
}

int trace_otlp_parse(const char *body, size_t len, struct trace_batch *out, size_t *rejected, char *err,
                     size_t errlen)
{
    struct otlp o;
    memset(&o, 0, sizeof o);
    *rejected = 0;
    o.out = out;
    o.rejected = rejected;
    size_t n0 = out->n;
    struct jread *r = &o.r;
    jr_init(r, body, len);
    int kind = jr_peek(r);
    if (kind == JR_OBJECT) {
        jr_object(r);
        while (jr_key(r, &o.key) == 1) {
            if (!is_key(&o.key, "resourceSpans")) {
                jr_value(r, NULL);
            } else if (jr_peek(r) != JR_ARRAY) {
                o.shape_error = 1;
                jr_value(r, NULL);
            } else {
                jr_array(r);
                while (jr_more(r) == 1) read_resource_spans(&o);
            }
        }
    } else if (kind == JR_ARRAY) {
        o.shape_error = 1;
        jr_value(r, NULL);
    } else if (kind != JR_ERR) { /* a scalar or nothing: the top level must be an object or array */
        r->failed = 1;
        snprintf(r->err, sizeof r->err, "'[' or '{' expected");
    }
    jr_finish(r);
    int rc = 0;
    if (r->failed) {
        snprintf(err, errlen, "invalid JSON at %s", r->err);
        rc = -EINVAL;
    } else if (o.shape_error) {
        snprintf(err, errlen, "not an OTLP ExportTraceServiceRequest: expected {\"resourceSpans\": [...]}");
        rc = -EINVAL;
    }
    if (rc) rollback(&o, n0, 0);
    struct jstr *all[] = {&o.key, &o.akey, &o.str, &o.num, &o.dump[0], &o.dump[1], &o.dump[2], &o.tid, &o.sid,
                          &o.pid, &o.name, &o.msg, &o.tags, &o.logs, &o.fields, &o.evname, &o.service, &o.ptags,
                          &o.scope};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) jstr_free(all[i]);
    jr_free(r);
    return rc;
}
