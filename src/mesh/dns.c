/* dns: cluster names → ClusterIPs, and the dns fault rules (see dns.h).
 * A lookup is a scan of the Services: lookups come once per new
 * connection at most (libcurl, libpq and hiredis resolve per connect). */
#include "mesh/dns.h"

#include <string.h>

#include "mesh/rules.h"

/* Lowercase copy without the final dot; 0 or -1 when not a DNS name. */
static int normalize(const char *in, char *out)
{
    size_t n = strlen(in);
    if (n && in[n - 1] == '.') n--;
    if (n == 0 || n > MESH_DNS_NAME_MAX) return -1;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) return -1;
        out[i] = c;
    }
    out[n] = '\0';
    return 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n > k && !memcmp(s + n - k, suffix, k) && s[n - k - 1] != '.';
}

/* Split a cluster-form name into Service and namespace. *authoritative is
 * set for the forms only the cluster answers (…svc, …svc.cluster.local). */
static int split(char *q, const char *own_ns, const char **svc, const char **ns, int *authoritative)
{
    size_t n = strlen(q);
    *authoritative = 0;
    if (ends_with(q, n, ".svc.cluster.local")) {
        q[n - strlen(".svc.cluster.local")] = '\0';
        *authoritative = 1;
    } else if (ends_with(q, n, ".svc")) {
        q[n - 4] = '\0';
        *authoritative = 1;
    }
    char *dot = strchr(q, '.');
    if (!dot) {
        if (*authoritative) return -1;
        *svc = q;
        *ns = own_ns;
        return 0;
    }
    if (strchr(dot + 1, '.') || dot == q || !dot[1]) return -1;
    *dot = '\0';
    *svc = q;
    *ns = dot + 1;
    return 0;
}

int mesh_dns_resolve(const struct mesh_routes *r, const struct mesh_pod *src, const char *name, uint64_t *rnd_state,
                     uint32_t *ip)
{
    char q[MESH_DNS_NAME_MAX + 1], parts[MESH_DNS_NAME_MAX + 1];
    if (normalize(name, q)) return MESH_DNS_PASS;
    memcpy(parts, q, sizeof parts);
    const char *svc_name = NULL, *ns = NULL;
    int authoritative = 0;
    const struct mesh_service *found = NULL;
    if (!split(parts, src ? src->ns : "default", &svc_name, &ns, &authoritative)) {
        for (size_t i = 0; i < r->n_services && !found; i++)
            if (!strcmp(r->services[i].name, svc_name) && !strcmp(r->services[i].ns, ns)) found = &r->services[i];
    }
    for (size_t i = 0; i < r->n_rules; i++) {
        const struct mesh_rule *u = &r->rules[i];
        if (u->action != MESH_RULE_DNS || !mesh_rule_source_matches(u, src)) continue;
        int hit = (u->name && !strcmp(u->name, q)) ||
                  (u->dst_service && found && !strcmp(u->dst_service, found->name) && !strcmp(u->dst_ns, found->ns));
        if (!hit) continue;
        if (u->percent < 100 && (int)(mesh_rand(rnd_state) % 100) >= u->percent) continue;
        return u->dns_error;
    }
    if (found) {
        *ip = found->cluster_ip;
        return MESH_DNS_FOUND;
    }
    return authoritative ? MESH_DNS_NXDOMAIN : MESH_DNS_PASS;
}
