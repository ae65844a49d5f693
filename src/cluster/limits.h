/* limits: memory and cpu limits for one container run, and the readers of
 * its resource use (for conmon, `kubectl top` and cAdvisor-style metrics).
 *
 * Mechanisms, best first: cgroup v2 (memory.max, cpu.max, memory.events),
 * cgroup v1 (memory.limit_in_bytes, cpu.cfs_quota_us, memory.oom_control)
 * under a parent group "aiopslab" in each hierarchy, and the unprivileged
 * 'poll' fallback: conmon samples the resident memory of the container's
 * processes every 100 ms and kills them past the limit, and holds their
 * cpu use at the limit by stopping and continuing them (SIGSTOP/SIGCONT).
 * The container's processes, for 'poll', are those of its session plus
 * every descendant of conmon (conmon is a child subreaper).
 *
 * Convention: 0 or a negative errno, with a message in err. */
#ifndef CLUSTER_LIMITS_H
#define CLUSTER_LIMITS_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum limits_kind {
    LIMITS_AUTO, /* only as a request: v2, else v1, else poll */
    LIMITS_NONE,
    LIMITS_POLL,
    LIMITS_CGROUP_V1,
    LIMITS_CGROUP_V2,
};

/* "auto", "none", "poll", "cgroup-v1", "cgroup-v2". */
const char *limits_kind_name(enum limits_kind k);
/* 0 or -EINVAL for an unknown name. */
int limits_kind_parse(const char *s, enum limits_kind *out);
/* The best cgroup mechanism this process can use (it must be able to
 * create groups): LIMITS_CGROUP_V2, LIMITS_CGROUP_V1, or LIMITS_POLL. */
enum limits_kind limits_detect(void);

struct limits {
    enum limits_kind kind; /* in force: NONE, POLL, CGROUP_V1 or CGROUP_V2 */
    uint64_t memory_bytes; /* 0: no limit */
    unsigned cpu_millis;   /* 0: no limit */
    char mem_dir[PATH_MAX]; /* v2: the one group dir; v1: memory hierarchy */
    char cpu_dir[PATH_MAX]; /* v1 only: cpu hierarchy (may equal acct_dir) */
    char acct_dir[PATH_MAX]; /* v1 only: cpuacct hierarchy */
    /* poll state */
    pid_t sid, conmon_pid;
    int stopped, oom_killed, stopping;
    uint64_t last_ns, last_cpu_ns;
    int64_t budget_ns; /* cpu time the container may still use */
};

/* Set up limits named name (a cgroup name, [A-Za-z0-9_.-]). want AUTO
 * picks the best available mechanism and falls back to poll when a cgroup
 * cannot be created; an explicit cgroup kind fails instead. With no limit
 * at all, a cgroup is still made (for usage accounting). */
int limits_setup(struct limits *l, enum limits_kind want, const char *name, uint64_t memory_bytes,
                 unsigned cpu_millis, char *err, size_t errlen);
/* Put pid (the container, before it execs) under the limits; sid is its
 * session for 'poll'. */
int limits_attach(struct limits *l, pid_t pid, char *err, size_t errlen);
/* Call every 100 ms while the container runs ('poll' only does work).
 * Returns 1 when the memory limit was passed and the processes were
 * killed, else 0. */
int limits_tick(struct limits *l, uint64_t now_ns);
/* Whether 'poll' needs limits_tick at all. */
int limits_needs_tick(const struct limits *l);
/* Stop throttling for good (the container is being stopped): continues
 * stopped processes. */
void limits_release(struct limits *l);
/* Whether the kernel (cgroup) or poll killed for memory. */
int limits_oom_killed(const struct limits *l);
/* SIGKILL every process of the container still alive. */
void limits_kill_all(struct limits *l);
/* Remove the cgroup (waiting briefly for dying processes). */
int limits_remove(struct limits *l);

struct limits_usage {
    uint64_t cpu_ns;       /* cpu time used, all processes, since start */
    uint64_t working_set;  /* bytes: memory usage minus inactive file cache (cAdvisor's), or RSS for poll */
    uint64_t oom_kills;    /* cgroup only */
    uint64_t cfs_periods, cfs_throttled_periods, cfs_throttled_ns; /* cgroup cpu.stat; 0 for poll */
};

/* Usage of the cgroup name under mechanism kind (V1 or V2): 0, -ENOENT
 * when the group does not exist. */
int limits_cgroup_usage(enum limits_kind kind, const char *name, struct limits_usage *out);
/* Usage of the processes of session sid plus descendants of root (0: none),
 * read from /proc (for 'poll' and 'none'); root itself is not counted.
 * 0 or -errno. */
int limits_proc_usage(pid_t sid, pid_t root, struct limits_usage *out);
/* Usage of l's container whatever its mechanism. */
int limits_usage(const struct limits *l, struct limits_usage *out);

/* The pids of a container's processes: its cgroup's members, or (poll,
 * none) session sid and the descendants of root. Count, or -errno; *out
 * is malloc'd. */
int limits_members(enum limits_kind kind, const char *name, pid_t sid, pid_t root, pid_t **out);
/* Remove the empty cgroups whose names start with prefix (left behind by
 * monitors that were killed). Returns how many were removed. */
int limits_gc(const char *prefix);

#endif
