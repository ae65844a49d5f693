/* session: one problem posed to one agent on the live lab (DESIGN.md,
 * "How a problem runs"): baseline window, fault injected and verified,
 * the agent's turns through the ACI within the step and wall-time limits,
 * the evaluation, the fault recovered, the app settled for the next one.
 * The whole record (AIOpsLab's keys plus ground truth and timings) is
 * returned as JSON. */
#ifndef ORCHESTRATOR_SESSION_H
#define ORCHESTRATOR_SESSION_H
#include <jansson.h>
#include <stddef.h>

#include "agents/agent.h"
#include "core/lab.h"
#include "orchestrator/problem.h"
#include "orchestrator/scene.h"

struct session_opts {
    const struct lab *lab;
    unsigned max_steps;       /* default 30 */
    unsigned wall_s;          /* default 600 */
    unsigned baseline_ms;     /* the pre-fault window, default 2000 */
    unsigned verify_ms;       /* mitigation's SLO window, default 8000 */
    const char *bindir;       /* kubectl for the shell */
    const char *hide[8];      /* folders the agent's shell must not see */
    size_t nhide;
    void (*progress)(void *arg, const char *event, const char *detail); /* may be NULL */
    void *progress_arg;
};

/* Run p with agent on scene's app. *out gets the session record (new
 * reference) also when the session ends early (its "status" says why:
 * "submitted", "step_limit", "time_limit", "agent_error", "void" when the
 * fault did not take). 0, or -1 with err when the lab itself failed. */
int session_run(const struct session_opts *o, struct scene *scene, const struct problem *p, struct agent *agent,
                json_t **out, char *err, size_t errlen);

/* Sessions that share one injection (validation: the reference and the
 * empty answer of detection, localization and analysis of one fault
 * variant): one pre-fault window, the fault injected once, each agent's
 * turns and score in order, one recovery. Only for problems with
 * session_same_injection() and without mitigation (a fix would change what
 * the next agent sees); the later agents' TTx still count from the moment
 * the fault took effect. outs[k] as session_run's *out; each record has
 * "shared_injection": m when m > 1. */
#define SESSION_GROUP_MAX 16
int session_run_group(const struct session_opts *o, struct scene *scene, const struct problem *const *ps,
                      struct agent *const *agents, size_t m, json_t **outs, char *err, size_t errlen);
/* Same app, workload, fault, target, parameters and noise. */
int session_same_injection(const struct problem *a, const struct problem *b);

/* Did the session's record count as a success for its task? */
int session_success(const json_t *record);

#endif
