/* snapshot: what "nothing was broken" means for the mitigation oracle —
 * the app's Deployments (replicas, pod template), Services (ports,
 * selector), ConfigMaps and Secrets (data), normalized (no status, uids,
 * versions, restart annotations), taken before the fault and compared
 * after the agent's fix. Objects the fault itself concerns (its entities)
 * may differ: the fault's own check judges those. */
#ifndef ORCHESTRATOR_SNAPSHOT_H
#define ORCHESTRATOR_SNAPSHOT_H
#include <jansson.h>
#include <stddef.h>

#include "core/lab.h"

/* {"Kind/name": normalized object} of namespace ns, or NULL with err. */
json_t *snapshot_take(const struct lab *lab, const char *ns, char *err, size_t errlen);
/* The differences between before and after that are not on an allowed
 * name (entities: array of "ns/name"), as a JSON array of texts such as
 * "Deployment/user-service: spec.replicas 1 -> 0". */
json_t *snapshot_diff(const json_t *before, const json_t *after, const json_t *entities);

#endif
