/* traces_cmd: `aiopslab traces services|find|show|summary` — the lab's
 * traces as tables, read from the trace store's Jaeger query API
 * (http://127.NET.0.1:16686, see docs/traces.md) with libcurl. --json
 * prints the API's answer as it came. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/lab.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "observe/trace_jaeger.h"
#include "observe/trace_store.h"
#include "observe/traces.h"

#define RESPONSE_MAX (64u << 20)

static int usage(FILE *f)
{
    fprintf(f, "Usage:\n"
               "  aiopslab traces services\n"
               "  aiopslab traces operations SERVICE [--json]\n"
               "  aiopslab traces find --service S [--operation O] [--lookback 5m] [--errors] [--limit 20]\n"
               "                       [--min-duration 100ms] [--max-duration 2s] [--tag KEY=VALUE]... [--json]\n"
               "  aiopslab traces show TRACE_ID [--json]\n"
               "  aiopslab traces summary [--lookback 15m] [--limit 10] [--json]\n"
               "The trace store's query API is http://127.NET.0.1:%d (Jaeger's JSON); see docs/traces.md.\n",
            TRACES_QUERY_PORT);
    return f == stdout ? 0 : 2;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    return buf_append(ud, p, size * n) ? 0 : size * n;
}

/* GET path from the lab's query API; the "data" of the answer (a new
 * reference) or NULL after printing why. raw: the whole answer instead. */
static json_t *api_get(const char *path, int raw)
{
    struct lab lab;
    char err[256];
    if (lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return NULL;
    }
    if (!lab.net) {
        fprintf(stderr, "aiopslab: lab \"%s\" does not exist (no %s/lab.json); start it with `aiopslab cluster up`\n",
                lab.name, lab.dir);
        return NULL;
    }
    char ip[32], url[4096];
    lab_node_ip(&lab, ip, sizeof ip);
    if (snprintf(url, sizeof url, "http://%s:%d%s", ip, TRACES_QUERY_PORT, path) >= (int)sizeof url) {
        fprintf(stderr, "aiopslab: query too long\n");
        return NULL;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        fprintf(stderr, "aiopslab: cannot initialize libcurl\n");
        return NULL;
    }
    struct buf body;
    buf_init(&body, RESPONSE_MAX);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    json_t *out = NULL;
    if (rc == CURLE_COULDNT_CONNECT) {
        fprintf(stderr,
                "aiopslab: the trace store of lab \"%s\" is not running (nothing answers on http://%s:%d);"
                " is the lab up? (`aiopslab cluster up`)\n",
                lab.name, ip, TRACES_QUERY_PORT);
        goto out;
    }
    if (rc != CURLE_OK) {
        fprintf(stderr, "aiopslab: trace query %s failed: %s\n", url, cerr[0] ? cerr : curl_easy_strerror(rc));
        goto out;
    }
    json_t *root = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
    if (!json_is_object(root)) {
        fprintf(stderr, "aiopslab: the trace store answered %ld with something that is not JSON\n", status);
        json_decref(root);
        goto out;
    }
    json_t *errors = json_object_get(root, "errors");
    if (status != 200 || json_array_size(errors)) {
        const char *msg = json_string_value(json_object_get(json_array_get(errors, 0), "msg"));
        fprintf(stderr, "aiopslab: %s\n", msg ? msg : "the trace query failed");
        json_decref(root);
        goto out;
    }
    if (raw) {
        out = root;
    } else {
        out = json_incref(json_object_get(root, "data"));
        json_decref(root);
    }
out:
    buf_free(&body);
    return out;
}

/* "1.2s", "35.4ms", "870us" */
static void fmt_duration(int64_t us, char *out, size_t n)
{
    if (us >= 1000000) snprintf(out, n, "%.2fs", (double)us / 1e6);
    else if (us >= 1000) snprintf(out, n, "%.2fms", (double)us / 1e3);
    else snprintf(out, n, "%lldus", (long long)us);
}

static void fmt_time(int64_t us, char *out, size_t n)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[32];
    strftime(s, sizeof s, "%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03d", s, (int)(us / 1000 % 1000));
}

static int print_json(json_t *v)
{
    if (!v) return 1;
    char *s = json_dumps(v, JSON_INDENT(2));
    json_decref(v);
    if (!s) return 1;
    puts(s);
    free(s);
    return 0;
}

static int span_error(const json_t *span)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(span, "tags"), i, t) {
        const char *key = json_string_value(json_object_get(t, "key"));
        json_t *v = json_object_get(t, "value");
        if (key && !strcmp(key, "error") &&
            (json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "true"))))
            return 1;
    }
    return 0;
}

static const char *span_service(const json_t *trace, const json_t *span)
{
    const char *pid = json_string_value(json_object_get(span, "processID"));
    json_t *p = pid ? json_object_get(json_object_get(trace, "processes"), pid) : NULL;
    const char *name = json_string_value(json_object_get(p, "serviceName"));
    return name ? name : "?";
}

static const char *parent_of(const json_t *span)
{
    json_t *r = json_array_get(json_object_get(span, "references"), 0);
    return json_string_value(json_object_get(r, "spanID"));
}

/* The root span of a trace: no parent within the trace, earliest. */
static json_t *root_span(const json_t *trace)
{
    json_t *spans = json_object_get(trace, "spans"), *s, *best = NULL;
    size_t i, j;
    json_array_foreach(spans, i, s) {
        const char *p = parent_of(s);
        int has_parent = 0;
        json_t *o;
        if (p) json_array_foreach(spans, j, o) has_parent |= !strcmp(json_string_value(json_object_get(o, "spanID")), p);
        if (has_parent) continue;
        if (!best || json_integer_value(json_object_get(s, "startTime")) <
                         json_integer_value(json_object_get(best, "startTime")))
            best = s;
    }
    return best;
}

static void append_arg(struct buf *q, const char *key, const char *value)
{
    char *e = curl_easy_escape(NULL, value, 0);
    buf_printf(q, "%s%s=%s", q->len ? "&" : "?", key, e ? e : "");
    curl_free(e);
}

static int cmd_services(int argc, char **argv)
{
    int raw = argc > 1 && !strcmp(argv[1], "--json");
    if (argc > 1 + raw) return usage(stderr);
    json_t *d = api_get("/api/services", raw);
    if (raw) return print_json(d);
    if (!d) return 1;
    size_t i;
    json_t *s;
    if (!json_array_size(d)) fprintf(stderr, "No services have sent traces yet.\n");
    json_array_foreach(d, i, s) puts(json_string_value(s));
    json_decref(d);
    return 0;
}

/* `traces operations SERVICE`: the service's operations and their span kinds. */
static int cmd_operations(int argc, char **argv)
{
    int raw = argc > 2 && !strcmp(argv[2], "--json");
    if (argc != 2 + raw || argv[1][0] == '-') return usage(stderr);
    struct buf q;
    buf_init(&q, 4096);
    buf_append(&q, "/api/operations?", 16);
    append_arg(&q, "service", argv[1]);
    buf_append(&q, "", 1);
    json_t *d = api_get(q.data, raw);
    buf_free(&q);
    if (raw) return print_json(d);
    if (!d) return 1;
    size_t i;
    json_t *o;
    if (!json_array_size(d)) fprintf(stderr, "No operations of service \"%s\" in the traces.\n", argv[1]);
    json_array_foreach(d, i, o)
        printf("%-48s %s\n", json_string_value(json_object_get(o, "name")), json_string_value(json_object_get(o, "spanKind")));
    json_decref(d);
    return 0;
}

static int cmd_find(int argc, char **argv)
{
    struct buf q;
    buf_init(&q, 8192);
    json_t *tags = json_object();
    int raw = 0, rc = 2;
    const char *service = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t us;
        long n;
        if (!strcmp(a, "--json")) {
            raw = 1;
        } else if (!strcmp(a, "--errors")) {
            json_object_set_new(tags, "error", json_string("true"));
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            rc = usage(stdout);
            goto out;
        } else if (!v) {
            fprintf(stderr, "aiopslab: traces find: %s needs a value\n", a);
            goto out;
        } else if (i++, !strcmp(a, "--service")) {
            service = v;
            append_arg(&q, "service", v);
        } else if (!strcmp(a, "--operation")) {
            append_arg(&q, "operation", v);
        } else if (!strcmp(a, "--lookback") || !strcmp(a, "--min-duration") || !strcmp(a, "--max-duration")) {
            if (trace_parse_duration_us(v, &us)) {
                fprintf(stderr, "aiopslab: traces find: %s %s: not a duration (like 250ms, 5m, 1h, 2d)\n", a, v);
                goto out;
            }
            append_arg(&q, !strcmp(a, "--lookback") ? "lookback" : !strcmp(a, "--min-duration") ? "minDuration" : "maxDuration", v);
        } else if (!strcmp(a, "--limit")) {
            if (parse_long(v, 1, TRACE_LIMIT_MAX, &n)) {
                fprintf(stderr, "aiopslab: traces find: --limit wants 1..%d\n", TRACE_LIMIT_MAX);
                goto out;
            }
            append_arg(&q, "limit", v);
        } else if (!strcmp(a, "--tag")) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                fprintf(stderr, "aiopslab: traces find: --tag wants KEY=VALUE\n");
                goto out;
            }
            char *key = xstrndup(v, (size_t)(eq - v));
            json_object_set_new(tags, key, json_string(eq + 1));
            free(key);
        } else {
            fprintf(stderr, "aiopslab: traces find: unknown option %s\n", a);
            goto out;
        }
    }
    if (!service) {
        fprintf(stderr, "aiopslab: traces find: --service is required (see `aiopslab traces services`)\n");
        goto out;
    }
    if (json_object_size(tags)) {
        char *t = json_dumps(tags, JSON_COMPACT);
        append_arg(&q, "tags", t ? t : "{}");
        free(t);
    }
    char path[8300];
    snprintf(path, sizeof path, "/api/traces%s", q.data);
    json_t *d = api_get(path, raw);
    rc = 1;
    if (raw) {
        rc = print_json(d);
        goto out;
    }
    if (!d) goto out;
    if (!json_array_size(d)) {
        fprintf(stderr, "No traces found.\n");
    } else {
        printf("%-32s  %-12s  %10s  %5s  %6s  %s\n", "TRACE ID", "START (UTC)", "DURATION", "SPANS", "ERRORS", "ROOT");
        size_t i;
        json_t *t;
        json_array_foreach(d, i, t) {
            json_t *root = root_span(t), *s;
            size_t j;
            int errors = 0;
            int64_t first = INT64_MAX, last = 0;
            json_array_foreach(json_object_get(t, "spans"), j, s) {
                errors += span_error(s);
                int64_t st = json_integer_value(json_object_get(s, "startTime"));
                int64_t en = st + json_integer_value(json_object_get(s, "duration"));
                if (st < first) first = st;
                if (en > last) last = en;
            }
            char start[32], dur[32], rootname[600];
            fmt_time(first == INT64_MAX ? 0 : first, start, sizeof start);
            fmt_duration(last > first ? last - first : 0, dur, sizeof dur);
            snprintf(rootname, sizeof rootname, "%s: %s", root ? span_service(t, root) : "?",
                     root ? json_string_value(json_object_get(root, "operationName")) : "?");
            printf("%-32s  %-12s  %10s  %5zu  %6d  %s\n", json_string_value(json_object_get(t, "traceID")), start,
                   dur, json_array_size(json_object_get(t, "spans")), errors, rootname);
        }
    }
    json_decref(d);
    rc = 0;
out:
    json_decref(tags);
    buf_free(&q);
    return rc;
}

static void print_tree(const json_t *trace, const json_t *span, int64_t t0, int depth, int *printed)
{
    if (depth > 64 || *printed > 10000) return;
    (*printed)++;
    char off[32], dur[32];
    fmt_duration(json_integer_value(json_object_get(span, "startTime")) - t0, off, sizeof off);
    fmt_duration(json_integer_value(json_object_get(span, "duration")), dur, sizeof dur);
    const char *desc = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(span, "tags"), i, t) {
        const char *k = json_string_value(json_object_get(t, "key"));
        if (k && !strcmp(k, "otel.status_description")) desc = json_string_value(json_object_get(t, "value"));
    }
    printf("%10s  %10s  %*s%s: %s%s%s%s\n", off, dur, depth * 2, "", span_service(trace, span),
           json_string_value(json_object_get(span, "operationName")), span_error(span) ? "  ERROR" : "",
           desc ? ": " : "", desc ? desc : "");
    const char *id = json_string_value(json_object_get(span, "spanID"));
    json_array_foreach(json_object_get(trace, "spans"), i, t) {
        const char *p = parent_of(t);
        if (p && id && !strcmp(p, id) && t != span) print_tree(trace, t, t0, depth + 1, printed);
    }
}

static int cmd_show(int argc, char **argv)
{
    const char *id = NULL;
    int raw = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) raw = 1;
        else if (!id && argv[i][0] != '-') id = argv[i];
        else return usage(stderr);
    }
    char norm[33];
    if (!id || trace_id_normalize(id, norm)) {
        fprintf(stderr, "aiopslab: traces show: want a trace id of 32 (or 16) hex digits\n");
        return 2;
    }
    char path[128];
    snprintf(path, sizeof path, "/api/traces/%s", norm);
    json_t *d = api_get(path, raw);
    if (raw) return print_json(d);
    if (!d) return 1;
    json_t *trace = json_array_get(d, 0), *s;
    json_t *spans = json_object_get(trace, "spans");
    size_t i, errors = 0;
    int64_t t0 = INT64_MAX, t1 = 0;
    json_array_foreach(spans, i, s) {
        int64_t st = json_integer_value(json_object_get(s, "startTime"));
        int64_t en = st + json_integer_value(json_object_get(s, "duration"));
        if (st < t0) t0 = st;
        if (en > t1) t1 = en;
        errors += (size_t)span_error(s);
    }
    char dur[32], start[32];
    fmt_duration(t1 > t0 ? t1 - t0 : 0, dur, sizeof dur);
    fmt_time(t0 == INT64_MAX ? 0 : t0, start, sizeof start);
    printf("Trace %s: %zu spans, %zu with errors, %s, started %s UTC\n\n", norm, json_array_size(spans), errors, dur,
           start);
    printf("%10s  %10s  %s\n", "OFFSET", "DURATION", "SERVICE: OPERATION");
    int printed = 0;
    /* every span without a parent in the trace starts a tree */
    json_array_foreach(spans, i, s) {
        const char *p = parent_of(s);
        int orphan = 1;
        size_t j;
        json_t *o;
        if (p) json_array_foreach(spans, j, o) orphan &= strcmp(json_string_value(json_object_get(o, "spanID")), p) != 0;
        if (orphan) print_tree(trace, s, t0, 0, &printed);
    }
    json_decref(d);
    return 0;
}

static int cmd_summary(int argc, char **argv)
{
    struct buf q;
    buf_init(&q, 1024);
    int raw = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t us;
        long n;
        if (!strcmp(a, "--json")) {
            raw = 1;
        } else if (!strcmp(a, "--lookback") && v && !trace_parse_duration_us(v, &us)) {
            append_arg(&q, "lookback", v);
            i++;
        } else if (!strcmp(a, "--limit") && v && !parse_long(v, 1, 100, &n)) {
            append_arg(&q, "limit", v);
            i++;
        } else {
            buf_free(&q);
            fprintf(stderr, "aiopslab: traces summary: bad argument %s%s%s\n", a, v ? " " : "", v ? v : "");
            return usage(stderr);
        }
    }
    char path[1200];
    snprintf(path, sizeof path, "/api/stats%s", q.data ? q.data : "");
    buf_free(&q);
    json_t *d = api_get(path, raw);
    if (raw) return print_json(d);
    if (!d) return 1;
    size_t i;
    json_t *e;
    char dur[32], start[32];
    printf("Slowest traces\n");
    if (!json_array_size(json_object_get(d, "slowest"))) printf("  (none)\n");
    else printf("  %-32s  %-12s  %10s  %-5s  %s\n", "TRACE ID", "START (UTC)", "DURATION", "ERROR", "ROOT");
    json_array_foreach(json_object_get(d, "slowest"), i, e) {
        fmt_duration(json_integer_value(json_object_get(e, "duration")), dur, sizeof dur);
        fmt_time(json_integer_value(json_object_get(e, "startTime")), start, sizeof start);
        printf("  %-32s  %-12s  %10s  %-5s  %s: %s\n", json_string_value(json_object_get(e, "traceID")), start, dur,
               json_is_true(json_object_get(e, "error")) ? "yes" : "", json_string_value(json_object_get(e, "service")),
               json_string_value(json_object_get(e, "operation")));
    }
    printf("\nErroring traces (latest)\n");
    if (!json_array_size(json_object_get(d, "erroring"))) printf("  (none)\n");
    else printf("  %-32s  %-12s  %10s  %s\n", "TRACE ID", "START (UTC)", "DURATION", "ERROR IN");
    json_array_foreach(json_object_get(d, "erroring"), i, e) {
        fmt_duration(json_integer_value(json_object_get(e, "duration")), dur, sizeof dur);
        fmt_time(json_integer_value(json_object_get(e, "startTime")), start, sizeof start);
        printf("  %-32s  %-12s  %10s  %s: %s\n", json_string_value(json_object_get(e, "traceID")), start, dur,
               json_string_value(json_object_get(e, "service")), json_string_value(json_object_get(e, "operation")));
    }
    printf("\nPer-service error rates\n");
    if (!json_array_size(json_object_get(d, "services"))) printf("  (no spans in the window)\n");
    else printf("  %-32s  %8s  %8s  %8s  %10s\n", "SERVICE", "TRACES", "SPANS", "ERRORS", "ERROR RATE");
    json_array_foreach(json_object_get(d, "services"), i, e) {
        printf("  %-32s  %8lld  %8lld  %8lld  %9.2f%%\n", json_string_value(json_object_get(e, "service")),
               (long long)json_integer_value(json_object_get(e, "traces")),
               (long long)json_integer_value(json_object_get(e, "spans")),
               (long long)json_integer_value(json_object_get(e, "errors")),
               100.0 * json_number_value(json_object_get(e, "errorRate")));
    }
    json_decref(d);
    return 0;
}

int cli_traces(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) return usage(stdout);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (!strcmp(sub, "services")) rc = cmd_services(argc - 1, argv + 1);
    else if (!strcmp(sub, "operations")) rc = cmd_operations(argc - 1, argv + 1);
    else if (!strcmp(sub, "find")) rc = cmd_find(argc - 1, argv + 1);
    else if (!strcmp(sub, "show")) rc = cmd_show(argc - 1, argv + 1);
    else if (!strcmp(sub, "summary")) rc = cmd_summary(argc - 1, argv + 1);
    else {
        fprintf(stderr, "aiopslab: traces: unknown subcommand \"%s\"\n", sub);
        rc = usage(stderr);
    }
    curl_global_cleanup();
    return rc;
}
