/* test_logq: the log query library — templates that fold lines differing
 * only in ids, numbers, hex, UUIDs, IPs and times; the level filter on JSON
 * and plain lines; grep; reading CRI run folders (P records joined, the
 * per-source bound); merging by time; folding in order of first occurrence;
 * the byte bound of a set. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/crilog.h"
#include "core/buf.h"
#include "core/lab.h"
#include "core/util.h"
#include "observe/logq.h"
#include "t.h"

static char *tmpl(const char *s)
{
    static char out[4096];
    struct buf b;
    buf_init(&b, sizeof out);
    T_CHECK(logq_template(s, strlen(s), &b) == 0);
    snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    buf_free(&b);
    return out;
}

static void test_template_folds_ids(void)
{
    /* Same template: numbers, durations, IPs with ports, timestamps, UUIDs, hex ids. */
    char a[4096];
    snprintf(a, sizeof a, "%s",
             tmpl("2026-11-27T17:47:05.123Z GET /user/42 200 3.2ms from 127.150.64.3:41234 req=123e4567-e89b-12d3-a456-426614174000 trace=4bf92f3577b34da6a3ce929d0e0e4736"));
    T_EQ_STR(tmpl("2026-11-28T01:02:03.9Z GET /user/7 500 120ms from 10.0.0.12:80 req=deadbeef-cafe-babe-face-feedfacecafe trace=aaaaaaaaaaaabbbbbbbbbbbbcccccccc"), a);
    T_EQ_STR(a, "# GET /user/# # # from # req=# trace=#");
    /* Words stay: a different message is a different template. */
    snprintf(a, sizeof a, "%s", tmpl("connect to words:9090 failed: Connection refused"));
    T_EQ_STR(a, "connect to words:# failed: Connection refused");
    T_CHECK(strcmp(a, tmpl("connect to words:9090 failed: timed out")) != 0);
    T_EQ_STR(tmpl("pod words-7d9f8c-x2k4p ready"), "pod words-# ready");
    T_EQ_STR(tmpl("GET /a/1/b 3.25ms"), "GET /a/#/b #");
    T_EQ_STR(tmpl("0x7ffd1234 ptr"), "# ptr");
    /* Short hex-looking words without digits are words ("added", "cafe"). */
    T_EQ_STR(tmpl("added cafe"), "added cafe");
    T_EQ_STR(tmpl(""), "");
}

static void test_level_of_lines(void)
{
    const char *j = "{\"ts\":\"2026-11-27T17:47:05Z\",\"level\":\"error\",\"service\":\"frontend\",\"msg\":\"x\"}";
    T_EQ_INT(logq_line_level(j, strlen(j)), LOGQ_ERROR);
    j = "{\"level\":\"WARNING\",\"msg\":\"an error word in the message does not count\"}";
    T_EQ_INT(logq_line_level(j, strlen(j)), LOGQ_WARN);
    j = "{ \"msg\": \"x\", \"severity\" : \"debug\" }";
    T_EQ_INT(logq_line_level(j, strlen(j)), LOGQ_DEBUG);
    /* A "level" inside a string value is not the field. */
    j = "{\"msg\":\"\\\"level\\\":\\\"error\\\"\",\"level\":\"info\"}";
    T_EQ_INT(logq_line_level(j, strlen(j)), LOGQ_INFO);
    const char *p = "1234:M 27 Nov 2026 ERROR: Connection refused";
    T_EQ_INT(logq_line_level(p, strlen(p)), LOGQ_ERROR);
    p = "[warn] slow request";
    T_EQ_INT(logq_line_level(p, strlen(p)), LOGQ_WARN);
    p = "stderr output without errors"; /* "stderr", "errors" are not level words */
    T_EQ_INT(logq_line_level(p, strlen(p)), LOGQ_LEVEL_NONE);
    T_EQ_INT(logq_parse_level("WARN"), LOGQ_WARN);
    T_EQ_INT(logq_parse_level("warning"), LOGQ_WARN);
    T_EQ_INT(logq_parse_level("error"), LOGQ_ERROR);
    T_EQ_INT(logq_parse_level("verbose"), LOGQ_LEVEL_NONE);
    T_EQ_INT(logq_parse_level("trace"), LOGQ_LEVEL_NONE);
}

static int matches(const struct logq_filter *f, uint64_t ts, const char *s)
{
    return logq_match(f, ts, s, strlen(s));
}

static void test_filters(void)
{
    struct logq_filter f;
    char err[256];
    T_CHECK(logq_filter_init(&f, 0, LOGQ_WARN, NULL, err, sizeof err) == 0);
    T_CHECK(matches(&f, 0, "{\"level\":\"error\",\"msg\":\"a\"}"));
    T_CHECK(matches(&f, 0, "{\"level\":\"warn\",\"msg\":\"a\"}"));
    T_CHECK(!matches(&f, 0, "{\"level\":\"info\",\"msg\":\"a\"}"));
    T_CHECK(matches(&f, 0, "plain line with ERROR inside"));
    T_CHECK(!matches(&f, 0, "plain line"));
    logq_filter_free(&f);
    T_CHECK(logq_filter_init(&f, 0, LOGQ_INFO, NULL, err, sizeof err) == 0);
    T_CHECK(matches(&f, 0, "plain line")); /* no level word: counted as info */
    T_CHECK(!matches(&f, 0, "{\"level\":\"debug\"}"));
    logq_filter_free(&f);

    T_CHECK(logq_filter_init(&f, 1000, LOGQ_LEVEL_NONE, "GET /(user|post)/[0-9]+ 5[0-9]{2}", err, sizeof err) == 0);
    T_CHECK(matches(&f, 2000, "GET /user/42 503 3ms"));
    T_CHECK(!matches(&f, 2000, "GET /user/42 200 3ms"));
    T_CHECK(!matches(&f, 999, "GET /user/42 503 3ms"));  /* before --since */
    T_CHECK(matches(&f, 0, "GET /post/1 500 1ms"));      /* no timestamp: kept */
    logq_filter_free(&f);

    T_CHECK(logq_filter_init(&f, 0, LOGQ_LEVEL_NONE, "a(b", err, sizeof err) == -EINVAL);
    T_CHECK(strstr(err, "bad --grep \"a(b\"") != NULL);
    logq_filter_free(&f);
}

/* A run folder with the given CRI records written by the real writer. */
static void write_run(const char *dir, const char *const *lines, const uint64_t *ts, const int *partial, size_t n)
{
    T_CHECK(mkdir_p(dir, 0755) == 0);
    struct crilog_writer *w = crilog_open(dir, 0, 1);
    T_CHECK(w != NULL);
    for (size_t i = 0; i < n; i++)
        T_CHECK(crilog_write(w, ts[i], 0, partial ? partial[i] : 0, lines[i], strlen(lines[i])) == 0);
    crilog_close(w);
}

static void test_read_merge_fold(void)
{
    char base[] = "/tmp/test_logq.XXXXXX";
    T_CHECK(mkdtemp(base) != NULL);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a", base);
    snprintf(b, sizeof b, "%s/b", base);
    const char *la[] = {"GET / 200 1ms", "part one ", "and two", "GET / 200 17ms", "{\"level\":\"error\",\"msg\":\"boom 1\"}"};
    uint64_t ta[] = {100, 300, 301, 500, 700};
    int pa[] = {0, 1, 0, 0, 0};
    write_run(a, la, ta, pa, 5);
    const char *lb[] = {"GET / 200 5ms", "{\"level\":\"error\",\"msg\":\"boom 2\"}", "GET / 200 9ms"};
    uint64_t tb[] = {200, 600, 800};
    write_run(b, lb, tb, NULL, 3);

    struct logq_set s;
    logq_set_init(&s, 0);
    T_CHECK(logq_read_run(&s, a, "pod-a", NULL, 0) == 0);
    T_CHECK(logq_read_run(&s, b, "pod-b", NULL, 0) == 0);
    T_EQ_INT(s.n, 7); /* the P record is joined */
    logq_sort(&s);
    T_EQ_STR(s.lines[0].text, "GET / 200 1ms");
    T_EQ_STR(s.lines[1].source, "pod-b");
    T_EQ_STR(s.lines[2].text, "part one and two");
    T_EQ_INT(s.lines[2].ts_ns, 300);
    T_EQ_STR(s.lines[6].text, "GET / 200 9ms");

    struct logq_group *g = NULL;
    size_t ng = 0;
    T_CHECK(logq_fold(&s, 0, &g, &ng) == 0);
    T_EQ_INT(ng, 3); /* GET x4, part one, boom x2 — in order of first occurrence */
    T_EQ_INT(g[0].count, 4);
    T_EQ_STR(s.lines[g[0].first].text, "GET / 200 1ms");
    T_EQ_INT(g[1].count, 1);
    T_EQ_INT(g[2].count, 2);
    T_EQ_STR(s.lines[g[2].first].text, "{\"level\":\"error\",\"msg\":\"boom 2\"}");
    free(g);
    /* Folding from an index (--tail) */
    T_CHECK(logq_fold(&s, 5, &g, &ng) == 0);
    T_EQ_INT(ng, 2);
    free(g);
    logq_set_free(&s);

    /* A filter and keep_last while reading: the newest matching lines of the source. */
    struct logq_filter f;
    char err[256];
    T_CHECK(logq_filter_init(&f, 0, LOGQ_LEVEL_NONE, "^GET", err, sizeof err) == 0);
    logq_set_init(&s, 0);
    T_CHECK(logq_read_run(&s, a, "pod-a", &f, 1) == 0);
    T_EQ_INT(s.n, 1);
    T_EQ_STR(s.lines[0].text, "GET / 200 17ms");
    T_EQ_INT(s.trimmed, 1);
    logq_set_free(&s);
    logq_filter_free(&f);

    char missing[700];
    snprintf(missing, sizeof missing, "%s/none", base);
    logq_set_init(&s, 0);
    T_EQ_INT(logq_read_run(&s, missing, "x", NULL, 0), -ENOENT);
    logq_set_free(&s);
    rm_rf(base);
}

static void test_bounds(void)
{
    struct logq_set s;
    logq_set_init(&s, 100);
    char line[40];
    memset(line, 'x', sizeof line);
    int kept = 0;
    for (int i = 0; i < 10; i++) kept += logq_add(&s, "p", (uint64_t)i, line, sizeof line) == 0;
    T_EQ_INT(kept, 2); /* 2 * 41 bytes fit in 100 */
    T_EQ_INT(s.dropped, 8);
    T_CHECK(s.bytes <= 100);
    logq_set_free(&s);

    /* A template never grows past its buffer: -E2BIG, not an overflow. */
    struct buf b;
    buf_init(&b, 8);
    T_EQ_INT(logq_template("a long line of words", 20, &b), -E2BIG);
    buf_free(&b);

    /* A very long line made of P records is cut at LOGQ_MAX_LINE_BYTES. */
    char base[] = "/tmp/test_logq_big.XXXXXX";
    T_CHECK(mkdtemp(base) != NULL);
    struct crilog_writer *w = crilog_open(base, 0, 1);
    T_CHECK(w != NULL);
    static char chunk[CRILOG_MAX_LINE];
    memset(chunk, 'y', sizeof chunk);
    for (int i = 0; i < 80; i++) T_CHECK(crilog_write(w, 10, 0, 1, chunk, sizeof chunk) == 0);
    T_CHECK(crilog_write(w, 11, 0, 0, "end", 3) == 0);
    crilog_close(w);
    logq_set_init(&s, 0);
    T_CHECK(logq_read_run(&s, base, "big", NULL, 0) == 0);
    T_CHECK(s.n >= 1);
    for (size_t i = 0; i < s.n; i++) T_CHECK(s.lines[i].len <= LOGQ_MAX_LINE_BYTES);
    logq_set_free(&s);
    rm_rf(base);
}

static void test_list_runs(void)
{
    char base[] = "/tmp/test_logq_runs.XXXXXX";
    T_CHECK(mkdtemp(base) != NULL);
    struct lab lab = {.net = 1};
    snprintf(lab.dir, sizeof lab.dir, "%s", base);
    const char *runs[] = {"0", "1", "2", "10", "state", "9"};
    for (size_t i = 0; i < 6; i++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s/pods/u1/containers/c/%s", base, runs[i]);
        T_CHECK(mkdir_p(d, 0755) == 0);
    }
    int got[2];
    T_EQ_INT(logq_list_runs(&lab, "u1", "c", got, 2), 2);
    T_EQ_INT(got[0], 10); /* numeric order, not the directory's */
    T_EQ_INT(got[1], 9);
    T_EQ_INT(logq_list_runs(&lab, "nope", "c", got, 2), 0);
    rm_rf(base);
}

int main(void)
{
    T_RUN(test_template_folds_ids);
    T_RUN(test_level_of_lines);
    T_RUN(test_filters);
    T_RUN(test_read_merge_fold);
    T_RUN(test_bounds);
    T_RUN(test_list_runs);
    return t_done();
}
