/* rules: parsing fault rules and matching connections against them (see
 * rules.h). Rules are few (a handful injected at a time), so a linear scan
 * per new connection is cheaper than any index; a table without rules
 * costs one comparison. */
#include "mesh/rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define MS_MAX 600000                   /* 10 minutes */
#define RATE_MAX 10000000000ll          /* 10 GB/s */

static const char *const action_names[MESH_RULE_N] = {
    "delay", "reset", "loss", "bandwidth", "partition", "blackhole", "abort", "slow_close", "dns"};

uint32_t mesh_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

void mesh_rule_clear(struct mesh_rule *u)
{
    free(u->id);
    free(u->src_ns);
    free(u->src_workload);
    free(u->dst_ns);
    free(u->dst_service);
    free(u->name);
    memset(u, 0, sizeof *u);
}

static char *dup_str(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) s = dflt;
    return s ? xstrdup(s) : NULL;
}

/* An optional integer field within [lo, hi]; absent gives dflt (a dflt
 * below lo makes the field required). */
static int int_field(const json_t *jr, const char *key, json_int_t dflt, json_int_t lo, json_int_t hi,
                     json_int_t *out, const char *id, char *err, size_t errlen)
{
    json_t *v = json_object_get(jr, key);
    json_int_t x = dflt;
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) {
            snprintf(err, errlen, "%s: %s must be an integer", id, key);
            return -EINVAL;
        }
        x = json_integer_value(v);
    } else if (dflt < lo) {
        snprintf(err, errlen, "%s: %s is required (%lld to %lld)", id, key, (long long)lo, (long long)hi);
        return -EINVAL;
    }
    if (x < lo || x > hi) {
        snprintf(err, errlen, "%s: %s must be between %lld and %lld", id, key, (long long)lo, (long long)hi);
        return -EINVAL;
    }
    *out = x;
    return 0;
}

/* A DNS name as a rule names it: letters, digits, '-' and '.', lowercased,
 * without the final dot. NULL when it is not one. */
static char *dns_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n && s[n - 1] == '.') n--;
    if (n == 0 || n > 253) return NULL;
    char *out = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
            free(out);
            return NULL;
        }
        out[i] = c;
    }
    out[n] = '\0';
    return out;
}

static int parse_fields(const json_t *jr, struct mesh_rule *u, char *err, size_t errlen)
{
    char id[96]; /* how errors name the rule */
    snprintf(id, sizeof id, "rule%s%.64s", u->id[0] ? " " : "", u->id);
    const char *action = json_string_value(json_object_get(jr, "action"));
    int a = 0;
    while (a < MESH_RULE_N && !(action && !strcmp(action, action_names[a]))) a++;
    if (a == MESH_RULE_N) {
        snprintf(err, errlen,
                 "%s: action must be delay, loss, reset, bandwidth, partition, blackhole, abort, slow_close "
                 "or dns",
                 id);
        return -EINVAL;
    }
    u->action = (enum mesh_rule_action)a;

    json_t *src = json_object_get(jr, "source");
    if (src && !json_is_null(src)) {
        if (!json_is_object(src) || !json_string_value(json_object_get(src, "namespace")) ||
            !json_string_value(json_object_get(src, "workload"))) {
            snprintf(err, errlen, "%s: source needs namespace and workload (or null for any source)", id);
            return -EINVAL;
        }
        u->src_ns = dup_str(src, "namespace", NULL);
        u->src_workload = dup_str(src, "workload", NULL);
    }
    json_t *dst = json_object_get(jr, "destination");
    if (dst && !json_is_null(dst)) {
        if (!json_is_object(dst) || !json_string_value(json_object_get(dst, "namespace")) ||
            !json_string_value(json_object_get(dst, "service"))) {
            snprintf(err, errlen, "%s: destination needs namespace and service", id);
            return -EINVAL;
        }
        u->dst_ns = dup_str(dst, "namespace", NULL);
        u->dst_service = dup_str(dst, "service", NULL);
        json_int_t port;
        if (int_field(dst, "port", 0, 0, 65535, &port, id, err, errlen)) return -EINVAL;
        u->port = (uint16_t)port;
    }
    if (u->action == MESH_RULE_DNS) {
        json_t *name = json_object_get(jr, "name");
        if (name && !json_is_null(name) && !(u->name = dns_name(json_string_value(name)))) {
            snprintf(err, errlen, "%s: name must be a DNS name (letters, digits, '-', '.'; at most 253)", id);
            return -EINVAL;
        }
        if (!u->name && !u->dst_service) {
            snprintf(err, errlen, "%s: a dns rule needs a name or a destination service", id);
            return -EINVAL;
        }
    } else if (!u->dst_service) {
        snprintf(err, errlen, "%s: destination (namespace and service) is required", id);
        return -EINVAL;
    }
    if (u->action == MESH_RULE_PARTITION && !u->src_workload) {
        snprintf(err, errlen, "%s: a partition needs a source workload (a black hole cuts off all sources)", id);
        return -EINVAL;
    }
    if (u->action == MESH_RULE_BLACKHOLE && u->src_workload) {
        snprintf(err, errlen, "%s: a blackhole takes no source (a partition cuts off one source)", id);
        return -EINVAL;
    }

    json_t *dir = json_object_get(jr, "direction");
    u->direction = MESH_DIR_BOTH;
    if (dir && !json_is_null(dir)) {
        const char *d = json_string_value(dir);
        if (u->action != MESH_RULE_DELAY && u->action != MESH_RULE_LOSS && u->action != MESH_RULE_BANDWIDTH &&
            u->action != MESH_RULE_PARTITION) {
            snprintf(err, errlen, "%s: direction applies to delay, loss, bandwidth and partition only", id);
            return -EINVAL;
        }
        if (d && !strcmp(d, "to")) u->direction = MESH_DIR_TO;
        else if (d && !strcmp(d, "from")) u->direction = MESH_DIR_FROM;
        else if (!d || strcmp(d, "both")) {
            snprintf(err, errlen, "%s: direction must be \"to\", \"from\" or \"both\"", id);
            return -EINVAL;
        }
    }

    json_int_t v, w;
    if (int_field(jr, "percent", 100, 0, 100, &v, id, err, errlen)) return -EINVAL;
    u->percent = (int)v;
    switch (u->action) {
    case MESH_RULE_DELAY:
        if (int_field(jr, "delayMs", -1, 0, MS_MAX, &v, id, err, errlen) ||
            int_field(jr, "jitterMs", 0, 0, v, &w, id, err, errlen))
            return -EINVAL;
        u->delay_ms = (uint32_t)v;
        u->jitter_ms = (uint32_t)w;
        break;
    case MESH_RULE_LOSS:
        if (int_field(jr, "lossPercent", -1, 1, 100, &v, id, err, errlen)) return -EINVAL;
        u->loss_percent = (int)v;
        break;
    case MESH_RULE_BANDWIDTH:
        if (int_field(jr, "bytesPerSecond", -1, 1, RATE_MAX, &v, id, err, errlen)) return -EINVAL;
        u->bytes_per_second = (uint64_t)v;
        break;
    case MESH_RULE_ABORT:
        if (int_field(jr, "httpStatus", -1, 100, 599, &v, id, err, errlen)) return -EINVAL;
        u->http_status = (int)v;
        break;
    case MESH_RULE_SLOW_CLOSE:
        if (int_field(jr, "slowCloseMs", -1, 1, MS_MAX, &v, id, err, errlen)) return -EINVAL;
        u->slow_close_ms = (uint32_t)v;
        break;
    case MESH_RULE_DNS: {
        const char *e = json_string_value(json_object_get(jr, "dnsError"));
        if (e && !strcmp(e, "nxdomain")) u->dns_error = MESH_DNS_NXDOMAIN;
        else if (e && !strcmp(e, "servfail")) u->dns_error = MESH_DNS_SERVFAIL;
        else {
            snprintf(err, errlen, "%s: dnsError must be \"nxdomain\" or \"servfail\"", id);
            return -EINVAL;
        }
        break;
    }
    default:
        break;
    }
    return 0;
}

int mesh_rule_parse(const json_t *jr, struct mesh_rule *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (!json_is_object(jr)) {
        snprintf(err, errlen, "rule: not an object");
        return -EINVAL;
    }
    u->id = dup_str(jr, "id", "");
    int rc = parse_fields(jr, u, err, errlen);
    if (rc) mesh_rule_clear(u);
    return rc;
}

int mesh_rule_source_matches(const struct mesh_rule *u, const struct mesh_pod *src)
{
    return !u->src_workload || (src && !strcmp(u->src_workload, src->workload) && !strcmp(u->src_ns, src->ns));
}

static const struct mesh_service *find_service(const struct mesh_routes *r, const char *ns, const char *name)
{
    for (size_t i = 0; i < r->n_services; i++)
        if (!strcmp(r->services[i].name, name) && !strcmp(r->services[i].ns, ns)) return &r->services[i];
    return NULL;
}

/* Whether pod ip is a (ready) endpoint of svc. */
static int serves(const struct mesh_service *svc, uint32_t ip)
{
    for (size_t j = 0; j < svc->n_ports; j++)
        for (size_t k = 0; k < svc->ports[j].n_eps; k++)
            if (svc->ports[j].eps[k].ip == ip) return 1;
    return 0;
}

/* The reverse of a partition: a pod of the rule's destination Service
 * calling a Service backed by the rule's source workload. */
static int reverse_matches(const struct mesh_routes *r, const struct mesh_rule *u, const struct mesh_pod *src,
                           const struct mesh_svc_port *sp)
{
    const struct mesh_service *dst = src ? find_service(r, u->dst_ns, u->dst_service) : NULL;
    if (!dst || !serves(dst, src->ip)) return 0;
    const struct mesh_service *svc = sp->svc;
    for (size_t j = 0; j < svc->n_ports; j++)
        for (size_t k = 0; k < svc->ports[j].n_eps; k++) {
            const struct mesh_pod *p = mesh_routes_pod(r, svc->ports[j].eps[k].ip);
            if (p && mesh_rule_source_matches(u, p)) return 1;
        }
    return 0;
}

static int rule_applies(const struct mesh_routes *r, const struct mesh_rule *u, const struct mesh_pod *src,
                        const struct mesh_svc_port *sp)
{
    if (u->action == MESH_RULE_DNS) return 0;
    int forward = !strcmp(u->dst_service, sp->svc->name) && !strcmp(u->dst_ns, sp->svc->ns) &&
                  (!u->port || u->port == sp->port) && mesh_rule_source_matches(u, src);
    if (u->action != MESH_RULE_PARTITION) return forward;
    return ((u->direction & MESH_DIR_TO) && forward) ||
           ((u->direction & MESH_DIR_FROM) && reverse_matches(r, u, src, sp));
}

static void apply(const struct mesh_rule *u, struct mesh_verdict *v)
{
    for (int s = 0; s < 2; s++) {
        if (!(u->direction & (s ? MESH_DIR_FROM : MESH_DIR_TO))) continue;
        struct mesh_dir_verdict *d = &v->dir[s];
        uint32_t shape = s ? MESH_V_SHAPE_FROM : MESH_V_SHAPE_TO;
        if (u->action == MESH_RULE_DELAY) {
            d->delay_ms = u->delay_ms;
            d->jitter_ms = u->jitter_ms;
            v->flags |= MESH_V_DELAY | shape;
        } else if (u->action == MESH_RULE_LOSS) {
            d->loss_percent = u->loss_percent;
            v->flags |= MESH_V_LOSS | shape;
        } else if (u->action == MESH_RULE_BANDWIDTH) {
            d->bytes_per_second = u->bytes_per_second;
            v->flags |= MESH_V_BANDWIDTH | shape;
        }
    }
    switch (u->action) {
    case MESH_RULE_RESET:
        v->flags |= MESH_V_RESET;
        break;
    case MESH_RULE_PARTITION:
    case MESH_RULE_BLACKHOLE:
        v->flags |= MESH_V_HANG;
        break;
    case MESH_RULE_ABORT:
        v->flags |= MESH_V_ABORT;
        v->abort_percent = u->percent;
        v->abort_status = u->http_status;
        break;
    case MESH_RULE_SLOW_CLOSE:
        v->flags |= MESH_V_SLOW_CLOSE;
        v->slow_close_ms = u->slow_close_ms;
        break;
    default:
        break;
    }
}

void mesh_rules_match(const struct mesh_routes *r, const struct mesh_pod *src, const struct mesh_svc_port *sp,
                      uint64_t *rnd_state, struct mesh_verdict *out)
{
    memset(out, 0, sizeof *out);
    unsigned done = 0;
    for (size_t i = 0; i < r->n_rules; i++) {
        const struct mesh_rule *u = &r->rules[i];
        if ((done & (1u << u->action)) || !rule_applies(r, u, src, sp)) continue;
        /* abort's percent is of requests, rolled per request (proxy.c). */
        if (u->action != MESH_RULE_ABORT && u->percent < 100 && (int)(mesh_rand(rnd_state) % 100) >= u->percent)
            continue;
        done |= 1u << u->action;
        apply(u, out);
    }
}

uint64_t mesh_rules_delay_ns(const struct mesh_dir_verdict *d, uint64_t *rnd_state)
{
    int64_t ms = d->delay_ms;
    if (d->jitter_ms) ms += (int64_t)(mesh_rand(rnd_state) % (2 * d->jitter_ms + 1)) - (int64_t)d->jitter_ms;
    if (ms < 0) ms = 0;
    return (uint64_t)ms * 1000000ull;
}

uint64_t mesh_rules_loss_ns(int loss_percent, int is_syn, uint64_t *rnd_state)
{
    if (loss_percent <= 0) return 0;
    if (loss_percent >= 100) return MESH_LOSS_GIVE_UP;
    /* Linux: tcp_syn_retries 6 with a 1 s initial timeout; data RTO at
     * least 200 ms, at most 120 s (TCP_RTO_MAX), tcp_retries2 15. */
    uint64_t rto = is_syn ? 1000000000ull : 200000000ull, total = 0;
    int tries = is_syn ? 6 : 15;
    for (int k = 0; (int)(mesh_rand(rnd_state) % 100) < loss_percent; k++) {
        if (k == tries) return MESH_LOSS_GIVE_UP;
        total += rto;
        rto = rto * 2 > 120000000000ull ? 120000000000ull : rto * 2;
    }
    return total;
}
