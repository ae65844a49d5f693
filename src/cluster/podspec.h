/* podspec: turn a pod's container spec into what conmon runs — the
 * environment (Kubernetes service variables, env with valueFrom, the
 * shim's variables), the argv with $(VAR) expansion, the working
 * directory, and the pod's volumes on disk. Errors are the container
 * config errors kubelet reports (CreateContainerConfigError). */
#ifndef CLUSTER_PODSPEC_H
#define CLUSTER_PODSPEC_H
#include <jansson.h>
#include <stddef.h>

#include "cluster/daemon.h"

/* Build the spec.json object for one container run. pod is the stored Pod,
 * ctr its container spec, root the pod's root directory. 0, or -EINVAL
 * with err holding kubelet's message (e.g. `configmap "x" not found`). */
int podspec_build(struct daemon *d, const json_t *pod, const json_t *ctr, const char *root, json_t **spec,
                  char *err, size_t errlen);
/* Materialise the pod's volumes under its directory and link each mount
 * path into root. 0, or -EINVAL with kubelet's FailedMount message. */
int podspec_volumes(struct daemon *d, const json_t *pod, const char *poddir, char *err, size_t errlen);
/* Bring the pod's ConfigMap and Secret volumes up to date with their
 * sources, as kubelet's sync does: a volume whose source's version
 * (uid/resourceVersion) differs from the one recorded in versions (an
 * object of volume name -> version, owned by the caller, empty at first)
 * is written anew and swapped in atomically (..data), when its files
 * changed. Returns how many volumes changed, or -EINVAL with kubelet's
 * FailedMount message (the old files stay; the failed version is
 * recorded, so it is not tried again until the source changes). */
int podspec_refresh_volumes(struct daemon *d, const json_t *pod, const char *poddir, json_t *versions, char *err,
                            size_t errlen);
/* A container's port by name ("http") or number text; 0 when unknown. */
int podspec_port(const json_t *pod, const json_t *port);

#endif
