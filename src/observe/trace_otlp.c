/* trace_otlp: OTLP/HTTP JSON export requests into stored spans (see
 * trace_otlp.h). The OTLP JSON mapping writes ids as hex, 64-bit integers
 * as decimal strings (numbers are accepted too) and enums as integers (their
 * names are accepted too). What Jaeger derives from OTLP is derived the same
 * way: span.kind, otel.status_code, otel.status_description, error=true,
 * otel.scope.name; events become logs with an "event" field. */
#include "observe/trace_otlp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"

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
    if (dst->n + src->n > dst->cap) {
        dst->cap = dst->n + src->n;
        dst->spans = xrealloc(dst->spans, dst->cap * sizeof *dst->spans);
    }
    if (src->n) memcpy(dst->spans + dst->n, src->spans, src->n * sizeof *src->spans);
    dst->n += src->n;
    xfree(src->spans);
    src->n = src->cap = 0;
}

const char *trace_kind_name(int kind)
{
    static const char *const names[] = {"", "internal", "server", "client", "producer", "consumer"};
    return kind >= 0 && kind <= 5 ? names[kind] : "";
}

/* Lowercase hex id of exactly n digits, not all zero. */
static int hex_id(const json_t *v, size_t n, char *out)
{
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) != n) return -1;
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return -1;
        if (c != '0') nonzero = 1;
        out[i] = c;
    }
    out[n] = '\0';
    return nonzero ? 0 : -1;
}

/* A uint64 written as a decimal string or a JSON number. */
static int u64_value(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) return -1;
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d < 1.8e19)) return -1;
        *out = (uint64_t)d;
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || json_string_length(v) > 20) return -1;
    uint64_t r = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        uint64_t d = (uint64_t)(*p - '0');
        if (r > (UINT64_MAX - d) / 10) return -1;
        r = r * 10 + d;
    }
    *out = r;
    return 0;
}

/* An int64 from a string or a number (OTLP intValue). */
static int i64_value(const json_t *v, json_int_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || json_string_length(v) > 20) return -1;
    char *end;
    errno = 0;
    long long r = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = (json_int_t)r;
    return 0;
}

static json_t *cut_string(const char *s, size_t len, size_t max)
{
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--; /* stay on a UTF-8 boundary */
    }
    return json_stringn(s, len);
}

/* One OTLP AnyValue as a Jaeger tag (type and value), or NULL when unusable. */
static json_t *any_to_tag(const char *key, const json_t *any)
{
    if (!json_is_object(any)) return NULL;
    json_t *v, *value = NULL;
    const char *type = NULL;
    if ((v = json_object_get(any, "stringValue")) && json_is_string(v)) {
        type = "string";
        value = cut_string(json_string_value(v), json_string_length(v), TRACE_VALUE_MAX);
    } else if ((v = json_object_get(any, "boolValue")) && json_is_boolean(v)) {
        type = "bool";
        value = json_boolean(json_is_true(v));
    } else if ((v = json_object_get(any, "intValue"))) {
        json_int_t i;
        if (i64_value(v, &i)) return NULL;
        type = "int64";
        value = json_integer(i);
    } else if ((v = json_object_get(any, "doubleValue")) && json_is_number(v)) {
        type = "float64";
        value = json_real(json_number_value(v));
    } else if ((v = json_object_get(any, "arrayValue")) || (v = json_object_get(any, "kvlistValue")) ||
               (v = json_object_get(any, "bytesValue"))) {
        char *text = json_dumps(v, JSON_COMPACT);
        if (!text) return NULL;
        type = "string";
        value = cut_string(text, strlen(text), TRACE_VALUE_MAX);
        free(text);
    }
    if (!value) return NULL;
    return json_pack("{s:s, s:s, s:o}", "key", key, "type", type, "value", value);
}

static const char *tag_key(const json_t *kv)
{
    const char *k = json_string_value(json_object_get(kv, "key"));
    if (!k || !*k || strlen(k) > TRACE_NAME_MAX) return NULL;
    return k;
}

/* Attributes into Jaeger tags appended to tags; sets *error on error=true.
 * skip: a key left out (service.name of a resource). */
static void attrs_to_tags(const json_t *attrs, json_t *tags, const char *skip, int *error)
{
    size_t i;
    json_t *kv;
    if (!json_is_array(attrs)) return;
    json_array_foreach(attrs, i, kv) {
        if (i >= TRACE_ATTRS_MAX) break;
        const char *k = tag_key(kv);
        if (!k || (skip && !strcmp(k, skip))) continue;
        json_t *tag = any_to_tag(k, json_object_get(kv, "value"));
        if (!tag) continue;
        if (error && !strcmp(k, "error")) {
            json_t *v = json_object_get(tag, "value");
            if (json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "true"))) *error = 1;
        }
        json_array_append_new(tags, tag);
    }
}

static char *dump_or_empty(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return s ? s : xstrdup("[]");
}

static json_t *str_tag(const char *k, const char *v)
{
    return json_pack("{s:s, s:s, s:s}", "key", k, "type", "string", "value", v);
}

/* An enum as an integer or one of its names. */
static int enum_value(const json_t *v, const char *const names[], int n)
{
    if (json_is_integer(v)) return (int)json_integer_value(v);
    const char *s = json_string_value(v);
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return 0;
}

static int parse_span(const json_t *js, const char *service, const char *ptags, const char *scope,
                      struct trace_batch *out)
{
    static const char *const kinds[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
                                        "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"};
    static const char *const codes[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};
    char trace_id[33], span_id[17], parent_id[17] = "";
    uint64_t start, end;
    if (!json_is_object(js) || hex_id(json_object_get(js, "traceId"), 32, trace_id) ||
        hex_id(json_object_get(js, "spanId"), 16, span_id))
        return -1;
    json_t *parent = json_object_get(js, "parentSpanId");
    if (parent && !(json_is_string(parent) && json_string_length(parent) == 0) &&
        hex_id(parent, 16, parent_id))
        return -1;
    if (u64_value(json_object_get(js, "startTimeUnixNano"), &start) ||
        u64_value(json_object_get(js, "endTimeUnixNano"), &end) || start == 0 || end < start)
        return -1;
    const char *name = json_string_value(json_object_get(js, "name"));
    if (!name || !*name) name = "unnamed";
    int kind = enum_value(json_object_get(js, "kind"), kinds, 6);
    if (kind < 0 || kind > 5) kind = 0;
    json_t *status = json_object_get(js, "status");
    int code = enum_value(json_object_get(status, "code"), codes, 3);
    const char *message = json_string_value(json_object_get(status, "message"));

    int error = code == 2;
    json_t *tags = json_array();
    attrs_to_tags(json_object_get(js, "attributes"), tags, NULL, &error);
    if (kind) json_array_append_new(tags, str_tag("span.kind", trace_kind_name(kind)));
    if (code == 1 || code == 2) json_array_append_new(tags, str_tag("otel.status_code", code == 2 ? "ERROR" : "OK"));
    if (message && *message) {
        json_t *m = cut_string(message, strlen(message), TRACE_VALUE_MAX);
        json_array_append_new(tags, json_pack("{s:s, s:s, s:o}", "key", "otel.status_description", "type",
                                              "string", "value", m));
    }
    if (scope && *scope) json_array_append_new(tags, str_tag("otel.scope.name", scope));
    if (error && code == 2) {
        /* Jaeger marks error spans with error=true (unless the attribute already did). */
        int has = 0;
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t) has |= !strcmp(json_string_value(json_object_get(t, "key")), "error");
        if (!has) json_array_append_new(tags, json_pack("{s:s, s:s, s:b}", "key", "error", "type", "bool", "value", 1));
    }

    json_t *logs = json_array();
    json_t *events = json_object_get(js, "events"), *ev;
    size_t i;
    if (json_is_array(events)) {
        json_array_foreach(events, i, ev) {
            if (i >= TRACE_EVENTS_MAX) break;
            uint64_t t;
            if (!json_is_object(ev) || u64_value(json_object_get(ev, "timeUnixNano"), &t)) continue;
            json_t *fields = json_array();
            const char *evname = json_string_value(json_object_get(ev, "name"));
            if (evname) json_array_append_new(fields, str_tag("event", evname));
            attrs_to_tags(json_object_get(ev, "attributes"), fields, NULL, NULL);
            json_array_append_new(logs, json_pack("{s:I, s:o}", "timestamp", (json_int_t)(t / 1000), "fields", fields));
        }
    }

    struct trace_span *s = trace_batch_add(out);
    memcpy(s->trace_id, trace_id, sizeof trace_id);
    memcpy(s->span_id, span_id, sizeof span_id);
    memcpy(s->parent_id, parent_id, sizeof parent_id);
    s->service = xstrndup(service, strnlen(service, TRACE_NAME_MAX));
    s->operation = xstrndup(name, strnlen(name, TRACE_NAME_MAX));
    s->kind = kind;
    s->error = error;
    s->start_us = (int64_t)(start / 1000);
    s->duration_us = (int64_t)((end - start) / 1000);
    s->tags = dump_or_empty(tags);
    s->logs = dump_or_empty(logs);
    s->ptags = xstrdup(ptags);
    return 0;
}

int trace_otlp_parse(const char *body, size_t len, struct trace_batch *out, size_t *rejected, char *err,
                     size_t errlen)
{
    json_error_t jerr;
    *rejected = 0;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return -EINVAL;
    }
    json_t *rss = json_object_get(root, "resourceSpans");
    if (!json_is_object(root) || (rss && !json_is_array(rss))) {
        snprintf(err, errlen, "not an OTLP ExportTraceServiceRequest: expected {\"resourceSpans\": [...]}");
        json_decref(root);
        return -EINVAL;
    }
    size_t i, j, k;
    json_t *rs, *ss, *sp;
    json_array_foreach(rss, i, rs) {
        json_t *resource = json_object_get(rs, "resource");
        json_t *rattrs = json_object_get(resource, "attributes");
        const char *service = "unknown_service";
        size_t a;
        json_t *kv;
        if (json_is_array(rattrs)) {
            json_array_foreach(rattrs, a, kv) {
                const char *key = json_string_value(json_object_get(kv, "key"));
                const char *v = json_path_str(kv, "value.stringValue", NULL);
                if (key && v && *v && !strcmp(key, "service.name")) service = v;
            }
        }
        json_t *ptags = json_array();
        attrs_to_tags(rattrs, ptags, "service.name", NULL);
        char *ptext = dump_or_empty(ptags);
        json_t *scopes = json_object_get(rs, "scopeSpans");
        if (!scopes) scopes = json_object_get(rs, "instrumentationLibrarySpans"); /* older exporters */
        json_array_foreach(scopes, j, ss) {
            const char *scope = json_path_str(ss, "scope.name", NULL);
            json_t *spans = json_object_get(ss, "spans");
            json_array_foreach(spans, k, sp) {
                if (parse_span(sp, service, ptext, scope, out)) (*rejected)++;
            }
            if (spans && !json_is_array(spans)) (*rejected)++;
        }
        free(ptext);
    }
    json_decref(root);
    return 0;
}
