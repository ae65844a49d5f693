/* os_hogs: Operating System faults that need a live process of their own,
 * the fault's run() body (fault.h):
 *   cpu-contention          burner threads, inside the target container's
 *                           cgroup when the cluster uses cgroups (they
 *                           compete with the service for its cpu quota and
 *                           show in its cpu accounting), else on the machine;
 *   memory-leak             a process inside the container's cgroup whose
 *                           memory grows at a steady rate, so that the
 *                           container's working set grows to its limit;
 *   thread-pool-exhaustion  a slowloris: many connections to the pods,
 *                           each sending an HTTP request one header line at
 *                           a time, until the server's connection slots are
 *                           all taken.
 * The run() body keeps one child per pod; when the container restarts
 * (conmon kills everything in its cgroup, the child too) a new child goes
 * into the new run, as the bug would come back with the restarted program. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/limits.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "faults/fault.h"
#include "faults/os_types.h"
#include "faults/osf_util.h"

#define MiB (1024LL * 1024)

static void sleep_ms(long ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

/* ---- one child per pod ---------------------------------------------------- */

/* Runs in the child; returns only to end it. */
typedef void (*hog_body)(struct fault_ctx *c, const struct osf_ctr *k, pid_t parent);

/* Record the target's pods (with their usage now) for run() and verify. */
static int hog_inject(struct fault_ctx *c, int need_cgroup)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return -1;
    json_t *pods = json_array();
    for (int i = 0; i < n; i++) {
        if (need_cgroup && !osf_has_cgroup(&k[i])) {
            json_decref(pods);
            snprintf(c->err, sizeof c->err,
                     "%s needs the container's cgroup for its memory to count as the container's, and this cluster "
                     "runs containers without one (limits: %s)",
                     c->type->id, k[i].limits);
            return -1;
        }
        struct limits_usage u = {0};
        osf_usage(&k[i], &u);
        json_array_append_new(pods, json_pack("{s:s, s:i, s:I, s:I}", "pod", k[i].pod, "restarts", k[i].restarts,
                                              "workingSet", (json_int_t)u.working_set, "cpuNs",
                                              (json_int_t)u.cpu_ns));
    }
    json_object_set_new(c->state, "pods", pods);
    return fault_save(c);
}

static int hog_recover(struct fault_ctx *c)
{
    (void)c; /* the engine ends the run() process; its children die with it (PDEATHSIG) */
    return 0;
}

static int supervise(struct fault_ctx *c, hog_body body)
{
    json_t *pods = json_object_get(c->state, "pods");
    size_t n = json_array_size(pods);
    if (n > OSF_MAX_PODS) n = OSF_MAX_PODS;
    pid_t child[OSF_MAX_PODS] = {0};
    pid_t me = getpid();
    while (fault_still_active(c)) {
        for (size_t i = 0; i < n; i++) {
            if (child[i] > 0 && waitpid(child[i], NULL, WNOHANG) == child[i]) child[i] = 0;
            struct osf_ctr k;
            if (child[i] || osf_container_of(c, json_path_str(json_array_get(pods, i), "pod", ""), &k)) continue;
            pid_t p = fork();
            if (p == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != me) _exit(0);
                body(c, &k, me);
                _exit(0);
            }
            if (p > 0) child[i] = p;
        }
        sleep_ms(500);
    }
    for (size_t i = 0; i < n; i++) {
        if (child[i] <= 0) continue;
        kill(child[i], SIGKILL);
        waitpid(child[i], NULL, 0);
    }
    return 0;
}

/* ---- cpu-contention ------------------------------------------------------- */

static int cpu_percent;

static void *burn(void *arg)
{
    (void)arg;
    for (;;) {
        uint64_t t0 = mono_ns(), busy = (uint64_t)cpu_percent * 1000000u; /* of a 100 ms period */
        volatile uint64_t x = 0;
        while (mono_ns() - t0 < busy) x++;
        if (cpu_percent < 100) sleep_ms((long)(100 - cpu_percent));
    }
    return NULL;
}

static void cpu_body(struct fault_ctx *c, const struct osf_ctr *k, pid_t parent)
{
    char err[256];
    if (osf_has_cgroup(k) && osf_join_cgroup(k, err, sizeof err)) {
        fprintf(stderr, "cpu-contention: %s\n", err);
        return;
    }
    cpu_percent = (int)fault_param_int(c, "percent");
    long long cores = fault_param_int(c, "cores");
    for (long long i = 0; i < cores; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, burn, NULL)) return;
    }
    while (getppid() == parent) sleep_ms(200);
}

/* The cpu cores the first container (cgroup), else process pid, uses over ms. -1 on error. */
static double cpu_rate(const struct osf_ctr *k, pid_t pid, unsigned ms)
{
    struct limits_usage a, b;
    int in_cgroup = osf_has_cgroup(k);
    if (in_cgroup ? osf_usage(k, &a) : limits_proc_usage(0, pid, &a)) return -1;
    uint64_t t0 = mono_ns();
    sleep_ms(ms);
    if (in_cgroup ? osf_usage(k, &b) : limits_proc_usage(0, pid, &b)) return -1;
    return (double)(b.cpu_ns - a.cpu_ns) / (double)(mono_ns() - t0);
}

/* The container's own cpu use before the burners start: verify compares. */
static int cpu_inject(struct fault_ctx *c)
{
    struct osf_ctr k;
    if (osf_containers(c, &k, 1) < 0) return -1;
    double before = osf_has_cgroup(&k) ? cpu_rate(&k, 0, 200) : 0;
    json_object_set_new(c->state, "cpuBefore", json_real(before < 0 ? 0 : before));
    return hog_inject(c, 0);
}
static int cpu_run(struct fault_ctx *c) { return supervise(c, cpu_body); }

/* The cpu the burners take shows: in the container's own accounting when
 * they are in its cgroup (`kubectl top`, container_cpu_usage_seconds_total),
 * else in the fault process's. At least a third of what was asked (a cpu
 * limit of the container caps it) or, on a node so busy that the
 * container's cpu share cannot give that, four times what the container
 * used before (and at least 2% of a core). */
static int cpu_verify(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return 0;
    pid_t runner = (pid_t)json_integer_value(json_object_get(c->state, "runnerPid"));
    double cores = cpu_rate(&k[0], runner, 500);
    if (cores < 0) return 0;
    double want = (double)fault_param_int(c, "cores") * (double)fault_param_int(c, "percent") / 100.0;
    if (want > 1.0) want = 1.0;
    double before = json_number_value(json_object_get(c->state, "cpuBefore")), busy = 4 * before;
    if (busy < 0.02) busy = 0.02;
    return cores >= want / 3.0 || (osf_has_cgroup(&k[0]) && cores >= busy);
}

static const struct fault_param cpu_params[] = {
    {"cores", FP_INT, 1, 16, "1", NULL, "burner threads per pod"},
    {"percent", FP_PERCENT, 1, 100, "100", NULL, "how busy each thread keeps its cpu"},
    {0},
};

const struct fault_type cpu_contention = {
    .id = "cpu-contention",
    .layer = FAULT_OS,
    .cls = FAULT_RESOURCE_EXHAUSTION,
    .target = FT_WORKLOAD,
    .resource = "cpu",
    .summary = "busy threads run inside the containers' cgroups (on the machine without cgroups), taking their cpu",
    .symptoms = "the pods' cpu use rises to their limit (`kubectl top pod`, container_cpu_usage_seconds_total) and "
                "the container is throttled (container_cpu_cfs_throttled_periods_total); latency of the service and "
                "its callers grows, timeouts under load; no errors in its logs",
    .params = cpu_params,
    .verify_ms = 8000,
    .inject = cpu_inject,
    .verify = cpu_verify,
    .recover = hog_recover,
    .run = cpu_run,
};

/* ---- memory-leak ---------------------------------------------------------- */

/* The leak is held in a memfd, written and never mapped: shared memory
 * charged to the container's cgroup (it counts in its usage and working
 * set, and without swap it cannot be reclaimed) that is in no process's
 * RSS. So when the cgroup reaches its limit, the kernel's OOM killer
 * picks the container's own biggest process, the service, as it would
 * pick a leaking service: the container is OOMKilled, and this child,
 * in the same cgroup, ends with it (a new one follows the next run). */
static void leak_body(struct fault_ctx *c, const struct osf_ctr *k, pid_t parent)
{
    char err[256];
    if (osf_join_cgroup(k, err, sizeof err)) {
        fprintf(stderr, "memory-leak: %s\n", err);
        return;
    }
    int fd = memfd_create("leak", MFD_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "memory-leak: memfd_create: %s\n", strerror(errno));
        return;
    }
    static char chunk[64 * 1024];
    memset(chunk, 0xa5, sizeof chunk);
    long long per_step = fault_param_int(c, "rate") / 120, max = fault_param_int(c, "max"), held = 0;
    if (per_step < (long long)sizeof chunk) per_step = (long long)sizeof chunk;
    while (getppid() == parent) {
        for (long long end = held + per_step; held < end && held < max;) {
            ssize_t w = pwrite(fd, chunk, sizeof chunk, (off_t)held);
            if (w <= 0) break; /* no memory left to charge: the OOM killer is at work */
            held += w;
        }
        sleep_ms(500);
    }
    close(fd);
}

static int leak_inject(struct fault_ctx *c) { return hog_inject(c, 1); }
static int leak_run(struct fault_ctx *c) { return supervise(c, leak_body); }

/* The container's working set grew by a few seconds' worth of leak, or it
 * was restarted (OOMKilled) since. */
static int leak_verify(struct fault_ctx *c)
{
    long long grow = fault_param_int(c, "rate") / 20;
    if (grow > 8 * MiB) grow = 8 * MiB;
    if (grow < MiB) grow = MiB;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c->state, "pods"), i, p)
    {
        struct osf_ctr k;
        if (osf_container_of(c, json_path_str(p, "pod", ""), &k)) continue;
        if (k.restarts > json_path_int(p, "restarts", 0)) return 1;
        struct limits_usage u;
        if (!osf_usage(&k, &u) && (long long)u.working_set >= json_path_int(p, "workingSet", 0) + grow) return 1;
    }
    return 0;
}

static const struct fault_param leak_params[] = {
    {"rate", FP_BYTES, 1 * MiB, 4096 * MiB, "64Mi", NULL, "how much memory the leak takes per minute"},
    {"max", FP_BYTES, 1 * MiB, 8192 * MiB, "1Gi", NULL, "where it stops growing when no limit stops it first"},
    {0},
};

const struct fault_type memory_leak = {
    .id = "memory-leak",
    .layer = FAULT_OS,
    .cls = FAULT_RESOURCE_EXHAUSTION,
    .target = FT_WORKLOAD,
    .resource = "memory",
    .summary = "memory charged to the containers' cgroups grows steadily (a process in each cgroup holds it)",
    .symptoms = "container_memory_working_set_bytes and `kubectl top pod` grow minute after minute; with a memory "
                "limit the container is OOMKilled (exit code 137, restartCount +1) and the growth starts over, "
                "ending in CrashLoopBackOff-like restarts; requests fail around each restart",
    .params = leak_params,
    .verify_ms = 30000,
    .gradual = 1,
    .inject = leak_inject,
    .verify = leak_verify,
    .recover = hog_recover,
    .run = leak_run,
};

/* ---- thread-pool-exhaustion ---------------------------------------------------- */

struct conn {
    int fd;
    int sent; /* header lines sent */
};

static int open_conn(const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static int target_port(struct fault_ctx *c, const struct osf_ctr *k)
{
    long long p = fault_param_int(c, "port");
    return p ? (int)p : k->port;
}

/* Hold the connections; every 5 s each sends one more header line, so the
 * server keeps waiting for the end of its request. Closed ones reopen. */
static void slowloris_body(struct fault_ctx *c, const struct osf_ctr *k, pid_t parent)
{
    int want = (int)fault_param_int(c, "connections");
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)want + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)want + 64 ? rl.rlim_max : (rlim_t)want + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)target_port(c, k))};
    if (inet_pton(AF_INET, k->ip, &a.sin_addr) != 1) return;
    struct conn *cs = calloc((size_t)want, sizeof *cs);
    if (!cs) return;
    for (int i = 0; i < want; i++) cs[i].fd = -1;
    char first[256];
    int flen = snprintf(first, sizeof first, "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0\r\n", k->ip);
    uint64_t next_line = 0;
    while (getppid() == parent) {
        int tick = mono_ns() >= next_line;
        if (tick) next_line = mono_ns() + 5000000000ull;
        for (int i = 0; i < want; i++) {
            if (cs[i].fd < 0) {
                cs[i].fd = open_conn(&a);
                cs[i].sent = 0;
                continue;
            }
            ssize_t w = 0;
            if (cs[i].sent == 0) w = send(cs[i].fd, first, (size_t)flen, MSG_NOSIGNAL);
            else if (tick) w = send(cs[i].fd, "X-a: b\r\n", 8, MSG_NOSIGNAL);
            char junk[512];
            ssize_t r = recv(cs[i].fd, junk, sizeof junk, MSG_DONTWAIT);
            if ((w < 0 && errno != EAGAIN) || r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(cs[i].fd); /* the server gave up on it: take its slot again */
                cs[i].fd = -1;
            } else if (w > 0) {
                cs[i].sent++;
            }
        }
        sleep_ms(200);
    }
}

static int pool_inject(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return -1;
    if (!target_port(c, &k[0])) {
        snprintf(c->err, sizeof c->err, "Deployment \"%s\" declares no containerPort: give port=N", c->target);
        return -1;
    }
    return hog_inject(c, 0);
}

static int pool_run(struct fault_ctx *c) { return supervise(c, slowloris_body); }

/* A new client's request gets no answer within a second from any pod
 * (refused, reset, or left waiting). */
static int pool_verify(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return 0;
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)target_port(c, &k[i]))};
        if (inet_pton(AF_INET, k[i].ip, &a.sin_addr) != 1) return 0;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        struct timeval tv = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        char buf[16] = "";
        ssize_t r = -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            static const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
            if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) > 0) r = recv(fd, buf, sizeof buf - 1, MSG_WAITALL);
        }
        close(fd);
        if (r >= 5 && !strncmp(buf, "HTTP/", 5)) return 0; /* this pod still answers */
    }
    return 1;
}

static const struct fault_param pool_params[] = {
    {"connections", FP_INT, 1, 4000, "1200", NULL, "connections held open to each pod"},
    {"port", FP_INT, 0, 65535, "0", NULL, "the pods' port (0: the container's first containerPort)"},
    {0},
};

const struct fault_type thread_pool_exhaustion = {
    .id = "thread-pool-exhaustion",
    .layer = FAULT_OS,
    .cls = FAULT_RESOURCE_EXHAUSTION,
    .target = FT_WORKLOAD,
    .resource = "connections",
    .summary = "slow clients (slowloris) hold every connection slot of the pods' HTTP servers",
    .symptoms = "new requests to the service hang or are closed without a response (\"empty reply\", resets), "
                "probes time out, callers log timeouts and return 5xx; the pods hold a very large number of "
                "established connections (ss/netstat) with requests that never complete; cpu stays low",
    .params = pool_params,
    .verify_ms = 15000,
    .inject = pool_inject,
    .verify = pool_verify,
    .recover = hog_recover,
    .run = pool_run,
};
