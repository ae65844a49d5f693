/* manifest: what aiopslab accepts as a Kubernetes object (the documented
 * subset, docs/manifests.md). Used by kubectl before sending and by the
 * daemon on every object it receives or produces by a patch.
 * Fields aiopslab does not act on are allowed and kept. */
#ifndef CLUSTER_MANIFEST_H
#define CLUSTER_MANIFEST_H
#include <jansson.h>
#include <stddef.h>

/* Kinds aiopslab keeps: "Namespace", "Pod", "Deployment", "ReplicaSet",
 * "Service", "Endpoints", "ConfigMap", "Secret", "Event". */
int manifest_kind_known(const char *kind);

/* Validate one object. 0, or -EINVAL with err "FIELD: message", FIELD a
 * path such as spec.template.spec.containers[0].ports[0].containerPort,
 * and *bad (if non-NULL) set to the offending node (borrowed) or to obj
 * itself, so a caller holding the YAML can give its line. */
int manifest_validate(const json_t *obj, char *err, size_t errlen, const json_t **bad);

/* Resource names as kubectl accepts them ("po", "pods", "pod", "deploy",
 * "deployments.apps", "svc", "ep", "cm", "secret", "ns", "rs", "ev", ...)
 * to a kind; NULL when unknown. */
const char *manifest_kind_of_resource(const char *resource);
/* The plural lower-case resource of a kind ("Pod" -> "pods"), as used in
 * kubectl's messages: `pods "x" not found`. */
const char *manifest_resource_of_kind(const char *kind);
/* Whether objects of the kind live in a namespace. */
int manifest_kind_namespaced(const char *kind);

/* Kubernetes quantities. CPU ("500m", "1", "0.5", "2e-1") to millicores,
 * rounded up as Kubernetes does; memory ("64Mi", "1G", "128974848",
 * "129e6") to bytes, rounded up. 0, or -EINVAL for a malformed or negative
 * quantity (-ERANGE when it does not fit); the out-parameter is set only
 * on success. */
int manifest_parse_cpu(const char *s, long *millis);
int manifest_parse_memory(const char *s, long long *bytes);

#endif
