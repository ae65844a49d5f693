/* applyset: `kubectl apply` semantics in the daemon — the three-way merge
 * of the live object, the configuration last applied (kept, as kubectl
 * keeps it, in the annotation kubectl.kubernetes.io/last-applied-
 * configuration) and the new configuration. A field the last
 * configuration had and the new one lacks is removed; fields nobody
 * applied (set by controllers or by kubectl patch, such as a rollout's
 * restartedAt) are kept; maps merge, lists are replaced. */
#ifndef CLUSTER_APPLYSET_H
#define CLUSTER_APPLYSET_H
#include <jansson.h>

#define APPLYSET_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

/* The object to store for an apply of in: live is the stored object or
 * NULL. Returns a new reference; in and live are not modified. */
json_t *applyset_merge(const json_t *live, const json_t *in);

#endif
