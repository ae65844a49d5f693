/* virtualization_util: what the Virtualization faults that change a
 * Deployment's pod template (or the ConfigMaps and Secrets its pods read)
 * share: saving the Deployment whole and restoring it exactly, changing
 * its template, and telling the pods of the new revision from the old
 * ones and a failing pod from one that is merely starting.
 *
 * Our Deployment controller rolls out as Kubernetes does for a
 * one-replica Deployment with the default strategy (maxSurge 25% rounds
 * up to 1, maxUnavailable 25% rounds down to 0): the old pods go only as
 * new ones turn Ready. A template fault whose pods never turn Ready
 * therefore leaves the old pods serving and the rollout stuck; one whose
 * pods do turn Ready (a cpu limit, a liveness probe that fails later)
 * replaces them.
 *
 * Convention: 0 or -1 with c->err, unless said otherwise. */
#ifndef FAULTS_VIRTUALIZATION_UTIL_H
#define FAULTS_VIRTUALIZATION_UTIL_H
#include <jansson.h>

#include "faults/fault.h"

/* The target Deployment, refused (NULL with c->err) when its pods keep
 * data in an emptyDir volume: a new revision's pod starts with an empty
 * one, so a fault that replaces the pods would lose the store's data. */
json_t *virt_stateless_deployment(struct fault_ctx *c, const char *name);
/* Save Deployment dep whole in c->state[key] and write the journal. */
int virt_save_deployment(struct fault_ctx *c, const char *key, const json_t *dep);
/* Put Deployment `name` back as saved (its spec and annotations, exactly;
 * the controller's revision annotation stays live's): a JSON patch, so
 * that fields the fault added go too. Recreated when it was deleted. */
int virt_restore_deployment(struct fault_ctx *c, const char *name, const json_t *saved);
/* Undo a `rollout restart` of Deployment `name` only: its template's
 * annotations back as saved, the rest as it is now (another fault's
 * change to the same Deployment stays its own to undo). Recreated whole
 * when it was deleted. */
int virt_restore_restart(struct fault_ctx *c, const char *name, const json_t *saved);
/* Replace the Deployment's pod template (borrowed). */
int virt_set_template(struct fault_ctx *c, const char *name, const json_t *tmpl);
/* Container `name` of a pod template (or the first when name is NULL or
 * empty); NULL with c->err. Borrowed from tmpl. */
json_t *virt_template_container(struct fault_ctx *c, json_t *tmpl, const char *name);
/* The pods of the Deployment's current template (not being deleted), or
 * NULL while the controller has not made its ReplicaSet yet. New array. */
json_t *virt_current_pods(struct fault_ctx *c, const char *name);
/* 1 when the pod fails the way an SRE sees it in `kubectl get pods` and
 * its events: unschedulable, restarted, waiting in CrashLoopBackOff /
 * RunContainerError / CreateContainerConfigError, or not Ready after at
 * least five failed readiness or liveness probes, or ten startup probes. */
int virt_pod_failing(struct fault_ctx *c, const json_t *pod);
/* 1 when a pod of the Deployment's current template fails. */
int virt_rollout_failing(struct fault_ctx *c, const char *name);
/* 1 when the rollout is complete: every pod of the Deployment is of the
 * current template and Ready, and there are spec.replicas of them. */
int virt_rollout_complete(struct fault_ctx *c, const char *name);

/* ---- mitigation checks (fixed()) ------------------------------------------ */

/* Pure: 1 when a Deployment object (as read) has finished rolling out and
 * serves: at least one replica wanted, its status observed for the
 * current generation, and updatedReplicas == replicas == readyReplicas ==
 * spec.replicas. Scaled to zero is never serving. */
int virt_deployment_serving(const json_t *dep);
/* 1 when Service `name` has ready endpoint addresses and each accepts a
 * TCP connection on the endpoints' port; 0 when not (no Service, no
 * ready address, refused, timed out). */
int virt_service_accepts(struct fault_ctx *c, const char *name);
/* 1 when Deployment `name` serves (virt_deployment_serving) and, when a
 * Service of the same name exists, it accepts connections; 0 when the
 * Deployment is gone or does not serve; -1 on an API error. */
int virt_target_serves(struct fault_ctx *c, const char *name);
/* 1 when the container processes of every pod of Deployment `dep`'s
 * current template have environment variable var set to value (what
 * they read at start), and there is at least one such pod; 0 when not
 * or a process cannot be read. */
int virt_pods_env_is(struct fault_ctx *c, const char *dep, const char *var, const char *value);

#endif
