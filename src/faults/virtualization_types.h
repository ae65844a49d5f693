/* virtualization_types: the Virtualization layer's fault types defined
 * outside virtualization.c, which lists them all for the registry. */
#ifndef FAULTS_VIRTUALIZATION_TYPES_H
#define FAULTS_VIRTUALIZATION_TYPES_H
#include "faults/fault.h"

/* virtualization_pods.c: the pod template */
extern const struct fault_type virt_node_selector_missing;
extern const struct fault_type virt_wrong_command;
extern const struct fault_type virt_bad_env;
extern const struct fault_type virt_liveness_probe_misconfig;
extern const struct fault_type virt_readiness_probe_failing;
extern const struct fault_type virt_memory_limit_oom;
extern const struct fault_type virt_cpu_limit_throttle;
extern const struct fault_type virt_bad_rollout;
/* virtualization_config.c: ConfigMaps and Secrets, then a restart */
extern const struct fault_type virt_bad_configmap_value;
extern const struct fault_type virt_wrong_secret;

#endif
