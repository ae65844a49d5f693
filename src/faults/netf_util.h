/* netf_util: how the network faults see their symptom the way a caller
 * does. A probe is a real client: a TCP connection to a Service's
 * ClusterIP:port through the mesh (optionally from a pod's address, so the
 * mesh takes it for that pod's connection), one small request in the
 * Service's own protocol that ends with the server closing, and the answer
 * timed: first byte, end of data, close, or a reset. A DNS query asks the
 * mesh's cluster DNS exactly as the shim asks it.
 *
 * The CLI is not a pod and has no shim: the kernel completes its
 * handshake with the mesh, so a hang shows as a request never answered
 * and a lost SYN as an answer that comes late (docs/mesh.md).
 *
 * Convention: 0 or -1 with c->err (the fault_ctx of the caller). */
#ifndef FAULTS_NETF_UTIL_H
#define FAULTS_NETF_UTIL_H
#include <stddef.h>
#include <stdint.h>

#include "faults/fault.h"

#define NETF_PROBES_MAX 16

enum netf_proto { NETF_HTTP, NETF_REDIS, NETF_MEMCACHED, NETF_POSTGRES };

/* Where a Service answers and in which protocol. */
struct netf_target {
    char name[254];
    char ip[16]; /* the ClusterIP */
    int port;    /* its first port */
    enum netf_proto proto;
};

struct netf_probe {
    int connected;      /* the connect succeeded */
    int reset;          /* the connection was reset (ECONNRESET, EPIPE) */
    int closed;         /* the server's close (EOF) arrived */
    size_t sent;        /* bytes of the request written */
    size_t received;    /* bytes of the answer read */
    uint32_t first_ms;  /* from the connect to the first answer byte (valid if received) */
    uint32_t last_ms;   /* ... to the last answer byte */
    uint32_t close_ms;  /* ... to the close (valid if closed) */
    int http_status;    /* the HTTP status line's code, 0 if none */
    int abort_body;     /* the body is the mesh's "fault filter abort" */
};

/* The Service's ClusterIP, first port and protocol (the program of the
 * Deployment of the same name: redis-server, memcached, postgres; anything
 * else is taken for HTTP). 0 or -1. */
int netf_target_of(struct fault_ctx *c, const char *service, struct netf_target *t);

/* The pod IP of a running pod of Deployment name, or -1 (none running). */
int netf_pod_ip(struct fault_ctx *c, const char *deployment, char *ip, size_t n);

/* The pod IP of a workload of this namespace that already calls Service
 * name (an edge in the mesh's metrics), or -1 when none does. */
int netf_caller_ip(struct fault_ctx *c, const char *service, char *ip, size_t n);

/* Run n probes at once (1..NETF_PROBES_MAX) against t, from src_ip (NULL:
 * unbound), the request padded with about pad bytes (for bandwidth), for
 * at most wait_ms; every connection is then reset so that nothing stays
 * open in the mesh. out[0..n) is filled. 0, or -1 when no socket could be
 * made at all. */
int netf_probe_run(struct fault_ctx *c, const struct netf_target *t, const char *src_ip, size_t pad, int n,
                   unsigned wait_ms, struct netf_probe *out);

/* Ask the mesh's DNS for name as a pod at src_ip would (NULL: as a non-pod
 * caller). The answer status (0 found with *ip set, 1 NXDOMAIN, 2 SERVFAIL,
 * 3 not a cluster name), or -1 when the mesh did not answer in time. */
int netf_dns_query(struct fault_ctx *c, const char *src_ip, const char *name, unsigned timeout_ms, uint32_t *ip);

#endif
