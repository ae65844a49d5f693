/* lab: where a lab lives and which addresses it owns.
 *
 * Several labs can run on one machine. A lab has a name, a data directory
 * ($AIOPSLAB_HOME/labs/NAME, AIOPSLAB_HOME defaulting to ~/.aiopslab, or
 * /var/lib/aiopslab for root) and a
 * /16 of loopback, 127.NET.0.0/16, chosen at `cluster up` and kept in
 * lab.json. Inside it:
 *   127.NET.0.1            the node: mesh shim and admin ports, trace store ports
 *   127.NET.1.0 - .63.255  Service ClusterIPs   (index 0 .. 16127)
 *   127.NET.64.0 - .255.255 pod IPs             (index 0 .. 49151)
 */
#ifndef CORE_LAB_H
#define CORE_LAB_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define LAB_NAME_MAX 32
#define LAB_MESH_SHIM_PORT 15001
#define LAB_MESH_ADMIN_PORT 15090
#define LAB_KUBELET_PORT 10250      /* the daemon's node metrics: /metrics/cadvisor */
#define LAB_PROMETHEUS_PORT 9090
#define LAB_TRACES_OTLP_PORT 4318   /* the trace store's OTLP/HTTP receiver */
#define LAB_TRACES_QUERY_PORT 16686 /* its Jaeger-style query API */
#define LAB_SERVICE_IPS (63 * 256)
#define LAB_POD_IPS (192 * 256 - 2)

struct lab {
    char name[LAB_NAME_MAX + 1];
    char dir[PATH_MAX];
    int net; /* second octet of 127.NET.0.0/16 */
};

/* Resolve a lab by name (NULL: $AIOPSLAB_LAB or "default"); fills dir and,
 * if lab.json exists, net (else net = 0). 0 or -EINVAL (bad name). */
int lab_resolve(const char *name, struct lab *lab, char *err, size_t errlen);
/* Choose and record net for a new lab (net_hint 0: first free one). */
int lab_init(struct lab *lab, int net_hint, char *err, size_t errlen);
/* PATH inside the lab dir: lab_path(lab, "daemon.sock", out). 0 or -ENAMETOOLONG. */
int lab_path(const struct lab *lab, const char *rel, char *out, size_t n);

/* Dotted addresses into out (>= 16 bytes). */
void lab_node_ip(const struct lab *lab, char *out, size_t n);
void lab_service_ip(const struct lab *lab, unsigned idx, char *out, size_t n);
void lab_pod_ip(const struct lab *lab, unsigned idx, char *out, size_t n);
/* The index of a pod IP or service IP string of this lab, or -1. */
int lab_pod_index(const struct lab *lab, const char *ip);
int lab_service_index(const struct lab *lab, const char *ip);

#endif
