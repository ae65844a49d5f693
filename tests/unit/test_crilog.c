/* Unit tests for crilog: the CRI log writer (format, rotation) and the
 * reader kubectl uses (order across rotated files, parsing, malformed and
 * oversized lines). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/crilog.h"
#include "core/buf.h"
#include "core/util.h"
#include "t.h"

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_crilog.XXXXXX");
    T_CHECK(mkdtemp(dir) != NULL);
}

static int exists(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

struct collected {
    int n;
    struct crilog_line l[400];
    char text[400][64];
};

static int collect(const struct crilog_line *l, void *arg)
{
    struct collected *c = arg;
    if (c->n >= 400) return 1;
    c->l[c->n] = *l;
    size_t k = l->len < 63 ? l->len : 63;
    memcpy(c->text[c->n], l->text, k);
    c->text[c->n][k] = '\0';
    c->n++;
    return 0;
}

static void test_write_format_and_read_back(void)
{
    mkdir_tmp();
    struct crilog_writer *w = crilog_open(dir, 0, 3);
    T_CHECK(w != NULL);
    T_EQ_INT(crilog_write(w, 1795801625123456789ull, 0, 0, "hello", 5), 0);
    T_EQ_INT(crilog_write(w, 1795801625223456789ull, 1, 1, "part", 4), 0);
    T_EQ_INT(crilog_write(w, 1795801625323456789ull, 0, 0, "", 0), 0);
    crilog_close(w);
    char p[256];
    snprintf(p, sizeof p, "%s/current.log", dir);
    struct buf b;
    buf_init(&b, 4096);
    T_EQ_INT(read_file(p, &b), 0);
    T_EQ_STR(b.data, "2026-11-27T17:47:05.123456789Z stdout F hello\n"
                     "2026-11-27T17:47:05.223456789Z stderr P part\n"
                     "2026-11-27T17:47:05.323456789Z stdout F \n");
    buf_free(&b);
    struct collected *c = calloc(1, sizeof *c);
    T_EQ_INT(crilog_read(dir, collect, c), 0);
    T_EQ_INT(c->n, 3);
    T_EQ_INT(c->l[0].ts_ns, 1795801625123456789ull);
    T_EQ_INT(c->l[0].is_stderr, 0);
    T_EQ_INT(c->l[0].partial, 0);
    T_EQ_STR(c->text[0], "hello");
    T_EQ_INT(c->l[1].is_stderr, 1);
    T_EQ_INT(c->l[1].partial, 1);
    T_EQ_STR(c->text[1], "part");
    T_EQ_INT(c->l[2].len, 0);
    free(c);
    rm_rf(dir);
}

static void test_rotation_keeps_max_files_and_order(void)
{
    mkdir_tmp();
    struct crilog_writer *w = crilog_open(dir, 500, 3);
    T_CHECK(w != NULL);
    char line[32];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(line, sizeof line, "line-%03d", i);
        T_EQ_INT(crilog_write(w, 1000000000ull * (uint64_t)(i + 1), i % 2, 0, line, (size_t)n), 0);
    }
    crilog_close(w);
    T_CHECK(exists("current.log"));
    T_CHECK(exists("current.log.1"));
    T_CHECK(exists("current.log.2"));
    T_CHECK(!exists("current.log.3"));
    struct collected *c = calloc(1, sizeof *c);
    T_EQ_INT(crilog_read(dir, collect, c), 0);
    T_CHECK(c->n > 10 && c->n < 40); /* about 3 * 500 bytes of 48-byte lines */
    for (int i = 1; i < c->n; i++) T_CHECK(c->l[i].ts_ns > c->l[i - 1].ts_ns);
    T_EQ_STR(c->text[c->n - 1], "line-099");
    free(c);
    /* Reopening appends to the existing current.log. */
    w = crilog_open(dir, 500, 3);
    T_EQ_INT(crilog_write(w, 200000000000ull, 0, 0, "again", 5), 0);
    crilog_close(w);
    c = calloc(1, sizeof *c);
    T_EQ_INT(crilog_read(dir, collect, c), 0);
    T_EQ_STR(c->text[c->n - 1], "again");
    T_EQ_STR(c->text[c->n - 2], "line-099");
    free(c);
    rm_rf(dir);
}

static void test_single_file_truncates(void)
{
    mkdir_tmp();
    struct crilog_writer *w = crilog_open(dir, 200, 1);
    for (int i = 0; i < 50; i++) T_EQ_INT(crilog_write(w, 1, 0, 0, "0123456789", 10), 0);
    crilog_close(w);
    T_CHECK(!exists("current.log.1"));
    char p[256];
    snprintf(p, sizeof p, "%s/current.log", dir);
    struct stat st;
    T_EQ_INT(stat(p, &st), 0);
    T_CHECK(st.st_size <= 200 && st.st_size > 0);
    rm_rf(dir);
}

static void test_parse(void)
{
    struct crilog_line l;
    const char *ok = "2026-11-27T17:47:05.5Z stderr F a b  c";
    T_EQ_INT(crilog_parse(ok, strlen(ok), &l), 0);
    T_EQ_INT(l.is_stderr, 1);
    T_EQ_INT(l.partial, 0);
    T_EQ_INT(l.ts_ns % 1000000000ull, 500000000);
    T_EQ_INT(l.len, 6);
    T_CHECK(!memcmp(l.text, "a b  c", 6));
    const char *tags = "2026-11-27T17:47:05Z stdout P:x y";
    T_EQ_INT(crilog_parse(tags, strlen(tags), &l), 0);
    T_EQ_INT(l.partial, 1);
    T_EQ_INT(l.len, 1);
    const char *bare = "2026-11-27T17:47:05Z stdout F";
    T_EQ_INT(crilog_parse(bare, strlen(bare), &l), 0);
    T_EQ_INT(l.len, 0);
    const char *bad[] = {"", "hello world", "2026-11-27T17:47:05Z stdin F x", "2026-11-27T17:47:05Z stdout X x",
                         "notatime stdout F x", "2026-11-27T17:47:05Z stdout Fx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) T_EQ_INT(crilog_parse(bad[i], strlen(bad[i]), &l), -EINVAL);
}

static int count_and_stop(const struct crilog_line *l, void *arg)
{
    int *n = arg;
    return ++*n == 2;
}

struct big {
    size_t total;
    int pieces, malformed;
};

static int sum_big(const struct crilog_line *l, void *arg)
{
    struct big *b = arg;
    b->total += l->len;
    b->pieces++;
    if (l->ts_ns == 0) b->malformed++;
    return 0;
}

static void test_read_edges(void)
{
    mkdir_tmp();
    int n = 0;
    T_EQ_INT(crilog_read(dir, count_and_stop, &n), -ENOENT);
    /* A foreign file: a 200000-byte line without newline, then a short one. */
    char p[256];
    snprintf(p, sizeof p, "%s/current.log", dir);
    size_t big = 200000;
    char *data = malloc(big + 16);
    memset(data, 'z', big);
    memcpy(data + big, "\nshort\n", 7);
    T_EQ_INT(write_file_atomic(p, data, big + 7), 0);
    free(data);
    struct big b = {0};
    T_EQ_INT(crilog_read(dir, sum_big, &b), 0);
    T_EQ_INT(b.total, big + 5);
    T_CHECK(b.pieces >= 4);
    T_EQ_INT(b.malformed, b.pieces);
    n = 0;
    T_EQ_INT(crilog_read(dir, count_and_stop, &n), 0);
    T_EQ_INT(n, 2);
    rm_rf(dir);
}

int main(void)
{
    T_RUN(test_write_format_and_read_back);
    T_RUN(test_rotation_keeps_max_files_and_order);
    T_RUN(test_single_file_truncates);
    T_RUN(test_parse);
    T_RUN(test_read_edges);
    return t_done();
}
