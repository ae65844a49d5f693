/* aci: the Agent-Cloud-Interface — the actions an agent may take, with
 * AIOpsLab's names, signatures and docstrings, and their execution
 * against the live lab. Every action's output is bounded; a failed or
 * invalid action comes back as an observation that says what was wrong
 * and how to call it right. Nothing an action returns reveals the
 * injected fault: telemetry, the cluster's objects and a sandboxed shell
 * (shell.h) are all there is. */
#ifndef ORCHESTRATOR_ACI_H
#define ORCHESTRATOR_ACI_H
#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/lab.h"
#include "orchestrator/action.h"
#include "orchestrator/problem.h"
#include "orchestrator/shell.h"

#define ACI_OUTPUT_MAX (16 * 1024) /* an observation is cut here, saying so */

struct aci {
    const struct lab *lab;
    const struct problem *problem;
    char workdir[4096]; /* the session's folder the agent may read (metrics and trace CSVs) */
    unsigned shell_timeout_max; /* seconds */
    struct shell_env shell;     /* exec_shell's sandbox */
};

/* The action table of a task: the common actions and that task's submit. */
const struct action_spec *aci_actions(enum task t, size_t *n);
/* The documented action list for the prompt (AIOpsLab's shape). New string. */
char *aci_describe(enum task t);

enum aci_result { ACI_OBSERVATION, ACI_SUBMITTED, ACI_INVALID };

/* Run one agent reply: parse, bind, execute. The observation (or error)
 * goes to out; on ACI_SUBMITTED, *submission gets the bound arguments of
 * submit (new reference) and *call_out the action's name and arguments. */
enum aci_result aci_step(struct aci *a, const char *reply, size_t len, struct buf *out, json_t **submission,
                         json_t **action_out);

#endif
