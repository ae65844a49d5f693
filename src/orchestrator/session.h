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

/* Did the session's record count as a success for its task? */
int session_success(const json_t *record);

#endif
