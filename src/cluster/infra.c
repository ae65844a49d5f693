/* infra: the lab's own long-running processes — the mesh, the trace store
 * and Prometheus — started detached by the daemon, followed by pidfd,
 * restarted when they die (after a second), and re-adopted after a daemon
 * restart through their pid file (LABDIR/NAME/NAME.pid) and command line.
 * The mesh and the trace store run as `aiopslab __NAME --lab-dir LABDIR`
 * and write their pid file; Prometheus is Debian's, configured by
 * promctl.c, and its pid file is written here. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/daemon.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

static const char *const names[INFRA_COUNT] = {"mesh", "traces", "prometheus"};

static void closed(uv_handle_t *h)
{
    (void)h;
}

static void on_exit_proc(uv_poll_t *h, int status, int events)
{
    struct infra_proc *p = h->data;
    uv_poll_stop(h);
    uv_close((uv_handle_t *)h, closed);
    p->polling = 0;
    close(p->pidfd);
    p->pidfd = -1;
    waitpid(p->pid, NULL, WNOHANG);
    log_warn("%s (pid %d) exited; restarting it", p->name, (int)p->pid);
    p->pid = 0;
    p->restart_at = mono_ns() + 1000000000ull;
}

/* The process a previous daemon left running, if its pid file names one. */
static pid_t running(struct daemon *d, const char *name)
{
    char rel[64], path[PATH_MAX], role[32];
    snprintf(rel, sizeof rel, "%s/%s.pid", name, name);
    lab_path(&d->lab, rel, path, sizeof path);
    struct buf b;
    buf_init(&b, 64);
    long pid = 0;
    if (read_file(path, &b) == 0) {
        char *nl = strchr(b.data, '\n');
        if (nl) *nl = '\0';
        parse_long(b.data, 1, 1 << 22, &pid);
    }
    buf_free(&b);
    if (pid <= 0) return 0;
    snprintf(role, sizeof role, "__%s", name);
    if (!strcmp(name, "prometheus")) snprintf(role, sizeof role, "prometheus");
    const char *const needles[] = {role, d->lab.dir, NULL};
    return proc_cmdline_has((pid_t)pid, needles) ? (pid_t)pid : 0;
}

static void start_one(struct daemon *d, struct infra_proc *p)
{
    if (p->pid || mono_ns() < p->restart_at) return;
    char dir[PATH_MAX];
    lab_path(&d->lab, p->name, dir, sizeof dir);
    mkdir_p(dir, 0755);
    pid_t pid = running(d, p->name);
    int pidfd = pid ? pidfd_of(pid) : -1;
    if (pid && pidfd >= 0) {
        log_info("adopted the running %s (pid %d)", p->name, (int)pid);
    } else {
        char logpath[PATH_MAX], rel[64], role[32];
        snprintf(rel, sizeof rel, "logs/%s.out", p->name);
        lab_path(&d->lab, rel, logpath, sizeof logpath);
        snprintf(role, sizeof role, "__%s", p->name);
        char *argv[16] = {d->exe, role, "--lab-dir", d->lab.dir, NULL};
        char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL, NULL};
        char spin[64];
        const char *sv = getenv("AIOPSLAB_MESH_SPIN_US"); /* the mesh's one setting (docs/mesh.md) */
        if (p == &d->infra[INFRA_MESH] && sv) { /* checked by the mesh: a bad value is logged there */
            snprintf(spin, sizeof spin, "AIOPSLAB_MESH_SPIN_US=%s", sv);
            envp[1] = spin;
        }
        if (p == &d->infra[INFRA_PROMETHEUS] && promctl_argv(d, argv, 16)) {
            p->restart_at = UINT64_MAX; /* not installed: said once in the log */
            return;
        }
        int rc = spawn_detached(argv, envp, logpath, &pid, &pidfd);
        if (p == &d->infra[INFRA_PROMETHEUS]) promctl_argv_free(argv);
        if (!rc && p == &d->infra[INFRA_PROMETHEUS]) {
            char text[32];
            int n = snprintf(text, sizeof text, "%d\n", (int)pid);
            char pidpath[PATH_MAX];
            lab_path(&d->lab, "prometheus/prometheus.pid", pidpath, sizeof pidpath);
            write_file_replace(pidpath, text, (size_t)n);
        }
        if (rc || pidfd < 0) {
            log_error("cannot start the %s: %s", p->name, rc ? strerror(-rc) : "no pidfd");
            p->restart_at = mono_ns() + 5000000000ull;
            return;
        }
        log_info("%s started (pid %d)", p->name, (int)pid);
    }
    p->pid = pid;
    p->pidfd = pidfd;
    uv_poll_init(d->loop, &p->poll, pidfd);
    p->poll.data = p;
    p->polling = 1;
    uv_poll_start(&p->poll, UV_READABLE, on_exit_proc);
}

void infra_init(struct daemon *d)
{
    for (int i = 0; i < INFRA_COUNT; i++) {
        d->infra[i].name = names[i];
        d->infra[i].pidfd = -1;
    }
}

void infra_start(struct daemon *d)
{
    if (d->stopping) return;
    /* The mesh reads routes.json at start: write it first. */
    if (!d->mesh_routes) service_sync(d);
    for (int i = 0; i < INFRA_COUNT; i++) start_one(d, &d->infra[i]);
}

void infra_stop(struct daemon *d)
{
    for (int i = 0; i < INFRA_COUNT; i++) {
        struct infra_proc *p = &d->infra[i];
        if (!p->pid) continue;
        kill(p->pid, SIGTERM);
        for (int k = 0; k < 200 && proc_alive(p->pid); k++) {
            if (waitpid(p->pid, NULL, WNOHANG) == p->pid) break;
            usleep(10000);
        }
        if (proc_alive(p->pid)) kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, WNOHANG);
        p->pid = 0;
    }
}

void infra_release(struct daemon *d)
{
    for (int i = 0; i < INFRA_COUNT; i++) {
        struct infra_proc *p = &d->infra[i];
        if (p->polling && !uv_is_closing((uv_handle_t *)&p->poll)) uv_close((uv_handle_t *)&p->poll, closed);
        p->polling = 0;
        if (p->pidfd >= 0) close(p->pidfd);
        p->pidfd = -1;
    }
}

void infra_signal(struct daemon *d, enum infra_id id, int sig)
{
    if (d->infra[id].pid) kill(d->infra[id].pid, sig);
}
