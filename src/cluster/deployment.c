/* deployment: the Deployment and ReplicaSet controllers and the garbage
 * collector. A Deployment owns one ReplicaSet per pod template (named by
 * the template's hash) and keeps their revisions for rollout history and
 * undo. A rollout scales the new ReplicaSet up at once and the old ones
 * down as new pods become ready (maxSurge 100%, maxUnavailable 0), so a
 * bad revision never takes the old pods away. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cluster/daemon.h"
#include "cluster/object.h"
#include "cluster/selector.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/timeutil.h"

#define REVISION_KEY "deployment.kubernetes.io/revision"

static const char safe_chars[] = "bcdfghjklmnpqrstvwxz2456789";

void deployment_template_hash(const json_t *template, char out[16])
{
    char *text = json_dump_compact(template);
    uint32_t h = 2166136261u;
    for (const char *p = text; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    free(text);
    int i = 0;
    do {
        out[i++] = safe_chars[h % (sizeof safe_chars - 1)];
        h /= sizeof safe_chars - 1;
    } while (h && i < 10);
    out[i] = '\0';
}

static void random_suffix(char out[6])
{
    unsigned char r[5];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        for (int i = 0; i < 5; i++) r[i] = (unsigned char)rand();
    for (int i = 0; i < 5; i++) out[i] = safe_chars[r[i] % (sizeof safe_chars - 1)];
    out[5] = '\0';
}

static json_t *owner_ref(const json_t *owner)
{
    return json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", json_path_str(owner, "apiVersion", "apps/v1"),
                     "kind", json_path_str(owner, "kind", ""), "name", json_path_str(owner, "metadata.name", ""),
                     "uid", json_path_str(owner, "metadata.uid", ""), "controller", 1, "blockOwnerDeletion", 1);
}

static long revision_of(const json_t *rs)
{
    const char *r = object_annotation(rs, REVISION_KEY);
    return r ? strtol(r, NULL, 10) : 0;
}

/* Pods of a ReplicaSet that are not being deleted. A pod whose labels no
 * longer match the selector (relabelled, say to take it out of service)
 * is released, as the ReplicaSet controller does: it runs on, ownerless,
 * and the ReplicaSet replaces it. */
static json_t *active_pods(struct daemon *d, const json_t *rs)
{
    const char *ns = json_path_str(rs, "metadata.namespace", "default");
    const char *uid = json_path_str(rs, "metadata.uid", "");
    json_t *sel = json_path(rs, "spec.selector.matchLabels");
    json_t *all = store_list(d->store, "Pod", ns), *out = json_array();
    size_t i;
    json_t *pod;
    json_array_foreach(all, i, pod) {
        if (!object_owned_by(pod, uid) || json_path(pod, "metadata.deletionTimestamp")) continue;
        if (json_object_size(sel) && !selector_match_map(sel, json_path(pod, "metadata.labels"))) {
            json_object_del(json_path(pod, "metadata"), "ownerReferences");
            store_put(d->store, pod);
            continue;
        }
        json_array_append(out, pod);
    }
    json_decref(all);
    return out;
}

static void delete_pod(struct daemon *d, json_t *pod)
{
    if (json_path(pod, "metadata.deletionTimestamp")) return;
    char ts[32];
    time_rfc3339(time(NULL), ts, sizeof ts);
    json_path_set(pod, "metadata.deletionTimestamp", json_string(ts));
    store_put(d->store, pod);
}

/* Pods to delete first when scaling down: not ready, then newest. */
static int scale_down_order(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int rx = object_pod_ready(x), ry = object_pod_ready(y);
    if (rx != ry) return rx - ry;
    return -strcmp(json_path_str(x, "metadata.creationTimestamp", ""), json_path_str(y, "metadata.creationTimestamp", ""));
}

static void sync_replicaset(struct daemon *d, json_t *rs)
{
    const char *ns = json_path_str(rs, "metadata.namespace", "default");
    const char *name = json_path_str(rs, "metadata.name", "");
    json_int_t want = json_path_int(rs, "spec.replicas", 1);
    json_t *pods = active_pods(d, rs);
    json_int_t have = (json_int_t)json_array_size(pods);
    for (; have < want; have++) {
        json_t *pod = json_object();
        char suffix[6], pname[320];
        do { /* a name nobody has */
            random_suffix(suffix);
            snprintf(pname, sizeof pname, "%s-%s", name, suffix);
        } while (store_get(d->store, "Pod", ns, pname));
        json_object_set_new(pod, "apiVersion", json_string("v1"));
        json_object_set_new(pod, "kind", json_string("Pod"));
        json_t *meta = json_deep_copy(json_path(rs, "spec.template.metadata"));
        if (!json_is_object(meta)) {
            json_decref(meta);
            meta = json_object();
        }
        json_object_set_new(meta, "name", json_string(pname));
        json_object_set_new(meta, "namespace", json_string(ns));
        json_object_set_new(meta, "generateName", json_sprintf("%s-", name));
        json_object_set_new(meta, "ownerReferences", owner_ref(rs));
        json_object_del(meta, "creationTimestamp");
        json_object_set_new(pod, "metadata", meta);
        json_object_set_new(pod, "spec", json_deep_copy(json_path(rs, "spec.template.spec")));
        json_object_set_new(pod, "status", json_pack("{s:s}", "phase", "Pending"));
        store_put(d->store, pod);
        event_record(d, rs, "Normal", "SuccessfulCreate", "replicaset-controller", "Created pod: %s", pname);
        json_decref(pod);
    }
    if (have > want) {
        size_t n = json_array_size(pods);
        json_t **v = xmalloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++) v[i] = json_array_get(pods, i);
        qsort(v, n, sizeof *v, scale_down_order);
        for (size_t i = 0; i < (size_t)(have - want); i++) {
            event_record(d, rs, "Normal", "SuccessfulDelete", "replicaset-controller", "Deleted pod: %s",
                         json_path_str(v[i], "metadata.name", ""));
            delete_pod(d, v[i]);
        }
        free(v);
    }
    json_decref(pods);
    pods = active_pods(d, rs);
    int ready = 0;
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod) ready += object_pod_ready(pod);
    json_t *st = json_pack("{s:I, s:I, s:i, s:i, s:I}", "replicas", (json_int_t)json_array_size(pods),
                           "fullyLabeledReplicas", (json_int_t)json_array_size(pods), "readyReplicas", ready,
                           "availableReplicas", ready, "observedGeneration", json_path_int(rs, "metadata.generation", 1));
    json_decref(pods);
    if (!json_same(st, json_object_get(rs, "status"))) {
        json_object_set_new(rs, "status", st);
        store_put(d->store, rs);
    } else {
        json_decref(st);
    }
}

static json_t *owned_replicasets(struct daemon *d, const json_t *dep)
{
    const char *ns = json_path_str(dep, "metadata.namespace", "default");
    const char *uid = json_path_str(dep, "metadata.uid", "");
    json_t *all = store_list(d->store, "ReplicaSet", ns), *out = json_array();
    size_t i;
    json_t *rs;
    json_array_foreach(all, i, rs) if (object_owned_by(rs, uid)) json_array_append(out, rs);
    json_decref(all);
    return out;
}

static void set_replicas(struct daemon *d, json_t *dep, json_t *rs, json_int_t n)
{
    json_int_t cur = json_path_int(rs, "spec.replicas", 0);
    if (cur == n) return;
    json_path_set(rs, "spec.replicas", json_integer(n));
    char desired[24];
    snprintf(desired, sizeof desired, "%lld", (long long)json_path_int(dep, "spec.replicas", 1));
    object_set_annotation(rs, "deployment.kubernetes.io/desired-replicas", desired);
    store_put(d->store, rs);
    event_record(d, dep, "Normal", "ScalingReplicaSet", "deployment-controller", "Scaled %s replica set %s to %lld",
                 n > cur ? "up" : "down", json_path_str(rs, "metadata.name", ""), (long long)n);
}

static json_t *new_replicaset(struct daemon *d, json_t *dep, const char *hash, long revision)
{
    const char *ns = json_path_str(dep, "metadata.namespace", "default");
    char name[320];
    snprintf(name, sizeof name, "%s-%s", json_path_str(dep, "metadata.name", ""), hash);
    json_t *tmpl = json_deep_copy(json_path(dep, "spec.template"));
    json_path_set(tmpl, "metadata.labels.pod-template-hash", json_string(hash));
    json_t *sel = json_deep_copy(json_path(dep, "spec.selector"));
    json_path_set(sel, "matchLabels.pod-template-hash", json_string(hash));
    json_t *labels = json_deep_copy(json_path(tmpl, "metadata.labels"));
    json_t *rs = json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:o}, s:{s:i, s:o, s:o}}", "apiVersion", "apps/v1", "kind",
                           "ReplicaSet", "metadata", "name", name, "namespace", ns, "labels", labels, "ownerReferences",
                           owner_ref(dep), "spec", "replicas", 0, "selector", sel, "template", tmpl);
    char rev[24];
    snprintf(rev, sizeof rev, "%ld", revision);
    object_set_annotation(rs, REVISION_KEY, rev);
    const char *cause = object_annotation(dep, "kubernetes.io/change-cause");
    if (cause) object_set_annotation(rs, "kubernetes.io/change-cause", cause);
    store_put(d->store, rs);
    json_decref(rs);
    return store_get(d->store, "ReplicaSet", ns, name);
}


static void sync_deployment(struct daemon *d, json_t *dep)
{
    char hash[16];
    deployment_template_hash(json_path(dep, "spec.template"), hash);
    json_int_t want = json_path_int(dep, "spec.replicas", 1);
    json_t *rss = owned_replicasets(d, dep);
    json_t *cur = NULL;
    long maxrev = 0;
    size_t i;
    json_t *rs;
    json_array_foreach(rss, i, rs) {
        long r = revision_of(rs);
        if (r > maxrev) maxrev = r;
        if (!strcmp(json_path_str(rs, "spec.template.metadata.labels.pod-template-hash", ""), hash)) cur = rs;
    }
    if (!cur) {
        cur = new_replicaset(d, dep, hash, maxrev + 1);
        json_array_append(rss, cur);
    } else {
        if (revision_of(cur) < maxrev) { /* an old template came back (undo): it becomes the newest revision */
            char rev[24];
            snprintf(rev, sizeof rev, "%ld", maxrev + 1);
            object_set_annotation(cur, REVISION_KEY, rev);
            store_put(d->store, cur);
        }
    }
    set_replicas(d, dep, cur, want);
    int cur_ready = (int)json_path_int(cur, "status.readyReplicas", 0);
    json_int_t total = 0, ready = 0, updated = json_path_int(cur, "status.replicas", 0);
    json_t *old_rs = json_array();
    json_array_foreach(rss, i, rs) {
        if (rs != cur) {
            json_int_t n = want - cur_ready;
            if (n < 0) n = 0;
            json_int_t have = json_path_int(rs, "spec.replicas", 0);
            if (n < have) set_replicas(d, dep, rs, n);
            if (json_path_int(rs, "spec.replicas", 0) > 0) json_array_append(old_rs, rs);
        }
        total += json_path_int(rs, "status.replicas", 0);
        ready += json_path_int(rs, "status.readyReplicas", 0);
    }
    /* Revision history: drop the oldest empty ReplicaSets past the limit. */
    json_int_t limit = json_path_int(dep, "spec.revisionHistoryLimit", 10);
    for (;;) {
        json_t *oldest = NULL;
        int empty_old = 0;
        json_array_foreach(rss, i, rs) {
            if (rs == cur || json_path_int(rs, "spec.replicas", 0) || json_path_int(rs, "status.replicas", 0)) continue;
            empty_old++;
            if (!oldest || revision_of(rs) < revision_of(oldest)) oldest = rs;
        }
        if (empty_old <= limit || !oldest) break;
        json_incref(oldest);
        store_del(d->store, "ReplicaSet", json_path_str(oldest, "metadata.namespace", ""),
                  json_path_str(oldest, "metadata.name", ""));
        size_t idx;
        json_t *x;
        json_array_foreach(rss, idx, x) if (x == oldest) { json_array_remove(rss, idx); break; }
        json_decref(oldest);
    }
    char now[32];
    time_rfc3339(time(NULL), now, sizeof now);
    json_int_t max_unavail = want / 4;
    int available = ready >= want - max_unavail;
    int complete = updated == want && json_path_int(cur, "status.readyReplicas", 0) == want && total == want;
    json_t *old_st = json_object_get(dep, "status");
    json_t *conds = json_array();
    const char *av_reason = available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable";
    const char *pr_reason = complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated";
    struct { const char *type, *status, *reason, *msg; } cs[2] = {
        {"Available", available ? "True" : "False", av_reason,
         available ? "Deployment has minimum availability." : "Deployment does not have minimum availability."},
        {"Progressing", "True", pr_reason, NULL},
    };
    char prmsg[512];
    snprintf(prmsg, sizeof prmsg, complete ? "ReplicaSet \"%s\" has successfully progressed." : "ReplicaSet \"%s\" is progressing.",
             json_path_str(cur, "metadata.name", ""));
    cs[1].msg = prmsg;
    for (int k = 0; k < 2; k++) {
        const char *since = now;
        size_t j;
        json_t *c;
        json_array_foreach(json_path(old_st, "conditions"), j, c) {
            if (!strcmp(json_path_str(c, "type", ""), cs[k].type) && !strcmp(json_path_str(c, "status", ""), cs[k].status) &&
                !strcmp(json_path_str(c, "reason", ""), cs[k].reason))
                since = json_path_str(c, "lastTransitionTime", now);
        }
        json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", cs[k].type, "status",
                                               cs[k].status, "reason", cs[k].reason, "message", cs[k].msg,
                                               "lastUpdateTime", since, "lastTransitionTime", since));
    }
    json_t *st = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "observedGeneration",
                           json_path_int(dep, "metadata.generation", 1), "replicas", total, "updatedReplicas", updated,
                           "readyReplicas", ready, "availableReplicas", ready, "unavailableReplicas",
                           total - ready > 0 ? total - ready : (want - ready > 0 ? want - ready : 0), "conditions", conds);
    const char *rev = object_annotation(cur, REVISION_KEY);
    int dirty = 0;
    if (rev && (!object_annotation(dep, REVISION_KEY) || strcmp(object_annotation(dep, REVISION_KEY), rev))) {
        object_set_annotation(dep, REVISION_KEY, rev);
        dirty = 1;
    }
    if (!json_same(st, old_st)) {
        json_object_set_new(dep, "status", st);
        dirty = 1;
    } else {
        json_decref(st);
    }
    if (dirty) store_put(d->store, dep);
    json_decref(old_rs);
    json_decref(rss);
}

/* Objects whose controlling owner is gone go too (cascading delete). */
static void collect_garbage(struct daemon *d, const char *kind)
{
    json_t *all = store_list(d->store, kind, NULL);
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) {
        json_t *ref = json_array_get(json_path(obj, "metadata.ownerReferences"), 0);
        if (!ref) continue;
        const char *okind = json_path_str(ref, "kind", "");
        json_t *owner = store_get(d->store, okind, json_path_str(obj, "metadata.namespace", ""), json_path_str(ref, "name", ""));
        if (owner && !strcmp(json_path_str(owner, "metadata.uid", ""), json_path_str(ref, "uid", ""))) continue;
        if (!strcmp(kind, "Pod")) delete_pod(d, obj);
        else store_del(d->store, kind, json_path_str(obj, "metadata.namespace", ""), json_path_str(obj, "metadata.name", ""));
    }
    json_decref(all);
}

/* Namespaces being deleted: delete everything in them, then themselves. */
static void sync_namespaces(struct daemon *d)
{
    static const char *kinds[] = {"Deployment", "ReplicaSet", "Service", "Endpoints", "ConfigMap", "Secret", "Event"};
    json_t *nss = store_list(d->store, "Namespace", NULL);
    size_t i;
    json_t *ns;
    json_array_foreach(nss, i, ns) {
        if (!json_path(ns, "metadata.deletionTimestamp")) continue;
        const char *name = json_path_str(ns, "metadata.name", "");
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            json_t *objs = store_list(d->store, kinds[k], name);
            size_t j;
            json_t *o;
            json_array_foreach(objs, j, o) store_del(d->store, kinds[k], name, json_path_str(o, "metadata.name", ""));
            json_decref(objs);
        }
        json_t *pods = store_list(d->store, "Pod", name);
        size_t j;
        json_t *pod;
        json_array_foreach(pods, j, pod) delete_pod(d, pod);
        size_t left = json_array_size(pods);
        json_decref(pods);
        if (!left) store_del(d->store, "Namespace", NULL, name);
        else daemon_wake_in(d, 200);
    }
    json_decref(nss);
}

void deployment_sync(struct daemon *d)
{
    sync_namespaces(d);
    collect_garbage(d, "ReplicaSet");
    collect_garbage(d, "Pod");
    json_t *deps = store_list(d->store, "Deployment", NULL);
    size_t i;
    json_t *dep;
    json_array_foreach(deps, i, dep) sync_deployment(d, dep);
    json_decref(deps);
    json_t *rss = store_list(d->store, "ReplicaSet", NULL);
    json_t *rs;
    json_array_foreach(rss, i, rs) sync_replicaset(d, rs);
    json_decref(rss);
}

int deployment_restart(struct daemon *d, json_t *dep, char *err, size_t errlen)
{
    (void)d;
    if (json_is_true(json_path(dep, "spec.paused"))) {
        snprintf(err, errlen, "can't restart paused deployment (run rollout resume first)");
        return -EINVAL;
    }
    char now[32];
    time_rfc3339(time(NULL), now, sizeof now);
    json_object_set_new(json_path_obj(dep, "spec.template.metadata.annotations"), "kubectl.kubernetes.io/restartedAt",
                        json_string(now));
    return 0;
}

int deployment_undo(struct daemon *d, json_t *dep, long to_revision, char *err, size_t errlen)
{
    json_t *rss = owned_replicasets(d, dep);
    long cur = revision_of(dep);
    json_t *target = NULL;
    long best = 0;
    size_t i;
    json_t *rs;
    json_array_foreach(rss, i, rs) {
        long r = revision_of(rs);
        if (to_revision > 0 ? r == to_revision : (r < cur && r > best)) {
            target = rs;
            best = r;
        }
    }
    if (!target) {
        json_decref(rss);
        if (to_revision > 0) snprintf(err, errlen, "unable to find specified revision %ld in history", to_revision);
        else snprintf(err, errlen, "no rollout history found for deployment \"%s\"", json_path_str(dep, "metadata.name", ""));
        return -ENOENT;
    }
    json_t *tmpl = json_deep_copy(json_path(target, "spec.template"));
    json_t *labels = json_path(tmpl, "metadata.labels");
    if (json_is_object(labels)) json_object_del(labels, "pod-template-hash");
    json_object_set_new(json_path_obj(dep, "spec"), "template", tmpl);
    json_decref(rss);
    return 0;
}
