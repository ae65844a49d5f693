/* shell: exec_shell's sandbox — the agent's non-interactive shell, from
 * which nothing reveals the problem or the injected fault (docs/aci.md).
 *
 * The command runs under /bin/sh in namespaces of its own:
 *   - a PID namespace with a fresh /proc: the agent sees its own processes
 *     only (not the orchestrator's, the faults' or the lab's command lines);
 *   - a mount namespace in which the lab's private parts are empty
 *     (the fault journal, the daemon's state database, the mesh's routes
 *     and rules, the lab's own logs, the problems and results, the source
 *     tree's history), and the daemon's socket is the agents' socket, which
 *     refuses the mesh's rules;
 *   - as root, the shell runs as nobody (65534) with no new privileges;
 *     otherwise in a user namespace with every capability dropped, so
 *     nothing it runs can undo the mounts;
 *   - an environment of PATH (kubectl first), HOME (the session's folder),
 *     LANG and the lab's name — nothing of the problem.
 * Machines without namespaces refuse to run the shell rather than run it
 * in the open. AIOpsLab's refused commands are refused before anything
 * runs (kubectl edit, port-forward, attach, logs -f, get -w). */
#ifndef ORCHESTRATOR_SHELL_H
#define ORCHESTRATOR_SHELL_H
#include <limits.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/lab.h"

struct shell_env {
    const struct lab *lab;
    const char *bindir;  /* holds kubectl and aiopslab */
    const char *workdir; /* the session's folder: HOME and the cwd */
    const char *hide[16]; /* further folders to empty (problems, results, the source tree's .git) */
    size_t nhide;
};

/* The confinement itself, reusable for other processes an agent controls
 * (an external agent's own process runs in it too). Prepared in the
 * parent (no allocation or formatting is left for the child), entered in
 * the child between fork and exec: shell_confine_enter(&conf, ...) returns
 * in a new process (the PID namespace's first) or fails with err. */
struct shell_confine {
    char sock[PATH_MAX], agent_sock[PATH_MAX];
    char hidden[24][PATH_MAX];
    size_t nhidden;
    char uid_map[64], gid_map[64];
};
void shell_confine_init(struct shell_confine *c, const struct shell_env *e);
int shell_confine_enter(void *conf, char *err, size_t errlen);

/* A refused command: the reason (static text), or NULL when allowed. */
const char *shell_refused(const char *command);
/* Run command. The observation (output, or why it did not run) in out.
 * 0, or -1 when the sandbox could not be made (out says why). */
int shell_run(const struct shell_env *e, const char *command, unsigned timeout_ms, size_t max_out, struct buf *out,
              int *status);

#endif
