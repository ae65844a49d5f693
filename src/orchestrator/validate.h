/* validate: every problem proven on the live lab (`aiopslab validate`,
 * `make validate`). For each problem:
 *   reference  its reference solution (the problem file's, with {target}
 *              and friends filled in) must pass;
 *   nothing    the empty answer must fail (controls aside: for them "No"
 *              is the reference) — submit("No"), submit([]), submit({}),
 *              or submit() at once for mitigation;
 *   shortcuts  for mitigation, each must fail: scaling the target to zero,
 *              deleting its Deployment, deleting every pod of the
 *              namespace, restarting every Deployment. The app's manifests
 *              are applied again after each (they break it on purpose;
 *              where services seed their stores only when they start
 *              (HotelReservation), after a shortcut that replaced stores
 *              (every pod deleted or restarted, a store target deleted or
 *              scaled away) the app is undeployed and deployed afresh).
 * A fault that does not take makes its sessions void, and the problem
 * fails validation. */
#ifndef ORCHESTRATOR_VALIDATE_H
#define ORCHESTRATOR_VALIDATE_H
#include <stddef.h>

#include "orchestrator/run.h"

enum validate_mode { V_REFERENCE, V_NOTHING, V_SCALE_ZERO, V_DELETE, V_DELETE_PODS, V_RESTART_ALL, V_MODES };
const char *validate_mode_name(enum validate_mode m);

struct validate_report {
    size_t problems, passed, sessions;
    json_t *failures; /* [{problem, mode, expected, got, status, why}] */
    json_t *retried;  /* the first failures of problems judged once more (their verdicts are the second run's) */
};

/* Whether a failure (an element of failures) is worth judging once more,
 * at the end of the lab's run: a fault that did not take in time (void),
 * or a reference that fixed the cause, broke nothing and missed only the
 * service level (on a machine busy with another lab's deploys, a p99 over
 * a few hundred requests is a handful of them). */
int validate_worth_again(const json_t *failure);
/* Validate list[0..n) with o's lab (o's agent fields are ignored).
 * shortcuts: 0 skips the four shortcut runs (a quick pass). 0 or -1 with
 * err when the lab failed; the verdicts are in *rep. */
int validate_problems(struct run_opts *o, const struct problem *const *list, size_t n, int shortcuts,
                      struct validate_report *rep, char *err, size_t errlen);
/* Problems to jobs (labs run at once, at most VALIDATE_JOBS_MAX): job_of[i]
 * in [0, jobs) for list[i]. Whole units, the heaviest first to the
 * lightest job (a mitigation problem weighs its six sessions; read-only
 * answers share injections). A unit is an app when there are at least as
 * many apps as jobs (a lab then runs one app), else a problem family. */
#define VALIDATE_JOBS_MAX 8
void validate_split(const struct problem *const *list, size_t n, int shortcuts, int jobs, int *job_of);
/* One problem per fault family and task, the first variant. */
void validate_sample(const struct problem_set *all, const struct problem **out, size_t *n);

#endif
