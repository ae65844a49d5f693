/* Unit tests of the load generator (src/workload): the histogram's
 * precision, the arrival patterns and schedules, the request mixes, and
 * the engine against small local servers (framings, errors, coordinated
 * omission correction, live stats, metrics). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "t.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "workload/load.h"

#define NEAR(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol))

/* ---- hdr --------------------------------------------------------------- */

static void test_hdr_precision(void)
{
    struct load_hdr *h = xmalloc(sizeof *h);
    load_hdr_init(h);
    for (uint64_t v = 1; v <= 1000000; v++) load_hdr_record(h, v * 1000); /* 1 us .. 1 s */
    T_EQ_INT(h->count, 1000000);
    T_EQ_INT(h->min, 1000);
    T_EQ_INT(h->max, 1000000000);
    static const double qs[] = {0.5, 0.9, 0.99, 0.999, 0.9999};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        double want = qs[i] * 1e9, got = (double)load_hdr_quantile(h, qs[i]);
        if (fabs(got - want) / want > 0.01) fprintf(stderr, "# q %g: %g vs %g\n", qs[i], got, want);
        T_CHECK(fabs(got - want) / want <= 0.01);
    }
    T_CHECK(NEAR(load_hdr_mean(h), 500000500.0, 1));
    T_EQ_INT(load_hdr_quantile(h, 1.0), 1000000000);
    T_EQ_INT(load_hdr_quantile(h, 0.0), 1000);
    /* Every value lands in a bucket whose top is within 1/128 above it. */
    for (uint64_t v = 1; v < (1ull << 62); v = v * 3 + 1) {
        unsigned i = load_hdr_index(v);
        T_CHECK(i < LOAD_HDR_BUCKETS);
        uint64_t high = load_hdr_bucket_high(i);
        T_CHECK(high >= v);
        T_CHECK((double)(high - v) <= (double)v / 128.0 + 1);
    }
    T_CHECK(load_hdr_index(UINT64_MAX) < LOAD_HDR_BUCKETS);
    /* Merge. */
    struct load_hdr *sum = xmalloc(sizeof *sum);
    load_hdr_init(sum);
    load_hdr_add(sum, h);
    load_hdr_add(sum, h);
    T_EQ_INT(sum->count, 2000000);
    T_EQ_INT(load_hdr_quantile(sum, 0.5), load_hdr_quantile(h, 0.5));
    T_CHECK(NEAR(load_hdr_count_le(h, 1000000), 1000, 10)); /* values <= 1 ms, to 1 % */
    /* A window between two snapshots. */
    struct load_hdr *win = xmalloc(sizeof *win);
    for (uint64_t v = 1; v <= 1000; v++) load_hdr_record(sum, 5000000000ull + v);
    load_hdr_window(win, sum, h);
    T_EQ_INT(win->count, 1001000);
    load_hdr_init(h);
    load_hdr_add(h, sum);
    for (uint64_t v = 1; v <= 100; v++) load_hdr_record(sum, 7000000000ull);
    load_hdr_window(win, sum, h);
    T_EQ_INT(win->count, 100);
    T_CHECK(NEAR(load_hdr_quantile(win, 0.5), 7e9, 7e7));
    free(win);
    free(h);
    free(sum);
}

static void test_hdr_empty(void)
{
    struct load_hdr *h = xmalloc(sizeof *h);
    load_hdr_init(h);
    T_EQ_INT(load_hdr_quantile(h, 0.99), 0);
    T_CHECK(load_hdr_mean(h) == 0);
    load_hdr_record(h, 0);
    T_EQ_INT(load_hdr_quantile(h, 0.99), 0);
    free(h);
}

/* ---- arrivals ---------------------------------------------------------- */

static struct load_schedule *sched(const char *text)
{
    struct load_schedule *s = xcalloc(1, sizeof *s);
    char err[256] = "";
    if (load_schedule_parse(text, s, err, sizeof err) || load_schedule_load(s, err, sizeof err)) {
        fprintf(stderr, "# %s: %s\n", text, err);
        exit(1);
    }
    return s;
}

/* Arrivals of all threads in [from, to) ns. */
static size_t count(const struct load_schedule *s, unsigned threads, uint64_t seed, uint64_t from, uint64_t to)
{
    size_t n = 0;
    for (unsigned i = 0; i < threads; i++) {
        struct load_arrivals a;
        load_arrivals_init(&a, s, seed, i, threads);
        uint64_t t, prev = 0;
        while ((t = load_arrivals_next(&a)) != UINT64_MAX) {
            T_CHECK(t >= prev);
            prev = t;
            if (t >= from && t < to) n++;
        }
    }
    return n;
}

static void test_constant(void)
{
    struct load_schedule *s = sched("constant:1000:1s");
    T_EQ_INT(count(s, 1, 1, 0, UINT64_MAX), 1000);
    T_EQ_INT(count(s, 3, 1, 0, UINT64_MAX), 1000);
    T_EQ_INT(count(s, 1, 1, 0, 500000000), 500);
    /* Evenly spaced: 1 ms apart, starting at 0. */
    struct load_arrivals a;
    load_arrivals_init(&a, s, 1, 0, 1);
    T_EQ_INT(load_arrivals_next(&a), 0);
    T_EQ_INT(load_arrivals_next(&a), 1000000);
    T_EQ_INT(load_arrivals_next(&a), 2000000);
    /* Two threads interleave: 0, 1, 2 ms... across them. */
    load_arrivals_init(&a, s, 1, 1, 2);
    T_EQ_INT(load_arrivals_next(&a), 1000000);
    T_EQ_INT(load_arrivals_next(&a), 3000000);
    load_schedule_free(s);
    free(s);
    /* A high rate stays exact over a long run: 20000/s for 100 s. */
    s = sched("constant:20000:100s");
    T_EQ_INT(count(s, 1, 1, 0, UINT64_MAX), 2000000);
    load_schedule_free(s);
    free(s);
}

static void test_poisson(void)
{
    struct load_schedule *s = sched("poisson:1000:20s");
    size_t n = count(s, 1, 7, 0, UINT64_MAX);
    T_CHECK(NEAR(n, 20000, 600)); /* 3 sigma is ~424 */
    size_t n2 = count(s, 4, 7, 0, UINT64_MAX);
    T_CHECK(NEAR(n2, 20000, 600));
    /* Gaps are exponential: their coefficient of variation is ~1. */
    struct load_arrivals a;
    load_arrivals_init(&a, s, 7, 0, 1);
    double sum = 0, sq = 0;
    uint64_t prev = load_arrivals_next(&a), t;
    size_t k = 0;
    while ((t = load_arrivals_next(&a)) != UINT64_MAX) {
        double g = (double)(t - prev);
        sum += g;
        sq += g * g;
        prev = t;
        k++;
    }
    double mean = sum / (double)k, cv = sqrt(sq / (double)k - mean * mean) / mean;
    T_CHECK(NEAR(cv, 1.0, 0.05));
    load_schedule_free(s);
    free(s);
}

static void test_shapes(void)
{
    struct load_schedule *s = sched("ramp:0-1000:10s");
    T_CHECK(NEAR(count(s, 1, 1, 0, UINT64_MAX), 5000, 2));
    T_CHECK(NEAR(count(s, 1, 1, 0, 5000000000ull), 1250, 2));
    T_CHECK(NEAR(count(s, 2, 1, 0, UINT64_MAX), 5000, 2));
    load_schedule_free(s);
    free(s);
    s = sched("burst:100:10s:burst=1000:every=10s:length=1s");
    T_CHECK(NEAR(count(s, 1, 1, 0, UINT64_MAX), 1900, 2));
    T_CHECK(NEAR(count(s, 1, 1, 0, 1000000000ull), 1000, 2));
    load_schedule_free(s);
    free(s);
    s = sched("step:100:3s:by=100:every=1s");
    T_CHECK(NEAR(count(s, 1, 1, 0, UINT64_MAX), 600, 2));
    T_CHECK(NEAR(count(s, 1, 1, 2000000000ull, UINT64_MAX), 300, 2));
    load_schedule_free(s);
    free(s);
    s = sched("diurnal:100:10s:period=10s:amplitude=0.8");
    T_CHECK(NEAR(count(s, 1, 1, 0, UINT64_MAX), 1000, 2));
    /* First half of the sine is the high one: 500 + 2*0.8*1000/pi/... */
    size_t first = count(s, 1, 1, 0, 5000000000ull);
    T_CHECK(NEAR(first, 500 + 100 * 0.8 * 10 / M_PI, 3));
    T_CHECK(NEAR(load_schedule_rate(s, 2500000000ull), 180, 0.01));
    load_schedule_free(s);
    free(s);
    /* Phases follow each other. */
    s = sched("constant:100:1s,constant:0:1s,constant:300:1s");
    T_EQ_INT(load_schedule_duration(s), 3000000000ull);
    T_EQ_INT(count(s, 1, 1, 0, UINT64_MAX), 400);
    T_EQ_INT(count(s, 1, 1, 1000000000ull, 2000000000ull), 0);
    T_EQ_INT(count(s, 1, 1, 2000000000ull, 3000000000ull), 300);
    T_CHECK(NEAR(load_schedule_expected(s), 400, 0.5));
    load_schedule_free(s);
    free(s);
}

static void test_replay(void)
{
    char path[] = "/tmp/test-workload-trace.XXXXXX";
    int fd = mkstemp(path);
    T_CHECK(fd >= 0);
    const char *trace = "# a trace\n100.0\n100.5\n100.5\n101.25\n\n103\n";
    T_CHECK(write(fd, trace, strlen(trace)) == (ssize_t)strlen(trace));
    close(fd);
    char spec[128];
    snprintf(spec, sizeof spec, "replay:0:0:file=%s", path);
    struct load_schedule *s = sched(spec);
    T_EQ_INT(load_schedule_duration(s), 3000000001ull);
    struct load_arrivals a;
    load_arrivals_init(&a, s, 1, 0, 1);
    T_EQ_INT(load_arrivals_next(&a), 0);
    T_EQ_INT(load_arrivals_next(&a), 500000000);
    T_EQ_INT(load_arrivals_next(&a), 500000000);
    T_EQ_INT(load_arrivals_next(&a), 1250000000);
    T_EQ_INT(load_arrivals_next(&a), 3000000000ull);
    T_EQ_INT(load_arrivals_next(&a), UINT64_MAX);
    T_EQ_INT(count(s, 2, 1, 0, UINT64_MAX), 5);
    load_schedule_free(s);
    free(s);
    snprintf(spec, sizeof spec, "replay:0:0:file=%s:speed=2", path);
    s = sched(spec);
    load_arrivals_init(&a, s, 1, 0, 1);
    load_arrivals_next(&a);
    T_EQ_INT(load_arrivals_next(&a), 250000000);
    load_schedule_free(s);
    free(s);
    /* A bad trace is refused with the line. */
    fd = open(path, O_WRONLY | O_TRUNC);
    T_CHECK(write(fd, "1\n2\nabc\n", 8) == 8);
    close(fd);
    s = xcalloc(1, sizeof *s);
    char err[256] = "";
    T_CHECK(!load_schedule_parse(spec, s, err, sizeof err));
    T_CHECK(load_schedule_load(s, err, sizeof err) < 0);
    T_CHECK(strstr(err, ":3:") != NULL);
    load_schedule_free(s);
    unlink(path);
    free(s);
}

static void test_schedule_errors(void)
{
    static const char *const bad[] = {
        "",         "foo:1:1s",       "constant:abc:1s", "constant:1",          "constant:1:xyz",
        "ramp:1-2-3:1s", "constant:5-10:1s", "constant:1:1s:nope=3", "diurnal:1:1s:amplitude=2",
        "constant:-5:1s", "constant:1e99:1s", "burst:10:1s", "replay:0:0", "constant:10:0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct load_schedule s = {0};
        char err[256] = "";
        int rc = load_schedule_parse(bad[i], &s, err, sizeof err);
        if (!rc) rc = load_schedule_load(&s, err, sizeof err);
        if (!rc) fprintf(stderr, "# accepted: \"%s\"\n", bad[i]);
        T_CHECK(rc < 0);
        T_CHECK(err[0] != '\0');
        load_schedule_free(&s);
    }
    /* JSON form. */
    json_error_t je;
    json_t *j = json_loads("{\"phases\":[{\"pattern\":\"constant\",\"rate\":100,\"duration\":\"1s\"},"
                           "{\"pattern\":\"ramp\",\"rate\":100,\"to\":300,\"duration\":2}]}",
                           0, &je);
    struct load_schedule s = {0};
    char err[256] = "";
    T_EQ_INT(load_schedule_from_json(j, &s, err, sizeof err), 0);
    T_EQ_INT(load_schedule_load(&s, err, sizeof err), 0);
    T_EQ_INT(s.n, 2);
    T_EQ_INT(load_schedule_duration(&s), 3000000000ull);
    T_CHECK(NEAR(count(&s, 1, 1, 0, UINT64_MAX), 500, 2));
    json_decref(j);
    load_schedule_free(&s);
    j = json_loads("{\"phases\":[{\"pattern\":\"wave\",\"rate\":1,\"duration\":\"1s\"}]}", 0, &je);
    T_CHECK(load_schedule_from_json(j, &s, err, sizeof err) < 0);
    json_decref(j);
}

static void test_seeded(void)
{
    struct load_schedule *s = sched("poisson:500:2s");
    struct load_arrivals a, b, c;
    load_arrivals_init(&a, s, 42, 0, 1);
    load_arrivals_init(&b, s, 42, 0, 1);
    load_arrivals_init(&c, s, 43, 0, 1);
    int differ = 0;
    for (int i = 0; i < 500; i++) {
        uint64_t x = load_arrivals_next(&a), y = load_arrivals_next(&b), z = load_arrivals_next(&c);
        T_EQ_INT(x, y);
        if (x != z) differ = 1;
    }
    T_CHECK(differ);
    load_schedule_free(s);
    free(s);
}

/* ---- mixes ------------------------------------------------------------- */

static void test_zipf(void)
{
    struct load_zipf z;
    T_EQ_INT(load_zipf_init(&z, 962, 1.0), 0);
    struct load_rng r;
    load_rng_seed(&r, 5);
    size_t hits[963] = {0};
    for (int i = 0; i < 200000; i++) {
        size_t k = load_zipf_draw(&z, &r);
        T_CHECK(k >= 1 && k <= 962);
        hits[k]++;
    }
    double h = 0;
    for (int k = 1; k <= 962; k++) h += 1.0 / k;
    T_CHECK(NEAR(hits[1] / 200000.0, 1 / h, 0.01));
    T_CHECK(hits[1] > hits[2] && hits[2] > hits[10] && hits[10] > hits[500]);
    load_zipf_free(&z);
    T_CHECK(load_zipf_init(&z, 0, 1) < 0);
    T_CHECK(load_zipf_init(&z, 10, -1) < 0);
}

static long num_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void test_mix_social(void)
{
    struct load_mix m;
    char err[256] = "";
    T_EQ_INT(load_mix_app(&m, "social-network", NULL, "127.9.1.1:8080", 1.0, err, sizeof err), 0);
    struct load_rng r;
    load_rng_seed(&r, 1);
    char buf[LOAD_REQ_MAX];
    size_t per[3] = {0};
    for (int i = 0; i < 100000; i++) {
        size_t len;
        unsigned op;
        const char *req = load_mix_next(&m, &r, buf, sizeof buf, &len, &op);
        T_CHECK(op < 3);
        per[op]++;
        T_CHECK(len == strlen(req) && len < sizeof buf);
        T_CHECK(strstr(req, "\r\nHost: 127.9.1.1:8080\r\n") != NULL);
        if (op == 2) {
            T_CHECK(str_has_prefix(req, "POST /wrk2-api/post/compose HTTP/1.1\r\n"));
            T_CHECK(strstr(req, "Content-Type: application/x-www-form-urlencoded\r\n") != NULL);
            const char *body = strstr(req, "\r\n\r\n") + 4;
            T_EQ_INT(num_after(req, "Content-Length: "), (long)strlen(body));
            T_CHECK(str_has_prefix(body, "username=username_"));
            long uid = num_after(body, "&user_id=");
            T_CHECK(uid >= 1 && uid <= 962);
            T_EQ_INT(num_after(body, "username=username_"), uid);
            T_CHECK(strstr(body, "&media_ids=[") && strstr(body, "&post_type=0"));
        } else {
            T_CHECK(str_has_prefix(req, op == 0 ? "GET /wrk2-api/home-timeline/read?user_id="
                                                : "GET /wrk2-api/user-timeline/read?user_id="));
            long uid = num_after(req, "user_id="), start = num_after(req, "&start="), stop = num_after(req, "&stop=");
            T_CHECK(uid >= 1 && uid <= 962);
            T_CHECK(start >= 0 && start <= 100 && stop == start + 10);
            T_CHECK(len >= 4 && !memcmp(req + len - 4, "\r\n\r\n", 4));
        }
    }
    T_CHECK(NEAR(per[0], 60000, 600) && NEAR(per[1], 30000, 600) && NEAR(per[2], 10000, 400));
    /* Same seed, same bytes. */
    struct load_rng a, b;
    load_rng_seed(&a, 9);
    load_rng_seed(&b, 9);
    char b1[LOAD_REQ_MAX], b2[LOAD_REQ_MAX];
    for (int i = 0; i < 1000; i++) {
        size_t l1, l2;
        unsigned o1, o2;
        const char *x = load_mix_next(&m, &a, b1, sizeof b1, &l1, &o1);
        const char *y = load_mix_next(&m, &b, b2, sizeof b2, &l2, &o2);
        T_EQ_INT(l1, l2);
        T_CHECK(!memcmp(x, y, l1));
    }
    load_mix_free(&m);
    T_CHECK(load_mix_app(&m, "social-network", "nope", "h", 1.0, err, sizeof err) < 0);
    T_CHECK(strstr(err, "compose") != NULL);
    T_CHECK(load_mix_app(&m, "nope", NULL, "h", 1.0, err, sizeof err) < 0);
}

static void test_mix_hotel(void)
{
    struct load_mix m;
    char err[256] = "";
    T_EQ_INT(load_mix_app(&m, "hotel-reservation", "mixed", "127.9.1.2:5000", 1.0, err, sizeof err), 0);
    struct load_rng r;
    load_rng_seed(&r, 3);
    char buf[LOAD_REQ_MAX];
    size_t per[4] = {0};
    for (int i = 0; i < 200000; i++) {
        size_t len;
        unsigned op;
        const char *req = load_mix_next(&m, &r, buf, sizeof buf, &len, &op);
        per[op]++;
        switch (op) {
        case 0:
            T_CHECK(str_has_prefix(req, "GET /hotels?inDate=2015-04-"));
            T_CHECK(strstr(req, "&outDate=2015-04-") && strstr(req, "&lat=3") && strstr(req, "&lon=-12"));
            T_CHECK(num_after(req, "outDate=2015-04-") > num_after(req, "inDate=2015-04-"));
            break;
        case 1:
            T_CHECK(str_has_prefix(req, "GET /recommendations?require=dis&") ||
                    str_has_prefix(req, "GET /recommendations?require=rate&") ||
                    str_has_prefix(req, "GET /recommendations?require=price&"));
            break;
        case 2: {
            T_CHECK(str_has_prefix(req, "POST /user?username=Cornell_"));
            long id = num_after(req, "Cornell_");
            T_CHECK(id >= 0 && id <= 500);
            char pw[64] = "";
            for (int k = 0; k < 10; k++) snprintf(pw + strlen(pw), sizeof pw - strlen(pw), "%ld", id);
            char want[96];
            snprintf(want, sizeof want, "&password=%s HTTP/1.1\r\n", pw);
            T_CHECK(strstr(req, want) != NULL);
            T_CHECK(strstr(req, "Content-Length: 0\r\n") != NULL);
            break;
        }
        case 3:
            T_CHECK(str_has_prefix(req, "POST /reservation?inDate="));
            T_CHECK(strstr(req, "&hotelId=") && strstr(req, "&customerName=Cornell_") && strstr(req, "&number=1 HTTP/1.1"));
            T_CHECK(num_after(req, "&hotelId=") >= 1 && num_after(req, "&hotelId=") <= 80);
            break;
        }
    }
    T_CHECK(NEAR(per[0], 120000, 1500) && NEAR(per[1], 78000, 1500));
    T_CHECK(NEAR(per[2], 1000, 150) && NEAR(per[3], 1000, 150));
    load_mix_free(&m);
}

static void test_mix_url(void)
{
    struct load_mix m;
    char err[256] = "";
    T_EQ_INT(load_mix_url(&m, "127.0.0.1:8080", NULL, "/a?b=c", NULL, NULL, err, sizeof err), 0);
    struct load_rng r;
    load_rng_seed(&r, 1);
    size_t len;
    unsigned op;
    const char *req = load_mix_next(&m, &r, NULL, 0, &len, &op);
    T_EQ_STR(req, "GET /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
    load_mix_free(&m);
    T_EQ_INT(load_mix_url(&m, "h", "POST", "/p", "x=1", NULL, err, sizeof err), 0);
    req = load_mix_next(&m, &r, NULL, 0, &len, &op);
    T_EQ_STR(req, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  "Content-Length: 3\r\n\r\nx=1");
    load_mix_free(&m);
    T_CHECK(load_mix_url(&m, "h", "GE T", "/p", NULL, NULL, err, sizeof err) < 0);
    T_CHECK(load_mix_url(&m, "h", NULL, "p", NULL, NULL, err, sizeof err) < 0);
    T_CHECK(load_mix_url(&m, "h\r\nX: y", NULL, "/", NULL, NULL, err, sizeof err) < 0);
}

/* ---- the engine against local servers ---------------------------------- */

enum srv_mode { SRV_MIXED, SRV_500, SRV_STALL };

/* A forked server on 127.0.0.1: answers each request in turn with a
 * Content-Length body, a chunked body split over writes, and an answer
 * with Connection: close (SRV_MIXED); or 500s; or stalls 500 ms once. */
static void serve(int lfd, enum srv_mode mode)
{
    struct pollfd p[256];
    int n = 1, served = 0, stalled = 0;
    p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    char buf[8192];
    for (;;) {
        if (poll(p, (nfds_t)n, -1) < 0) continue;
        if (p[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            int one = 1; /* as real servers do: no Nagle delay on the split chunked answer */
            if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (fd >= 0 && n < 256) p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
        }
        for (int i = 1; i < n; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
            ssize_t r = recv(p[i].fd, buf, sizeof buf, 0);
            if (r <= 0 || !memmem(buf, (size_t)r, "\r\n\r\n", 4)) {
                close(p[i].fd);
                p[i--] = p[--n];
                continue;
            }
            int fd = p[i].fd, close_it = 0;
            served++;
            if (mode == SRV_500) {
                dprintf(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops");
            } else if (mode == SRV_STALL) {
                if (served == 50 && !stalled) {
                    stalled = 1;
                    struct timespec ts = {0, 500000000};
                    nanosleep(&ts, NULL);
                }
                dprintf(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            } else if (served % 3 == 0) {
                dprintf(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
            } else if (served % 3 == 1) {
                dprintf(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
                dprintf(fd, "lo\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n");
            } else {
                dprintf(fd, "HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
                close_it = 1;
            }
            if (close_it) {
                close(fd);
                p[i--] = p[--n];
            }
        }
    }
}

static pid_t start_server(enum srv_mode mode, int *port)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    T_CHECK(!bind(lfd, (struct sockaddr *)&a, sizeof a) && !listen(lfd, 128));
    socklen_t len = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        serve(lfd, mode);
        _exit(0);
    }
    close(lfd);
    return pid;
}

static struct load_run *start_run(int port, const char *phases, unsigned conns, int max_rate)
{
    struct load_options o;
    load_options_init(&o);
    snprintf(o.host, sizeof o.host, "127.0.0.1");
    snprintf(o.port, sizeof o.port, "%d", port);
    o.connections = conns;
    o.max_rate = max_rate;
    char err[256] = "";
    T_EQ_INT(load_mix_url(&o.mix, "127.0.0.1", NULL, "/", NULL, NULL, err, sizeof err), 0);
    T_EQ_INT(load_schedule_parse(phases, &o.schedule, err, sizeof err), 0);
    T_EQ_INT(load_schedule_load(&o.schedule, err, sizeof err), 0);
    struct load_run *run = NULL;
    if (load_start(&o, &run, err, sizeof err)) {
        fprintf(stderr, "# load_start: %s\n", err);
        exit(1);
    }
    return run;
}

static void test_engine_framings(void)
{
    int port;
    pid_t srv = start_server(SRV_MIXED, &port);
    struct load_run *run = start_run(port, "constant:300:1s", 4, 0);
    load_wait(run);
    struct load_stats st;
    load_stats(run, &st, NULL);
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    if (st.errors_total) fprintf(stderr, "# errors: connect %llu reset %llu parse %llu\n",
                                 (unsigned long long)st.errors[LOAD_ERR_CONNECT], (unsigned long long)st.errors[LOAD_ERR_RESET],
                                 (unsigned long long)st.errors[LOAD_ERR_PARSE]);
    if (st.completed != 300) fprintf(stderr, "# offered %llu sent %llu completed %llu unfinished %llu\n", (unsigned long long)st.offered,
            (unsigned long long)st.sent, (unsigned long long)st.completed, (unsigned long long)st.unfinished);
    T_EQ_INT(st.offered, 300);
    T_EQ_INT(st.completed, 300);
    T_EQ_INT(st.errors_total, 0);
    T_EQ_INT(st.status[2], 300);
    T_CHECK(st.reconnects >= 90); /* every third answer closed the connection */
    T_CHECK(st.done);
    json_t *rep = load_report(run);
    T_EQ_INT(json_integer_value(json_object_get(json_object_get(rep, "requests"), "completed")), 300);
    T_CHECK(NEAR(json_real_value(json_object_get(rep, "achieved_rate")), 300, 1));
    T_CHECK(json_real_value(json_object_get(json_object_get(rep, "latency_ms"), "p50")) > 0);
    json_decref(rep);
    load_free(run);
}

static void test_engine_errors(void)
{
    int port;
    pid_t srv = start_server(SRV_500, &port);
    struct load_run *run = start_run(port, "constant:200:500ms", 2, 0);
    load_wait(run);
    struct load_stats st;
    load_stats(run, &st, NULL);
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    T_EQ_INT(st.completed, 100);
    T_EQ_INT(st.errors[LOAD_ERR_HTTP5], 100);
    T_EQ_INT(st.status[5], 100);
    load_free(run);
    /* Nobody listens: connect errors, and the run still ends on time. */
    run = start_run(port, "constant:100:500ms", 2, 0);
    uint64_t t0 = mono_ns();
    load_wait(run);
    T_CHECK(mono_ns() - t0 < 3000000000ull);
    load_stats(run, &st, NULL);
    T_EQ_INT(st.completed, 0);
    T_CHECK(st.errors[LOAD_ERR_CONNECT] >= 40);
    load_free(run);
}

/* Coordinated omission: a 500 ms stall of one answer on one connection
 * at 100 req/s delays ~50 requests that were due meanwhile; measured from
 * their intended send time, they all show it. */
static void test_engine_open_loop(void)
{
    int port;
    pid_t srv = start_server(SRV_STALL, &port);
    struct load_run *run = start_run(port, "constant:100:2s", 1, 0);
    load_wait(run);
    struct load_stats st;
    struct load_hdr *h = xmalloc(sizeof *h);
    load_stats(run, &st, h);
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    T_EQ_INT(st.completed, 200);
    T_CHECK(h->max >= 450000000ull);
    uint64_t slow = h->count - load_hdr_count_le(h, 100000000ull); /* > 100 ms */
    if (slow < 30) fprintf(stderr, "# only %llu slow\n", (unsigned long long)slow);
    T_CHECK(slow >= 30);
    T_CHECK(load_hdr_quantile(h, 0.9) >= 100000000ull);
    free(h);
    load_free(run);
}

static void test_engine_stop_and_metrics(void)
{
    int port;
    pid_t srv = start_server(SRV_MIXED, &port);
    struct load_run *run = start_run(port, "constant:200:60s", 4, 0);
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    struct load_stats st;
    load_stats(run, &st, NULL);
    T_CHECK(!st.done);
    T_CHECK(st.completed > 20);
    T_CHECK(NEAR(st.offered_rate, 200, 0.001));
    struct buf b;
    buf_init(&b, 1 << 20);
    T_EQ_INT(load_metrics_render(run, &b), 0);
    T_CHECK(strstr(b.data, "\nload_offered_rate 200.000\n") != NULL);
    T_CHECK(strstr(b.data, "load_errors_total{kind=\"timeout\"} 0\n") != NULL);
    T_CHECK(strstr(b.data, "load_request_duration_seconds_bucket{le=\"+Inf\"}") != NULL);
    T_CHECK(strstr(b.data, "# TYPE load_request_duration_seconds histogram\n") != NULL);
    buf_free(&b);
    uint64_t t0 = mono_ns();
    load_stop(run);
    load_wait(run);
    T_CHECK(mono_ns() - t0 < 2000000000ull);
    load_stats(run, &st, NULL);
    T_CHECK(st.done);
    T_CHECK(st.elapsed_s < 5);
    load_free(run);
    /* Closed loop: as fast as answers come. */
    run = start_run(port, "constant:0:300ms", 2, 1);
    load_wait(run);
    load_stats(run, &st, NULL);
    if (st.completed <= 100) fprintf(stderr, "# closed loop: sent %llu completed %llu errors %llu reconnects %llu\n",
                                     (unsigned long long)st.sent, (unsigned long long)st.completed,
                                     (unsigned long long)st.errors_total, (unsigned long long)st.reconnects);
    T_CHECK(st.completed > 100);
    T_EQ_INT(st.errors_total, 0);
    load_free(run);
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
}

static void test_engine_bad_options(void)
{
    struct load_options o;
    load_options_init(&o);
    char err[256] = "";
    struct load_run *run;
    snprintf(o.host, sizeof o.host, "no-such-host.invalid");
    snprintf(o.port, sizeof o.port, "80");
    T_EQ_INT(load_mix_url(&o.mix, "h", NULL, "/", NULL, NULL, err, sizeof err), 0);
    T_EQ_INT(load_schedule_parse("constant:1:1s", &o.schedule, err, sizeof err), 0);
    T_CHECK(load_start(&o, &run, err, sizeof err) < 0);
    T_CHECK(strstr(err, "resolve") != NULL);
    o.threads = 0;
    T_CHECK(load_start(&o, &run, err, sizeof err) < 0);
    load_mix_free(&o.mix);
    load_schedule_free(&o.schedule);
}

int main(void)
{
    T_RUN(test_hdr_precision);
    T_RUN(test_hdr_empty);
    T_RUN(test_constant);
    T_RUN(test_poisson);
    T_RUN(test_shapes);
    T_RUN(test_replay);
    T_RUN(test_schedule_errors);
    T_RUN(test_seeded);
    T_RUN(test_zipf);
    T_RUN(test_mix_social);
    T_RUN(test_mix_hotel);
    T_RUN(test_mix_url);
    T_RUN(test_engine_framings);
    T_RUN(test_engine_errors);
    T_RUN(test_engine_open_loop);
    T_RUN(test_engine_stop_and_metrics);
    T_RUN(test_engine_bad_options);
    return t_done();
}
