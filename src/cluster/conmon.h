/* conmon: the per-container monitor (`aiopslab __conmon ...`), one process
 * per container run, independent of the daemon. See docs/conmon.md. */
#ifndef CLUSTER_CONMON_H
#define CLUSTER_CONMON_H

int conmon_main(int argc, char **argv);

#endif
