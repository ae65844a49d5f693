/* metrics.c: the kit's Prometheus registry and its text exposition.
 *
 * A registry holds families (counter, gauge, histogram), each with fixed
 * label names; a series is created on first use of its label values and
 * kept in a small hash per family (guarded by the family's mutex; the
 * label sets of a service are few: operations x statuses). GET /metrics
 * renders the registry in Prometheus text format 0.0.4, series in the
 * order they appeared, then the standard process_* metrics read from
 * /proc/self (what the Go and Python clients export under those names).
 */
#include "kit_int.h"
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define HASH_SIZE 64
#define MAX_FAMILIES 32
#define MAX_LABELS 4
#define MAX_SERIES 4096 /* per family: a bound on label cardinality */

/* Latency buckets in seconds: sub-millisecond hops up to multi-second timeouts.
 */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct series {
    char *key; /* label values joined by \x1f */
    char *values[MAX_LABELS];
    double value;              /* counter, gauge */
    uint64_t counts[NBUCKETS]; /* histogram, not cumulative */
    uint64_t count;
    double sum;
    struct series *hnext, *onext;
};

struct kit_family {
    char *name, *help;
    enum kit_mtype type;
    int nlabels;
    char *labels[MAX_LABELS];
    pthread_mutex_t mu;
    struct series *hash[HASH_SIZE];
    struct series *first, *last;
    int nseries;
};

struct kit_metrics {
    struct kit_family *families[MAX_FAMILIES];
    int n;
};

struct kit_metrics *kit__metrics_new(void)
{
    struct kit_metrics *m = kit__xmalloc(sizeof *m);
    memset(m, 0, sizeof *m);
    return m;
}

void kit__metrics_free(struct kit_metrics *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        struct kit_family *f = m->families[i];
        for (struct series *s = f->first, *next; s; s = next) {
            next = s->onext;
            for (int j = 0; j < f->nlabels; j++)
                free(s->values[j]);
            free(s->key);
            free(s);
        }
        for (int j = 0; j < f->nlabels; j++)
            free(f->labels[j]);
        pthread_mutex_destroy(&f->mu);
        free(f->name);
        free(f->help);
        free(f);
    }
    free(m);
}

struct kit_family *kit__family(struct kit_metrics *m, const char *name, const char *help, enum kit_mtype type,
                               int nlabels, const char *const *labels)
{
    if (m->n >= MAX_FAMILIES || nlabels > MAX_LABELS) abort(); /* a programming error */
    struct kit_family *f = kit__xmalloc(sizeof *f);
    memset(f, 0, sizeof *f);
    f->name = kit__xstrdup(name);
    f->help = kit__xstrdup(help);
    f->type = type;
    f->nlabels = nlabels;
    for (int i = 0; i < nlabels; i++)
        f->labels[i] = kit__xstrdup(labels[i]);
    pthread_mutex_init(&f->mu, NULL);
    m->families[m->n++] = f;
    return f;
}

static unsigned hash_key(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The series of these values (created when new), or NULL past MAX_SERIES.
 * Called with f->mu held. */
static struct series *find(struct kit_family *f, const char *const *values)
{
    /* Every request updates several series: the key is built with memcpy
     * (snprintf's cost showed in profiles of the services). */
    char key[1024];
    size_t off = 0;
    for (int i = 0; i < f->nlabels; i++) {
        const char *v = values[i] ? values[i] : "";
        size_t n = strlen(v);
        if (off + (i > 0) + n >= sizeof key) return NULL; /* absurdly long label values */
        if (i) key[off++] = '\x1f';
        memcpy(key + off, v, n);
        off += n;
    }
    key[off] = '\0';
    unsigned h = hash_key(key) % HASH_SIZE;
    for (struct series *s = f->hash[h]; s; s = s->hnext)
        if (!strcmp(s->key, key)) return s;
    if (f->nseries >= MAX_SERIES) return NULL;
    struct series *s = kit__xmalloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->key = kit__xstrdup(key);
    for (int i = 0; i < f->nlabels; i++)
        s->values[i] = kit__xstrdup(values[i]);
    s->hnext = f->hash[h];
    f->hash[h] = s;
    if (f->last)
        f->last->onext = s;
    else
        f->first = s;
    f->last = s;
    f->nseries++;
    return s;
}

void kit__metric_add(struct kit_family *f, double v, const char *const *values)
{
    pthread_mutex_lock(&f->mu);
    struct series *s = find(f, values);
    if (s) s->value += v;
    pthread_mutex_unlock(&f->mu);
}

void kit__metric_observe(struct kit_family *f, double v, const char *const *values)
{
    pthread_mutex_lock(&f->mu);
    struct series *s = find(f, values);
    if (s) {
        size_t i = 0;
        while (i < NBUCKETS && v > buckets[i])
            i++;
        if (i < NBUCKETS) s->counts[i]++;
        s->count++;
        s->sum += v;
    }
    pthread_mutex_unlock(&f->mu);
}

double kit__metric_get(struct kit_family *f, const char *const *values)
{
    pthread_mutex_lock(&f->mu);
    struct series *s = find(f, values);
    double v = s ? s->value : 0;
    pthread_mutex_unlock(&f->mu);
    return v;
}

/* ---- text ---- */

struct out {
    char *buf;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (w < 0) return;
        if ((size_t)w < o->cap - o->len) {
            o->len += (size_t)w;
            return;
        }
        o->cap = o->cap * 2 + (size_t)w + 1;
        o->buf = kit__xrealloc(o->buf, o->cap);
    }
}

static void put_escaped(struct out *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            put(o, "\\\\");
        else if (*s == '"')
            put(o, "\\\"");
        else if (*s == '\n')
            put(o, "\\n");
        else
            put(o, "%c", *s);
    }
}

static void put_help(struct out *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            put(o, "\\\\");
        else if (*s == '\n')
            put(o, "\\n");
        else
            put(o, "%c", *s);
    }
}

/* {a="x",b="y"[,le="0.5"]} */
static void put_labels(struct out *o, const struct kit_family *f, const struct series *s, const char *le)
{
    if (!f->nlabels && !le) return;
    put(o, "{");
    for (int i = 0; i < f->nlabels; i++) {
        put(o, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_escaped(o, s->values[i]);
        put(o, "\"");
    }
    if (le) put(o, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    put(o, "}");
}

static void put_value(struct out *o, double v) { put(o, " %.15g\n", v); }

static void render_family(struct out *o, struct kit_family *f)
{
    static const char *types[] = {"counter", "gauge", "histogram"};
    put(o, "# HELP %s ", f->name);
    put_help(o, f->help);
    put(o, "\n# TYPE %s %s\n", f->name, types[f->type]);
    pthread_mutex_lock(&f->mu);
    for (struct series *s = f->first; s; s = s->onext) {
        if (f->type != KIT_HISTOGRAM) {
            put(o, "%s", f->name);
            put_labels(o, f, s, NULL);
            put_value(o, s->value);
            continue;
        }
        uint64_t cum = 0;
        for (size_t i = 0; i < NBUCKETS; i++) {
            char le[32];
            cum += s->counts[i];
            snprintf(le, sizeof le, "%g", buckets[i]);
            put(o, "%s_bucket", f->name);
            put_labels(o, f, s, le);
            put(o, " %llu\n", (unsigned long long)cum);
        }
        put(o, "%s_bucket", f->name);
        put_labels(o, f, s, "+Inf");
        put(o, " %llu\n", (unsigned long long)s->count);
        put(o, "%s_sum", f->name);
        put_labels(o, f, s, NULL);
        put_value(o, s->sum);
        put(o, "%s_count", f->name);
        put_labels(o, f, s, NULL);
        put(o, " %llu\n", (unsigned long long)s->count);
    }
    pthread_mutex_unlock(&f->mu);
}

static void one(struct out *o, const char *name, const char *type, const char *help, double v)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n%s", name, help, name, type, name);
    put_value(o, v);
}

static void render_process(struct out *o)
{
    char buf[2048];
    FILE *fp = fopen("/proc/self/stat", "re");
    if (!fp) return;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return;
    p++;
    /* Fields from 3 (state) on; we want 14 utime, 15 stime, 20 threads,
     * 22 starttime, 23 vsize, 24 rss. */
    unsigned long long f[64] = {0};
    while (*p == ' ')
        p++;
    if (*p) p++; /* field 3, the state letter */
    for (int field = 4; field < 64 && *p; field++) {
        char *end;
        f[field] = strtoull(p, &end, 10);
        if (end == p) break;
        p = end;
    }
    long tck = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    if (tck <= 0) tck = 100;
    double btime = 0;
    fp = fopen("/proc/stat", "re");
    if (fp) {
        char line[256];
        while (fgets(line, sizeof line, fp))
            if (!strncmp(line, "btime ", 6)) {
                btime = strtod(line + 6, NULL);
                break;
            }
        fclose(fp);
    }
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') fds++;
        closedir(d);
        fds--; /* the directory's own descriptor */
    }
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_NOFILE, &rl);
    one(o, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
        (double)(f[14] + f[15]) / (double)tck);
    one(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", (double)f[24] * (double)page);
    one(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", (double)f[23]);
    one(o, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
    one(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
        rl.rlim_cur == RLIM_INFINITY ? 1048576.0 : (double)rl.rlim_cur);
    one(o, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
        btime + (double)f[22] / (double)tck);
    one(o, "process_threads", "gauge", "Number of OS threads in the process.", (double)f[20]);
}

char *kit__metrics_render(struct kit_metrics *m, int with_process, size_t *len)
{
    struct out o = {kit__xmalloc(16384), 0, 16384};
    o.buf[0] = '\0';
    for (int i = 0; i < m->n; i++)
        render_family(&o, m->families[i]);
    if (with_process) render_process(&o);
    if (len) *len = o.len;
    return o.buf;
}
