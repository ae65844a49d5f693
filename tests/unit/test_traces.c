/* test_traces: the trace store's pieces — OTLP JSON parsing (and refusing
 * malformed input), Jaeger rendering, /api/traces parameters, and the
 * SQLite store's queries, filters and bounds. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "observe/trace_jaeger.h"
#include "observe/trace_otlp.h"
#include "observe/trace_store.h"
#include "t.h"

static const char SAMPLE[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"frontend\"}},"
    "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"pod-1\"}}]},"
    "\"scopeSpans\":[{\"scope\":{\"name\":\"kit\"},\"spans\":["
    "{\"traceId\":\"0123456789ABCDEF0123456789abcdef\",\"spanId\":\"00000000000000a1\",\"name\":\"GET /\","
    "\"kind\":2,\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":\"1700000000005000000\","
    "\"attributes\":[{\"key\":\"http.status_code\",\"value\":{\"intValue\":\"500\"}},"
    "{\"key\":\"ok\",\"value\":{\"boolValue\":false}},{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.5}}],"
    "\"status\":{\"code\":2,\"message\":\"boom\"},"
    "\"events\":[{\"timeUnixNano\":\"1700000000001000000\",\"name\":\"retry\"}]},"
    "{\"traceId\":\"0123456789abcdef0123456789abcdef\",\"spanId\":\"00000000000000a2\","
    "\"parentSpanId\":\"00000000000000a1\",\"name\":\"search\",\"kind\":\"SPAN_KIND_CLIENT\","
    "\"startTimeUnixNano\":1700000000001000000,\"endTimeUnixNano\":1700000000003000000,"
    "\"status\":{\"code\":\"STATUS_CODE_OK\"}}"
    "]}]}]}";

static json_t *tags_of(const char *text)
{
    json_t *t = json_loads(text, 0, NULL);
    T_CHECK(json_is_array(t));
    return t;
}

static json_t *tag(json_t *tags, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) if (!strcmp(json_string_value(json_object_get(t, "key")), key)) return t;
    return NULL;
}

static void test_otlp_parse(void)
{
    struct trace_batch b;
    trace_batch_init(&b);
    size_t rejected = 9;
    char err[256];
    T_EQ_INT(trace_otlp_parse(SAMPLE, strlen(SAMPLE), &b, &rejected, err, sizeof err), 0);
    T_EQ_INT(rejected, 0);
    T_EQ_INT(b.n, 2);
    struct trace_span *s = &b.spans[0];
    T_EQ_STR(s->trace_id, "0123456789abcdef0123456789abcdef"); /* lowercased */
    T_EQ_STR(s->span_id, "00000000000000a1");
    T_EQ_STR(s->parent_id, "");
    T_EQ_STR(s->service, "frontend");
    T_EQ_STR(s->operation, "GET /");
    T_EQ_INT(s->kind, 2);
    T_EQ_INT(s->error, 1);
    T_EQ_INT(s->start_us, 1700000000000000LL);
    T_EQ_INT(s->duration_us, 5000);
    json_t *tags = tags_of(s->tags);
    T_EQ_INT(json_integer_value(json_object_get(tag(tags, "http.status_code"), "value")), 500);
    T_EQ_STR(json_string_value(json_object_get(tag(tags, "http.status_code"), "type")), "int64");
    T_EQ_STR(json_string_value(json_object_get(tag(tags, "ok"), "type")), "bool");
    T_EQ_STR(json_string_value(json_object_get(tag(tags, "ratio"), "type")), "float64");
    T_EQ_STR(json_string_value(json_object_get(tag(tags, "span.kind"), "value")), "server");
    T_EQ_STR(json_string_value(json_object_get(tag(tags, "otel.status_code"), "value")), "ERROR");
    T_EQ_STR(json_string_value(json_object_get(tag(tags, "otel.status_description"), "value")), "boom");
    T_CHECK(json_is_true(json_object_get(tag(tags, "error"), "value")));
    json_decref(tags);
    json_t *ptags = tags_of(s->ptags);
    T_CHECK(tag(ptags, "host.name") && !tag(ptags, "service.name"));
    json_decref(ptags);
    json_t *logs = tags_of(s->logs);
    T_EQ_INT(json_array_size(logs), 1);
    T_EQ_INT(json_integer_value(json_object_get(json_array_get(logs, 0), "timestamp")), 1700000000001000LL);
    json_decref(logs);
    s = &b.spans[1];
    T_EQ_STR(s->parent_id, "00000000000000a1");
    T_EQ_INT(s->kind, 3);
    T_EQ_INT(s->error, 0);
    T_EQ_INT(s->duration_us, 2000);
    trace_batch_free(&b);
}

static int parse_count(const char *body, size_t *rejected)
{
    struct trace_batch b;
    trace_batch_init(&b);
    char err[256] = "";
    int rc = trace_otlp_parse(body, strlen(body), &b, rejected, err, sizeof err);
    if (rc) T_CHECK(err[0]); /* a refusal says why */
    int n = rc ? rc : (int)b.n;
    trace_batch_free(&b);
    return n;
}

#define SPAN(tid, sid, start, end) \
    "{\"traceId\":\"" tid "\",\"spanId\":\"" sid "\",\"name\":\"x\",\"startTimeUnixNano\":\"" start \
    "\",\"endTimeUnixNano\":\"" end "\"}"
#define REQ(spans) "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[" spans "]}]}]}"
#define TID "0123456789abcdef0123456789abcdef"

/* The stored text of tricky values is what the jansson-based parser wrote
 * (escapes, reals as "%.17g", an arrayValue as its compact JSON, bytesValue
 * dropped), and context that comes after the spans (scope, resource) still
 * applies to them. */
static const char TRICKY[] =
    "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"value\":{\"stringValue\":\"a\\\"b\\\\c\\/d\\u00e9\\"
    "u0001\\t\\ud83d\\ude00\"},\"key\":\"s\"},{\"key\":\"r\",\"value\":{\"doubleValue\":1e21}},{\"key\":\"h\",\"value\":{\"doubl"
    "eValue\":0.1}},{\"key\":\"i\",\"value\":{\"intValue\":\"-42\"}},{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"d"
    "oubleValue\":3},{\"stringValue\":\"x\\ny\"}]}}},{\"key\":\"bytes\",\"value\":{\"bytesValue\":\"aGk=\"}}],\"traceId\":\""
    "0123456789abcdef0123456789abcdef\",\"spanId\":\"00000000000000a1\",\"startTimeUnixNano\":\"17000000000000000"
    "00\",\"endTimeUnixNano\":\"1700000000005000000\",\"name\":\"op\",\"status\":{\"code\":2}}],\"scope\":{\"name\":\"late-"
    "scope\"}}],\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"late-svc\"}},{\"key\""
    ":\"x\",\"value\":{\"boolValue\":true}}]}}]}";

static void test_otlp_text_compat(void)
{
    struct trace_batch b;
    trace_batch_init(&b);
    size_t rej;
    char err[256];
    T_EQ_INT(trace_otlp_parse(TRICKY, strlen(TRICKY), &b, &rej, err, sizeof err), 0);
    T_EQ_INT(b.n, 1);
    T_EQ_STR(b.spans[0].service, "late-svc");
    T_EQ_STR(b.spans[0].tags,
             "[{\"key\":\"s\",\"type\":\"string\",\"value\":\"a\\\"b\\\\c/dé\\u0001\\t😀\"},{\"key\":\"r\",\"type\":\"float64\",\"value\":1e21}"
    ",{\"key\":\"h\",\"type\":\"float64\",\"value\":0.10000000000000001},{\"key\":\"i\",\"type\":\"int64\",\"value\":-42},{\"k"
    "ey\":\"a\",\"type\":\"string\",\"value\":\"{\\\"values\\\":[{\\\"doubleValue\\\":3},{\\\"stringValue\\\":\\\"x\\\\ny\\\"}]}\"},{\""
    "key\":\"otel.status_code\",\"type\":\"string\",\"value\":\"ERROR\"},{\"key\":\"otel.scope.name\",\"type\":\"string\",\"v"
    "alue\":\"late-scope\"},{\"key\":\"error\",\"type\":\"bool\",\"value\":true}]");
    T_EQ_STR(b.spans[0].ptags, "[{\"key\":\"x\",\"type\":\"bool\",\"value\":true}]");
    T_EQ_STR(b.spans[0].logs, "[]");
    trace_batch_free(&b);
    /* jansson refused these; so must the reader */
    const char *bad[] = {"{\"a\":1,\"a\":2}", "{\"a\":\"\\u0000\"}", "{\"a\":01}", "{\"a\":1e999}",
                         "{\"a\":9223372036854775808}", "{\"a\":\"\\ud800\"}", "{\"a\":1} x", "5", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        T_EQ_INT(trace_otlp_parse(bad[i], strlen(bad[i]), &b, &rej, err, sizeof err), -EINVAL);
    T_EQ_INT(b.n, 0);
}

/* The writer takes at most so many spans per transaction, in order. */
static void test_batch_take(void)
{
    struct trace_batch q, t;
    trace_batch_init(&q);
    trace_batch_init(&t);
    for (int i = 0; i < 5; i++) trace_batch_add(&q)->start_us = i;
    trace_batch_take(&t, &q, 3);
    T_EQ_INT(t.n, 3);
    T_EQ_INT(q.n, 2);
    T_EQ_INT(t.spans[2].start_us, 2);
    T_EQ_INT(q.spans[0].start_us, 3);
    trace_batch_take(&t, &q, 3);
    T_EQ_INT(t.n, 5);
    T_EQ_INT(q.n, 0);
    T_EQ_INT(t.spans[4].start_us, 4);
    trace_batch_free(&t);
    trace_batch_free(&q);
}

static void test_otlp_malformed(void)
{
    size_t rej;
    T_EQ_INT(parse_count("", &rej), -EINVAL);
    T_EQ_INT(parse_count("{\"resourceSpans\":[", &rej), -EINVAL);
    T_EQ_INT(parse_count("[]", &rej), -EINVAL);
    T_EQ_INT(parse_count("{\"resourceSpans\":{}}", &rej), -EINVAL);
    T_EQ_INT(parse_count("{\"resourceSpans\":[],\"resourceSpans\":[]}", &rej), -EINVAL); /* duplicate key */
    T_EQ_INT(parse_count("{}", &rej), 0);
    T_EQ_INT(parse_count("{\"resourceSpans\":[1,\"x\",{\"scopeSpans\":7}]}", &rej), 0);
    /* one good span; bad ids and times are rejected one by one */
    T_EQ_INT(parse_count(REQ(SPAN(TID, "0000000000000001", "10", "20") ","
                             SPAN("00000000000000000000000000000000", "0000000000000001", "10", "20") ","
                             SPAN(TID, "000000000000001", "10", "20") ","
                             SPAN(TID, "000000000000000g", "10", "20") ","
                             SPAN(TID, "0000000000000001", "20", "10") ","
                             SPAN(TID, "0000000000000001", "-1", "10") ","
                             SPAN(TID, "0000000000000001", "99999999999999999999999", "10") ",7"),
                         &rej),
             1);
    T_EQ_INT(rej, 7);
    /* no service.name: unknown_service */
    struct trace_batch b;
    trace_batch_init(&b);
    char err[64];
    const char *body = REQ(SPAN(TID, "0000000000000001", "1000", "2000"));
    T_EQ_INT(trace_otlp_parse(body, strlen(body), &b, &rej, err, sizeof err), 0);
    T_EQ_STR(b.spans[0].service, "unknown_service");
    trace_batch_free(&b);
}

static void test_jaeger_render(void)
{
    struct trace_batch b;
    trace_batch_init(&b);
    size_t rej;
    char err[64];
    T_EQ_INT(trace_otlp_parse(SAMPLE, strlen(SAMPLE), &b, &rej, err, sizeof err), 0);
    free(b.spans[1].service);
    b.spans[1].service = strdup("search");
    json_t *t = trace_jaeger_trace(b.spans, b.n);
    T_EQ_STR(json_string_value(json_object_get(t, "traceID")), TID);
    json_t *spans = json_object_get(t, "spans");
    T_EQ_INT(json_array_size(spans), 2);
    json_t *s0 = json_array_get(spans, 0), *s1 = json_array_get(spans, 1);
    T_EQ_INT(json_array_size(json_object_get(s0, "references")), 0);
    json_t *ref = json_array_get(json_object_get(s1, "references"), 0);
    T_EQ_STR(json_string_value(json_object_get(ref, "refType")), "CHILD_OF");
    T_EQ_STR(json_string_value(json_object_get(ref, "spanID")), "00000000000000a1");
    T_EQ_INT(json_integer_value(json_object_get(s0, "startTime")), 1700000000000000LL);
    T_EQ_INT(json_integer_value(json_object_get(s0, "duration")), 5000);
    T_EQ_STR(json_string_value(json_object_get(s0, "processID")), "p1");
    T_EQ_STR(json_string_value(json_object_get(s1, "processID")), "p2");
    T_CHECK(json_is_null(json_object_get(s0, "warnings")));
    T_EQ_STR(json_path_str(t, "processes.p1.serviceName", ""), "frontend");
    T_EQ_STR(json_path_str(t, "processes.p2.serviceName", ""), "search");
    json_t *env = trace_jaeger_envelope(json_pack("[o]", t));
    T_EQ_INT(json_integer_value(json_object_get(env, "total")), 1);
    T_CHECK(json_is_null(json_object_get(env, "errors")));
    json_decref(env);
    json_t *e = trace_jaeger_error(400, "nope");
    T_CHECK(json_is_null(json_object_get(e, "data")));
    T_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(e, "errors"), 0), "msg")), "nope");
    json_decref(e);
    trace_batch_free(&b);
}

/* The text the API serves is the tree trace_jaeger_trace builds, also for
 * names that need escaping. */
static void test_jaeger_write(void)
{
    struct trace_batch b;
    trace_batch_init(&b);
    size_t rej;
    char err[64];
    T_EQ_INT(trace_otlp_parse(SAMPLE, strlen(SAMPLE), &b, &rej, err, sizeof err), 0);
    free(b.spans[1].operation);
    b.spans[1].operation = strdup("say \"hi\"\\ \x01\t\xc3\xa9");
    free(b.spans[1].service);
    b.spans[1].service = strdup("s\n2");
    json_t *tree = trace_jaeger_trace(b.spans, b.n);
    struct buf out;
    buf_init(&out, 1 << 20);
    T_EQ_INT(trace_jaeger_write(&out, b.spans, b.n), 0);
    json_error_t jerr;
    json_t *text = json_loads(out.data, 0, &jerr);
    if (!text) fprintf(stderr, "# %s: %s\n", jerr.text, out.data);
    T_CHECK(text);
    T_CHECK(json_equal(tree, text));
    json_decref(tree);
    json_decref(text);
    buf_free(&out);
    buf_init(&out, 64); /* too small: refused, not cut */
    T_EQ_INT(trace_jaeger_write(&out, b.spans, b.n), -E2BIG);
    buf_free(&out);
    trace_batch_free(&b);
}

static const char *kv_get(void *ctx, const char *name)
{
    for (const char **p = ctx; *p; p += 2)
        if (!strcmp(p[0], name)) return p[1];
    return NULL;
}

static int qparse(const char **kv, struct trace_query *q)
{
    char err[256] = "";
    int rc = trace_query_parse(kv_get, kv, 1000000000000000LL, q, err, sizeof err);
    if (rc) T_CHECK(err[0]);
    return rc;
}

static void test_query_parse(void)
{
    struct trace_query q;
    const char *none[] = {NULL};
    T_EQ_INT(qparse(none, &q), -EINVAL);
    const char *basic[] = {"service", "fe", NULL};
    T_EQ_INT(qparse(basic, &q), 0);
    T_EQ_INT(q.limit, TRACE_LIMIT_DEFAULT);
    T_EQ_INT(q.start_max_us, 1000000000000000LL);
    T_EQ_INT(q.start_min_us, 1000000000000000LL - 3600LL * 1000000);
    T_EQ_INT(q.error, -1);
    trace_query_free(&q);
    const char *full[] = {"service", "fe", "operation", "GET /", "lookback", "5m", "limit", "7", "minDuration",
                          "100ms", "maxDuration", "1.5s", "tags", "{\"error\":\"true\",\"http.status_code\":500}",
                          NULL};
    T_EQ_INT(qparse(full, &q), 0);
    T_EQ_STR(q.operation, "GET /");
    T_EQ_INT(q.limit, 7);
    T_EQ_INT(q.start_min_us, 1000000000000000LL - 300LL * 1000000);
    T_EQ_INT(q.dur_min_us, 100000);
    T_EQ_INT(q.dur_max_us, 1500000);
    T_EQ_INT(q.error, 1);
    T_EQ_STR(json_string_value(json_object_get(q.tags, "http.status_code")), "500");
    trace_query_free(&q);
    const char *days[] = {"service", "fe", "lookback", "2d", "tag", "error:false", NULL};
    T_EQ_INT(qparse(days, &q), 0);
    T_EQ_INT(q.start_min_us, 1000000000000000LL - 2LL * 86400 * 1000000);
    T_EQ_INT(q.error, 0);
    trace_query_free(&q);
    const char *window[] = {"service", "fe", "start", "100", "end", "200", NULL};
    T_EQ_INT(qparse(window, &q), 0);
    T_EQ_INT(q.start_min_us, 100);
    T_EQ_INT(q.start_max_us, 200);
    trace_query_free(&q);
    const char *bad[][5] = {
        {"service", "fe", "limit", "-1", NULL},        {"service", "fe", "limit", "99999", NULL},
        {"service", "fe", "lookback", "nan", NULL},    {"service", "fe", "lookback", "5x", NULL},
        {"service", "fe", "minDuration", "-1s", NULL}, {"service", "fe", "tags", "[1]", NULL},
        {"service", "fe", "tags", "{\"a\":", NULL},    {"service", "fe", "tag", "novalue", NULL},
        {"service", "fe", "start", "4000000000000000", NULL},       {"service", "", NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) T_EQ_INT(qparse(bad[i], &q), -EINVAL);
    const char *minmax[] = {"service", "fe", "minDuration", "2s", "maxDuration", "1s", NULL};
    T_EQ_INT(qparse(minmax, &q), -EINVAL);
}

/* A store in a temporary directory, filled with n traces of 3 spans:
 * trace i starts at base + i ms, its root lasts (i % 10 + 1) ms on service
 * svc(i % 3), every 5th trace has an error on its leaf. */
static struct trace_store *filled(char *dir, int n, int64_t base)
{
    char path[300], err[256];
    T_CHECK(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.db", dir);
    struct trace_store *st;
    T_EQ_INT(trace_store_open(path, 1, &st, err, sizeof err), 0);
    struct trace_batch b;
    trace_batch_init(&b);
    const char *svcs[] = {"frontend", "search", "geo"};
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++) {
            struct trace_span *s = trace_batch_add(&b);
            snprintf(s->trace_id, sizeof s->trace_id, "%032x", i + 1);
            snprintf(s->span_id, sizeof s->span_id, "%016x", (i + 1) * 16 + j);
            if (j) snprintf(s->parent_id, sizeof s->parent_id, "%016x", (i + 1) * 16 + j - 1);
            s->service = strdup(j ? svcs[j] : svcs[i % 3]);
            s->operation = strdup(j == 0 ? "GET /" : j == 1 ? "query" : "lookup");
            s->kind = j == 0 ? 2 : 3;
            s->start_us = base + i * 1000 + j;
            s->duration_us = j == 0 ? (i % 10 + 1) * 1000 : 100;
            s->error = j == 2 && i % 5 == 0;
            s->tags = strdup(j == 1 ? "[{\"key\":\"db\",\"type\":\"string\",\"value\":\"mongo\"}]" : "[]");
            s->logs = strdup("[]");
            s->ptags = strdup("[]");
        }
    }
    T_EQ_INT(trace_store_insert(st, &b, err, sizeof err), 0);
    trace_batch_free(&b);
    return st;
}

static int find_n(struct trace_store *st, const char **kv, int64_t now, json_t **out)
{
    struct trace_query q;
    char err[256];
    T_EQ_INT(trace_query_parse(kv_get, kv, now, &q, err, sizeof err), 0);
    struct buf text;
    buf_init(&text, 1 << 26);
    int ntraces = -1;
    T_EQ_INT(trace_store_find(st, &q, &text, &ntraces, err, sizeof err), 0);
    trace_query_free(&q);
    json_t *r = json_loads(text.data, 0, NULL);
    buf_free(&text);
    T_CHECK(json_is_array(r));
    int n = (int)json_array_size(r);
    T_EQ_INT(n, ntraces);
    if (out) *out = r;
    else json_decref(r);
    return n;
}

static void test_store_queries(void)
{
    char dir[] = "/tmp/test-traces-XXXXXX";
    int64_t base = 1700000000000000LL, now = base + 100 * 1000;
    struct trace_store *st = filled(dir, 100, base);
    char err[256];
    json_t *v = trace_store_services(st, err, sizeof err);
    T_EQ_INT(json_array_size(v), 3);
    T_EQ_STR(json_string_value(json_array_get(v, 0)), "frontend");
    json_decref(v);
    v = trace_store_operations(st, "search", 0, err, sizeof err);
    T_EQ_INT(json_array_size(v), 2); /* GET / (roots of every 3rd trace) and query */
    json_decref(v);
    v = trace_store_operations(st, "search", 1, err, sizeof err);
    T_EQ_STR(json_string_value(json_object_get(json_array_get(v, 0), "spanKind")), "server");
    json_decref(v);

    /* every trace touches search: the 20 newest, newest first, whole traces */
    json_t *r;
    const char *q1[] = {"service", "search", NULL};
    T_EQ_INT(find_n(st, q1, now, &r), 20);
    T_EQ_STR(json_string_value(json_object_get(json_array_get(r, 0), "traceID")), "00000000000000000000000000000064");
    T_EQ_INT(json_array_size(json_object_get(json_array_get(r, 0), "spans")), 3);
    json_decref(r);
    const char *q2[] = {"service", "frontend", "operation", "GET /", "limit", "1000", NULL};
    T_EQ_INT(find_n(st, q2, now, NULL), 34); /* i % 3 == 0 for i < 100 */
    const char *q3[] = {"service", "geo", "lookback", "10ms", "limit", "1000", NULL};
    T_EQ_INT(find_n(st, q3, now, NULL), 10); /* traces 90..99 started in the last 10 ms */
    const char *q4[] = {"service", "search", "minDuration", "9ms", "limit", "1000", NULL};
    int want = 0;
    for (int i = 0; i < 100; i++) want += i % 3 == 1 && i % 10 >= 8;
    T_EQ_INT(find_n(st, q4, now, NULL), want); /* search roots lasting 9 or 10 ms */
    const char *q5[] = {"service", "search", "maxDuration", "1ms", "operation", "GET /", "limit", "1000", NULL};
    T_EQ_INT(find_n(st, q5, now, NULL), 3); /* search roots (i % 3 == 1) with i % 10 == 0: 10, 40, 70 */
    const char *q6[] = {"service", "geo", "tags", "{\"error\":\"true\"}", "limit", "1000", NULL};
    T_EQ_INT(find_n(st, q6, now, NULL), 20);
    const char *q7[] = {"service", "search", "tags", "{\"db\":\"mongo\"}", "limit", "1000", NULL};
    T_EQ_INT(find_n(st, q7, now, NULL), 100);
    const char *q8[] = {"service", "search", "tags", "{\"db\":\"redis\"}", NULL};
    T_EQ_INT(find_n(st, q8, now, NULL), 0);
    const char *q9[] = {"service", "nosuch", NULL};
    T_EQ_INT(find_n(st, q9, now, NULL), 0);

    struct buf out;
    buf_init(&out, 1 << 20);
    T_EQ_INT(trace_store_trace(st, "0000000000000000000000000000000A", &out, err, sizeof err), 0);
    v = json_loads(out.data, 0, NULL);
    T_EQ_INT(json_array_size(json_object_get(v, "spans")), 3);
    T_EQ_STR(json_string_value(json_object_get(v, "traceID")), "0000000000000000000000000000000a");
    json_decref(v);
    buf_reset(&out);
    T_EQ_INT(trace_store_trace(st, "000000000000000a", &out, err, sizeof err), 0); /* 64-bit form */
    T_EQ_INT(trace_store_trace(st, "00000000000000000000000000000fff", &out, err, sizeof err), -ENOENT);
    T_EQ_INT(trace_store_trace(st, "xyz", &out, err, sizeof err), -EINVAL);
    buf_free(&out);

    v = trace_store_stats(st, base, 5, err, sizeof err);
    T_CHECK(v);
    T_EQ_INT(json_array_size(json_object_get(v, "services")), 3);
    T_EQ_INT(json_array_size(json_object_get(v, "slowest")), 5);
    T_EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(v, "slowest"), 0), "duration")), 10000);
    T_EQ_INT(json_array_size(json_object_get(v, "erroring")), 5);
    json_decref(v);
    trace_store_close(st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    T_EQ_INT(system(cmd), 0);
}

static void test_store_bounds(void)
{
    char dir[] = "/tmp/test-traces-XXXXXX";
    int64_t base = 1700000000000000LL;
    struct trace_store *st = filled(dir, 100, base);
    T_EQ_INT(trace_store_count(st), 300);
    T_EQ_INT(trace_store_prune(st, 120, 0, 7), 180); /* the oldest go, in chunks */
    T_EQ_INT(trace_store_count(st), 120);
    const char *q[] = {"service", "search", "limit", "1000", NULL};
    T_EQ_INT(find_n(st, q, base + 100000, NULL), 40);
    /* by age: spans that started before trace 80 */
    T_EQ_INT(trace_store_prune(st, 0, base + 80 * 1000, 1000), 60);
    T_EQ_INT(trace_store_count(st), 60);
    T_EQ_INT(trace_store_prune(st, 1000, base, 1000), 0);
    trace_store_close(st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    T_EQ_INT(system(cmd), 0);
}

static int64_t db_scalar(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    int64_t v = -1;
    T_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return v;
}

static int trace_spans(struct trace_store *st, const char *id)
{
    struct buf out;
    char err[256];
    buf_init(&out, 1 << 20);
    int n = -1;
    if (!trace_store_trace(st, id, &out, err, sizeof err)) {
        json_t *v = json_loads(out.data, 0, NULL);
        n = (int)json_array_size(json_object_get(v, "spans"));
        json_decref(v);
    }
    buf_free(&out);
    return n;
}

/* Traces are rows of their own, numbered on their first span: spans of one
 * trace that arrive apart are one trace; pruning takes the traces left
 * without spans; a database of schema 1 is converted when opened. */
static void test_store_trace_numbers(void)
{
    char dir[] = "/tmp/test-traces-XXXXXX", path[300], err[256];
    int64_t base = 1700000000000000LL;
    struct trace_store *st = filled(dir, 10, base);
    snprintf(path, sizeof path, "%s/t.db", dir);
    struct trace_batch b;
    trace_batch_init(&b);
    struct trace_span *s = trace_batch_add(&b);
    snprintf(s->trace_id, sizeof s->trace_id, "%032x", 3); /* a late span of trace 3 */
    snprintf(s->span_id, sizeof s->span_id, "%016x", 999);
    s->service = strdup("geo");
    s->operation = strdup("late");
    s->start_us = base + 50000;
    T_EQ_INT(trace_store_insert(st, &b, err, sizeof err), 0);
    trace_batch_free(&b);
    T_EQ_INT(trace_spans(st, "00000000000000000000000000000003"), 4);
    T_EQ_INT(db_scalar(path, "SELECT COUNT(*) FROM traces"), 10);
    T_EQ_INT(db_scalar(path, "PRAGMA user_version"), 2);
    /* 30 spans; keep the newest 10: traces 1-7 lose every span but trace 3 its late one */
    T_EQ_INT(trace_store_prune(st, 10, 0, 1000), 21);
    T_EQ_INT(trace_spans(st, "00000000000000000000000000000003"), 1);
    T_EQ_INT(trace_spans(st, "00000000000000000000000000000002"), -1);
    T_EQ_INT(db_scalar(path, "SELECT COUNT(*) FROM traces"), 8); /* 1 and 2 went; 3 holds the rest */
    trace_store_close(st);

    /* schema 1, as the previous version wrote it */
    char old[320];
    snprintf(old, sizeof old, "%s/v1.db", dir);
    sqlite3 *db;
    T_EQ_INT(sqlite3_open(old, &db), SQLITE_OK);
    T_EQ_INT(sqlite3_exec(db,
                          "CREATE TABLE spans(id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,"
                          " parent_id TEXT NOT NULL, service TEXT NOT NULL, operation TEXT NOT NULL, kind INTEGER NOT"
                          " NULL, start_us INTEGER NOT NULL, duration_us INTEGER NOT NULL, error INTEGER NOT NULL,"
                          " tags TEXT, logs TEXT, ptags TEXT);"
                          "CREATE INDEX spans_trace ON spans(trace_id);"
                          "CREATE INDEX spans_service2 ON spans(service, start_us, duration_us, error, trace_id);"
                          "CREATE INDEX spans_operation2 ON spans(service, operation, start_us, duration_us, error,"
                          " trace_id);"
                          "CREATE INDEX spans_start ON spans(start_us);"
                          "CREATE TABLE ops(service TEXT NOT NULL, operation TEXT NOT NULL, kind INTEGER NOT NULL,"
                          " PRIMARY KEY(service, operation, kind)) WITHOUT ROWID;"
                          "INSERT INTO ops VALUES('geo', 'lookup', 3);"
                          "INSERT INTO spans VALUES(1, 'aa', '01', '', 'geo', 'lookup', 3, 100, 5, 0, '[]', '[]', '[]');"
                          "INSERT INTO spans VALUES(2, 'bb', '02', '', 'geo', 'lookup', 3, 200, 5, 1, '[]', '[]', '[]');"
                          "INSERT INTO spans VALUES(3, 'aa', '03', '01', 'geo', 'lookup', 3, 300, 5, 0, '[]', '[]',"
                          " '[]');",
                          NULL, NULL, NULL),
             SQLITE_OK);
    sqlite3_close(db);
    T_EQ_INT(trace_store_open(old, 1, &st, err, sizeof err), 0);
    T_EQ_INT(db_scalar(old, "SELECT COUNT(*) FROM spans"), 3);
    T_EQ_INT(db_scalar(old, "SELECT COUNT(*) FROM traces"), 2);
    T_EQ_INT(db_scalar(old, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'spans_v1'"), 0);
    T_EQ_INT(db_scalar(old, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'spans_%2'"), 0);
    json_t *v = trace_store_stats(st, 0, 5, err, sizeof err);
    T_EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(v, "services"), 0), "traces")), 2);
    T_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(v, "erroring"), 0), "traceID")), "bb");
    json_decref(v);
    trace_store_close(st);
    T_EQ_INT(trace_store_open(old, 1, &st, err, sizeof err), 0); /* and opened again as is */
    trace_store_close(st);
    T_EQ_INT(sqlite3_open(old, &db), SQLITE_OK);
    T_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    T_CHECK(trace_store_open(old, 1, &st, err, sizeof err) < 0); /* a newer version's */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    T_EQ_INT(system(cmd), 0);
}

static void test_tags_match(void)
{
    json_t *want = json_pack("{s:s, s:s}", "http.status_code", "500", "ok", "false");
    T_CHECK(trace_tags_match("[{\"key\":\"http.status_code\",\"type\":\"int64\",\"value\":500},"
                             "{\"key\":\"ok\",\"type\":\"bool\",\"value\":false}]",
                             want));
    T_CHECK(!trace_tags_match("[{\"key\":\"http.status_code\",\"type\":\"int64\",\"value\":200}]", want));
    T_CHECK(!trace_tags_match("not json", want));
    json_decref(want);
    T_CHECK(trace_tags_match("[]", NULL));
}

int main(void)
{
    T_RUN(test_otlp_parse);
    T_RUN(test_otlp_malformed);
    T_RUN(test_otlp_text_compat);
    T_RUN(test_batch_take);
    T_RUN(test_jaeger_render);
    T_RUN(test_jaeger_write);
    T_RUN(test_query_parse);
    T_RUN(test_store_queries);
    T_RUN(test_store_bounds);
    T_RUN(test_store_trace_numbers);
    T_RUN(test_tags_match);
    return t_done();
}
