/* fault: the fault library's interface (docs/faults.md).
 *
 * A fault type is a table entry: its ground truth (layer, fault type in
 * AIOpsLab's taxonomy, expected symptoms), its parameters with bounds, the
 * resource it changes (two active faults on the same resource conflict),
 * and three functions:
 *   inject(c)   acts on the live lab. Before each side effect it records
 *               in c->state whatever recover needs (fault_save writes it to
 *               the journal, fsync'd), so a crash at any point is
 *               recoverable;
 *   verify(c)   1 once the symptom is observable, 0 not yet, -1 error;
 *               polled until verify_ms;
 *   recover(c)  undoes the fault from c->state and the parameters alone.
 *               Idempotent: it may run again after a crash, or after an
 *               inject that never finished (state holds what was saved).
 * An optional run(c) is the body of a fault that needs a live process (a
 * lock holder, a CPU hog, a leak that grows, a flood): the engine starts
 * it detached (`aiopslab __fault-run`), records its pid, and the process
 * ends by itself as soon as the journal no longer shows the fault active.
 *
 * Layers, per file: hardware.c, os.c, network.c, virtualization.c,
 * middleware.c, application.c, workload.c; registry.c lists them all.
 */
#ifndef FAULTS_FAULT_H
#define FAULTS_FAULT_H
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/lab.h"

enum fault_layer {
    FAULT_HARDWARE,
    FAULT_OS,
    FAULT_NETWORK,
    FAULT_VIRTUALIZATION,
    FAULT_MIDDLEWARE,
    FAULT_APPLICATION,
    FAULT_WORKLOAD,
    FAULT_LAYERS
};

/* AIOpsLab's fault types, plus resource exhaustion and overload. */
enum fault_class {
    FAULT_MISCONFIGURATION,
    FAULT_CODE_DEFECT,
    FAULT_AUTHENTICATION,
    FAULT_NETWORK_STORAGE,
    FAULT_OPERATION_ERROR,
    FAULT_DEPENDENCY,
    FAULT_RESOURCE_EXHAUSTION,
    FAULT_OVERLOAD,
    FAULT_CLASSES
};

/* What --target names. */
enum fault_target {
    FT_WORKLOAD,  /* a Deployment (its pods, its Service of the same name when there is one) */
    FT_SERVICE,   /* a Service */
    FT_POSTGRES,  /* a Deployment running PostgreSQL (aiopslab-postgres) */
    FT_REDIS,     /* a Deployment running redis-server */
    FT_MEMCACHED, /* a Deployment running memcached */
    FT_STORE,     /* any of the three stores */
    FT_FRONTEND,  /* the app's entry Deployment (workload faults aim their traffic at it) */
};

enum fault_ptype {
    FP_INT,      /* a decimal integer in [min, max] */
    FP_MS,       /* a duration ("250ms", "2s", "1m", or bare milliseconds) in [min, max] ms */
    FP_PERCENT,  /* 0..100 (a trailing % is accepted) within [min, max] */
    FP_BYTES,    /* a size ("64k", "10MB", "1GiB" or bytes) within [min, max] */
    FP_ENUM,     /* one of choices ("to|from|both") */
    FP_WORKLOAD, /* another Deployment or Service of the same namespace */
    FP_STRING,   /* [A-Za-z0-9._:/-]{1,min(max,200)} */
};

struct fault_param {
    const char *key;
    enum fault_ptype type;
    long long min, max;
    const char *dflt;    /* NULL: required */
    const char *choices; /* FP_ENUM */
    const char *help;
};

struct fault_type;

struct fault_ctx {
    const struct lab *lab;
    const struct fault_type *type;
    int64_t id;          /* journal id */
    const char *ns, *target;
    json_t *params;      /* validated: key -> integer (INT/MS/PERCENT/BYTES) or string */
    json_t *state;       /* the type's own record for recover; persisted by fault_save */
    struct fault_journal *journal;
    char err[512];
};

struct fault_type {
    const char *id; /* kebab-case */
    enum fault_layer layer;
    enum fault_class cls;
    enum fault_target target;
    const char *resource; /* what it changes: faults with the same resource on the same target conflict */
    const char *summary;  /* one line */
    const char *symptoms; /* what an SRE would see */
    const struct fault_param *params; /* ends with {0} */
    const char *peer_param; /* a FP_WORKLOAD parameter that is also a target entity (partition), or NULL */
    unsigned verify_ms;     /* the bound on its symptom showing (0: 10 s) */
    int gradual;            /* its effect builds up over time (memory leak): not in the 1 s inject bound */
    int (*inject)(struct fault_ctx *c);
    int (*verify)(struct fault_ctx *c);
    int (*recover)(struct fault_ctx *c);
    int (*run)(struct fault_ctx *c); /* optional: the body of its detached process */
    /* Optional, for mitigation problems: 1 when the root cause is gone from
     * the live system however it was fixed (the Service's targetPort
     * reaches the pods again, the role has its privileges back), 0 when it
     * is still there, -1 on error. Types without it get no mitigation task. */
    int (*fixed)(struct fault_ctx *c);
};

/* ---- the registry (registry.c) ------------------------------------------ */
const struct fault_type *const *fault_types(size_t *n);
const struct fault_type *fault_type_find(const char *id);
const char *fault_layer_name(enum fault_layer l);   /* "Operating System" */
const char *fault_layer_id(enum fault_layer l);     /* "os" */
int fault_layer_parse(const char *s, enum fault_layer *out); /* a name or an id, any case */
const char *fault_class_name(enum fault_class c);   /* "Misconfiguration" */
const char *fault_target_name(enum fault_target t); /* "deployment", "postgres", ... */

/* ---- parameters (param.c) -------------------------------------------------- */
/* Validate KEY=VALUE strings (an object key -> string) against the type:
 * unknown keys, missing required ones, bad values and values out of range
 * are refused with a clear message. Returns a new object of typed values
 * with the defaults filled in, or NULL with err. FP_WORKLOAD values are
 * checked by the engine against the live cluster. */
json_t *fault_params_validate(const struct fault_type *t, const json_t *given, char *err, size_t errlen);
/* "200ms", "2s", "5m" or bare milliseconds. 0 or -1. */
int fault_parse_ms(const char *s, long long *out);
/* "512", "64k", "10MB", "1GiB". 0 or -1. */
int fault_parse_bytes(const char *s, long long *out);
long long fault_param_int(const struct fault_ctx *c, const char *key);
const char *fault_param_str(const struct fault_ctx *c, const char *key);

/* ---- the engine (engine.c): what the CLI and the orchestrator call ------- */
struct fault_injected {
    int64_t id;
    uint64_t injected_ns; /* when inject began (wall clock, ns) */
    uint64_t took_ns;     /* when verify first saw the symptom (0: not verified) */
    uint64_t inject_ms;   /* how long inject itself took */
};

/* Inject type on ns/target with KEY=VALUE params (an object of strings,
 * may be NULL). verify: wait until the symptom is observable (at most the
 * type's verify_ms); a fault that does not take is recovered and reported
 * as an error. 0, or -1 with err. */
int fault_inject(const struct lab *lab, const char *type, const char *ns, const char *target, const json_t *params,
                 int verify, struct fault_injected *out, char *err, size_t errlen);
/* Recover one fault (id) or every fault not yet recovered (id 0). Prints
 * nothing; *count gets how many were undone. 0, or -1 with err (the
 * faults that could not be undone stay in the journal for the next try). */
int fault_recover(const struct lab *lab, int64_t id, int *count, char *err, size_t errlen);
/* The journal's faults (all == 0: only those not recovered), newest last:
 * [{id, type, layer, faultType, namespace, target, params, status,
 *   injectedAt, tookAt, recoveredAt, message}]. NULL with err. */
json_t *fault_list_journal(const struct lab *lab, int all, char *err, size_t errlen);
/* Ground truth of a journal entry: {type, layer, faultType, entities:[..], symptoms}. */
json_t *fault_truth(const struct fault_type *t, const char *ns, const char *target, const json_t *params);
/* The mitigation check of journal entry id: 1 when its root cause is gone,
 * 0 when not, -1 with err (also when its type has no fixed()). */
int fault_check_fixed(const struct lab *lab, int64_t id, char *err, size_t errlen);
/* In a fault's run(): 1 while the journal still shows it injecting or
 * active; run() returns soon after this turns 0. */
int fault_still_active(struct fault_ctx *c);
/* `aiopslab __fault-run ID`: the detached body of a fault with run(). */
int fault_runner_main(const struct lab *lab, int64_t id);

/* ---- helpers for fault types (lab.c) ------------------------------------ */
/* Save c->state in the journal now (call before every side effect). 0 or -1. */
int fault_save(struct fault_ctx *c);
/* A daemon call; API errors become -1 with c->err. *reply new reference. */
int fault_call(struct fault_ctx *c, json_t *req, json_t **reply);
/* Get one object of this namespace (new reference) or NULL (c->err says why;
 * *missing = 1 when it does not exist). */
json_t *fault_get(struct fault_ctx *c, const char *kind, const char *name, int *missing);
/* Patch an object (type "merge", "json" or "strategic"; patch borrowed). 0 or -1. */
int fault_patch(struct fault_ctx *c, const char *kind, const char *name, const char *type, json_t *patch);
/* Create or replace objects as `kubectl apply` (objs borrowed: an array or one object). 0 or -1. */
int fault_apply(struct fault_ctx *c, json_t *objs);
/* Delete; a missing object is not an error. 0 or -1. */
int fault_delete(struct fault_ctx *c, const char *kind, const char *name);
/* Scale a Deployment. 0 or -1. */
int fault_scale(struct fault_ctx *c, const char *name, int replicas);
/* A fault that scales its target Deployment to 0: inject (the replicas are
 * saved first), verify (no pod left) and recover (the saved replicas back;
 * nothing to do when the Deployment was deleted since). */
int fault_scale_down(struct fault_ctx *c);
int fault_scaled_down(struct fault_ctx *c);
int fault_scale_back(struct fault_ctx *c);
/* `kubectl rollout undo|restart`. 0 or -1. */
int fault_rollout(struct fault_ctx *c, const char *name, const char *action);
/* An object as saved for a later restore: status, uid, resourceVersion,
 * creationTimestamp and managed fields removed. New reference. */
json_t *fault_clean_object(const json_t *obj);
/* The target Deployment's pods that are not being deleted (new array). */
json_t *fault_pods(struct fault_ctx *c, const char *deployment);
/* The pid of a pod's container (index 0: the first), or 0 when it is not
 * running. pidstart gets its start time (for later identity checks). */
pid_t fault_container_pid(struct fault_ctx *c, const json_t *pod, int container, uint64_t *pidstart);
/* Signal a process only if it is still the same one (pid + start time). */
int fault_signal(pid_t pid, uint64_t pidstart, int sig);
/* A mesh rule (docs/mesh.md) added for this fault; its id is returned in
 * id (>= 64 bytes). The rule is recorded in c->state["meshRules"] first. */
int fault_mesh_add(struct fault_ctx *c, json_t *rule, char *id, size_t idlen);
/* Delete every mesh rule recorded in c->state (missing ones are fine). */
int fault_mesh_clear(struct fault_ctx *c);
/* Poll cond(c) every 100 ms for at most ms: 1 when it held, 0 when not. */
int fault_wait(struct fault_ctx *c, int (*cond)(struct fault_ctx *c), unsigned ms);
/* The Deployment's container command (argv[0] base name) or "" (e.g. to tell the store kind). */
int fault_deployment_program(struct fault_ctx *c, const char *name, char *out, size_t n);

#endif
