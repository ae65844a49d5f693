/* print: kubectl's table output for each kind, the pod status column as
 * kubectl computes it, and the -o forms shared by every verb (json, yaml,
 * name, jsonpath). Functions take json_t objects and a FILE so the unit
 * tests can check them on canned objects without a daemon. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/yaml.h"
#include "kubectl/kc.h"
#include "kubectl/kread.h"

#define OUT_MAX (256u << 20)

/* ---- tables ---- */

void kc_table_init(struct kc_table *t, size_t ncols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols ? ncols : 1;
}

void kc_table_add(struct kc_table *t, const char *cell)
{
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = xrealloc(t->cells, t->cap * sizeof *t->cells);
    }
    t->cells[t->count++] = xstrdup(cell ? cell : "");
}

void kc_table_addf(struct kc_table *t, const char *fmt, ...)
{
    char s[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    kc_table_add(t, s);
}

/* Display width: count UTF-8 code points, as tabwriter counts runes. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) w++;
    return w;
}

void kc_table_print(const struct kc_table *t, FILE *f)
{
    size_t nc = t->ncols, rows = t->count / nc;
    size_t *width = xcalloc(nc, sizeof *width);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c + 1 < nc; c++) {
            size_t w = text_width(t->cells[r * nc + c]) + 3;
            if (w < 6) w = 6;
            if (w > width[c]) width[c] = w;
        }
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < nc; c++) {
            const char *s = t->cells[r * nc + c];
            fputs(s, f);
            if (c + 1 < nc)
                for (size_t i = text_width(s); i < width[c]; i++) fputc(' ', f);
        }
        fputc('\n', f);
    }
    free(width);
}

void kc_table_free(struct kc_table *t)
{
    for (size_t i = 0; i < t->count; i++) free(t->cells[i]);
    xfree(t->cells);
    t->count = t->cap = 0;
}

/* ---- small formatters ---- */

void kc_age(const char *ts, time_t now, char *out, size_t n)
{
    uint64_t ns;
    if (!ts || !*ts || time_parse_rfc3339(ts, &ns)) {
        snprintf(out, n, "<unknown>");
        return;
    }
    time_human((int64_t)now - (int64_t)(ns / 1000000000ull), out, n);
}

static const struct {
    const char *kind, *prefix;
} prefixes[] = {
    {"Pod", "pod"},
    {"Deployment", "deployment.apps"},
    {"ReplicaSet", "replicaset.apps"},
    {"Service", "service"},
    {"Endpoints", "endpoints"},
    {"ConfigMap", "configmap"},
    {"Secret", "secret"},
    {"Event", "event"},
    {"Namespace", "namespace"},
};

const char *kc_kind_prefix(const char *kind)
{
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strcmp(prefixes[i].kind, kind)) return prefixes[i].prefix;
    return "object";
}

char *kc_labels_string(const json_t *labels)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    const char *k;
    json_t *v;
    /* Sorted keys, as kubectl prints label maps. */
    size_t n = json_is_object(labels) ? json_object_size(labels) : 0;
    const char **keys = xcalloc(n + 1, sizeof *keys);
    size_t i = 0;
    json_object_foreach((json_t *)labels, k, v) keys[i++] = k;
    for (size_t a = 1; a < i; a++)
        for (size_t c = a; c > 0 && strcmp(keys[c - 1], keys[c]) > 0; c--) {
            const char *tmp = keys[c];
            keys[c] = keys[c - 1];
            keys[c - 1] = tmp;
        }
    for (size_t a = 0; a < i; a++) {
        const char *s = json_string_value(json_object_get(labels, keys[a]));
        buf_printf(&b, "%s%s=%s", a ? "," : "", keys[a], s ? s : "");
    }
    free(keys);
    if (!b.len) buf_puts(&b, "<none>");
    return buf_steal(&b);
}

static const char *str(const json_t *o, const char *path, const char *dflt)
{
    return json_path_str(o, path, dflt);
}

static const char *name_of(const json_t *o)
{
    return str(o, "metadata.name", "");
}

/* ---- pods ---- */

static int64_t ts_seconds(const char *ts)
{
    uint64_t ns;
    if (!ts || time_parse_rfc3339(ts, &ns)) return 0;
    return (int64_t)(ns / 1000000000ull);
}

static int condition_true(const json_t *obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_path(obj, "status.conditions"), i, c)
    {
        if (!strcmp(str(c, "type", ""), type)) return !strcmp(str(c, "status", ""), "True");
    }
    return 0;
}

void kc_pod_summary(const json_t *pod, time_t now, struct kc_pod_summary *s)
{
    memset(s, 0, sizeof *s);
    const char *reason = str(pod, "status.phase", "");
    if (*str(pod, "status.reason", "")) reason = str(pod, "status.reason", "");
    char rbuf[96];
    int restarts = 0, ready = 0;
    int total = (int)json_array_size(json_path(pod, "spec.containers"));
    int64_t last_restart = 0;
    int initializing = 0;
    size_t i;
    json_t *cs;
    json_t *init = json_path(pod, "status.initContainerStatuses");
    size_t ninit_spec = json_array_size(json_path(pod, "spec.initContainers"));
    json_array_foreach(init, i, cs)
    {
        restarts += (int)json_path_int(cs, "restartCount", 0);
        const char *fin = str(cs, "lastState.terminated.finishedAt", NULL);
        if (fin && ts_seconds(fin) > last_restart) last_restart = ts_seconds(fin);
        json_t *term = json_path(cs, "state.terminated");
        const char *wreason = str(cs, "state.waiting.reason", "");
        if (term && json_path_int(cs, "state.terminated.exitCode", 0) == 0) continue;
        if (term) {
            const char *tr = str(cs, "state.terminated.reason", "");
            if (*tr)
                snprintf(rbuf, sizeof rbuf, "Init:%s", tr);
            else if (json_path_int(cs, "state.terminated.signal", 0))
                snprintf(rbuf, sizeof rbuf, "Init:Signal:%d", (int)json_path_int(cs, "state.terminated.signal", 0));
            else
                snprintf(rbuf, sizeof rbuf, "Init:ExitCode:%d",
                         (int)json_path_int(cs, "state.terminated.exitCode", 0));
        } else if (*wreason && strcmp(wreason, "PodInitializing")) {
            snprintf(rbuf, sizeof rbuf, "Init:%s", wreason);
        } else {
            snprintf(rbuf, sizeof rbuf, "Init:%zu/%zu", i, ninit_spec ? ninit_spec : json_array_size(init));
        }
        reason = rbuf;
        initializing = 1;
        break;
    }
    if (!initializing || condition_true(pod, "Initialized")) {
        restarts = 0;
        int has_running = 0;
        json_t *list = json_path(pod, "status.containerStatuses");
        for (size_t k = json_array_size(list); k-- > 0;) {
            cs = json_array_get(list, k);
            restarts += (int)json_path_int(cs, "restartCount", 0);
            const char *fin = str(cs, "lastState.terminated.finishedAt", NULL);
            if (fin && ts_seconds(fin) > last_restart) last_restart = ts_seconds(fin);
            const char *wreason = str(cs, "state.waiting.reason", "");
            json_t *term = json_path(cs, "state.terminated");
            if (json_path(cs, "state.waiting") && *wreason) {
                snprintf(rbuf, sizeof rbuf, "%s", wreason);
                reason = rbuf;
            } else if (term && *str(cs, "state.terminated.reason", "")) {
                snprintf(rbuf, sizeof rbuf, "%s", str(cs, "state.terminated.reason", ""));
                reason = rbuf;
            } else if (term) {
                if (json_path_int(cs, "state.terminated.signal", 0))
                    snprintf(rbuf, sizeof rbuf, "Signal:%d", (int)json_path_int(cs, "state.terminated.signal", 0));
                else
                    snprintf(rbuf, sizeof rbuf, "ExitCode:%d", (int)json_path_int(cs, "state.terminated.exitCode", 0));
                reason = rbuf;
            } else if (json_is_true(json_object_get(cs, "ready")) && json_path(cs, "state.running")) {
                has_running = 1;
                ready++;
            }
        }
        if (!strcmp(reason, "Completed") && has_running)
            reason = condition_true(pod, "Ready") ? "Running" : "NotReady";
    }
    if (json_path(pod, "metadata.deletionTimestamp") && !json_is_null(json_path(pod, "metadata.deletionTimestamp")))
        reason = !strcmp(str(pod, "status.reason", ""), "NodeLost") ? "Unknown" : "Terminating";
    snprintf(s->status, sizeof s->status, "%s", *reason ? reason : "Unknown");
    snprintf(s->ready, sizeof s->ready, "%d/%d", ready, total);
    s->restart_count = restarts;
    if (last_restart > 0 && restarts > 0) {
        char age[32];
        time_human((int64_t)now - last_restart, age, sizeof age);
        snprintf(s->restarts, sizeof s->restarts, "%d (%s ago)", restarts, age);
    } else {
        snprintf(s->restarts, sizeof s->restarts, "%d", restarts);
    }
}

/* ---- per-kind columns ---- */

static char *selector_string(const json_t *sel)
{
    /* Deployments and ReplicaSets: matchLabels (and simple expressions). */
    json_t *ml = json_object_get(sel, "matchLabels");
    if (!ml && json_is_object(sel) && !json_object_get(sel, "matchExpressions")) ml = (json_t *)sel;
    char *s = kc_labels_string(ml);
    json_t *exprs = json_object_get(sel, "matchExpressions");
    if (json_array_size(exprs)) {
        struct buf b;
        buf_init(&b, 1u << 20);
        if (strcmp(s, "<none>")) buf_puts(&b, s);
        size_t i;
        json_t *e;
        json_array_foreach(exprs, i, e)
        {
            const char *op = str(e, "operator", "");
            const char *key = str(e, "key", "");
            if (b.len) buf_puts(&b, ",");
            if (!strcmp(op, "Exists")) {
                buf_puts(&b, key);
            } else if (!strcmp(op, "DoesNotExist")) {
                buf_printf(&b, "!%s", key);
            } else {
                buf_printf(&b, "%s %s (", key, !strcmp(op, "NotIn") ? "notin" : "in");
                size_t j;
                json_t *v;
                json_array_foreach(json_object_get(e, "values"), j, v)
                    buf_printf(&b, "%s%s", j ? "," : "", json_string_value(v) ? json_string_value(v) : "");
                buf_puts(&b, ")");
            }
        }
        free(s);
        s = buf_steal(&b);
    }
    return s;
}

static void containers_images(const json_t *podspec, struct kc_table *t)
{
    struct buf names, images;
    buf_init(&names, 1u << 20);
    buf_init(&images, 1u << 20);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(podspec, "containers"), i, c)
    {
        buf_printf(&names, "%s%s", i ? "," : "", str(c, "name", ""));
        buf_printf(&images, "%s%s", i ? "," : "", str(c, "image", ""));
    }
    kc_table_add(t, names.len ? names.data : "<none>");
    kc_table_add(t, images.len ? images.data : "<none>");
    buf_free(&names);
    buf_free(&images);
}

static void service_ports(const json_t *svc, struct buf *b)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_path(svc, "spec.ports"), i, p)
    {
        long port = (long)json_path_int(p, "port", 0);
        long node = (long)json_path_int(p, "nodePort", 0);
        const char *proto = str(p, "protocol", "TCP");
        if (node)
            buf_printf(b, "%s%ld:%ld/%s", i ? "," : "", port, node, proto);
        else
            buf_printf(b, "%s%ld/%s", i ? "," : "", port, proto);
    }
    if (!b->len) buf_puts(b, "<none>");
}

static void endpoints_string(const json_t *ep, struct buf *b)
{
    int max = 3, count = 0, listed = 0, more = 0;
    size_t i, j, k;
    json_t *ss, *port, *addr;
    json_array_foreach(json_object_get(ep, "subsets"), i, ss)
    {
        json_t *addrs = json_object_get(ss, "addresses");
        json_t *ports = json_object_get(ss, "ports");
        if (!json_array_size(ports)) {
            count += (int)json_array_size(addrs);
            json_array_foreach(addrs, k, addr)
            {
                if (listed == max) {
                    more = 1;
                    break;
                }
                buf_printf(b, "%s%s", listed++ ? "," : "", str(addr, "ip", ""));
            }
            continue;
        }
        json_array_foreach(ports, j, port)
        {
            count += (int)json_array_size(addrs);
            json_array_foreach(addrs, k, addr)
            {
                if (listed == max) {
                    more = 1;
                    break;
                }
                buf_printf(b, "%s%s:%ld", listed++ ? "," : "", str(addr, "ip", ""),
                           (long)json_path_int(port, "port", 0));
            }
        }
    }
    if (more) buf_printf(b, " + %d more...", count - max);
    if (!b->len) buf_puts(b, "<none>");
}

static const char *event_time(const json_t *ev)
{
    const char *t = str(ev, "lastTimestamp", NULL);
    if (!t || !*t) t = str(ev, "eventTime", NULL);
    if (!t || !*t) t = str(ev, "firstTimestamp", NULL);
    if (!t || !*t) t = str(ev, "metadata.creationTimestamp", NULL);
    return t;
}

static void event_object(const json_t *ev, char *out, size_t n)
{
    const char *kind = str(ev, "involvedObject.kind", "");
    char lower[64];
    size_t i = 0;
    for (; kind[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)(kind[i] >= 'A' && kind[i] <= 'Z' ? kind[i] + 32 : kind[i]);
    lower[i] = '\0';
    snprintf(out, n, "%s/%s", lower, str(ev, "involvedObject.name", ""));
}

/* Header of a kind's table; wide adds the wide columns. */
static size_t header(const char *kind, int wide, const char **cols)
{
    size_t n = 0;
#define H(...)                                                                 \
    do {                                                                       \
        const char *h_[] = {__VA_ARGS__};                                      \
        for (size_t h_i = 0; h_i < sizeof h_ / sizeof h_[0]; h_i++) cols[n++] = h_[h_i]; \
    } while (0)
    if (!strcmp(kind, "Pod")) {
        H("NAME", "READY", "STATUS", "RESTARTS", "AGE");
        if (wide) H("IP", "NODE", "NOMINATED NODE", "READINESS GATES");
    } else if (!strcmp(kind, "Deployment")) {
        H("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE");
        if (wide) H("CONTAINERS", "IMAGES", "SELECTOR");
    } else if (!strcmp(kind, "ReplicaSet")) {
        H("NAME", "DESIRED", "CURRENT", "READY", "AGE");
        if (wide) H("CONTAINERS", "IMAGES", "SELECTOR");
    } else if (!strcmp(kind, "Service")) {
        H("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE");
        if (wide) H("SELECTOR");
    } else if (!strcmp(kind, "Endpoints")) {
        H("NAME", "ENDPOINTS", "AGE");
    } else if (!strcmp(kind, "ConfigMap")) {
        H("NAME", "DATA", "AGE");
    } else if (!strcmp(kind, "Secret")) {
        H("NAME", "TYPE", "DATA", "AGE");
    } else if (!strcmp(kind, "Namespace")) {
        H("NAME", "STATUS", "AGE");
    } else if (!strcmp(kind, "Event")) {
        H("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE");
    } else {
        H("NAME", "AGE");
    }
#undef H
    return n;
}

static void row(const char *kind, const json_t *o, const struct kc_print_opts *opt, struct kc_table *t)
{
    char age[32], name[512];
    kc_age(str(o, "metadata.creationTimestamp", NULL), opt->now, age, sizeof age);
    if (opt->with_kind)
        snprintf(name, sizeof name, "%s/%s", kc_kind_prefix(kind), name_of(o));
    else
        snprintf(name, sizeof name, "%s", name_of(o));
    if (strcmp(kind, "Event")) kc_table_add(t, name);
    if (!strcmp(kind, "Pod")) {
        struct kc_pod_summary s;
        kc_pod_summary(o, opt->now, &s);
        kc_table_add(t, s.ready);
        kc_table_add(t, s.status);
        kc_table_add(t, s.restarts);
        kc_table_add(t, age);
        if (opt->wide) {
            kc_table_add(t, str(o, "status.podIP", "<none>"));
            kc_table_add(t, str(o, "spec.nodeName", "<none>"));
            kc_table_add(t, str(o, "status.nominatedNodeName", "<none>"));
            kc_table_add(t, "<none>");
        }
    } else if (!strcmp(kind, "Deployment")) {
        kc_table_addf(t, "%lld/%lld", (long long)json_path_int(o, "status.readyReplicas", 0),
                      (long long)json_path_int(o, "spec.replicas", 1));
        kc_table_addf(t, "%lld", (long long)json_path_int(o, "status.updatedReplicas", 0));
        kc_table_addf(t, "%lld", (long long)json_path_int(o, "status.availableReplicas", 0));
        kc_table_add(t, age);
        if (opt->wide) {
            containers_images(json_path(o, "spec.template.spec"), t);
            char *sel = selector_string(json_path(o, "spec.selector"));
            kc_table_add(t, sel);
            free(sel);
        }
    } else if (!strcmp(kind, "ReplicaSet")) {
        kc_table_addf(t, "%lld", (long long)json_path_int(o, "spec.replicas", 1));
        kc_table_addf(t, "%lld", (long long)json_path_int(o, "status.replicas", 0));
        kc_table_addf(t, "%lld", (long long)json_path_int(o, "status.readyReplicas", 0));
        kc_table_add(t, age);
        if (opt->wide) {
            containers_images(json_path(o, "spec.template.spec"), t);
            char *sel = selector_string(json_path(o, "spec.selector"));
            kc_table_add(t, sel);
            free(sel);
        }
    } else if (!strcmp(kind, "Service")) {
        const char *type = str(o, "spec.type", "ClusterIP");
        kc_table_add(t, type);
        kc_table_add(t, str(o, "spec.clusterIP", "<none>"));
        json_t *ext = json_path(o, "spec.externalIPs");
        if (json_array_size(ext)) {
            struct buf b;
            buf_init(&b, 1u << 16);
            size_t i;
            json_t *v;
            json_array_foreach(ext, i, v) buf_printf(&b, "%s%s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "");
            kc_table_add(t, b.data);
            buf_free(&b);
        } else {
            kc_table_add(t, !strcmp(type, "LoadBalancer") ? "<pending>" : "<none>");
        }
        struct buf b;
        buf_init(&b, 1u << 16);
        service_ports(o, &b);
        kc_table_add(t, b.data);
        buf_free(&b);
        kc_table_add(t, age);
        if (opt->wide) {
            char *sel = kc_labels_string(json_path(o, "spec.selector"));
            kc_table_add(t, sel);
            free(sel);
        }
    } else if (!strcmp(kind, "Endpoints")) {
        struct buf b;
        buf_init(&b, 1u << 16);
        endpoints_string(o, &b);
        kc_table_add(t, b.data);
        buf_free(&b);
        kc_table_add(t, age);
    } else if (!strcmp(kind, "ConfigMap")) {
        kc_table_addf(t, "%zu", json_object_size(json_object_get(o, "data")) +
                                    json_object_size(json_object_get(o, "binaryData")));
        kc_table_add(t, age);
    } else if (!strcmp(kind, "Secret")) {
        kc_table_add(t, str(o, "type", "Opaque"));
        kc_table_addf(t, "%zu", json_object_size(json_object_get(o, "data")) +
                                    json_object_size(json_object_get(o, "stringData")));
        kc_table_add(t, age);
    } else if (!strcmp(kind, "Namespace")) {
        kc_table_add(t, str(o, "status.phase", "Active"));
        kc_table_add(t, age);
    } else if (!strcmp(kind, "Event")) {
        char seen[32], obj[512];
        kc_age(event_time(o), opt->now, seen, sizeof seen);
        event_object(o, obj, sizeof obj);
        kc_table_add(t, seen);
        kc_table_add(t, str(o, "type", "Normal"));
        kc_table_add(t, str(o, "reason", ""));
        kc_table_add(t, obj);
        kc_table_add(t, str(o, "message", ""));
    } else {
        kc_table_add(t, age);
    }
}

void kc_print_table(const char *kind, const json_t *items, const struct kc_print_opts *o, FILE *f)
{
    const char *cols[16];
    size_t n = header(kind, o->wide, cols);
    size_t ncols = n + (o->all_namespaces ? 1 : 0) + (o->show_labels ? 1 : 0);
    struct kc_table t;
    kc_table_init(&t, ncols);
    if (!o->no_headers) {
        if (o->all_namespaces) kc_table_add(&t, "NAMESPACE");
        for (size_t i = 0; i < n; i++) kc_table_add(&t, cols[i]);
        if (o->show_labels) kc_table_add(&t, "LABELS");
    }
    size_t i;
    json_t *obj;
    json_array_foreach((json_t *)items, i, obj)
    {
        if (o->all_namespaces) kc_table_add(&t, str(obj, "metadata.namespace", ""));
        row(kind, obj, o, &t);
        if (o->show_labels) {
            char *l = kc_labels_string(json_path(obj, "metadata.labels"));
            kc_table_add(&t, l);
            free(l);
        }
    }
    kc_table_print(&t, f);
    kc_table_free(&t);
}

/* ---- -o forms ---- */

static json_t *as_list(json_t *items)
{
    return json_pack("{s:s, s:O, s:s, s:{s:s}}", "apiVersion", "v1", "items", items, "kind", "List", "metadata",
                     "resourceVersion", "");
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A deep copy with object keys in sorted order, as kubectl prints YAML. */
static json_t *sorted_copy(const json_t *v, int depth)
{
    if (depth > 100) return json_deep_copy(v);
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach((json_t *)v, i, e) json_array_append_new(out, sorted_copy(e, depth + 1));
        return out;
    }
    if (!json_is_object(v)) return json_deep_copy(v);
    size_t n = json_object_size(v), i = 0;
    const char **keys = xcalloc(n + 1, sizeof *keys);
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) keys[i++] = k;
    qsort(keys, n, sizeof *keys, key_cmp);
    json_t *out = json_object();
    for (i = 0; i < n; i++) json_object_set_new(out, keys[i], sorted_copy(json_object_get(v, keys[i]), depth + 1));
    free(keys);
    return out;
}

int kc_print_objects(struct kc *kc, json_t *items, int single)
{
    const char *o = kc->output ? kc->output : "";
    single = single && json_array_size(items) == 1;
    json_t *doc = single ? json_incref(json_array_get(items, 0)) : as_list(items);
    int rc = 0;
    if (!strcmp(o, "json")) {
        char *s = json_dumps(doc, JSON_INDENT(4) | JSON_SORT_KEYS);
        fprintf(kc->out, "%s\n", s ? s : "{}");
        free(s);
    } else if (!strcmp(o, "yaml")) {
        struct buf b;
        buf_init(&b, OUT_MAX);
        json_t *sorted = sorted_copy(doc, 0);
        int yrc = yaml_emit(sorted, &b);
        json_decref(sorted);
        if (yrc) {
            rc = kc_error(kc, "output too large to print as YAML");
        } else {
            fputs(b.data, kc->out);
            if (b.len && b.data[b.len - 1] != '\n') fputc('\n', kc->out);
        }
        buf_free(&b);
    } else if (!strcmp(o, "name")) {
        size_t i;
        json_t *obj;
        json_array_foreach(items, i, obj)
            fprintf(kc->out, "%s/%s\n", kc_kind_prefix(str(obj, "kind", "")), name_of(obj));
    } else if (!strncmp(o, "jsonpath=", 9) || !strncmp(o, "jsonpath-as-json=", 17) ||
               !strncmp(o, "jsonpath-as-json", 16)) {
        int as_json = !strncmp(o, "jsonpath-as-json", 16);
        const char *tmpl = strchr(o, '=') ? strchr(o, '=') + 1 : "";
        struct buf b;
        buf_init(&b, OUT_MAX);
        char err[512];
        if (kc_jsonpath(tmpl, doc, as_json, &b, err, sizeof err)) {
            rc = kc_error(kc, "error parsing jsonpath %s, %s", tmpl, err);
        } else {
            fputs(b.data, kc->out);
        }
        buf_free(&b);
    } else if (!strncmp(o, "custom-columns=", 15)) {
        rc = 0;
        char *spec = xstrdup(o + 15);
        struct kc_table t;
        size_t ncols = 1;
        for (char *p = spec; *p; p++)
            if (*p == ',') ncols++;
        kc_table_init(&t, ncols);
        char **exprs = xcalloc(ncols, sizeof *exprs);
        char *p = spec;
        for (size_t c = 0; c < ncols; c++) {
            char *comma = strchr(p, ',');
            if (comma) *comma = '\0';
            char *colon = strchr(p, ':');
            if (!colon) {
                rc = kc_error(kc, "expected <header>:<json-path-expr> in \"%s\"", p);
                break;
            }
            *colon = '\0';
            kc_table_add(&t, p);
            const char *e = colon + 1;
            exprs[c] = e[0] == '{' ? xstrdup(e) : xasprintf("{%s%s}", e[0] == '.' ? "" : ".", e);
            p = comma ? comma + 1 : p + strlen(p);
        }
        size_t i;
        json_t *obj;
        if (!rc) {
            json_array_foreach(items, i, obj)
            {
                for (size_t c = 0; c < ncols; c++) {
                    struct buf b;
                    buf_init(&b, 1u << 20);
                    char err[256];
                    kc_jsonpath(exprs[c], obj, 0, &b, err, sizeof err);
                    kc_table_add(&t, b.len ? b.data : "<none>");
                    buf_free(&b);
                }
            }
            kc_table_print(&t, kc->out);
        }
        for (size_t c = 0; c < ncols; c++) free(exprs[c]);
        free(exprs);
        kc_table_free(&t);
        free(spec);
    } else {
        rc = kc_error(kc,
                      "unable to match a printer suitable for the output format \"%s\", allowed formats are: "
                      "custom-columns,go-template,json,jsonpath,jsonpath-as-json,name,wide,yaml",
                      o);
    }
    json_decref(doc);
    return rc;
}

/* ---- Go tabwriter, for describe ---- */

struct tw_line {
    const char **cells;
    size_t *widths;
    size_t n; /* cells; the last one is not tab-terminated */
};

static void tw_write_lines(struct tw_line *lines, size_t a, size_t b, const size_t *widths, size_t nw, FILE *f)
{
    for (size_t i = a; i < b; i++) {
        for (size_t j = 0; j < lines[i].n; j++) {
            fputs(lines[i].cells[j], f);
            if (j < nw && j + 1 < lines[i].n)
                for (size_t k = lines[i].widths[j]; k < widths[j]; k++) fputc(' ', f);
        }
        fputc('\n', f);
    }
}

static void tw_format(struct tw_line *lines, size_t line0, size_t line1, size_t *widths, size_t nw, size_t minwidth,
                      size_t padding, FILE *f)
{
    size_t column = nw;
    for (size_t this = line0; this < line1; this++) {
        if (column + 1 >= lines[this].n) continue;
        tw_write_lines(lines, line0, this, widths, nw, f);
        line0 = this;
        size_t width = minwidth;
        for (; this < line1; this++) {
            if (column + 1 >= lines[this].n) break;
            size_t w = lines[this].widths[column] + padding;
            if (w > width) width = w;
        }
        widths[nw] = width;
        tw_format(lines, line0, this, widths, nw + 1, minwidth, padding, f);
        line0 = this;
        this--; /* the loop's ++ brings us back to the line that ended the block */
    }
    tw_write_lines(lines, line0, line1, widths, nw, f);
}

void kc_tabwrite(const char *text, size_t minwidth, size_t padding, FILE *f)
{
    char *copy = xstrdup(text);
    size_t nlines = 0, cap = 0, maxcells = 1;
    struct tw_line *lines = NULL;
    char *p = copy;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        if (nlines == cap) {
            cap = cap ? cap * 2 : 64;
            lines = xrealloc(lines, cap * sizeof *lines);
        }
        struct tw_line *l = &lines[nlines++];
        size_t n = 1;
        for (char *q = p; *q; q++)
            if (*q == '\t') n++;
        if (n > maxcells) maxcells = n;
        l->cells = xcalloc(n, sizeof *l->cells);
        l->widths = xcalloc(n, sizeof *l->widths);
        l->n = n;
        size_t i = 0;
        char *cell = p;
        for (char *q = p;; q++) {
            if (*q == '\t' || !*q) {
                int end = !*q;
                *q = '\0';
                l->cells[i] = cell;
                l->widths[i] = text_width(cell);
                i++;
                if (end) break;
                cell = q + 1;
            }
        }
        if (!nl) break;
        p = nl + 1;
    }
    size_t *widths = xcalloc(maxcells + 1, sizeof *widths);
    tw_format(lines, 0, nlines, widths, 0, minwidth, padding, f);
    for (size_t i = 0; i < nlines; i++) {
        free(lines[i].cells);
        free(lines[i].widths);
    }
    free(widths);
    free(lines);
    free(copy);
}
