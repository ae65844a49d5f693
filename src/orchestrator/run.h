/* run: a benchmark run — a set of problems, one agent, the embedded lab.
 * Each app is deployed once (reused when healthy) and keeps its workload
 * running across its problems; each problem is one session; every session
 * is recorded (results.h). */
#ifndef ORCHESTRATOR_RUN_H
#define ORCHESTRATOR_RUN_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lab.h"
#include "agents/agent.h"
#include "orchestrator/problem.h"

struct run_opts {
    const struct lab *lab;
    const char *agent;     /* "baseline", "replay:FILE" */
    const char *agent_cmd; /* an external agent's command line, or NULL */
    unsigned agent_timeout_ms;
    int confine_agents;    /* an external agent runs in exec_shell's sandbox (default on in aiopslab run) */
    unsigned max_steps;
    unsigned wall_s;
    uint64_t seed;
    const char *results_dir;
    void (*progress)(void *arg, size_t index, size_t total, const struct problem *p, const char *event,
                     const char *detail);
    void *progress_arg;
    /* NULL: agent_open(agent, agent_cmd). Else the agent for problem index i
     * (validation plays scripts). 0 or -1 with err. */
    int (*make_agent)(void *arg, size_t index, const struct problem *p, struct agent *out, char *err, size_t errlen);
    void *make_agent_arg;
    /* Called after each session with its record (borrowed): 0 to go on, 1
     * when the app's manifests must be applied again (validation's
     * shortcuts delete or scale away what they touch), 2 when the app must
     * be undeployed and deployed afresh (a store replaced alone comes back
     * empty, and services seed their stores only when they start), -1 with
     * err to stop. */
    int (*after)(void *arg, size_t index, const struct problem *p, json_t *record, char *err, size_t errlen);
    void *after_arg;
    /* NULL: one injection per session. Else 1 when entry j may join the
     * session group that begins at entry i (session_run_group; validation
     * judges several scripted answers on one injected fault). */
    int (*share)(void *arg, size_t i, size_t j);
    void *share_arg;
    unsigned baseline_ms; /* the pre-fault window of each session; 0: 2 s */
};

/* The representative set `aiopslab run` poses by default: the ids listed in
 * DIR/default-run.txt (one per line, # comments), else one problem per
 * task and layer of SocialNetwork's first variants, controls included. */
void run_select_default(const char *dir, const struct problem_set *all, const struct problem **out, size_t *n,
                        size_t max);
/* `aiopslab cluster up` for lab (a running cluster is left as it is). 0 or -1 with err. */
int run_ensure_cluster(const struct lab *lab, char *err, size_t errlen);
/* Stop the lab's cluster and remove its data (`cluster down --purge`). */
int run_purge_cluster(const struct lab *lab, char *err, size_t errlen);
/* Pose each problem in order; *records gets an array of session records
 * (new reference). 0, or -1 with err when the lab failed. */
int run_problems(const struct run_opts *o, const struct problem *const *list, size_t n, json_t **records, char *err,
                 size_t errlen);

#endif
