/* Unit tests for the mesh: routes.json parsing and lookups, rule matching,
 * HTTP/1.x framing (lengths, chunked, pipelining, HEAD, 1xx, split reads,
 * non-HTTP), the metrics exposition and the timer heap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mesh/http.h"
#include "mesh/metrics.h"
#include "mesh/routes.h"
#include "mesh/rules.h"
#include "mesh/timer.h"
#include "t.h"

static const char *ROUTES =
    "{\"generation\": 7, \"services\": ["
    " {\"namespace\": \"ns\", \"name\": \"user-service\", \"clusterIP\": \"127.100.1.3\","
    "  \"ports\": [{\"name\": \"http\", \"port\": 9090, \"endpoints\": ["
    "    {\"ip\": \"127.100.64.5\", \"port\": 9091, \"pod\": \"user-a\"},"
    "    {\"ip\": \"127.100.64.6\", \"port\": 9091, \"pod\": \"user-b\"}]},"
    "   {\"name\": \"grpc\", \"port\": 9000, \"endpoints\": []}]},"
    " {\"namespace\": \"ns\", \"name\": \"frontend\", \"clusterIP\": \"127.100.1.1\","
    "  \"ports\": [{\"port\": 8080, \"endpoints\": []}]}],"
    " \"pods\": [{\"ip\": \"127.100.64.9\", \"namespace\": \"ns\", \"name\": \"frontend-x\", \"workload\": \"frontend\"},"
    "  {\"ip\": \"127.100.64.5\", \"namespace\": \"ns\", \"name\": \"user-a\", \"workload\": \"user-service\"}],"
    " \"rules\": ["
    "  {\"id\": \"r1\", \"action\": \"delay\", \"source\": {\"namespace\": \"ns\", \"workload\": \"frontend\"},"
    "   \"destination\": {\"namespace\": \"ns\", \"service\": \"user-service\"}, \"delayMs\": 200, \"jitterMs\": 20, \"percent\": 100},"
    "  {\"id\": \"r2\", \"action\": \"reset\", \"source\": null,"
    "   \"destination\": {\"namespace\": \"ns\", \"service\": \"user-service\", \"port\": 9090}, \"percent\": 50}]}";

static struct mesh_routes *load(const char *text)
{
    struct mesh_routes *r = NULL;
    char err[256] = "";
    int rc = mesh_routes_parse(text, strlen(text), &r, err, sizeof err);
    if (rc) fprintf(stderr, "# %s\n", err);
    T_EQ_INT(rc, 0);
    return r;
}

static uint32_t ip(const char *s)
{
    uint32_t v = 0;
    T_EQ_INT(mesh_ip_parse(s, &v), 0);
    return v;
}

static void test_routes_parse_and_lookup(void)
{
    struct mesh_routes *r = load(ROUTES);
    T_EQ_INT(r->generation, 7);
    T_EQ_INT(r->n_services, 2);
    T_EQ_INT(r->n_addr, 3);
    struct mesh_svc_port *sp = mesh_routes_find(r, ip("127.100.1.3"), 9090);
    T_CHECK(sp);
    T_EQ_STR(sp->svc->name, "user-service");
    T_EQ_INT(sp->n_eps, 2);
    T_CHECK(mesh_routes_find(r, ip("127.100.1.3"), 9000) != NULL);
    T_CHECK(mesh_routes_find(r, ip("127.100.1.3"), 9091) == NULL);
    T_CHECK(mesh_routes_find(r, ip("127.100.1.2"), 9090) == NULL);
    T_EQ_STR(mesh_routes_find(r, ip("127.100.1.1"), 8080)->svc->name, "frontend");
    /* Round robin over ready endpoints; none → NULL. */
    const struct mesh_endpoint *a = mesh_routes_pick(sp), *b = mesh_routes_pick(sp), *c = mesh_routes_pick(sp);
    T_EQ_STR(a->pod, "user-a");
    T_EQ_STR(b->pod, "user-b");
    T_EQ_STR(c->pod, "user-a");
    T_EQ_INT(a->port, 9091);
    T_CHECK(mesh_routes_pick(mesh_routes_find(r, ip("127.100.1.3"), 9000)) == NULL);
    /* Pods by IP. */
    const struct mesh_pod *p = mesh_routes_pod(r, ip("127.100.64.9"));
    T_CHECK(p);
    T_EQ_STR(p->workload, "frontend");
    T_CHECK(mesh_routes_pod(r, ip("127.100.64.10")) == NULL);
    mesh_routes_free(r);
}

static void test_routes_reject_bad_input(void)
{
    const char *bad[] = {
        "", "[]", "{\"services\": [{\"name\": \"x\", \"clusterIP\": \"nope\"}]}",
        "{\"services\": [{\"name\": \"x\", \"clusterIP\": \"127.1.1.1\", \"ports\": [{\"port\": 70000}]}]}",
        "{\"services\": [{\"name\": \"x\", \"clusterIP\": \"127.1.1.1\", \"ports\": [{\"port\": 80, \"endpoints\": [{\"ip\": \"127.1.64.1\"}]}]}]}",
        "{\"rules\": [{\"action\": \"explode\", \"destination\": {\"service\": \"x\"}}]}",
        "{\"rules\": [{\"action\": \"delay\", \"destination\": {\"service\": \"x\"}, \"percent\": 0}]}",
        "{\"rules\": [{\"action\": \"delay\"}]}",
        "{\"pods\": [{\"ip\": \"::1\", \"name\": \"p\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mesh_routes *r = NULL;
        char err[256] = "";
        T_EQ_INT(mesh_routes_parse(bad[i], strlen(bad[i]), &r, err, sizeof err), -EINVAL);
        T_CHECK(r == NULL);
        T_CHECK(err[0] != '\0');
    }
    struct mesh_routes *r = load("{}");
    T_EQ_INT(r->n_services + r->n_pods + r->n_rules, 0);
    mesh_routes_free(r);
}

static void test_rules_match(void)
{
    struct mesh_routes *r = load(ROUTES);
    struct mesh_svc_port *user = mesh_routes_find(r, ip("127.100.1.3"), 9090);
    struct mesh_svc_port *grpc = mesh_routes_find(r, ip("127.100.1.3"), 9000);
    struct mesh_svc_port *front = mesh_routes_find(r, ip("127.100.1.1"), 8080);
    const struct mesh_pod *fe = mesh_routes_pod(r, ip("127.100.64.9"));
    const struct mesh_pod *us = mesh_routes_pod(r, ip("127.100.64.5"));
    uint64_t rnd = 42;
    struct mesh_verdict v;
    /* frontend → user-service: the delay rule (first, 100%). */
    mesh_rules_match(r, fe, user, &rnd, &v);
    T_EQ_INT(v.action, MESH_VERDICT_DELAY);
    T_EQ_INT(v.delay_ms, 200);
    /* Nobody → frontend. */
    mesh_rules_match(r, fe, front, &rnd, &v);
    T_EQ_INT(v.action, MESH_VERDICT_NONE);
    /* Other sources on port 9000: r2 is for port 9090 only. */
    mesh_rules_match(r, us, grpc, &rnd, &v);
    T_EQ_INT(v.action, MESH_VERDICT_NONE);
    /* Unknown source → user-service:9090: r2 at 50%, roughly half. */
    int resets = 0;
    for (int i = 0; i < 2000; i++) {
        mesh_rules_match(r, NULL, user, &rnd, &v);
        T_CHECK(v.action != MESH_VERDICT_DELAY);
        resets += v.action == MESH_VERDICT_RESET;
    }
    T_CHECK(resets > 850 && resets < 1150);
    /* Jitter stays within delay ± jitter. */
    struct mesh_verdict d = {MESH_VERDICT_DELAY, 200, 20};
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t ns = mesh_rules_delay_ns(&d, &rnd);
        if (ns < lo) lo = ns;
        if (ns > hi) hi = ns;
    }
    T_CHECK(lo >= 180000000ull && lo < 190000000ull);
    T_CHECK(hi <= 220000000ull && hi > 210000000ull);
    mesh_routes_free(r);
}

struct seen {
    int n;
    int codes[16];
    uint64_t lat[16];
};

static void on_resp(void *ctx, int status, uint64_t latency_ns)
{
    struct seen *s = ctx;
    if (s->n < 16) {
        s->codes[s->n] = status;
        s->lat[s->n] = latency_ns;
    }
    s->n++;
}

/* Feed text in pieces of at most step bytes. */
static void feed(struct mesh_http *h, int req, const char *text, size_t step, uint64_t now, struct seen *s)
{
    size_t n = strlen(text);
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        if (req) mesh_http_feed_request(h, text + off, k, now);
        else mesh_http_feed_response(h, text + off, k, now, on_resp, s);
    }
}

static void test_http_framing(void)
{
    static const size_t steps[] = {1, 3, 7, 100000};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t st = steps[i];
        struct mesh_http h;
        struct seen s = {0};
        mesh_http_init(&h);
        /* Two pipelined requests, one with a body; then HEAD. */
        feed(&h, 1, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", st, 1000, &s);
        feed(&h, 1, "HEAD /c HTTP/1.1\r\n\r\n", st, 2000, &s);
        feed(&h, 1, "PUT /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", st, 2500, &s);
        T_EQ_INT(h.off, 0);
        T_EQ_INT(h.q_len, 4);
        /* 100 Continue does not answer; a chunked 200; a 404 with a body that looks like a head. */
        feed(&h, 0, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "4;ext=1\r\nHTTP\r\n0\r\nX-Trailer: y\r\n\r\n",
             st, 5000, &s);
        feed(&h, 0, "HTTP/1.1 404 Not Found\r\ncontent-length: 19\r\n\r\nHTTP/1.1 500 Oops\r\n", st, 6000, &s);
        /* HEAD response: Content-Length but no body follows. */
        feed(&h, 0, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", st, 7000, &s);
        feed(&h, 0, "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", st, 9000, &s);
        T_EQ_INT(h.off, 0);
        T_EQ_INT(s.n, 4);
        T_EQ_INT(s.codes[0], 200);
        T_EQ_INT(s.lat[0], 4000);
        T_EQ_INT(s.codes[1], 404);
        T_EQ_INT(s.lat[1], 5000);
        T_EQ_INT(s.codes[2], 200);
        T_EQ_INT(s.lat[2], 5000);
        T_EQ_INT(s.codes[3], 503);
        T_EQ_INT(s.lat[3], 6500);
        /* A response delimited by close swallows everything after it. */
        feed(&h, 1, "GET / HTTP/1.0\r\n\r\n", st, 10000, &s);
        feed(&h, 0, "HTTP/1.0 200 OK\r\n\r\nHTTP/1.0 200 OK\r\n\r\n", st, 10500, &s);
        T_EQ_INT(s.n, 5);
    }
}

static void test_http_not_http(void)
{
    const char *inputs[] = {"*1\r\n$4\r\nPING\r\n", "PING\r\n", "get foo\r\n", "\x00\x00\x00\x08\x04\xd2\x16/",
                            "GET / SPDY/3\r\n\r\n"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        struct mesh_http h;
        mesh_http_init(&h);
        size_t n = i == 3 ? 8 : strlen(inputs[i]);
        mesh_http_feed_request(&h, inputs[i], n, 1);
        T_EQ_INT(h.off, 1);
    }
    /* An overlong request line is still tracked (its version is at the end). */
    struct mesh_http h;
    struct seen s = {0};
    mesh_http_init(&h);
    char line[2048];
    memset(line, 'a', sizeof line);
    mesh_http_feed_request(&h, "GET /", 5, 1);
    mesh_http_feed_request(&h, line, sizeof line, 1);
    mesh_http_feed_request(&h, " HTTP/1.1\r\n\r\n", 13, 1);
    T_EQ_INT(h.off, 0);
    feed(&h, 0, "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", 5, 3, &s);
    T_EQ_INT(s.n, 1);
    T_EQ_INT(s.codes[0], 302);
    /* A response without a request, an upgrade: tracking stops, no callback. */
    mesh_http_init(&h);
    s.n = 0;
    feed(&h, 0, "HTTP/1.1 200 OK\r\n\r\n", 100, 3, &s);
    T_EQ_INT(h.off, 1);
    T_EQ_INT(s.n, 0);
}

static void test_metrics_exposition(void)
{
    struct mesh_metrics *m = mesh_metrics_new();
    struct mesh_edge *e = mesh_metrics_edge(m, "ns", "frontend", "ns", "user-service");
    T_CHECK(e == mesh_metrics_edge(m, "ns", "frontend", "ns", "user-service"));
    struct mesh_edge *u = mesh_metrics_edge(m, NULL, NULL, "ns", "we\"ird\\");
    T_CHECK(u != e);
    e->opened = 3;
    e->closed = 2;
    e->sent_bytes = 100;
    e->received_bytes = 2000;
    e->failures[MESH_FAIL_REFUSED] = 1;
    u->failures[MESH_FAIL_NO_ENDPOINTS] = 4;
    mesh_edge_request(e, 200, 3000000);    /* 3 ms */
    mesh_edge_request(e, 200, 20000000);   /* 20 ms */
    mesh_edge_request(e, 503, 20000000000ull); /* 20 s: only +Inf */
    struct buf b;
    buf_init(&b, 1 << 20);
    T_EQ_INT(mesh_metrics_render(m, &b), 0);
    const char *L = "source_namespace=\"ns\",source_workload=\"frontend\",destination_namespace=\"ns\",destination_service=\"user-service\"";
    char want[512];
#define HAS(fmt, ...)                                                                                                  \
    do {                                                                                                               \
        snprintf(want, sizeof want, fmt, __VA_ARGS__);                                                                 \
        if (!strstr(b.data, want)) fprintf(stderr, "# missing: %s\n", want);                                          \
        T_CHECK(strstr(b.data, want));                                                                                 \
    } while (0)
    HAS("# TYPE %s counter\n", "mesh_tcp_connections_opened_total");
    HAS("\nmesh_tcp_connections_opened_total{%s} 3\n", L);
    HAS("\nmesh_tcp_connections_closed_total{%s} 2\n", L);
    HAS("\nmesh_tcp_sent_bytes_total{%s} 100\n", L);
    HAS("\nmesh_tcp_received_bytes_total{%s} 2000\n", L);
    HAS("\nmesh_tcp_connect_failures_total{%s,reason=\"refused\"} 1\n", L);
    HAS("%s", "\nmesh_tcp_connect_failures_total{source_namespace=\"unknown\",source_workload=\"unknown\","
              "destination_namespace=\"ns\",destination_service=\"we\\\"ird\\\\\",reason=\"no_endpoints\"} 4\n");
    HAS("\nmesh_requests_total{%s,response_code=\"200\"} 2\n", L);
    HAS("\nmesh_requests_total{%s,response_code=\"503\"} 1\n", L);
    HAS("# TYPE %s histogram\n", "mesh_request_duration_seconds");
    HAS("\nmesh_request_duration_seconds_bucket{%s,le=\"0.0025\"} 0\n", L);
    HAS("\nmesh_request_duration_seconds_bucket{%s,le=\"0.005\"} 1\n", L);
    HAS("\nmesh_request_duration_seconds_bucket{%s,le=\"0.025\"} 2\n", L);
    HAS("\nmesh_request_duration_seconds_bucket{%s,le=\"10\"} 2\n", L);
    HAS("\nmesh_request_duration_seconds_bucket{%s,le=\"+Inf\"} 3\n", L);
    HAS("\nmesh_request_duration_seconds_count{%s} 3\n", L);
    HAS("\nmesh_request_duration_seconds_sum{%s} 20.023\n", L);
    /* Only families and samples; one TYPE per family. */
    T_CHECK(strstr(strstr(b.data, "# TYPE mesh_requests_total") + 1, "# TYPE mesh_requests_total") == NULL);
    buf_free(&b);
    mesh_metrics_free(m);
}

static int fired[8], order_n, order[8];

static void on_timer(struct mesh_timer *t, void *arg)
{
    (void)t;
    int i = (int)(long)arg;
    fired[i]++;
    order[order_n++] = i;
}

static void test_timer_heap(void)
{
    struct mesh_timers ts = {0};
    struct mesh_timer t[6];
    uint64_t when[6] = {50, 10, 40, 30, 20, 60};
    for (int i = 0; i < 6; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].fn = on_timer;
        t[i].arg = (void *)(long)i;
        mesh_timer_start(&ts, &t[i], when[i]);
    }
    mesh_timer_stop(&ts, &t[2]);               /* 40 never fires */
    mesh_timer_start(&ts, &t[5], 15);          /* re-arm earlier */
    T_EQ_INT(mesh_timers_next(&ts), 10);
    mesh_timers_run(&ts, 35);
    T_EQ_INT(order_n, 4);
    int want[] = {1, 5, 4, 3};
    for (int i = 0; i < 4; i++) T_EQ_INT(order[i], want[i]);
    T_EQ_INT(mesh_timers_next(&ts), 50);
    mesh_timers_run(&ts, 1000);
    T_EQ_INT(fired[0], 1);
    T_EQ_INT(fired[2], 0);
    T_EQ_INT(mesh_timers_next(&ts), UINT64_MAX);
    mesh_timers_free(&ts);
}

int main(void)
{
    T_RUN(test_routes_parse_and_lookup);
    T_RUN(test_routes_reject_bad_input);
    T_RUN(test_rules_match);
    T_RUN(test_http_framing);
    T_RUN(test_http_not_http);
    T_RUN(test_metrics_exposition);
    T_RUN(test_timer_heap);
    return t_done();
}
