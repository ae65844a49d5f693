/* paths: where a pod's files live in the lab directory. Shared by the
 * daemon, conmon and kubectl (which reads logs directly from the files).
 *   LABDIR/pods/<uid>/root                       the pod's root: cwd, volumes
 *   LABDIR/pods/<uid>/containers/<c>/<restart>/  one container run (conmon's RUNDIR)
 */
#ifndef CLUSTER_PATHS_H
#define CLUSTER_PATHS_H
#include <stdio.h>

#include "core/lab.h"

static inline int cluster_pod_dir(const struct lab *lab, const char *uid, char *out, size_t n)
{
    return snprintf(out, n, "%s/pods/%s", lab->dir, uid) >= (int)n ? -1 : 0;
}

static inline int cluster_run_dir(const struct lab *lab, const char *uid, const char *container, int restart,
                                  char *out, size_t n)
{
    return snprintf(out, n, "%s/pods/%s/containers/%s/%d", lab->dir, uid, container, restart) >= (int)n ? -1 : 0;
}
#endif
