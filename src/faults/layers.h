/* layers: each layer's file lists its fault types (NULL-terminated). */
#ifndef FAULTS_LAYERS_H
#define FAULTS_LAYERS_H
#include "faults/fault.h"

extern const struct fault_type *const fault_types_hardware[];       /* hardware.c */
extern const struct fault_type *const fault_types_os[];             /* os.c */
extern const struct fault_type *const fault_types_network[];        /* network.c */
extern const struct fault_type *const fault_types_virtualization[]; /* virtualization.c */
extern const struct fault_type *const fault_types_middleware[];     /* middleware.c */
extern const struct fault_type *const fault_types_application[];    /* application.c */
extern const struct fault_type *const fault_types_workload[];       /* workload.c */

#endif
