/* cluster: the entry to the cluster daemon for the command line. */
#ifndef CLUSTER_CLUSTER_H
#define CLUSTER_CLUSTER_H
#include <stddef.h>

#include "core/lab.h"

/* Run the daemon of lab in this process until it is told to stop.
 * 0, or -errno with err filled (e.g. -EBUSY when one already runs). */
int daemon_run(const struct lab *lab, char *err, size_t errlen);

#endif
