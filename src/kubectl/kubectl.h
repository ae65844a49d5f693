/* kubectl: a kubectl-compatible command line over the lab's cluster.
 * argv[0] is "kubectl" (or "kubectl" as a subcommand of aiopslab). Returns
 * the exit status: 0, or 1 on any error, with kubectl's error texts. */
#ifndef KUBECTL_KUBECTL_H
#define KUBECTL_KUBECTL_H

int kubectl_main(int argc, char **argv);

#endif
