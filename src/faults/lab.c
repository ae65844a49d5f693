/* lab: what fault types use to act on the lab — the cluster daemon's API
 * (the same narrow interface kubectl uses), pods' processes, mesh rules. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/client.h"
#include "cluster/paths.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"
#include "faults/fault.h"
#include "faults/journal.h"

int fault_save(struct fault_ctx *c)
{
    if (journal_save_state(c->journal, c->id, c->state)) {
        snprintf(c->err, sizeof c->err, "cannot write the fault journal");
        return -1;
    }
    return 0;
}

int fault_call(struct fault_ctx *c, json_t *req, json_t **reply)
{
    json_t *r = NULL;
    char err[256];
    int rc = cluster_call(c->lab, req, &r, err, sizeof err);
    if (rc) {
        snprintf(c->err, sizeof c->err, "%s", err);
        return -1;
    }
    json_t *e = json_object_get(r, "error");
    if (e) {
        snprintf(c->err, sizeof c->err, "%s", json_path_str(e, "message", "the daemon refused the request"));
        json_decref(r);
        return -1;
    }
    if (reply) *reply = r;
    else json_decref(r);
    return 0;
}

json_t *fault_get(struct fault_ctx *c, const char *kind, const char *name, int *missing)
{
    if (missing) *missing = 0;
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind", kind, "namespace", c->ns, "name", name);
    json_t *reply = NULL;
    char err[256];
    int rc = cluster_call(c->lab, req, &reply, err, sizeof err);
    json_decref(req);
    if (rc) {
        snprintf(c->err, sizeof c->err, "%s", err);
        return NULL;
    }
    if (json_object_get(reply, "error") && json_path_int(reply, "error.code", 0) != 404) {
        snprintf(c->err, sizeof c->err, "%s", json_path_str(reply, "error.message", "the daemon refused the request"));
        json_decref(reply);
        return NULL;
    }
    json_t *o = json_array_get(json_object_get(reply, "items"), 0);
    if (o) json_incref(o);
    else {
        snprintf(c->err, sizeof c->err, "%s \"%s\" not found in namespace \"%s\"", kind, name, c->ns);
        if (missing) *missing = 1;
    }
    json_decref(reply);
    return o;
}

int fault_patch(struct fault_ctx *c, const char *kind, const char *name, const char *type, json_t *patch)
{
    json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "op", "patch", "kind", kind, "namespace", c->ns, "name",
                            name, "type", type, "patch", patch);
    int rc = fault_call(c, req, NULL);
    json_decref(req);
    return rc;
}

int fault_apply(struct fault_ctx *c, json_t *objs)
{
    json_t *arr = json_is_array(objs) ? json_incref(objs) : json_pack("[O]", objs);
    json_t *req = json_pack("{s:s, s:o, s:b}", "op", "apply", "objects", arr, "create", 0);
    int rc = fault_call(c, req, NULL);
    json_decref(req);
    return rc;
}

int fault_delete(struct fault_ctx *c, const char *kind, const char *name)
{
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "delete", "kind", kind, "namespace", c->ns, "name", name);
    json_t *r = NULL;
    char err[256];
    int rc = cluster_call(c->lab, req, &r, err, sizeof err);
    json_decref(req);
    if (rc) {
        snprintf(c->err, sizeof c->err, "%s", err);
        return -1;
    }
    json_t *e = json_object_get(r, "error");
    rc = e && json_path_int(e, "code", 0) != 404 ? -1 : 0;
    if (rc) snprintf(c->err, sizeof c->err, "%s", json_path_str(e, "message", "delete refused"));
    json_decref(r);
    return rc;
}

int fault_scale(struct fault_ctx *c, const char *name, int replicas)
{
    json_t *req = json_pack("{s:s, s:s, s:s, s:i}", "op", "scale", "namespace", c->ns, "name", name, "replicas",
                            replicas);
    int rc = fault_call(c, req, NULL);
    json_decref(req);
    return rc;
}

int fault_rollout(struct fault_ctx *c, const char *name, const char *action)
{
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "rollout", "action", action, "namespace", c->ns, "name", name);
    int rc = fault_call(c, req, NULL);
    json_decref(req);
    return rc;
}

json_t *fault_clean_object(const json_t *obj)
{
    json_t *o = json_deep_copy(obj);
    json_object_del(o, "status");
    json_t *md = json_object_get(o, "metadata");
    static const char *const drop[] = {"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation",
                                       "deletionTimestamp"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) json_object_del(md, drop[i]);
    return o;
}

json_t *fault_pods(struct fault_ctx *c, const char *deployment)
{
    json_t *out = json_array();
    json_t *d = fault_get(c, "Deployment", deployment, NULL);
    if (!d) return out;
    const json_t *labels = json_path(d, "spec.selector.matchLabels");
    char sel[1024] = "";
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v)
        snprintf(sel + strlen(sel), sizeof sel - strlen(sel), "%s%s=%s", sel[0] ? "," : "", k, json_string_value(v));
    json_decref(d);
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind", "Pod", "namespace", c->ns, "selector", sel);
    json_t *reply = NULL;
    int rc = fault_call(c, req, &reply);
    json_decref(req);
    if (rc) return out;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(reply, "items"), i, p)
    {
        if (!json_path(p, "metadata.deletionTimestamp")) json_array_append(out, p);
    }
    json_decref(reply);
    return out;
}

pid_t fault_container_pid(struct fault_ctx *c, const json_t *pod, int container, uint64_t *pidstart)
{
    const json_t *cs = json_array_get(json_path(pod, "status.containerStatuses"), (size_t)container);
    const json_t *spec = json_array_get(json_path(pod, "spec.containers"), (size_t)container);
    if (!cs || !spec || !json_path(cs, "state.running")) return 0;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    if (cluster_run_dir(c->lab, json_path_str(pod, "metadata.uid", ""), json_path_str(spec, "name", ""),
                        (int)json_path_int(cs, "restartCount", 0), dir, sizeof dir))
        return 0;
    snprintf(path, sizeof path, "%s/state.json", dir);
    json_t *st = json_load_file(path, 0, NULL);
    if (!st) return 0;
    pid_t pid = 0;
    if (!strcmp(json_path_str(st, "phase", ""), "running")) {
        pid = (pid_t)json_path_int(st, "pid", 0);
        uint64_t start = (uint64_t)json_path_int(st, "pidStart", 0);
        if (pid > 0 && proc_starttime(pid) != start) pid = 0;
        if (pidstart) *pidstart = start;
    }
    json_decref(st);
    return pid;
}

int fault_signal(pid_t pid, uint64_t pidstart, int sig)
{
    if (pid <= 1 || proc_starttime(pid) != pidstart) return -ESRCH;
    return kill(pid, sig) ? -errno : 0;
}

int fault_mesh_add(struct fault_ctx *c, json_t *rule, char *id, size_t idlen)
{
    /* The id is chosen here and recorded before the rule exists, so a crash
     * between the two leaves nothing recover cannot name. */
    char rid[64];
    snprintf(rid, sizeof rid, "f%lld-%zu", (long long)c->id, json_array_size(json_object_get(c->state, "meshRules")));
    json_object_set_new(rule, "id", json_string(rid));
    json_t *list = json_object_get(c->state, "meshRules");
    if (!list) json_object_set_new(c->state, "meshRules", list = json_array());
    json_array_append_new(list, json_string(rid));
    if (fault_save(c)) return -1;
    json_t *req = json_pack("{s:s, s:s, s:O}", "op", "mesh-rule", "action", "add", "rule", rule);
    int rc = fault_call(c, req, NULL);
    json_decref(req);
    if (!rc && id) snprintf(id, idlen, "%s", rid);
    return rc;
}

int fault_mesh_clear(struct fault_ctx *c)
{
    size_t i;
    json_t *rid;
    int rc = 0;
    json_array_foreach(json_object_get(c->state, "meshRules"), i, rid)
    {
        json_t *req = json_pack("{s:s, s:s, s:s}", "op", "mesh-rule", "action", "delete", "id", json_string_value(rid));
        json_t *r = NULL;
        char err[256];
        if (cluster_call(c->lab, req, &r, err, sizeof err)) {
            snprintf(c->err, sizeof c->err, "%s", err);
            rc = -1;
        } else if (json_object_get(r, "error") && json_path_int(r, "error.code", 0) != 404) {
            snprintf(c->err, sizeof c->err, "%s", json_path_str(r, "error.message", "mesh rule delete refused"));
            rc = -1;
        }
        json_decref(r);
        json_decref(req);
    }
    return rc;
}

int fault_wait(struct fault_ctx *c, int (*cond)(struct fault_ctx *c), unsigned ms)
{
    for (unsigned waited = 0;; waited += 100) {
        if (cond(c) > 0) return 1;
        if (waited >= ms) return 0;
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    }
}

int fault_deployment_program(struct fault_ctx *c, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    json_t *d = fault_get(c, "Deployment", name, NULL);
    if (!d) return -1;
    /* The store's program, also when a shell starts it (`sh -c "exec redis-server ..."`). */
    static const char *const stores[] = {"aiopslab-postgres", "postgres", "redis-server", "memcached"};
    const json_t *ctr = json_array_get(json_path(d, "spec.template.spec.containers"), 0);
    const char *first = NULL;
    for (int part = 0; part < 2 && !out[0]; part++) {
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(ctr, part ? "args" : "command"), i, w)
        {
            const char *s = json_string_value(w);
            if (!s) continue;
            if (!first) first = s;
            for (size_t k = 0; k < sizeof stores / sizeof stores[0] && !out[0]; k++) {
                const char *hit = strstr(s, stores[k]);
                size_t len = strlen(stores[k]);
                /* a word of its own: "redis-server", "/usr/bin/memcached -p", not "my-postgres-tool" */
                if (hit && (hit == s || strchr(" /;&|'\"", hit[-1])) && strchr(" ;&|'\"", hit[len] ? hit[len] : ' '))
                    snprintf(out, n, "%s", stores[k]);
            }
        }
    }
    if (!out[0] && first) {
        const char *slash = strrchr(first, '/');
        snprintf(out, n, "%s", slash ? slash + 1 : first);
    }
    json_decref(d);
    return 0;
}

int fault_scale_down(struct fault_ctx *c)
{
    json_t *d = fault_get(c, "Deployment", c->target, NULL);
    if (!d) return -1;
    json_object_set_new(c->state, "replicas", json_integer(json_path_int(d, "spec.replicas", 1)));
    json_decref(d);
    if (fault_save(c)) return -1;
    return fault_scale(c, c->target, 0);
}

int fault_scaled_down(struct fault_ctx *c)
{
    json_t *pods = fault_pods(c, c->target);
    int none = json_array_size(pods) == 0;
    json_decref(pods);
    return none;
}

int fault_scale_back(struct fault_ctx *c)
{
    json_t *r = json_object_get(c->state, "replicas");
    if (!r) return 0;
    /* Deleted since: whoever recreates it sets its replicas; nothing left to undo here. */
    int missing = 0;
    json_t *d = fault_get(c, "Deployment", c->target, &missing);
    json_decref(d);
    if (!d) return missing ? 0 : -1;
    return fault_scale(c, c->target, (int)json_integer_value(r));
}
