/* virtualization: faults in the cluster's objects — the misconfigurations
 * and operation errors of Kubernetes that AIOpsLab's problems are made of.
 * Each one changes an object through the daemon's API, exactly as a
 * careless `kubectl` would, after saving what it changes. */
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
};

/* ---- scale-to-zero ------------------------------------------------------------ */

static int s0_inject(struct fault_ctx *c)
{
    json_t *d = fault_get(c, "Deployment", c->target, NULL);
    if (!d) return -1;
    json_object_set_new(c->state, "replicas", json_integer(json_path_int(d, "spec.replicas", 1)));
    json_decref(d);
    if (fault_save(c)) return -1;
    return fault_scale(c, c->target, 0);
}

static int s0_verify(struct fault_ctx *c)
{
    json_t *pods = fault_pods(c, c->target);
    int none = json_array_size(pods) == 0;
    json_decref(pods);
    return none;
}

static int s0_recover(struct fault_ctx *c)
{
    json_t *r = json_object_get(c->state, "replicas");
    if (!r) return 0;
    return fault_scale(c, c->target, (int)json_integer_value(r));
}

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
    .inject = s0_inject,
    .verify = s0_verify,
    .recover = s0_recover,
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
};

const struct fault_type *const fault_types_virtualization[] = {
    &target_port_misconfig,
    &scale_to_zero,
    &service_deleted,
    NULL,
};
