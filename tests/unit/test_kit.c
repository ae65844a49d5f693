/* test_kit: unit tests of the service kit's pure parts (apps/kit): W3C
 * traceparent parsing and formatting, URL and form decoding, the
 * Prometheus text of the metrics registry, the OTLP JSON of spans, ids,
 * the Go-style error texts, the retry policy's parsing and back-off, the
 * HTTP/1.1 client's framing and connection reuse (scripted server), and
 * the release table; the memcached multi-get against a real
 * memcached (when installed) and against a scripted server (the answers
 * memcached gives rarely). Linked with libkit.a like an app (never with
 * src/); the server, calls and other store operations are covered by
 * tests/e2e/kit.sh.
 */
#include "t.h"
#include "kit_int.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

static void test_traceparent_parse(void)
{
    struct kit_trace_ctx c;
    T_EQ_INT(kit__traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c), 0);
    T_EQ_INT(c.trace_id[0], 0x4b);
    T_EQ_INT(c.trace_id[15], 0x36);
    T_EQ_INT(c.span_id[7], 0xb7);
    T_EQ_INT(c.flags, 1);
    T_EQ_INT(kit__traceparent_parse("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ", &c), 0);
    T_EQ_INT(c.flags, 0);
    /* A future version may append fields. */
    T_EQ_INT(kit__traceparent_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what", &c), 0);
    const char *bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      /* no flags */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* uppercase */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace
                                                                      */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero span */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff
                                                                      */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* v00 with
                                                                        extra */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (kit__traceparent_parse(bad[i], &c) != -EINVAL) fprintf(stderr, "# accepted: %s\n", bad[i]);
        T_EQ_INT(kit__traceparent_parse(bad[i], &c), -EINVAL);
    }
    T_EQ_INT(kit__traceparent_parse(NULL, &c), -EINVAL);
}

static void test_traceparent_format(void)
{
    struct kit_trace_ctx c;
    const char *in = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    T_EQ_INT(kit__traceparent_parse(in, &c), 0);
    char out[64];
    kit__traceparent_format(c.trace_id, c.span_id, c.flags, out);
    T_EQ_STR(out, in);
    char hex[33];
    kit__hex(c.trace_id, 16, hex);
    T_EQ_STR(hex, "0af7651916cd43dd8448eb211c80319c");
}

static void test_random_ids(void)
{
    uint8_t a[16], b[16];
    kit__random_id(a, 16);
    kit__random_id(b, 16);
    T_CHECK(memcmp(a, b, 16) != 0);
    int zero = 1;
    for (int i = 0; i < 16; i++)
        zero &= !a[i];
    T_CHECK(!zero);
}

static void test_url_decode(void)
{
    char s1[] = "a%20b+c%26d%C3%A9";
    T_EQ_INT(kit__url_decode(s1), 0);
    T_EQ_STR(s1, "a b c&d\xc3\xa9");
    char s2[] = "plain";
    T_EQ_INT(kit__url_decode(s2), 0);
    T_EQ_STR(s2, "plain");
    char b1[] = "x%2", b2[] = "x%zz", b3[] = "x%00y", b4[] = "%";
    T_EQ_INT(kit__url_decode(b1), -EINVAL);
    T_EQ_INT(kit__url_decode(b2), -EINVAL);
    T_EQ_INT(kit__url_decode(b3), -EINVAL);
    T_EQ_INT(kit__url_decode(b4), -EINVAL);
}

static void test_form_parse(void)
{
    char **p;
    size_t n;
    const char *text = "a=1&b=x%26y&&c&d=&e+f=g+h";
    T_EQ_INT(kit__form_parse(text, strlen(text), &p, &n), 0);
    T_EQ_INT(n, 5);
    T_EQ_STR(p[0], "a");
    T_EQ_STR(p[1], "1");
    T_EQ_STR(p[2], "b");
    T_EQ_STR(p[3], "x&y");
    T_EQ_STR(p[4], "c");
    T_EQ_STR(p[5], "");
    T_EQ_STR(p[6], "d");
    T_EQ_STR(p[7], "");
    T_EQ_STR(p[8], "e f");
    T_EQ_STR(p[9], "g h");
    kit__form_free(p, n);
    T_EQ_INT(kit__form_parse("a=%zz", 5, &p, &n), -EINVAL);
    T_EQ_INT(kit__form_parse("a=1\0b", 5, &p, &n), -EINVAL); /* an embedded NUL */
    T_EQ_INT(kit__form_parse("", 0, &p, &n), 0);
    T_EQ_INT(n, 0);
}

static void test_metrics_text(void)
{
    struct kit_metrics *m = kit__metrics_new();
    const char *l2[] = {"service", "operation"};
    struct kit_family *c = kit__family(m, "x_requests_total", "Requests.\nSecond line", KIT_COUNTER, 2, l2);
    struct kit_family *h = kit__family(m, "x_seconds", "Latency.", KIT_HISTOGRAM, 2, l2);
    struct kit_family *g = kit__family(m, "x_in_flight", "In flight.", KIT_GAUGE, 0, NULL);
    const char *v1[] = {"svc", "a\"b\\c\nd"};
    const char *v2[] = {"svc", "plain"};
    kit__metric_add(c, 1, v1);
    kit__metric_add(c, 2, v1);
    kit__metric_add(c, 1, v2);
    kit__metric_observe(h, 0.0004, v2);
    kit__metric_observe(h, 0.003, v2);
    kit__metric_observe(h, 99, v2);
    kit__metric_add(g, 3, NULL);
    kit__metric_add(g, -1, NULL);
    T_CHECK(kit__metric_get(c, v1) == 3);
    size_t len;
    char *text = kit__metrics_render(m, 1, &len);
    T_EQ_INT(strlen(text), len);
    T_CHECK(strstr(text, "# HELP x_requests_total Requests.\\nSecond line\n# "
                         "TYPE x_requests_total counter\n"));
    T_CHECK(strstr(text, "x_requests_total{service=\"svc\",operation=\"a\\\"b\\\\c\\nd\"} 3\n"));
    T_CHECK(strstr(text, "x_requests_total{service=\"svc\",operation=\"plain\"} 1\n"));
    T_CHECK(strstr(text, "# TYPE x_seconds histogram\n"));
    T_CHECK(strstr(text, "x_seconds_bucket{service=\"svc\",operation=\"plain\","
                         "le=\"0.0005\"} 1\n"));
    T_CHECK(strstr(text, "x_seconds_bucket{service=\"svc\",operation=\"plain\","
                         "le=\"0.0025\"} 1\n"));
    T_CHECK(strstr(text, "x_seconds_bucket{service=\"svc\",operation=\"plain\","
                         "le=\"0.005\"} 2\n"));
    T_CHECK(strstr(text, "x_seconds_bucket{service=\"svc\",operation=\"plain\",le=\"10\"} 2\n"));
    T_CHECK(strstr(text, "x_seconds_bucket{service=\"svc\",operation=\"plain\",le=\"+Inf\"} 3\n"));
    T_CHECK(strstr(text, "x_seconds_count{service=\"svc\",operation=\"plain\"} 3\n"));
    T_CHECK(strstr(text, "x_seconds_sum{service=\"svc\",operation=\"plain\"} 99.0034\n"));
    T_CHECK(strstr(text, "# TYPE x_in_flight gauge\nx_in_flight 2\n"));
    T_CHECK(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
    T_CHECK(strstr(text, "\nprocess_open_fds "));
    T_CHECK(strstr(text, "\nprocess_threads 1\n"));
    char *rss = strstr(text, "\nprocess_resident_memory_bytes ");
    T_CHECK(rss && strtod(rss + 31, NULL) > 100000);
    /* Every line is a comment or "name{labels} value". */
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        T_CHECK(nl);
        if (*line != '#') {
            char *sp = memrchr(line, ' ', (size_t)(nl - line));
            T_CHECK(sp && sp > line);
        }
        line = nl + 1;
    }
    free(text);
    kit__metrics_free(m);
}

static void test_otlp_json(void)
{
    struct kit k;
    memset(&k, 0, sizeof k);
    k.service = "svc-a";
    struct kit_span *root = kit__span_new(&k, NULL, "compose_post", KIT_SPAN_SERVER);
    struct kit_span *child = kit__span_new(&k, root, "GET user-service/user", KIT_SPAN_CLIENT);
    kit_span_attr(child, "peer.service", "user-service");
    kit_span_attr(child, "peer.service", "user-service-2"); /* replaced, not added */
    kit_span_attr(root, "http.target", "/a?q=\"x\"\\\n\x01");
    kit_span_attr(root, "bad", "\xc3\x28"); /* not UTF-8 */
    child->error = 1;
    child->status_msg = kit__xstrdup("connect to user-service:9090 failed: Connection refused");
    child->end_ns = child->start_ns + 1500;
    root->end_ns = root->start_ns + 9000;
    struct kit_span *spans[] = {root, child};
    char *text = kit__otlp_json("svc-a", spans, 2);
    T_CHECK(text);
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    T_CHECK(doc);
    json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    json_t *attr = json_array_get(json_object_get(json_object_get(rs, "resource"), "attributes"), 0);
    T_EQ_STR(json_string_value(json_object_get(attr, "key")), "service.name");
    T_EQ_STR(json_string_value(json_object_get(json_object_get(attr, "value"), "stringValue")), "svc-a");
    json_t *list = json_object_get(json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans");
    T_EQ_INT(json_array_size(list), 2);
    json_t *s0 = json_array_get(list, 0), *s1 = json_array_get(list, 1);
    char hex[33];
    kit__hex(root->trace_id, 16, hex);
    T_EQ_STR(json_string_value(json_object_get(s0, "traceId")), hex);
    T_EQ_STR(json_string_value(json_object_get(s1, "traceId")), hex);
    T_CHECK(!json_object_get(s0, "parentSpanId"));
    kit__hex(root->span_id, 8, hex);
    T_EQ_STR(json_string_value(json_object_get(s0, "spanId")), hex);
    T_EQ_STR(json_string_value(json_object_get(s1, "parentSpanId")), hex);
    T_EQ_INT(json_integer_value(json_object_get(s0, "kind")), 2);
    T_EQ_INT(json_integer_value(json_object_get(s1, "kind")), 3);
    T_EQ_STR(json_string_value(json_object_get(s1, "name")), "GET user-service/user");
    T_EQ_INT(json_integer_value(json_object_get(json_object_get(s1, "status"), "code")), 2);
    T_EQ_STR(json_string_value(json_object_get(json_object_get(s1, "status"), "message")),
             "connect to user-service:9090 failed: Connection refused");
    T_EQ_INT(json_array_size(json_object_get(s1, "attributes")), 1);
    /* written as text: escapes survive, and a value that is not UTF-8 is left out */
    json_t *a0 = json_array_get(json_object_get(s0, "attributes"), 0);
    T_EQ_STR(json_string_value(json_object_get(a0, "key")), "http.target");
    T_EQ_STR(json_string_value(json_object_get(json_object_get(a0, "value"), "stringValue")),
             "/a?q=\"x\"\\\n\x01");
    T_EQ_INT(json_array_size(json_object_get(s0, "attributes")), 1);
    unsigned long long st = strtoull(json_string_value(json_object_get(s1, "startTimeUnixNano")), NULL, 10);
    unsigned long long en = strtoull(json_string_value(json_object_get(s1, "endTimeUnixNano")), NULL, 10);
    T_EQ_INT(en - st, 1500);
    json_decref(doc);
    free(text);
    kit__span_free(root);
    kit__span_free(child);
}

static void test_error_texts(void)
{
    char err[256];
    kit__dial_error(err, sizeof err, "127.100.1.7", "5432", ECONNREFUSED);
    T_EQ_STR(err, "dial tcp 127.100.1.7:5432: connect: connection refused");
    kit__dial_error(err, sizeof err, "10.0.0.1", "6379", ETIMEDOUT);
    T_EQ_STR(err, "dial tcp 10.0.0.1:6379: i/o timeout");
    setenv("UT_REDIS_PORT", "tcp://10.1.2.3:6380", 1);
    T_EQ_STR(kit__env_port("UT_REDIS", "6379"), "6380");
    setenv("UT_REDIS_PORT", "7000", 1);
    T_EQ_STR(kit__env_port("UT_REDIS", "6379"), "7000");
    unsetenv("UT_REDIS_PORT");
    T_EQ_STR(kit__env_port("UT_REDIS", "6379"), "6379");
    long v;
    T_EQ_INT(kit__parse_long("42", 0, 100, &v), 0);
    T_EQ_INT(v, 42);
    T_EQ_INT(kit__parse_long("42x", 0, 100, &v), -EINVAL);
    T_EQ_INT(kit__parse_long("101", 0, 100, &v), -EINVAL);
    T_EQ_INT(kit__parse_long("", 0, 100, &v), -EINVAL);
}

static void test_pool(void)
{
    struct kit_pool p;
    kit__pool_init(&p, 2);
    void *c = NULL;
    T_EQ_INT(kit__pool_get(&p, &c, 0), 0); /* open a new one */
    T_EQ_INT(kit__pool_get(&p, &c, 0), 0);
    T_EQ_INT(kit__pool_get(&p, &c, 50), -ETIMEDOUT); /* both busy */
    int a = 1;
    kit__pool_put(&p, &a);
    T_EQ_INT(kit__pool_get(&p, &c, 0), 1);
    T_CHECK(c == &a);
    kit__pool_put(&p, NULL); /* broke: its slot frees */
    T_EQ_INT(kit__pool_get(&p, &c, 0), 0);
    free(p.idle);
}

/* ---- memcached multi-get ---- */

/* A listening socket on 127.0.0.1 and its port. */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    T_CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    T_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t al = sizeof a;
    T_CHECK(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    T_CHECK(listen(fd, 8) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct kit_mc *mc_at(int port)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    setenv("PORT", "1", 1);
    setenv("UT_MC_HOST", "127.0.0.1", 1);
    setenv("UT_MC_PORT", p, 1);
    setenv("LOG_LEVEL", "error", 1);
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    return kit_mc_new(kit_new("ut"), "UT_MC");
}

static void test_mc_get_multi(void)
{
    if (access("/usr/bin/memcached", X_OK)) {
        printf("# skipped: no /usr/bin/memcached\n");
        return;
    }
    int port, lfd = listen_any(&port);
    close(lfd); /* memcached takes the port */
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    pid_t pid = fork();
    T_CHECK(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl("/usr/bin/memcached", "memcached", "-l", "127.0.0.1", "-p", ports, "-U", "0", "-u", "nobody", "-m", "16",
              (char *)NULL);
        _exit(127);
    }
    struct kit_mc *mc = mc_at(port);
    char err[512];
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) {
        up = kit_mc_set(NULL, mc, "a", "alpha", 5, 0, err, sizeof err) == 0;
        if (!up) {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    T_CHECK(up);
    T_EQ_INT(kit_mc_set(NULL, mc, "c", "", 0, 0, err, sizeof err), 0);
    T_EQ_INT(kit_mc_set(NULL, mc, "b", "be\r\nta", 6, 0, err, sizeof err), 0);

    /* hits, a miss, an empty value, a repeated key, in the order asked */
    const char *keys[] = {"b", "nope", "a", "c", "b"};
    char *vals[5];
    size_t lens[5];
    T_EQ_INT(kit_mc_get_multi(NULL, mc, keys, 5, vals, lens, err, sizeof err), 4);
    T_EQ_INT(lens[0], 6);
    T_CHECK(!memcmp(vals[0], "be\r\nta", 6));
    T_CHECK(vals[1] == NULL);
    T_EQ_STR(vals[2], "alpha");
    T_EQ_INT(lens[2], 5);
    T_EQ_STR(vals[3], "");
    T_EQ_INT(lens[3], 0);
    T_CHECK(vals[4] && !memcmp(vals[4], "be\r\nta", 6));
    for (int i = 0; i < 5; i++) free(vals[i]);

    /* nothing to ask; a bad key fails the whole call */
    T_EQ_INT(kit_mc_get_multi(NULL, mc, keys, 0, vals, NULL, err, sizeof err), 0);
    const char *bad[] = {"a", "has space"};
    vals[0] = vals[1] = (char *)1;
    T_EQ_INT(kit_mc_get_multi(NULL, mc, bad, 2, vals, NULL, err, sizeof err), -1);
    T_CHECK(vals[0] == NULL && vals[1] == NULL);
    T_CHECK(strstr(err, "index 1") != NULL);

    /* more keys than fit one command line: several `get`s, one round trip */
    enum { N = 300 };
    static char kbuf[N][64];
    const char *many[N];
    char *mv[N];
    for (int i = 0; i < N; i++) {
        snprintf(kbuf[i], sizeof kbuf[i], "post:%04d:abcdefghijklmnopqrstuvwxyz", i);
        many[i] = kbuf[i];
        if (i % 3 == 0) T_EQ_INT(kit_mc_set(NULL, mc, kbuf[i], kbuf[i], strlen(kbuf[i]), 0, err, sizeof err), 0);
    }
    T_EQ_INT(kit_mc_get_multi(NULL, mc, many, N, mv, NULL, err, sizeof err), N / 3);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) T_EQ_STR(mv[i], kbuf[i]);
        else T_CHECK(mv[i] == NULL);
        free(mv[i]);
    }
    /* the connection is still in step */
    char *v = NULL;
    T_EQ_INT(kit_mc_get(NULL, mc, "a", &v, NULL, err, sizeof err), 1);
    T_EQ_STR(v, "alpha");
    free(v);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* A scripted memcached: each connection reads one request and answers it
 * with the next of answers[] (NULL: close without answering). */
struct script {
    int fd;
    const char *answers[4];
    char got[4096];
};

static void *script_serve(void *arg)
{
    struct script *s = arg;
    for (int i = 0; i < 4 && s->answers[i]; i++) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) return NULL;
        ssize_t n = recv(c, s->got, sizeof s->got - 1, 0);
        s->got[n > 0 ? n : 0] = '\0';
        if (strcmp(s->answers[i], "-")) {
            ssize_t w = send(c, s->answers[i], strlen(s->answers[i]), MSG_NOSIGNAL);
            (void)w;
        }
        close(c);
    }
    return NULL;
}

static void test_mc_get_multi_errors(void)
{
    int port;
    struct script s = {.answers = {"VALUE x 0 1\r\n1\r\nSERVER_ERROR out of memory writing get response\r\n",
                                   "VALUE zz 0 1\r\n1\r\nEND\r\n", "VALUE x 0 3\r\n1", NULL}};
    s.fd = listen_any(&port);
    pthread_t t;
    T_CHECK(pthread_create(&t, NULL, script_serve, &s) == 0);
    struct kit_mc *mc = mc_at(port);
    const char *keys[] = {"x", "y"};
    char *vals[2], err[512];
    /* a server error after a hit: -1, no value left behind */
    T_EQ_INT(kit_mc_get_multi(NULL, mc, keys, 2, vals, NULL, err, sizeof err), -1);
    T_EQ_STR(s.got, "get x y\r\n");
    T_EQ_STR(err, "memcache: server error: out of memory writing get response");
    T_CHECK(vals[0] == NULL && vals[1] == NULL);
    /* a key that was not asked for (a fresh connection: the first was closed) */
    T_EQ_INT(kit_mc_get_multi(NULL, mc, keys, 2, vals, NULL, err, sizeof err), -1);
    T_EQ_STR(err, "memcache: unexpected key zz in get result from server");
    T_CHECK(vals[0] == NULL && vals[1] == NULL);
    /* a value cut short by EOF */
    T_EQ_INT(kit_mc_get_multi(NULL, mc, keys, 2, vals, NULL, err, sizeof err), -1);
    T_CHECK(strstr(err, "closed (EOF)") != NULL);
    T_CHECK(vals[0] == NULL && vals[1] == NULL);
    pthread_join(t, NULL);
    close(s.fd);
}

static void test_call_raw_needs_request(void)
{
    char *raw = (char *)1, err[256];
    size_t len = 7;
    T_EQ_INT(kit_call_raw(NULL, "user-service", "POST", "/x", NULL, &raw, &len, err, sizeof err), -EINVAL);
    T_CHECK(raw == NULL && len == 0);
}

static void test_flag_prefix(void)
{
    char p[64];
    T_EQ_INT(kit__flag_prefix("compose-post-service", p, sizeof p), 0);
    T_EQ_STR(p, "composePostService");
    T_EQ_INT(kit__flag_prefix("geo", p, sizeof p), 0);
    T_EQ_STR(p, "geo");
    T_EQ_INT(kit__flag_prefix("nginx-thrift", p, sizeof p), 0);
    T_EQ_STR(p, "nginxThrift");
    T_EQ_INT(kit__flag_prefix("", p, sizeof p), -EINVAL);
    T_EQ_INT(kit__flag_prefix("compose-post-service", p, 8), -EINVAL);
}

static char warned[8][256];
static int nwarned;
static void collect(void *arg, const char *msg)
{
    (void)arg;
    if (nwarned < 8) snprintf(warned[nwarned++], sizeof warned[0], "%s", msg);
}

static int parse_flags(const char *text, const char *service, struct kit_flag_values *v, char *err)
{
    static const char *const services[] = {"compose-post-service", "home-timeline-service", "geo", NULL};
    nwarned = 0;
    return kit__flags_parse(text, strlen(text), service, services, v, collect, NULL, err, 256);
}

static void test_flags_parse(void)
{
    struct kit_flag_values v;
    char err[256];
    const char *on = "{\"flags\": {"
                     "\"composePostServiceFailure\": {\"state\": \"ENABLED\", \"variants\": {\"on\": 25, \"off\": 0}, "
                     "\"defaultVariant\": \"on\"},"
                     "\"composePostServiceHighCpu\": {\"state\": \"ENABLED\", \"variants\": {\"on\": 40, \"off\": 0}, "
                     "\"defaultVariant\": \"on\"},"
                     "\"composePostServiceMemoryLeak\": {\"state\": \"DISABLED\", \"variants\": {\"on\": 4096}, "
                     "\"defaultVariant\": \"on\"},"
                     "\"composePostServiceCacheFailure\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, "
                     "\"off\": false}, \"defaultVariant\": \"on\"},"
                     "\"homeTimelineServiceSlowPath\": {\"state\": \"ENABLED\", \"variants\": {\"on\": 100}, "
                     "\"defaultVariant\": \"on\"},"
                     "\"cartServiceFailure\": {\"state\": \"ENABLED\", \"variants\": {\"on\": 100}, "
                     "\"defaultVariant\": \"on\"},"
                     "\"composePostServiceTurbo\": {\"state\": \"ENABLED\", \"variants\": {\"on\": 1}, "
                     "\"defaultVariant\": \"on\"}}}";
    T_EQ_INT(parse_flags(on, "compose-post-service", &v, err), 0);
    T_EQ_INT(v.value[KIT_FLAG_FAILURE], 25);
    T_EQ_INT(v.value[KIT_FLAG_HIGH_CPU], 40);
    T_EQ_INT(v.value[KIT_FLAG_MEMORY_LEAK], 0); /* DISABLED */
    T_EQ_INT(v.value[KIT_FLAG_CACHE_FAILURE], 100);
    T_EQ_INT(v.value[KIT_FLAG_SLOW_PATH], 0); /* home-timeline-service's, not ours */
    /* Unknown service and unknown kind: one warning each; another known
     * service's flag: none. */
    T_EQ_INT(nwarned, 2);
    T_CHECK(strstr(warned[0], "cartServiceFailure") || strstr(warned[1], "cartServiceFailure"));
    T_CHECK(strstr(warned[0], "composePostServiceTurbo") || strstr(warned[1], "composePostServiceTurbo"));
    T_EQ_INT(parse_flags(on, "home-timeline-service", &v, err), 0);
    T_EQ_INT(v.value[KIT_FLAG_SLOW_PATH], 100);
    T_EQ_INT(v.value[KIT_FLAG_FAILURE], 0);

    /* Bad values are skipped with a warning; the rest still counts. */
    T_EQ_INT(parse_flags("{\"flags\": {\"geoFailure\": {\"state\": \"ENABLED\", \"variants\": {\"on\": 101}, "
                         "\"defaultVariant\": \"on\"}, \"geoHighCpu\": {\"state\": \"ENABLED\", \"variants\": "
                         "{\"on\": true}, \"defaultVariant\": \"on\"}, \"geoSlowPath\": {\"state\": \"ENABLED\", "
                         "\"variants\": {\"on\": 10}, \"defaultVariant\": \"nope\"}, \"geoCacheFailure\": "
                         "{\"state\": \"ENABLED\", \"variants\": {\"on\": 30}, \"defaultVariant\": \"on\"}}}",
                         "geo", &v, err),
             0);
    T_EQ_INT(nwarned, 3);
    T_EQ_INT(v.value[KIT_FLAG_FAILURE], 0);
    T_EQ_INT(v.value[KIT_FLAG_HIGH_CPU], 0);
    T_EQ_INT(v.value[KIT_FLAG_CACHE_FAILURE], 30);
    T_CHECK(strstr(warned[0], "outside [0, 100]"));

    /* A malformed file is an error (the caller keeps the flags it had). */
    T_EQ_INT(parse_flags("{\"flags\": ", "geo", &v, err), -EINVAL);
    T_CHECK(strstr(err, "malformed JSON"));
    T_EQ_INT(parse_flags("{\"flag\": {}}", "geo", &v, err), -EINVAL);
    T_EQ_INT(parse_flags("{\"flags\": {}}", "geo", &v, err), 0);
    T_EQ_INT(v.value[KIT_FLAG_FAILURE], 0);
}

static void test_retry_policy(void)
{
    unsigned bits = 99;
    char err[160], txt[64];
    T_EQ_INT(kit__retry_on_parse("connect", &bits, err, sizeof err), 0);
    T_EQ_INT(bits, KIT_RETRY_CONNECT);
    T_EQ_INT(kit__retry_on_parse(" timeout, 5xx ,reset", &bits, err, sizeof err), 0);
    T_EQ_INT(bits, KIT_RETRY_TIMEOUT | KIT_RETRY_5XX | KIT_RETRY_RESET);
    kit__retry_on_format(bits, txt, sizeof txt);
    T_EQ_STR(txt, "timeout,5xx,reset");
    T_EQ_INT(kit__retry_on_parse("none", &bits, err, sizeof err), 0);
    T_EQ_INT(bits, 0);
    kit__retry_on_format(bits, txt, sizeof txt);
    T_EQ_STR(txt, "none");
    T_EQ_INT(kit__retry_on_parse("", &bits, err, sizeof err), 0);
    T_EQ_INT(bits, 0);
    bits = 7;
    T_EQ_INT(kit__retry_on_parse("connect,5XX", &bits, err, sizeof err), -EINVAL);
    T_EQ_INT(bits, 7); /* untouched on failure */
    T_CHECK(strstr(err, "\"5XX\"") != NULL);
    T_EQ_INT(kit__retry_on_parse("connected", &bits, err, sizeof err), -EINVAL);
    /* Back-off: 0 stays 0; else doubling from base, capped at 20x, jittered into the upper half. */
    T_EQ_INT(kit__retry_backoff_ms(0, 3, 12345), 0);
    for (uint32_t rnd = 0; rnd < 2000; rnd += 37) {
        long b1 = kit__retry_backoff_ms(50, 1, rnd), b3 = kit__retry_backoff_ms(50, 3, rnd);
        long b9 = kit__retry_backoff_ms(50, 9, rnd);
        T_CHECK(b1 >= 25 && b1 <= 50);
        T_CHECK(b3 >= 100 && b3 <= 200);
        T_CHECK(b9 >= 500 && b9 <= 1000);
    }
    T_EQ_INT(kit__retry_backoff_ms(1, 1, 0), 0);
    T_CHECK(kit__retry_backoff_ms(1, 1, 1) <= 1);
}

static void test_releases(void)
{
    T_CHECK(kit__version_valid("1.0.0"));
    T_CHECK(kit__version_valid("1.1.0-rc1+build_7"));
    T_CHECK(!kit__version_valid(""));
    T_CHECK(!kit__version_valid(NULL));
    T_CHECK(!kit__version_valid("1.0 0"));
    T_CHECK(!kit__version_valid("1.0.0\n"));
    T_CHECK(!kit__version_valid("v/1"));
    char long_v[80];
    memset(long_v, '1', sizeof long_v - 1);
    long_v[sizeof long_v - 1] = '\0';
    T_CHECK(!kit__version_valid(long_v));
    long_v[64] = '\0';
    T_CHECK(kit__version_valid(long_v));
    static const struct kit_release table[] = {
        {"1.1.0-rc1", "compose-post-service", KIT_REGRESSION_ERRORS},
        {"1.1.0-rc2", "compose-post-service", KIT_REGRESSION_WRONG_RESULTS},
        {"1.1.0-rc3", "post-storage-service", KIT_REGRESSION_SLOW},
    };
    T_EQ_INT(kit__release_find(table, 3, "compose-post-service", "1.1.0-rc1"), KIT_REGRESSION_ERRORS);
    T_EQ_INT(kit__release_find(table, 3, "compose-post-service", "1.1.0-rc2"), KIT_REGRESSION_WRONG_RESULTS);
    T_EQ_INT(kit__release_find(table, 3, "post-storage-service", "1.1.0-rc3"), KIT_REGRESSION_SLOW);
    /* Another service's regression, the current version, a fixed one: the good code. */
    T_EQ_INT(kit__release_find(table, 3, "compose-post-service", "1.1.0-rc3"), KIT_REGRESSION_NONE);
    T_EQ_INT(kit__release_find(table, 3, "compose-post-service", "1.0.0"), KIT_REGRESSION_NONE);
    T_EQ_INT(kit__release_find(table, 3, "compose-post-service", "1.1.0"), KIT_REGRESSION_NONE);
    T_EQ_INT(kit__release_find(table, 0, "compose-post-service", "1.1.0-rc1"), KIT_REGRESSION_NONE);
}

int main(void)
{
    T_RUN(test_traceparent_parse);
    T_RUN(test_traceparent_format);
    T_RUN(test_random_ids);
    T_RUN(test_url_decode);
    T_RUN(test_form_parse);
    T_RUN(test_metrics_text);
    T_RUN(test_otlp_json);
    T_RUN(test_error_texts);
    T_RUN(test_pool);
    T_RUN(test_mc_get_multi);
    T_RUN(test_mc_get_multi_errors);
    T_RUN(test_call_raw_needs_request);
    T_RUN(test_flag_prefix);
    T_RUN(test_flags_parse);
    T_RUN(test_retry_policy);
    T_RUN(test_releases);
    return t_done();
}
