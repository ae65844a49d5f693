/* os: the Operating System layer's faults on a Deployment's running
 * containers, acting on their real processes the way an incident does:
 * a signal (process-kill, process-pause) or a resource limit lowered with
 * prlimit(2) (fd-exhaustion, disk-full; disk-full's run() limits each
 * new run of the store too, so that the disk stays full across restarts).
 * The faults that need a live process of their own (cpu-contention,
 * memory-leak, thread-pool-exhaustion) are in os_hogs.c; clock-skew in
 * os_clock.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "faults/fault.h"
#include "faults/layers.h"
#include "faults/os_types.h"
#include "faults/osf_util.h"

/* ---- process-kill --------------------------------------------------------- */

static int signal_number(const char *name)
{
    return !strcmp(name, "TERM") ? SIGTERM : !strcmp(name, "SEGV") ? SIGSEGV : SIGKILL;
}

static int kill_inject(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return -1;
    json_t *pods = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(pods, json_pack("{s:s, s:i, s:i, s:I}", "pod", k[i].pod, "restarts", k[i].restarts,
                                              "pid", (int)k[i].pid, "start", (json_int_t)k[i].start));
    json_object_set_new(c->state, "pods", pods);
    if (fault_save(c)) return -1;
    int sig = signal_number(fault_param_str(c, "signal"));
    for (int i = 0; i < n; i++) {
        int rc = fault_signal(k[i].pid, k[i].start, sig);
        if (rc && rc != -ESRCH) {
            snprintf(c->err, sizeof c->err, "kill %d (pod %s): %s", (int)k[i].pid, k[i].pod, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

/* Every killed container ended, and the kubelet restarted it (its
 * restartCount went up) or holds it in back-off. */
static int kill_verify(struct fault_ctx *c)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c->state, "pods"), i, p)
    {
        if (osf_proc_live(p)) return 0;
        int missing = 0;
        json_t *pod = fault_get(c, "Pod", json_string_value(json_object_get(p, "pod")), &missing);
        if (!pod) {
            if (missing) continue; /* deleted since: nothing left running it */
            return -1;
        }
        const json_t *cs = json_array_get(json_path(pod, "status.containerStatuses"), 0);
        int restarted = json_path_int(cs, "restartCount", 0) > json_integer_value(json_object_get(p, "restarts")) ||
                        !json_path(cs, "state.running");
        json_decref(pod);
        if (!restarted) return 0;
    }
    return 1;
}

/* Nothing to undo: the kubelet restarts the process, as on Kubernetes. */
static int kill_recover(struct fault_ctx *c)
{
    (void)c;
    return 0;
}

static const struct fault_param kill_params[] = {
    {"signal", FP_ENUM, 0, 0, "KILL", "KILL|TERM|SEGV", "the signal sent to each container's main process"},
    {0},
};

static const struct fault_type process_kill = {
    .id = "process-kill",
    .layer = FAULT_OS,
    .cls = FAULT_OPERATION_ERROR,
    .target = FT_WORKLOAD,
    .resource = "process",
    .summary = "the main process of each of the Deployment's containers gets a signal (SIGKILL by default)",
    .symptoms = "the container terminates (exit code 137 for KILL, 143 for TERM, 139 for SEGV) and the kubelet "
                "restarts it: restartCount +1, lastState terminated; requests in flight fail and callers see "
                "connection refused until it is Ready again",
    .params = kill_params,
    .verify_ms = 15000,
    .inject = kill_inject,
    .verify = kill_verify,
    .recover = kill_recover,
};

/* ---- process-pause ---------------------------------------------------------- */

static void cont_all(json_t *procs)
{
    size_t i;
    json_t *p;
    json_array_foreach(procs, i, p)
    {
        pid_t pid = osf_proc_live(p);
        if (pid) kill(pid, SIGCONT);
    }
}

static int pause_inject(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return -1;
    json_t *procs = json_array();
    json_object_set_new(c->state, "stopped", procs);
    pid_t *all[OSF_MAX_PODS];
    int counts[OSF_MAX_PODS];
    for (int i = 0; i < n; i++) {
        counts[i] = osf_members(&k[i], &all[i]);
        for (int j = 0; j < counts[i]; j++) json_array_append_new(procs, osf_proc_ref(all[i][j]));
    }
    int rc = fault_save(c);
    for (int i = 0; i < n; i++) {
        /* The main process last, so no child sees it stop before itself. */
        for (int j = counts[i] - 1; !rc && j >= 0; j--) kill(all[i][j], SIGSTOP);
        free(all[i]);
    }
    return rc;
}

/* Every process of the containers is stopped ("T" in ps). */
static int pause_verify(struct fault_ctx *c)
{
    size_t i;
    json_t *p;
    int any = 0;
    json_array_foreach(json_object_get(c->state, "stopped"), i, p)
    {
        pid_t pid = osf_proc_live(p);
        if (!pid) continue;
        if (osf_proc_state(pid) != 'T') return 0;
        any = 1;
    }
    return any;
}

static int pause_recover(struct fault_ctx *c)
{
    cont_all(json_object_get(c->state, "stopped"));
    return 0;
}

/* With a duration, the pause ends by itself (SIGCONT) once it is over. */
static int pause_run(struct fault_ctx *c)
{
    long long ms = fault_param_int(c, "duration");
    if (ms <= 0) {
        while (osf_sleep_active(c, 500)) {}
        return 0;
    }
    if (osf_sleep_active(c, (unsigned)ms)) cont_all(json_object_get(c->state, "stopped"));
    return 0;
}

static const struct fault_param pause_params[] = {
    {"duration", FP_MS, 0, 3600000, "0", NULL, "how long the processes stay stopped (0: until recovered)"},
    {0},
};

static const struct fault_type process_pause = {
    .id = "process-pause",
    .layer = FAULT_OS,
    .cls = FAULT_OPERATION_ERROR,
    .target = FT_WORKLOAD,
    .resource = "process",
    .summary = "every process of the Deployment's containers is stopped (SIGSTOP) and continued later",
    .symptoms = "the pods stay Running but their processes are stopped (state T): requests hang and time out, "
                "HTTP probes fail (Unhealthy events, the pod becomes NotReady, a liveness probe restarts it), "
                "callers log timeouts; nothing is logged by the paused service itself",
    .params = pause_params,
    .verify_ms = 5000,
    .inject = pause_inject,
    .verify = pause_verify,
    .recover = pause_recover,
    .run = pause_run,
};

/* ---- resource limits lowered with prlimit(2) ------------------------------- */

/* Lower resource res of every process of one container to want(pid)
 * (never raising it). Each process's old soft limit is appended to list
 * and save(c, list) called before its limit changes. 0 or -1 with c->err. */
static int limit_members(struct fault_ctx *c, const struct osf_ctr *k, int res,
                         rlim_t (*want)(struct fault_ctx *c, pid_t pid), json_t *list,
                         int (*save)(struct fault_ctx *c, json_t *list))
{
    pid_t *m = NULL;
    int cnt = osf_members(k, &m), rc = 0;
    for (int j = 0; j < cnt && !rc; j++) {
        size_t i;
        json_t *p;
        int known = 0;
        json_array_foreach(list, i, p) known |= osf_proc_live(p) == m[j];
        if (known) continue;
        struct rlimit old;
        int e = osf_prlimit(m[j], res, NULL, &old);
        if (e == -ESRCH) continue; /* gone meanwhile */
        if (e) {
            snprintf(c->err, sizeof c->err, "prlimit %d (pod %s): %s", (int)m[j], k->pod, strerror(-e));
            rc = -1;
            break;
        }
        rlim_t to = want(c, m[j]);
        if (to >= old.rlim_cur) continue;
        json_t *ref = osf_proc_ref(m[j]);
        json_object_set_new(ref, "soft", json_integer(old.rlim_cur == RLIM_INFINITY ? -1 : (json_int_t)old.rlim_cur));
        json_array_append_new(list, ref);
        if ((rc = save(c, list))) break;
        struct rlimit nl = {to, old.rlim_max};
        if ((e = osf_prlimit(m[j], res, &nl, NULL)) && e != -ESRCH) {
            snprintf(c->err, sizeof c->err, "prlimit %d: %s", (int)m[j], strerror(-e));
            rc = -1;
        }
    }
    free(m);
    return rc;
}

static int save_state(struct fault_ctx *c, json_t *list)
{
    (void)list; /* it is c->state["limited"] */
    return fault_save(c);
}

/* limit_members on every container of the target, into state["limited"]. */
static int lower_limits(struct fault_ctx *c, int res, rlim_t (*want)(struct fault_ctx *c, pid_t pid))
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return -1;
    json_t *limited = json_array();
    json_object_set_new(c->state, "limited", limited);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) rc = limit_members(c, &k[i], res, want, limited, save_state);
    if (!rc && !json_array_size(limited)) {
        snprintf(c->err, sizeof c->err, "no process of \"%s\" had a limit above the one to set", c->target);
        rc = -1;
    }
    return rc;
}

/* Put back the soft limits saved in list (processes that are gone or were
 * replaced need nothing). */
static int restore_limits(struct fault_ctx *c, const json_t *list, int res)
{
    size_t i;
    json_t *p;
    int rc = 0;
    json_array_foreach(list, i, p)
    {
        pid_t pid = osf_proc_live(p);
        struct rlimit cur;
        if (!pid || osf_prlimit(pid, res, NULL, &cur)) continue;
        json_int_t soft = json_integer_value(json_object_get(p, "soft"));
        struct rlimit nl = {soft < 0 ? RLIM_INFINITY : (rlim_t)soft, cur.rlim_max};
        if (nl.rlim_cur > nl.rlim_max) nl.rlim_cur = nl.rlim_max;
        int e = osf_prlimit(pid, res, &nl, NULL);
        if (e && e != -ESRCH) {
            snprintf(c->err, sizeof c->err, "prlimit %d: %s", (int)pid, strerror(-e));
            rc = -1;
        }
    }
    return rc;
}

/* ---- fd-exhaustion ----------------------------------------------------------- */

static rlim_t fd_want(struct fault_ctx *c, pid_t pid)
{
    int open = osf_proc_nfds(pid);
    return (rlim_t)(open < 0 ? 0 : open) + (rlim_t)fault_param_int(c, "spare");
}

static int fd_inject(struct fault_ctx *c) { return lower_limits(c, RLIMIT_NOFILE, fd_want); }

/* Connections to the pods use up the spare descriptors: a process of the
 * container then holds as many descriptors as its limit allows, and the
 * next accept() or open() fails with EMFILE ("Too many open files"). */
static int fd_verify(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return 0;
    int fds[64], nfd = 0;
    long long want = fault_param_int(c, "spare") + 4;
    for (int i = 0; i < n; i++) {
        if (!k[i].port) continue;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)k[i].port)};
        if (inet_pton(AF_INET, k[i].ip, &a.sin_addr) != 1) continue;
        for (long long j = 0; j < want && nfd < 64; j++) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            if (fd < 0) break;
            connect(fd, (struct sockaddr *)&a, sizeof a);
            fds[nfd++] = fd;
        }
    }
    nanosleep(&(struct timespec){0, 300000000L}, NULL);
    int full = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c->state, "limited"), i, p)
    {
        pid_t pid = osf_proc_live(p);
        struct rlimit cur;
        if (pid && !osf_prlimit(pid, RLIMIT_NOFILE, NULL, &cur) && osf_proc_nfds(pid) >= (int)cur.rlim_cur) full = 1;
    }
    for (int j = 0; j < nfd; j++) close(fds[j]);
    return full;
}

/* Fixed when the target serves again (a Ready pod) and none of its
 * processes has a descriptor limit below the lowest one it had before
 * (the pods were restarted, or the limit raised again). */
static int fd_fixed(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_ready_containers(c, k, OSF_MAX_PODS);
    if (n <= 0) return n < 0 ? -1 : 0;
    rlim_t floor = RLIM_INFINITY;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c->state, "limited"), i, p)
    {
        json_int_t soft = json_integer_value(json_object_get(p, "soft"));
        if (soft >= 0 && (rlim_t)soft < floor) floor = (rlim_t)soft;
    }
    for (int j = 0; j < n; j++) {
        pid_t *m = NULL;
        int cnt = osf_members(&k[j], &m), low = 0;
        for (int x = 0; x < cnt && !low; x++) {
            struct rlimit cur;
            low = !osf_prlimit(m[x], RLIMIT_NOFILE, NULL, &cur) && cur.rlim_cur < floor;
        }
        free(m);
        if (low) return 0;
    }
    return 1;
}

static int fd_recover(struct fault_ctx *c) { return restore_limits(c, json_object_get(c->state, "limited"), RLIMIT_NOFILE); }

static const struct fault_param fd_params[] = {
    {"spare", FP_INT, 0, 1000, "2", NULL, "descriptors left free above those open at injection"},
    {0},
};

static const struct fault_type fd_exhaustion = {
    .id = "fd-exhaustion",
    .layer = FAULT_OS,
    .cls = FAULT_RESOURCE_EXHAUSTION,
    .target = FT_WORKLOAD,
    .resource = "nofile",
    .summary = "the containers' processes get RLIMIT_NOFILE lowered to just above the descriptors they hold",
    .symptoms = "accept() and open() fail with EMFILE: the service logs \"Too many open files\", new "
                "connections hang or are reset, callers time out or get 5xx; the pod stays Running and "
                "/proc/PID/fd shows as many descriptors as its limit",
    .params = fd_params,
    .verify_ms = 5000,
    .inject = fd_inject,
    .verify = fd_verify,
    .recover = fd_recover,
    .fixed = fd_fixed,
};

/* ---- disk-full --------------------------------------------------------------- */

static rlim_t fsize_want(struct fault_ctx *c, pid_t pid)
{
    (void)pid;
    return (rlim_t)fault_param_int(c, "size");
}

static long log_size(const char *rundir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/current.log", rundir);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n < 0 ? 0 : n;
}

static int disk_inject(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return -1;
    /* Where each container's log stood: verify looks for the store's
     * complaint after it. */
    json_t *logs = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(logs, json_pack("{s:s, s:i, s:s, s:I, s:i}", "pod", k[i].pod, "restarts",
                                              k[i].restarts, "rundir", k[i].rundir, "offset",
                                              (json_int_t)log_size(k[i].rundir), "pid", (int)k[i].pid));
    json_object_set_new(c->state, "logs", logs);
    return lower_limits(c, RLIMIT_FSIZE, fsize_want);
}

/* Where run() lists the processes of later runs it limited (as
 * state["limited"]), for recover. */
static void relimited_path(struct fault_ctx *c, char *out, size_t n)
{
    char rel[64];
    snprintf(rel, sizeof rel, "faults/fsize-%lld", (long long)c->id);
    lab_path(c->lab, rel, out, n);
}

static int save_relimited(struct fault_ctx *c, json_t *list)
{
    char path[PATH_MAX];
    relimited_path(c, path, sizeof path);
    char *txt = json_dumps(list, JSON_COMPACT);
    int rc = txt ? write_file_replace(path, txt, strlen(txt)) : -ENOMEM;
    free(txt);
    if (rc) snprintf(c->err, sizeof c->err, "%s: %s", path, strerror(-rc));
    return rc ? -1 : 0;
}

/* A full disk stays full when the store restarts: each new run of a
 * container gets the limit too (its processes for its first seconds, so
 * that those its startup forks are caught; later ones inherit it). */
static int disk_run(struct fault_ctx *c)
{
    json_t *logs = json_object_get(c->state, "logs");
    size_t n = json_array_size(logs);
    if (n > OSF_MAX_PODS) n = OSF_MAX_PODS;
    pid_t main_pid[OSF_MAX_PODS];
    uint64_t scan_until[OSF_MAX_PODS] = {0};
    for (size_t i = 0; i < n; i++) main_pid[i] = (pid_t)json_integer_value(json_object_get(json_array_get(logs, i), "pid"));
    json_t *list = json_array();
    while (fault_still_active(c)) {
        for (size_t i = 0; i < n; i++) {
            struct osf_ctr k;
            if (osf_container_of(c, json_string_value(json_object_get(json_array_get(logs, i), "pod")), &k)) continue;
            if (k.pid != main_pid[i]) {
                main_pid[i] = k.pid;
                scan_until[i] = mono_ns() + 3000000000ull;
            }
            if (mono_ns() < scan_until[i] && limit_members(c, &k, RLIMIT_FSIZE, fsize_want, list, save_relimited))
                fprintf(stderr, "disk-full: %s\n", c->err);
        }
        osf_sleep_active(c, 200);
    }
    json_decref(list);
    return 0;
}

/* Some container said so in its log ("File too large"), in the run that
 * was limited, or went down over it (restarted or not running since: the
 * container may be waiting out its back-off). */
static int disk_verify(struct fault_ctx *c)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(c->state, "logs"), i, l)
    {
        char path[PATH_MAX + 16], line[4096];
        snprintf(path, sizeof path, "%s/current.log", json_path_str(l, "rundir", ""));
        FILE *f = fopen(path, "re");
        int seen = 0;
        if (f) {
            fseek(f, (long)json_integer_value(json_object_get(l, "offset")), SEEK_SET);
            while (!seen && fgets(line, sizeof line, f)) seen = strstr(line, "File too large") != NULL;
            fclose(f);
        }
        if (seen) return 1;
        int missing = 0;
        json_t *pod = fault_get(c, "Pod", json_path_str(l, "pod", ""), &missing);
        if (!pod) continue;
        const json_t *cs = json_array_get(json_path(pod, "status.containerStatuses"), 0);
        int down = json_path_int(cs, "restartCount", 0) > json_integer_value(json_object_get(l, "restarts")) ||
                   !json_path(cs, "state.running");
        json_decref(pod);
        if (down) return 1;
    }
    return 0;
}

/* run() has ended (the engine stops it first): what it limited is in its file. */
static int disk_recover(struct fault_ctx *c)
{
    char path[PATH_MAX];
    relimited_path(c, path, sizeof path);
    json_t *later = json_load_file(path, 0, NULL);
    int rc = restore_limits(c, json_object_get(c->state, "limited"), RLIMIT_FSIZE);
    if (restore_limits(c, later, RLIMIT_FSIZE)) rc = -1;
    json_decref(later);
    if (!rc && unlink(path) && errno != ENOENT) {
        snprintf(c->err, sizeof c->err, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

static const struct fault_param disk_params[] = {
    {"size", FP_BYTES, 0, 1LL << 30, "0", NULL,
     "the largest file size the processes may write up to (0: no write to a regular file succeeds)"},
    {0},
};

static const struct fault_type disk_full = {
    .id = "disk-full",
    .layer = FAULT_OS,
    .cls = FAULT_RESOURCE_EXHAUSTION,
    .target = FT_STORE,
    .resource = "disk",
    .summary = "the store's processes can no longer write their files (RLIMIT_FSIZE lowered with prlimit: EFBIG)",
    .symptoms = "writes fail with \"File too large\" (EFBIG): PostgreSQL logs \"could not write ... File too large\" "
                "and PANICs on its WAL, restarts and fails again (the disk stays full: CrashLoopBackOff); inserts and "
                "updates return errors and callers get 5xx while reads from cache may still work",
    .params = disk_params,
    .verify_ms = 30000,
    .inject = disk_inject,
    .verify = disk_verify,
    .recover = disk_recover,
    .run = disk_run,
};

const struct fault_type *const fault_types_os[] = {
    &process_kill,   &process_pause,         &cpu_contention, &memory_leak, &fd_exhaustion,
    &disk_full,      &clock_skew,            &thread_pool_exhaustion, NULL,
};
