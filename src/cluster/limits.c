/* limits: cgroup v2 / v1 / poll resource limits for one container run, and
 * the usage readers shared with the daemon. See limits.h for the model.
 * The poll fallback works for anyone: it only reads /proc and sends
 * signals to the container's own processes. */
#include "cluster/limits.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/util.h"

#define PARENT "aiopslab"
#define CPU_PERIOD_US 100000
#define TICK_NS 100000000ull

static const char *cgroup_root(void)
{
    const char *r = getenv("AIOPSLAB_CGROUP_ROOT");
    return r && *r ? r : "/sys/fs/cgroup";
}

const char *limits_kind_name(enum limits_kind k)
{
    switch (k) {
    case LIMITS_AUTO: return "auto";
    case LIMITS_NONE: return "none";
    case LIMITS_POLL: return "poll";
    case LIMITS_CGROUP_V1: return "cgroup-v1";
    case LIMITS_CGROUP_V2: return "cgroup-v2";
    }
    return "none";
}

int limits_kind_parse(const char *s, enum limits_kind *out)
{
    static const enum limits_kind all[] = {LIMITS_AUTO, LIMITS_NONE, LIMITS_POLL, LIMITS_CGROUP_V1, LIMITS_CGROUP_V2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!strcmp(s, limits_kind_name(all[i]))) {
            *out = all[i];
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- small file helpers ---- */

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = write_all(fd, s, strlen(s));
    close(fd);
    return rc;
}

/* Read a small file into out (NUL-terminated); 0 or -errno. */
static int read_small(const char *path, char *out, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t have = 0;
    while (have + 1 < n) {
        ssize_t r = read(fd, out + have, n - 1 - have);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = -errno;
            close(fd);
            return e;
        }
        if (r == 0) break;
        have += (size_t)r;
    }
    out[have] = '\0';
    close(fd);
    return 0;
}

static int read_u64(const char *path, uint64_t *out)
{
    char s[64];
    int rc = read_small(path, s, sizeof s);
    if (rc < 0) return rc;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -EINVAL;
    *out = v;
    return 0;
}

/* The value of "key N" lines (memory.stat, memory.events, oom_control, cpu.stat). */
static int read_keyed(const char *path, const char *key, uint64_t *out)
{
    char s[8192];
    int rc = read_small(path, s, sizeof s);
    if (rc < 0) return rc;
    size_t kl = strlen(key);
    for (char *line = s; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!strncmp(line, key, kl) && line[kl] == ' ') {
            char *end;
            unsigned long long v = strtoull(line + kl + 1, &end, 10);
            if (end == line + kl + 1) return -EINVAL;
            *out = v;
            return 0;
        }
        line = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

static int join(char *out, size_t n, const char *a, const char *b)
{
    int r = snprintf(out, n, "%s/%s", a, b);
    return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

static int valid_name(const char *name)
{
    if (!*name || strlen(name) > 200 || !strcmp(name, ".") || !strcmp(name, "..")) return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return 0;
    return 1;
}

/* The group dirs of name under kind. */
static int cg_dirs(enum limits_kind kind, const char *name, struct limits *l)
{
    const char *root = cgroup_root();
    int r1, r2 = 0, r3 = 0;
    if (kind == LIMITS_CGROUP_V2) {
        r1 = snprintf(l->mem_dir, sizeof l->mem_dir, "%s/%s/%s", root, PARENT, name);
        l->cpu_dir[0] = l->acct_dir[0] = '\0';
    } else {
        r1 = snprintf(l->mem_dir, sizeof l->mem_dir, "%s/memory/%s/%s", root, PARENT, name);
        r2 = snprintf(l->cpu_dir, sizeof l->cpu_dir, "%s/cpu/%s/%s", root, PARENT, name);
        r3 = snprintf(l->acct_dir, sizeof l->acct_dir, "%s/cpuacct/%s/%s", root, PARENT, name);
    }
    if (r1 < 0 || r2 < 0 || r3 < 0 || (size_t)r1 >= sizeof l->mem_dir || (size_t)r2 >= sizeof l->cpu_dir ||
        (size_t)r3 >= sizeof l->acct_dir)
        return -ENAMETOOLONG;
    return 0;
}

static int v2_usable(void)
{
    char path[PATH_MAX], s[512];
    if (join(path, sizeof path, cgroup_root(), "cgroup.controllers") < 0) return 0;
    if (read_small(path, s, sizeof s) < 0) return 0;
    if (!strstr(s, "memory") || !strstr(s, "cpu")) return 0;
    if (join(path, sizeof path, cgroup_root(), "cgroup.subtree_control") < 0) return 0;
    return access(path, W_OK) == 0;
}

static int v1_usable(void)
{
    char path[PATH_MAX];
    const char *subs[] = {"memory", "cpu", "cpuacct"};
    for (int i = 0; i < 3; i++) {
        if (snprintf(path, sizeof path, "%s/%s/tasks", cgroup_root(), subs[i]) >= (int)sizeof path) return 0;
        if (access(path, F_OK) < 0) return 0;
        if (snprintf(path, sizeof path, "%s/%s", cgroup_root(), subs[i]) >= (int)sizeof path) return 0;
        if (access(path, W_OK) < 0) return 0;
    }
    return 1;
}

enum limits_kind limits_detect(void)
{
    if (v2_usable()) return LIMITS_CGROUP_V2;
    if (v1_usable()) return LIMITS_CGROUP_V1;
    return LIMITS_POLL;
}

static int mkdir_one(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST) return -errno;
    return 0;
}

/* The parent of dir (a copy). */
static void parent_of(const char *dir, char *out, size_t n)
{
    strlcpy_checked(out, dir, n);
    char *slash = strrchr(out, '/');
    if (slash) *slash = '\0';
}

static int setup_v2(struct limits *l, char *err, size_t errlen)
{
    char parent[PATH_MAX], path[PATH_MAX + 32], buf[64];
    int rc;
    parent_of(l->mem_dir, parent, sizeof parent);
    /* Controllers must be enabled on the way down: root, then our parent. */
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", cgroup_root());
    if ((rc = write_str(path, "+memory +cpu")) < 0) {
        snprintf(err, errlen, "cgroup-v2: enabling controllers in %s: %s", path, strerror(-rc));
        return rc;
    }
    if ((rc = mkdir_one(parent)) < 0 || (rc = mkdir_one(l->mem_dir)) < 0) {
        snprintf(err, errlen, "cgroup-v2: mkdir %s: %s", l->mem_dir, strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", parent);
    if ((rc = write_str(path, "+memory +cpu")) < 0) {
        snprintf(err, errlen, "cgroup-v2: enabling controllers in %s: %s", path, strerror(-rc));
        goto fail;
    }
    if (l->memory_bytes) {
        snprintf(path, sizeof path, "%s/memory.max", l->mem_dir);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)l->memory_bytes);
        if ((rc = write_str(path, buf)) < 0) {
            snprintf(err, errlen, "cgroup-v2: %s: %s", path, strerror(-rc));
            goto fail;
        }
        snprintf(path, sizeof path, "%s/memory.swap.max", l->mem_dir);
        write_str(path, "0"); /* absent without swap accounting */
        snprintf(path, sizeof path, "%s/memory.oom.group", l->mem_dir);
        write_str(path, "1"); /* the whole container dies, as on Kubernetes */
    }
    if (l->cpu_millis) {
        snprintf(path, sizeof path, "%s/cpu.max", l->mem_dir);
        snprintf(buf, sizeof buf, "%llu %d", (unsigned long long)l->cpu_millis * CPU_PERIOD_US / 1000, CPU_PERIOD_US);
        if ((rc = write_str(path, buf)) < 0) {
            snprintf(err, errlen, "cgroup-v2: %s: %s", path, strerror(-rc));
            goto fail;
        }
    }
    return 0;
fail:
    rmdir(l->mem_dir);
    return rc;
}

static int setup_v1(struct limits *l, char *err, size_t errlen)
{
    char parent[PATH_MAX], path[PATH_MAX + 32], buf[64];
    const char *dirs[] = {l->mem_dir, l->cpu_dir, l->acct_dir};
    int rc;
    for (int i = 0; i < 3; i++) {
        parent_of(dirs[i], parent, sizeof parent);
        if ((rc = mkdir_one(parent)) < 0 || (rc = mkdir_one(dirs[i])) < 0) {
            snprintf(err, errlen, "cgroup-v1: mkdir %s: %s", dirs[i], strerror(-rc));
            goto fail;
        }
    }
    if (l->memory_bytes) {
        snprintf(path, sizeof path, "%s/memory.limit_in_bytes", l->mem_dir);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)l->memory_bytes);
        if ((rc = write_str(path, buf)) < 0) {
            snprintf(err, errlen, "cgroup-v1: %s: %s", path, strerror(-rc));
            goto fail;
        }
        snprintf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", l->mem_dir);
        write_str(path, buf); /* no swap either; absent without swap accounting */
    }
    if (l->cpu_millis) {
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", l->cpu_dir);
        snprintf(buf, sizeof buf, "%d", CPU_PERIOD_US);
        if ((rc = write_str(path, buf)) < 0) {
            snprintf(err, errlen, "cgroup-v1: %s: %s", path, strerror(-rc));
            goto fail;
        }
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", l->cpu_dir);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)l->cpu_millis * CPU_PERIOD_US / 1000);
        if ((rc = write_str(path, buf)) < 0) {
            snprintf(err, errlen, "cgroup-v1: %s: %s", path, strerror(-rc));
            goto fail;
        }
    }
    return 0;
fail:
    for (int i = 0; i < 3; i++) rmdir(dirs[i]);
    return rc;
}

int limits_setup(struct limits *l, enum limits_kind want, const char *name, uint64_t memory_bytes,
                 unsigned cpu_millis, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->memory_bytes = memory_bytes;
    l->cpu_millis = cpu_millis;
    l->conmon_pid = getpid();
    if (want == LIMITS_NONE || want == LIMITS_POLL) {
        l->kind = want;
        return 0;
    }
    if (!valid_name(name)) {
        snprintf(err, errlen, "invalid cgroup name \"%s\"", name);
        if (want != LIMITS_AUTO) return -EINVAL;
        l->kind = LIMITS_POLL;
        return 0;
    }
    enum limits_kind kind = want == LIMITS_AUTO ? limits_detect() : want;
    if (kind == LIMITS_POLL) {
        l->kind = LIMITS_POLL;
        return 0;
    }
    int rc = cg_dirs(kind, name, l);
    if (rc < 0) {
        snprintf(err, errlen, "cgroup name too long");
    } else {
        rc = kind == LIMITS_CGROUP_V2 ? setup_v2(l, err, errlen) : setup_v1(l, err, errlen);
    }
    if (rc < 0) {
        l->mem_dir[0] = l->cpu_dir[0] = l->acct_dir[0] = '\0';
        if (want != LIMITS_AUTO) return rc;
        l->kind = LIMITS_POLL; /* err keeps why, for a warning */
        return 0;
    }
    l->kind = kind;
    return 0;
}

int limits_attach(struct limits *l, pid_t pid, char *err, size_t errlen)
{
    l->sid = pid;
    l->last_ns = 0;
    if (l->kind != LIMITS_CGROUP_V1 && l->kind != LIMITS_CGROUP_V2) return 0;
    const char *dirs[] = {l->mem_dir, l->cpu_dir, l->acct_dir};
    char path[PATH_MAX + 32], buf[32];
    snprintf(buf, sizeof buf, "%d", (int)pid);
    for (int i = 0; i < 3; i++) {
        if (!dirs[i][0]) continue;
        snprintf(path, sizeof path, "%s/cgroup.procs", dirs[i]);
        int rc = write_str(path, buf);
        if (rc < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

/* ---- /proc scanning for poll ---- */

struct proc_entry {
    pid_t pid, ppid, sid;
    uint64_t cpu_ticks, rss_pages;
    int member;
};

/* Parse /proc/PID/stat; 0 or -errno. */
static int read_stat(pid_t pid, struct proc_entry *e)
{
    char path[64], s[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int rc = read_small(path, s, sizeof s);
    if (rc < 0) return rc;
    char *p = strrchr(s, ')');
    if (!p) return -EINVAL;
    p += 2; /* field 3 (state) */
    unsigned long long f[24] = {0};
    int field = 3;
    while (*p && field <= 24) {
        char *end = p;
        while (*end && *end != ' ') end++;
        if (field > 3) f[field - 1] = strtoull(p, NULL, 10);
        field++;
        p = *end ? end + 1 : end;
    }
    if (field <= 24) return -EINVAL;
    e->pid = pid;
    e->ppid = (pid_t)f[3];
    e->sid = (pid_t)f[5];
    e->cpu_ticks = f[13] + f[14];
    e->rss_pages = f[23];
    e->member = 0;
    return 0;
}

/* The container's processes: session sid, plus descendants of root
 * (excluding root). Returns a count and an allocated array in *out. */
static int scan_members(pid_t sid, pid_t root, struct proc_entry **out)
{
    DIR *d = opendir("/proc");
    if (!d) return -errno;
    size_t n = 0, cap = 64;
    struct proc_entry *v = xmalloc(cap * sizeof *v);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) continue;
        long pid;
        if (parse_long(de->d_name, 1, INT_MAX, &pid) < 0) continue;
        if (n == cap) {
            if (cap >= 1 << 20) break;
            cap *= 2;
            v = xrealloc(v, cap * sizeof *v);
        }
        if (read_stat((pid_t)pid, &v[n]) == 0) n++;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        if (v[i].pid != root && ((sid > 0 && v[i].sid == sid) || (root > 0 && v[i].ppid == root))) v[i].member = 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].member || v[i].pid == root) continue;
            for (size_t j = 0; j < n; j++) {
                if (v[j].member && v[j].pid == v[i].ppid) {
                    v[i].member = changed = 1;
                    break;
                }
            }
        }
    }
    *out = v;
    return (int)n;
}

int limits_proc_usage(pid_t sid, pid_t root, struct limits_usage *out)
{
    struct proc_entry *v;
    int n = scan_members(sid, root, &v);
    if (n < 0) return n;
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    struct limits_usage u = {0};
    uint64_t ticks = 0;
    for (int i = 0; i < n; i++) {
        if (!v[i].member) continue;
        ticks += v[i].cpu_ticks;
        u.working_set += v[i].rss_pages * (uint64_t)page;
    }
    free(v);
    u.cpu_ns = ticks * (1000000000ull / (uint64_t)(tck > 0 ? tck : 100));
    *out = u;
    return 0;
}

static void signal_members(const struct limits *l, int sig)
{
    if (l->sid > 0) kill(-l->sid, sig);
    struct proc_entry *v;
    int n = scan_members(l->sid, l->conmon_pid, &v);
    if (n < 0) return;
    for (int i = 0; i < n; i++)
        if (v[i].member) kill(v[i].pid, sig);
    free(v);
}

int limits_needs_tick(const struct limits *l)
{
    return l->kind == LIMITS_POLL && (l->memory_bytes || l->cpu_millis) && !l->oom_killed;
}

int limits_tick(struct limits *l, uint64_t now_ns)
{
    if (!limits_needs_tick(l) || l->sid <= 0) return 0;
    struct limits_usage u;
    if (limits_proc_usage(l->sid, l->conmon_pid, &u) < 0) return 0;
    if (l->memory_bytes && u.working_set > l->memory_bytes) {
        l->oom_killed = 1;
        signal_members(l, SIGKILL);
        if (l->stopped) signal_members(l, SIGCONT);
        l->stopped = 0;
        return 1;
    }
    if (!l->cpu_millis || l->stopping) return 0;
    if (!l->last_ns) {
        l->last_ns = now_ns;
        l->last_cpu_ns = u.cpu_ns;
        l->budget_ns = 0;
        return 0;
    }
    uint64_t dt = now_ns - l->last_ns;
    int64_t used = u.cpu_ns > l->last_cpu_ns ? (int64_t)(u.cpu_ns - l->last_cpu_ns) : 0;
    l->last_ns = now_ns;
    l->last_cpu_ns = u.cpu_ns; /* exited processes take their time with them: never negative */
    int64_t allowed = (int64_t)(dt * l->cpu_millis / 1000);
    int64_t burst = (int64_t)(TICK_NS * l->cpu_millis / 1000);
    l->budget_ns += allowed - used;
    if (l->budget_ns > burst) l->budget_ns = burst;
    if (l->budget_ns < 0 && !l->stopped) {
        signal_members(l, SIGSTOP);
        l->stopped = 1;
    } else if (l->budget_ns >= 0 && l->stopped) {
        signal_members(l, SIGCONT);
        l->stopped = 0;
    }
    return 0;
}

void limits_release(struct limits *l)
{
    l->stopping = 1;
    if (l->stopped) {
        signal_members(l, SIGCONT);
        l->stopped = 0;
    }
}

int limits_cgroup_usage(enum limits_kind kind, const char *name, struct limits_usage *out)
{
    if ((kind != LIMITS_CGROUP_V1 && kind != LIMITS_CGROUP_V2) || !valid_name(name)) return -EINVAL;
    struct limits *l = xcalloc(1, sizeof *l);
    int rc = cg_dirs(kind, name, l);
    if (rc == 0) {
        l->kind = kind;
        rc = limits_usage(l, out);
    }
    free(l);
    return rc;
}

static int cgroup_oom_count(const struct limits *l, uint64_t *out)
{
    char path[PATH_MAX + 32];
    if (l->kind == LIMITS_CGROUP_V2) {
        snprintf(path, sizeof path, "%s/memory.events", l->mem_dir);
        return read_keyed(path, "oom_kill", out);
    }
    snprintf(path, sizeof path, "%s/memory.oom_control", l->mem_dir);
    return read_keyed(path, "oom_kill", out);
}

int limits_usage(const struct limits *l, struct limits_usage *out)
{
    if (l->kind != LIMITS_CGROUP_V1 && l->kind != LIMITS_CGROUP_V2) {
        if (l->sid <= 0) return -ESRCH;
        return limits_proc_usage(l->sid, l->conmon_pid, out);
    }
    char path[PATH_MAX + 32];
    struct limits_usage u = {0};
    uint64_t mem = 0, inactive = 0;
    int rc;
    if (l->kind == LIMITS_CGROUP_V2) {
        snprintf(path, sizeof path, "%s/cpu.stat", l->mem_dir);
        if ((rc = read_keyed(path, "usage_usec", &u.cpu_ns)) < 0) return rc;
        u.cpu_ns *= 1000;
        snprintf(path, sizeof path, "%s/memory.current", l->mem_dir);
        if ((rc = read_u64(path, &mem)) < 0) return rc;
        snprintf(path, sizeof path, "%s/memory.stat", l->mem_dir);
        read_keyed(path, "inactive_file", &inactive);
        snprintf(path, sizeof path, "%s/cpu.stat", l->mem_dir);
        read_keyed(path, "nr_periods", &u.cfs_periods);
        read_keyed(path, "nr_throttled", &u.cfs_throttled_periods);
        if (read_keyed(path, "throttled_usec", &u.cfs_throttled_ns) == 0) u.cfs_throttled_ns *= 1000;
    } else {
        snprintf(path, sizeof path, "%s/cpuacct.usage", l->acct_dir);
        if ((rc = read_u64(path, &u.cpu_ns)) < 0) return rc;
        snprintf(path, sizeof path, "%s/memory.usage_in_bytes", l->mem_dir);
        if ((rc = read_u64(path, &mem)) < 0) return rc;
        snprintf(path, sizeof path, "%s/memory.stat", l->mem_dir);
        read_keyed(path, "total_inactive_file", &inactive);
        snprintf(path, sizeof path, "%s/cpu.stat", l->cpu_dir);
        read_keyed(path, "nr_periods", &u.cfs_periods);
        read_keyed(path, "nr_throttled", &u.cfs_throttled_periods);
        read_keyed(path, "throttled_time", &u.cfs_throttled_ns);
    }
    u.working_set = mem > inactive ? mem - inactive : 0;
    cgroup_oom_count(l, &u.oom_kills);
    *out = u;
    return 0;
}

int limits_oom_killed(const struct limits *l)
{
    if (l->kind == LIMITS_POLL) return l->oom_killed;
    if (l->kind != LIMITS_CGROUP_V1 && l->kind != LIMITS_CGROUP_V2) return 0;
    uint64_t n = 0;
    return cgroup_oom_count(l, &n) == 0 && n > 0;
}

/* SIGKILL every pid listed in dir/cgroup.procs; the count seen. */
static int kill_cgroup(const char *dir)
{
    char path[PATH_MAX + 32], s[8192];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    if (read_small(path, s, sizeof s) < 0) return 0;
    int count = 0;
    for (char *p = s; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        if (pid > 0) {
            kill((pid_t)pid, SIGKILL);
            count++;
        }
        p = end;
        while (*p == '\n') p++;
    }
    return count;
}

void limits_kill_all(struct limits *l)
{
    if (l->kind == LIMITS_CGROUP_V1 || l->kind == LIMITS_CGROUP_V2) kill_cgroup(l->mem_dir);
    signal_members(l, SIGKILL);
    signal_members(l, SIGCONT); /* a stopped process dies only once continued */
    l->stopped = 0;
}

int limits_remove(struct limits *l)
{
    if (l->kind != LIMITS_CGROUP_V1 && l->kind != LIMITS_CGROUP_V2) return 0;
    const char *dirs[] = {l->mem_dir, l->cpu_dir, l->acct_dir};
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        if (!dirs[i][0]) continue;
        for (int tries = 0;; tries++) {
            if (rmdir(dirs[i]) == 0 || errno == ENOENT) break;
            if (errno != EBUSY || tries >= 100) {
                rc = -errno;
                break;
            }
            kill_cgroup(dirs[i]);
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return rc;
}

int limits_gc(const char *prefix)
{
    const char *subs[] = {"", "memory/", "cpu/", "cpuacct/"};
    int removed = 0;
    for (int i = 0; i < 4; i++) {
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/%s%s", cgroup_root(), subs[i], PARENT) >= (int)sizeof dir) continue;
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
            char cg[PATH_MAX + 300], procs[PATH_MAX + 320], s[64];
            snprintf(cg, sizeof cg, "%s/%s", dir, e->d_name);
            snprintf(procs, sizeof procs, "%s/cgroup.procs", cg);
            if (read_small(procs, s, sizeof s) < 0 || s[0]) continue; /* still in use */
            if (rmdir(cg) == 0) removed++;
        }
        closedir(d);
    }
    return removed;
}

int limits_members(enum limits_kind kind, const char *name, pid_t sid, pid_t root, pid_t **out)
{
    size_t n = 0, cap = 16;
    pid_t *v = xmalloc(cap * sizeof *v);
    if (kind == LIMITS_CGROUP_V1 || kind == LIMITS_CGROUP_V2) {
        struct limits l;
        memset(&l, 0, sizeof l);
        if (!valid_name(name) || cg_dirs(kind, name, &l)) {
            free(v);
            return -EINVAL;
        }
        char path[PATH_MAX + 32], s[65536];
        snprintf(path, sizeof path, "%s/cgroup.procs", l.mem_dir);
        if (read_small(path, s, sizeof s) < 0) {
            free(v);
            return -ENOENT;
        }
        for (char *p = s; *p;) {
            char *end;
            long pid = strtol(p, &end, 10);
            if (end == p) break;
            if (n == cap) v = xrealloc(v, (cap *= 2) * sizeof *v);
            v[n++] = (pid_t)pid;
            p = end;
            while (*p == '\n') p++;
        }
    } else {
        struct proc_entry *e = NULL;
        int count = scan_members(sid, root, &e);
        for (int i = 0; i < count; i++) {
            if (!e[i].member) continue;
            if (n == cap) v = xrealloc(v, (cap *= 2) * sizeof *v);
            v[n++] = e[i].pid;
        }
        free(e);
    }
    *out = v;
    return (int)n;
}
