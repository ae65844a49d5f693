/* trace_jaeger: Jaeger's JSON shapes and /api/traces parameters (see
 * trace_jaeger.h). The shapes follow jaeger-query's HTTP API (the one its
 * UI uses): times in microseconds, tags as {key,type,value}, one process per
 * service of a trace named p1, p2, ... in order of first appearance. */
#include "observe/trace_jaeger.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "core/util.h"

static json_t *load_array(const char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_array(v)) {
        json_decref(v);
        v = json_array();
    }
    return v;
}

/* Process ids: spans with the same service and process tags share one,
 * numbered from 1 in order of first appearance. firsts[k] is the index of
 * the first span of process k+1; returns the number of processes. */
static size_t assign_processes(const struct trace_span *spans, size_t n, size_t *pid_of, size_t *firsts)
{
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        const struct trace_span *s = &spans[i];
        size_t pid = 0;
        for (size_t k = 0; k < np && !pid; k++) {
            const struct trace_span *f = &spans[firsts[k]];
            if (!strcmp(f->service, s->service) && !strcmp(f->ptags ? f->ptags : "", s->ptags ? s->ptags : ""))
                pid = k + 1;
        }
        if (!pid) {
            firsts[np++] = i;
            pid = np;
        }
        pid_of[i] = pid;
    }
    return np;
}

json_t *trace_jaeger_trace(const struct trace_span *spans, size_t n)
{
    json_t *out_spans = json_array(), *processes = json_object();
    size_t *pid_of = xcalloc(n ? n : 1, sizeof *pid_of), *firsts = xcalloc(n ? n : 1, sizeof *firsts);
    size_t np = assign_processes(spans, n, pid_of, firsts);
    char key[32];
    for (size_t k = 0; k < np; k++) {
        snprintf(key, sizeof key, "p%zu", k + 1);
        json_object_set_new(processes, key,
                            json_pack("{s:s, s:o}", "serviceName", spans[firsts[k]].service, "tags",
                                      load_array(spans[firsts[k]].ptags)));
    }
    for (size_t i = 0; i < n; i++) {
        const struct trace_span *s = &spans[i];
        snprintf(key, sizeof key, "p%zu", pid_of[i]);
        json_t *refs = json_array();
        if (s->parent_id[0])
            json_array_append_new(refs, json_pack("{s:s, s:s, s:s}", "refType", "CHILD_OF", "traceID", s->trace_id,
                                                  "spanID", s->parent_id));
        json_array_append_new(out_spans,
                              json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:s, s:n, s:i}", "traceID",
                                        s->trace_id, "spanID", s->span_id, "operationName", s->operation,
                                        "references", refs, "startTime", (json_int_t)s->start_us, "duration",
                                        (json_int_t)s->duration_us, "tags", load_array(s->tags), "logs",
                                        load_array(s->logs), "processID", key, "warnings", "flags", 1));
    }
    free(pid_of);
    free(firsts);
    return json_pack("{s:s, s:o, s:o, s:n}", "traceID", n ? spans[0].trace_id : "", "spans", out_spans,
                     "processes", processes, "warnings");
}

int trace_json_string(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int rc = buf_append(out, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\') continue;
        rc = buf_append(out, run, (size_t)((const char *)p - run));
        char esc[7] = {'\\', (char)*p, 0};
        if (*p < 0x20) {
            esc[1] = 'u';
            memcpy(esc + 2, "00", 2);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
        }
        if (!rc) rc = buf_append(out, esc, strlen(esc));
        run = (const char *)p + 1;
    }
    if (!rc) rc = buf_puts(out, run);
    if (!rc) rc = buf_append(out, "\"", 1);
    return rc;
}

/* Stored JSON (an array) as is, or [] when absent. */
static int put_raw_array(struct buf *out, const char *text)
{
    return buf_puts(out, text && text[0] == '[' ? text : "[]");
}

int trace_jaeger_write(struct buf *out, const struct trace_span *spans, size_t n)
{
    size_t *pid_of = xcalloc(n ? n : 1, sizeof *pid_of), *firsts = xcalloc(n ? n : 1, sizeof *firsts);
    size_t np = assign_processes(spans, n, pid_of, firsts);
    int rc = buf_puts(out, "{\"traceID\":");
    if (!rc) rc = trace_json_string(out, n ? spans[0].trace_id : "");
    if (!rc) rc = buf_puts(out, ",\"spans\":[");
    for (size_t i = 0; i < n && !rc; i++) {
        const struct trace_span *s = &spans[i];
        rc = buf_printf(out, "%s{\"traceID\":\"%s\",\"spanID\":\"%s\",\"operationName\":", i ? "," : "",
                        s->trace_id, s->span_id);
        if (!rc) rc = trace_json_string(out, s->operation);
        if (!rc && s->parent_id[0])
            rc = buf_printf(out, ",\"references\":[{\"refType\":\"CHILD_OF\",\"traceID\":\"%s\",\"spanID\":\"%s\"}]",
                            s->trace_id, s->parent_id);
        else if (!rc)
            rc = buf_puts(out, ",\"references\":[]");
        if (!rc)
            rc = buf_printf(out, ",\"startTime\":%lld,\"duration\":%lld,\"tags\":", (long long)s->start_us,
                            (long long)s->duration_us);
        if (!rc) rc = put_raw_array(out, s->tags);
        if (!rc) rc = buf_puts(out, ",\"logs\":");
        if (!rc) rc = put_raw_array(out, s->logs);
        if (!rc) rc = buf_printf(out, ",\"processID\":\"p%zu\",\"warnings\":null,\"flags\":1}", pid_of[i]);
    }
    if (!rc) rc = buf_puts(out, "],\"processes\":{");
    for (size_t k = 0; k < np && !rc; k++) {
        rc = buf_printf(out, "%s\"p%zu\":{\"serviceName\":", k ? "," : "", k + 1);
        if (!rc) rc = trace_json_string(out, spans[firsts[k]].service);
        if (!rc) rc = buf_puts(out, ",\"tags\":");
        if (!rc) rc = put_raw_array(out, spans[firsts[k]].ptags);
        if (!rc) rc = buf_puts(out, "}");
    }
    if (!rc) rc = buf_puts(out, "},\"warnings\":null}");
    free(pid_of);
    free(firsts);
    return rc;
}

json_t *trace_jaeger_envelope(json_t *data)
{
    size_t total = json_is_array(data) ? json_array_size(data) : 0;
    return json_pack("{s:o, s:I, s:i, s:i, s:n}", "data", data ? data : json_null(), "total", (json_int_t)total,
                     "limit", 0, "offset", 0, "errors");
}

json_t *trace_jaeger_error(int code, const char *msg)
{
    return json_pack("{s:n, s:i, s:i, s:i, s:[{s:i, s:s}]}", "data", "total", 0, "limit", 0, "offset", 0, "errors",
                     "code", code, "msg", msg);
}

int trace_parse_duration_us(const char *s, int64_t *us)
{
    if (!s || !((*s >= '0' && *s <= '9') || *s == '.') || strlen(s) > 32) return -EINVAL;
    size_t len = strlen(s);
    if (s[len - 1] == 'd') {
        char num[33];
        memcpy(num, s, len - 1);
        num[len - 1] = '\0';
        long days;
        if (parse_long(num, 0, 36500, &days)) return -EINVAL;
        *us = (int64_t)days * 86400 * 1000000;
        return 0;
    }
    for (const char *p = s; *p; p++) /* no "nan", "inf", exponents or signs in strtod's hands */
        if (!((*p >= '0' && *p <= '9') || *p == '.' || strchr("nsumh", *p))) return -EINVAL;
    uint64_t ns;
    if (time_parse_duration(s, &ns) || ns > (uint64_t)INT64_MAX) return -EINVAL;
    *us = (int64_t)(ns / 1000);
    return 0;
}

static int time_us(const char *s, int64_t *out)
{
    long v;
    if (parse_long(s, 0, 4102444800000000L, &v)) return -EINVAL; /* up to year 2100 in µs */
    *out = v;
    return 0;
}

/* The value of a Jaeger tag as text, for comparison with a query's value. */
static int tag_text(const json_t *v, char *out, size_t n)
{
    if (json_is_string(v)) return snprintf(out, n, "%s", json_string_value(v)) >= (int)n ? -1 : 0;
    if (json_is_boolean(v)) return snprintf(out, n, "%s", json_is_true(v) ? "true" : "false"), 0;
    if (json_is_integer(v)) return snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), 0;
    if (json_is_real(v)) return snprintf(out, n, "%.17g", json_real_value(v)), 0;
    return -1;
}

/* Text that JSON writes as is (so it must appear verbatim in the stored tags). */
static int plain(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x80) return 0;
    return 1;
}

int trace_tags_match(const char *tags_json, const json_t *want)
{
    if (!json_object_size(want)) return 1;
    const char *k;
    json_t *wv;
    if (!tags_json) return 0;
    /* Cheap first: a wanted key or value missing from the text rules the span out without parsing it. */
    json_object_foreach((json_t *)want, k, wv) {
        const char *v = json_string_value(wv);
        if ((plain(k) && !strstr(tags_json, k)) || (v && *v && plain(v) && !strstr(tags_json, v))) return 0;
    }
    json_t *tags = json_loads(tags_json, 0, NULL);
    int all = 1;
    json_object_foreach((json_t *)want, k, wv) {
        int found = 0;
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t) {
            const char *key = json_string_value(json_object_get(t, "key"));
            char text[TRACE_VALUE_MAX + 1];
            if (key && !strcmp(key, k) && !tag_text(json_object_get(t, "value"), text, sizeof text) &&
                !strcmp(text, json_string_value(wv))) {
                found = 1;
                break;
            }
        }
        if (!found) {
            all = 0;
            break;
        }
    }
    json_decref(tags);
    return all;
}

/* Add one key=value tag condition; error=true/false goes to q->error. */
static int add_tag(struct trace_query *q, const char *key, const json_t *value, char *err, size_t errlen)
{
    char text[TRACE_VALUE_MAX + 1];
    if (!*key || strlen(key) > TRACE_NAME_MAX || tag_text(value, text, sizeof text)) {
        snprintf(err, errlen, "malformed 'tags' parameter: bad tag \"%.64s\"", key);
        return -EINVAL;
    }
    if (!strcmp(key, "error") && (!strcmp(text, "true") || !strcmp(text, "false"))) {
        q->error = !strcmp(text, "true");
        return 0;
    }
    if (!q->tags) q->tags = json_object();
    if (json_object_size(q->tags) >= 16) {
        snprintf(err, errlen, "malformed 'tags' parameter: at most 16 tags");
        return -EINVAL;
    }
    json_object_set_new(q->tags, key, json_string(text));
    return 0;
}

int trace_query_parse(const char *(*get)(void *ctx, const char *name), void *ctx, int64_t now_us,
                      struct trace_query *q, char *err, size_t errlen)
{
    memset(q, 0, sizeof *q);
    q->error = -1;
    q->dur_max_us = INT64_MAX;
    q->limit = TRACE_LIMIT_DEFAULT;
    const char *v;
    int64_t lookback = 3600LL * 1000000, end = now_us, start = -1;

    v = get(ctx, "service");
    if (!v || !*v) {
        snprintf(err, errlen, "parameter 'service' is required");
        goto bad;
    }
    if (strlen(v) > TRACE_NAME_MAX) {
        snprintf(err, errlen, "parameter 'service' is too long");
        goto bad;
    }
    strlcpy_checked(q->service, v, sizeof q->service);
    if ((v = get(ctx, "operation")) && *v) {
        if (strlen(v) > TRACE_NAME_MAX) {
            snprintf(err, errlen, "parameter 'operation' is too long");
            goto bad;
        }
        strlcpy_checked(q->operation, v, sizeof q->operation);
    }
    if ((v = get(ctx, "limit")) && *v) {
        long l;
        if (parse_long(v, 0, TRACE_LIMIT_MAX, &l)) {
            snprintf(err, errlen, "unable to parse param 'limit': want an integer 0..%d, got \"%.32s\"",
                     TRACE_LIMIT_MAX, v);
            goto bad;
        }
        if (l > 0) q->limit = (int)l;
    }
    if ((v = get(ctx, "lookback")) && *v && strcmp(v, "custom")) {
        if (trace_parse_duration_us(v, &lookback)) {
            snprintf(err, errlen, "unable to parse param 'lookback': \"%.32s\" is not a duration (like 5m, 1h, 2d)", v);
            goto bad;
        }
    }
    if ((v = get(ctx, "end")) && *v && time_us(v, &end)) {
        snprintf(err, errlen, "unable to parse param 'end': want microseconds since the epoch");
        goto bad;
    }
    if ((v = get(ctx, "start")) && *v && time_us(v, &start)) {
        snprintf(err, errlen, "unable to parse param 'start': want microseconds since the epoch");
        goto bad;
    }
    q->start_max_us = end;
    q->start_min_us = start >= 0 ? start : (end > lookback ? end - lookback : 0);
    if (q->start_min_us > q->start_max_us) {
        snprintf(err, errlen, "'start' is after 'end'");
        goto bad;
    }
    if ((v = get(ctx, "minDuration")) && *v && trace_parse_duration_us(v, &q->dur_min_us)) {
        snprintf(err, errlen, "unable to parse param 'minDuration': \"%.32s\" is not a duration (like 100ms)", v);
        goto bad;
    }
    if ((v = get(ctx, "maxDuration")) && *v && trace_parse_duration_us(v, &q->dur_max_us)) {
        snprintf(err, errlen, "unable to parse param 'maxDuration': \"%.32s\" is not a duration (like 1s)", v);
        goto bad;
    }
    if (q->dur_min_us > q->dur_max_us) {
        snprintf(err, errlen, "'minDuration' is more than 'maxDuration'");
        goto bad;
    }
    if ((v = get(ctx, "tags")) && *v) {
        json_t *t = json_loads(v, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(t)) {
            json_decref(t);
            snprintf(err, errlen, "malformed 'tags' parameter: want a JSON object like {\"error\":\"true\"}");
            goto bad;
        }
        const char *k;
        json_t *tv;
        json_object_foreach(t, k, tv) {
            if (add_tag(q, k, tv, err, errlen)) {
                json_decref(t);
                goto bad;
            }
        }
        json_decref(t);
    }
    if ((v = get(ctx, "tag")) && *v) { /* tag=key:value, Jaeger's other form */
        const char *colon = strchr(v, ':');
        if (!colon || colon == v) {
            snprintf(err, errlen, "malformed 'tag' parameter: want key:value");
            goto bad;
        }
        char key[TRACE_NAME_MAX + 1];
        size_t kl = (size_t)(colon - v);
        if (kl > TRACE_NAME_MAX) {
            snprintf(err, errlen, "malformed 'tag' parameter: key too long");
            goto bad;
        }
        memcpy(key, v, kl);
        key[kl] = '\0';
        json_t *s = json_string(colon + 1);
        int rc = s ? add_tag(q, key, s, err, errlen) : -EINVAL;
        json_decref(s);
        if (rc) {
            if (!s) snprintf(err, errlen, "malformed 'tag' parameter: not UTF-8");
            goto bad;
        }
    }
    return 0;
bad:
    trace_query_free(q);
    return -EINVAL;
}

void trace_query_free(struct trace_query *q)
{
    json_decref(q->tags);
    q->tags = NULL;
}
