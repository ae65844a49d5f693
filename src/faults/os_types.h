/* os_types: the Operating System layer's fault types defined outside os.c
 * (os.c lists them all in fault_types_os). */
#ifndef FAULTS_OS_TYPES_H
#define FAULTS_OS_TYPES_H
#include "faults/fault.h"

extern const struct fault_type cpu_contention;         /* os_hogs.c */
extern const struct fault_type memory_leak;            /* os_hogs.c */
extern const struct fault_type thread_pool_exhaustion; /* os_hogs.c */
extern const struct fault_type clock_skew;             /* os_clock.c */

#endif
