/* service: Services, their ClusterIPs and Endpoints, and the routes the
 * mesh proxies by. Endpoints hold the pods a Service's selector matches,
 * ready ones in addresses and the rest in notReadyAddresses, exactly as
 * the endpoints controller keeps them; the mesh gets the ready ones, with
 * each Service port's targetPort resolved per pod (a named targetPort
 * resolves through the pod's container ports). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/daemon.h"
#include "cluster/object.h"
#include "cluster/podspec.h"
#include "cluster/selector.h"
#include "core/alloc.h"
#include "core/json.h"

int service_assign_ip(struct daemon *d, json_t *svc, const json_t *old, char *err, size_t errlen)
{
    /* The API server's defaults, on every write, so a re-apply is "unchanged". */
    if (!json_path(svc, "spec.type")) json_path_set(svc, "spec.type", json_string("ClusterIP"));
    if (!json_path(svc, "spec.sessionAffinity")) json_path_set(svc, "spec.sessionAffinity", json_string("None"));
    size_t k;
    json_t *p;
    json_array_foreach(json_path(svc, "spec.ports"), k, p) {
        if (!json_object_get(p, "protocol")) json_object_set_new(p, "protocol", json_string("TCP"));
        if (!json_object_get(p, "targetPort")) json_object_set(p, "targetPort", json_object_get(p, "port"));
    }
    const char *want = json_path_str(svc, "spec.clusterIP", NULL);
    const char *had = old ? json_path_str(old, "spec.clusterIP", NULL) : NULL;
    if (had) {
        if (want && strcmp(want, had)) {
            snprintf(err, errlen, "spec.clusterIP: Invalid value: \"%s\": field is immutable", want);
            return -EINVAL;
        }
        json_path_set(svc, "spec.clusterIP", json_string(had));
        json_path_set(svc, "spec.clusterIPs", json_pack("[s]", had));
        return 0;
    }
    if (want && !strcmp(want, "None")) return 0;
    unsigned char *used = xcalloc(LAB_SERVICE_IPS, 1);
    json_t *all = store_list(d->store, "Service", NULL);
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s) {
        int idx = lab_service_index(&d->lab, json_path_str(s, "spec.clusterIP", ""));
        if (idx >= 0 && idx < LAB_SERVICE_IPS) used[idx] = 1;
    }
    json_decref(all);
    int rc = 0;
    char ip[16];
    if (want && *want) {
        int idx = lab_service_index(&d->lab, want);
        if (idx < 0 || idx >= LAB_SERVICE_IPS) {
            char lo[16], hi[16];
            lab_service_ip(&d->lab, 0, lo, sizeof lo);
            lab_service_ip(&d->lab, LAB_SERVICE_IPS - 1, hi, sizeof hi);
            snprintf(err, errlen, "spec.clusterIP: Invalid value: \"%s\": provided IP is not in the valid range. "
                     "The range of valid IPs is %s-%s", want, lo, hi);
            rc = -EINVAL;
        } else if (used[idx]) {
            snprintf(err, errlen, "spec.clusterIP: Invalid value: \"%s\": provided IP is already allocated", want);
            rc = -EINVAL;
        }
        snprintf(ip, sizeof ip, "%s", want);
    } else {
        /* Start from a hash of the name so that a Service keeps its IP
         * across redeploys when nothing else took it. */
        const char *name = json_path_str(svc, "metadata.name", "");
        unsigned h = 5381;
        for (const char *p = name; *p; p++) h = h * 33 + (unsigned char)*p;
        for (const char *p = json_path_str(svc, "metadata.namespace", ""); *p; p++) h = h * 33 + (unsigned char)*p;
        rc = -ENOSPC;
        for (unsigned k = 0; k < LAB_SERVICE_IPS; k++) {
            unsigned idx = (h + k) % LAB_SERVICE_IPS;
            if (!used[idx]) {
                lab_service_ip(&d->lab, idx, ip, sizeof ip);
                rc = 0;
                break;
            }
        }
        if (rc) snprintf(err, errlen, "failed to allocate a serviceIP: range is full");
    }
    free(used);
    if (rc) return rc;
    json_path_set(svc, "spec.clusterIP", json_string(ip));
    json_path_set(svc, "spec.clusterIPs", json_pack("[s]", ip));
    return 0;
}

/* The workload name of a pod: its app label, else its owner's owner's name. */
static const char *workload_of(struct daemon *d, const json_t *pod)
{
    const char *app = json_path_str(pod, "metadata.labels.app", NULL);
    if (app) return app;
    json_t *ref = json_array_get(json_path(pod, "metadata.ownerReferences"), 0);
    if (!ref) return json_path_str(pod, "metadata.name", "");
    json_t *rs = store_get(d->store, json_path_str(ref, "kind", ""), json_path_str(pod, "metadata.namespace", ""),
                           json_path_str(ref, "name", ""));
    json_t *dref = rs ? json_array_get(json_path(rs, "metadata.ownerReferences"), 0) : NULL;
    return dref ? json_path_str(dref, "name", "") : json_path_str(ref, "name", "");
}

static void sync_service(struct daemon *d, json_t *svc, json_t *routes)
{
    const char *ns = json_path_str(svc, "metadata.namespace", "default");
    const char *name = json_path_str(svc, "metadata.name", "");
    json_t *sel = json_path(svc, "spec.selector");
    json_t *rsvc = json_pack("{s:s, s:s, s:s, s:[]}", "namespace", ns, "name", name, "clusterIP",
                             json_path_str(svc, "spec.clusterIP", ""), "ports");
    json_t *rports = json_object_get(rsvc, "ports");
    json_t *pods = store_list(d->store, "Pod", ns);
    json_t *subsets = json_array();
    size_t i, j;
    json_t *sp, *pod;
    json_array_foreach(json_path(svc, "spec.ports"), i, sp) {
        json_t *target = json_path(sp, "targetPort");
        if (!target) target = json_path(sp, "port");
        json_t *eps = json_array();
        json_t *ready = json_array(), *notready = json_array();
        int port_num = 0;
        json_array_foreach(pods, j, pod) {
            if (!sel || !selector_match_map(sel, json_path(pod, "metadata.labels"))) continue;
            const char *ip = json_path_str(pod, "status.podIP", NULL);
            if (!ip || json_path(pod, "metadata.deletionTimestamp")) continue;
            int port = podspec_port(pod, target);
            if (!port) continue;
            port_num = port;
            json_t *addr = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "ip", ip, "nodeName", DAEMON_NODE_NAME,
                                     "targetRef", "kind", "Pod", "name", json_path_str(pod, "metadata.name", ""),
                                     "namespace", ns, "uid", json_path_str(pod, "metadata.uid", ""));
            if (object_pod_ready(pod)) {
                json_array_append_new(ready, addr);
                json_array_append_new(eps, json_pack("{s:s, s:i, s:s}", "ip", ip, "port", port, "pod",
                                                     json_path_str(pod, "metadata.name", "")));
            } else {
                json_array_append_new(notready, addr);
            }
        }
        json_array_append_new(rports, json_pack("{s:s?, s:I, s:o}", "name", json_path_str(sp, "name", NULL), "port",
                                                json_path_int(sp, "port", 0), "endpoints", eps));
        if (json_array_size(ready) + json_array_size(notready)) {
            json_t *subset = json_object();
            if (json_array_size(ready)) json_object_set(subset, "addresses", ready);
            if (json_array_size(notready)) json_object_set(subset, "notReadyAddresses", notready);
            json_t *port = json_pack("{s:i, s:s}", "port", port_num, "protocol", json_path_str(sp, "protocol", "TCP"));
            if (json_path_str(sp, "name", NULL)) json_object_set_new(port, "name", json_string(json_path_str(sp, "name", "")));
            json_object_set_new(subset, "ports", json_pack("[o]", port));
            json_array_append_new(subsets, subset);
        }
        json_decref(ready);
        json_decref(notready);
    }
    json_decref(pods);
    json_array_append_new(json_object_get(routes, "services"), rsvc);
    if (!sel) { /* a Service without selector keeps the Endpoints the user wrote */
        json_decref(subsets);
        return;
    }
    json_t *ep = store_get(d->store, "Endpoints", ns, name);
    json_t *have = json_object_get(ep, "subsets");
    if (ep && (json_same(have, subsets) || (!have && json_array_size(subsets) == 0))) {
        json_decref(subsets);
        return;
    }
    json_t *obj = ep ? json_deep_copy(ep)
                     : json_pack("{s:s, s:s, s:{s:s, s:s, s:O}}", "apiVersion", "v1", "kind", "Endpoints", "metadata",
                                 "name", name, "namespace", ns, "labels",
                                 json_path(svc, "metadata.labels") ? json_path(svc, "metadata.labels") : json_null());
    if (json_is_null(json_path(obj, "metadata.labels"))) json_object_del(json_path(obj, "metadata"), "labels");
    if (json_array_size(subsets)) json_object_set(obj, "subsets", subsets);
    else json_object_del(obj, "subsets");
    json_decref(subsets);
    store_put(d->store, obj);
    json_decref(obj);
}

void service_sync(struct daemon *d)
{
    json_t *routes = json_pack("{s:[], s:[], s:[]}", "services", "pods", "rules");
    json_t *svcs = store_list(d->store, "Service", NULL);
    size_t i;
    json_t *svc;
    json_array_foreach(svcs, i, svc) sync_service(d, svc, routes);
    json_decref(svcs);
    json_t *pods = store_list(d->store, "Pod", NULL);
    json_t *pod;
    json_array_foreach(pods, i, pod) {
        const char *ip = json_path_str(pod, "status.podIP", NULL);
        if (!ip) continue;
        json_array_append_new(json_object_get(routes, "pods"),
                              json_pack("{s:s, s:s, s:s, s:s}", "ip", ip, "namespace",
                                        json_path_str(pod, "metadata.namespace", ""), "name",
                                        json_path_str(pod, "metadata.name", ""), "workload", workload_of(d, pod)));
    }
    json_decref(pods);
    meshctl_update(d, routes);
}
