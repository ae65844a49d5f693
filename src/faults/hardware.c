/* hardware: the Hardware layer's faults, emulated on a store's disk I/O:
 *   io-errors  the store's file I/O system calls fail with EIO, as on a
 *              failing disk;
 *   slow-io    they each take N ms longer, as on a degraded disk.
 * Both use strace's system call tampering (`-e inject=...:error=EIO` or
 * `:delay_enter=US`) on the running store's processes (-f follows the
 * backends they fork), held by the fault's run() body; stopping strace
 * detaches it and the processes run on untouched. The calls tampered with
 * are the positional and sync ones (pread64/preadv, pwrite64/pwritev,
 * fsync/fdatasync): PostgreSQL does all its data and WAL I/O on its data
 * volume with them and never uses them on sockets or its log, so exactly
 * the volume's I/O is hit. When the container restarts (a PANIC after an
 * I/O error ends the postmaster), strace is attached to the new run: the
 * disk stays bad until recovered. Needs strace and the right to ptrace the
 * store (same user, or root).
 *
 * Ending strace: on SIGTERM it detaches cleanly (a delayed call goes on,
 * a call being failed returns EIO). strace does not set PTRACE_O_EXITKILL
 * on processes it attached to (-p), so even when it dies by SIGKILL the
 * kernel only detaches the store's processes, never kills them; the one
 * call a process was in at that instant may then return ENOSYS instead of
 * EIO (strace had replaced its number), and nothing stays tampered with.
 * strace gets SIGTERM when run() dies however it dies (PDEATHSIG), and
 * recover stops every tracer run() recorded (faults/io-tracers-ID) and
 * waits for it to be gone, so when recover returns no process of the store
 * is traced any more. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "faults/fault.h"
#include "faults/layers.h"
#include "faults/osf_util.h"

static const char *syscalls(struct fault_ctx *c)
{
    const char *ops = fault_param_str(c, "ops");
    if (!strcmp(ops, "read")) return "pread64,preadv";
    if (!strcmp(ops, "write")) return "pwrite64,pwritev,fsync,fdatasync";
    return "pread64,preadv,pwrite64,pwritev,fsync,fdatasync";
}

/* Where run() counts the tampered calls strace reported, for verify. */
static void hits_path(struct fault_ctx *c, char *out, size_t n)
{
    char rel[64];
    snprintf(rel, sizeof rel, "faults/io-hits-%lld", (long long)c->id);
    lab_path(c->lab, rel, out, n);
}

/* Where run() lists its strace processes ([{pid, start}]), for recover. */
static void tracers_path(struct fault_ctx *c, char *out, size_t n)
{
    char rel[64];
    snprintf(rel, sizeof rel, "faults/io-tracers-%lld", (long long)c->id);
    lab_path(c->lab, rel, out, n);
}

static int io_inject(struct fault_ctx *c)
{
    char strace[PATH_MAX];
    if (osf_which("strace", strace, sizeof strace)) {
        snprintf(c->err, sizeof c->err, "%s needs strace (scripts/install-deps.sh installs it)", c->type->id);
        return -1;
    }
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return -1;
    json_t *pods = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(pods, json_string(k[i].pod));
    json_object_set_new(c->state, "pods", pods);
    return fault_save(c);
}

struct tracer {
    pid_t pid;          /* strace */
    pid_t main;         /* the container's main process it was attached for */
    int out;            /* its output */
    uint64_t started;   /* when (monotonic ns) */
};

/* A process of the container that no tracer holds: one that existed but
 * was not yet listed when strace attached (a run starting up forks its
 * processes meanwhile; -f only follows those forked afterwards). */
static int untraced_member(const struct osf_ctr *k)
{
    pid_t *m = NULL;
    int n = osf_members(k, &m), found = 0;
    for (int i = 0; i < n && !found; i++) {
        char path[64], line[128];
        snprintf(path, sizeof path, "/proc/%d/status", (int)m[i]);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        int zombie = 0;
        long tracer = -1;
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "State:", 6)) zombie = strchr(line, 'Z') != NULL;
            if (sscanf(line, "TracerPid: %ld", &tracer) == 1) break;
        }
        fclose(f);
        found = !zombie && tracer == 0;
    }
    free(m);
    return found;
}

static void tracer_stop(struct tracer *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGTERM); /* strace detaches, restoring the processes */
        waitpid(t->pid, NULL, 0);
    }
    if (t->out >= 0) close(t->out);
    t->pid = 0;
    t->out = -1;
}

static int tracer_start(struct fault_ctx *c, const struct osf_ctr *k, const char *strace, struct tracer *t)
{
    pid_t *m = NULL;
    int n = osf_members(k, &m);
    if (n <= 0) {
        free(m);
        return -1;
    }
    char inject[256];
    if (!strcmp(c->type->id, "slow-io"))
        snprintf(inject, sizeof inject, "inject=%s:delay_enter=%lld", syscalls(c),
                 fault_param_int(c, "delay") * 1000);
    else
        snprintf(inject, sizeof inject, "inject=%s:error=EIO", syscalls(c));
    char trace[160];
    snprintf(trace, sizeof trace, "trace=%s", syscalls(c));
    char **argv = calloc((size_t)n * 2 + 16, sizeof *argv);
    char (*pids)[16] = calloc((size_t)n, sizeof *pids);
    int a = 0;
    argv[a++] = (char *)strace;
    argv[a++] = "-qq";
    argv[a++] = "-f";
    argv[a++] = "-s0";
    argv[a++] = "-esignal=none";
    argv[a++] = "-e";
    argv[a++] = trace;
    argv[a++] = "-e";
    argv[a++] = inject;
    for (int i = 0; i < n; i++) {
        snprintf(pids[i], sizeof pids[i], "%d", (int)m[i]);
        argv[a++] = "-p";
        argv[a++] = pids[i];
    }
    argv[a] = NULL;
    int fds[2] = {-1, -1};
    pid_t parent = getpid(), p = -1;
    if (pipe2(fds, O_CLOEXEC) == 0) p = fork();
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* strace detaches cleanly if this process dies */
        if (getppid() != parent) _exit(0);
        signal(SIGPIPE, SIG_IGN); /* a lost reader must never kill it mid-call */
        dup2(fds[1], 2);
        execv(strace, argv);
        _exit(127);
    }
    free(argv);
    free(pids);
    free(m);
    if (fds[1] >= 0) close(fds[1]);
    if (p < 0) {
        if (fds[0] >= 0) close(fds[0]);
        return -1;
    }
    fd_set_nonblock(fds[0], 1);
    t->pid = p;
    t->main = k->pid;
    t->out = fds[0];
    t->started = mono_ns();
    return 0;
}

static long count(const char *s, const char *needle)
{
    long n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Count strace's lines about tampered calls ("(INJECTED)", "(DELAYED)"). A
 * marker split between two reads is missed: verify needs only one. */
static long drain(struct tracer *t)
{
    char buf[8192];
    long hits = 0;
    ssize_t r;
    while (t->out >= 0 && (r = read(t->out, buf, sizeof buf - 1)) > 0) {
        buf[r] = '\0';
        hits += count(buf, "(INJECTED)") + count(buf, "(DELAYED)");
    }
    return hits;
}

static int io_run(struct fault_ctx *c)
{
    char strace[PATH_MAX], hits_file[PATH_MAX];
    if (osf_which("strace", strace, sizeof strace)) {
        snprintf(c->err, sizeof c->err, "strace is not installed");
        return -1;
    }
    hits_path(c, hits_file, sizeof hits_file);
    json_t *pods = json_object_get(c->state, "pods");
    size_t n = json_array_size(pods);
    if (n > OSF_MAX_PODS) n = OSF_MAX_PODS;
    struct tracer t[OSF_MAX_PODS];
    for (size_t i = 0; i < n; i++) t[i] = (struct tracer){0, 0, -1, 0};
    long hits = 0, written = -1;
    char tracers_file[PATH_MAX];
    tracers_path(c, tracers_file, sizeof tracers_file);
    while (fault_still_active(c)) {
        int changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (t[i].pid > 0 && waitpid(t[i].pid, NULL, WNOHANG) == t[i].pid) {
                hits += drain(&t[i]);
                t[i].pid = 0; /* every process it traced ended, or strace was killed */
                tracer_stop(&t[i]);
            }
            hits += drain(&t[i]);
            struct osf_ctr k;
            if (osf_container_of(c, json_string_value(json_array_get(pods, i)), &k)) continue;
            /* Attach again for a new run of the container or a lost strace,
             * and when a process escaped it (at most once a second). */
            if (t[i].pid > 0 && t[i].main == k.pid &&
                (mono_ns() - t[i].started < 1000000000ull || !untraced_member(&k)))
                continue;
            tracer_stop(&t[i]);
            tracer_start(c, &k, strace, &t[i]);
            changed = 1;
        }
        if (changed) {
            json_t *list = json_array();
            for (size_t i = 0; i < n; i++)
                if (t[i].pid > 0) json_array_append_new(list, osf_proc_ref(t[i].pid));
            char *txt = json_dumps(list, JSON_COMPACT);
            if (txt && write_file_replace(tracers_file, txt, strlen(txt)))
                fprintf(stderr, "%s: cannot write %s\n", c->type->id, tracers_file);
            free(txt);
            json_decref(list);
        }
        if (hits != written) {
            char s[32];
            int len = snprintf(s, sizeof s, "%ld\n", hits);
            if (!write_file_replace(hits_file, s, (size_t)len)) written = hits;
        }
        nanosleep(&(struct timespec){0, 250000000L}, NULL);
    }
    for (size_t i = 0; i < n; i++) tracer_stop(&t[i]);
    return 0;
}

/* The store's I/O was tampered with: strace reported failed or delayed calls. */
static int io_verify(struct fault_ctx *c)
{
    char path[PATH_MAX];
    hits_path(c, path, sizeof path);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    long hits = 0;
    if (fscanf(f, "%ld", &hits) != 1) hits = 0;
    fclose(f);
    return hits > 0;
}

static int tracer_gone(pid_t pid, uint64_t start) { return proc_starttime(pid) != start; /* 0 once it exited */ }

/* The engine has ended run(), whose straces got SIGTERM with it; make sure
 * each is gone (so the store is detached) before saying recovered: SIGTERM
 * again, a second to detach, then SIGKILL (see the top of the file). */
static int stop_tracers(struct fault_ctx *c, const char *path)
{
    json_t *list = json_load_file(path, 0, NULL);
    size_t i;
    json_t *ref;
    int rc = 0;
    json_array_foreach(list, i, ref)
    {
        pid_t pid = osf_proc_live(ref);
        uint64_t start = (uint64_t)json_integer_value(json_object_get(ref, "start"));
        if (!pid || tracer_gone(pid, start)) continue;
        fault_signal(pid, start, SIGTERM);
        for (int w = 0; w < 50 && !tracer_gone(pid, start); w++) nanosleep(&(struct timespec){0, 20000000L}, NULL);
        if (!tracer_gone(pid, start)) fault_signal(pid, start, SIGKILL);
        for (int w = 0; w < 50 && !tracer_gone(pid, start); w++) nanosleep(&(struct timespec){0, 20000000L}, NULL);
        if (!tracer_gone(pid, start)) {
            snprintf(c->err, sizeof c->err, "strace %d does not end", (int)pid);
            rc = -1;
        }
    }
    json_decref(list);
    return rc;
}

static int io_recover(struct fault_ctx *c)
{
    char tracers[PATH_MAX], hits[PATH_MAX];
    tracers_path(c, tracers, sizeof tracers);
    hits_path(c, hits, sizeof hits);
    if (stop_tracers(c, tracers)) return -1;
    const char *paths[] = {tracers, hits};
    for (int i = 0; i < 2; i++) {
        if (unlink(paths[i]) && errno != ENOENT) {
            snprintf(c->err, sizeof c->err, "%s: %s", paths[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

static const struct fault_param eio_params[] = {
    {"ops", FP_ENUM, 0, 0, "all", "read|write|all", "which I/O fails: reads, writes and syncs, or both"},
    {0},
};

static const struct fault_type io_errors = {
    .id = "io-errors",
    .layer = FAULT_HARDWARE,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_POSTGRES,
    .resource = "disk-io",
    .summary = "the store's disk reads and writes fail with EIO (strace system call fault injection)",
    .symptoms = "PostgreSQL logs \"could not read/write ... Input/output error\" and PANICs on WAL or fsync errors: "
                "the container restarts and crash-loops while the disk stays bad; queries fail, callers return 5xx",
    .params = eio_params,
    .verify_ms = 30000,
    .inject = io_inject,
    .verify = io_verify,
    .recover = io_recover,
    .run = io_run,
};

static const struct fault_param slow_params[] = {
    {"delay", FP_MS, 1, 10000, "100ms", NULL, "added to each read, write and sync"},
    {"ops", FP_ENUM, 0, 0, "all", "read|write|all", "which I/O is slow: reads, writes and syncs, or both"},
    {0},
};

static const struct fault_type slow_io = {
    .id = "slow-io",
    .layer = FAULT_HARDWARE,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_POSTGRES,
    .resource = "disk-io",
    .summary = "each of the store's disk reads, writes and syncs takes N ms longer (strace delay injection)",
    .symptoms = "everything that waits for the disk is slow: WAL flushes and fsyncs, CHECKPOINT (seconds instead of "
                "milliseconds), reads that miss the cache; with synchronous_commit on, every commit; with it off (the "
                "lab's stores, like MongoDB's default write concern) commits do not wait, and the service slows down "
                "once the WAL buffers fill under write load; no errors in the store's log, cpu stays low",
    .params = slow_params,
    .verify_ms = 20000,
    .inject = io_inject,
    .verify = io_verify,
    .recover = io_recover,
    .run = io_run,
};

const struct fault_type *const fault_types_hardware[] = {
    &io_errors,
    &slow_io,
    NULL,
};
