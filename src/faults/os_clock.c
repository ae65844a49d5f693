/* os_clock: clock-skew — the wall clock of a Deployment's pods runs off by
 * N seconds, as on a node whose NTP has failed. Every process of a pod has
 * the lab's preload shim (src/mesh/shim.c): it offsets what
 * clock_gettime(CLOCK_REALTIME), gettimeofday and time return by the value
 * in LABDIR/pods/<uid>/clock-offset (int64 ns), which this fault writes and
 * recover removes; processes see a change within a second. Statically
 * linked programs and the machine's own clock are not affected. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/paths.h"
#include "core/json.h"
#include "core/util.h"
#include "faults/fault.h"
#include "faults/os_types.h"
#include "faults/osf_util.h"

static int offset_path(struct fault_ctx *c, const char *uid, char *out, size_t n)
{
    char dir[PATH_MAX];
    if (cluster_pod_dir(c->lab, uid, dir, sizeof dir)) return -1;
    return snprintf(out, n, "%s/clock-offset", dir) >= (int)n ? -1 : 0;
}

static int skew_inject(struct fault_ctx *c)
{
    if (!fault_param_int(c, "seconds")) {
        snprintf(c->err, sizeof c->err, "seconds=0 is no skew");
        return -1;
    }
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return -1;
    json_t *files = json_array();
    json_object_set_new(c->state, "files", files);
    char path[PATH_MAX];
    for (int i = 0; i < n; i++) {
        if (offset_path(c, k[i].uid, path, sizeof path)) continue;
        json_array_append_new(files, json_string(path));
    }
    if (fault_save(c)) return -1;
    int64_t off = (int64_t)fault_param_int(c, "seconds") * 1000000000LL;
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        int rc = write_file_atomic(json_string_value(f), &off, sizeof off);
        if (rc) {
            snprintf(c->err, sizeof c->err, "%s: %s", json_string_value(f), strerror(-rc));
            return -1;
        }
    }
    return 0;
}

/* The clock as a new process of the pod sees it (`kubectl exec POD --
 * date +%s`): its seconds since the epoch, or -1. */
static long long pod_date(const struct osf_ctr *k)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/spec.json", k->rundir);
    json_t *spec = json_load_file(path, 0, NULL);
    const char *preload = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(spec, "env"), i, e)
    {
        const char *kv = json_string_value(e);
        if (kv && str_has_prefix(kv, "LD_PRELOAD=")) preload = kv;
    }
    char home[PATH_MAX + 8], ip[64], pre[PATH_MAX + 16];
    snprintf(home, sizeof home, "HOME=%s", k->root);
    snprintf(ip, sizeof ip, "AIOPSLAB_POD_IP=%s", k->ip);
    snprintf(pre, sizeof pre, "%s", preload ? preload : "LD_PRELOAD=");
    json_decref(spec);
    char *env[] = {home, ip, pre, "PATH=/usr/bin:/bin", "TZ=UTC", NULL};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) return -1;
    pid_t p = fork();
    if (p == 0) {
        dup2(fds[1], 1);
        char *argv[] = {"date", "+%s", NULL};
        execve("/bin/date", argv, env);
        _exit(127);
    }
    close(fds[1]);
    char out[64] = "";
    ssize_t r = p > 0 ? read(fds[0], out, sizeof out - 1) : -1;
    close(fds[0]);
    if (p > 0) waitpid(p, NULL, 0);
    if (r <= 0) return -1;
    out[r] = '\0';
    char *end;
    long long v = strtoll(out, &end, 10);
    return end == out ? -1 : v;
}

/* Every pod's processes see the offset clock (within 2 s). */
static int skew_verify(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_containers(c, k, OSF_MAX_PODS);
    if (n < 0) return 0;
    long long want = fault_param_int(c, "seconds");
    for (int i = 0; i < n; i++) {
        long long seen = pod_date(&k[i]);
        long long diff = seen - (long long)time(NULL) - want;
        if (seen < 0 || diff > 2 || diff < -2) return 0;
    }
    return 1;
}

/* Fixed when the target serves again (a Ready pod) and every Ready pod's
 * processes see the right time (e.g. the pods were moved off the skewed
 * node: deleted and recreated). */
static int skew_fixed(struct fault_ctx *c)
{
    struct osf_ctr k[OSF_MAX_PODS];
    int n = osf_ready_containers(c, k, OSF_MAX_PODS);
    if (n <= 0) return n < 0 ? -1 : 0;
    for (int i = 0; i < n; i++) {
        long long diff = pod_date(&k[i]) - (long long)time(NULL);
        if (diff > 2 || diff < -2) return 0;
    }
    return 1;
}

static int skew_recover(struct fault_ctx *c)
{
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(json_object_get(c->state, "files"), i, f)
    {
        if (unlink(json_string_value(f)) && errno != ENOENT) {
            snprintf(c->err, sizeof c->err, "%s: %s", json_string_value(f), strerror(errno));
            rc = -1;
        }
    }
    return rc;
}

static const struct fault_param skew_params[] = {
    {"seconds", FP_INT, -31536000, 31536000, "600", NULL,
     "how far the pods' wall clock is off (negative: behind), within a year"},
    {0},
};

const struct fault_type clock_skew = {
    .id = "clock-skew",
    .layer = FAULT_OS,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_WORKLOAD,
    .resource = "clock",
    .summary = "the pods' processes see the wall clock off by N seconds (NTP failure on their node)",
    .symptoms = "`date` in the pod differs from everyone else's; timestamps the service writes (log lines, span "
                "start times, database now()) are off by the skew while the kubelet's are not; tokens, caches and "
                "TTLs expire too early or too late; traces show children starting before their parents",
    .params = skew_params,
    .verify_ms = 5000,
    .inject = skew_inject,
    .verify = skew_verify,
    .recover = skew_recover,
    .fixed = skew_fixed,
};
