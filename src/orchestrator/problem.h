/* problem: the benchmark's problems, declared in YAML files under
 * problems/ (docs/problems.md). A file is a family: one app, one fault
 * (or none: a fault-free control), its variants (targets and parameters)
 * and the tasks it poses; it expands to one problem per variant and task,
 * with AIOpsLab's ids `<family>-<task>-<n>` (n: the variant, from 1).
 *
 * The ground truth of a problem comes from the fault library (layer,
 * fault type, entities); the file adds the reference solution of each task
 * (the actions that solve it, with {namespace}, {target} and the fault's
 * parameters as {param.KEY} filled in). */
#ifndef ORCHESTRATOR_PROBLEM_H
#define ORCHESTRATOR_PROBLEM_H
#include <jansson.h>
#include <stddef.h>

#include "faults/fault.h"

enum task { TASK_DETECTION, TASK_LOCALIZATION, TASK_ANALYSIS, TASK_MITIGATION, TASKS };

const char *task_name(enum task t);
int task_parse(const char *s, enum task *out);

struct app_info {
    const char *name;        /* "social-network" */
    const char *namespace;   /* "test-social-network" */
    const char *description; /* for the prompt */
    const char *operations;  /* supported operations, for the prompt */
    const char *frontend;    /* Service name of its entry point */
    int port;                /* its port */
    int services_seed;       /* its services seed their stores when they start: a store replaced alone
                              * comes back empty under them (DeathStarBench's HotelReservation) */
};
const struct app_info *app_find(const char *name);

struct problem {
    char id[128];           /* <family>-<task>-<n> */
    char family[64];
    const struct app_info *app;
    enum task task;
    int variant;            /* 1-based */
    const struct fault_type *fault; /* NULL: a fault-free control */
    char target[64];
    json_t *params;         /* the fault's KEY=VALUE strings */
    json_t *noise;          /* [{type, target, params}] faults on healthy parts, part of the scene not the answer */
    double rate;            /* workload requests per second */
    json_t *solution;       /* [action text, ...] the reference trajectory for this task */
    char file[256];         /* where it was declared */
    char description[512];  /* the family's human description (not shown to agents) */
};

struct problem_set {
    struct problem *items;
    size_t n;
};

/* Load every *.yaml under dir (sorted by path). A malformed file is an
 * error naming the file, line and field. 0 or -1 with err. */
int problems_load(const char *dir, struct problem_set *out, char *err, size_t errlen);
void problems_free(struct problem_set *s);
const struct problem *problem_find(const struct problem_set *s, const char *id);
/* The problems directory: $AIOPSLAB_PROBLEMS, else problems/ beside the
 * binary's build folder (the source tree), else the current directory's. */
int problems_dir(char *out, size_t n);
/* Ground truth: {type, layer, faultType, entities, symptoms} or {"fault": null}. New reference. */
json_t *problem_truth(const struct problem *p);
/* Expand {namespace}, {target}, {param.KEY} in text (new string). */
char *problem_expand(const struct problem *p, const char *text);

#endif
