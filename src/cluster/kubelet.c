/* kubelet: the pod runtime — scheduling onto the one node, pod IPs,
 * volumes, starting each container run through conmon, following it by
 * pidfd, restarts with CrashLoopBackOff back-off, probes, graceful
 * deletion, the pod status kubectl shows, and re-adoption of the runs that
 * outlived a previous daemon. Level-triggered: kubelet_sync compares every
 * Pod object with the runtime and acts on the difference. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/daemon.h"
#include "cluster/limits.h"
#include "cluster/paths.h"
#include "cluster/podspec.h"
#include "cluster/probe.h"
#include "cluster/selector.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#define RUN_RESET_MS (10 * 60 * 1000) /* a run this long resets the back-off */
#define ENDPOINT_DRAIN_MS 300             /* endpoints first, then SIGTERM */

struct ctr {
    struct podrt *pod;
    char name[64];
    int restarts; /* the run number of the current (or next) run: its folder */
    pid_t conmon;
    int pidfd;
    uv_poll_t poll;
    int polling;
    int running;      /* a run is in progress */
    int stopping;     /* SIGTERM sent */
    int ever_started;
    int restart_planned;
    uint64_t start_mono_ms;
    uint64_t next_start_ms;
    uint64_t backoff_ms;
    char started_at[40];
    json_t *last_term; /* lastState.terminated */
    json_t *term;      /* state.terminated when no restart follows */
    char wait_reason[64];
    char wait_msg[512];
    int ready;
    int startup_ok;
    int oom_kills;
    json_t *probe_env; /* the run's environment and cwd, for probes */
    char probe_cwd[PATH_MAX];
    struct probe *probes[3];
};

struct podrt {
    struct podrt *next;
    struct daemon *d;
    char ns[64], name[256], uid[40];
    int nctr;
    struct ctr *ctrs;
    int volumes_ready;
    json_t *vol_versions; /* ConfigMap/Secret volume -> source version written */
    uint64_t deleting_since_ms;
    uint64_t mount_retry_ms, mount_backoff_ms;
    int scheduled_event;
    int seen; /* marked during a sync pass */
};

static uint64_t mono_ms(void)
{
    return mono_ns() / 1000000ull;
}

static void now_rfc3339(char *out, size_t n)
{
    time_rfc3339(time(NULL), out, n);
}

static struct podrt *find_pod(struct daemon *d, const char *uid)
{
    for (struct podrt *p = d->pods; p; p = p->next)
        if (!strcmp(p->uid, uid)) return p;
    return NULL;
}

static json_t *pod_obj(struct podrt *p)
{
    return store_get(p->d->store, "Pod", p->ns, p->name);
}

static struct podrt *pod_new(struct daemon *d, const json_t *pod)
{
    struct podrt *p = xcalloc(1, sizeof *p);
    p->d = d;
    snprintf(p->ns, sizeof p->ns, "%s", json_path_str(pod, "metadata.namespace", "default"));
    snprintf(p->name, sizeof p->name, "%s", json_path_str(pod, "metadata.name", ""));
    snprintf(p->uid, sizeof p->uid, "%s", json_path_str(pod, "metadata.uid", ""));
    json_t *ctrs = json_path(pod, "spec.containers");
    p->nctr = (int)json_array_size(ctrs);
    p->ctrs = xcalloc((size_t)(p->nctr ? p->nctr : 1), sizeof *p->ctrs);
    for (int i = 0; i < p->nctr; i++) {
        struct ctr *c = &p->ctrs[i];
        c->pod = p;
        c->pidfd = -1;
        snprintf(c->name, sizeof c->name, "%s", json_path_str(json_array_get(ctrs, (size_t)i), "name", ""));
        snprintf(c->wait_reason, sizeof c->wait_reason, "ContainerCreating");
    }
    p->next = d->pods;
    d->pods = p;
    return p;
}

static void stop_probes(struct ctr *c)
{
    for (int k = 0; k < 3; k++) {
        probe_free(c->probes[k]);
        c->probes[k] = NULL;
    }
}

static void poll_closed(uv_handle_t *h)
{
    (void)h;
}

static void pod_free(struct daemon *d, struct podrt *p)
{
    for (struct podrt **pp = &d->pods; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    for (int i = 0; i < p->nctr; i++) {
        struct ctr *c = &p->ctrs[i];
        stop_probes(c);
        json_decref(c->last_term);
        json_decref(c->term);
        json_decref(c->probe_env);
        if (c->pidfd >= 0) close(c->pidfd);
    }
    json_decref(p->vol_versions);
    free(p->ctrs);
    free(p);
}

static const json_t *ctr_spec(const json_t *pod, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        if (!strcmp(json_path_str(c, "name", ""), name)) return c;
    }
    return NULL;
}

/* ---- container exits ---- */

static void read_state(struct daemon *d, struct podrt *p, struct ctr *c, json_t **out)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    cluster_run_dir(&d->lab, p->uid, c->name, c->restarts, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/state.json", dir);
    json_error_t je;
    *out = json_load_file(path, 0, &je);
}

static const char *restart_policy(const json_t *pod)
{
    return json_path_str(pod, "spec.restartPolicy", "Always");
}

static void on_exit_run(struct daemon *d, struct podrt *p, struct ctr *c)
{
    json_t *st = NULL;
    read_state(d, p, c, &st);
    char now[32];
    now_rfc3339(now, sizeof now);
    const char *phase = json_path_str(st, "phase", "");
    json_t *term = json_object();
    int exit_code;
    int failed_start = !strcmp(phase, "failed");
    if (failed_start) {
        exit_code = 128;
        json_object_set_new(term, "exitCode", json_integer(128));
        json_object_set_new(term, "reason", json_string("StartError"));
        json_object_set_new(term, "message", json_string(json_path_str(st, "message", "failed to start")));
    } else if (!strcmp(phase, "exited")) {
        exit_code = (int)json_path_int(st, "exitCode", 1);
        json_object_set_new(term, "exitCode", json_integer(exit_code));
        json_object_set_new(term, "reason", json_string(json_path_str(st, "reason", exit_code ? "Error" : "Completed")));
    } else {
        /* conmon died without a word (killed): the container died with it. */
        exit_code = 137;
        json_object_set_new(term, "exitCode", json_integer(137));
        json_object_set_new(term, "reason", json_string("Error"));
        json_object_set_new(term, "message", json_string("container monitor exited unexpectedly"));
    }
    json_object_set_new(term, "startedAt", json_string(json_path_str(st, "startedAt", c->started_at[0] ? c->started_at : now)));
    json_object_set_new(term, "finishedAt", json_string(json_path_str(st, "finishedAt", now)));
    char cid[64];
    snprintf(cid, sizeof cid, "aiopslab://%d", (int)c->conmon);
    json_object_set_new(term, "containerID", json_string(cid));
    json_decref(st);

    c->running = 0;
    c->ready = 0;
    c->startup_ok = 0;
    stop_probes(c);
    int was_stopping = c->stopping;
    c->stopping = 0;
    json_t *pod = pod_obj(p);
    const char *policy = pod ? restart_policy(pod) : "Never";
    int deleting = !pod || json_path(pod, "metadata.deletionTimestamp");
    int restart = !deleting && (!strcmp(policy, "Always") || (!strcmp(policy, "OnFailure") && exit_code != 0));
    uint64_t ran = mono_ms() - c->start_mono_ms;
    log_info("pod %s/%s container %s exited (code %d, %s)%s", p->ns, p->name, c->name, exit_code,
             json_path_str(term, "reason", ""), restart ? "; restarting" : "");
    if (!strcmp(json_path_str(term, "reason", ""), "OOMKilled")) c->oom_kills++;
    if (!strcmp(json_path_str(term, "reason", ""), "OOMKilled") && pod)
        event_record(d, pod, "Warning", "OOMKilled", "kubelet", "Container %s was OOM-killed (memory limit %s)", c->name,
                     json_path_str(ctr_spec(pod, c->name), "resources.limits.memory", "?"));
    if (restart) {
        json_decref(c->last_term);
        c->last_term = term;
        c->restarts++;
        c->restart_planned = 1;
        if (ran > RUN_RESET_MS) c->backoff_ms = 0;
        uint64_t delay = c->backoff_ms;
        c->next_start_ms = mono_ms() + delay;
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : d->backoff_base_ms;
        if (c->backoff_ms > d->backoff_max_ms) c->backoff_ms = d->backoff_max_ms;
        if (failed_start) {
            snprintf(c->wait_reason, sizeof c->wait_reason, "RunContainerError");
            snprintf(c->wait_msg, sizeof c->wait_msg, "%s", json_path_str(term, "message", ""));
        } else if (delay > 0) {
            snprintf(c->wait_reason, sizeof c->wait_reason, "CrashLoopBackOff");
            snprintf(c->wait_msg, sizeof c->wait_msg, "back-off %llus restarting failed container=%s pod=%s_%s(%s)",
                     (unsigned long long)(delay / 1000), c->name, p->name, p->ns, p->uid);
        } else {
            c->wait_reason[0] = '\0';
        }
        if (delay > 0 && pod)
            event_record(d, pod, "Warning", "BackOff", "kubelet", "Back-off restarting failed container %s in pod %s_%s(%s)",
                         c->name, p->name, p->ns, p->uid);
        if (failed_start && pod)
            event_record(d, pod, "Warning", "Failed", "kubelet", "Error: %s", json_path_str(term, "message", ""));
    } else {
        json_decref(c->term);
        c->term = term;
        c->restart_planned = 0;
    }
    (void)was_stopping;
    daemon_kick(d);
}

static void on_conmon_exit(uv_poll_t *h, int status, int events)
{
    struct ctr *c = h->data;
    struct podrt *p = c->pod;
    uv_poll_stop(h);
    uv_close((uv_handle_t *)h, poll_closed);
    c->polling = 0;
    close(c->pidfd);
    c->pidfd = -1;
    waitpid(c->conmon, NULL, WNOHANG);
    on_exit_run(p->d, p, c);
}

static void watch_conmon(struct daemon *d, struct ctr *c, int pidfd)
{
    c->pidfd = pidfd;
    uv_poll_init(d->loop, &c->poll, pidfd);
    c->poll.data = c;
    c->polling = 1;
    uv_poll_start(&c->poll, UV_READABLE, on_conmon_exit);
}

/* ---- probes ---- */

static void start_probe(struct daemon *d, const json_t *pod, const json_t *cspec, struct ctr *c, int k);

static void on_probe(void *arg, enum probe_kind kind, int ok, const char *msg, enum probe_result result)
{
    struct ctr *c = arg;
    struct podrt *p = c->pod;
    struct daemon *d = p->d;
    json_t *pod = pod_obj(p);
    if (!ok && pod)
        event_record(d, pod, "Warning", "Unhealthy", "kubelet", "%s probe failed: %s", probe_kind_name(kind), msg);
    if (kind == PROBE_READINESS) {
        int ready = result == PROBE_SUCCESS;
        if (result != PROBE_UNKNOWN && ready != c->ready) {
            c->ready = ready;
            daemon_kick(d);
        }
    } else if (kind == PROBE_STARTUP) {
        if (result == PROBE_SUCCESS && !c->startup_ok) {
            c->startup_ok = 1;
            probe_free(c->probes[PROBE_STARTUP]);
            c->probes[PROBE_STARTUP] = NULL;
            const json_t *cspec = pod ? ctr_spec(pod, c->name) : NULL;
            if (cspec) {
                start_probe(d, pod, cspec, c, PROBE_LIVENESS);
                start_probe(d, pod, cspec, c, PROBE_READINESS);
            }
            daemon_kick(d);
        }
    }
    if (result == PROBE_FAILURE && (kind == PROBE_LIVENESS || kind == PROBE_STARTUP) && c->running && !c->stopping) {
        if (pod)
            event_record(d, pod, "Normal", "Killing", "kubelet", "Container %s failed %s probe, will be restarted",
                         c->name, kind == PROBE_LIVENESS ? "liveness" : "startup");
        c->stopping = 1;
        kill(c->conmon, SIGTERM);
    }
}

static void start_probe(struct daemon *d, const json_t *pod, const json_t *cspec, struct ctr *c, int k)
{
    static const char *keys[3] = {"livenessProbe", "readinessProbe", "startupProbe"};
    json_t *ps = json_path(cspec, keys[k]);
    if (!ps || c->probes[k]) return;
    json_t *port = json_path(ps, "httpGet") ? json_path(ps, "httpGet.port") : json_path(ps, "tcpSocket.port");
    c->probes[k] = probe_new(d->loop, (enum probe_kind)k, ps, json_path_str(pod, "status.podIP", ""),
                             podspec_port(pod, port), c->probe_env, c->probe_cwd, on_probe, c);
}

/* As kubelet: a startup probe holds the liveness and readiness probes back
 * until it has passed. env and cwd (of the run's spec) are kept for them. */
static void start_probes(struct daemon *d, const json_t *pod, const json_t *cspec, struct ctr *c, const json_t *spec)
{
    json_decref(c->probe_env);
    c->probe_env = json_deep_copy(json_path(spec, "env"));
    snprintf(c->probe_cwd, sizeof c->probe_cwd, "%s", json_path_str(spec, "cwd", "/"));
    c->startup_ok = json_path(cspec, "startupProbe") == NULL;
    if (!json_path(cspec, "readinessProbe")) c->ready = 1;
    if (!c->startup_ok) {
        start_probe(d, pod, cspec, c, PROBE_STARTUP);
        return;
    }
    start_probe(d, pod, cspec, c, PROBE_LIVENESS);
    start_probe(d, pod, cspec, c, PROBE_READINESS);
}

/* ---- starting a run ---- */

static void set_waiting(struct ctr *c, const char *reason, const char *msg)
{
    snprintf(c->wait_reason, sizeof c->wait_reason, "%s", reason);
    snprintf(c->wait_msg, sizeof c->wait_msg, "%s", msg);
}

static void start_run(struct daemon *d, struct podrt *p, json_t *pod, struct ctr *c)
{
    const json_t *cspec = ctr_spec(pod, c->name);
    char err[1024], poddir[PATH_MAX], rundir[PATH_MAX], path[PATH_MAX + 32];
    cluster_pod_dir(&d->lab, p->uid, poddir, sizeof poddir);
    if (!p->volumes_ready) {
        if (mono_ms() < p->mount_retry_ms) return;
        if (podspec_volumes(d, pod, poddir, err, sizeof err)) {
            set_waiting(c, "ContainerCreating", "");
            /* Retry with back-off, as kubelet does, not on every pass. */
            p->mount_backoff_ms = p->mount_backoff_ms ? p->mount_backoff_ms * 2 : 1000;
            if (p->mount_backoff_ms > 60000) p->mount_backoff_ms = 60000;
            p->mount_retry_ms = mono_ms() + p->mount_backoff_ms;
            daemon_wake_in(d, p->mount_backoff_ms);
            event_record(d, pod, "Warning", "FailedMount", "kubelet", "%s", err);
            return;
        }
        p->volumes_ready = 1;
    }
    char root[PATH_MAX + 8];
    snprintf(root, sizeof root, "%s/root", poddir);
    json_t *spec = NULL;
    if (podspec_build(d, pod, cspec, root, &spec, err, sizeof err)) {
        if (strcmp(c->wait_reason, "CreateContainerConfigError") || strcmp(c->wait_msg, err))
            event_record(d, pod, "Warning", "Failed", "kubelet", "Error: %s", err);
        set_waiting(c, "CreateContainerConfigError", err);
        return;
    }
    cluster_run_dir(&d->lab, p->uid, c->name, c->restarts, rundir, sizeof rundir);
    rm_rf(rundir);
    mkdir_p(rundir, 0755);
    /* Keep the previous run (kubectl logs --previous), drop older ones. */
    for (int old = c->restarts - 2; old >= 0 && old >= c->restarts - 10; old--) {
        char od[PATH_MAX];
        cluster_run_dir(&d->lab, p->uid, c->name, old, od, sizeof od);
        rm_rf(od);
    }
    snprintf(path, sizeof path, "%s/spec.json", rundir);
    char *text = json_dumps(spec, JSON_INDENT(1));
    int rc = write_file_replace(path, text, strlen(text));
    free(text);
    if (rc) {
        set_waiting(c, "CreateContainerError", strerror(-rc));
        json_decref(spec);
        return;
    }
    char logpath[PATH_MAX];
    lab_path(&d->lab, "logs/conmon.log", logpath, sizeof logpath);
    char *argv[] = {d->exe, "__conmon", "--dir", rundir, NULL};
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    pid_t pid;
    int pidfd;
    rc = spawn_detached(argv, envp, logpath, &pid, &pidfd);
    if (rc || pidfd < 0) {
        set_waiting(c, "CreateContainerError", rc ? strerror(-rc) : "pidfd_open is not available");
        json_decref(spec);
        return;
    }
    c->conmon = pid;
    c->running = 1;
    c->stopping = 0;
    c->restart_planned = 0;
    c->ever_started = 1;
    c->start_mono_ms = mono_ms();
    c->ready = 0;
    now_rfc3339(c->started_at, sizeof c->started_at);
    c->wait_reason[0] = c->wait_msg[0] = '\0';
    json_decref(c->term);
    c->term = NULL;
    watch_conmon(d, c, pidfd);
    const char *image = json_path_str(cspec, "image", NULL);
    if (image)
        event_record(d, pod, "Normal", "Pulled", "kubelet", "Container image \"%s\" already present on machine", image);
    event_record(d, pod, "Normal", "Created", "kubelet", "Created container %s", c->name);
    event_record(d, pod, "Normal", "Started", "kubelet", "Started container %s", c->name);
    start_probes(d, pod, cspec, c, spec);
    json_decref(spec);
    log_info("pod %s/%s container %s started (run %d, conmon %d)", p->ns, p->name, c->name, c->restarts, (int)pid);
}

/* ---- status ---- */

static const char *qos_class(const json_t *pod)
{
    int any = 0, guaranteed = 1;
    size_t i;
    json_t *c;
    json_array_foreach(json_path(pod, "spec.containers"), i, c) {
        json_t *lim = json_path(c, "resources.limits"), *req = json_path(c, "resources.requests");
        if (json_object_size(lim) || json_object_size(req)) any = 1;
        if (!json_path(lim, "cpu") || !json_path(lim, "memory")) guaranteed = 0;
        if (req && !json_equal(req, lim)) guaranteed = 0;
    }
    return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

static json_t *condition(const json_t *old_status, const char *type, int ok, const char *now, const char *reason)
{
    const char *status = ok ? "True" : "False";
    const char *since = now;
    size_t i;
    json_t *c;
    json_array_foreach(json_path(old_status, "conditions"), i, c) {
        if (!strcmp(json_path_str(c, "type", ""), type) && !strcmp(json_path_str(c, "status", ""), status))
            since = json_path_str(c, "lastTransitionTime", now);
    }
    json_t *o = json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", status, "lastProbeTime", "lastTransitionTime", since);
    if (reason && !ok) json_object_set_new(o, "reason", json_string(reason));
    return o;
}

/* What kubelet reports: restarts that happened, not the one pending. */
static int restart_count(const struct ctr *c)
{
    return c->restart_planned && !c->running ? c->restarts - 1 : c->restarts;
}

static json_t *ctr_status(const json_t *pod, struct ctr *c)
{
    const json_t *cspec = ctr_spec(pod, c->name);
    const char *image = json_path_str(cspec, "image", NULL);
    json_t *cmd = json_path(cspec, "command");
    if (!image) image = json_string_value(json_array_get(cmd, 0));
    json_t *state;
    if (c->running) {
        state = json_pack("{s:{s:s}}", "running", "startedAt", c->started_at);
    } else if (c->term) {
        state = json_pack("{s:O}", "terminated", c->term);
    } else {
        state = json_pack("{s:{s:s}}", "waiting", "reason", c->wait_reason[0] ? c->wait_reason : "ContainerCreating");
        if (c->wait_msg[0]) json_object_set_new(json_object_get(state, "waiting"), "message", json_string(c->wait_msg));
    }
    char cid[64];
    snprintf(cid, sizeof cid, "aiopslab://%d", (int)c->conmon);
    json_t *s = json_pack("{s:s, s:o, s:o, s:b, s:b, s:i, s:s, s:s}", "name", c->name, "state", state, "lastState",
                          c->last_term ? json_pack("{s:O}", "terminated", c->last_term) : json_object(), "ready",
                          c->running && c->ready && c->startup_ok, "started", c->running && c->startup_ok,
                          "restartCount", restart_count(c), "image", image ? image : "", "imageID", "");
    if (c->ever_started) json_object_set_new(s, "containerID", json_string(cid));
    return s;
}

static void update_status(struct daemon *d, struct podrt *p, json_t *pod)
{
    json_t *old = json_object_get(pod, "status");
    char now[32], node_ip[16];
    now_rfc3339(now, sizeof now);
    lab_node_ip(&d->lab, node_ip, sizeof node_ip);
    json_t *st = json_object();
    json_t *css = json_array();
    int all_ready = p->nctr > 0, any_running = 0, all_done = p->nctr > 0, all_ok = 1, pending_start = 0;
    for (int i = 0; i < p->nctr; i++) {
        struct ctr *c = &p->ctrs[i];
        json_array_append_new(css, ctr_status(pod, c));
        if (!(c->running && c->ready && c->startup_ok)) all_ready = 0;
        if (c->running || c->restart_planned) any_running = 1;
        if (!c->term) all_done = 0;
        if (c->term && json_path_int(c->term, "exitCode", 1) != 0) all_ok = 0;
        if (!c->ever_started) pending_start = 1;
    }
    const char *phase = "Pending";
    if (all_done) phase = all_ok ? "Succeeded" : "Failed";
    else if (any_running && !pending_start) phase = "Running";
    else if (any_running) phase = "Running";
    json_object_set_new(st, "phase", json_string(phase));
    json_t *conds = json_array();
    json_array_append_new(conds, condition(old, "Initialized", 1, now, NULL));
    json_array_append_new(conds, condition(old, "Ready", all_ready, now, "ContainersNotReady"));
    json_array_append_new(conds, condition(old, "ContainersReady", all_ready, now, "ContainersNotReady"));
    json_array_append_new(conds, condition(old, "PodScheduled", 1, now, NULL));
    json_object_set_new(st, "conditions", conds);
    json_object_set_new(st, "hostIP", json_string(node_ip));
    const char *ip = json_path_str(old, "podIP", NULL);
    if (ip) {
        json_object_set_new(st, "podIP", json_string(ip));
        json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", ip));
    }
    json_object_set_new(st, "startTime", json_string(json_path_str(old, "startTime", now)));
    json_object_set_new(st, "containerStatuses", css);
    json_object_set_new(st, "qosClass", json_string(qos_class(pod)));
    if (!json_same(st, old)) {
        json_object_set_new(pod, "status", st);
        store_put(d->store, pod);
        daemon_kick(d);
    } else {
        json_decref(st);
    }
}

/* ---- scheduling and addresses ---- */

static int node_matches(const json_t *pod)
{
    json_t *labels = json_pack("{s:s, s:s, s:s, s:s}", "kubernetes.io/hostname", DAEMON_NODE_NAME, "kubernetes.io/os",
                               "linux", "kubernetes.io/arch", "amd64", "node-role.kubernetes.io/control-plane", "");
    json_t *sel = json_path(pod, "spec.nodeSelector");
    int ok = 1;
    const char *k;
    json_t *v;
    json_object_foreach(sel, k, v) {
        json_t *have = json_object_get(labels, k);
        if (!have || !json_is_string(v) || strcmp(json_string_value(have), json_string_value(v))) ok = 0;
    }
    json_decref(labels);
    return ok;
}

static int allocate_ip(struct daemon *d, char *out, size_t n)
{
    static unsigned cursor;
    unsigned char *used = xcalloc(LAB_POD_IPS, 1);
    json_t *pods = store_list(d->store, "Pod", NULL);
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod) {
        int idx = lab_pod_index(&d->lab, json_path_str(pod, "status.podIP", ""));
        if (idx >= 0 && idx < LAB_POD_IPS) used[idx] = 1;
    }
    json_decref(pods);
    int found = -1;
    for (unsigned k = 0; k < LAB_POD_IPS; k++) {
        unsigned idx = (cursor + k) % LAB_POD_IPS;
        if (!used[idx]) {
            found = (int)idx;
            cursor = idx + 1;
            break;
        }
    }
    free(used);
    if (found < 0) return -ENOSPC;
    lab_pod_ip(&d->lab, (unsigned)found, out, n);
    return 0;
}

/* Pending pods that cannot be placed. Returns 1 when the pod may run. */
static int schedule(struct daemon *d, struct podrt *p, json_t *pod)
{
    const char *node = json_path_str(pod, "spec.nodeName", NULL);
    if (node && strcmp(node, DAEMON_NODE_NAME)) return 0;
    if (!node && !node_matches(pod)) {
        json_t *old = json_object_get(pod, "status");
        char now[32];
        now_rfc3339(now, sizeof now);
        json_t *cond = condition(old, "PodScheduled", 0, now, "Unschedulable");
        json_object_set_new(cond, "message",
                            json_string("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
                                        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."));
        json_t *st = json_pack("{s:s, s:[o], s:s}", "phase", "Pending", "conditions", cond, "qosClass", qos_class(pod));
        if (!json_same(st, old)) {
            json_object_set_new(pod, "status", st);
            store_put(d->store, pod);
            event_record(d, pod, "Warning", "FailedScheduling", "default-scheduler", "%s",
                         json_path_str(cond, "message", ""));
        } else {
            json_decref(st);
        }
        return 0;
    }
    if (!node) {
        json_path_set(pod, "spec.nodeName", json_string(DAEMON_NODE_NAME));
        store_put(d->store, pod);
    }
    if (!json_path_str(pod, "status.podIP", NULL)) {
        char ip[16];
        if (allocate_ip(d, ip, sizeof ip)) return 0;
        json_path_set(pod, "status.podIP", json_string(ip));
        store_put(d->store, pod);
    }
    if (!p->scheduled_event) {
        p->scheduled_event = 1;
        if (!json_path(pod, "status.containerStatuses"))
            event_record(d, pod, "Normal", "Scheduled", "default-scheduler", "Successfully assigned %s/%s to %s", p->ns,
                         p->name, DAEMON_NODE_NAME);
    }
    return 1;
}

/* ---- the sync pass ---- */

static void stop_run(struct daemon *d, struct podrt *p, struct ctr *c, json_t *pod)
{
    if (!c->running || c->stopping) return;
    c->stopping = 1;
    if (pod) event_record(d, pod, "Normal", "Killing", "kubelet", "Stopping container %s", c->name);
    kill(c->conmon, SIGTERM);
}

static void finish_deletion(struct daemon *d, struct podrt *p)
{
    char poddir[PATH_MAX];
    cluster_pod_dir(&d->lab, p->uid, poddir, sizeof poddir);
    store_del(d->store, "Pod", p->ns, p->name);
    rm_rf(poddir);
    log_info("pod %s/%s deleted", p->ns, p->name);
    pod_free(d, p);
    daemon_kick(d);
}

/* ConfigMap and Secret volumes follow their sources while the pod lives
 * (env and envFrom do not: they are read at container start). */
static void refresh_volumes(struct daemon *d, struct podrt *p, const json_t *pod)
{
    char poddir[PATH_MAX], err[1024];
    if (!p->vol_versions) p->vol_versions = json_object();
    cluster_pod_dir(&d->lab, p->uid, poddir, sizeof poddir);
    if (podspec_refresh_volumes(d, pod, poddir, p->vol_versions, err, sizeof err) < 0)
        event_record(d, pod, "Warning", "FailedMount", "kubelet", "%s", err);
}

static void sync_pod(struct daemon *d, json_t *pod)
{
    const char *uid = json_path_str(pod, "metadata.uid", "");
    struct podrt *p = find_pod(d, uid);
    if (!p) p = pod_new(d, pod);
    p->seen = 1;
    if (json_path(pod, "metadata.deletionTimestamp")) {
        /* The pod leaves its Services' endpoints in this pass; its
         * containers get SIGTERM only once the mesh has had time to take
         * the new routes, so that no request goes to a closing socket. */
        uint64_t now = mono_ms();
        if (!p->deleting_since_ms) p->deleting_since_ms = now;
        if (now - p->deleting_since_ms < ENDPOINT_DRAIN_MS) {
            daemon_wake_in(d, ENDPOINT_DRAIN_MS - (now - p->deleting_since_ms));
            return;
        }
        int any = 0;
        for (int i = 0; i < p->nctr; i++) {
            p->ctrs[i].restart_planned = 0;
            stop_run(d, p, &p->ctrs[i], pod);
            if (p->ctrs[i].running) any = 1;
        }
        if (!any) finish_deletion(d, p);
        return;
    }
    if (!schedule(d, p, pod)) return;
    uint64_t now = mono_ms();
    uint64_t next_wake = 0;
    for (int i = 0; i < p->nctr; i++) {
        struct ctr *c = &p->ctrs[i];
        if (c->running || c->term) continue;
        if (c->ever_started && !c->restart_planned) continue;
        if (c->next_start_ms > now) {
            uint64_t w = c->next_start_ms - now;
            if (!next_wake || w < next_wake) next_wake = w;
            continue;
        }
        start_run(d, p, pod, c);
    }
    if (p->volumes_ready) refresh_volumes(d, p, pod);
    update_status(d, p, pod);
    if (next_wake) daemon_wake_in(d, next_wake);
}

void kubelet_sync(struct daemon *d)
{
    for (struct podrt *p = d->pods; p; p = p->next) p->seen = 0;
    json_t *pods = store_list(d->store, "Pod", NULL);
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod) sync_pod(d, pod);
    json_decref(pods);
    /* Runtime without an object: the object went away (namespace deletion). */
    for (struct podrt *p = d->pods, *next; p; p = next) {
        next = p->next;
        if (p->seen) continue;
        int any = 0;
        for (int k = 0; k < p->nctr; k++) {
            p->ctrs[k].restart_planned = 0;
            stop_run(d, p, &p->ctrs[k], NULL);
            if (p->ctrs[k].running) any = 1;
        }
        if (!any) {
            char poddir[PATH_MAX];
            cluster_pod_dir(&d->lab, p->uid, poddir, sizeof poddir);
            rm_rf(poddir);
            pod_free(d, p);
        }
    }
}

int kubelet_running_pods(struct daemon *d)
{
    int n = 0;
    for (struct podrt *p = d->pods; p; p = p->next) {
        for (int i = 0; i < p->nctr; i++) {
            if (p->ctrs[i].running) {
                n++;
                break;
            }
        }
    }
    return n;
}

/* ---- stopping everything (cluster down) ---- */

/* Kill a run that outlived its grace period: its monitor and its
 * process group (checked by start time against pid reuse). */
static void kill_run(struct daemon *d, struct podrt *p, struct ctr *c)
{
    json_t *st = NULL;
    read_state(d, p, c, &st);
    pid_t pid = (pid_t)json_path_int(st, "pid", 0);
    uint64_t start = (uint64_t)json_path_int(st, "pidStart", 0);
    if (pid > 0 && start && proc_starttime(pid) == start) kill(-pid, SIGKILL);
    json_decref(st);
    kill(c->conmon, SIGKILL);
}

void kubelet_stop_all(struct daemon *d)
{
    json_int_t grace = 0;
    for (struct podrt *p = d->pods; p; p = p->next) {
        json_int_t g = json_path_int(pod_obj(p), "spec.terminationGracePeriodSeconds", 30);
        if (g > grace) grace = g;
        for (int i = 0; i < p->nctr; i++)
            if (p->ctrs[i].running) kill(p->ctrs[i].conmon, SIGTERM);
    }
    /* Each monitor escalates to SIGKILL after its grace; past the longest
     * grace (and a margin) we kill what is left ourselves. */
    uint64_t deadline = mono_ms() + (uint64_t)(grace > 300 ? 300 : grace) * 1000 + 3000;
    int killed = 0;
    for (;;) {
        int alive = 0;
        for (struct podrt *p = d->pods; p; p = p->next) {
            for (int i = 0; i < p->nctr; i++) {
                struct ctr *c = &p->ctrs[i];
                if (!c->running) continue;
                waitpid(c->conmon, NULL, WNOHANG);
                if (proc_alive(c->conmon)) alive = 1;
                else c->running = 0;
            }
        }
        if (!alive) break;
        if (mono_ms() > deadline) {
            if (killed) break;
            for (struct podrt *p = d->pods; p; p = p->next)
                for (int i = 0; i < p->nctr; i++)
                    if (p->ctrs[i].running) kill_run(d, p, &p->ctrs[i]);
            killed = 1;
            deadline = mono_ms() + 2000;
        }
        usleep(20000);
    }
    /* The pods' objects stay, stopped; the next `cluster up` starts them
     * again. A container that could not be stopped keeps its status, so
     * that the next daemon adopts it instead of starting it twice. */
    for (struct podrt *p = d->pods; p; p = p->next) {
        json_t *pod = pod_obj(p);
        if (!pod) continue;
        int any_alive = 0;
        for (int i = 0; i < p->nctr; i++) any_alive |= p->ctrs[i].running;
        if (any_alive) {
            log_error("pod %s/%s: a container did not stop; it stays recorded", p->ns, p->name);
            continue;
        }
        json_t *st = json_object_get(pod, "status");
        json_object_del(st, "containerStatuses");
        json_path_set(pod, "status.phase", json_string("Pending"));
        store_put(d->store, pod);
    }
}

int kubelet_oom_kills(struct daemon *d, const char *uid, const char *container)
{
    struct podrt *p = find_pod(d, uid);
    for (int i = 0; p && i < p->nctr; i++)
        if (!strcmp(p->ctrs[i].name, container)) return p->ctrs[i].oom_kills;
    return 0;
}

/* ---- daemon exit ---- */

void kubelet_release(struct daemon *d)
{
    for (struct podrt *p = d->pods; p; p = p->next) {
        for (int i = 0; i < p->nctr; i++) {
            struct ctr *c = &p->ctrs[i];
            stop_probes(c);
            if (c->polling && !uv_is_closing((uv_handle_t *)&c->poll)) uv_close((uv_handle_t *)&c->poll, poll_closed);
            c->polling = 0;
        }
    }
}

void kubelet_free(struct daemon *d)
{
    while (d->pods) pod_free(d, d->pods);
}

/* ---- re-adoption after a daemon restart ---- */

/* Whether pid is the monitor of the run in rundir (not a reused pid). */
static int is_conmon(pid_t pid, const char *rundir)
{
    const char *const needles[] = {"__conmon", rundir, NULL};
    return proc_cmdline_has(pid, needles);
}

static void adopt_ctr(struct daemon *d, struct podrt *p, const json_t *pod, struct ctr *c, const json_t *cs)
{
    c->restarts = (int)json_path_int(cs, "restartCount", 0);
    json_t *lt = json_path(cs, "lastState.terminated");
    if (lt) c->last_term = json_deep_copy(lt);
    /* Back-off goes on doubling from where it was. */
    c->backoff_ms = 0;
    for (int k = 0; k < c->restarts && c->backoff_ms < d->backoff_max_ms; k++)
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : d->backoff_base_ms;
    if (c->backoff_ms > d->backoff_max_ms) c->backoff_ms = d->backoff_max_ms;
    json_t *running = json_path(cs, "state.running");
    json_t *term = json_path(cs, "state.terminated");
    if (term) {
        c->term = json_deep_copy(term);
        c->ever_started = 1;
        return;
    }
    if (!running) {
        snprintf(c->wait_reason, sizeof c->wait_reason, "%s", json_path_str(cs, "state.waiting.reason", "ContainerCreating"));
        snprintf(c->wait_msg, sizeof c->wait_msg, "%s", json_path_str(cs, "state.waiting.message", ""));
        if (lt) { /* it crashed and waits for its restart */
            c->restarts++;
            c->ever_started = 1;
            c->restart_planned = 1;
            c->next_start_ms = mono_ms() + c->backoff_ms;
        }
        return;
    }
    snprintf(c->started_at, sizeof c->started_at, "%s", json_path_str(running, "startedAt", ""));
    c->ever_started = 1;
    json_t *st = NULL;
    read_state(d, p, c, &st);
    char rundir[PATH_MAX];
    cluster_run_dir(&d->lab, p->uid, c->name, c->restarts, rundir, sizeof rundir);
    pid_t conmon = (pid_t)json_path_int(st, "conmonPid", 0);
    int pidfd = conmon > 0 && is_conmon(conmon, rundir) ? pidfd_of(conmon) : -1;
    json_decref(st);
    c->conmon = conmon;
    c->running = 1;
    c->start_mono_ms = mono_ms();
    if (pidfd < 0) {
        /* The monitor is gone: so is its container (PDEATHSIG). */
        on_exit_run(d, p, c);
        return;
    }
    watch_conmon(d, c, pidfd);
    c->ready = json_is_true(json_path(cs, "ready"));
    c->startup_ok = 1;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/spec.json", rundir);
    json_error_t je;
    json_t *spec = json_load_file(path, 0, &je);
    if (spec) {
        int ready = c->ready;
        start_probes(d, pod, ctr_spec(pod, c->name), c, spec);
        c->ready = ready || !json_path(ctr_spec(pod, c->name), "readinessProbe");
        if (json_is_true(json_path(cs, "started")) && !c->startup_ok) { /* its startup probe passed before */
            c->startup_ok = 1;
            probe_free(c->probes[PROBE_STARTUP]);
            c->probes[PROBE_STARTUP] = NULL;
            start_probe(d, pod, ctr_spec(pod, c->name), c, PROBE_LIVENESS);
            start_probe(d, pod, ctr_spec(pod, c->name), c, PROBE_READINESS);
        }
        json_decref(spec);
    }
    log_info("adopted pod %s/%s container %s (conmon %d)", p->ns, p->name, c->name, (int)conmon);
}

/* Pod folders that belong to no Pod: stop what runs there and remove them. */
static void reap_orphans(struct daemon *d)
{
    char dir[PATH_MAX];
    lab_path(&d->lab, "pods", dir, sizeof dir);
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.' || find_pod(d, e->d_name)) continue;
        char poddir[PATH_MAX + 300], cdir[PATH_MAX + 600];
        snprintf(poddir, sizeof poddir, "%s/%s", dir, e->d_name);
        snprintf(cdir, sizeof cdir, "%s/containers", poddir);
        DIR *cd = opendir(cdir);
        struct dirent *ce;
        while (cd && (ce = readdir(cd))) {
            if (ce->d_name[0] == '.') continue;
            for (int run = 0; run < 1000; run++) {
                char path[PATH_MAX + 1000], rundir[PATH_MAX + 1000];
                snprintf(rundir, sizeof rundir, "%s/%s/%d", cdir, ce->d_name, run);
                snprintf(path, sizeof path, "%s/state.json", rundir);
                if (access(path, R_OK)) continue;
                json_error_t je;
                json_t *st = json_load_file(path, 0, &je);
                pid_t conmon = (pid_t)json_path_int(st, "conmonPid", 0);
                pid_t pid = (pid_t)json_path_int(st, "pid", 0);
                uint64_t start = (uint64_t)json_path_int(st, "pidStart", 0);
                if (conmon > 0 && is_conmon(conmon, rundir)) kill(conmon, SIGKILL);
                if (pid > 0 && start && proc_starttime(pid) == start) kill(-pid, SIGKILL);
                json_decref(st);
            }
        }
        if (cd) closedir(cd);
        log_warn("removed orphaned pod folder %s", poddir);
        rm_rf(poddir);
    }
    closedir(dp);
}

void kubelet_adopt(struct daemon *d)
{
    json_t *pods = store_list(d->store, "Pod", NULL);
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod) {
        struct podrt *p = pod_new(d, pod);
        p->volumes_ready = json_path(pod, "status.containerStatuses") != NULL;
        p->scheduled_event = 1;
        for (int k = 0; k < p->nctr; k++) {
            size_t j;
            json_t *cs;
            json_array_foreach(json_path(pod, "status.containerStatuses"), j, cs) {
                if (!strcmp(json_path_str(cs, "name", ""), p->ctrs[k].name)) adopt_ctr(d, p, pod, &p->ctrs[k], cs);
            }
        }
    }
    json_decref(pods);
    reap_orphans(d);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "aiopslab-%s-", d->lab.name);
    int n = limits_gc(prefix);
    if (n) log_info("removed %d cgroups left by stopped containers", n);
}
