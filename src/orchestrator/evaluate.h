/* evaluate: scoring a submission against the ground truth, with
 * AIOpsLab's result keys ("Detection Accuracy", "Localization Accuracy",
 * "success", "system_level_correct", "fault_type_correct", ...). The
 * mitigation oracle judges the live system (evaluate_mitigation). */
#ifndef ORCHESTRATOR_EVALUATE_H
#define ORCHESTRATOR_EVALUATE_H
#include <jansson.h>
#include <stdint.h>

#include "core/lab.h"
#include "orchestrator/problem.h"
#include "orchestrator/scene.h"

/* Detection, localization and analysis: the submitted arguments (NULL:
 * nothing was submitted) against the truth. Fills results; 1 when the
 * submission counts as a success. */
int evaluate_answer(const struct problem *p, const json_t *truth, const json_t *submission, json_t *results);

struct mitigation_input {
    const struct lab *lab;
    struct scene *scene;
    int64_t fault_id;          /* the problem's fault in the journal */
    const json_t *entities;    /* its ground-truth entities */
    const json_t *before;      /* snapshot before the fault */
    const json_t *before_data; /* the stores' digest before the fault (faults/digest.h) */
    const struct slo_window *baseline;
    unsigned window_ms;        /* the verification window */
};

/* The three checks: the fault's root cause is gone, the workload meets
 * its SLO again, nothing else was broken (objects as before, no store lost
 * a row). Fills results (with a "checks"
 * object saying why); 1 when all pass. */
int evaluate_mitigation(const struct mitigation_input *in, int submitted, json_t *results);

#endif
