/* conmon: the per-container monitor, `aiopslab __conmon --dir RUNDIR`, one
 * process per container run, like CRI-O's conmon (docs/conmon.md). It reads
 * RUNDIR/spec.json, starts the container in its own session with
 * PR_SET_PDEATHSIG, puts it under its limits (limits.c), copies its stdout
 * and stderr into CRI-format logs (crilog.c), and records each phase in
 * RUNDIR/state.json. It depends on nothing of the process that started it:
 * the daemon double-forks it so that containers outlive a daemon crash.
 *
 * One thread, one poll(2) loop over: the two output pipes, a signalfd
 * (SIGCHLD, SIGTERM, SIGINT) and a 100 ms timerfd that runs only when
 * something needs sampling (poll limits, the end of a grace period). */
#include "cluster/conmon.h"

#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/crilog.h"
#include "cluster/limits.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#define SPEC_MAX (1024 * 1024)
#define ARGV_MAX 4096
#define DRAIN_NS (2000000000ull) /* how long to wait for output after the container ended */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum { STAGE_CHDIR = 1, STAGE_EXEC = 2 };

struct exec_report {
    int stage, err, in_path;
};

struct stream {
    int fd; /* -1 once at EOF */
    int is_stderr;
    size_t len;
    char buf[CRILOG_MAX_LINE];
};

struct conmon {
    char rundir[PATH_MAX];
    json_t *spec;
    char **argv, **env;
    const char *cwd;
    uid_t uid; /* (uid_t)-1: keep conmon's */
    gid_t gid;
    int grace_s;
    struct crilog_writer *log;
    struct limits lim;
    pid_t pid;
    uint64_t pid_start, started_ns;
    int sfd, tfd, timer_on;
    struct stream out, err;
    int exited, status;
    int stopping, killed;
    uint64_t kill_at; /* monotonic */
};

/* ---- state.json ---- */

static void state_write(struct conmon *c, json_t *st)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/state.json", c->rundir);
    json_object_set_new(st, "conmonPid", json_integer(getpid()));
    char *s = json_dumps(st, JSON_SORT_KEYS | JSON_INDENT(2));
    if (!s) {
        log_error("state.json: cannot serialize");
        json_decref(st);
        return;
    }
    int rc = write_file_atomic(path, s, strlen(s));
    if (rc < 0) log_error("%s: %s", path, strerror(-rc));
    free(s);
    json_decref(st);
}

static json_t *time_json(uint64_t ns)
{
    char ts[48];
    time_rfc3339_nano(ns, ts, sizeof ts);
    return json_string(ts);
}

static void state_failed(struct conmon *c, const char *message, int code)
{
    log_error("cannot run container: %s", message);
    json_t *st = json_object();
    json_object_set_new(st, "phase", json_string("failed"));
    json_object_set_new(st, "reason", json_string("ContainerCannotRun"));
    json_object_set_new(st, "message", json_string(message));
    json_object_set_new(st, "exitCode", json_integer(code));
    json_object_set_new(st, "finishedAt", time_json(wall_ns()));
    state_write(c, st);
}

static void state_running(struct conmon *c)
{
    json_t *st = json_object();
    json_object_set_new(st, "phase", json_string("running"));
    json_object_set_new(st, "pid", json_integer(c->pid));
    json_object_set_new(st, "pidStart", json_integer((json_int_t)c->pid_start));
    json_object_set_new(st, "startedAt", time_json(c->started_ns));
    json_object_set_new(st, "limits", json_string(limits_kind_name(c->lim.kind)));
    state_write(c, st);
}

static void state_exited(struct conmon *c, int oom)
{
    int code = 0, sig = 0;
    if (WIFEXITED(c->status)) {
        code = WEXITSTATUS(c->status);
    } else if (WIFSIGNALED(c->status)) {
        sig = WTERMSIG(c->status);
        code = 128 + sig;
    }
    const char *reason = oom ? "OOMKilled" : code == 0 ? "Completed" : "Error";
    log_info("container %d exited: code %d, signal %d, %s", (int)c->pid, code, sig, reason);
    json_t *st = json_object();
    json_object_set_new(st, "phase", json_string("exited"));
    json_object_set_new(st, "pid", json_integer(c->pid));
    json_object_set_new(st, "exitCode", json_integer(code));
    json_object_set_new(st, "signal", json_integer(sig));
    json_object_set_new(st, "reason", json_string(reason));
    json_object_set_new(st, "oomKilled", json_boolean(oom));
    json_object_set_new(st, "startedAt", time_json(c->started_ns));
    json_object_set_new(st, "finishedAt", time_json(wall_ns()));
    json_object_set_new(st, "limits", json_string(limits_kind_name(c->lim.kind)));
    state_write(c, st);
}

/* ---- spec.json ---- */

static char **string_array(json_t *a, int allow_empty, char *err, size_t errlen, const char *what)
{
    if (!json_is_array(a) || json_array_size(a) > ARGV_MAX || (!allow_empty && json_array_size(a) == 0)) {
        snprintf(err, errlen, "spec: \"%s\" must be a%s array of strings", what, allow_empty ? "n" : " non-empty");
        return NULL;
    }
    size_t n = json_array_size(a);
    char **v = xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(a, i);
        if (!json_is_string(s)) {
            snprintf(err, errlen, "spec: \"%s\"[%zu] is not a string", what, i);
            free(v);
            return NULL;
        }
        v[i] = (char *)json_string_value(s); /* owned by the spec tree */
    }
    return v;
}

static int spec_load(struct conmon *c, enum limits_kind *kind, char *err, size_t errlen)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/spec.json", c->rundir);
    struct buf b;
    buf_init(&b, SPEC_MAX);
    int rc = read_file(path, &b);
    if (rc < 0) {
        snprintf(err, errlen, "%.300s: %s", path, strerror(-rc));
        buf_free(&b);
        return rc;
    }
    json_error_t je;
    c->spec = json_loadb(b.data, b.len, 0, &je);
    buf_free(&b);
    if (!json_is_object(c->spec)) {
        snprintf(err, errlen, "%.300s:%d: %s", path, je.line, c->spec ? "not an object" : je.text);
        return -EINVAL;
    }
    c->argv = string_array(json_object_get(c->spec, "argv"), 0, err, errlen, "argv");
    if (!c->argv) return -EINVAL;
    json_t *env = json_object_get(c->spec, "env");
    if (env) {
        c->env = string_array(env, 1, err, errlen, "env");
        if (!c->env) return -EINVAL;
    } else {
        c->env = xcalloc(1, sizeof *c->env);
    }
    c->cwd = json_path_str(c->spec, "cwd", NULL);
    const char *limits = json_path_str(c->spec, "limits", "auto");
    if (limits_kind_parse(limits, kind) < 0) {
        snprintf(err, errlen, "spec: unknown limits \"%s\"", limits);
        return -EINVAL;
    }
    c->uid = (uid_t)json_path_int(c->spec, "runAsUser", -1);
    c->gid = (gid_t)json_path_int(c->spec, "runAsGroup", json_path_int(c->spec, "runAsUser", -1));
    json_int_t grace = json_path_int(c->spec, "gracePeriodSeconds", 30);
    c->grace_s = grace < 0 ? 0 : grace > 86400 ? 86400 : (int)grace;
    return 0;
}

/* ---- the child ---- */

static void child_report(int fd, int stage, int err, int in_path)
{
    struct exec_report r = {stage, err, in_path};
    ssize_t w = write(fd, &r, sizeof r);
    (void)w;
    _exit(127);
}

static const char *env_path(char **env)
{
    for (char **e = env; *e; e++)
        if (!strncmp(*e, "PATH=", 5)) return *e + 5;
    return DEFAULT_PATH;
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void child_main(struct conmon *c, pid_t parent, int devnull, int out_w, int err_w, int sync_r, int report_w)
{
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127); /* conmon died before the prctl */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0) child_report(report_w, STAGE_EXEC, errno, 0);
    /* Wait until conmon has put us in the cgroup. */
    char go;
    ssize_t r;
    do r = read(sync_r, &go, 1);
    while (r < 0 && errno == EINTR);
    if (r != 1) _exit(127);
    /* securityContext.runAsUser/runAsGroup: only a root conmon can switch. */
    if (c->uid != (uid_t)-1 && geteuid() == 0) {
        if (setgroups(0, NULL) < 0 || setgid(c->gid) < 0 || setuid(c->uid) < 0)
            child_report(report_w, STAGE_EXEC, errno, 0);
    }
    if (c->cwd && chdir(c->cwd) < 0) child_report(report_w, STAGE_CHDIR, errno, 0);
    const char *name = c->argv[0];
    if (strchr(name, '/')) {
        execve(name, c->argv, c->env);
        child_report(report_w, STAGE_EXEC, errno, 0);
    }
    const char *p = env_path(c->env);
    int eacces = 0;
    char full[PATH_MAX];
    size_t nl = strlen(name);
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t dl = colon ? (size_t)(colon - p) : strlen(p);
        if (dl == 0) {
            full[0] = '.';
            dl = 1;
        } else if (dl < sizeof full) {
            memcpy(full, p, dl);
        }
        if (dl + 1 + nl < sizeof full) {
            full[dl] = '/';
            memcpy(full + dl + 1, name, nl + 1);
            execve(full, c->argv, c->env);
            if (errno == EACCES)
                eacces = 1;
            else if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG)
                child_report(report_w, STAGE_EXEC, errno, 1);
        }
        if (!colon) break;
        p = colon + 1;
    }
    child_report(report_w, STAGE_EXEC, eacces ? EACCES : ENOENT, 1);
}

static void exec_message(const struct conmon *c, const struct exec_report *r, char *msg, size_t n, int *code)
{
    const char *name = c->argv[0];
    char lower[128]; /* Go-style error text, as the container runtimes print it */
    snprintf(lower, sizeof lower, "%s", strerror(r->err));
    if (lower[0] >= 'A' && lower[0] <= 'Z') lower[0] = (char)(lower[0] - 'A' + 'a');
    if (r->stage == STAGE_CHDIR) {
        snprintf(msg, n, "chdir to cwd (\"%s\") set in spec failed: %s", c->cwd, lower);
        *code = 128;
        return;
    }
    if (r->err == ENOENT) {
        *code = 127;
        if (r->in_path)
            snprintf(msg, n, "exec: \"%s\": executable file not found in $PATH", name);
        else
            snprintf(msg, n, "exec: \"%s\": stat %s: %s", name, name, lower);
        return;
    }
    *code = 126;
    snprintf(msg, n, "exec: \"%s\": %s", name, lower);
}

/* Fork and exec the container. 0 when it runs; else the failed state has
 * been written and -1 returned. */
static int start_container(struct conmon *c)
{
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, sync[2] = {-1, -1}, rep[2] = {-1, -1};
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(sync, O_CLOEXEC) < 0 ||
        pipe2(rep, O_CLOEXEC) < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "conmon: pipe: %s", strerror(errno));
        state_failed(c, msg, 128);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) child_main(c, parent, devnull, out[1], errp[1], sync[0], rep[1]);
    close(devnull);
    close(out[1]);
    close(errp[1]);
    close(sync[0]);
    close(rep[1]);
    c->out.fd = out[0];
    c->err.fd = errp[0];
    c->err.is_stderr = 1;
    if (pid < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "conmon: fork: %s", strerror(errno));
        close(sync[1]);
        close(rep[0]);
        state_failed(c, msg, 128);
        return -1;
    }
    c->pid = pid;
    char err[512] = "";
    if (limits_attach(&c->lim, pid, err, sizeof err) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "limits: %s", err);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sync[1]);
        close(rep[0]);
        state_failed(c, msg, 128);
        return -1;
    }
    char go = 1;
    if (write(sync[1], &go, 1) != 1) log_warn("sync pipe: %s", strerror(errno));
    close(sync[1]);
    struct exec_report r;
    ssize_t n;
    do n = read(rep[0], &r, sizeof r);
    while (n < 0 && errno == EINTR);
    close(rep[0]);
    if (n == (ssize_t)sizeof r) {
        char msg[PATH_MAX + 256];
        int code;
        exec_message(c, &r, msg, sizeof msg, &code);
        waitpid(pid, NULL, 0);
        state_failed(c, msg, code);
        return -1;
    }
    c->started_ns = wall_ns();
    c->pid_start = proc_starttime(pid);
    log_info("container %d started: %s (limits %s)", (int)pid, c->argv[0], limits_kind_name(c->lim.kind));
    state_running(c);
    return 0;
}

/* ---- output ---- */

static void stream_emit(struct conmon *c, struct stream *s, const char *p, size_t n, int partial)
{
    if (!c->log) return;
    int rc = crilog_write(c->log, wall_ns(), s->is_stderr, partial, p, n);
    if (rc < 0) log_warn("log write: %s", strerror(-rc));
}

/* Read what is there; emit full lines and 16 KiB pieces. */
static void stream_read(struct conmon *c, struct stream *s)
{
    for (;;) {
        ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            n = 0; /* treat errors as the end */
        }
        if (n == 0) {
            if (s->len) stream_emit(c, s, s->buf, s->len, 1);
            s->len = 0;
            close(s->fd);
            s->fd = -1;
            return;
        }
        size_t scan = s->len, start = 0;
        s->len += (size_t)n;
        for (;;) {
            char *nl = memchr(s->buf + scan, '\n', s->len - scan);
            if (!nl) break;
            stream_emit(c, s, s->buf + start, (size_t)(nl - (s->buf + start)), 0);
            start = scan = (size_t)(nl - s->buf) + 1;
        }
        if (start == 0 && s->len == sizeof s->buf) {
            stream_emit(c, s, s->buf, s->len, 1);
            start = s->len;
        }
        memmove(s->buf, s->buf + start, s->len - start);
        s->len -= start;
        if ((size_t)n < 4096) return; /* likely drained; let poll say */
    }
}

/* ---- signals, timer ---- */

static void timer_set(struct conmon *c, int on)
{
    if (on == c->timer_on) return;
    struct itimerspec it;
    memset(&it, 0, sizeof it);
    if (on) {
        it.it_value.tv_nsec = 100000000;
        it.it_interval.tv_nsec = 100000000;
    }
    timerfd_settime(c->tfd, 0, &it, NULL);
    c->timer_on = on;
}

static void begin_stop(struct conmon *c)
{
    if (c->stopping || c->exited) return;
    c->stopping = 1;
    log_info("stopping container %d: SIGTERM, SIGKILL after %ds", (int)c->pid, c->grace_s);
    limits_release(&c->lim);
    kill(-c->pid, SIGTERM);
    kill(c->pid, SIGTERM);
    c->kill_at = mono_ns() + (uint64_t)c->grace_s * 1000000000ull;
}

static void reap(struct conmon *c)
{
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p < 0 && errno == EINTR) continue;
        if (p <= 0) return;
        if (p == c->pid && !c->exited) {
            c->exited = 1;
            c->status = st;
        }
    }
}

static void handle_signals(struct conmon *c)
{
    struct signalfd_siginfo si;
    while (read(c->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD)
            reap(c);
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            begin_stop(c);
    }
    reap(c); /* SIGCHLDs coalesce */
}

static void handle_timer(struct conmon *c)
{
    uint64_t ticks;
    if (read(c->tfd, &ticks, sizeof ticks) < 0) return;
    if (limits_tick(&c->lim, mono_ns()) == 1) log_warn("container %d over its memory limit: killed", (int)c->pid);
    if (c->stopping && !c->killed && mono_ns() >= c->kill_at) {
        log_info("grace period over: SIGKILL to container %d", (int)c->pid);
        c->killed = 1;
        kill(-c->pid, SIGKILL);
        limits_kill_all(&c->lim);
    }
}

static void run_loop(struct conmon *c)
{
    while (!c->exited) {
        timer_set(c, limits_needs_tick(&c->lim) || (c->stopping && !c->killed));
        struct pollfd p[4] = {
            {c->sfd, POLLIN, 0},
            {c->tfd, POLLIN, 0},
            {c->out.fd, POLLIN, 0},
            {c->err.fd, POLLIN, 0},
        };
        if (poll(p, 4, -1) < 0) {
            if (errno == EINTR) continue;
            log_error("poll: %s", strerror(errno));
            return;
        }
        if (p[2].revents) stream_read(c, &c->out);
        if (p[3].revents) stream_read(c, &c->err);
        if (p[0].revents) handle_signals(c);
        if (p[1].revents) handle_timer(c);
    }
}

/* After the container's main process ended: the rest of its processes go
 * too (as when a container ends), then its output is drained. */
static void finish(struct conmon *c)
{
    int oom = limits_oom_killed(&c->lim);
    kill(-c->pid, SIGKILL);
    limits_kill_all(&c->lim);
    uint64_t until = mono_ns() + DRAIN_NS;
    while (c->out.fd >= 0 || c->err.fd >= 0) {
        uint64_t now = mono_ns();
        if (now >= until) {
            log_warn("output still open after the container ended; giving up on it");
            break;
        }
        struct pollfd p[2] = {{c->out.fd, POLLIN, 0}, {c->err.fd, POLLIN, 0}};
        int n = poll(p, 2, (int)((until - now) / 1000000) + 1);
        if (n < 0 && errno != EINTR) break;
        if (p[0].revents) stream_read(c, &c->out);
        if (p[1].revents) stream_read(c, &c->err);
    }
    struct stream *ss[2] = {&c->out, &c->err};
    for (int i = 0; i < 2; i++) {
        if (ss[i]->len) stream_emit(c, ss[i], ss[i]->buf, ss[i]->len, 1);
        ss[i]->len = 0;
        if (ss[i]->fd >= 0) close(ss[i]->fd);
        ss[i]->fd = -1;
    }
    int rc = limits_remove(&c->lim);
    if (rc < 0) log_warn("removing cgroup: %s", strerror(-rc));
    reap(c);
    state_exited(c, oom);
}

/* ---- entry ---- */

static int usage_error(const char *msg)
{
    fprintf(stderr, "aiopslab __conmon: %s\nusage: aiopslab __conmon --dir RUNDIR\n", msg);
    return 2;
}

int conmon_main(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (str_has_prefix(argv[i], "--dir="))
            dir = argv[i] + 6;
        else
            return usage_error("unknown argument");
    }
    if (!dir) return usage_error("--dir is required");
    /* Keep 0-2 taken so that no pipe of ours lands there. */
    int fd = open("/dev/null", O_RDWR);
    while (fd >= 0 && fd <= 2) fd = open("/dev/null", O_RDWR);
    if (fd > 2) close(fd);
    struct conmon *c = xcalloc(1, sizeof *c);
    c->out.fd = c->err.fd = c->sfd = c->tfd = -1;
    if (!realpath(dir, c->rundir)) {
        fprintf(stderr, "aiopslab __conmon: %s: %s\n", dir, strerror(errno));
        free(c);
        return 1;
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/conmon.log", c->rundir);
    log_open("conmon", path);
    if (chdir("/") < 0) log_warn("chdir /: %s", strerror(errno));
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    c->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

    int rc = 1;
    char err[512] = "";
    enum limits_kind want;
    if (c->sfd < 0 || c->tfd < 0) {
        snprintf(err, sizeof err, "conmon: signalfd/timerfd: %s", strerror(errno));
        state_failed(c, err, 128);
        goto out;
    }
    if (spec_load(c, &want, err, sizeof err) < 0) {
        state_failed(c, err, 128);
        goto out;
    }
    c->log = crilog_open(c->rundir, (size_t)json_path_int(c->spec, "logMaxBytes", 10 * 1024 * 1024),
                         (int)json_path_int(c->spec, "logMaxFiles", 3));
    if (!c->log) {
        char msg[PATH_MAX + 128];
        snprintf(msg, sizeof msg, "conmon: %s/current.log: %s", c->rundir, strerror(errno));
        state_failed(c, msg, 128);
        goto out;
    }
    char fallback[32];
    snprintf(fallback, sizeof fallback, "aiopslab-conmon-%d", (int)getpid());
    json_int_t mem = json_path_int(c->spec, "memoryLimitBytes", 0), cpu = json_path_int(c->spec, "cpuLimitMillis", 0);
    if (limits_setup(&c->lim, want, json_path_str(c->spec, "cgroupName", fallback), mem > 0 ? (uint64_t)mem : 0,
                     cpu > 0 && cpu < 1000000 ? (unsigned)cpu : 0, err, sizeof err) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "limits: %s", err);
        state_failed(c, msg, 128);
        goto out;
    }
    if (err[0]) log_warn("limits: %s; using %s", err, limits_kind_name(c->lim.kind));
    if (start_container(c) < 0) {
        limits_remove(&c->lim);
        rc = 0;
        goto out;
    }
    fd_set_nonblock(c->out.fd, 1);
    fd_set_nonblock(c->err.fd, 1);
    run_loop(c);
    finish(c);
    rc = 0;
out:
    crilog_close(c->log);
    if (c->out.fd >= 0) close(c->out.fd);
    if (c->err.fd >= 0) close(c->err.fd);
    if (c->sfd >= 0) close(c->sfd);
    if (c->tfd >= 0) close(c->tfd);
    free(c->argv);
    free(c->env);
    json_decref(c->spec);
    free(c);
    return rc;
}
