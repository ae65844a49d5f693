/* Unit tests for the mesh: routes.json parsing and lookups, rule matching,
 * HTTP/1.x framing (lengths, chunked, pipelining, HEAD, 1xx, split reads,
 * non-HTTP), the metrics exposition and the timer heap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mesh/dns.h"
#include "mesh/http.h"
#include "mesh/metrics.h"
#include "mesh/routes.h"
#include "mesh/rules.h"
#include "mesh/spin.h"
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
    T_CHECK(v.flags & MESH_V_DELAY);
    T_CHECK((v.flags & MESH_V_SHAPE_TO) && (v.flags & MESH_V_SHAPE_FROM));
    T_EQ_INT(v.dir[0].delay_ms, 200);
    T_EQ_INT(v.dir[1].jitter_ms, 20);
    /* Nobody → frontend. */
    mesh_rules_match(r, fe, front, &rnd, &v);
    T_EQ_INT(v.flags, 0);
    /* Other sources on port 9000: r2 is for port 9090 only. */
    mesh_rules_match(r, us, grpc, &rnd, &v);
    T_EQ_INT(v.flags, 0);
    /* Unknown source → user-service:9090: r2 at 50%, roughly half. */
    int resets = 0;
    for (int i = 0; i < 2000; i++) {
        mesh_rules_match(r, NULL, user, &rnd, &v);
        T_CHECK(!(v.flags & MESH_V_DELAY));
        resets += (v.flags & MESH_V_RESET) != 0;
    }
    T_CHECK(resets > 850 && resets < 1150);
    /* Jitter stays within delay ± jitter. */
    struct mesh_dir_verdict d = {.delay_ms = 200, .jitter_ms = 20};
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

/* Parse one rule object given as JSON text; 0 or the parser's error. */
static int rule_of(const char *text, struct mesh_rule *u, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    T_CHECK(j);
    int rc = mesh_rule_parse(j, u, err, errlen);
    json_decref(j);
    return rc;
}

static void test_rule_parse(void)
{
    struct mesh_rule u;
    char err[256];
    const char *dst = "\"destination\": {\"namespace\": \"ns\", \"service\": \"user-service\"}";
    char text[512];
    snprintf(text, sizeof text, "{\"id\": \"l1\", \"action\": \"loss\", \"lossPercent\": 30, \"direction\": \"to\", %s}", dst);
    T_EQ_INT(rule_of(text, &u, err, sizeof err), 0);
    T_EQ_INT(u.action, MESH_RULE_LOSS);
    T_EQ_INT(u.loss_percent, 30);
    T_EQ_INT(u.direction, MESH_DIR_TO);
    T_EQ_INT(u.percent, 100);
    mesh_rule_clear(&u);
    snprintf(text, sizeof text, "{\"action\": \"dns\", \"dnsError\": \"servfail\", \"name\": \"User-MongoDB.\"}");
    T_EQ_INT(rule_of(text, &u, err, sizeof err), 0);
    T_EQ_STR(u.name, "user-mongodb");
    T_EQ_INT(u.dns_error, MESH_DNS_SERVFAIL);
    T_CHECK(u.dst_service == NULL);
    mesh_rule_clear(&u);

    /* Each bad rule fails with a message naming the field. */
    struct { const char *fields, *word; } bad[] = {
        {"\"action\": \"loss\", \"lossPercent\": 0", "lossPercent"},
        {"\"action\": \"loss\"", "lossPercent is required"},
        {"\"action\": \"delay\", \"delayMs\": 100, \"jitterMs\": 200", "jitterMs"},
        {"\"action\": \"delay\", \"delayMs\": 600001", "delayMs"},
        {"\"action\": \"bandwidth\", \"bytesPerSecond\": 0", "bytesPerSecond"},
        {"\"action\": \"abort\", \"httpStatus\": 600", "httpStatus"},
        {"\"action\": \"abort\", \"httpStatus\": \"503\"", "integer"},
        {"\"action\": \"slow_close\", \"slowCloseMs\": 0", "slowCloseMs"},
        {"\"action\": \"reset\", \"percent\": 101", "percent"},
        {"\"action\": \"reset\", \"direction\": \"to\"", "direction applies"},
        {"\"action\": \"delay\", \"delayMs\": 1, \"direction\": \"up\"", "direction must be"},
        {"\"action\": \"partition\"", "needs a source"},
        {"\"action\": \"blackhole\", \"source\": {\"namespace\": \"ns\", \"workload\": \"w\"}", "no source"},
        {"\"action\": \"dns\", \"dnsError\": \"refused\"", "dnsError"},
        {"\"action\": \"teleport\"", "action must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "{\"id\": \"b\", %s, %s}", bad[i].fields, dst);
        err[0] = '\0';
        T_EQ_INT(rule_of(text, &u, err, sizeof err), -EINVAL);
        if (!strstr(err, bad[i].word)) fprintf(stderr, "# rule %zu: \"%s\"\n", i, err);
        T_CHECK(strstr(err, bad[i].word) != NULL);
        T_CHECK(strncmp(err, "rule b:", 7) == 0);
    }
    /* A dns rule needs a name or a destination; the others a destination. */
    T_EQ_INT(rule_of("{\"action\": \"dns\", \"dnsError\": \"nxdomain\"}", &u, err, sizeof err), -EINVAL);
    T_EQ_INT(rule_of("{\"action\": \"reset\"}", &u, err, sizeof err), -EINVAL);
}

/* Services a (backed by pod a-1 of workload a) and b (pod b-1 of b), and
 * the given rules. */
static struct mesh_routes *two_services(const char *rules)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"services\": ["
             " {\"namespace\": \"ns\", \"name\": \"a\", \"clusterIP\": \"127.100.1.1\", \"ports\": [{\"port\": 80,"
             "   \"endpoints\": [{\"ip\": \"127.100.64.1\", \"port\": 80, \"pod\": \"a-1\"}]}]},"
             " {\"namespace\": \"ns\", \"name\": \"b\", \"clusterIP\": \"127.100.1.2\", \"ports\": [{\"port\": 80,"
             "   \"endpoints\": [{\"ip\": \"127.100.64.2\", \"port\": 80, \"pod\": \"b-1\"}]}]},"
             " {\"namespace\": \"other\", \"name\": \"c\", \"clusterIP\": \"127.100.1.3\", \"ports\": [{\"port\": 80}]}],"
             " \"pods\": [{\"ip\": \"127.100.64.1\", \"namespace\": \"ns\", \"name\": \"a-1\", \"workload\": \"a\"},"
             "  {\"ip\": \"127.100.64.2\", \"namespace\": \"ns\", \"name\": \"b-1\", \"workload\": \"b\"},"
             "  {\"ip\": \"127.100.64.3\", \"namespace\": \"ns\", \"name\": \"x-1\", \"workload\": \"x\"}],"
             " \"rules\": [%s]}",
             rules);
    return load(text);
}

static void test_rules_kinds_and_directions(void)
{
    struct mesh_routes *r = two_services(
        "{\"id\": \"p\", \"action\": \"partition\", \"direction\": \"both\","
        " \"source\": {\"namespace\": \"ns\", \"workload\": \"a\"}, \"destination\": {\"namespace\": \"ns\", \"service\": \"b\"}},"
        "{\"id\": \"bw\", \"action\": \"bandwidth\", \"bytesPerSecond\": 1000, \"direction\": \"from\","
        " \"destination\": {\"namespace\": \"ns\", \"service\": \"a\"}},"
        "{\"id\": \"d2\", \"action\": \"delay\", \"delayMs\": 50, \"direction\": \"to\","
        " \"destination\": {\"namespace\": \"ns\", \"service\": \"a\"}},"
        "{\"id\": \"d3\", \"action\": \"delay\", \"delayMs\": 999,"
        " \"destination\": {\"namespace\": \"ns\", \"service\": \"a\"}},"
        "{\"id\": \"ab\", \"action\": \"abort\", \"httpStatus\": 503, \"percent\": 40,"
        " \"destination\": {\"namespace\": \"ns\", \"service\": \"a\"}},"
        "{\"id\": \"sc\", \"action\": \"slow_close\", \"slowCloseMs\": 300,"
        " \"destination\": {\"namespace\": \"ns\", \"service\": \"a\"}},"
        "{\"id\": \"bh\", \"action\": \"blackhole\", \"percent\": 0,"
        " \"destination\": {\"namespace\": \"ns\", \"service\": \"a\"}},"
        "{\"id\": \"dn\", \"action\": \"dns\", \"dnsError\": \"nxdomain\","
        " \"destination\": {\"namespace\": \"ns\", \"service\": \"a\"}}");
    struct mesh_svc_port *a = mesh_routes_find(r, ip("127.100.1.1"), 80), *b = mesh_routes_find(r, ip("127.100.1.2"), 80);
    const struct mesh_pod *pa = mesh_routes_pod(r, ip("127.100.64.1")), *pb = mesh_routes_pod(r, ip("127.100.64.2")),
                          *px = mesh_routes_pod(r, ip("127.100.64.3"));
    uint64_t rnd = 7;
    struct mesh_verdict v;
    /* Partition both ways: a → b, and b's pods → a (the service of workload a). */
    mesh_rules_match(r, pa, b, &rnd, &v);
    T_CHECK(v.flags & MESH_V_HANG);
    mesh_rules_match(r, pb, a, &rnd, &v);
    T_CHECK(v.flags & MESH_V_HANG);
    /* Another source reaches both; only a's rules act on x → a. */
    mesh_rules_match(r, px, b, &rnd, &v);
    T_EQ_INT(v.flags, 0);
    mesh_rules_match(r, px, a, &rnd, &v);
    T_CHECK(!(v.flags & MESH_V_HANG)); /* the black hole is at 0 % */
    /* bandwidth only on responses; the first delay rule (to) wins over d3. */
    T_EQ_INT(v.dir[1].bytes_per_second, 1000);
    T_EQ_INT(v.dir[0].bytes_per_second, 0);
    T_EQ_INT(v.dir[0].delay_ms, 50);
    T_EQ_INT(v.dir[1].delay_ms, 0);
    T_CHECK((v.flags & MESH_V_SHAPE_TO) && (v.flags & MESH_V_SHAPE_FROM));
    /* abort: decided per request (its percent kept), slow close, no dns. */
    T_CHECK(v.flags & MESH_V_ABORT);
    T_EQ_INT(v.abort_percent, 40);
    T_EQ_INT(v.abort_status, 503);
    T_CHECK(v.flags & MESH_V_SLOW_CLOSE);
    T_EQ_INT(v.slow_close_ms, 300);
    T_CHECK(!(v.flags & MESH_V_RESET));
    mesh_routes_free(r);

    /* One direction only: a → b hangs, b → a does not. */
    r = two_services("{\"id\": \"p\", \"action\": \"partition\", \"direction\": \"to\","
                     " \"source\": {\"namespace\": \"ns\", \"workload\": \"a\"}, \"destination\": {\"namespace\": \"ns\", \"service\": \"b\"}}");
    a = mesh_routes_find(r, ip("127.100.1.1"), 80);
    b = mesh_routes_find(r, ip("127.100.1.2"), 80);
    pa = mesh_routes_pod(r, ip("127.100.64.1"));
    pb = mesh_routes_pod(r, ip("127.100.64.2"));
    mesh_rules_match(r, pa, b, &rnd, &v);
    T_CHECK(v.flags & MESH_V_HANG);
    mesh_rules_match(r, pb, a, &rnd, &v);
    T_EQ_INT(v.flags, 0);
    mesh_routes_free(r);
}

static void test_loss_model(void)
{
    uint64_t rnd = 99;
    T_EQ_INT(mesh_rules_loss_ns(0, 0, &rnd), 0);
    T_CHECK(mesh_rules_loss_ns(100, 0, &rnd) == MESH_LOSS_GIVE_UP);
    T_CHECK(mesh_rules_loss_ns(100, 1, &rnd) == MESH_LOSS_GIVE_UP);
    /* Penalties are sums of doubling timeouts: 0, 200, 600, 1400 ms... for
     * data, 0, 1, 3, 7 s... for a SYN; at 50 % about half are late. */
    int late = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t ns = mesh_rules_loss_ns(50, 0, &rnd);
        T_CHECK(ns != MESH_LOSS_GIVE_UP);
        uint64_t ms = ns / 1000000, k = ms / 200 + 1;
        T_CHECK(ns % 1000000 == 0);
        if (ms < 100000) T_CHECK((k & (k - 1)) == 0); /* ms = 200 * (2^j - 1) below the 120 s RTO cap */
        late += ns > 0;
        uint64_t syn = mesh_rules_loss_ns(50, 1, &rnd);
        if (syn != MESH_LOSS_GIVE_UP) { /* at most 6 retries: 1 + 2 + ... + 32 s */
            T_CHECK(syn <= 63000000000ull);
            uint64_t s = syn / 1000000000ull + 1;
            T_CHECK(syn % 1000000000ull == 0 && (s & (s - 1)) == 0);
        }
    }
    T_CHECK(late > 850 && late < 1150);
    /* At 99 % TCP gives up most of the time. */
    int gave_up = 0;
    for (int i = 0; i < 200; i++) gave_up += mesh_rules_loss_ns(99, 0, &rnd) == MESH_LOSS_GIVE_UP;
    T_CHECK(gave_up > 150);
}

static void test_dns_resolve(void)
{
    struct mesh_routes *r = two_services(
        "{\"id\": \"n1\", \"action\": \"dns\", \"dnsError\": \"servfail\", \"name\": \"api.example.com\"},"
        "{\"id\": \"n2\", \"action\": \"dns\", \"dnsError\": \"nxdomain\","
        " \"source\": {\"namespace\": \"ns\", \"workload\": \"x\"}, \"destination\": {\"namespace\": \"ns\", \"service\": \"b\"}}");
    const struct mesh_pod *pa = mesh_routes_pod(r, ip("127.100.64.1")), *px = mesh_routes_pod(r, ip("127.100.64.3"));
    uint64_t rnd = 1;
    uint32_t addr = 0;
    const char *names[] = {"b", "B.", "b.ns", "b.ns.svc", "b.ns.svc.cluster.local", "b.ns.svc.cluster.local."};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        addr = 0;
        T_EQ_INT(mesh_dns_resolve(r, pa, names[i], &rnd, &addr), MESH_DNS_FOUND);
        T_EQ_INT(addr, ip("127.100.1.2"));
        /* The dns rule fails every name of b, for workload x only. */
        T_EQ_INT(mesh_dns_resolve(r, px, names[i], &rnd, &addr), MESH_DNS_NXDOMAIN);
    }
    /* Bare names resolve in the asker's namespace ("default" for non-pods). */
    T_EQ_INT(mesh_dns_resolve(r, NULL, "b", &rnd, &addr), MESH_DNS_PASS);
    T_EQ_INT(mesh_dns_resolve(r, pa, "c", &rnd, &addr), MESH_DNS_PASS);
    T_EQ_INT(mesh_dns_resolve(r, pa, "c.other", &rnd, &addr), MESH_DNS_FOUND);
    T_EQ_INT(addr, ip("127.100.1.3"));
    /* The cluster's own zone is authoritative; other names go to libc. */
    T_EQ_INT(mesh_dns_resolve(r, pa, "nope.ns.svc.cluster.local", &rnd, &addr), MESH_DNS_NXDOMAIN);
    T_EQ_INT(mesh_dns_resolve(r, pa, "nope.ns.svc", &rnd, &addr), MESH_DNS_NXDOMAIN);
    T_EQ_INT(mesh_dns_resolve(r, pa, "localhost", &rnd, &addr), MESH_DNS_PASS);
    T_EQ_INT(mesh_dns_resolve(r, pa, "www.example.com", &rnd, &addr), MESH_DNS_PASS);
    T_EQ_INT(mesh_dns_resolve(r, pa, "bad name", &rnd, &addr), MESH_DNS_PASS);
    /* A rule by name fails that name, even outside the cluster. */
    T_EQ_INT(mesh_dns_resolve(r, pa, "API.example.com", &rnd, &addr), MESH_DNS_SERVFAIL);
    mesh_routes_free(r);
}

/* Request boundaries for the abort fault: two pipelined requests with
 * bodies, split at every byte, come out as two spans. */
static void test_http_request_spans(void)
{
    const char *two = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                      "GET /b HTTP/1.0\r\n\r\n";
    size_t first = strlen("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
    struct mesh_http h;
    mesh_http_init(&h);
    T_CHECK(mesh_http_idle(&h));
    int ended = 0;
    size_t used = mesh_http_feed_one_request(&h, two, strlen(two), 1, &ended);
    T_EQ_INT(used, first);
    T_CHECK(ended);
    T_CHECK(!mesh_http_idle(&h)); /* awaiting its response */
    mesh_http_forget_request(&h);
    T_CHECK(mesh_http_idle(&h));
    used = mesh_http_feed_one_request(&h, two + first, strlen(two) - first, 1, &ended);
    T_EQ_INT(used, strlen(two) - first);
    T_CHECK(ended);
    T_CHECK(h.req.http10);
    /* Byte by byte: ends exactly once, at the last byte of the first request. */
    mesh_http_init(&h);
    int ends = 0;
    for (size_t i = 0; i < first; i++) {
        T_EQ_INT(mesh_http_feed_one_request(&h, two + i, 1, 1, &ended), 1);
        ends += ended;
        if (ended) T_EQ_INT(i, first - 1);
    }
    T_EQ_INT(ends, 1);
    /* Not HTTP: everything is one span, never ended. */
    mesh_http_init(&h);
    T_EQ_INT(mesh_http_feed_one_request(&h, "\x16\x03\x01", 3, 1, &ended), 3);
    T_CHECK(!ended && h.off);
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

static void write_stat(const char *path, long busy, long idle)
{
    FILE *f = fopen(path, "w");
    T_CHECK(f);
    /* user nice system idle iowait irq softirq steal */
    fprintf(f, "cpu  %ld 0 %ld %ld 0 0 0 0 0 0\ncpu0 1 2 3 4\n", busy / 2, busy - busy / 2, idle);
    fclose(f);
}

static void test_spin_gate(void)
{
    char path[] = "/tmp/aiopslab-spin-XXXXXX";
    int fd = mkstemp(path);
    T_CHECK(fd >= 0);
    close(fd);
    const uint64_t ms = 1000000;
    struct mesh_spin s;
    write_stat(path, 1000, 1000);
    mesh_spin_init(&s, 50, path, 0);
    mesh_spin_gate(&s, 0); /* the first window starts */
    T_CHECK(s.probing && !s.on);
    write_stat(path, 1100, 1900); /* 90% idle over the window */
    mesh_spin_gate(&s, 50 * ms);
    T_CHECK(s.probing && !s.on); /* not over yet */
    mesh_spin_gate(&s, 100 * ms);
    T_CHECK(!s.probing && s.on);
    mesh_spin_gate(&s, 900 * ms);
    T_CHECK(!s.probing && s.on);
    mesh_spin_gate(&s, 2000 * ms); /* the next window: no spinning while it lasts */
    T_CHECK(s.probing);
    write_stat(path, 3100, 1950); /* 2.4% idle */
    mesh_spin_gate(&s, 2100 * ms);
    T_CHECK(!s.probing && !s.on);

    /* The wait itself: an event ready is returned whether or not it spins. */
    int ep = epoll_create1(0), p[2];
    T_CHECK(ep >= 0 && pipe(p) == 0);
    struct epoll_event ev = {.events = EPOLLIN}, out[4];
    T_CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
    s.on = 1;
    s.probing = 0;
    s.next = UINT64_MAX;
    T_EQ_INT(mesh_spin_wait(&s, ep, out, 4, 0, 1), 0);   /* nothing, no timeout: at once */
    T_EQ_INT(mesh_spin_wait(&s, ep, out, 4, 5, 1), 0);   /* nothing: spins, then waits 5 ms */
    T_CHECK(write(p[1], "x", 1) == 1);
    T_EQ_INT(mesh_spin_wait(&s, ep, out, 4, -1, 1), 1);
    mesh_spin_close(&s);

    struct mesh_spin off;
    mesh_spin_init(&off, 0, path, 0); /* 0 µs: never spins, never reads the file */
    mesh_spin_gate(&off, 10000 * ms);
    T_CHECK(!off.on && !off.probing && off.stat_fd < 0);
    T_EQ_INT(mesh_spin_wait(&off, ep, out, 4, -1, 1), 1);
    mesh_spin_close(&off);
    close(ep);
    close(p[0]);
    close(p[1]);
    unlink(path);
}

int main(void)
{
    T_RUN(test_routes_parse_and_lookup);
    T_RUN(test_routes_reject_bad_input);
    T_RUN(test_rules_match);
    T_RUN(test_rule_parse);
    T_RUN(test_rules_kinds_and_directions);
    T_RUN(test_loss_model);
    T_RUN(test_dns_resolve);
    T_RUN(test_http_request_spans);
    T_RUN(test_http_framing);
    T_RUN(test_http_not_http);
    T_RUN(test_metrics_exposition);
    T_RUN(test_timer_heap);
    T_RUN(test_spin_gate);
    return t_done();
}
