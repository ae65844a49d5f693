/* describe: `kubectl describe` for pods, deployments and services (and a
 * plainer form for the other kinds), with the sections and texts kubectl
 * prints. Output is built as tab-separated lines and laid out by the same
 * tabwriter rules kubectl uses, so columns align as an agent expects.
 * Names are matched exactly first, then by prefix, as kubectl does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/manifest.h"
#include "cluster/paths.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "core/yaml.h"
#include "kubectl/kc.h"
#include "kubectl/kread.h"

#define DESCRIBE_MAX (64u << 20)

static const char *str(const json_t *o, const char *path, const char *dflt)
{
    return json_path_str(o, path, dflt);
}

/* "Mon, 01 Jan 2024 10:00:00 +0000" (RFC 1123 with numeric zone). */
static void long_time(const char *ts, char *out, size_t n)
{
    uint64_t ns;
    if (!ts || time_parse_rfc3339(ts, &ns)) {
        snprintf(out, n, "<unknown>");
        return;
    }
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, n, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* "Labels:\tapp=x\n\ttier=y\n" — one per line, sorted. */
static void map_lines(struct buf *b, const char *indent, const char *title, const json_t *m, const char *sep)
{
    size_t n = json_object_size(m);
    if (!n) {
        buf_printf(b, "%s%s:\t<none>\n", indent, title);
        return;
    }
    const char **keys = xcalloc(n, sizeof *keys);
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) keys[i++] = k;
    for (size_t a = 1; a < n; a++)
        for (size_t c = a; c > 0 && strcmp(keys[c - 1], keys[c]) > 0; c--) {
            const char *t = keys[c];
            keys[c] = keys[c - 1];
            keys[c - 1] = t;
        }
    for (i = 0; i < n; i++) {
        json_t *val = json_object_get(m, keys[i]);
        const char *s = json_is_string(val) ? json_string_value(val) : "";
        if (i == 0)
            buf_printf(b, "%s%s:\t%s%s%s\n", indent, title, keys[i], sep, s);
        else
            buf_printf(b, "%s\t%s%s%s\n", indent, keys[i], sep, s);
    }
    free(keys);
}

static void metadata_block(struct buf *b, const json_t *o, int with_ns)
{
    buf_printf(b, "Name:\t%s\n", str(o, "metadata.name", ""));
    if (with_ns) buf_printf(b, "Namespace:\t%s\n", str(o, "metadata.namespace", ""));
}

static const char *port_value(const json_t *v, char *tmp, size_t n)
{
    if (json_is_integer(v))
        snprintf(tmp, n, "%lld", (long long)json_integer_value(v));
    else
        snprintf(tmp, n, "%s", json_is_string(v) ? json_string_value(v) : "");
    return tmp;
}

static void probe_line(struct buf *b, const char *indent, const char *title, const json_t *p)
{
    if (!p) return;
    char desc[1024], tmp[64];
    const json_t *h = json_object_get(p, "httpGet"), *t = json_object_get(p, "tcpSocket"),
                 *e = json_object_get(p, "exec"), *g = json_object_get(p, "grpc");
    if (h) {
        snprintf(desc, sizeof desc, "http-get %s://%s:%s%s",
                 !strcmp(str(h, "scheme", "HTTP"), "HTTPS") ? "https" : "http", str(h, "host", ""),
                 port_value(json_object_get(h, "port"), tmp, sizeof tmp), str(h, "path", ""));
    } else if (t) {
        snprintf(desc, sizeof desc, "tcp-socket %s:%s", str(t, "host", ""),
                 port_value(json_object_get(t, "port"), tmp, sizeof tmp));
    } else if (e) {
        struct buf c;
        buf_init(&c, 800);
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(e, "command"), i, a)
            buf_printf(&c, "%s%s", i ? " " : "", json_string_value(a) ? json_string_value(a) : "");
        snprintf(desc, sizeof desc, "exec [%s]", c.len ? c.data : "");
        buf_free(&c);
    } else if (g) {
        snprintf(desc, sizeof desc, "grpc <pod>:%lld %s", (long long)json_path_int(g, "port", 0),
                 str(g, "service", ""));
    } else {
        snprintf(desc, sizeof desc, "unknown");
    }
    buf_printf(b, "%s%s:\t%s delay=%llds timeout=%llds period=%llds #success=%lld #failure=%lld\n", indent, title,
               desc, (long long)json_path_int(p, "initialDelaySeconds", 0),
               (long long)json_path_int(p, "timeoutSeconds", 1), (long long)json_path_int(p, "periodSeconds", 10),
               (long long)json_path_int(p, "successThreshold", 1), (long long)json_path_int(p, "failureThreshold", 3));
}

static void resources(struct buf *b, const char *indent, const char *title, const json_t *m, const char *note)
{
    if (!json_object_size(m)) return;
    buf_printf(b, "%s%s:\n", indent, title);
    const char *order[] = {"cpu", "memory", "ephemeral-storage"};
    size_t printed = 0, total = json_object_size(m);
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(m, order[i]);
        if (!v) continue;
        char tmp[64];
        printed++;
        buf_printf(b, "%s  %s:\t%s%s\n", indent, order[i], port_value(v, tmp, sizeof tmp),
                   note && printed == total ? note : "");
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        if (!strcmp(k, "cpu") || !strcmp(k, "memory") || !strcmp(k, "ephemeral-storage")) continue;
        char tmp[64];
        printed++;
        buf_printf(b, "%s  %s:\t%s%s\n", indent, k, port_value(v, tmp, sizeof tmp),
                   note && printed == total ? note : "");
    }
}

static void state_lines(struct buf *b, const char *indent, const char *title, const json_t *st)
{
    char t1[64], t2[64];
    const json_t *r = json_object_get(st, "running"), *w = json_object_get(st, "waiting"),
                 *t = json_object_get(st, "terminated");
    if (r) {
        long_time(str(r, "startedAt", NULL), t1, sizeof t1);
        buf_printf(b, "%s%s:\tRunning\n%s  Started:\t%s\n", indent, title, indent, t1);
    } else if (w) {
        buf_printf(b, "%s%s:\tWaiting\n", indent, title);
        if (*str(w, "reason", "")) buf_printf(b, "%s  Reason:\t%s\n", indent, str(w, "reason", ""));
        if (*str(w, "message", "")) buf_printf(b, "%s  Message:\t%s\n", indent, str(w, "message", ""));
    } else if (t) {
        buf_printf(b, "%s%s:\tTerminated\n", indent, title);
        if (*str(t, "reason", "")) buf_printf(b, "%s  Reason:\t%s\n", indent, str(t, "reason", ""));
        if (*str(t, "message", "")) buf_printf(b, "%s  Message:\t%s\n", indent, str(t, "message", ""));
        buf_printf(b, "%s  Exit Code:\t%lld\n", indent, (long long)json_path_int(t, "exitCode", 0));
        if (json_path_int(t, "signal", 0))
            buf_printf(b, "%s  Signal:\t%lld\n", indent, (long long)json_path_int(t, "signal", 0));
        long_time(str(t, "startedAt", NULL), t1, sizeof t1);
        long_time(str(t, "finishedAt", NULL), t2, sizeof t2);
        buf_printf(b, "%s  Started:\t%s\n%s  Finished:\t%s\n", indent, t1, indent, t2);
    } else {
        buf_printf(b, "%s%s:\tWaiting\n", indent, title);
    }
}

static void env_lines(struct buf *b, const char *indent, const json_t *c)
{
    json_t *from = json_object_get(c, "envFrom");
    if (json_array_size(from)) {
        buf_printf(b, "%sEnvironment Variables from:\n", indent);
        size_t i;
        json_t *f;
        json_array_foreach(from, i, f)
        {
            const json_t *cm = json_object_get(f, "configMapRef"), *sec = json_object_get(f, "secretRef");
            const json_t *ref = cm ? cm : sec;
            buf_printf(b, "%s  %s\t%s\t%sOptional: %s\n", indent, str(ref, "name", ""), cm ? "ConfigMap" : "Secret",
                       *str(f, "prefix", "") ? "" : "", json_is_true(json_object_get(ref, "optional")) ? "true" : "false");
        }
    }
    json_t *env = json_object_get(c, "env");
    if (!json_array_size(env)) {
        buf_printf(b, "%sEnvironment:\t<none>\n", indent);
        return;
    }
    buf_printf(b, "%sEnvironment:\n", indent);
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *name = str(e, "name", "");
        const json_t *vf = json_object_get(e, "valueFrom");
        if (!vf) {
            buf_printf(b, "%s  %s:\t%s\n", indent, name, str(e, "value", ""));
        } else if (json_object_get(vf, "configMapKeyRef")) {
            const json_t *r = json_object_get(vf, "configMapKeyRef");
            buf_printf(b, "%s  %s:\t<set to the key '%s' of config map '%s'>\tOptional: %s\n", indent, name,
                       str(r, "key", ""), str(r, "name", ""),
                       json_is_true(json_object_get(r, "optional")) ? "true" : "false");
        } else if (json_object_get(vf, "secretKeyRef")) {
            const json_t *r = json_object_get(vf, "secretKeyRef");
            buf_printf(b, "%s  %s:\t<set to the key '%s' in secret '%s'>\tOptional: %s\n", indent, name,
                       str(r, "key", ""), str(r, "name", ""),
                       json_is_true(json_object_get(r, "optional")) ? "true" : "false");
        } else if (json_object_get(vf, "fieldRef")) {
            const json_t *r = json_object_get(vf, "fieldRef");
            buf_printf(b, "%s  %s:\t (%s:%s)\n", indent, name, str(r, "apiVersion", "v1"), str(r, "fieldPath", ""));
        } else if (json_object_get(vf, "resourceFieldRef")) {
            const json_t *r = json_object_get(vf, "resourceFieldRef");
            buf_printf(b, "%s  %s:\t%s (%s)\n", indent, name, str(r, "resource", ""), str(r, "containerName", ""));
        } else {
            buf_printf(b, "%s  %s:\t<unknown source>\n", indent, name);
        }
    }
}

static void string_list(struct buf *b, const char *indent, const char *title, const json_t *arr)
{
    if (!json_array_size(arr)) return;
    buf_printf(b, "%s%s:\n", indent, title);
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a) buf_printf(b, "%s  %s\n", indent, json_string_value(a) ? json_string_value(a) : "");
}

static const json_t *status_of(const json_t *pod, const char *list, const char *name)
{
    size_t i;
    json_t *cs;
    json_array_foreach(json_path(pod, list), i, cs) if (!strcmp(str(cs, "name", ""), name)) return cs;
    return NULL;
}

/* Containers of a pod (pod non-NULL: with status) or of a template. */
/* The limit mechanism conmon reports for the container's current run,
 * when the pod carries no aiopslab.io/limits annotation. */
static void run_limits(const struct lab *lab, const json_t *pod, const char *name, const json_t *cs, char *out,
                       size_t n)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    if (cluster_run_dir(lab, str(pod, "metadata.uid", ""), name, (int)json_path_int(cs, "restartCount", 0), dir,
                        sizeof dir))
        return;
    snprintf(path, sizeof path, "%s/state.json", dir);
    json_error_t je;
    json_t *st = json_load_file(path, 0, &je);
    const char *l = str(st, "limits", "");
    if (*l && strcmp(l, "none")) snprintf(out, n, "%s", l);
    json_decref(st);
}

static const struct lab *kc_lab; /* for run_limits; set by kc_describe */

static void containers(struct buf *b, const char *title, const json_t *spec_list, const json_t *pod,
                       const char *status_list, const char *name_indent, const char *indent, const char *limits_by)
{
    if (!json_array_size(spec_list)) return;
    buf_printf(b, "%s%s:\n", pod ? "" : "  ", title);
    size_t i;
    json_t *c;
    char sub[16];
    snprintf(sub, sizeof sub, "%s  ", indent);
    json_array_foreach(spec_list, i, c)
    {
        const char *name = str(c, "name", "");
        const json_t *cs = pod ? status_of(pod, status_list, name) : NULL;
        buf_printf(b, "%s%s:\n", name_indent, name);
        if (pod) buf_printf(b, "%sContainer ID:\t%s\n", indent, str(cs, "containerID", ""));
        buf_printf(b, "%sImage:\t%s\n", indent, str(c, "image", ""));
        if (pod) buf_printf(b, "%sImage ID:\t%s\n", indent, str(cs, "imageID", ""));
        json_t *ports = json_object_get(c, "ports");
        struct buf pl, hl;
        buf_init(&pl, 1u << 16);
        buf_init(&hl, 1u << 16);
        size_t j;
        json_t *p;
        json_array_foreach(ports, j, p)
        {
            buf_printf(&pl, "%s%lld/%s", j ? ", " : "", (long long)json_path_int(p, "containerPort", 0),
                       str(p, "protocol", "TCP"));
            buf_printf(&hl, "%s%lld/%s", j ? ", " : "", (long long)json_path_int(p, "hostPort", 0),
                       str(p, "protocol", "TCP"));
        }
        int many = json_array_size(ports) > 1;
        buf_printf(b, "%s%s:\t%s\n", indent, many ? "Ports" : "Port", pl.len ? pl.data : "<none>");
        buf_printf(b, "%s%s:\t%s\n", indent, many ? "Host Ports" : "Host Port", hl.len ? hl.data : "<none>");
        buf_free(&pl);
        buf_free(&hl);
        string_list(b, indent, "Command", json_object_get(c, "command"));
        string_list(b, indent, "Args", json_object_get(c, "args"));
        if (pod) {
            state_lines(b, indent, "State", json_object_get(cs, "state"));
            const json_t *last = json_object_get(cs, "lastState");
            if (json_object_size(last)) state_lines(b, indent, "Last State", last);
            buf_printf(b, "%sReady:\t%s\n", indent, json_is_true(json_object_get(cs, "ready")) ? "True" : "False");
            buf_printf(b, "%sRestart Count:\t%lld\n", indent, (long long)json_path_int(cs, "restartCount", 0));
        }
        char note[96] = "", mech[32] = "";
        if (pod && (!limits_by || !*limits_by) && kc_lab) run_limits(kc_lab, pod, name, cs, mech, sizeof mech);
        if (limits_by && *limits_by) snprintf(note, sizeof note, " (enforced by %s)", limits_by);
        else if (*mech) snprintf(note, sizeof note, " (enforced by %s)", mech);
        resources(b, indent, "Limits", json_path(c, "resources.limits"), note[0] ? note : NULL);
        resources(b, indent, "Requests", json_path(c, "resources.requests"), NULL);
        probe_line(b, indent, "Liveness", json_object_get(c, "livenessProbe"));
        probe_line(b, indent, "Readiness", json_object_get(c, "readinessProbe"));
        probe_line(b, indent, "Startup", json_object_get(c, "startupProbe"));
        env_lines(b, indent, c);
        json_t *mounts = json_object_get(c, "volumeMounts");
        if (!json_array_size(mounts)) {
            buf_printf(b, "%sMounts:\t<none>\n", indent);
        } else {
            buf_printf(b, "%sMounts:\n", indent);
            json_t *m;
            json_array_foreach(mounts, j, m)
            {
                const char *sp = str(m, "subPath", "");
                buf_printf(b, "%s  %s from %s (%s%s%s%s)\n", indent, str(m, "mountPath", ""), str(m, "name", ""),
                           json_is_true(json_object_get(m, "readOnly")) ? "ro" : "rw", *sp ? ",path=\"" : "", sp,
                           *sp ? "\"" : "");
            }
        }
    }
}

static void volumes(struct buf *b, const char *indent, const json_t *vols)
{
    if (!json_array_size(vols)) {
        buf_printf(b, "%sVolumes:\t<none>\n", indent);
        return;
    }
    buf_printf(b, "%sVolumes:\n", indent);
    size_t i;
    json_t *v;
    json_array_foreach(vols, i, v)
    {
        buf_printf(b, "%s  %s:\n", indent, str(v, "name", ""));
        const json_t *x;
        if ((x = json_object_get(v, "emptyDir"))) {
            buf_printf(b, "%s    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n", indent);
            buf_printf(b, "%s    Medium:\t%s\n", indent, str(x, "medium", ""));
            buf_printf(b, "%s    SizeLimit:\t%s\n", indent, str(x, "sizeLimit", "<unset>"));
        } else if ((x = json_object_get(v, "configMap"))) {
            buf_printf(b, "%s    Type:\tConfigMap (a volume populated by a ConfigMap)\n", indent);
            buf_printf(b, "%s    Name:\t%s\n", indent, str(x, "name", ""));
            buf_printf(b, "%s    Optional:\t%s\n", indent, json_is_true(json_object_get(x, "optional")) ? "true" : "false");
        } else if ((x = json_object_get(v, "secret"))) {
            buf_printf(b, "%s    Type:\tSecret (a volume populated by a Secret)\n", indent);
            buf_printf(b, "%s    SecretName:\t%s\n", indent, str(x, "secretName", ""));
            buf_printf(b, "%s    Optional:\t%s\n", indent, json_is_true(json_object_get(x, "optional")) ? "true" : "false");
        } else if ((x = json_object_get(v, "hostPath"))) {
            buf_printf(b, "%s    Type:\tHostPath (bare host directory volume)\n", indent);
            buf_printf(b, "%s    Path:\t%s\n", indent, str(x, "path", ""));
            buf_printf(b, "%s    HostPathType:\t%s\n", indent, str(x, "type", ""));
        } else if ((x = json_object_get(v, "persistentVolumeClaim"))) {
            buf_printf(b, "%s    Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
                          "namespace)\n", indent);
            buf_printf(b, "%s    ClaimName:\t%s\n", indent, str(x, "claimName", ""));
            buf_printf(b, "%s    ReadOnly:\t%s\n", indent, json_is_true(json_object_get(x, "readOnly")) ? "true" : "false");
        } else {
            buf_printf(b, "%s    Type:\t<unknown>\n", indent);
        }
    }
}

static const char *qos_class(const json_t *pod)
{
    const char *q = str(pod, "status.qosClass", NULL);
    if (q && *q) return q;
    int any = 0, guaranteed = 1;
    size_t i;
    json_t *c;
    json_array_foreach(json_path(pod, "spec.containers"), i, c)
    {
        const json_t *l = json_path(c, "resources.limits"), *r = json_path(c, "resources.requests");
        if (json_object_size(l) || json_object_size(r)) any = 1;
        const char *res[] = {"cpu", "memory"};
        for (int k = 0; k < 2; k++) {
            json_t *lv = json_object_get(l, res[k]), *rv = json_object_get(r, res[k]);
            if (!lv) guaranteed = 0;
            else if (rv && !json_equal(lv, rv)) guaranteed = 0;
        }
    }
    return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

static void events_section(struct buf *b, const json_t *events, time_t now)
{
    if (!json_array_size(events)) {
        buf_puts(b, "Events:\t<none>\n");
        return;
    }
    buf_puts(b, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n");
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        char age[96], last[32], first[32];
        const char *lt = str(e, "lastTimestamp", NULL);
        if (!lt || !*lt) lt = str(e, "eventTime", NULL);
        const char *ft = str(e, "firstTimestamp", NULL);
        if (!ft || !*ft) ft = lt;
        kc_age(lt, now, last, sizeof last);
        long long count = (long long)json_path_int(e, "count", 1);
        if (count > 1) {
            kc_age(ft, now, first, sizeof first);
            snprintf(age, sizeof age, "%s (x%lld over %s)", last, count, first);
        } else {
            snprintf(age, sizeof age, "%s", last);
        }
        const char *from = str(e, "source.component", NULL);
        if (!from || !*from) from = str(e, "reportingComponent", "");
        char msg[4096];
        snprintf(msg, sizeof msg, "%s", str(e, "message", ""));
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = '\0';
        for (char *p = msg; *p; p++)
            if (*p == '\n' || *p == '\t') *p = ' ';
        buf_printf(b, "  %s\t%s\t%s\t%s\t%s\n", str(e, "type", "Normal"), str(e, "reason", ""), age, from, msg);
    }
}

static void describe_pod(struct kc *kc, const json_t *pod, time_t now, struct buf *b)
{
    metadata_block(b, pod, 1);
    buf_printf(b, "Priority:\t%lld\n", (long long)json_path_int(pod, "spec.priority", 0));
    buf_printf(b, "Service Account:\t%s\n", str(pod, "spec.serviceAccountName", "default"));
    const char *node = str(pod, "spec.nodeName", NULL);
    if (node)
        buf_printf(b, "Node:\t%s/%s\n", node, str(pod, "status.hostIP", ""));
    else
        buf_puts(b, "Node:\t<none>\n");
    if (str(pod, "status.startTime", NULL)) {
        char t[64];
        long_time(str(pod, "status.startTime", NULL), t, sizeof t);
        buf_printf(b, "Start Time:\t%s\n", t);
    }
    map_lines(b, "", "Labels", json_path(pod, "metadata.labels"), "=");
    map_lines(b, "", "Annotations", json_path(pod, "metadata.annotations"), ": ");
    if (json_path(pod, "metadata.deletionTimestamp")) {
        char age[32];
        kc_age(str(pod, "metadata.deletionTimestamp", NULL), now, age, sizeof age);
        buf_printf(b, "Status:\tTerminating (lasts %s)\n", age);
        buf_printf(b, "Termination Grace Period:\t%llds\n",
                   (long long)json_path_int(pod, "spec.terminationGracePeriodSeconds", 30));
    } else {
        buf_printf(b, "Status:\t%s\n", str(pod, "status.phase", "Unknown"));
    }
    if (*str(pod, "status.reason", "")) buf_printf(b, "Reason:\t%s\n", str(pod, "status.reason", ""));
    if (*str(pod, "status.message", "")) buf_printf(b, "Message:\t%s\n", str(pod, "status.message", ""));
    const char *ip = str(pod, "status.podIP", "");
    buf_printf(b, "IP:\t%s\n", ip);
    if (*ip)
        buf_printf(b, "IPs:\n  IP:\t%s\n", ip);
    else
        buf_puts(b, "IPs:\t<none>\n");
    size_t i;
    json_t *ref;
    json_array_foreach(json_path(pod, "metadata.ownerReferences"), i, ref)
    {
        if (json_is_true(json_object_get(ref, "controller")) || json_array_size(json_path(pod, "metadata.ownerReferences")) == 1) {
            buf_printf(b, "Controlled By:\t%s/%s\n", str(ref, "kind", ""), str(ref, "name", ""));
            break;
        }
    }
    const char *limits_by = NULL;
    json_t *ann = json_path(pod, "metadata.annotations");
    if (json_is_string(json_object_get(ann, "aiopslab.io/limits")))
        limits_by = json_string_value(json_object_get(ann, "aiopslab.io/limits"));
    containers(b, "Init Containers", json_path(pod, "spec.initContainers"), pod, "status.initContainerStatuses", "  ",
               "    ", limits_by);
    containers(b, "Containers", json_path(pod, "spec.containers"), pod, "status.containerStatuses", "  ", "    ",
               limits_by);
    json_t *conds = json_path(pod, "status.conditions");
    if (json_array_size(conds)) {
        buf_puts(b, "Conditions:\n  Type\tStatus\n");
        json_t *c;
        json_array_foreach(conds, i, c) buf_printf(b, "  %s \t%s \n", str(c, "type", ""), str(c, "status", ""));
    }
    volumes(b, "", json_path(pod, "spec.volumes"));
    buf_printf(b, "QoS Class:\t%s\n", qos_class(pod));
    char *ns = kc_labels_string(json_path(pod, "spec.nodeSelector"));
    buf_printf(b, "Node-Selectors:\t%s\n", ns);
    free(ns);
    json_t *tol = json_path(pod, "spec.tolerations");
    if (!json_array_size(tol)) {
        buf_puts(b, "Tolerations:\t<none>\n");
    } else {
        json_t *t;
        json_array_foreach(tol, i, t)
        {
            buf_printf(b, "%s\t%s%s%s%s%s\n", i ? "" : "Tolerations:", str(t, "key", ""),
                       *str(t, "value", "") ? "=" : "", str(t, "value", ""), *str(t, "effect", "") ? ":" : "",
                       str(t, "effect", ""));
        }
    }
    json_t *ev = kc_events_for(kc, "Pod", str(pod, "metadata.namespace", ""), str(pod, "metadata.name", ""));
    events_section(b, ev, now);
    json_decref(ev);
}

static const char *annotation(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(json_path(o, "metadata.annotations"), key));
}

static int owned_by(const json_t *rs, const json_t *d)
{
    size_t i;
    json_t *ref;
    const char *uid = str(d, "metadata.uid", NULL);
    json_array_foreach(json_path(rs, "metadata.ownerReferences"), i, ref)
    {
        if (strcmp(str(ref, "kind", ""), "Deployment")) continue;
        if (uid && *str(ref, "uid", "")) {
            if (!strcmp(str(ref, "uid", ""), uid)) return 1;
        } else if (!strcmp(str(ref, "name", ""), str(d, "metadata.name", ""))) {
            return 1;
        }
    }
    return 0;
}

static void describe_deployment(struct kc *kc, const json_t *d, time_t now, struct buf *b)
{
    char t[64];
    metadata_block(b, d, 1);
    long_time(str(d, "metadata.creationTimestamp", NULL), t, sizeof t);
    buf_printf(b, "CreationTimestamp:\t%s\n", t);
    map_lines(b, "", "Labels", json_path(d, "metadata.labels"), "=");
    map_lines(b, "", "Annotations", json_path(d, "metadata.annotations"), ": ");
    json_t *sel = json_path(d, "spec.selector.matchLabels");
    char *s = kc_labels_string(sel);
    buf_printf(b, "Selector:\t%s\n", s);
    free(s);
    buf_printf(b, "Replicas:\t%lld desired | %lld updated | %lld total | %lld available | %lld unavailable\n",
               (long long)json_path_int(d, "spec.replicas", 1), (long long)json_path_int(d, "status.updatedReplicas", 0),
               (long long)json_path_int(d, "status.replicas", 0),
               (long long)json_path_int(d, "status.availableReplicas", 0),
               (long long)json_path_int(d, "status.unavailableReplicas", 0));
    const char *strategy = str(d, "spec.strategy.type", "RollingUpdate");
    buf_printf(b, "StrategyType:\t%s\n", strategy);
    buf_printf(b, "MinReadySeconds:\t%lld\n", (long long)json_path_int(d, "spec.minReadySeconds", 0));
    if (!strcmp(strategy, "RollingUpdate")) {
        char u[32], sg[32];
        port_value(json_path(d, "spec.strategy.rollingUpdate.maxUnavailable"), u, sizeof u);
        port_value(json_path(d, "spec.strategy.rollingUpdate.maxSurge"), sg, sizeof sg);
        buf_printf(b, "RollingUpdateStrategy:\t%s max unavailable, %s max surge\n", *u ? u : "25%", *sg ? sg : "25%");
    }
    const json_t *tmpl = json_path(d, "spec.template");
    buf_puts(b, "Pod Template:\n");
    map_lines(b, "  ", "Labels", json_path(tmpl, "metadata.labels"), "=");
    if (json_object_size(json_path(tmpl, "metadata.annotations")))
        map_lines(b, "  ", "Annotations", json_path(tmpl, "metadata.annotations"), ": ");
    containers(b, "Init Containers", json_path(tmpl, "spec.initContainers"), NULL, NULL, "   ", "    ", NULL);
    containers(b, "Containers", json_path(tmpl, "spec.containers"), NULL, NULL, "   ", "    ", NULL);
    volumes(b, "  ", json_path(tmpl, "spec.volumes"));
    char *nsel = kc_labels_string(json_path(tmpl, "spec.nodeSelector"));
    buf_printf(b, "  Node-Selectors:\t%s\n  Tolerations:\t<none>\n", nsel);
    free(nsel);
    json_t *conds = json_path(d, "status.conditions");
    if (json_array_size(conds)) {
        buf_puts(b, "Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n");
        size_t i;
        json_t *c;
        json_array_foreach(conds, i, c)
            buf_printf(b, "  %s \t%s\t%s\n", str(c, "type", ""), str(c, "status", ""), str(c, "reason", ""));
    }
    /* ReplicaSets: the new one carries the deployment's revision. */
    json_t *rss = NULL;
    FILE *saved = kc->err, *devnull = fopen("/dev/null", "w");
    if (devnull) kc->err = devnull;
    int frc = kc_fetch(kc, "ReplicaSet", str(d, "metadata.namespace", ""), NULL, NULL, &rss);
    kc->err = saved;
    if (devnull) fclose(devnull);
    if (frc == 0) {
        const char *rev = annotation(d, "deployment.kubernetes.io/revision");
        const json_t *newest = NULL;
        long best = -1;
        size_t i;
        json_t *rs;
        json_array_foreach(rss, i, rs)
        {
            if (!owned_by(rs, d)) continue;
            const char *r = annotation(rs, "deployment.kubernetes.io/revision");
            long rv = r ? strtol(r, NULL, 10) : 0;
            if (rev && r && !strcmp(rev, r)) {
                newest = rs;
                break;
            }
            if (rv > best) best = rv, newest = rs;
        }
        struct buf old;
        buf_init(&old, 1u << 20);
        json_array_foreach(rss, i, rs)
        {
            if (!owned_by(rs, d) || rs == newest) continue;
            buf_printf(&old, "%s%s (%lld/%lld replicas created)", old.len ? ", " : "", str(rs, "metadata.name", ""),
                       (long long)json_path_int(rs, "status.replicas", 0), (long long)json_path_int(rs, "spec.replicas", 0));
        }
        buf_printf(b, "OldReplicaSets:\t%s\n", old.len ? old.data : "<none>");
        buf_free(&old);
        if (newest)
            buf_printf(b, "NewReplicaSet:\t%s (%lld/%lld replicas created)\n", str(newest, "metadata.name", ""),
                       (long long)json_path_int(newest, "status.replicas", 0),
                       (long long)json_path_int(newest, "spec.replicas", 0));
        else
            buf_puts(b, "NewReplicaSet:\t<none>\n");
        json_decref(rss);
    }
    json_t *ev = kc_events_for(kc, "Deployment", str(d, "metadata.namespace", ""), str(d, "metadata.name", ""));
    events_section(b, ev, now);
    json_decref(ev);
}

static void endpoints_for_port(const json_t *ep, const char *port_name, struct buf *out)
{
    size_t i, j, k;
    json_t *ss, *p, *a;
    int listed = 0;
    json_array_foreach(json_object_get(ep, "subsets"), i, ss)
    {
        json_array_foreach(json_object_get(ss, "ports"), j, p)
        {
            if (strcmp(str(p, "name", ""), port_name)) continue;
            json_array_foreach(json_object_get(ss, "addresses"), k, a)
                buf_printf(out, "%s%s:%lld", listed++ ? "," : "", str(a, "ip", ""), (long long)json_path_int(p, "port", 0));
        }
    }
    if (!out->len) buf_puts(out, "<none>");
}

static void describe_service(struct kc *kc, const json_t *svc, time_t now, struct buf *b)
{
    metadata_block(b, svc, 1);
    map_lines(b, "", "Labels", json_path(svc, "metadata.labels"), "=");
    map_lines(b, "", "Annotations", json_path(svc, "metadata.annotations"), ": ");
    char *sel = kc_labels_string(json_path(svc, "spec.selector"));
    buf_printf(b, "Selector:\t%s\n", sel);
    free(sel);
    buf_printf(b, "Type:\t%s\n", str(svc, "spec.type", "ClusterIP"));
    buf_puts(b, "IP Family Policy:\tSingleStack\nIP Families:\tIPv4\n");
    const char *ip = str(svc, "spec.clusterIP", "None");
    buf_printf(b, "IP:\t%s\nIPs:\t%s\n", ip, ip);
    json_t *eps = NULL;
    FILE *saved = kc->err, *devnull = fopen("/dev/null", "w");
    if (devnull) kc->err = devnull;
    if (kc_fetch(kc, "Endpoints", str(svc, "metadata.namespace", ""), str(svc, "metadata.name", ""), NULL, &eps))
        eps = NULL;
    kc->err = saved;
    if (devnull) fclose(devnull);
    const json_t *ep = json_array_get(eps, 0);
    size_t i;
    json_t *p;
    json_array_foreach(json_path(svc, "spec.ports"), i, p)
    {
        const char *pname = str(p, "name", "");
        char tp[64];
        json_t *tpv = json_object_get(p, "targetPort");
        if (tpv)
            port_value(tpv, tp, sizeof tp);
        else
            snprintf(tp, sizeof tp, "%lld", (long long)json_path_int(p, "port", 0));
        buf_printf(b, "Port:\t%s\t%lld/%s\n", *pname ? pname : "<unset>", (long long)json_path_int(p, "port", 0),
                   str(p, "protocol", "TCP"));
        buf_printf(b, "TargetPort:\t%s/%s\n", tp, str(p, "protocol", "TCP"));
        if (json_path_int(p, "nodePort", 0))
            buf_printf(b, "NodePort:\t%s\t%lld/%s\n", *pname ? pname : "<unset>",
                       (long long)json_path_int(p, "nodePort", 0), str(p, "protocol", "TCP"));
        struct buf e;
        buf_init(&e, 1u << 20);
        if (ep)
            endpoints_for_port(ep, pname, &e);
        else
            buf_puts(&e, "<none>");
        buf_printf(b, "Endpoints:\t%s\n", e.data);
        buf_free(&e);
    }
    buf_printf(b, "Session Affinity:\t%s\n", str(svc, "spec.sessionAffinity", "None"));
    json_t *ev = kc_events_for(kc, "Service", str(svc, "metadata.namespace", ""), str(svc, "metadata.name", ""));
    events_section(b, ev, now);
    json_decref(ev);
    json_decref(eps);
}

static void describe_configmap(struct kc *kc, const json_t *cm, time_t now, struct buf *b)
{
    metadata_block(b, cm, 1);
    map_lines(b, "", "Labels", json_path(cm, "metadata.labels"), "=");
    map_lines(b, "", "Annotations", json_path(cm, "metadata.annotations"), ": ");
    buf_puts(b, "\nData\n====\n");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(cm, "data"), k, v)
        buf_printf(b, "%s:\n----\n%s\n\n", k, json_is_string(v) ? json_string_value(v) : "");
    buf_puts(b, "\nBinaryData\n====\n\n");
    json_t *ev = kc_events_for(kc, "ConfigMap", str(cm, "metadata.namespace", ""), str(cm, "metadata.name", ""));
    events_section(b, ev, now);
    json_decref(ev);
}

static void describe_generic(struct kc *kc, const char *kind, const json_t *o, time_t now, struct buf *b)
{
    metadata_block(b, o, manifest_kind_namespaced(kind));
    map_lines(b, "", "Labels", json_path(o, "metadata.labels"), "=");
    map_lines(b, "", "Annotations", json_path(o, "metadata.annotations"), ": ");
    if (!strcmp(kind, "Secret")) {
        buf_printf(b, "\nType:\t%s\n\nData\n====\n", str(o, "type", "Opaque"));
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(o, "data"), k, v)
        {
            /* base64 length to byte count */
            size_t n = json_string_length(v), bytes = n / 4 * 3;
            const char *s = json_string_value(v);
            if (n >= 1 && s[n - 1] == '=') bytes--;
            if (n >= 2 && s[n - 2] == '=') bytes--;
            buf_printf(b, "%s:\t%zu bytes\n", k, bytes);
        }
        return;
    }
    if (!strcmp(kind, "ReplicaSet")) {
        char *s = kc_labels_string(json_path(o, "spec.selector.matchLabels"));
        buf_printf(b, "Selector:\t%s\n", s);
        free(s);
        buf_printf(b, "Replicas:\t%lld current / %lld desired\n", (long long)json_path_int(o, "status.replicas", 0),
                   (long long)json_path_int(o, "spec.replicas", 0));
        buf_printf(b, "Pods Status:\t%lld Running / 0 Waiting / 0 Succeeded / 0 Failed\n",
                   (long long)json_path_int(o, "status.readyReplicas", 0));
    }
    for (const char *sect = "spec"; sect; sect = !strcmp(sect, "spec") ? "status" : NULL) {
        json_t *v = json_object_get(o, sect);
        if (!json_object_size(v) && !json_array_size(v)) continue;
        struct buf y;
        buf_init(&y, DESCRIBE_MAX);
        if (!yaml_emit(v, &y)) {
            buf_printf(b, "%c%s:\n", sect[0] - 32, sect + 1);
            char *line = y.data;
            while (line && *line) {
                char *nl = strchr(line, '\n');
                if (nl) *nl = '\0';
                buf_printf(b, "  %s\n", line);
                line = nl ? nl + 1 : NULL;
            }
        }
        buf_free(&y);
    }
    if (!strcmp(kind, "Endpoints")) {
        /* subsets printed above as YAML is enough for an agent */
    }
    json_t *ev = kc_events_for(kc, kind, str(o, "metadata.namespace", ""), str(o, "metadata.name", ""));
    events_section(b, ev, now);
    json_decref(ev);
}

static void describe_one(struct kc *kc, const char *kind, const json_t *o, time_t now, struct buf *b)
{
    if (!strcmp(kind, "Pod")) describe_pod(kc, o, now, b);
    else if (!strcmp(kind, "Deployment")) describe_deployment(kc, o, now, b);
    else if (!strcmp(kind, "Service")) describe_service(kc, o, now, b);
    else if (!strcmp(kind, "ConfigMap")) describe_configmap(kc, o, now, b);
    else describe_generic(kc, kind, o, now, b);
}

int kc_describe(struct kc *kc, int argc, char **argv)
{
    char **args = xcalloc((size_t)argc + 1, sizeof *args);
    size_t nargs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--show-events=false") || !strcmp(argv[i], "--show-events=true")) continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            free(args);
            return kc_usage_error(kc, "describe", "unknown flag: %s", argv[i]);
        }
        args[nargs++] = argv[i];
    }
    if (!nargs) {
        free(args);
        return kc_usage_error(kc, "describe", "You must specify the type of resource to describe. Use \"kubectl "
                                              "api-resources\" for a complete list of supported resources.");
    }
    /* (kind, name-or-NULL) pairs */
    struct want {
        const char *kind;
        const char *name;
    } *w = xcalloc(nargs + 1, sizeof *w);
    size_t nw = 0;
    int rc = 0;
    if (strchr(args[0], '/')) {
        for (size_t i = 0; i < nargs; i++) {
            char *slash = strchr(args[i], '/');
            char res[128];
            size_t n = slash ? (size_t)(slash - args[i]) : 0;
            if (!slash || n >= sizeof res) {
                rc = kc_error(kc, "arguments in resource/name form must have a single resource and name");
                goto out;
            }
            memcpy(res, args[i], n);
            res[n] = '\0';
            w[nw].kind = manifest_kind_of_resource(res);
            if (!w[nw].kind) {
                fprintf(kc->err, "error: the server doesn't have a resource type \"%s\"\n", res);
                rc = 1;
                goto out;
            }
            w[nw++].name = slash + 1;
        }
    } else {
        const char *kind = manifest_kind_of_resource(args[0]);
        if (!kind) {
            fprintf(kc->err, "error: the server doesn't have a resource type \"%s\"\n", args[0]);
            rc = 1;
            goto out;
        }
        if (nargs == 1) w[nw++] = (struct want){kind, NULL};
        for (size_t i = 1; i < nargs; i++) w[nw++] = (struct want){kind, args[i]};
    }
    const char *ns = kc->all_namespaces ? NULL : kc->ns;
    time_t now = time(NULL);
    int printed = 0;
    kc_lab = &kc->lab;
    for (size_t i = 0; i < nw; i++) {
        json_t *items = NULL;
        if (w[i].name) {
            /* exact name first; then every object whose name starts with it */
            FILE *saved = kc->err, *devnull = fopen("/dev/null", "w");
            if (devnull) kc->err = devnull;
            int frc = kc_fetch(kc, w[i].kind, ns, w[i].name, NULL, &items);
            kc->err = saved;
            if (devnull) fclose(devnull);
            if (frc || !json_array_size(items)) {
                json_decref(items);
                items = NULL;
                json_t *all = NULL;
                if (kc_fetch(kc, w[i].kind, ns, NULL, NULL, &all)) {
                    rc = 1;
                    continue;
                }
                items = json_array();
                size_t j;
                json_t *o;
                json_array_foreach(all, j, o) if (str_has_prefix(json_path_str(o, "metadata.name", ""), w[i].name))
                    json_array_append(items, o);
                json_decref(all);
                if (!json_array_size(items)) {
                    fprintf(kc->err, "Error from server (NotFound): %s \"%s\" not found\n",
                            manifest_resource_of_kind(w[i].kind), w[i].name);
                    rc = 1;
                    json_decref(items);
                    continue;
                }
            }
        } else if (kc_fetch(kc, w[i].kind, ns, NULL, kc->selector, &items)) {
            rc = 1;
            continue;
        }
        if (!w[i].name && !json_array_size(items)) {
            if (ns)
                fprintf(kc->err, "No resources found in %s namespace.\n", ns);
            else
                fprintf(kc->err, "No resources found\n");
        }
        size_t j;
        json_t *o;
        json_array_foreach(items, j, o)
        {
            struct buf b;
            buf_init(&b, DESCRIBE_MAX);
            describe_one(kc, w[i].kind, o, now, &b);
            if (printed++) fputs("\n\n", kc->out);
            kc_tabwrite(b.data ? b.data : "", 0, 2, kc->out);
            buf_free(&b);
        }
        json_decref(items);
    }
out:
    free(w);
    free(args);
    return rc;
}
