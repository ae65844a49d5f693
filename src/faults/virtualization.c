/* virtualization: faults in the cluster's objects — the misconfigurations
 * and operation errors of Kubernetes that AIOpsLab's problems are made of.
 * Each one changes an object through the daemon's API, exactly as a
 * careless `kubectl` would, after saving what it changes. This file has
 * the Service faults and the layer's list; the pod template's faults are
 * in virtualization_pods.c, the ConfigMap's and Secret's in
 * virtualization_config.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/json.h"
#include "faults/fault.h"
#include "faults/layers.h"
#include "faults/virtualization_types.h"
#include "faults/virtualization_util.h"

/* ---- target-port-misconfig ------------------------------------------------ */

static int tpm_inject(struct fault_ctx *c)
{
    json_t *svc = fault_get(c, "Service", c->target, NULL);
    if (!svc) return -1;
    json_t *ports = json_deep_copy(json_path(svc, "spec.ports"));
    json_decref(svc);
    if (!json_array_size(ports)) {
        json_decref(ports);
        snprintf(c->err, sizeof c->err, "Service \"%s\" has no ports", c->target);
        return -1;
    }
    json_object_set(c->state, "ports", ports);
    if (fault_save(c)) {
        json_decref(ports);
        return -1;
    }
    json_t *bad = json_deep_copy(ports);
    json_decref(ports);
    json_object_set_new(json_array_get(bad, 0), "targetPort", json_integer(fault_param_int(c, "port")));
    json_t *patch = json_pack("{s:{s:o}}", "spec", "ports", bad);
    int rc = fault_patch(c, "Service", c->target, "merge", patch);
    json_decref(patch);
    return rc;
}

/* The Service's endpoints carry the wrong port, and it refuses connections. */
static int tpm_verify(struct fault_ctx *c)
{
    json_t *ep = fault_get(c, "Endpoints", c->target, NULL);
    if (!ep) return 0;
    long long want = fault_param_int(c, "port");
    const json_t *sub = json_array_get(json_path(ep, "subsets"), 0);
    int moved = sub && json_path_int(json_array_get(json_object_get(sub, "ports"), 0), "port", 0) == want;
    const char *ip = json_path_str(json_array_get(json_object_get(sub, "addresses"), 0), "ip", NULL);
    int refused = 0;
    if (moved && ip) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)want)};
        inet_pton(AF_INET, ip, &a.sin_addr);
        refused = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno == ECONNREFUSED;
        if (fd >= 0) close(fd);
    }
    json_decref(ep);
    if (moved && !ip) return 1; /* no ready endpoint to try: the port has moved all the same */
    return moved && refused;
}

/* Fixed when the Service's endpoints are ready and the port they carry
 * accepts connections, however the port was corrected. */
static int tpm_fixed(struct fault_ctx *c) { return virt_service_accepts(c, c->target); }

static int tpm_recover(struct fault_ctx *c)
{
    json_t *ports = json_object_get(c->state, "ports");
    if (!ports) return 0; /* inject never got to change anything */
    json_t *patch = json_pack("{s:{s:O}}", "spec", "ports", ports);
    int missing = 0;
    json_t *svc = fault_get(c, "Service", c->target, &missing);
    json_decref(svc);
    int rc = missing ? 0 : fault_patch(c, "Service", c->target, "merge", patch);
    json_decref(patch);
    return rc;
}

static const struct fault_param tpm_params[] = {
    {"port", FP_INT, 1, 65535, "9999", NULL, "the wrong targetPort (nothing listens there)"},
    {0},
};

static const struct fault_type target_port_misconfig = {
    .id = "target-port-misconfig",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_SERVICE,
    .resource = "service",
    .summary = "the Service's targetPort points at a port its pods do not listen on",
    .symptoms = "callers get \"connection refused\" from the service; its upstreams log connect errors and return "
                "5xx; the Service's endpoints show the wrong port while its pods stay Ready",
    .params = tpm_params,
    .verify_ms = 5000,
    .inject = tpm_inject,
    .verify = tpm_verify,
    .recover = tpm_recover,
    .fixed = tpm_fixed,
};

/* ---- scale-to-zero ------------------------------------------------------------ */

/* Fixed when the Deployment wants replicas again and they all serve. */
static int s0_fixed(struct fault_ctx *c) { return virt_target_serves(c, c->target); }

static const struct fault_param no_params[] = {{0}};

static const struct fault_type scale_to_zero = {
    .id = "scale-to-zero",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_OPERATION_ERROR,
    .target = FT_WORKLOAD,
    .resource = "deployment",
    .summary = "the Deployment is scaled to 0 replicas",
    .symptoms = "the service has no pods and no endpoints; callers get \"connection refused\"; a ScalingReplicaSet "
                "event shows the scale-down",
    .params = no_params,
    .verify_ms = 10000,
    .inject = fault_scale_down,
    .verify = fault_scaled_down,
    .recover = fault_scale_back,
    .fixed = s0_fixed,
};

/* ---- service-deleted ---------------------------------------------------------- */

static int sd_inject(struct fault_ctx *c)
{
    json_t *svc = fault_get(c, "Service", c->target, NULL);
    if (!svc) return -1;
    /* Kept with its clusterIP: recreated, it gets the same address back. */
    json_object_set_new(c->state, "service", fault_clean_object(svc));
    json_decref(svc);
    if (fault_save(c)) return -1;
    return fault_delete(c, "Service", c->target);
}

static int sd_verify(struct fault_ctx *c)
{
    int missing = 0;
    json_t *svc = fault_get(c, "Service", c->target, &missing);
    json_decref(svc);
    return missing;
}

static int sd_recover(struct fault_ctx *c)
{
    json_t *saved = json_object_get(c->state, "service");
    if (!saved) return 0;
    return fault_apply(c, saved);
}

/* A Service fault is fixed only with its Deployment of the same name (when
 * there is one) serving: scaling it away empties the endpoints anyway. */
static int svc_and_pods_serve(struct fault_ctx *c)
{
    if (!virt_service_accepts(c, c->target)) return 0;
    int missing = 0;
    json_t *dep = fault_get(c, "Deployment", c->target, &missing);
    int ok = dep ? virt_deployment_serving(dep) : missing ? 1 : -1;
    json_decref(dep);
    return ok;
}

/* Fixed when the Service exists again with every port callers knew (they
 * dial name:port) and its endpoints accept connections. */
static int sd_fixed(struct fault_ctx *c)
{
    const json_t *saved = json_path(json_object_get(c->state, "service"), "spec.ports");
    int missing = 0;
    json_t *svc = fault_get(c, "Service", c->target, &missing);
    if (!svc) return missing ? 0 : -1;
    int ok = 1;
    size_t i, j;
    json_t *want, *have;
    json_array_foreach(saved, i, want)
    {
        int found = 0;
        json_array_foreach(json_path(svc, "spec.ports"), j, have)
            found |= json_path_int(have, "port", -1) == json_path_int(want, "port", -2);
        ok = ok && found;
    }
    json_decref(svc);
    return ok ? svc_and_pods_serve(c) : 0;
}

static const struct fault_type service_deleted = {
    .id = "service-deleted",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_OPERATION_ERROR,
    .target = FT_SERVICE,
    .resource = "service",
    .summary = "the Service is deleted (its pods keep running)",
    .symptoms = "callers cannot reach the service (connection refused or cannot resolve); its pods are Running and "
                "Ready but receive no traffic; `kubectl get svc` no longer lists it",
    .params = no_params,
    .verify_ms = 5000,
    .inject = sd_inject,
    .verify = sd_verify,
    .recover = sd_recover,
    .fixed = sd_fixed,
};

/* ---- selector-mismatch ------------------------------------------------------- */

static int sm_inject(struct fault_ctx *c)
{
    json_t *svc = fault_get(c, "Service", c->target, NULL);
    if (!svc) return -1;
    json_t *sel = json_deep_copy(json_path(svc, "spec.selector"));
    json_decref(svc);
    const char *key = fault_param_str(c, "key"), *value = fault_param_str(c, "value");
    const char *cur = json_string_value(json_object_get(sel, key));
    if (!json_object_size(sel) || (cur && !strcmp(cur, value))) {
        if (!json_object_size(sel)) snprintf(c->err, sizeof c->err, "Service \"%s\" has no selector", c->target);
        else snprintf(c->err, sizeof c->err, "the Service already selects %s=%s", key, value);
        json_decref(sel);
        return -1;
    }
    json_object_set(c->state, "selector", sel);
    if (fault_save(c)) {
        json_decref(sel);
        return -1;
    }
    /* A label the pods do not carry (a version the Service was moved to
     * before the pods were), or a typo in the app label's value. */
    json_object_set_new(sel, key, json_string(value));
    json_t *ops = json_pack("[{s:s, s:s, s:o}]", "op", "replace", "path", "/spec/selector", "value", sel);
    int rc = fault_patch(c, "Service", c->target, "json", ops);
    json_decref(ops);
    return rc;
}

/* The Service's Endpoints list no address while its pods run. */
static int sm_verify(struct fault_ctx *c)
{
    int missing = 0;
    json_t *ep = fault_get(c, "Endpoints", c->target, &missing);
    if (!ep) return missing;
    size_t i;
    json_t *sub;
    int addrs = 0;
    json_array_foreach(json_path(ep, "subsets"), i, sub) addrs += (int)json_array_size(json_object_get(sub, "addresses"));
    json_decref(ep);
    return addrs == 0;
}

static int sm_recover(struct fault_ctx *c)
{
    json_t *sel = json_object_get(c->state, "selector");
    if (!sel) return 0;
    int missing = 0;
    json_t *svc = fault_get(c, "Service", c->target, &missing);
    json_decref(svc);
    if (!svc) return missing ? 0 : -1;
    json_t *ops = json_pack("[{s:s, s:s, s:O}]", "op", "replace", "path", "/spec/selector", "value", sel);
    int rc = fault_patch(c, "Service", c->target, "json", ops);
    json_decref(ops);
    return rc;
}

/* Fixed when the selector matches the labels of the Deployment's pods
 * again (whatever was changed: the selector or the labels) and they serve
 * through it. */
static int sm_fixed(struct fault_ctx *c)
{
    int missing = 0;
    json_t *svc = fault_get(c, "Service", c->target, &missing);
    if (!svc) return missing ? 0 : -1;
    json_t *dep = fault_get(c, "Deployment", c->target, &missing);
    if (!dep) {
        json_decref(svc);
        return missing ? 0 : -1;
    }
    const json_t *labels = json_path(dep, "spec.template.metadata.labels");
    const char *k;
    json_t *v;
    int match = json_object_size(json_path(svc, "spec.selector")) > 0;
    json_object_foreach(json_path(svc, "spec.selector"), k, v) match = match && json_equal(v, json_object_get(labels, k));
    json_decref(svc);
    json_decref(dep);
    return match ? svc_and_pods_serve(c) : 0;
}

static const struct fault_param sm_params[] = {
    {"key", FP_STRING, 0, 253, "version", NULL, "the selector label to set (added, or its value replaced)"},
    {"value", FP_STRING, 0, 63, "v2", NULL, "the value no pod carries"},
    {0},
};

static const struct fault_type selector_mismatch = {
    .id = "selector-mismatch",
    .layer = FAULT_VIRTUALIZATION,
    .cls = FAULT_MISCONFIGURATION,
    .target = FT_SERVICE,
    .resource = "service",
    .summary = "the Service's selector no longer matches its pods' labels",
    .symptoms = "the Service has no endpoints (kubectl get endpoints shows <none>) while its pods are Running and "
                "Ready; callers get \"connection refused\" and return 5xx; kubectl describe svc shows the selector",
    .params = sm_params,
    .verify_ms = 5000,
    .inject = sm_inject,
    .verify = sm_verify,
    .recover = sm_recover,
    .fixed = sm_fixed,
};

const struct fault_type *const fault_types_virtualization[] = {
    &target_port_misconfig,
    &scale_to_zero,
    &service_deleted,
    &selector_mismatch,
    &virt_node_selector_missing,
    &virt_wrong_command,
    &virt_bad_env,
    &virt_bad_configmap_value,
    &virt_wrong_secret,
    &virt_liveness_probe_misconfig,
    &virt_readiness_probe_failing,
    &virt_memory_limit_oom,
    &virt_cpu_limit_throttle,
    &virt_bad_rollout,
    NULL,
};
