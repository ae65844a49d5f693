/* daemon: the cluster daemon of one lab — start-up, the reconcile loop and
 * shutdown. It holds the lab's lock (one daemon per lab), loads the
 * objects from the state database, re-adopts the containers that outlived
 * a previous daemon, and then reconciles on every change and once a second.
 * SIGTERM stops the daemon alone (pods go on, as when a kubelet restarts);
 * the API's shutdown op with stopPods stops everything (`cluster down`). */
#include "cluster/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cluster/limits.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"

#include "cluster/cluster.h"

static void on_sync_timer(uv_timer_t *t)
{
    daemon_sync(t->data);
}


void daemon_wake_in(struct daemon *d, uint64_t ms)
{
    if (!uv_is_active((uv_handle_t *)&d->sync_timer) || uv_timer_get_due_in(&d->sync_timer) > ms)
        uv_timer_start(&d->sync_timer, on_sync_timer, ms, 0);
}

void daemon_kick(struct daemon *d)
{
    daemon_wake_in(d, 0);
}

void daemon_sync(struct daemon *d)
{
    if (d->stopping) return;
    /* Controllers feed each other (pods -> ReplicaSet -> Deployment status):
     * pass again while a pass changed something, a few times at most. */
    for (int pass = 0; pass < 4; pass++) {
        unsigned long long before = store_version(d->store);
        deployment_sync(d);
        kubelet_sync(d);
        service_sync(d);
        if (store_version(d->store) == before) break;
    }
    promctl_targets(d);
}

static void checkpoint_work(uv_work_t *w)
{
    store_checkpoint(w->data);
}

static void checkpoint_done(uv_work_t *w, int status)
{
    free(w->data);
    free(w);
}

/* Every 10 s, off the loop: the checkpoint is the store's only wait on the disk. */
static void on_checkpoint(uv_timer_t *t)
{
    struct daemon *d = t->data;
    uv_work_t *w = xcalloc(1, sizeof *w);
    w->data = xstrdup(store_path(d->store));
    if (uv_queue_work(d->loop, w, checkpoint_work, checkpoint_done)) {
        free(w->data);
        free(w);
    }
}

static void on_resync(uv_timer_t *t)
{
    struct daemon *d = t->data;
    daemon_sync(d);
    infra_start(d); /* restarts a lab process that died */
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    log_info("signal %d: stopping the daemon (pods keep running)", signum);
    d->stopping = 1;
    uv_stop(d->loop);
}

static void ensure_namespace(struct daemon *d, const char *name)
{
    if (store_get(d->store, "Namespace", NULL, name)) return;
    json_t *ns = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", name, "labels", "kubernetes.io/metadata.name", name, "status",
                           "phase", "Active");
    store_put(d->store, ns);
    json_decref(ns);
}

static int find_exe(struct daemon *d, char *err, size_t errlen)
{
    int rc = self_exe(d->exe, sizeof d->exe);
    if (rc) {
        snprintf(err, errlen, "cannot find my own binary: %s", strerror(-rc));
        return rc;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", d->exe);
    char *base = dirname(dir);
    const char *shim = getenv("AIOPSLAB_SHIM");
    snprintf(d->shim, sizeof d->shim, "%s", shim && *shim ? shim : "");
    if (!*d->shim && snprintf(d->shim, sizeof d->shim, "%s/libaiopslab-shim.so", base) >= (int)sizeof d->shim)
        return -ENAMETOOLONG;
    if (snprintf(d->appsbin, sizeof d->appsbin, "%s/apps/bin", base) >= (int)sizeof d->appsbin) return -ENAMETOOLONG;
    if (access(d->shim, R_OK) != 0) {
        snprintf(err, errlen, "the mesh shim %s is missing (run make)", d->shim);
        return -ENOENT;
    }
    return 0;
}

static uint64_t env_ms(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    long ms;
    return v && parse_long(v, 1, 3600000, &ms) == 0 ? (uint64_t)ms : dflt;
}

static void close_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Faults a crash left behind are undone at every start: the fault
 * library's `fault recover --all` runs as a process of its own (it talks
 * to this daemon's API, which is up by now). */
static void recover_faults(struct daemon *d)
{
    char journal[PATH_MAX], log[PATH_MAX];
    lab_path(&d->lab, "faults/journal.db", journal, sizeof journal);
    if (access(journal, F_OK)) return;
    lab_path(&d->lab, "logs/fault-recover.log", log, sizeof log);
    char *argv[] = {d->exe, "--lab", d->lab.name, "fault", "recover", "--all", NULL};
    extern char **environ;
    pid_t pid;
    int pidfd = -1;
    if (spawn_detached(argv, environ, log, &pid, &pidfd)) log_error("cannot start fault recovery");
    else log_info("recovering faults left in the journal (pid %d, log %s)", (int)pid, log);
    if (pidfd >= 0) close(pidfd);
}

int daemon_run(const struct lab *lab, char *err, size_t errlen)
{
    struct daemon *d = xcalloc(1, sizeof *d);
    d->lab = *lab;
    infra_init(d);
    d->backoff_base_ms = env_ms("AIOPSLAB_BACKOFF_BASE_MS", 10000);
    d->backoff_max_ms = env_ms("AIOPSLAB_BACKOFF_MAX_MS", 300000);
    int rc = 0, lockfd = -1;
    char path[PATH_MAX];

    lab_path(lab, "logs", path, sizeof path);
    mkdir_p(path, 0755);
    lab_path(lab, "logs/daemon.log", path, sizeof path);
    log_open("aiopslab-daemon", path);

    lab_path(lab, "daemon.lock", path, sizeof path);
    lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "the daemon of lab \"%s\" is already running", lab->name);
        rc = -EBUSY;
        goto out;
    }
    char pidtext[32];
    int n = snprintf(pidtext, sizeof pidtext, "%d\n", (int)getpid());
    lab_path(lab, "daemon.pid", path, sizeof path);
    write_file_replace(path, pidtext, (size_t)n);

    if ((rc = find_exe(d, err, errlen))) goto out;
    snprintf(d->limits, sizeof d->limits, "%s", limits_kind_name(limits_detect()));

    lab_path(lab, "state.db", path, sizeof path);
    if ((rc = store_open(&d->store, path, err, errlen))) goto out;
    ensure_namespace(d, "default");

    d->loop = xmalloc(sizeof *d->loop);
    uv_loop_init(d->loop);
    uv_timer_init(d->loop, &d->sync_timer);
    uv_timer_init(d->loop, &d->resync_timer);
    uv_timer_init(d->loop, &d->checkpoint_timer);
    d->sync_timer.data = d->resync_timer.data = d->checkpoint_timer.data = d;
    uv_signal_init(d->loop, &d->sigterm);
    uv_signal_init(d->loop, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);

    /* The network first: a daemon whose 127.N/16 another lab has stops
     * here, before anything answers on its socket or any pod starts. */
    if ((rc = cadvisor_start(d, err, errlen))) goto out;
    if ((rc = api_start(d, err, errlen))) goto out;
    log_info("lab %s: daemon up on 127.%d.0.0/16, limits by %s", lab->name, lab->net, d->limits);
    kubelet_adopt(d);
    infra_start(d);
    recover_faults(d);
    daemon_kick(d);
    uv_timer_start(&d->resync_timer, on_resync, 1000, 1000);
    uv_timer_start(&d->checkpoint_timer, on_checkpoint, 10000, 10000);
    uv_run(d->loop, UV_RUN_DEFAULT);

    if (d->stop_pods_on_exit) {
        kubelet_stop_all(d);
        infra_stop(d);
    }
    log_info("daemon stopped");
out:
    if (d->loop) {
        kubelet_release(d);
        infra_release(d);
        uv_walk(d->loop, close_handle, NULL);
        uv_run(d->loop, UV_RUN_DEFAULT);
        kubelet_free(d);
        uv_loop_close(d->loop);
        free(d->loop);
    }
    if (rc != -EBUSY) {
        lab_path(lab, "daemon.sock", path, sizeof path);
        if (d->store) unlink(path);
        lab_path(lab, "agent.sock", path, sizeof path);
        if (d->store) unlink(path);
        lab_path(lab, "daemon.pid", path, sizeof path);
        if (d->store) unlink(path);
    }
    store_close(d->store);
    free(d->mesh_routes);
    free(d->prom_targets);
    free(d);
    if (lockfd >= 0) close(lockfd);
    return rc;
}
