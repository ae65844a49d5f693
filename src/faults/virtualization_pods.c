/* virtualization_pods: faults in a Deployment's pod template — the edits
 * of a careless `kubectl edit/set/patch`: a nodeSelector to a node that
 * does not exist, a wrong command, a wrong env value, misconfigured
 * probes, limits far too low, a new revision that crashes at start.
 *
 * Each saves the Deployment whole, then replaces its template; the
 * controller rolls the new revision out as Kubernetes would (see
 * virtualization_util.h: old pods go only as new ones turn Ready).
 * Recover puts the saved spec back, which makes the old template current
 * again: its pods, if still there, serve on; otherwise new pods start
 * from it. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster/daemon.h"
#include "cluster/manifest.h"
#include "core/json.h"
#include "faults/fault.h"
#include "faults/virtualization_types.h"
#include "faults/virtualization_util.h"

typedef int (*mutate_fn)(struct fault_ctx *c, json_t *tmpl);

/* Change the template with mutate (pure: it fails before anything acts),
 * save the Deployment, then patch. */
static int template_inject(struct fault_ctx *c, mutate_fn mutate)
{
    json_t *dep = virt_stateless_deployment(c, c->target);
    if (!dep) return -1;
    json_t *tmpl = json_deep_copy(json_path(dep, "spec.template"));
    int rc = mutate(c, tmpl);
    if (!rc) rc = virt_save_deployment(c, "deployment", dep);
    if (!rc) rc = virt_set_template(c, c->target, tmpl);
    json_decref(tmpl);
    json_decref(dep);
    return rc;
}

static int template_recover(struct fault_ctx *c)
{
    json_t *saved = json_object_get(c->state, "deployment");
    return saved ? virt_restore_deployment(c, c->target, saved) : 0;
}

static int rollout_failing(struct fault_ctx *c) { return virt_rollout_failing(c, c->target); }

/* Is the fault's cause still in the live template? 1 yes, 0 no. */
typedef int (*cause_fn)(struct fault_ctx *c, const json_t *tmpl);

/* The mitigation check of a template fault: the cause is gone from the
 * live template however it was removed (undo, edit, patch), and the
 * Deployment has rolled out and serves. Deleted or scaled to zero is not
 * fixed. */
static int template_fixed(struct fault_ctx *c, cause_fn cause)
{
    int missing = 0;
    json_t *dep = fault_get(c, "Deployment", c->target, &missing);
    if (!dep) return missing ? 0 : -1;
    int present = cause(c, json_path(dep, "spec.template"));
    json_decref(dep);
    return present ? 0 : virt_target_serves(c, c->target);
}

/* The saved (before the fault) template's first container. */
static const json_t *saved_container(struct fault_ctx *c)
{
    return json_array_get(json_path(json_object_get(c->state, "deployment"), "spec.template.spec.containers"), 0);
}

/* A resource quantity as Kubernetes writes it. */
static json_t *bytes_quantity(long long n)
{
    if (n % (1LL << 30) == 0) return json_sprintf("%lldGi", n >> 30);
    if (n % (1LL << 20) == 0) return json_sprintf("%lldMi", n >> 20);
    if (n % 1024 == 0) return json_sprintf("%lldKi", n >> 10);
    return json_sprintf("%lld", n);
}

/* ---- node-selector-missing ------------------------------------------------ */

static int nsm_mutate(struct fault_ctx *c, json_t *tmpl)
{
    const char *node = fault_param_str(c, "node");
    if (!strcmp(node, DAEMON_NODE_NAME)) {
        snprintf(c->err, sizeof c->err, "node \"%s\" exists: name a node the cluster does not have", node);
        return -1;
    }
    json_path_set(tmpl, "spec.nodeSelector", json_pack("{s:s}", "kubernetes.io/hostname", node));
    return 0;
}

static int nsm_inject(struct fault_ctx *c) { return template_inject(c, nsm_mutate); }

/* A pod of the new revision cannot be scheduled. */
static int nsm_verify(struct fault_ctx *c)
{
    json_t *pods = virt_current_pods(c, c->target);
    int pending = 0;
    size_t i, j;
    json_t *pod, *cond;
    json_array_foreach(pods, i, pod) json_array_foreach(json_path(pod, "status.conditions"), j, cond)
    {
        if (!strcmp(json_path_str(cond, "type", ""), "PodScheduled") &&
            !strcmp(json_path_str(cond, "reason", ""), "Unschedulable"))
            pending = 1;
    }
    json_decref(pods);
    return pending;
}

static int nsm_cause(struct fault_ctx *c, const json_t *tmpl)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_path(tmpl, "spec.nodeSelector"), k, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), fault_param_str(c, "node"))) return 1;
    }
    return 0;
}

static int nsm_fixed(struct fault_ctx *c) { return template_fixed(c, nsm_cause); }

static const struct fault_param nsm_params[] = {
    {"node", FP_STRING, 0, 0, "aiopslab-worker-2", NULL, "the node the pods are pinned to (one that does not exist)"},
    {0},
};

const struct fault_type virt_node_selector_missing = {
    .id = "node-selector-missing",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "the pod template gets a nodeSelector for a node that does not exist",
    .symptoms = "the new revision's pods stay Pending: FailedScheduling \"0/1 nodes are available: 1 node(s) didn't "
                "match Pod's node affinity/selector\"; the rollout is stuck (the old pods keep serving, as with "
                "maxUnavailable 0, until they are deleted: then the service has no endpoints)",
    .params = nsm_params,
    .verify_ms = 10000,
    .inject = nsm_inject,
    .verify = nsm_verify,
    .recover = template_recover,
    .fixed = nsm_fixed,
};

/* ---- wrong-command ------------------------------------------------------------ */

static int wc_mutate(struct fault_ctx *c, json_t *tmpl)
{
    json_t *ctr = virt_template_container(c, tmpl, NULL);
    if (!ctr) return -1;
    const char *prog = fault_param_str(c, "command");
    if (prog[0] == '/' && access(prog, F_OK) == 0) {
        snprintf(c->err, sizeof c->err, "%s exists: name a program that does not", prog);
        return -1;
    }
    /* The wrong program in argv[0], the arguments kept: a wrong binary path. */
    json_t *cmd = json_object_get(ctr, "command");
    if (json_array_size(cmd)) json_array_set_new(cmd, 0, json_string(prog));
    else json_object_set_new(ctr, "command", json_pack("[s]", prog));
    return 0;
}

static int wc_inject(struct fault_ctx *c) { return template_inject(c, wc_mutate); }

static int wc_cause(struct fault_ctx *c, const json_t *tmpl)
{
    size_t i;
    json_t *ctr;
    json_array_foreach(json_path(tmpl, "spec.containers"), i, ctr)
    {
        const char *argv0 = json_string_value(json_array_get(json_object_get(ctr, "command"), 0));
        if (argv0 && !strcmp(argv0, fault_param_str(c, "command"))) return 1;
    }
    return 0;
}

static int wc_fixed(struct fault_ctx *c) { return template_fixed(c, wc_cause); }

static const struct fault_param wc_params[] = {
    {"command", FP_STRING, 0, 0, "/usr/local/bin/server", NULL, "the program the container is told to run (missing)"},
    {0},
};

const struct fault_type virt_wrong_command = {
    .id = "wrong-command",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "the container's command names a program that does not exist",
    .symptoms = "the new revision's pods never start: RunContainerError then CrashLoopBackOff, StartError \"no such "
                "file or directory\" in kubectl describe, BackOff events; the rollout is stuck and the old pods keep "
                "serving until they go",
    .params = wc_params,
    .verify_ms = 10000,
    .inject = wc_inject,
    .verify = rollout_failing,
    .recover = template_recover,
    .fixed = wc_fixed,
};

/* ---- bad-env ------------------------------------------------------------------ */

static int be_mutate(struct fault_ctx *c, json_t *tmpl)
{
    json_t *ctr = virt_template_container(c, tmpl, NULL);
    if (!ctr) return -1;
    const char *key = fault_param_str(c, "key"), *value = fault_param_str(c, "value");
    json_t *env = json_object_get(ctr, "env");
    if (!json_is_array(env)) json_object_set_new(ctr, "env", env = json_array());
    json_t *var = json_pack("{s:s, s:s}", "name", key, "value", value);
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        if (!strcmp(json_path_str(e, "name", ""), key)) {
            if (!strcmp(json_path_str(e, "value", ""), value) && !json_object_get(e, "valueFrom")) {
                snprintf(c->err, sizeof c->err, "%s is already \"%s\"", key, value);
                json_decref(var);
                return -1;
            }
            return json_array_set_new(env, i, var);
        }
    }
    /* Not set in env (perhaps through envFrom): env takes precedence. */
    return json_array_append_new(env, var);
}

static int be_inject(struct fault_ctx *c) { return template_inject(c, be_mutate); }

/* A container still sets the variable to the wrong value. */
static int be_cause(struct fault_ctx *c, const json_t *tmpl)
{
    size_t i, j;
    json_t *ctr, *e;
    json_array_foreach(json_path(tmpl, "spec.containers"), i, ctr) json_array_foreach(json_object_get(ctr, "env"), j, e)
    {
        if (!strcmp(json_path_str(e, "name", ""), fault_param_str(c, "key")) && !json_object_get(e, "valueFrom") &&
            !strcmp(json_path_str(e, "value", ""), fault_param_str(c, "value")))
            return 1;
    }
    return 0;
}

static int be_fixed(struct fault_ctx *c) { return template_fixed(c, be_cause); }

static const struct fault_param be_params[] = {
    {"key", FP_STRING, 0, 128, NULL, NULL, "the environment variable (e.g. PROFILE_DB_PORT, USER_MONGODB_DB)"},
    {"value", FP_STRING, 0, 0, NULL, NULL, "its wrong value"},
    {0},
};

const struct fault_type virt_bad_env = {
    .id = "bad-env",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "an environment variable of the container is set to a wrong value (a port, a database name)",
    .symptoms = "the new revision's pods fail: not Ready (readiness probe failed) or restarting, their logs "
                "naming what the value broke (connection refused, database does not exist, bad configuration); "
                "the rollout is stuck while the old pods serve",
    .params = be_params,
    .verify_ms = 20000,
    .inject = be_inject,
    .verify = rollout_failing,
    .recover = template_recover,
    .fixed = be_fixed,
};

/* ---- liveness-probe-misconfig ---------------------------------------------- */

static int lp_mutate(struct fault_ctx *c, json_t *tmpl)
{
    json_t *ctr = virt_template_container(c, tmpl, NULL);
    if (!ctr) return -1;
    /* A probe someone copied from another service: the wrong port, checked
     * soon and often, so it kills the container a few seconds in. */
    json_object_set_new(ctr, "livenessProbe",
                        json_pack("{s:{s:s, s:I}, s:i, s:i, s:i, s:i}", "httpGet", "path", fault_param_str(c, "path"),
                                  "port", (json_int_t)fault_param_int(c, "port"), "initialDelaySeconds", 3,
                                  "periodSeconds", 2, "timeoutSeconds", 1, "failureThreshold", 2));
    return 0;
}

static int lp_inject(struct fault_ctx *c) { return template_inject(c, lp_mutate); }

/* A liveness probe still checks the port nothing listens on; or the pods
 * of the current template still get killed (a probe fixed to another
 * wrong place). */
static int lp_cause(struct fault_ctx *c, const json_t *tmpl)
{
    size_t i;
    json_t *ctr;
    json_array_foreach(json_path(tmpl, "spec.containers"), i, ctr)
    {
        if (json_path_int(ctr, "livenessProbe.httpGet.port", 0) == fault_param_int(c, "port")) return 1;
    }
    return virt_rollout_failing(c, c->target) != 0;
}

static int lp_fixed(struct fault_ctx *c) { return template_fixed(c, lp_cause); }

static const struct fault_param lp_params[] = {
    {"port", FP_INT, 1, 65535, "9999", NULL, "the port the probe checks (nothing listens there)"},
    {"path", FP_STRING, 0, 0, "/healthz", NULL, "the path the probe asks for"},
    {0},
};

const struct fault_type virt_liveness_probe_misconfig = {
    .id = "liveness-probe-misconfig",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "the liveness probe checks a wrong port/path, so it always fails",
    .symptoms = "the new pods turn Ready (the rollout completes and the old pods go), then are killed every few "
                "seconds: Unhealthy \"Liveness probe failed: ... connection refused\", Killing \"failed liveness "
                "probe, will be restarted\", restart count climbing, CrashLoopBackOff; requests fail while the "
                "container is down",
    .params = lp_params,
    .verify_ms = 40000,
    .inject = lp_inject,
    .verify = rollout_failing,
    .recover = template_recover,
    .fixed = lp_fixed,
};

/* ---- readiness-probe-failing ----------------------------------------------- */

static int rp_mutate(struct fault_ctx *c, json_t *tmpl)
{
    json_t *ctr = virt_template_container(c, tmpl, NULL);
    if (!ctr) return -1;
    json_t *port = json_object_get(json_array_get(json_object_get(ctr, "ports"), 0), "containerPort");
    if (!port) {
        snprintf(c->err, sizeof c->err, "the container declares no port to probe");
        return -1;
    }
    json_object_set_new(ctr, "readinessProbe",
                        json_pack("{s:{s:s, s:O}, s:i, s:i, s:i}", "httpGet", "path", fault_param_str(c, "path"), "port",
                                  port, "periodSeconds", 1, "timeoutSeconds", 1, "failureThreshold", 2));
    return 0;
}

static int rp_inject(struct fault_ctx *c) { return template_inject(c, rp_mutate); }

static int rp_cause(struct fault_ctx *c, const json_t *tmpl)
{
    size_t i;
    json_t *ctr;
    json_array_foreach(json_path(tmpl, "spec.containers"), i, ctr)
    {
        if (!strcmp(json_path_str(ctr, "readinessProbe.httpGet.path", ""), fault_param_str(c, "path"))) return 1;
    }
    return 0;
}

static int rp_fixed(struct fault_ctx *c) { return template_fixed(c, rp_cause); }

static const struct fault_param rp_params[] = {
    {"path", FP_STRING, 0, 0, "/ready", NULL, "the path the probe asks for (the server answers 404)"},
    {0},
};

const struct fault_type virt_readiness_probe_failing = {
    .id = "readiness-probe-failing",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "the readiness probe asks a path the server does not have, so it never succeeds",
    .symptoms = "the new revision's pods run but are never Ready (0/1): Unhealthy \"Readiness probe failed: HTTP "
                "probe failed with statuscode: 404\"; they get no endpoints and the rollout is stuck; the old pods "
                "serve until they go, then the service has no endpoints",
    .params = rp_params,
    .verify_ms = 15000,
    .inject = rp_inject,
    .verify = rollout_failing,
    .recover = template_recover,
    .fixed = rp_fixed,
};

/* ---- memory-limit-oom ----------------------------------------------------------- */

static int mo_mutate(struct fault_ctx *c, json_t *tmpl)
{
    json_t *ctr = virt_template_container(c, tmpl, NULL);
    if (!ctr) return -1;
    json_t *q = bytes_quantity(fault_param_int(c, "limit"));
    json_path_set(ctr, "resources.limits.memory", json_incref(q));
    /* A request above the limit is refused by validation: it comes down too. */
    if (json_path(ctr, "resources.requests.memory")) json_path_set(ctr, "resources.requests.memory", json_incref(q));
    json_decref(q);
    return 0;
}

static int mo_inject(struct fault_ctx *c) { return template_inject(c, mo_mutate); }

static int mo_verify(struct fault_ctx *c)
{
    json_t *pods = virt_current_pods(c, c->target);
    int oom = 0;
    size_t i, j;
    json_t *pod, *cs;
    json_array_foreach(pods, i, pod) json_array_foreach(json_path(pod, "status.containerStatuses"), j, cs)
    {
        if (!strcmp(json_path_str(cs, "lastState.terminated.reason", ""), "OOMKilled") ||
            !strcmp(json_path_str(cs, "state.terminated.reason", ""), "OOMKilled"))
            oom = 1;
    }
    json_decref(pods);
    return oom;
}

/* The limit is still below what the container had before the fault (or,
 * when it had none, no higher than the fault's). */
static int mo_cause(struct fault_ctx *c, const json_t *tmpl)
{
    const json_t *ctr = json_array_get(json_path(tmpl, "spec.containers"), 0);
    const char *live = json_path_str(ctr, "resources.limits.memory", NULL);
    const char *before = json_path_str(saved_container(c), "resources.limits.memory", NULL);
    long long now, was;
    if (!live) return 0;
    if (manifest_parse_memory(live, &now)) return 1;
    if (before && !manifest_parse_memory(before, &was)) return now < was;
    return now <= fault_param_int(c, "limit");
}

static int mo_fixed(struct fault_ctx *c) { return template_fixed(c, mo_cause); }

static const struct fault_param mo_params[] = {
    {"limit", FP_BYTES, 1 << 20, 1LL << 30, "1Mi", NULL, "the memory limit (far below the working set)"},
    {0},
};

const struct fault_type virt_memory_limit_oom = {
    .id = "memory-limit-oom",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_RESOURCE_EXHAUSTION,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "the container's memory limit is set far below its working set",
    .symptoms = "the new revision's container is OOMKilled (exit 137) again and again: Last State OOMKilled, "
                "CrashLoopBackOff, OOMKilled events, container_oom_events_total rising; the rollout is stuck while "
                "the old pods serve",
    .params = mo_params,
    .verify_ms = 20000,
    .inject = mo_inject,
    .verify = mo_verify,
    .recover = template_recover,
    .fixed = mo_fixed,
};

/* ---- cpu-limit-throttle --------------------------------------------------------- */

static int ct_mutate(struct fault_ctx *c, json_t *tmpl)
{
    json_t *ctr = virt_template_container(c, tmpl, NULL);
    if (!ctr) return -1;
    json_t *q = json_sprintf("%lldm", fault_param_int(c, "cpu"));
    json_path_set(ctr, "resources.limits.cpu", json_incref(q));
    if (json_path(ctr, "resources.requests.cpu")) json_path_set(ctr, "resources.requests.cpu", json_incref(q));
    json_decref(q);
    return 0;
}

static int ct_inject(struct fault_ctx *c) { return template_inject(c, ct_mutate); }

/* The throttled pods are the ones serving: the old ones are gone. */
static int ct_verify(struct fault_ctx *c) { return virt_rollout_complete(c, c->target); }

/* As mo_cause, for the cpu limit. */
static int ct_cause(struct fault_ctx *c, const json_t *tmpl)
{
    const json_t *ctr = json_array_get(json_path(tmpl, "spec.containers"), 0);
    const char *live = json_path_str(ctr, "resources.limits.cpu", NULL);
    const char *before = json_path_str(saved_container(c), "resources.limits.cpu", NULL);
    long now, was;
    if (!live) return 0;
    if (manifest_parse_cpu(live, &now)) return 1;
    if (before && !manifest_parse_cpu(before, &was)) return now < was;
    return now <= fault_param_int(c, "cpu");
}

static int ct_fixed(struct fault_ctx *c) { return template_fixed(c, ct_cause); }

static const struct fault_param ct_params[] = {
    {"cpu", FP_INT, 1, 1000, "50", NULL, "the cpu limit in millicores"},
    {0},
};

const struct fault_type virt_cpu_limit_throttle = {
    .id = "cpu-limit-throttle",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_RESOURCE_EXHAUSTION,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "the container's cpu limit is set very low (50m): it is throttled under load",
    .symptoms = "the pods run Ready but slow: under load latency rises and timeouts appear upstream; "
                "container_cpu_cfs_throttled_periods_total climbs and cpu usage sits at the limit (kubectl top); "
                "kubectl describe shows the low limit",
    .params = ct_params,
    .verify_ms = 30000,
    .inject = ct_inject,
    .verify = ct_verify,
    .recover = template_recover,
    .fixed = ct_fixed,
};

/* ---- bad-rollout ------------------------------------------------------------------ */

static int br_mutate(struct fault_ctx *c, json_t *tmpl)
{
    json_t *ctr = virt_template_container(c, tmpl, NULL);
    if (!ctr) return -1;
    json_t *cmd = json_object_get(ctr, "command");
    const char *argv0 = json_string_value(json_array_get(cmd, 0));
    const char *argv1 = json_string_value(json_array_get(cmd, 1));
    if (!argv0 || (argv1 && !strcmp(argv1, "-c"))) {
        snprintf(c->err, sizeof c->err, "the container runs %s: the new revision's argument would not reach a "
                 "program (target an app service)", argv0 ? "a shell script" : "its image's entrypoint");
        return -1;
    }
    /* Version 2 of the image, started with a flag version 1 (what runs
     * here) does not know: it prints its usage and exits at once. */
    const char *image = json_path_str(ctr, "image", NULL);
    if (image) {
        const char *slash = strrchr(image, '/'), *colon = strrchr(image, ':');
        size_t repo = colon && (!slash || colon > slash) ? (size_t)(colon - image) : strlen(image);
        json_object_set_new(ctr, "image", json_sprintf("%.*s:v2", (int)repo, image));
    }
    json_t *args = json_object_get(ctr, "args");
    if (!json_is_array(args)) json_object_set_new(ctr, "args", args = json_array());
    return json_array_append_new(args, json_string(fault_param_str(c, "arg")));
}

static int br_inject(struct fault_ctx *c) { return template_inject(c, br_mutate); }

/* The new revision's argument or image is still there. */
static int br_cause(struct fault_ctx *c, const json_t *tmpl)
{
    const json_t *ctr = json_array_get(json_path(tmpl, "spec.containers"), 0);
    const char *image = json_path_str(ctr, "image", NULL), *was = json_path_str(saved_container(c), "image", NULL);
    if (image && was && strcmp(image, was)) return 1;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(ctr, "args"), i, a)
    {
        if (json_is_string(a) && !strcmp(json_string_value(a), fault_param_str(c, "arg"))) return 1;
    }
    return 0;
}

static int br_fixed(struct fault_ctx *c) { return template_fixed(c, br_cause); }

static const struct fault_param br_params[] = {
    {"arg", FP_STRING, 0, 0, "--config-v2", NULL, "the argument the new revision starts with (the program refuses it)"},
    {0},
};

const struct fault_type virt_bad_rollout = {
    .id = "bad-rollout",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_OPERATION_ERROR,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "a new revision (image :v2, a new flag) is rolled out whose container exits at start",
    .symptoms = "kubectl rollout status hangs; the new ReplicaSet's pod restarts with Error (exit 2, its log prints "
                "usage) then CrashLoopBackOff; kubectl rollout history shows the new revision; the old pods keep "
                "serving (maxUnavailable 0); kubectl rollout undo fixes it",
    .params = br_params,
    .verify_ms = 15000,
    .inject = br_inject,
    .verify = rollout_failing,
    .recover = template_recover,
    .fixed = br_fixed,
};
