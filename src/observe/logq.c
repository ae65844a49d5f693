/* logq: selection, filtering, merging and folding of pod log lines (see
 * logq.h). The CRI files are read with crilog_read, which walks the
 * rotated files oldest first; this file joins P records into lines, keeps
 * the lines that pass a filter, and folds them into templates with a small
 * open-addressing hash table. */
#include "observe/logq.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/crilog.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/util.h"

/* ---- levels ------------------------------------------------------------ */

static int word_eq(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && !strncasecmp(w, lit, n);
}

static enum logq_level level_of_word(const char *w, size_t n)
{
    if (word_eq(w, n, "error") || word_eq(w, n, "err") || word_eq(w, n, "fatal") || word_eq(w, n, "panic") ||
        word_eq(w, n, "critical") || word_eq(w, n, "crit") || word_eq(w, n, "emerg") || word_eq(w, n, "alert"))
        return LOGQ_ERROR;
    if (word_eq(w, n, "warn") || word_eq(w, n, "warning")) return LOGQ_WARN;
    if (word_eq(w, n, "info") || word_eq(w, n, "notice")) return LOGQ_INFO;
    if (word_eq(w, n, "debug") || word_eq(w, n, "trace")) return LOGQ_DEBUG;
    return LOGQ_LEVEL_NONE;
}

enum logq_level logq_parse_level(const char *s)
{
    /* Only the four names and their usual spellings; the other words are
     * recognized in lines, not as a filter. */
    static const char *const names[] = {"debug", "info", "warn", "warning", "error", "err", "fatal", "critical", "panic"};
    for (size_t i = 0; s && i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(s, names[i])) return level_of_word(s, strlen(s));
    return LOGQ_LEVEL_NONE;
}

/* The value of "key": "value" at the top of a JSON object line, found by
 * scanning (no full parse: a log line is small but there are many). Only
 * a plain string value without escapes counts. */
static int json_field(const char *text, size_t len, const char *key, const char **val, size_t *vlen)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen + 2 < len; i++) {
        if (text[i] != '"' || strncmp(text + i + 1, key, klen) || text[i + 1 + klen] != '"') continue;
        /* The character before the key must open a member: '{' or ',' (after blanks). */
        size_t b = i;
        while (b > 0 && isspace((unsigned char)text[b - 1])) b--;
        if (b == 0 || (text[b - 1] != '{' && text[b - 1] != ',')) continue;
        size_t j = i + klen + 2;
        while (j < len && isspace((unsigned char)text[j])) j++;
        if (j >= len || text[j] != ':') continue;
        j++;
        while (j < len && isspace((unsigned char)text[j])) j++;
        if (j >= len || text[j] != '"') continue;
        size_t start = ++j;
        while (j < len && text[j] != '"' && text[j] != '\\') j++;
        if (j >= len || text[j] != '"') continue;
        *val = text + start;
        *vlen = j - start;
        return 1;
    }
    return 0;
}

enum logq_level logq_line_level(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i])) i++;
    if (i < len && text[i] == '{') {
        static const char *const keys[] = {"level", "severity", "lvl"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            const char *v;
            size_t vl;
            if (json_field(text, len, keys[k], &v, &vl)) return level_of_word(v, vl);
        }
    }
    enum logq_level best = LOGQ_LEVEL_NONE;
    for (i = 0; i < len;) {
        if (!isalpha((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && isalnum((unsigned char)text[i])) i++;
        enum logq_level l = level_of_word(text + s, i - s);
        if (l > best) best = l;
    }
    return best;
}

/* ---- filters ------------------------------------------------------------ */

int logq_filter_init(struct logq_filter *f, uint64_t since_ns, enum logq_level min_level, const char *grep, char *err,
                     size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->since_ns = since_ns;
    f->min_level = min_level;
    if (!grep) return 0;
    int rc = regcomp(&f->grep, grep, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[200];
        regerror(rc, &f->grep, msg, sizeof msg);
        regfree(&f->grep);
        snprintf(err, errlen, "bad --grep \"%s\": %s", grep, msg);
        return -EINVAL;
    }
    f->has_grep = 1;
    return 0;
}

void logq_filter_free(struct logq_filter *f)
{
    if (f->has_grep) regfree(&f->grep);
    f->has_grep = 0;
}

int logq_match(const struct logq_filter *f, uint64_t ts_ns, const char *text, size_t len)
{
    if (!f) return 1;
    if (f->since_ns && ts_ns && ts_ns < f->since_ns) return 0;
    if (f->min_level > LOGQ_LEVEL_NONE) {
        enum logq_level l = logq_line_level(text, len);
        if (l == LOGQ_LEVEL_NONE) l = LOGQ_INFO;
        if (l < f->min_level) return 0;
    }
    if (f->has_grep && regexec(&f->grep, text, 0, NULL, 0) != 0) return 0;
    return 1;
}

/* ---- sets ----------------------------------------------------------------- */

void logq_set_init(struct logq_set *s, size_t max_bytes)
{
    memset(s, 0, sizeof *s);
    s->max_bytes = max_bytes ? max_bytes : LOGQ_MAX_BYTES;
}

void logq_set_free(struct logq_set *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->lines[i].text);
    for (size_t i = 0; i < s->nsources; i++) free(s->sources[i]);
    free(s->lines);
    free(s->sources);
    memset(s, 0, sizeof *s);
}

static const char *intern_source(struct logq_set *s, const char *source)
{
    for (size_t i = s->nsources; i > 0; i--)
        if (!strcmp(s->sources[i - 1], source)) return s->sources[i - 1];
    s->sources = xrealloc(s->sources, (s->nsources + 1) * sizeof *s->sources);
    s->sources[s->nsources] = xstrdup(source);
    return s->sources[s->nsources++];
}

int logq_add(struct logq_set *s, const char *source, uint64_t ts_ns, const char *text, size_t len)
{
    if (s->bytes + len + 1 > s->max_bytes) {
        s->dropped++;
        return -E2BIG;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->lines = xrealloc(s->lines, s->cap * sizeof *s->lines);
    }
    struct logq_line *l = &s->lines[s->n++];
    l->ts_ns = ts_ns;
    l->seq = s->seq++;
    l->source = intern_source(s, source ? source : "");
    l->text = xstrndup(text, len);
    l->len = len;
    s->bytes += len + 1;
    return 0;
}

/* Drop lines [from, to) of the set (lines of the source being read). */
static void drop_range(struct logq_set *s, size_t from, size_t to)
{
    s->trimmed += to - from;
    for (size_t i = from; i < to; i++) {
        s->bytes -= s->lines[i].len + 1;
        free(s->lines[i].text);
    }
    memmove(&s->lines[from], &s->lines[to], (s->n - to) * sizeof *s->lines);
    s->n -= to - from;
}

struct reader {
    struct logq_set *set;
    const char *source;
    const struct logq_filter *f;
    size_t start, keep_last;
    struct buf partial;
    uint64_t partial_ts, last_ts;
};

static void reader_emit(struct reader *r, uint64_t ts, const char *text, size_t len)
{
    if (!ts) ts = r->last_ts;
    else r->last_ts = ts;
    /* logq_match needs a NUL-terminated line: text may sit inside a file buffer. */
    char *line = xstrndup(text, len);
    if (logq_match(r->f, ts, line, len)) {
        /* Trim this source to its newest keep_last lines before going past the set's bound. */
        if (r->keep_last && r->set->n - r->start >= r->keep_last * 2) drop_range(r->set, r->start, r->set->n - r->keep_last);
        logq_add(r->set, r->source, ts, line, len);
    }
    free(line);
}

static int on_record(const struct crilog_line *l, void *arg)
{
    struct reader *r = arg;
    if (l->partial) {
        if (!r->partial.len) r->partial_ts = l->ts_ns;
        if (buf_append(&r->partial, l->text, l->len)) { /* past LOGQ_MAX_LINE_BYTES: emit what we have */
            reader_emit(r, r->partial_ts, r->partial.data, r->partial.len);
            buf_reset(&r->partial);
        }
        return 0;
    }
    if (r->partial.len) {
        size_t room = r->partial.max - r->partial.len;
        buf_append(&r->partial, l->text, l->len < room ? l->len : room);
        reader_emit(r, r->partial_ts, r->partial.data, r->partial.len);
        buf_reset(&r->partial);
    } else {
        reader_emit(r, l->ts_ns, l->text, l->len);
    }
    return 0;
}

int logq_read_run(struct logq_set *s, const char *rundir, const char *source, const struct logq_filter *f,
                  size_t keep_last)
{
    struct reader r = {.set = s, .source = source, .f = f, .start = s->n, .keep_last = keep_last};
    buf_init(&r.partial, LOGQ_MAX_LINE_BYTES);
    int rc = crilog_read(rundir, on_record, &r);
    if (r.partial.len) reader_emit(&r, r.partial_ts, r.partial.data, r.partial.len);
    buf_free(&r.partial);
    if (keep_last && s->n - r.start > keep_last) drop_range(s, r.start, s->n - keep_last);
    return rc;
}

static int cmp_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

size_t logq_list_runs(const struct lab *lab, const char *uid, const char *container, int *runs, size_t max)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/pods/%s/containers/%s", lab->dir, uid, container) >= (int)sizeof dir) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    int *all = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        long v;
        if (parse_long(e->d_name, 0, 1000000, &v)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            all = xrealloc(all, cap * sizeof *all);
        }
        all[n++] = (int)v;
    }
    closedir(d);
    if (n) qsort(all, n, sizeof *all, cmp_desc);
    if (n > max) n = max;
    if (n) memcpy(runs, all, n * sizeof *runs);
    free(all);
    return n;
}

static int cmp_line(const void *a, const void *b)
{
    const struct logq_line *x = a, *y = b;
    if (x->ts_ns != y->ts_ns) return x->ts_ns < y->ts_ns ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

void logq_sort(struct logq_set *s)
{
    if (s->n > 1) qsort(s->lines, s->n, sizeof *s->lines, cmp_line);
}

/* ---- templates ------------------------------------------------------------- */

static int is_hex(int c)
{
    return isxdigit((unsigned char)c);
}

/* Length of a UUID (8-4-4-4-12 hex) at p, or 0. */
static size_t uuid_at(const char *p, size_t n)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    size_t i = 0;
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, i++)
            if (i >= n || !is_hex(p[i])) return 0;
        if (g < 4) {
            if (i >= n || p[i] != '-') return 0;
            i++;
        }
    }
    return i;
}

/* Append the placeholder; "#" SEP "#" (SEP one of . : -) is one value —
 * a decimal, an address with its port, a date — and stays one "#". */
static int put_hash(struct buf *out)
{
    if (out->len >= 2 && out->data[out->len - 2] == '#' && strchr(".:-", out->data[out->len - 1])) {
        out->len--;
        out->data[out->len] = '\0';
        return 0;
    }
    return buf_append(out, "#", 1);
}

int logq_template(const char *text, size_t len, struct buf *out)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        if (!isalnum(c)) {
            if (buf_append(out, &text[i], 1)) return -E2BIG;
            i++;
            continue;
        }
        size_t u = uuid_at(text + i, len - i);
        if (u && (i + u == len || !isalnum((unsigned char)text[i + u]))) {
            if (put_hash(out)) return -E2BIG;
            i += u;
            continue;
        }
        size_t s = i;
        int digits = 0, hex = 1;
        while (i < len && (isalnum((unsigned char)text[i]) || text[i] == '_')) {
            if (isdigit((unsigned char)text[i])) digits = 1;
            if (!is_hex(text[i])) hex = 0;
            i++;
        }
        /* A word with a digit is an id, a number, a time or an address part;
         * a long run of hex letters is an id too. */
        if (digits || (hex && i - s >= 12)) {
            if (put_hash(out)) return -E2BIG;
        } else if (buf_append(out, text + s, i - s)) {
            return -E2BIG;
        }
    }
    return 0;
}

/* ---- folding ------------------------------------------------------------------ */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

struct slot {
    char *key; /* template; NULL: empty */
    size_t klen;
    uint64_t hash;
    size_t group;
};

int logq_fold(const struct logq_set *s, size_t from, struct logq_group **groups, size_t *ngroups)
{
    size_t n = from < s->n ? s->n - from : 0;
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    struct slot *table = xcalloc(cap, sizeof *table);
    struct logq_group *g = NULL;
    size_t ng = 0, gcap = 0;
    struct buf t;
    buf_init(&t, LOGQ_MAX_LINE_BYTES * 2);
    for (size_t i = from; i < s->n; i++) {
        buf_reset(&t);
        logq_template(s->lines[i].text, s->lines[i].len, &t);
        const char *key = t.data ? t.data : "";
        uint64_t h = fnv1a(key, t.len);
        size_t at = (size_t)h & (cap - 1);
        while (table[at].key && !(table[at].hash == h && table[at].klen == t.len && !memcmp(table[at].key, key, t.len)))
            at = (at + 1) & (cap - 1);
        if (table[at].key) {
            g[table[at].group].count++;
            continue;
        }
        if (ng == gcap) {
            gcap = gcap ? gcap * 2 : 64;
            g = xrealloc(g, gcap * sizeof *g);
        }
        g[ng] = (struct logq_group){.first = i, .count = 1};
        table[at] = (struct slot){.key = xstrndup(key, t.len), .klen = t.len, .hash = h, .group = ng};
        ng++;
    }
    for (size_t i = 0; i < cap; i++) free(table[i].key);
    free(table);
    buf_free(&t);
    *groups = g;
    *ngroups = ng;
    return 0;
}
