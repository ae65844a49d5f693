/* routes: parsing LABDIR/mesh/routes.json into lookup tables (see routes.h).
 * Lookups on the connection path are binary searches over sorted arrays:
 * a table is built once per reload and read for every accepted connection. */
#include "mesh/routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "mesh/rules.h"

int mesh_ip_parse(const char *s, uint32_t *ip)
{
    struct in_addr a;
    if (!s || inet_pton(AF_INET, s, &a) != 1) return -EINVAL;
    *ip = ntohl(a.s_addr);
    return 0;
}

void mesh_ip_format(uint32_t ip, char *out, size_t n)
{
    snprintf(out, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

struct mesh_routes *mesh_routes_empty(void)
{
    return xcalloc(1, sizeof(struct mesh_routes));
}

void mesh_routes_free(struct mesh_routes *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_services; i++) {
        struct mesh_service *s = &r->services[i];
        for (size_t j = 0; j < s->n_ports; j++) {
            struct mesh_svc_port *p = &s->ports[j];
            for (size_t k = 0; k < p->n_eps; k++) free(p->eps[k].pod);
            free(p->eps);
            free(p->name);
        }
        free(s->ports);
        free(s->ns);
        free(s->name);
    }
    free(r->services);
    for (size_t i = 0; i < r->n_pods; i++) {
        free(r->pods[i].ns);
        free(r->pods[i].name);
        free(r->pods[i].workload);
    }
    free(r->pods);
    for (size_t i = 0; i < r->n_rules; i++) mesh_rule_clear(&r->rules[i]);
    free(r->rules);
    free(r->by_addr);
    free(r);
}

static char *dup_str(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) s = dflt;
    return s ? xstrdup(s) : NULL;
}

static int get_port(json_t *o, const char *key, uint16_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return -EINVAL;
    json_int_t p = json_integer_value(v);
    if (p < 1 || p > 65535) return -EINVAL;
    *out = (uint16_t)p;
    return 0;
}

static int cmp_addr(const void *a, const void *b)
{
    const struct mesh_svc_port *x = *(struct mesh_svc_port *const *)a, *y = *(struct mesh_svc_port *const *)b;
    uint64_t kx = (uint64_t)x->svc->cluster_ip << 16 | x->port, ky = (uint64_t)y->svc->cluster_ip << 16 | y->port;
    return kx < ky ? -1 : kx > ky;
}

static int cmp_pod(const void *a, const void *b)
{
    const struct mesh_pod *x = a, *y = b;
    return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static int parse_service(json_t *js, struct mesh_service *s, char *err, size_t errlen)
{
    s->ns = dup_str(js, "namespace", "default");
    s->name = dup_str(js, "name", NULL);
    if (!s->name) {
        snprintf(err, errlen, "service without a name");
        return -EINVAL;
    }
    if (mesh_ip_parse(json_string_value(json_object_get(js, "clusterIP")), &s->cluster_ip)) {
        snprintf(err, errlen, "service %s/%s: bad clusterIP", s->ns, s->name);
        return -EINVAL;
    }
    json_t *ports = json_object_get(js, "ports");
    if (ports && !json_is_array(ports)) {
        snprintf(err, errlen, "service %s/%s: ports is not an array", s->ns, s->name);
        return -EINVAL;
    }
    size_t np = json_array_size(ports);
    s->ports = xcalloc(np ? np : 1, sizeof *s->ports);
    for (size_t j = 0; j < np; j++) {
        json_t *jp = json_array_get(ports, j);
        struct mesh_svc_port *p = &s->ports[j];
        s->n_ports = j + 1;
        p->svc = s;
        p->name = dup_str(jp, "name", "");
        if (get_port(jp, "port", &p->port)) {
            snprintf(err, errlen, "service %s/%s: bad port", s->ns, s->name);
            return -EINVAL;
        }
        json_t *eps = json_object_get(jp, "endpoints");
        size_t ne = json_array_size(eps);
        p->eps = xcalloc(ne ? ne : 1, sizeof *p->eps);
        for (size_t k = 0; k < ne; k++) {
            json_t *je = json_array_get(eps, k);
            struct mesh_endpoint *e = &p->eps[k];
            p->n_eps = k + 1;
            e->pod = dup_str(je, "pod", "");
            if (mesh_ip_parse(json_string_value(json_object_get(je, "ip")), &e->ip) || get_port(je, "port", &e->port)) {
                snprintf(err, errlen, "service %s/%s port %u: bad endpoint", s->ns, s->name, p->port);
                return -EINVAL;
            }
        }
    }
    return 0;
}

int mesh_routes_parse(const char *text, size_t len, struct mesh_routes **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        snprintf(err, errlen, "routes: invalid JSON at line %d: %s", root ? 0 : jerr.line, root ? "not an object" : jerr.text);
        json_decref(root);
        return -EINVAL;
    }
    struct mesh_routes *r = mesh_routes_empty();
    int rc = 0;
    r->generation = json_integer_value(json_object_get(root, "generation"));

    json_t *svcs = json_object_get(root, "services");
    size_t ns = json_array_size(svcs), total_ports = 0;
    r->services = xcalloc(ns ? ns : 1, sizeof *r->services);
    for (size_t i = 0; i < ns; i++) {
        r->n_services = i + 1;
        if ((rc = parse_service(json_array_get(svcs, i), &r->services[i], err, errlen))) goto out;
        total_ports += r->services[i].n_ports;
    }
    r->by_addr = xcalloc(total_ports ? total_ports : 1, sizeof *r->by_addr);
    for (size_t i = 0; i < r->n_services; i++)
        for (size_t j = 0; j < r->services[i].n_ports; j++) r->by_addr[r->n_addr++] = &r->services[i].ports[j];
    qsort(r->by_addr, r->n_addr, sizeof *r->by_addr, cmp_addr);

    json_t *pods = json_object_get(root, "pods");
    size_t npods = json_array_size(pods);
    r->pods = xcalloc(npods ? npods : 1, sizeof *r->pods);
    for (size_t i = 0; i < npods; i++) {
        json_t *jp = json_array_get(pods, i);
        struct mesh_pod *p = &r->pods[i];
        r->n_pods = i + 1;
        p->ns = dup_str(jp, "namespace", "default");
        p->name = dup_str(jp, "name", "");
        p->workload = dup_str(jp, "workload", NULL);
        if (!p->workload) p->workload = xstrdup(p->name);
        if (mesh_ip_parse(json_string_value(json_object_get(jp, "ip")), &p->ip)) {
            snprintf(err, errlen, "pod %s/%s: bad ip", p->ns, p->name);
            rc = -EINVAL;
            goto out;
        }
    }
    qsort(r->pods, r->n_pods, sizeof *r->pods, cmp_pod);

    json_t *rules = json_object_get(root, "rules");
    size_t nr = json_array_size(rules);
    r->rules = xcalloc(nr ? nr : 1, sizeof *r->rules);
    for (size_t i = 0; i < nr; i++) {
        if ((rc = mesh_rule_parse(json_array_get(rules, i), &r->rules[i], err, errlen))) goto out;
        r->n_rules = i + 1;
    }
out:
    json_decref(root);
    if (rc) {
        mesh_routes_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

struct mesh_svc_port *mesh_routes_find(const struct mesh_routes *r, uint32_t ip, uint16_t port)
{
    uint64_t key = (uint64_t)ip << 16 | port;
    size_t lo = 0, hi = r->n_addr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        struct mesh_svc_port *p = r->by_addr[mid];
        uint64_t k = (uint64_t)p->svc->cluster_ip << 16 | p->port;
        if (k == key) return p;
        if (k < key) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const struct mesh_pod *mesh_routes_pod(const struct mesh_routes *r, uint32_t ip)
{
    size_t lo = 0, hi = r->n_pods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->pods[mid].ip == ip) return &r->pods[mid];
        if (r->pods[mid].ip < ip) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const struct mesh_endpoint *mesh_routes_pick(struct mesh_svc_port *sp)
{
    if (!sp || sp->n_eps == 0) return NULL;
    return &sp->eps[sp->rr++ % sp->n_eps];
}
