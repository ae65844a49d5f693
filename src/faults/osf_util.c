/* osf_util: the target's containers as processes, for the OS and hardware
 * faults (see osf_util.h). Everything is read the way the kubelet writes
 * it: the Pod's status from the daemon, the run's state.json (conmon's)
 * and spec.json (the cgroup name). */
#include "faults/osf_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/limits.h"
#include "cluster/paths.h"
#include "core/json.h"
#include "core/util.h"

static int fill(struct fault_ctx *c, const json_t *pod, struct osf_ctr *k)
{
    memset(k, 0, sizeof *k);
    const json_t *cs = json_array_get(json_path(pod, "status.containerStatuses"), 0);
    const json_t *spec = json_array_get(json_path(pod, "spec.containers"), 0);
    if (!cs || !spec || !json_path(cs, "state.running")) return -1;
    snprintf(k->pod, sizeof k->pod, "%s", json_path_str(pod, "metadata.name", ""));
    snprintf(k->uid, sizeof k->uid, "%s", json_path_str(pod, "metadata.uid", ""));
    snprintf(k->name, sizeof k->name, "%s", json_path_str(spec, "name", ""));
    snprintf(k->ip, sizeof k->ip, "%s", json_path_str(pod, "status.podIP", ""));
    k->restarts = (int)json_path_int(cs, "restartCount", 0);
    k->port = (int)json_path_int(json_array_get(json_object_get(spec, "ports"), 0), "containerPort", 0);
    char poddir[PATH_MAX];
    if (cluster_pod_dir(c->lab, k->uid, poddir, sizeof poddir) ||
        cluster_run_dir(c->lab, k->uid, k->name, k->restarts, k->rundir, sizeof k->rundir))
        return -1;
    if (snprintf(k->root, sizeof k->root, "%s/root", poddir) >= (int)sizeof k->root) return -1;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/state.json", k->rundir);
    json_t *st = json_load_file(path, 0, NULL);
    snprintf(path, sizeof path, "%s/spec.json", k->rundir);
    json_t *sp = json_load_file(path, 0, NULL);
    int rc = -1;
    if (st && sp && !strcmp(json_path_str(st, "phase", ""), "running")) {
        k->pid = (pid_t)json_path_int(st, "pid", 0);
        k->start = (uint64_t)json_path_int(st, "pidStart", 0);
        k->conmon = (pid_t)json_path_int(st, "conmonPid", 0);
        snprintf(k->limits, sizeof k->limits, "%s", json_path_str(st, "limits", "none"));
        snprintf(k->cgroup, sizeof k->cgroup, "%s", json_path_str(sp, "cgroupName", ""));
        if (k->pid > 1 && proc_starttime(k->pid) == k->start) rc = 0;
    }
    json_decref(st);
    json_decref(sp);
    return rc;
}

int osf_containers(struct fault_ctx *c, struct osf_ctr *out, int max)
{
    json_t *pods = fault_pods(c, c->target);
    int n = 0;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        if (n < max && fill(c, p, &out[n]) == 0) n++;
    }
    json_decref(pods);
    if (!n) {
        snprintf(c->err, sizeof c->err, "Deployment \"%s\" has no running container to act on", c->target);
        return -1;
    }
    return n;
}

static int pod_is_ready(const json_t *pod)
{
    size_t i;
    json_t *cond;
    json_array_foreach(json_path(pod, "status.conditions"), i, cond)
    {
        if (!strcmp(json_path_str(cond, "type", ""), "Ready")) return !strcmp(json_path_str(cond, "status", ""), "True");
    }
    return 0;
}

int osf_ready_containers(struct fault_ctx *c, struct osf_ctr *out, int max)
{
    json_t *pods = fault_pods(c, c->target);
    if (!pods) return -1;
    int n = 0;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        if (n < max && pod_is_ready(p) && fill(c, p, &out[n]) == 0) n++;
    }
    json_decref(pods);
    return n;
}

int osf_container_of(struct fault_ctx *c, const char *pod, struct osf_ctr *out)
{
    int missing = 0;
    json_t *p = fault_get(c, "Pod", pod, &missing);
    if (!p) return -1;
    int rc = json_path(p, "metadata.deletionTimestamp") ? -1 : fill(c, p, out);
    json_decref(p);
    return rc;
}

static enum limits_kind kind_of(const struct osf_ctr *k)
{
    enum limits_kind kind = LIMITS_NONE;
    if (limits_kind_parse(k->limits, &kind)) kind = LIMITS_NONE;
    return kind;
}

int osf_members(const struct osf_ctr *k, pid_t **out)
{
    int n = limits_members(kind_of(k), k->cgroup, k->pid, k->conmon, out);
    if (n < 0) {
        *out = NULL;
        return 0;
    }
    return n;
}

int osf_has_cgroup(const struct osf_ctr *k)
{
    enum limits_kind kind = kind_of(k);
    return (kind == LIMITS_CGROUP_V1 || kind == LIMITS_CGROUP_V2) && k->cgroup[0];
}

int osf_usage(const struct osf_ctr *k, struct limits_usage *u)
{
    if (osf_has_cgroup(k)) return limits_cgroup_usage(kind_of(k), k->cgroup, u);
    return limits_proc_usage(k->pid, k->conmon, u);
}

int osf_join_cgroup(const struct osf_ctr *k, char *err, size_t errlen)
{
    if (!osf_has_cgroup(k)) {
        snprintf(err, errlen, "container %s/%s has no cgroup (limits: %s)", k->pod, k->name, k->limits);
        return -ENOENT;
    }
    /* The group exists while its container runs: check before limits_setup,
     * which would otherwise make it again after the container ended. */
    pid_t *m = NULL;
    int n = limits_members(kind_of(k), k->cgroup, 0, 0, &m);
    free(m);
    if (n <= 0) {
        snprintf(err, errlen, "the cgroup of %s/%s is gone", k->pod, k->name);
        return -ENOENT;
    }
    struct limits l;
    int rc = limits_setup(&l, kind_of(k), k->cgroup, 0, 0, err, errlen); /* no limit: changes nothing */
    if (rc) return rc;
    return limits_attach(&l, getpid(), err, errlen);
}

/* The real, effective and saved ids of "Uid:" or "Gid:" in /proc/PID/status;
 * 0 only when all three are the same (the kernel's condition for prlimit
 * without CAP_SYS_RESOURCE). */
static int proc_id(pid_t pid, const char *key, unsigned *out)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    int rc = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        unsigned r, e, s;
        if (strncmp(line, key, klen) || sscanf(line + klen, "%u %u %u", &r, &e, &s) != 3) continue;
        if (r == e && e == s) {
            *out = r;
            rc = 0;
        }
        break;
    }
    fclose(f);
    return rc;
}

struct prlimit_reply {
    int err;
    struct rlimit old;
};

int osf_prlimit(pid_t pid, int res, const struct rlimit *nl, struct rlimit *old)
{
    if (!prlimit(pid, (__rlimit_resource_t)res, nl, old)) return 0;
    if (errno != EPERM) return -errno;
    unsigned uid, gid;
    if (proc_id(pid, "Uid:", &uid) || proc_id(pid, "Gid:", &gid)) return -EPERM;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) return -errno;
    pid_t p = fork();
    if (p == 0) {
        struct prlimit_reply r = {0, {0, 0}};
        if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid) ||
            prlimit(pid, (__rlimit_resource_t)res, nl, &r.old))
            r.err = errno;
        _exit(write(fds[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    struct prlimit_reply r = {EPERM, {0, 0}};
    ssize_t got = p > 0 ? read(fds[0], &r, sizeof r) : -1;
    close(fds[0]);
    if (p > 0) waitpid(p, NULL, 0);
    if (got != (ssize_t)sizeof r) return p < 0 ? -EAGAIN : -EPERM;
    if (r.err) return -r.err;
    if (old) *old = r.old;
    return 0;
}

char osf_proc_state(pid_t pid)
{
    char path[64], s[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(s, 1, sizeof s - 1, f);
    fclose(f);
    s[n] = '\0';
    const char *rp = strrchr(s, ')');
    return rp && rp[1] == ' ' ? rp[2] : 0;
}

int osf_proc_nfds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

json_t *osf_proc_ref(pid_t pid)
{
    return json_pack("{s:i, s:I}", "pid", (int)pid, "start", (json_int_t)proc_starttime(pid));
}

pid_t osf_proc_live(const json_t *ref)
{
    pid_t pid = (pid_t)json_integer_value(json_object_get(ref, "pid"));
    uint64_t start = (uint64_t)json_integer_value(json_object_get(ref, "start"));
    return pid > 1 && start && proc_starttime(pid) == start ? pid : 0;
}

int osf_sleep_active(struct fault_ctx *c, unsigned ms)
{
    for (unsigned slept = 0; slept < ms; slept += 200) {
        if (!fault_still_active(c)) return 0;
        unsigned step = ms - slept < 200 ? ms - slept : 200;
        nanosleep(&(struct timespec){step / 1000, (long)(step % 1000) * 1000000L}, NULL);
    }
    return fault_still_active(c);
}

int osf_which(const char *prog, char *out, size_t n)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/bin:/bin:/usr/sbin:/sbin", path ? path : "");
    for (char *p = dirs, *colon; p; p = colon ? colon + 1 : NULL) {
        colon = strchr(p, ':');
        if (colon) *colon = '\0';
        if (!*p) continue;
        if (snprintf(out, n, "%s/%s", p, prog) < (int)n && access(out, X_OK) == 0) return 0;
    }
    return -1;
}
