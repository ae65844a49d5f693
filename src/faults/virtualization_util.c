/* virtualization_util: saving, changing and restoring a Deployment's pod
 * template, and reading how its new revision fares (see the header). */
#include "faults/virtualization_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/json.h"

#define REVISION_KEY "deployment.kubernetes.io/revision"

json_t *virt_stateless_deployment(struct fault_ctx *c, const char *name)
{
    json_t *dep = fault_get(c, "Deployment", name, NULL);
    if (!dep) return NULL;
    size_t i;
    json_t *vol;
    json_array_foreach(json_path(dep, "spec.template.spec.volumes"), i, vol)
    {
        if (json_object_get(vol, "emptyDir")) {
            snprintf(c->err, sizeof c->err,
                     "Deployment \"%s\" keeps data in emptyDir volume \"%s\": a new revision would start with it "
                     "empty and lose the data (target a stateless workload)",
                     name, json_path_str(vol, "name", "?"));
            json_decref(dep);
            return NULL;
        }
    }
    return dep;
}

int virt_save_deployment(struct fault_ctx *c, const char *key, const json_t *dep)
{
    json_object_set_new(c->state, key, fault_clean_object(dep));
    return fault_save(c);
}

int virt_restore_deployment(struct fault_ctx *c, const char *name, const json_t *saved)
{
    int missing = 0;
    json_t *live = fault_get(c, "Deployment", name, &missing);
    if (!live) return missing ? fault_apply(c, (json_t *)saved) : -1;
    json_t *ann = json_deep_copy(json_path(saved, "metadata.annotations"));
    if (!json_is_object(ann)) {
        json_decref(ann);
        ann = json_object();
    }
    /* Not json_path: the key itself has dots. */
    const char *rev = json_string_value(json_object_get(json_path(live, "metadata.annotations"), REVISION_KEY));
    if (rev) json_object_set_new(ann, REVISION_KEY, json_string(rev));
    else json_object_del(ann, REVISION_KEY);
    json_decref(live);
    json_t *ops = json_pack("[{s:s, s:s, s:O}, {s:s, s:s, s:o}]", "op", "replace", "path", "/spec", "value",
                            json_object_get(saved, "spec"), "op", "add", "path", "/metadata/annotations", "value", ann);
    int rc = fault_patch(c, "Deployment", name, "json", ops);
    json_decref(ops);
    return rc;
}

int virt_restore_restart(struct fault_ctx *c, const char *name, const json_t *saved)
{
    int missing = 0;
    json_t *live = fault_get(c, "Deployment", name, &missing);
    if (!live) return missing ? fault_apply(c, (json_t *)saved) : -1;
    const json_t *want = json_path(saved, "spec.template.metadata.annotations");
    int has = json_path(live, "spec.template.metadata.annotations") != NULL;
    json_decref(live);
    if (!want && !has) return 0;
    /* No annotations at all, as saved: an empty map would be another template (hash). */
    json_t *ops = want ? json_pack("[{s:s, s:s, s:O}]", "op", "add", "path", "/spec/template/metadata/annotations",
                                   "value", want)
                       : json_pack("[{s:s, s:s}]", "op", "remove", "path", "/spec/template/metadata/annotations");
    int rc = fault_patch(c, "Deployment", name, "json", ops);
    json_decref(ops);
    return rc;
}

int virt_set_template(struct fault_ctx *c, const char *name, const json_t *tmpl)
{
    json_t *ops = json_pack("[{s:s, s:s, s:O}]", "op", "replace", "path", "/spec/template", "value", tmpl);
    int rc = fault_patch(c, "Deployment", name, "json", ops);
    json_decref(ops);
    return rc;
}

json_t *virt_template_container(struct fault_ctx *c, json_t *tmpl, const char *name)
{
    json_t *ctrs = json_path(tmpl, "spec.containers");
    size_t i;
    json_t *ctr;
    json_array_foreach(ctrs, i, ctr)
    {
        if (!name || !*name || !strcmp(json_path_str(ctr, "name", ""), name)) return ctr;
    }
    snprintf(c->err, sizeof c->err, "the pod template has no container \"%s\"", name ? name : "");
    return NULL;
}

/* The hash of the Deployment's ReplicaSet whose template is the
 * Deployment's (the controller labels that template pod-template-hash). */
static int current_hash(struct fault_ctx *c, const json_t *dep, char *out, size_t n)
{
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "ReplicaSet", "namespace", c->ns);
    json_t *reply = NULL;
    int rc = fault_call(c, req, &reply);
    json_decref(req);
    if (rc) return -1;
    const char *uid = json_path_str(dep, "metadata.uid", "");
    int found = 0;
    size_t i;
    json_t *rs;
    json_array_foreach(json_object_get(reply, "items"), i, rs)
    {
        const char *owner = json_path_str(json_array_get(json_path(rs, "metadata.ownerReferences"), 0), "uid", "");
        if (strcmp(owner, uid)) continue;
        json_t *tmpl = json_deep_copy(json_path(rs, "spec.template"));
        json_t *labels = json_path(tmpl, "metadata.labels");
        const char *hash = json_string_value(json_object_get(labels, "pod-template-hash"));
        if (hash) snprintf(out, n, "%s", hash);
        json_object_del(labels, "pod-template-hash");
        int same = hash && json_equal(tmpl, json_path(dep, "spec.template"));
        json_decref(tmpl);
        if (same) {
            found = 1;
            break;
        }
    }
    json_decref(reply);
    return found ? 0 : -1;
}

json_t *virt_current_pods(struct fault_ctx *c, const char *name)
{
    json_t *dep = fault_get(c, "Deployment", name, NULL);
    if (!dep) return NULL;
    char hash[64], sel[1024];
    if (current_hash(c, dep, hash, sizeof hash)) {
        json_decref(dep);
        return NULL;
    }
    snprintf(sel, sizeof sel, "pod-template-hash=%s", hash);
    const char *k;
    json_t *v;
    json_object_foreach(json_path(dep, "spec.selector.matchLabels"), k, v)
        snprintf(sel + strlen(sel), sizeof sel - strlen(sel), ",%s=%s", k, json_string_value(v));
    json_decref(dep);
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind", "Pod", "namespace", c->ns, "selector", sel);
    json_t *reply = NULL;
    int rc = fault_call(c, req, &reply);
    json_decref(req);
    if (rc) return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(reply, "items"), i, p)
    {
        if (!json_path(p, "metadata.deletionTimestamp")) json_array_append(out, p);
    }
    json_decref(reply);
    return out;
}

static int pod_ready(const json_t *pod)
{
    size_t i;
    json_t *cond;
    json_array_foreach(json_path(pod, "status.conditions"), i, cond)
    {
        if (!strcmp(json_path_str(cond, "type", ""), "Ready")) return !strcmp(json_path_str(cond, "status", ""), "True");
    }
    return 0;
}

/* Probe failures recorded for the pod: readiness and liveness in *rl,
 * startup in *startup. */
static void probe_failures(struct fault_ctx *c, const json_t *pod, long *rl, long *startup)
{
    *rl = *startup = 0;
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Event", "namespace", c->ns);
    json_t *reply = NULL;
    int rc = fault_call(c, req, &reply);
    json_decref(req);
    if (rc) return;
    const char *uid = json_path_str(pod, "metadata.uid", "");
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(reply, "items"), i, ev)
    {
        const char *msg = json_path_str(ev, "message", "");
        if (strcmp(json_path_str(ev, "involvedObject.uid", ""), uid) || strcmp(json_path_str(ev, "reason", ""), "Unhealthy"))
            continue;
        long n = (long)json_path_int(ev, "count", 1);
        if (!strncmp(msg, "Readiness probe failed", 22) || !strncmp(msg, "Liveness probe failed", 21)) *rl += n;
        else if (!strncmp(msg, "Startup probe failed", 20)) *startup += n;
    }
    json_decref(reply);
}

int virt_pod_failing(struct fault_ctx *c, const json_t *pod)
{
    size_t i;
    json_t *cond;
    json_array_foreach(json_path(pod, "status.conditions"), i, cond)
    {
        if (!strcmp(json_path_str(cond, "type", ""), "PodScheduled") &&
            !strcmp(json_path_str(cond, "status", ""), "False"))
            return 1;
    }
    static const char *const bad[] = {"CrashLoopBackOff", "RunContainerError", "CreateContainerConfigError",
                                      "CreateContainerError"};
    json_t *cs;
    json_array_foreach(json_path(pod, "status.containerStatuses"), i, cs)
    {
        if (json_path_int(cs, "restartCount", 0) > 0) return 1;
        const char *why = json_path_str(cs, "state.waiting.reason", "");
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
            if (!strcmp(why, bad[k])) return 1;
    }
    if (pod_ready(pod)) return 0;
    /* A healthy pod may fail a few probes while it starts (a service that
     * seeds its database first has a startupProbe for that time). */
    long rl, startup;
    probe_failures(c, pod, &rl, &startup);
    return rl >= 5 || startup >= 10;
}

int virt_rollout_failing(struct fault_ctx *c, const char *name)
{
    json_t *pods = virt_current_pods(c, name);
    int failing = 0;
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod)
    {
        if ((failing = virt_pod_failing(c, pod))) break;
    }
    json_decref(pods);
    return failing;
}

int virt_rollout_complete(struct fault_ctx *c, const char *name)
{
    json_t *cur = virt_current_pods(c, name);
    json_t *all = fault_pods(c, name);
    json_t *dep = fault_get(c, "Deployment", name, NULL);
    int done = cur && dep && json_array_size(cur) == json_array_size(all) &&
               (json_int_t)json_array_size(cur) == json_path_int(dep, "spec.replicas", 1);
    size_t i;
    json_t *pod;
    json_array_foreach(cur, i, pod) done = done && pod_ready(pod);
    json_decref(cur);
    json_decref(all);
    json_decref(dep);
    return done;
}

/* ---- mitigation checks ------------------------------------------------------ */

int virt_deployment_serving(const json_t *dep)
{
    json_int_t want = json_path_int(dep, "spec.replicas", 1);
    /* A status from before the last change to the spec says nothing yet. */
    if (json_path_int(dep, "status.observedGeneration", 0) < json_path_int(dep, "metadata.generation", 1)) return 0;
    return want >= 1 && json_path_int(dep, "status.updatedReplicas", 0) == want &&
           json_path_int(dep, "status.replicas", 0) == want && json_path_int(dep, "status.readyReplicas", 0) == want;
}

/* A TCP connection to ip:port is accepted within 2 s. */
static int accepts(const char *ip, long long port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (port < 1 || port > 65535 || inet_pton(AF_INET, ip, &a.sin_addr) != 1) return 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    /* Bounded: a black-holed address must not hold the check (connect honours SO_SNDTIMEO). */
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int virt_service_accepts(struct fault_ctx *c, const char *name)
{
    json_t *ep = fault_get(c, "Endpoints", name, NULL);
    if (!ep) return 0;
    int n = 0, ok = 1;
    size_t i, j;
    json_t *sub, *addr;
    json_array_foreach(json_path(ep, "subsets"), i, sub)
    {
        long long port = json_path_int(json_array_get(json_object_get(sub, "ports"), 0), "port", 0);
        json_array_foreach(json_object_get(sub, "addresses"), j, addr)
        {
            n++;
            ok = ok && accepts(json_path_str(addr, "ip", ""), port);
        }
    }
    json_decref(ep);
    return n > 0 && ok;
}

int virt_target_serves(struct fault_ctx *c, const char *name)
{
    int missing = 0;
    json_t *dep = fault_get(c, "Deployment", name, &missing);
    if (!dep) return missing ? 0 : -1;
    int ok = virt_deployment_serving(dep);
    json_decref(dep);
    if (!ok) return 0;
    json_t *svc = fault_get(c, "Service", name, &missing);
    json_decref(svc);
    if (!svc) return missing ? 1 : -1; /* a worker without a Service of its own */
    return virt_service_accepts(c, name);
}

/* 1 when /proc/PID/environ has var=value. */
static int environ_has(pid_t pid, const char *var, const char *value)
{
    char path[64], buf[65536];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
    close(fd);
    buf[len] = 0;
    size_t vl = strlen(var);
    for (size_t off = 0; off < len; off += strlen(buf + off) + 1) {
        const char *e = buf + off;
        if (!strncmp(e, var, vl) && e[vl] == '=') return !strcmp(e + vl + 1, value);
    }
    return 0;
}

int virt_pods_env_is(struct fault_ctx *c, const char *dep, const char *var, const char *value)
{
    json_t *pods = virt_current_pods(c, dep);
    int ok = json_array_size(pods) > 0;
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod)
    {
        pid_t pid = fault_container_pid(c, pod, 0, NULL);
        ok = ok && pid > 0 && environ_has(pid, var, value);
    }
    json_decref(pods);
    return ok;
}
