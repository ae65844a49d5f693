/* virtualization_config: faults in what pods read at start — a key of the
 * app's ConfigMap, the database password in a Secret — changed, then the
 * consumers restarted so that the change takes effect, as an operator
 * rolling out a configuration change would.
 *
 * Each saves the ConfigMap or Secret and every Deployment it restarts,
 * whole, before it acts. Recover puts the data back first, then undoes
 * the restarts (the template's annotations as saved): the old template
 * becomes current again, so pods that still run the old revision serve
 * on and new ones read the old values. wrong-secret restarts Deployments
 * other than its target, which other faults may be changing meanwhile:
 * only its own change is undone there. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cluster/client.h"
#include "core/json.h"
#include "faults/fault.h"
#include "faults/virtualization_types.h"
#include "faults/virtualization_util.h"

/* Put a ConfigMap's or Secret's data back exactly (recreated if deleted). */
static int restore_data(struct fault_ctx *c, const char *kind, const json_t *saved)
{
    const char *name = json_path_str(saved, "metadata.name", "");
    int missing = 0;
    json_t *live = fault_get(c, kind, name, &missing);
    json_decref(live);
    if (!live) return missing ? fault_apply(c, (json_t *)saved) : -1;
    json_t *data = json_object_get(saved, "data");
    json_t *ops = json_pack("[{s:s, s:s, s:o}]", "op", "add", "path", "/data", "value",
                            data ? json_incref(data) : json_object());
    int rc = fault_patch(c, kind, name, "json", ops);
    json_decref(ops);
    return rc;
}

/* Does a container of the template read key from the ConfigMap or Secret
 * (ref "configMapKeyRef" or "secretKeyRef") named name? With name NULL,
 * the first such object's name goes to out. */
static int reads_key(const json_t *tmpl, const char *ref, const char *name, const char *key, char *out, size_t n)
{
    size_t i, j;
    json_t *ctr, *e;
    json_array_foreach(json_path(tmpl, "spec.containers"), i, ctr) json_array_foreach(json_object_get(ctr, "env"), j, e)
    {
        const json_t *r = json_object_get(json_object_get(e, "valueFrom"), ref);
        const char *rn = json_path_str(r, "name", NULL);
        if (!rn || strcmp(json_path_str(r, "key", ""), key) || (name && strcmp(rn, name))) continue;
        if (out) snprintf(out, n, "%s", rn);
        return 1;
    }
    return 0;
}

/* Does a container take every key of the object (envFrom ref
 * "configMapRef" or "secretRef")? The first such name goes to out when
 * name is NULL. */
static int reads_all(const json_t *tmpl, const char *ref, const char *name, char *out, size_t n)
{
    size_t i, j;
    json_t *ctr, *e;
    json_array_foreach(json_path(tmpl, "spec.containers"), i, ctr) json_array_foreach(json_object_get(ctr, "envFrom"), j, e)
    {
        const char *rn = json_path_str(json_object_get(e, ref), "name", NULL);
        if (!rn || (name && strcmp(rn, name))) continue;
        if (out) snprintf(out, n, "%s", rn);
        return 1;
    }
    return 0;
}

/* The object (new reference), or NULL with c->err when it lacks key. */
static json_t *get_with_key(struct fault_ctx *c, const char *kind, const char *name, const char *key)
{
    json_t *o = fault_get(c, kind, name, NULL);
    if (o && !json_object_get(json_object_get(o, "data"), key)) {
        snprintf(c->err, sizeof c->err, "%s \"%s\" has no key \"%s\"", kind, name, key);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The ConfigMap a bad-configmap-value with params changes on Deployment
 * dep: the one named, else the one dep reads the key from. 0 or -1. */
static int configmap_of(const json_t *dep, const json_t *params, char *out, size_t n)
{
    const char *key = json_string_value(json_object_get(params, "key"));
    const char *named = json_string_value(json_object_get(params, "configmap"));
    const json_t *tmpl = json_path(dep, "spec.template");
    if (!key || !named) return -1;
    if (strcmp(named, "auto")) return snprintf(out, n, "%s", named), 0;
    return reads_key(tmpl, "configMapKeyRef", NULL, key, out, n) || reads_all(tmpl, "configMapRef", NULL, out, n) ? 0
                                                                                                                : -1;
}

/* The Secret a wrong-secret with params changes: the one dep reads its
 * password key from. 0 or -1. */
static int secret_of(const json_t *dep, const json_t *params, char *out, size_t n)
{
    const char *key = json_string_value(json_object_get(params, "key"));
    return key && reads_key(json_path(dep, "spec.template"), "secretKeyRef", NULL, key, out, n) ? 0 : -1;
}

/* Another active fault of this file changes the same object (kind/name)?
 * Two of them would save each other's change and restore it. 1 with
 * c->err, 0, or -1. */
static int config_conflict(struct fault_ctx *c, const char *kind, const char *name)
{
    char err[256];
    json_t *rows = fault_list_journal(c->lab, 0, err, sizeof err);
    if (!rows) {
        snprintf(c->err, sizeof c->err, "%s", err);
        return -1;
    }
    int found = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *type = json_path_str(row, "type", "");
        int is_secret = !strcmp(type, "wrong-secret"), is_cm = !strcmp(type, "bad-configmap-value");
        if (json_path_int(row, "id", 0) == c->id || strcmp(json_path_str(row, "namespace", ""), c->ns) ||
            !(is_secret ? !strcmp(kind, "Secret") : is_cm && !strcmp(kind, "ConfigMap")))
            continue;
        json_t *dep = fault_get(c, "Deployment", json_path_str(row, "target", ""), NULL);
        char other[256];
        const json_t *params = json_object_get(row, "params");
        int rc = dep ? (is_secret ? secret_of(dep, params, other, sizeof other)
                                  : configmap_of(dep, params, other, sizeof other))
                     : -1;
        json_decref(dep);
        if (!rc && !strcmp(other, name)) {
            snprintf(c->err, sizeof c->err, "conflicts with active fault %lld (%s on %s/%s): both change %s \"%s\"",
                     (long long)json_path_int(row, "id", 0), type, c->ns, json_path_str(row, "target", ""), kind,
                     name);
            found = 1;
            break;
        }
    }
    json_decref(rows);
    return found;
}

/* ---- bad-configmap-value ---------------------------------------------------- */

static int bc_inject(struct fault_ctx *c)
{
    const char *key = fault_param_str(c, "key"), *value = fault_param_str(c, "value");
    json_t *dep = virt_stateless_deployment(c, c->target);
    if (!dep) return -1;
    char cm[256];
    const json_t *tmpl = json_path(dep, "spec.template");
    int rc = -1;
    json_t *obj = NULL;
    if (configmap_of(dep, c->params, cm, sizeof cm)) {
        snprintf(c->err, sizeof c->err, "Deployment \"%s\" reads no ConfigMap", c->target);
        goto out;
    }
    if (!reads_key(tmpl, "configMapKeyRef", cm, key, NULL, 0) && !reads_all(tmpl, "configMapRef", cm, NULL, 0)) {
        snprintf(c->err, sizeof c->err, "Deployment \"%s\" does not read %s from ConfigMap \"%s\"", c->target, key, cm);
        goto out;
    }
    if (config_conflict(c, "ConfigMap", cm)) goto out;
    if (!(obj = get_with_key(c, "ConfigMap", cm, key))) goto out;
    const char *old = json_string_value(json_object_get(json_object_get(obj, "data"), key));
    if (old && !strcmp(old, value)) {
        snprintf(c->err, sizeof c->err, "%s is already \"%s\" in ConfigMap \"%s\"", key, value, cm);
        goto out;
    }
    json_object_set_new(c->state, "configmap", fault_clean_object(obj));
    if (virt_save_deployment(c, "deployment", dep)) goto out;
    json_t *patch = json_pack("{s:{s:s}}", "data", key, value);
    rc = fault_patch(c, "ConfigMap", cm, "merge", patch);
    json_decref(patch);
    if (!rc) rc = fault_rollout(c, c->target, "restart");
out:
    json_decref(obj);
    json_decref(dep);
    return rc;
}

static int bc_verify(struct fault_ctx *c) { return virt_rollout_failing(c, c->target); }

static int bc_recover(struct fault_ctx *c)
{
    json_t *cm = json_object_get(c->state, "configmap"), *dep = json_object_get(c->state, "deployment");
    if (cm && restore_data(c, "ConfigMap", cm)) return -1;
    return dep ? virt_restore_deployment(c, c->target, dep) : 0;
}

/* The environment variable through which a container of the template
 * reads key of the ConfigMap or Secret `name` (ref "configMapKeyRef" /
 * "secretKeyRef" in env, all "configMapRef" / "secretRef" in envFrom,
 * with its prefix). 0, or -1 when it does not read it. */
static int env_var_of(const json_t *tmpl, const char *ref, const char *all, const char *name, const char *key,
                      char *out, size_t n)
{
    size_t i, j;
    json_t *ctr, *e;
    json_array_foreach(json_path(tmpl, "spec.containers"), i, ctr)
    {
        /* env comes after envFrom and wins: look there first. */
        json_array_foreach(json_object_get(ctr, "env"), j, e)
        {
            const json_t *r = json_object_get(json_object_get(e, "valueFrom"), ref);
            if (r && !strcmp(json_path_str(r, "name", ""), name) && !strcmp(json_path_str(r, "key", ""), key))
                return snprintf(out, n, "%s", json_path_str(e, "name", "")), 0;
        }
        json_array_foreach(json_object_get(ctr, "envFrom"), j, e)
        {
            if (!strcmp(json_path_str(json_object_get(e, all), "name", ""), name))
                return snprintf(out, n, "%s%s", json_path_str(e, "prefix", ""), key), 0;
        }
    }
    return -1;
}

/* Fixed when the key has its value from before the fault again, the
 * target's running pods read that value (they started after the fix: a
 * pod keeps the environment it started with), and the target serves. */
static int bc_fixed(struct fault_ctx *c)
{
    const json_t *saved = json_object_get(c->state, "configmap");
    const char *key = fault_param_str(c, "key"), *name = json_path_str(saved, "metadata.name", NULL);
    const char *want = json_string_value(json_object_get(json_object_get(saved, "data"), key));
    if (!name || !want) return 0; /* inject never changed it */
    int missing = 0;
    json_t *cm = fault_get(c, "ConfigMap", name, &missing);
    if (!cm) return missing ? 0 : -1;
    const char *now = json_string_value(json_object_get(json_object_get(cm, "data"), key));
    int same = now && !strcmp(now, want);
    json_decref(cm);
    if (!same) return 0;
    json_t *dep = fault_get(c, "Deployment", c->target, &missing);
    if (!dep) return missing ? 0 : -1;
    char var[256];
    int reads = !env_var_of(json_path(dep, "spec.template"), "configMapKeyRef", "configMapRef", name, key, var,
                            sizeof var);
    json_decref(dep);
    /* No longer reading the key at all: the value cannot be wrong in the pods. */
    if (reads && !virt_pods_env_is(c, c->target, var, want)) return 0;
    return virt_target_serves(c, c->target);
}

static const struct fault_param bc_params[] = {
    {"key", FP_STRING, 0, 128, NULL, NULL, "the ConfigMap key (e.g. USER_MONGODB_DB, KIT_THREADS)"},
    {"value", FP_STRING, 0, 0, NULL, NULL, "its wrong value"},
    {"configmap", FP_STRING, 0, 253, "auto", NULL, "the ConfigMap (auto: the one the target reads the key from)"},
    {0},
};

const struct fault_type virt_bad_configmap_value = {
    .id = "bad-configmap-value",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "a key of the app's ConfigMap gets a wrong value and the Deployment is restarted to pick it up",
    .symptoms = "after `rollout restart` the new pods fail (not Ready or restarting) and log what the value broke "
                "(database does not exist, bad configuration); the rollout is stuck while the old pods serve; "
                "kubectl get configmap shows the value",
    .params = bc_params,
    .verify_ms = 20000,
    .inject = bc_inject,
    .verify = bc_verify,
    .recover = bc_recover,
    .fixed = bc_fixed,
};

/* ---- wrong-secret --------------------------------------------------------------- */

/* The stateless Deployments of the namespace that read key of Secret
 * name; a new array of their (full) objects. */
static json_t *secret_consumers(struct fault_ctx *c, const char *name, const char *key)
{
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Deployment", "namespace", c->ns);
    json_t *reply = NULL;
    int rc = fault_call(c, req, &reply);
    json_decref(req);
    if (rc) return NULL;
    json_t *out = json_array();
    size_t i, j;
    json_t *dep, *vol;
    json_array_foreach(json_object_get(reply, "items"), i, dep)
    {
        const json_t *tmpl = json_path(dep, "spec.template");
        if (!reads_key(tmpl, "secretKeyRef", name, key, NULL, 0) && !reads_all(tmpl, "secretRef", name, NULL, 0))
            continue;
        int stateful = 0;
        json_array_foreach(json_path(tmpl, "spec.volumes"), j, vol) stateful |= json_object_get(vol, "emptyDir") != NULL;
        /* The database itself reads the password only when it initialises. */
        if (!stateful) json_array_append(out, dep);
    }
    json_decref(reply);
    return out;
}

/* One pod deletion, on a thread of its own: each delete makes the daemon
 * replace the pod (a process start) before it reads the next request on
 * the same loop, so one after the other they cost up to half a second
 * each; sent together, they are read in one turn. */
struct pod_delete {
    const struct fault_ctx *c;
    const char *name;
    int rc;
    char err[256];
};

static void *pod_delete_run(void *arg)
{
    struct pod_delete *j = arg;
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "delete", "kind", "Pod", "namespace", j->c->ns, "name", j->name);
    json_t *reply = NULL;
    j->rc = cluster_call(j->c->lab, req, &reply, j->err, sizeof j->err);
    json_t *e = json_object_get(reply, "error");
    if (!j->rc && e && json_path_int(e, "code", 0) != 404) {
        snprintf(j->err, sizeof j->err, "%s", json_path_str(e, "message", "delete refused"));
        j->rc = -1;
    }
    json_decref(reply);
    json_decref(req);
    return NULL;
}

/* Delete pods (names borrowed) together, MAX_DELETES at a time. */
#define MAX_DELETES 32
static int delete_batch(struct fault_ctx *c, const char *const *names, int n)
{
    struct pod_delete jobs[MAX_DELETES];
    pthread_t th[MAX_DELETES];
    int started = 0, rc = 0;
    for (int k = 0; k < n; k++) jobs[k] = (struct pod_delete){.c = c, .name = names[k]};
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, pod_delete_run, &jobs[started])) break;
    for (int k = started; k < n; k++) pod_delete_run(&jobs[k]); /* no thread left: here, in turn */
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < n; k++) {
        if (jobs[k].rc && !rc) {
            snprintf(c->err, sizeof c->err, "delete pod %s: %s", jobs[k].name, jobs[k].err);
            rc = -1;
        }
    }
    return rc;
}

/* Delete the pods of every Deployment saved in deps (name -> object):
 * one list of the namespace's pods, matched against each selector here,
 * then the deletes together. */
static int delete_pods(struct fault_ctx *c, const json_t *deps)
{
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Pod", "namespace", c->ns);
    json_t *reply = NULL;
    int rc = fault_call(c, req, &reply);
    json_decref(req);
    if (rc) return -1;
    const char *names[MAX_DELETES];
    int n = 0;
    size_t i;
    json_t *pod;
    json_array_foreach(json_object_get(reply, "items"), i, pod)
    {
        const json_t *labels = json_path(pod, "metadata.labels");
        const char *name, *k;
        json_t *d, *v;
        json_object_foreach((json_t *)deps, name, d)
        {
            int match = json_object_size(json_path(d, "spec.selector.matchLabels")) > 0;
            json_object_foreach(json_path(d, "spec.selector.matchLabels"), k, v)
            {
                const char *have = json_string_value(json_object_get(labels, k));
                match = match && have && json_is_string(v) && !strcmp(have, json_string_value(v));
            }
            if (match && !json_path(pod, "metadata.deletionTimestamp")) {
                names[n++] = json_path_str(pod, "metadata.name", "");
                break;
            }
        }
        if (n == MAX_DELETES) {
            rc |= delete_batch(c, names, n);
            n = 0;
        }
    }
    rc |= delete_batch(c, names, n);
    json_decref(reply);
    return rc;
}

static int ws_inject(struct fault_ctx *c)
{
    const char *key = fault_param_str(c, "key");
    int rollout = !strcmp(fault_param_str(c, "restart"), "rollout");
    json_t *dep = virt_stateless_deployment(c, c->target);
    if (!dep) return -1;
    char name[256];
    int rc = secret_of(dep, c->params, name, sizeof name);
    json_decref(dep);
    if (rc) {
        snprintf(c->err, sizeof c->err, "Deployment \"%s\" reads no Secret key \"%s\"", c->target, key);
        return -1;
    }
    if (config_conflict(c, "Secret", name)) return -1;
    json_t *secret = get_with_key(c, "Secret", name, key);
    if (!secret) return -1;
    json_t *consumers = secret_consumers(c, name, key);
    if (!consumers) {
        json_decref(secret);
        return -1;
    }
    json_object_set_new(c->state, "secret", fault_clean_object(secret));
    json_decref(secret);
    json_t *saved = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(consumers, i, d)
        json_object_set_new(saved, json_path_str(d, "metadata.name", ""), fault_clean_object(d));
    json_object_set_new(c->state, "consumers", saved);
    if (!rollout) json_object_set_new(c->state, "podsDeleted", json_true());
    rc = fault_save(c);
    if (!rc) {
        json_t *patch = json_pack("{s:{s:s}}", "stringData", key, fault_param_str(c, "value"));
        rc = fault_patch(c, "Secret", name, "merge", patch);
        json_decref(patch);
    }
    if (!rc && !rollout) rc = delete_pods(c, saved);
    json_array_foreach(consumers, i, d)
    {
        if (!rc && rollout) rc = fault_rollout(c, json_path_str(d, "metadata.name", ""), "restart");
    }
    json_decref(consumers);
    return rc;
}

static int ws_verify(struct fault_ctx *c)
{
    const char *name;
    json_t *d;
    json_object_foreach(json_object_get(c->state, "consumers"), name, d)
    {
        if (virt_rollout_failing(c, name) > 0) return 1;
    }
    return 0;
}

static int ws_recover(struct fault_ctx *c)
{
    json_t *secret = json_object_get(c->state, "secret");
    if (!secret) return 0;
    if (restore_data(c, "Secret", secret)) return -1;
    json_t *consumers = json_object_get(c->state, "consumers");
    if (json_is_true(json_object_get(c->state, "podsDeleted"))) {
        /* Pods started with the wrong password keep it: they start again. */
        if (delete_pods(c, consumers)) return -1;
        json_object_set_new(c->state, "podsDeleted", json_false());
        return fault_save(c);
    }
    const char *name;
    json_t *d;
    json_object_foreach(consumers, name, d)
    {
        if (virt_restore_restart(c, name, d)) return -1;
    }
    return 0;
}

/* Secret data is base64: the decoded text in out (NUL-terminated), or -1
 * when malformed or too long. */
static int b64_decode(const char *in, char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned acc = 0;
    int bits = 0;
    size_t len = 0;
    for (; *in && *in != '='; in++) {
        const char *p = strchr(alphabet, *in);
        if (!p) return -1;
        acc = (acc << 6) | (unsigned)(p - alphabet);
        if ((bits += 6) >= 8) {
            bits -= 8;
            if (len + 1 >= n) return -1;
            out[len++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[len] = 0;
    return 0;
}

/* Fixed when the Secret has its password from before the fault again
 * (or the database was given the new one: then the consumers started
 * with it serve all the same), every consumer's running pods read the
 * Secret's present value, and each consumer serves. */
static int ws_fixed(struct fault_ctx *c)
{
    const json_t *saved = json_object_get(c->state, "secret");
    const char *key = fault_param_str(c, "key"), *name = json_path_str(saved, "metadata.name", NULL);
    if (!name) return 0;
    int missing = 0;
    json_t *secret = fault_get(c, "Secret", name, &missing);
    if (!secret) return missing ? 0 : -1;
    char want[512];
    int ok = !b64_decode(json_string_value(json_object_get(json_object_get(secret, "data"), key)) ?: "", want,
                         sizeof want);
    json_decref(secret);
    const char *dname;
    json_t *d;
    json_object_foreach(json_object_get(c->state, "consumers"), dname, d)
    {
        if (!ok) break;
        json_t *dep = fault_get(c, "Deployment", dname, &missing);
        if (!dep) return missing ? 0 : -1;
        char var[256];
        int reads = !env_var_of(json_path(dep, "spec.template"), "secretKeyRef", "secretRef", name, key, var,
                                sizeof var);
        json_decref(dep);
        ok = (!reads || virt_pods_env_is(c, dname, var, want)) && virt_target_serves(c, dname) == 1;
    }
    return ok;
}

static const struct fault_param ws_params[] = {
    {"key", FP_STRING, 0, 253, "password", NULL, "the Secret key the target reads its database password from"},
    {"value", FP_STRING, 0, 0, "wrong-password", NULL, "the new (wrong) password"},
    {"restart", FP_ENUM, 0, 0, "rollout", "rollout|delete-pods",
     "how the consumers are restarted: kubectl rollout restart, or their pods deleted"},
    {0},
};

const struct fault_type virt_wrong_secret = {
    .id = "wrong-secret",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_AUTHENTICATION,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "the database password in the Secret is changed (the database keeps the old one) and the services "
               "that read it are restarted",
    .symptoms = "the restarted pods log \"password authentication failed for user\" and are never Ready; with "
                "rollout restart the rollouts are stuck while the old pods serve, with delete-pods the services "
                "have no ready endpoints and callers get errors",
    .params = ws_params,
    .verify_ms = 20000,
    .inject = ws_inject,
    .verify = ws_verify,
    .recover = ws_recover,
    .fixed = ws_fixed,
};
