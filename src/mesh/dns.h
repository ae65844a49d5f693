/* dns: the lab's cluster DNS, answered by the mesh as CoreDNS answers in
 * Kubernetes. The shim (shim.c) asks the mesh for every name a pod looks
 * up; the mesh knows the asking pod by its address, hence its namespace
 * for bare names, and the dns fault rules that apply to it.
 *
 * Names of a Service "name" in namespace "ns" (ClusterIP answers):
 *   name (from a pod of ns), name.ns, name.ns.svc, name.ns.svc.cluster.local
 * Anything else is not the cluster's: the shim falls through to libc. */
#ifndef MESH_DNS_H
#define MESH_DNS_H
#include <stdint.h>

#include "mesh/routes.h"

#define MESH_DNS_NAME_MAX 253

/* Answers of mesh_dns_resolve (also the status the mesh sends the shim). */
enum { MESH_DNS_FOUND = 0, /* MESH_DNS_NXDOMAIN = 1, MESH_DNS_SERVFAIL = 2 (routes.h) */ MESH_DNS_PASS = 3 };

/* Resolve name (as the program asked, any case, optional final dot) for a
 * lookup from src (NULL: not a pod; bare names then resolve in "default").
 * MESH_DNS_FOUND with *ip set (host order), MESH_DNS_NXDOMAIN,
 * (a …svc or …svc.cluster.local name with no such Service, or a dns rule),
 * MESH_DNS_SERVFAIL (a dns rule) or MESH_DNS_PASS (not a cluster name and
 * no rule: the shim asks libc). */
int mesh_dns_resolve(const struct mesh_routes *r, const struct mesh_pod *src, const char *name, uint64_t *rnd_state,
                     uint32_t *ip);

#endif
