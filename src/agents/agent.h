/* agent: what the orchestrator talks to. An agent gets text and answers
 * text, as AIOpsLab's agents do (get_action(input) -> str): first the
 * problem's prompt, then each observation followed by "Please take the
 * next action". It never sees the problem's definition or ground truth.
 *
 * Built in: baseline (rules over the ACI, a floor), replay (a recorded
 * trajectory); external: any program speaking JSON lines on stdin/stdout
 * (docs/agent-protocol.md). */
#ifndef AGENTS_AGENT_H
#define AGENTS_AGENT_H
#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"

struct agent {
    char name[64];
    void *impl;
    /* The next reply to input into reply. 0, or -1 with err: the agent
     * crashed, hung, flooded or broke the protocol (the session ends with
     * that reason). */
    int (*act)(struct agent *a, const char *input, struct buf *reply, char *err, size_t errlen);
    void (*close)(struct agent *a);
    /* Optional, called by the session when set: begin before the first
     * act() (the session's id and task name), end after the last one (the
     * session's status). An external agent passes them on to its program. */
    void (*begin)(struct agent *a, const char *session_id, const char *task);
    void (*end)(struct agent *a, const char *status);
    long tokens_in, tokens_out; /* as the agent reports them (0 when it does not) */
    char log_path[512];         /* where the agent's own output (stderr) went, or "" */
};

/* agents.c: make an agent by name ("baseline", "replay:FILE") or command
 * line (cmd != NULL: an external agent). 0 or -1 with err. */
/* What confines a process an agent runs (an external agent's own): when
 * enter is set it runs in the child between fork and exec (the
 * orchestrator passes exec_shell's sandbox, orchestrator/shell.h). */
struct agent_confine {
    int (*enter)(void *arg, char *err, size_t errlen);
    void *arg;
};
int agent_open(const char *name, const char *cmd, unsigned timeout_ms, const struct agent_confine *confine,
               struct agent *out, char *err, size_t errlen);
void agent_close(struct agent *a);

/* The built-in agents. */
int agent_baseline_open(struct agent *a);
int agent_replay_open(struct agent *a, const char *file, char *err, size_t errlen);
int agent_external_open(struct agent *a, const char *cmd, unsigned timeout_ms, const struct agent_confine *confine,
                        char *err, size_t errlen);
/* script.c: plays replies (an array of action texts, borrowed) in order. */
int agent_script_open(struct agent *a, const char *name, json_t *replies);

#endif
