/* client: talk to a lab's cluster daemon.
 *
 * Protocol (docs/daemon-api.md has the full list): the client connects to
 * the Unix socket LABDIR/daemon.sock, writes one JSON object and a newline,
 * and reads one JSON object and a newline back; then the connection closes.
 * Requests are at most CLUSTER_API_MAX bytes. A request is {"op": ..., ...}.
 * A reply is either a result object or {"error": {"code": 404, "reason":
 * "NotFound", "message": "pods \"x\" not found"}}, with kubectl's reasons
 * and message texts.
 *
 * Ops (kinds are Kubernetes kinds: "Pod", "Deployment", "ReplicaSet",
 * "Service", "Endpoints", "ConfigMap", "Secret", "Event", "Namespace"):
 *   {"op":"get","kind":K,"namespace":NS|null,"name":N|null,"selector":"a=b,c!=d"|null}
 *        -> {"items":[obj,...]}   (namespace null: all namespaces)
 *   {"op":"apply","objects":[obj,...],"create":false}
 *        -> {"results":[{"kind","namespace","name","action":"created|configured|unchanged"}]}
 *           (create:true refuses objects that exist, as kubectl create does)
 *   {"op":"delete","kind":K,"namespace":NS,"name":N}          -> {"deleted":obj}
 *   {"op":"patch","kind":K,"namespace":NS,"name":N,"type":"json|merge|strategic","patch":P}
 *        -> {"object":obj}
 *   {"op":"scale","namespace":NS,"name":N,"replicas":R}        -> {"object":deployment}
 *   {"op":"rollout","action":"restart|undo","namespace":NS,"name":N,"toRevision":0}
 *        -> {"object":deployment}
 *   {"op":"status"} -> {"lab","net","pid","pods","limits":"cgroup-v1|cgroup-v2|poll",...}
 *   {"op":"shutdown","stopPods":true} -> {} (the daemon exits after replying)
 *   {"op":"mesh-rule","action":"add|delete|list",...} -> see docs/daemon-api.md
 */
#ifndef CLUSTER_CLIENT_H
#define CLUSTER_CLIENT_H
#include <jansson.h>
#include <stddef.h>

#include "core/lab.h"

#define CLUSTER_API_MAX (16u << 20)

/* Send req (borrowed) and return the reply (new reference) in *reply.
 * 0, -ECONNREFUSED/-ENOENT when no daemon runs, or another negative errno;
 * err says what happened. A reply holding "error" is still success here. */
int cluster_call(const struct lab *lab, json_t *req, json_t **reply, char *err, size_t errlen);

#endif
