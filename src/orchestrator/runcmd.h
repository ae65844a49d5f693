/* runcmd: run a program for an action — no shell unless asked, stdin from
 * /dev/null, stdout and stderr captured together up to a bound (the rest
 * is drained and counted, never kept), a timeout after which the whole
 * process group is killed. An optional hook runs in the child before exec
 * (the shell sandbox sets itself up there). */
#ifndef ORCHESTRATOR_RUNCMD_H
#define ORCHESTRATOR_RUNCMD_H
#include <stddef.h>

#include "core/buf.h"

struct runcmd_result {
    int status;        /* exit code, 128+N for signal N, -1 when it could not run */
    int timed_out;     /* killed at the timeout */
    size_t dropped;    /* output bytes past the bound */
};

/* argv[0] is looked up in PATH of envp (NULL: the caller's environment).
 * hook(arg) runs in the child; a non-zero return ends the child with 126
 * after writing its message (hook's err) to the output. */
int runcmd(char *const argv[], char *const envp[], const char *cwd, unsigned timeout_ms, size_t max_out,
           int (*hook)(void *arg, char *err, size_t errlen), void *hook_arg, struct buf *out,
           struct runcmd_result *res);

#endif
