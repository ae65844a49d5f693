/* network: the network layer's faults. Each one is a mesh rule
 * (docs/mesh.md, "Rules") on the connections to the target Service, the
 * hook where the lab's data plane acts as a real network would: packets
 * held, lost or throttled, connections reset or never answered, an HTTP
 * error answered by the proxy (Istio's fault filter), a late FIN, a DNS
 * name that no longer resolves. fault_mesh_add records the rule's id in
 * the journal before the rule exists, so recover (fault_mesh_clear) always
 * knows what to delete; the rules never show in anything an agent reads.
 *
 * verify probes the Service the way a caller reaches it (netf_util.h): a
 * real connection through the mesh, timed, or a lookup in the mesh's DNS.
 * None of these has a mitigation check: the cause lives in the network,
 * where an operator of the cluster cannot remove it. */
#include <stdio.h>
#include <string.h>

#include "faults/fault.h"
#include "faults/layers.h"
#include "faults/netf_util.h"

/* Add one rule on connections to the target Service (rule: new reference, consumed). */
static int add_rule(struct fault_ctx *c, json_t *rule)
{
    json_object_set_new(rule, "destination", json_pack("{s:s, s:s}", "namespace", c->ns, "service", c->target));
    int rc = fault_mesh_add(c, rule, NULL, 0);
    json_decref(rule);
    return rc;
}

static int net_recover(struct fault_ctx *c) { return fault_mesh_clear(c); }

/* Probe the target n times from src_ip, or else as one of its callers:
 * the probes then count in the mesh's metrics as that caller's traffic,
 * never as a new edge that would point an agent at the target. */
static int probe_padded(struct fault_ctx *c, const char *src_ip, size_t pad, int n, unsigned wait_ms,
                        struct netf_probe *out)
{
    struct netf_target t;
    char caller[48];
    if (netf_target_of(c, c->target, &t)) return -1;
    if (!src_ip && !netf_caller_ip(c, c->target, caller, sizeof caller)) src_ip = caller;
    return netf_probe_run(c, &t, src_ip, pad, n, wait_ms, out);
}

static int probe(struct fault_ctx *c, const char *src_ip, int n, unsigned wait_ms, struct netf_probe *out)
{
    return probe_padded(c, src_ip, 0, n, wait_ms, out);
}

/* An answer that has not come (or came) only after ms. */
static int late(const struct netf_probe *p, uint32_t ms)
{
    return p->connected && !p->reset && (!p->received ? !p->closed : p->first_ms >= ms);
}

/* ---- network-delay --------------------------------------------------------- */

static int delay_inject(struct fault_ctx *c)
{
    long long d = fault_param_int(c, "delay"), j = fault_param_int(c, "jitter");
    if (j > d) {
        snprintf(c->err, sizeof c->err, "jitter (%lld ms) must not exceed delay (%lld ms)", j, d);
        return -1;
    }
    return add_rule(c, json_pack("{s:s, s:I, s:I, s:I, s:s}", "action", "delay", "delayMs", (json_int_t)d, "jitterMs",
                                 (json_int_t)j, "percent", (json_int_t)fault_param_int(c, "percent"), "direction",
                                 fault_param_str(c, "direction")));
}

/* Some answer comes at least delay - jitter late (or half the delay, when
 * the jitter could bring a chunk's delay to nothing). */
static int delay_verify(struct fault_ctx *c)
{
    long long d = fault_param_int(c, "delay"), j = fault_param_int(c, "jitter");
    uint32_t thr = (uint32_t)(d - j > d / 2 ? d - j : d / 2);
    struct netf_probe p[8];
    if (probe(c, NULL, 8, thr + 100, p)) return -1;
    for (int i = 0; i < 8; i++)
        if (late(&p[i], thr)) return 1;
    return 0;
}

static const struct fault_param delay_params[] = {
    {"delay", FP_MS, 10, 60000, "200ms", NULL, "how long each packet burst (and the connect) is held"},
    {"jitter", FP_MS, 0, 60000, "0", NULL, "± uniform variation of the delay (at most the delay)"},
    {"percent", FP_PERCENT, 1, 100, "100", NULL, "share of connections delayed"},
    {"direction", FP_ENUM, 0, 0, "both", "to|from|both", "requests (to the Service), responses (from it) or both"},
    {0},
};

static const struct fault_type network_delay = {
    .id = "network-delay",
    .layer = FAULT_NETWORK,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_SERVICE,
    .resource = "mesh-delay",
    .summary = "the network to the Service delays packets (latency injection)",
    .symptoms = "calls to the service take longer by about the delay (per round trip); its callers' latency "
                "histograms and the mesh's request duration for the service rise while the service's own "
                "handling time stays the same; callers with short deadlines time out",
    .params = delay_params,
    .verify_ms = 10000,
    .inject = delay_inject,
    .verify = delay_verify,
    .recover = net_recover,
};

/* ---- network-loss ------------------------------------------------------------ */

static int loss_inject(struct fault_ctx *c)
{
    return add_rule(c, json_pack("{s:s, s:I}", "action", "loss", "lossPercent",
                                 (json_int_t)fault_param_int(c, "percent")));
}

/* A lost segment costs a retransmission timeout (200 ms at least), a lost
 * SYN a second: some answer comes that late. */
static int loss_verify(struct fault_ctx *c)
{
    struct netf_probe p[12];
    if (probe(c, NULL, 12, 300, p)) return -1;
    for (int i = 0; i < 12; i++)
        if (late(&p[i], 180)) return 1;
    return 0;
}

static const struct fault_param loss_params[] = {
    {"percent", FP_PERCENT, 1, 100, "20", NULL, "share of packets lost (TCP retransmits them: time, not data)"},
    {0},
};

static const struct fault_type network_loss = {
    .id = "network-loss",
    .layer = FAULT_NETWORK,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_SERVICE,
    .resource = "mesh-loss",
    .summary = "the network to the Service loses packets",
    .symptoms = "calls to the service become slow and erratic: a tail of requests takes 200 ms, 400 ms, 1 s "
                "longer (TCP retransmissions), connects sometimes take 1-3 s; p99 latency of its callers jumps "
                "while the median moves little; at high loss callers time out",
    .params = loss_params,
    .verify_ms = 20000,
    .inject = loss_inject,
    .verify = loss_verify,
    .recover = net_recover,
};

/* ---- network-reset ------------------------------------------------------------ */

static int reset_inject(struct fault_ctx *c)
{
    return add_rule(c, json_pack("{s:s, s:I}", "action", "reset", "percent",
                                 (json_int_t)fault_param_int(c, "percent")));
}

static int reset_verify(struct fault_ctx *c)
{
    struct netf_probe p[8];
    if (probe(c, NULL, 8, 1000, p)) return -1;
    for (int i = 0; i < 8; i++)
        if (p[i].reset) return 1;
    return 0;
}

static const struct fault_param reset_params[] = {
    {"percent", FP_PERCENT, 1, 100, "100", NULL, "share of connections reset"},
    {0},
};

static const struct fault_type network_reset = {
    .id = "network-reset",
    .layer = FAULT_NETWORK,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_SERVICE,
    .resource = "mesh-reset",
    .summary = "connections to the Service are reset (RST) when they carry their first data",
    .symptoms = "callers get \"Connection reset by peer\" (curl exit 56, recv failure) and answer 5xx; the "
                "service's own logs show no failed requests (they never reach it); the mesh counts the "
                "connections but no requests for the service",
    .params = reset_params,
    .verify_ms = 10000,
    .inject = reset_inject,
    .verify = reset_verify,
    .recover = net_recover,
};

/* ---- network-bandwidth -------------------------------------------------------- */

static int bw_inject(struct fault_ctx *c)
{
    return add_rule(c, json_pack("{s:s, s:I}", "action", "bandwidth", "bytesPerSecond",
                                 (json_int_t)fault_param_int(c, "rate")));
}

/* A request of about a fifth of a second's worth of bytes takes that long
 * to cross the link. */
static size_t bw_pad(long long rate) { return (size_t)(rate / 5 < 64 ? 64 : rate / 5 > 4000 ? 4000 : rate / 5); }

static int bw_verify(struct fault_ctx *c)
{
    long long rate = fault_param_int(c, "rate");
    struct netf_probe p[2];
    size_t pad = bw_pad(rate);
    /* Twice the time the padded request needs at the cap, plus slack. */
    unsigned wait_ms = (unsigned)((pad + 256) * 1000 / (size_t)rate) * 2 + 500;
    if (probe_padded(c, NULL, pad, 2, wait_ms > 10000 ? 10000 : wait_ms, p)) return -1;
    for (int i = 0; i < 2; i++) {
        unsigned expect = (unsigned)(p[i].sent * 1000 / (size_t)rate);
        if (expect < 10) {
            snprintf(c->err, sizeof c->err, "a %zu-byte request crosses %lld B/s in %u ms: too fast to tell", p[i].sent,
                     rate, expect);
            return 0;
        }
        uint32_t end = p[i].closed ? p[i].close_ms : p[i].last_ms;
        if (p[i].connected && !p[i].reset && (!(p[i].closed || p[i].received) || end >= expect * 7 / 10)) return 1;
    }
    return 0;
}

static const struct fault_param bw_params[] = {
    {"rate", FP_BYTES, 100, 100000, "2000", NULL, "bytes per second, each direction of each connection"},
    {0},
};

static const struct fault_type network_bandwidth = {
    .id = "network-bandwidth",
    .layer = FAULT_NETWORK,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_SERVICE,
    .resource = "mesh-bandwidth",
    .summary = "the link to the Service is throttled to a few kB/s",
    .symptoms = "calls to the service slow down in proportion to their size: small requests a little, large "
                "ones (long timelines, bulk reads) a lot; the mesh's bytes per second to and from the service "
                "flatten at the cap; callers' deadlines expire on large answers",
    .params = bw_params,
    .verify_ms = 15000,
    .inject = bw_inject,
    .verify = bw_verify,
    .recover = net_recover,
};

/* ---- network-partition -------------------------------------------------------- */

static int part_inject(struct fault_ctx *c)
{
    const char *peer = fault_param_str(c, "peer");
    json_t *d = fault_get(c, "Deployment", peer, NULL);
    if (!d) {
        snprintf(c->err, sizeof c->err, "peer \"%s\" must be a Deployment (its pods are one side of the partition)",
                 peer);
        return -1;
    }
    json_decref(d);
    const char *dir = !strcmp(fault_param_str(c, "direction"), "one") ? "to" : "both";
    return add_rule(c, json_pack("{s:s, s:{s:s, s:s}, s:s}", "action", "partition", "source", "namespace", c->ns,
                                 "workload", peer, "direction", dir));
}

/* From a peer pod's address, the Service never answers. (The reverse
 * direction is the same rule; probing it would open an edge the app never
 * has, which an agent could read in the mesh's metrics.) */
static int part_verify(struct fault_ctx *c)
{
    char ip[48];
    struct netf_probe p[2];
    if (netf_pod_ip(c, fault_param_str(c, "peer"), ip, sizeof ip) || probe(c, ip, 2, 1000, p)) return -1;
    return late(&p[0], 1000) && late(&p[1], 1000);
}

static const struct fault_param part_params[] = {
    {"peer", FP_WORKLOAD, 0, 253, NULL, NULL, "the Deployment cut off from the target Service"},
    {"direction", FP_ENUM, 0, 0, "both", "one|both",
     "one: peer -> target only; both: also the target's pods -> the peer's Services"},
    {0},
};

static const struct fault_type network_partition = {
    .id = "network-partition",
    .layer = FAULT_NETWORK,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_SERVICE,
    .resource = "mesh-hang",
    .summary = "a network partition between one workload and the Service: packets between them are dropped",
    .symptoms = "the peer's calls to the service hang until their connect or request timeouts fire (\"Connection "
                "timed out\", deadline exceeded) and it answers 5xx or times out itself; other callers of the "
                "service are fine; both sides stay Running and Ready",
    .params = part_params,
    .peer_param = "peer",
    .verify_ms = 10000,
    .inject = part_inject,
    .verify = part_verify,
    .recover = net_recover,
};

/* ---- network-blackhole --------------------------------------------------------- */

static int bh_inject(struct fault_ctx *c) { return add_rule(c, json_pack("{s:s}", "action", "blackhole")); }

static int bh_verify(struct fault_ctx *c)
{
    struct netf_probe p[2];
    if (probe(c, NULL, 2, 1000, p)) return -1;
    return late(&p[0], 1000) && late(&p[1], 1000);
}

static const struct fault_param no_params[] = {{0}};

static const struct fault_type network_blackhole = {
    .id = "network-blackhole",
    .layer = FAULT_NETWORK,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_SERVICE,
    .resource = "mesh-hang",
    .summary = "every packet to the Service is silently dropped (a black hole)",
    .symptoms = "every call to the service hangs until the caller's timeout (connect timed out, deadline "
                "exceeded), from every caller; open connections stall; the service's pods are Running and "
                "Ready and log no requests; its callers' latency goes to their timeout and they answer 5xx",
    .params = no_params,
    .verify_ms = 10000,
    .inject = bh_inject,
    .verify = bh_verify,
    .recover = net_recover,
};

/* ---- dns-failure --------------------------------------------------------------- */

#define DNS_ANY "any"

static int dns_inject(struct fault_ctx *c)
{
    const char *from = fault_param_str(c, "from");
    json_t *rule = json_pack("{s:s, s:s}", "action", "dns", "dnsError", fault_param_str(c, "error"));
    if (strcmp(from, DNS_ANY)) {
        json_t *d = fault_get(c, "Deployment", from, NULL);
        if (!d) {
            json_decref(rule);
            snprintf(c->err, sizeof c->err, "from: no Deployment \"%s\" in namespace \"%s\"", from, c->ns);
            return -1;
        }
        json_decref(d);
        json_object_set_new(rule, "source", json_pack("{s:s, s:s}", "namespace", c->ns, "workload", from));
    }
    return add_rule(c, rule);
}

/* A lookup of the Service's name, asked as a pod of the source asks it. */
static int dns_verify(struct fault_ctx *c)
{
    const char *from = fault_param_str(c, "from");
    char ip[48], name[300];
    if (strcmp(from, DNS_ANY) && netf_pod_ip(c, from, ip, sizeof ip)) return -1;
    snprintf(name, sizeof name, "%s.%s.svc.cluster.local", c->target, c->ns);
    int want = !strcmp(fault_param_str(c, "error"), "servfail") ? 2 : 1;
    int st = netf_dns_query(c, strcmp(from, DNS_ANY) ? ip : NULL, name, 2000, NULL);
    return st < 0 ? -1 : st == want;
}

static const struct fault_param dns_params[] = {
    {"error", FP_ENUM, 0, 0, "nxdomain", "nxdomain|servfail",
     "nxdomain: the name does not exist; servfail: the DNS server fails"},
    {"from", FP_STRING, 0, 253, DNS_ANY, NULL, "only lookups from this Deployment's pods, or any"},
    {0},
};

static const struct fault_type dns_failure = {
    .id = "dns-failure",
    .layer = FAULT_NETWORK,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_SERVICE,
    .resource = "dns",
    .summary = "the cluster DNS fails lookups of the Service's name (NXDOMAIN or SERVFAIL)",
    .symptoms = "callers that resolve the service's name get \"could not resolve host\" / \"Name or service not "
                "known\" (NXDOMAIN) or \"Temporary failure in name resolution\" (SERVFAIL) when they open new "
                "connections (after a restart, a reconnect, a new pool connection); calls through kept-alive "
                "connections and by ClusterIP keep working; the Service and its endpoints look healthy",
    .params = dns_params,
    .verify_ms = 5000,
    .inject = dns_inject,
    .verify = dns_verify,
    .recover = net_recover,
};

/* ---- http-abort ---------------------------------------------------------------- */

static int abort_inject(struct fault_ctx *c)
{
    struct netf_target t;
    if (netf_target_of(c, c->target, &t)) return -1;
    if (t.proto != NETF_HTTP) {
        snprintf(c->err, sizeof c->err, "Service \"%s\" does not speak HTTP (an abort acts on HTTP requests)",
                 c->target);
        return -1;
    }
    return add_rule(c, json_pack("{s:s, s:I, s:I}", "action", "abort", "httpStatus",
                                 (json_int_t)fault_param_int(c, "status"), "percent",
                                 (json_int_t)fault_param_int(c, "percent")));
}

static int abort_verify(struct fault_ctx *c)
{
    struct netf_probe p[8];
    if (probe(c, NULL, 8, 1000, p)) return -1;
    int want = (int)fault_param_int(c, "status");
    for (int i = 0; i < 8; i++)
        if (p[i].http_status == want && p[i].abort_body) return 1;
    return 0;
}

static const struct fault_param abort_params[] = {
    {"status", FP_INT, 400, 599, "503", NULL, "the HTTP status the proxy answers"},
    {"percent", FP_PERCENT, 1, 100, "100", NULL, "share of requests aborted"},
    {0},
};

static const struct fault_type http_abort = {
    .id = "http-abort",
    .layer = FAULT_NETWORK,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_SERVICE,
    .resource = "mesh-abort",
    .summary = "the service proxy answers a share of the Service's HTTP requests with an error (Istio fault abort)",
    .symptoms = "callers get the status (e.g. 503, body \"fault filter abort\") for a share of their calls and "
                "log them as upstream errors; the mesh counts those responses for the service while the "
                "service's own metrics and logs show fewer requests and no errors",
    .params = abort_params,
    .verify_ms = 10000,
    .inject = abort_inject,
    .verify = abort_verify,
    .recover = net_recover,
};

/* ---- slow-close ---------------------------------------------------------------- */

static int sc_inject(struct fault_ctx *c)
{
    return add_rule(c, json_pack("{s:s, s:I}", "action", "slow_close", "slowCloseMs",
                                 (json_int_t)fault_param_int(c, "delay")));
}

/* The server's close reaches the caller the delay after its last byte. */
static int sc_verify(struct fault_ctx *c)
{
    long long ms = fault_param_int(c, "delay");
    struct netf_probe p[2];
    if (probe(c, NULL, 2, (unsigned)ms + 1000, p)) return -1;
    for (int i = 0; i < 2; i++) {
        if (!p[i].received || p[i].reset) continue;
        uint32_t end = p[i].closed ? p[i].close_ms : (uint32_t)ms + 1000;
        if (end - p[i].last_ms >= (uint32_t)(ms * 8 / 10)) return 1;
    }
    return 0;
}

static const struct fault_param sc_params[] = {
    {"delay", FP_MS, 100, 20000, "2s", NULL, "how long the close (FIN) toward the caller is held"},
    {0},
};

static const struct fault_type slow_close = {
    .id = "slow-close",
    .layer = FAULT_NETWORK,
    .cls = FAULT_NETWORK_STORAGE,
    .target = FT_SERVICE,
    .resource = "mesh-slow-close",
    .summary = "the close of connections from the Service reaches callers late",
    .symptoms = "callers that read until the connection closes (HTTP/1.0, Connection: close, some clients and "
                "proxies) wait the extra delay after the full answer; connections pile up in the mesh; "
                "keep-alive callers are unaffected",
    .params = sc_params,
    .verify_ms = 30000,
    .inject = sc_inject,
    .verify = sc_verify,
    .recover = net_recover,
};

const struct fault_type *const fault_types_network[] = {
    &network_delay, &network_loss,  &network_reset, &network_bandwidth, &network_partition,
    &network_blackhole, &dns_failure, &http_abort,  &slow_close,        NULL,
};
