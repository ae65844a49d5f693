/* logs: `kubectl logs`, read straight from the container run directories
 * conmon writes (paths.h, crilog.h) — the pod's uid and container status
 * say which run is current and which is the previous one. Never follows:
 * an agent's shell must not hang. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/crilog.h"
#include "cluster/paths.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "kubectl/kc.h"
#include "kubectl/kread.h"
#include "observe/logq.h"

#define LOG_MAX_BYTES (256u << 20)

struct logopts {
    const char *container;
    long tail; /* -1: all */
    uint64_t since_ns;
    int previous, timestamps, all_containers, prefix;
};

struct collect {
    const struct logopts *o;
    struct buf partial;
    uint64_t partial_ts;
    char **lines;
    size_t n, cap, bytes;
    const char *prefix;
};

static void push_line(struct collect *c, uint64_t ts, const char *text, size_t len)
{
    if (c->o->since_ns && ts && ts < c->o->since_ns) return;
    if (c->bytes + len > LOG_MAX_BYTES) return;
    struct buf b;
    buf_init(&b, len + 256);
    if (c->prefix) buf_printf(&b, "[%s] ", c->prefix);
    if (c->o->timestamps && ts) {
        char t[40];
        time_rfc3339_nano(ts, t, sizeof t);
        buf_printf(&b, "%s ", t);
    }
    buf_append(&b, text, len);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->lines = xrealloc(c->lines, c->cap * sizeof *c->lines);
    }
    c->bytes += b.len;
    c->lines[c->n++] = buf_steal(&b);
    if (!c->lines[c->n - 1]) c->lines[c->n - 1] = xstrdup("");
}

static int on_line(const struct crilog_line *l, void *arg)
{
    struct collect *c = arg;
    if (l->partial) {
        if (!c->partial.len) c->partial_ts = l->ts_ns;
        buf_append(&c->partial, l->text, l->len);
        return 0;
    }
    if (c->partial.len) {
        buf_append(&c->partial, l->text, l->len);
        push_line(c, c->partial_ts, c->partial.data, c->partial.len);
        buf_reset(&c->partial);
    } else {
        push_line(c, l->ts_ns, l->text, l->len);
    }
    return 0;
}

static int run_finished(struct kc *kc, const char *uid, const char *cname, int run)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    if (cluster_run_dir(&kc->lab, uid, cname, run, dir, sizeof dir)) return 0;
    snprintf(path, sizeof path, "%s/state.json", dir);
    json_error_t je;
    json_t *st = json_load_file(path, 0, &je);
    const char *phase = json_path_str(st, "phase", "");
    int done = !strcmp(phase, "exited") || !strcmp(phase, "failed");
    json_decref(st);
    return done;
}

static const json_t *container_status(const json_t *pod, const char *name)
{
    const char *lists[] = {"status.containerStatuses", "status.initContainerStatuses"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *cs;
        json_array_foreach(json_path(pod, lists[l]), i, cs) if (!strcmp(json_path_str(cs, "name", ""), name)) return cs;
    }
    return NULL;
}

static int container_known(const json_t *pod, const char *name)
{
    const char *lists[] = {"spec.containers", "spec.initContainers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_path(pod, lists[l]), i, c) if (!strcmp(json_path_str(c, "name", ""), name)) return 1;
    }
    return 0;
}

/* Print one container's logs. 0 or 1 after printing kubectl's error. */
static int container_logs(struct kc *kc, const json_t *pod, const char *cname, const struct logopts *o, int with_prefix)
{
    const char *pname = json_path_str(pod, "metadata.name", "");
    const char *uid = json_path_str(pod, "metadata.uid", "");
    if (!container_known(pod, cname)) {
        fprintf(kc->err, "Error from server (BadRequest): container %s is not valid for pod %s\n", cname, pname);
        return 1;
    }
    const json_t *cs = container_status(pod, cname);
    int runs[64];
    size_t nruns = *uid ? logq_list_runs(&kc->lab, uid, cname, runs, 64) : 0;
    int running = json_path(cs, "state.running") != NULL, terminated = json_path(cs, "state.terminated") != NULL;
    int has_last = json_object_size(json_path(cs, "lastState.terminated")) > 0;
    int run = -1;
    if (o->previous) {
        if (!has_last) {
            fprintf(kc->err, "Error from server (BadRequest): previous terminated container \"%s\" in pod \"%s\" not found\n",
                    cname, pname);
            return 1;
        }
        size_t start = (running || terminated) ? 1 : 0;
        for (size_t i = start; i < nruns && run < 0; i++)
            if (run_finished(kc, uid, cname, runs[i])) run = runs[i];
        if (run < 0) {
            fprintf(kc->err, "Error from server (BadRequest): previous terminated container \"%s\" in pod \"%s\" not found\n",
                    cname, pname);
            return 1;
        }
    } else if ((running || terminated) && nruns) {
        run = runs[0];
    } else {
        for (size_t i = 0; i < nruns && run < 0; i++)
            if (run_finished(kc, uid, cname, runs[i])) run = runs[i];
        if (run < 0) {
            const char *reason = json_path_str(cs, "state.waiting.reason", "ContainerCreating");
            fprintf(kc->err, "Error from server (BadRequest): container \"%s\" in pod \"%s\" is waiting to start: %s\n",
                    cname, pname, reason);
            return 1;
        }
    }
    char dir[PATH_MAX];
    if (cluster_run_dir(&kc->lab, uid, cname, run, dir, sizeof dir)) return kc_error(kc, "path too long");
    char pfx[512];
    snprintf(pfx, sizeof pfx, "pod/%s/%s", pname, cname);
    struct collect c = {.o = o, .prefix = with_prefix ? pfx : NULL};
    buf_init(&c.partial, 1u << 20);
    int rc = crilog_read(dir, on_line, &c);
    if (c.partial.len) push_line(&c, c.partial_ts, c.partial.data, c.partial.len);
    size_t first = 0;
    if (o->tail >= 0 && (size_t)o->tail < c.n) first = c.n - (size_t)o->tail;
    for (size_t i = 0; i < c.n; i++) {
        if (i >= first) fprintf(kc->out, "%s\n", c.lines[i]);
        free(c.lines[i]);
    }
    free(c.lines);
    buf_free(&c.partial);
    if (rc && rc != -ENOENT) return kc_error(kc, "reading logs of %s: %s", pfx, strerror(-rc));
    return 0;
}

static int pod_logs(struct kc *kc, const json_t *pod, const struct logopts *o, int with_prefix)
{
    json_t *cs = json_path(pod, "spec.containers");
    if (o->container) return container_logs(kc, pod, o->container, o, with_prefix);
    if (o->all_containers) {
        int rc = 0;
        size_t i;
        json_t *c;
        json_array_foreach(json_path(pod, "spec.initContainers"), i, c)
            rc |= container_logs(kc, pod, json_path_str(c, "name", ""), o, with_prefix);
        json_array_foreach(cs, i, c) rc |= container_logs(kc, pod, json_path_str(c, "name", ""), o, with_prefix);
        return rc;
    }
    if (json_array_size(cs) == 1) return container_logs(kc, pod, json_path_str(json_array_get(cs, 0), "name", ""), o, with_prefix);
    const char *dflt = json_string_value(
        json_object_get(json_path(pod, "metadata.annotations"), "kubectl.kubernetes.io/default-container"));
    if (dflt) return container_logs(kc, pod, dflt, o, with_prefix);
    struct buf names;
    buf_init(&names, 1u << 16);
    size_t i;
    json_t *c;
    json_array_foreach(cs, i, c) buf_printf(&names, "%s%s", i ? " " : "", json_path_str(c, "name", ""));
    kc_error(kc, "a container name must be specified for pod %s, choose one of: [%s]",
             json_path_str(pod, "metadata.name", ""), names.len ? names.data : "");
    buf_free(&names);
    return 1;
}

static int flag_value(int argc, char **argv, int *i, const char *name, const char *shortname, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (!strcmp(a, name) || (shortname && !strcmp(a, shortname))) {
        if (*i + 1 >= argc) return -1;
        *val = argv[++*i];
        return 1;
    }
    if (!strncmp(a, name, n) && a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (shortname && !strncmp(a, shortname, 2) && a[2]) {
        *val = a + 2 + (a[2] == '=');
        return 1;
    }
    return 0;
}

int kc_logs(struct kc *kc, int argc, char **argv)
{
    struct logopts o = {.tail = -1};
    const char *target = NULL, *val = NULL;
    int tail_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!strcmp(a, "-f") || !strcmp(a, "--follow") || !strcmp(a, "--follow=true")) {
            return kc_error(kc, "--follow is not supported");
        } else if (!strcmp(a, "-p") || !strcmp(a, "--previous") || !strcmp(a, "--previous=true")) {
            o.previous = 1;
        } else if (!strcmp(a, "--timestamps") || !strcmp(a, "--timestamps=true")) {
            o.timestamps = 1;
        } else if (!strcmp(a, "--all-containers") || !strcmp(a, "--all-containers=true")) {
            o.all_containers = 1;
        } else if (!strcmp(a, "--prefix") || !strcmp(a, "--prefix=true")) {
            o.prefix = 1;
        } else if (!strcmp(a, "--follow=false") || !strcmp(a, "--previous=false") || !strcmp(a, "--timestamps=false")) {
            continue;
        } else if ((r = flag_value(argc, argv, &i, "--container", "-c", &val))) {
            if (r < 0) return kc_usage_error(kc, "logs", "flag needs an argument: %s", a);
            o.container = val;
        } else if ((r = flag_value(argc, argv, &i, "--tail", NULL, &val))) {
            if (r < 0 || parse_long(val, -1, 1L << 30, &o.tail))
                return kc_usage_error(kc, "logs", "invalid argument \"%s\" for \"--tail\" flag", r < 0 ? "" : val);
            tail_given = 1;
        } else if ((r = flag_value(argc, argv, &i, "--since", NULL, &val))) {
            uint64_t d;
            if (r < 0 || time_parse_duration(val, &d))
                return kc_usage_error(kc, "logs", "invalid argument \"%s\" for \"--since\" flag: time: invalid duration",
                                      r < 0 ? "" : val);
            uint64_t now = wall_ns();
            o.since_ns = d < now ? now - d : 1;
        } else if ((r = flag_value(argc, argv, &i, "--since-time", NULL, &val))) {
            if (r < 0 || time_parse_rfc3339(val, &o.since_ns))
                return kc_usage_error(kc, "logs", "invalid argument \"%s\" for \"--since-time\" flag",
                                      r < 0 ? "" : val);
        } else if ((r = flag_value(argc, argv, &i, "--limit-bytes", NULL, &val)) ||
                   (r = flag_value(argc, argv, &i, "--max-log-requests", NULL, &val)) ||
                   (r = flag_value(argc, argv, &i, "--pod-running-timeout", NULL, &val))) {
            if (r < 0) return kc_usage_error(kc, "logs", "flag needs an argument: %s", a);
        } else if (a[0] == '-' && a[1]) {
            return kc_usage_error(kc, "logs", "unknown flag: %s", a);
        } else if (!target) {
            target = a;
        } else if (!o.container) {
            o.container = a; /* kubectl logs POD CONTAINER */
        } else {
            return kc_usage_error(kc, "logs", "expected POD_NAME or TYPE/NAME [CONTAINER_NAME]");
        }
    }
    const char *ns = kc->ns;
    json_t *pods = NULL;
    int multi = 0;
    if (kc->selector) {
        if (target) return kc_error(kc, "only one of a selector or a pod name is allowed");
        if (!tail_given) o.tail = 10;
        if (kc_fetch(kc, "Pod", kc->all_namespaces ? NULL : ns, NULL, kc->selector, &pods)) return 1;
        if (!json_array_size(pods)) {
            json_decref(pods);
            fprintf(kc->err, "No resources found in %s namespace.\n", ns);
            return 0;
        }
        multi = 1;
    } else if (!target) {
        return kc_usage_error(kc, "logs", "expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or "
                                          "TYPE/NAME is a required argument for the logs command");
    } else if (strchr(target, '/')) {
        const char *slash = strchr(target, '/');
        char res[64];
        size_t n = (size_t)(slash - target);
        if (n >= sizeof res) return kc_error(kc, "bad resource %s", target);
        memcpy(res, target, n);
        res[n] = '\0';
        const char *name = slash + 1;
        if (!strcmp(res, "pod") || !strcmp(res, "pods") || !strcmp(res, "po")) {
            if (kc_fetch(kc, "Pod", ns, name, NULL, &pods)) return 1;
        } else if (!strcmp(res, "deploy") || !strcmp(res, "deployment") || !strcmp(res, "deployments") ||
                   !strcmp(res, "deployments.apps") || !strcmp(res, "deployment.apps") || !strcmp(res, "rs") ||
                   !strcmp(res, "replicaset") || !strcmp(res, "replicasets") || !strcmp(res, "svc") ||
                   !strcmp(res, "service") || !strcmp(res, "services")) {
            int svc = res[0] == 's';
            const char *kind = svc ? "Service" : (res[0] == 'r' ? "ReplicaSet" : "Deployment");
            json_t *owner = NULL;
            if (kc_fetch(kc, kind, ns, name, NULL, &owner)) return 1;
            const json_t *obj = json_array_get(owner, 0);
            json_t *ml = svc ? json_path(obj, "spec.selector") : json_path(obj, "spec.selector.matchLabels");
            char *sel = kc_labels_string(ml);
            json_t *all = NULL;
            int frc = strcmp(sel, "<none>") ? kc_fetch(kc, "Pod", ns, NULL, sel, &all) : (all = json_array(), 0);
            free(sel);
            json_decref(owner);
            if (frc) return 1;
            if (!json_array_size(all)) {
                json_decref(all);
                return kc_error(kc, "timed out waiting for the condition");
            }
            /* kubectl picks a running pod first */
            const json_t *pick = json_array_get(all, 0);
            size_t i;
            json_t *p;
            json_array_foreach(all, i, p) if (!strcmp(json_path_str(p, "status.phase", ""), "Running"))
            {
                pick = p;
                break;
            }
            if (json_array_size(all) > 1)
                fprintf(kc->err, "Found %zu pods, using pod/%s\n", json_array_size(all),
                        json_path_str(pick, "metadata.name", ""));
            pods = json_array();
            json_array_append(pods, (json_t *)pick);
            json_decref(all);
        } else {
            return kc_error(kc, "cannot get the logs from %s: selector for %s not implemented", res, res);
        }
    } else {
        if (kc_fetch(kc, "Pod", ns, target, NULL, &pods)) return 1;
    }
    if (!json_array_size(pods)) {
        json_decref(pods);
        fprintf(kc->err, "Error from server (NotFound): pods \"%s\" not found\n", target ? target : "");
        return 1;
    }
    int rc = 0;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) rc |= pod_logs(kc, p, &o, o.prefix || (multi && json_array_size(pods) > 1 && o.prefix));
    json_decref(pods);
    return rc ? 1 : 0;
}
