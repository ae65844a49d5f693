/* top: `kubectl top pod|node` without a metrics server — usage is read
 * from /proc: a container is its process's whole session (conmon gives
 * each container its own), found through the pid in the run dir's
 * state.json. CPU is sampled twice 250 ms apart for all pods at once. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/paths.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"
#include "kubectl/kc.h"
#include "kubectl/kread.h"

#define SAMPLE_NS 250000000L

struct usage {
    pid_t sid; /* 0: not running */
    unsigned long long ticks0, ticks1, rss_bytes;
};

/* Sum utime+stime and rss over the processes of session sid. */
static void session_sample(pid_t sid, unsigned long long *ticks, unsigned long long *rss)
{
    *ticks = 0;
    *rss = 0;
    DIR *d = opendir("/proc");
    if (!d) return;
    long page = sysconf(_SC_PAGESIZE);
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        if (parse_long(e->d_name, 1, 1L << 30, &pid)) continue;
        char path[64], text[1024];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        char *p = strrchr(text, ')');
        if (!p) continue;
        /* fields after ")": 3 state, 4 ppid, 5 pgrp, 6 session, ... 14 utime, 15 stime, ... 24 rss */
        unsigned long long field[25] = {0};
        int idx = 3;
        char *tok = p + 2;
        while (*tok && idx <= 24) {
            char *end;
            if (idx == 3) {
                end = strchr(tok, ' ');
                if (!end) break;
            } else {
                field[idx] = strtoull(tok, &end, 10);
            }
            idx++;
            tok = end;
            while (*tok == ' ') tok++;
        }
        if (idx <= 24 || (pid_t)field[6] != sid) continue;
        *ticks += field[14] + field[15];
        *rss += field[24] * (unsigned long long)page;
    }
    closedir(d);
}

static pid_t container_session(struct kc *kc, const char *uid, const char *cname, int restarts)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    if (cluster_run_dir(&kc->lab, uid, cname, restarts, dir, sizeof dir)) return 0;
    snprintf(path, sizeof path, "%s/state.json", dir);
    json_error_t je;
    json_t *st = json_load_file(path, 0, &je);
    pid_t pid = (pid_t)json_path_int(st, "pid", 0);
    uint64_t start = (uint64_t)json_path_int(st, "pidStart", 0);
    int running = !strcmp(json_path_str(st, "phase", ""), "running");
    json_decref(st);
    if (!running || pid <= 0) return 0;
    if (start && proc_starttime(pid) != start) return 0;
    pid_t sid = getsid(pid);
    return sid > 0 ? sid : 0;
}

static void cpu_text(const struct usage *u, char *out, size_t n)
{
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long d = u->ticks1 > u->ticks0 ? u->ticks1 - u->ticks0 : 0;
    unsigned long long milli = d * 1000ull * 1000000000ull / (unsigned long long)(hz > 0 ? hz : 100) / SAMPLE_NS;
    snprintf(out, n, "%llum", milli);
}

static unsigned long long cpu_milli(const struct usage *u)
{
    char t[32];
    cpu_text(u, t, sizeof t);
    return strtoull(t, NULL, 10);
}

static void sleep_sample(void)
{
    struct timespec ts = {0, SAMPLE_NS};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

static int top_node(struct kc *kc, int no_headers)
{
    unsigned long long a[2][8];
    for (int s = 0; s < 2; s++) {
        FILE *f = fopen("/proc/stat", "r");
        memset(a[s], 0, sizeof a[s]);
        if (f) {
            if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &a[s][0], &a[s][1], &a[s][2], &a[s][3],
                       &a[s][4], &a[s][5], &a[s][6], &a[s][7]) != 8)
                memset(a[s], 0, sizeof a[s]);
            fclose(f);
        }
        if (!s) sleep_sample();
    }
    unsigned long long busy = 0, total = 0;
    for (int i = 0; i < 8; i++) {
        unsigned long long d = a[1][i] - a[0][i];
        total += d;
        if (i != 3 && i != 4) busy += d;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    unsigned long long milli = total ? busy * 1000ull * (unsigned long long)ncpu / total : 0;
    unsigned long long mem_total = 0, mem_avail = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "MemTotal: %llu kB", &mem_total);
            sscanf(line, "MemAvailable: %llu kB", &mem_avail);
        }
        fclose(f);
    }
    unsigned long long used = mem_total > mem_avail ? mem_total - mem_avail : 0;
    struct kc_table t;
    kc_table_init(&t, 5);
    if (!no_headers) {
        const char *h[] = {"NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"};
        for (int i = 0; i < 5; i++) kc_table_add(&t, h[i]);
    }
    kc_table_add(&t, "aiopslab");
    kc_table_addf(&t, "%llum", milli);
    kc_table_addf(&t, "%llu%%", milli / 10 / (unsigned long long)ncpu);
    kc_table_addf(&t, "%lluMi", used / 1024);
    kc_table_addf(&t, "%llu%%", mem_total ? used * 100 / mem_total : 0);
    kc_table_print(&t, kc->out);
    kc_table_free(&t);
    return 0;
}

int kc_top(struct kc *kc, int argc, char **argv)
{
    const char *what = NULL, *name = NULL, *sort = NULL;
    int containers = 0, no_headers = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--containers") || !strcmp(a, "--containers=true")) containers = 1;
        else if (!strcmp(a, "--no-headers")) no_headers = 1;
        else if (!strcmp(a, "--sort-by") && i + 1 < argc) sort = argv[++i];
        else if (!strncmp(a, "--sort-by=", 10)) sort = a + 10;
        else if (a[0] == '-' && a[1]) return kc_usage_error(kc, "top", "unknown flag: %s", a);
        else if (!what) what = a;
        else if (!name) name = a;
        else return kc_usage_error(kc, "top", "unexpected argument: %s", a);
    }
    if (!what) return kc_usage_error(kc, "top", "specify 'pod' or 'node'");
    if (!strcmp(what, "node") || !strcmp(what, "nodes") || !strcmp(what, "no")) return top_node(kc, no_headers);
    if (strcmp(what, "pod") && strcmp(what, "pods") && strcmp(what, "po"))
        return kc_error(kc, "unknown command \"%s\" for \"kubectl top\"", what);
    json_t *pods = NULL;
    const char *ns = kc->all_namespaces ? NULL : kc->ns;
    if (kc_fetch(kc, "Pod", ns, name, name ? NULL : kc->selector, &pods)) return 1;
    /* One usage slot per (pod, container). */
    size_t n = 0;
    size_t i, j;
    json_t *p, *c;
    json_array_foreach(pods, i, p) n += json_array_size(json_path(p, "spec.containers"));
    struct usage *u = xcalloc(n + 1, sizeof *u);
    size_t k = 0;
    json_array_foreach(pods, i, p)
    {
        json_array_foreach(json_path(p, "spec.containers"), j, c)
        {
            const char *cname = json_path_str(c, "name", "");
            size_t s;
            json_t *cs;
            json_array_foreach(json_path(p, "status.containerStatuses"), s, cs)
            {
                if (strcmp(json_path_str(cs, "name", ""), cname) || !json_path(cs, "state.running")) continue;
                u[k].sid = container_session(kc, json_path_str(p, "metadata.uid", ""), cname,
                                             (int)json_path_int(cs, "restartCount", 0));
            }
            if (u[k].sid) session_sample(u[k].sid, &u[k].ticks0, &u[k].rss_bytes);
            k++;
        }
    }
    sleep_sample();
    for (k = 0; k < n; k++)
        if (u[k].sid) session_sample(u[k].sid, &u[k].ticks1, &u[k].rss_bytes);
    /* rows: pod (or pod+container), cpu milli, memory bytes */
    struct row {
        const char *ns, *pod, *ctr;
        unsigned long long milli, mem;
    } *rows = xcalloc(n + 1, sizeof *rows);
    size_t nrows = 0;
    k = 0;
    json_array_foreach(pods, i, p)
    {
        struct row r = {.ns = json_path_str(p, "metadata.namespace", ""), .pod = json_path_str(p, "metadata.name", "")};
        int any = 0;
        json_array_foreach(json_path(p, "spec.containers"), j, c)
        {
            if (u[k].sid) {
                any = 1;
                if (containers) {
                    rows[nrows++] = (struct row){r.ns, r.pod, json_path_str(c, "name", ""), cpu_milli(&u[k]), u[k].rss_bytes};
                } else {
                    r.milli += cpu_milli(&u[k]);
                    r.mem += u[k].rss_bytes;
                }
            }
            k++;
        }
        if (any && !containers) rows[nrows++] = r;
    }
    if (sort)
        for (size_t a = 1; a < nrows; a++)
            for (size_t b = a; b > 0; b--) {
                int by_mem = !strcmp(sort, "memory");
                unsigned long long x = by_mem ? rows[b - 1].mem : rows[b - 1].milli;
                unsigned long long y = by_mem ? rows[b].mem : rows[b].milli;
                if (x >= y) break;
                struct row t = rows[b];
                rows[b] = rows[b - 1];
                rows[b - 1] = t;
            }
    int rc = 0;
    if (!nrows) {
        if (name)
            rc = kc_error(kc, "metrics not available yet"), rc = 1;
        else if (ns)
            fprintf(kc->err, "No resources found in %s namespace.\n", ns);
        else
            fprintf(kc->err, "No resources found\n");
    } else {
        size_t ncols = 3 + (kc->all_namespaces ? 1 : 0) + (containers ? 1 : 0);
        struct kc_table t;
        kc_table_init(&t, ncols);
        if (!no_headers) {
            if (kc->all_namespaces) kc_table_add(&t, "NAMESPACE");
            if (containers) {
                kc_table_add(&t, "POD");
                kc_table_add(&t, "NAME");
            } else {
                kc_table_add(&t, "NAME");
            }
            kc_table_add(&t, "CPU(cores)");
            kc_table_add(&t, "MEMORY(bytes)");
        }
        for (size_t r = 0; r < nrows; r++) {
            if (kc->all_namespaces) kc_table_add(&t, rows[r].ns);
            kc_table_add(&t, rows[r].pod);
            if (containers) kc_table_add(&t, rows[r].ctr);
            kc_table_addf(&t, "%llum", rows[r].milli);
            kc_table_addf(&t, "%lluMi", rows[r].mem / (1024 * 1024));
        }
        kc_table_print(&t, kc->out);
        kc_table_free(&t);
    }
    free(rows);
    free(u);
    json_decref(pods);
    return rc;
}
