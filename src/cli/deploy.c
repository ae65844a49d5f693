/* deploy: `aiopslab deploy APP` and `aiopslab undeploy APP`. An app is a
 * folder apps/APP/manifests of Kubernetes YAML; deploy applies it, shows
 * progress and waits until every Deployment is ready, and when a pod does
 * not become ready it fails naming the pod, its state and its last log
 * lines. undeploy deletes the app's namespaces (and with them its pods
 * and their data). */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cluster/client.h"
#include "cluster/crilog.h"
#include "cluster/manifest.h"
#include "cluster/paths.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "core/yaml.h"

static int apps_dir(char *out, size_t n)
{
    const char *env = getenv("AIOPSLAB_APPS_DIR");
    if (env && *env) return snprintf(out, n, "%s", env) >= (int)n ? -1 : 0;
    char exe[PATH_MAX];
    if (self_exe(exe, sizeof exe)) return -1;
    return snprintf(out, n, "%s/../apps", dirname(exe)) >= (int)n ? -1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every object of the app's manifests, in file order. */
static int load_app(const char *app, json_t **objects)
{
    char base[PATH_MAX], dir[PATH_MAX + 300];
    if (apps_dir(base, sizeof base)) {
        fprintf(stderr, "aiopslab: cannot find the apps folder (set AIOPSLAB_APPS_DIR)\n");
        return -1;
    }
    for (const char *p = app; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            fprintf(stderr, "aiopslab: invalid app name \"%s\"\n", app);
            return -1;
        }
    }
    snprintf(dir, sizeof dir, "%s/%s/manifests", base, app);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "aiopslab: no app \"%s\" (no folder %s); apps:", app, dir);
        DIR *b = opendir(base);
        struct dirent *e;
        while (b && (e = readdir(b)))
            if (e->d_name[0] != '.' && strcmp(e->d_name, "kit")) fprintf(stderr, " %s", e->d_name);
        if (b) closedir(b);
        fprintf(stderr, "\n");
        return -1;
    }
    char *files[256];
    size_t nfiles = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nfiles < 256) {
        size_t l = strlen(e->d_name);
        if ((l > 5 && !strcmp(e->d_name + l - 5, ".yaml")) || (l > 4 && !strcmp(e->d_name + l - 4, ".yml")))
            files[nfiles++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(files, nfiles, sizeof *files, cmp_str);
    *objects = json_array();
    int rc = 0;
    for (size_t i = 0; i < nfiles && !rc; i++) {
        char path[PATH_MAX + 600], err[1024];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        struct buf b;
        buf_init(&b, 16 << 20);
        struct yaml_stream ys = {0};
        if (read_file(path, &b)) {
            fprintf(stderr, "aiopslab: cannot read %s\n", path);
            rc = -1;
        } else if (yaml_parse(b.data, b.len, path, &ys, err, sizeof err)) {
            fprintf(stderr, "aiopslab: %s\n", err);
            rc = -1;
        } else {
            for (size_t k = 0; k < ys.count && !rc; k++) {
                const json_t *bad = NULL;
                if (manifest_validate(ys.docs[k].root, err, sizeof err, &bad)) {
                    int line = bad ? yaml_line_of(&ys, bad) : 0;
                    fprintf(stderr, "aiopslab: %s:%d: %s\n", path, line ? line : ys.docs[k].line, err);
                    rc = -1;
                } else {
                    json_array_append(*objects, ys.docs[k].root);
                }
            }
            yaml_stream_free(&ys);
        }
        buf_free(&b);
    }
    for (size_t i = 0; i < nfiles; i++) free(files[i]);
    if (rc) json_decref(*objects);
    return rc;
}

/* "deployment.apps/x" as kubectl names an object in its messages. */
static void print_ref(const char *kind, const char *name, const char *what)
{
    char lower[64];
    size_t i = 0;
    for (; kind[i] && i < sizeof lower - 1; i++) lower[i] = (char)(kind[i] >= 'A' && kind[i] <= 'Z' ? kind[i] + 32 : kind[i]);
    lower[i] = '\0';
    int apps = !strcmp(kind, "Deployment") || !strcmp(kind, "ReplicaSet");
    printf("%s%s/%s %s\n", lower, apps ? ".apps" : "", name, what);
}

static json_t *call(const struct lab *lab, json_t *req)
{
    char err[512];
    json_t *reply = NULL;
    int rc = cluster_call(lab, req, &reply, err, sizeof err);
    json_decref(req);
    if (rc) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return NULL;
    }
    if (json_object_get(reply, "error")) {
        fprintf(stderr, "aiopslab: Error from server (%s): %s\n", json_path_str(reply, "error.reason", ""),
                json_path_str(reply, "error.message", ""));
        json_decref(reply);
        return NULL;
    }
    return reply;
}

#define TAIL_LINES 10
struct tail {
    char lines[TAIL_LINES][512];
    int n;
};

/* Keep the last TAIL_LINES lines in a ring. */
static int keep_tail(const struct crilog_line *l, void *arg)
{
    struct tail *t = arg;
    snprintf(t->lines[t->n % TAIL_LINES], sizeof t->lines[0], "%.*s", (int)(l->len > 500 ? 500 : l->len), l->text);
    t->n++;
    return 0;
}

/* Explain a pod that is not ready: state, reason and its last log lines. */
static void explain_pod(const struct lab *lab, const json_t *pod)
{
    const char *name = json_path_str(pod, "metadata.name", "");
    fprintf(stderr, "  pod %s/%s is %s\n", json_path_str(pod, "metadata.namespace", ""), name,
            json_path_str(pod, "status.phase", "Pending"));
    size_t i;
    json_t *cs;
    json_array_foreach(json_path(pod, "status.containerStatuses"), i, cs) {
        const char *state = json_path(cs, "state.running") ? "Running" : json_path(cs, "state.waiting") ? "Waiting" : "Terminated";
        const char *reason = json_path_str(cs, "state.waiting.reason", json_path_str(cs, "state.terminated.reason", ""));
        const char *msg = json_path_str(cs, "state.waiting.message", json_path_str(cs, "state.terminated.message", ""));
        fprintf(stderr, "    container %s: %s%s%s%s%s, ready=%s, restarts=%lld\n", json_path_str(cs, "name", ""), state,
                *reason ? " (" : "", reason, *msg ? ": " : "", msg, json_is_true(json_path(cs, "ready")) ? "true" : "false",
                (long long)json_path_int(cs, "restartCount", 0));
        const char *lr = json_path_str(cs, "lastState.terminated.reason", NULL);
        if (lr)
            fprintf(stderr, "    last termination: %s, exit code %lld\n", lr,
                    (long long)json_path_int(cs, "lastState.terminated.exitCode", 0));
        /* The newest run: restartCount while one runs or after the last
         * exit, restartCount + 1 pending in back-off (its folder not yet made). */
        int run = (int)json_path_int(cs, "restartCount", 0);
        char dir[PATH_MAX];
        cluster_run_dir(lab, json_path_str(pod, "metadata.uid", ""), json_path_str(cs, "name", ""), run, dir, sizeof dir);
        fprintf(stderr, "    last log lines:\n");
        struct tail t = {.n = 0};
        crilog_read(dir, keep_tail, &t);
        for (int k = t.n > TAIL_LINES ? t.n - TAIL_LINES : 0; k < t.n; k++)
            fprintf(stderr, "      %s\n", t.lines[k % TAIL_LINES]);
    }
}

/* The Service variables (USER_SERVICE_SERVICE_HOST ...) are set when a
 * container starts, from the Services that exist then, as kubelet does: a
 * container started before a Service of its namespace was created (one
 * deleted and created again, by a fault or a person) cannot find it.
 * Restart the Deployments of such containers, so that deploying an app
 * that is already there wires it as a fresh deploy does. Deployments this
 * apply created are new anyway; those that keep data in their pods'
 * volumes (the databases) are left alone: their data would go with them. */
static int keeps_data(const json_t *pod)
{
    size_t i;
    json_t *vol;
    json_array_foreach(json_path(pod, "spec.volumes"), i, vol)
        if (json_object_get(vol, "emptyDir")) return 1;
    return 0;
}

static int restart_unwired(const struct lab *lab, const char *ns, const json_t *created)
{
    json_t *svcs = call(lab, json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Service", "namespace", ns));
    json_t *pods = svcs ? call(lab, json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Pod", "namespace", ns)) : NULL;
    json_t *rss = pods ? call(lab, json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "ReplicaSet", "namespace", ns)) : NULL;
    int rc = rss ? 0 : 1;
    uint64_t newest = 0, t;
    size_t i, j;
    json_t *o, *c;
    json_array_foreach(json_object_get(svcs, "items"), i, o)
        if (!time_parse_rfc3339(json_path_str(o, "metadata.creationTimestamp", ""), &t) && t > newest) newest = t;
    json_t *restart = json_object();
    json_array_foreach(json_object_get(pods, "items"), i, o) {
        if (json_path(o, "metadata.deletionTimestamp")) continue; /* going anyway */
        const char *rs = json_path_str(json_array_get(json_path(o, "metadata.ownerReferences"), 0), "name", "");
        const char *dep = NULL;
        json_array_foreach(json_object_get(rss, "items"), j, c)
            if (!strcmp(json_path_str(c, "metadata.name", ""), rs))
                dep = json_path_str(json_array_get(json_path(c, "metadata.ownerReferences"), 0), "name", NULL);
        if (!dep || json_object_get(created, dep) || keeps_data(o)) continue;
        json_array_foreach(json_path(o, "status.containerStatuses"), j, c)
            if (!time_parse_rfc3339(json_path_str(c, "state.running.startedAt", ""), &t) && t < newest)
                json_object_set_new(restart, dep, json_true());
    }
    const char *dep;
    json_t *v;
    json_object_foreach(restart, dep, v) {
        json_t *r = call(lab, json_pack("{s:s, s:s, s:s, s:s}", "op", "rollout", "action", "restart", "namespace", ns,
                                        "name", dep));
        if (r) print_ref("Deployment", dep, "restarted (its pods started before a Service they need existed)");
        else rc = 1;
        json_decref(r);
    }
    json_decref(restart);
    json_decref(svcs);
    json_decref(pods);
    json_decref(rss);
    return rc;
}

static int deploy(const struct lab *lab, const char *app, int timeout_s)
{
    json_t *objects;
    if (load_app(app, &objects)) return 1;
    size_t n = json_array_size(objects);
    json_t *reply = call(lab, json_pack("{s:s, s:o}", "op", "apply", "objects", objects));
    if (!reply) return 1;
    size_t i;
    json_t *r;
    json_t *namespaces = json_object(), *created = json_object();
    json_array_foreach(json_object_get(reply, "results"), i, r) {
        const char *kind = json_path_str(r, "kind", ""), *name = json_path_str(r, "name", "");
        print_ref(kind, name, json_path_str(r, "action", ""));
        const char *ns = json_path_str(r, "namespace", NULL);
        if (ns) json_object_set_new(namespaces, ns, json_true());
        if (!strcmp(kind, "Deployment") && !strcmp(json_path_str(r, "action", ""), "created"))
            json_object_set_new(created, name, json_true());
    }
    json_decref(reply);
    const char *ns;
    json_t *v;
    int failed = 0;
    json_object_foreach(namespaces, ns, v) failed |= restart_unwired(lab, ns, created);
    json_decref(created);
    if (failed) {
        json_decref(namespaces);
        return 1;
    }
    printf("applied %zu objects of %s; waiting for its pods to be ready", n, app);
    fflush(stdout);
    uint64_t start = mono_ns(), deadline = start + (uint64_t)timeout_s * 1000000000ull;
    int last_ready = -1;
    for (;;) {
        int want = 0, ready = 0;
        json_object_foreach(namespaces, ns, v) {
            json_t *deps = call(lab, json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Deployment", "namespace", ns));
            if (!deps) {
                json_decref(namespaces);
                return 1;
            }
            json_t *dep;
            json_array_foreach(json_object_get(deps, "items"), i, dep) {
                json_int_t w = json_path_int(dep, "spec.replicas", 1);
                want += (int)w;
                int gen_ok = json_path_int(dep, "status.observedGeneration", 0) >= json_path_int(dep, "metadata.generation", 1);
                int upd = (int)json_path_int(dep, "status.updatedReplicas", 0), rd = (int)json_path_int(dep, "status.readyReplicas", 0);
                int tot = (int)json_path_int(dep, "status.replicas", 0);
                ready += gen_ok && upd == w && tot == w ? (rd < w ? rd : (int)w) : 0;
            }
            json_decref(deps);
        }
        if (ready != last_ready) {
            printf("\n  %d/%d replicas ready", ready, want);
            fflush(stdout);
            last_ready = ready;
        }
        if (ready == want) {
            printf("\n%s is ready (%.1fs)\n", app, (double)(mono_ns() - start) / 1e9);
            json_decref(namespaces);
            return 0;
        }
        if (mono_ns() > deadline) break;
        usleep(100000);
    }
    printf("\n");
    fprintf(stderr, "aiopslab: %s did not become ready within %ds:\n", app, timeout_s);
    json_object_foreach(namespaces, ns, v) {
        json_t *pods = call(lab, json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Pod", "namespace", ns));
        json_t *pod;
        json_array_foreach(json_object_get(pods, "items"), i, pod) {
            int ok = 0;
            size_t j;
            json_t *c;
            json_array_foreach(json_path(pod, "status.conditions"), j, c)
                if (!strcmp(json_path_str(c, "type", ""), "Ready") && !strcmp(json_path_str(c, "status", ""), "True")) ok = 1;
            if (!ok) explain_pod(lab, pod);
        }
        json_decref(pods);
    }
    json_decref(namespaces);
    return 1;
}

static int undeploy(const struct lab *lab, const char *app)
{
    json_t *objects;
    if (load_app(app, &objects)) return 1;
    json_t *namespaces = json_object();
    size_t i;
    json_t *o;
    /* Delete in reverse order; namespaces last take everything with them. */
    for (i = json_array_size(objects); i-- > 0;) {
        o = json_array_get(objects, i);
        const char *kind = json_path_str(o, "kind", "");
        const char *name = json_path_str(o, "metadata.name", "");
        if (!strcmp(kind, "Namespace")) {
            json_object_set_new(namespaces, name, json_true());
            continue;
        }
        const char *ns = json_path_str(o, "metadata.namespace", "default");
        char err[512];
        json_t *reply = NULL;
        json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "op", "delete", "kind", kind, "namespace", ns, "name", name);
        if (cluster_call(lab, req, &reply, err, sizeof err)) {
            fprintf(stderr, "aiopslab: %s\n", err);
            json_decref(req);
            json_decref(objects);
            json_decref(namespaces);
            return 1;
        }
        json_decref(req);
        if (!json_object_get(reply, "error")) print_ref(kind, name, "deleted");
        json_decref(reply);
    }
    json_decref(objects);
    const char *ns;
    json_t *v;
    json_object_foreach(namespaces, ns, v) {
        json_t *reply = call(lab, json_pack("{s:s, s:s, s:s}", "op", "delete", "kind", "Namespace", "name", ns));
        if (!reply) continue;
        json_decref(reply);
        printf("namespace/%s deleted; waiting for its pods to stop", ns);
        fflush(stdout);
        uint64_t deadline = mono_ns() + 60000000000ull;
        while (mono_ns() < deadline) {
            char err[512];
            json_t *r = NULL, *req = json_pack("{s:s, s:s, s:s}", "op", "get", "kind", "Namespace", "name", ns);
            int rc = cluster_call(lab, req, &r, err, sizeof err);
            json_decref(req);
            int gone = rc == 0 && json_object_get(r, "error");
            json_decref(r);
            if (gone || rc) break;
            usleep(100000);
        }
        printf("\n");
    }
    json_decref(namespaces);
    printf("%s undeployed\n", app);
    return 0;
}

int cli_deploy(int argc, char **argv, int do_deploy)
{
    const char *app = NULL;
    long timeout = 120;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
            uint64_t ns;
            if (time_parse_duration(argv[++i], &ns) || ns < 1000000000ull) {
                fprintf(stderr, "aiopslab: --timeout wants a duration such as 90s or 5m\n");
                return 2;
            }
            timeout = (long)(ns / 1000000000ull);
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("Usage: aiopslab %s APP%s\n", do_deploy ? "deploy" : "undeploy", do_deploy ? " [--timeout 120s]" : "");
            return 0;
        } else if (argv[i][0] == '-' || app) {
            fprintf(stderr, "aiopslab: %s: unexpected argument \"%s\"\n", argv[0], argv[i]);
            return 2;
        } else {
            app = argv[i];
        }
    }
    if (!app) {
        fprintf(stderr, "Usage: aiopslab %s APP (for example: example)\n", do_deploy ? "deploy" : "undeploy");
        return 2;
    }
    struct lab lab;
    char err[512];
    if (lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return 1;
    }
    return do_deploy ? deploy(&lab, app, (int)timeout) : undeploy(&lab, app);
}
