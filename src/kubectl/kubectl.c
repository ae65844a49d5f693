/* kubectl: the kubectl-compatible command line of the lab. kubectl_main
 * takes the global flags out of argv wherever they stand (before or after
 * the verb, never after "--"), resolves the lab, and dispatches through
 * the verb table; `kubectl --help`, `kubectl VERB --help`, `version`,
 * `api-resources` and `cluster-info` are answered here. */
#include "kubectl/kubectl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/lab.h"
#include "kubectl/kc.h"
#include "kubectl/kread.h"

#define KC_CLIENT_VERSION "v1.31.0-aiopslab"


static int kc_version(struct kc *kc, int argc, char **argv);
static int kc_api_resources(struct kc *kc, int argc, char **argv);

struct verb {
    const char *name;
    int (*fn)(struct kc *, int, char **);
    const char *summary;
    const char *usage;
};

static const struct verb verbs[] = {
    {"get", kc_get, "Display one or many resources",
     "Examples:\n  kubectl get pods\n  kubectl get pods -o wide\n  kubectl get deployment,services -n NS\n"
     "  kubectl get pod web-1 -o json\n  kubectl get pods -l app=web -o jsonpath='{.items[*].metadata.name}'\n"
     "  kubectl get all -A\n\nOptions:\n"
     "  -A, --all-namespaces   list across all namespaces\n"
     "  -l, --selector=''      label selector (=, ==, !=, in, notin, key, !key)\n"
     "      --field-selector   field selector (metadata.name=x, status.phase!=Running)\n"
     "  -o, --output=''        json|yaml|wide|name|jsonpath=...|jsonpath-as-json=...|custom-columns=...\n"
     "      --show-labels      add a LABELS column\n"
     "      --no-headers       omit the header line\n"
     "      --sort-by=''       sort by a JSONPath expression (e.g. .metadata.creationTimestamp)\n"
     "      --ignore-not-found don't report missing named objects\n\n"
     "Usage:\n  kubectl get [(-o|--output=)FORMAT] (TYPE [NAME ... | -l label] | TYPE/NAME ...) [options]\n"},
    {"describe", kc_describe, "Show details of a specific resource or group of resources",
     "Examples:\n  kubectl describe pod web-1 -n NS\n  kubectl describe pods -l app=web\n"
     "  kubectl describe deployment web\n  kubectl describe svc web\n  kubectl describe pod web   (all pods "
     "whose names start with web)\n\n"
     "Usage:\n  kubectl describe (-f FILENAME | TYPE [NAME_PREFIX | -l label] | TYPE/NAME) [options]\n"},
    {"logs", kc_logs, "Print the logs for a container in a pod",
     "Examples:\n  kubectl logs web-1\n  kubectl logs deploy/web -c app --tail 50\n  kubectl logs web-1 "
     "--previous\n  kubectl logs -l app=web --since 5m\n\nOptions:\n"
     "  -c, --container=''     container name\n"
     "      --tail=-1          lines of recent log to show (10 with -l)\n"
     "      --since=0s         only logs newer than a relative duration (5s, 2m, 3h)\n"
     "      --since-time=''    only logs after an RFC3339 time\n"
     "  -p, --previous         the previous terminated container's logs\n"
     "      --timestamps       include timestamps on each line\n"
     "      --all-containers   all containers of the pod(s)\n"
     "      --prefix           prefix each line with its source (pod/NAME/CONTAINER)\n"
     "  -l, --selector=''      logs of every matching pod\n\n"
     "Usage:\n  kubectl logs [-p] (POD | TYPE/NAME) [-c CONTAINER] [options]\n"},
    {"top", kc_top, "Display resource (CPU/memory) usage",
     "Examples:\n  kubectl top pods -n NS\n  kubectl top pod web-1 --containers\n  kubectl top node\n\n"
     "Options:\n      --containers       per container\n      --sort-by=cpu|memory\n      --no-headers\n\n"
     "Usage:\n  kubectl top (pod [NAME | -l label] | node) [options]\n"},
    {"events", kc_events, "List events",
     "Examples:\n  kubectl events -n NS\n  kubectl events --for pod/web-1\n  kubectl events --types=Warning -A\n\n"
     "Options:\n  -A, --all-namespaces\n      --for=KIND/NAME   only events about this object\n"
     "      --types=Normal,Warning\n      --no-headers\n\n"
     "Usage:\n  kubectl events [(-o|--output=)json|yaml|name|jsonpath] [--for TYPE/NAME] [options]\n"},
    {"cluster-info", kc_cluster_info, "Display cluster information", "Usage:\n  kubectl cluster-info [options]\n"},
    {"api-resources", kc_api_resources, "Print the supported API resources on the server",
     "Usage:\n  kubectl api-resources [options]\n"},
    {"version", kc_version, "Print the client and server version information", "Usage:\n  kubectl version\n"},
    {"apply", kc_apply, "Apply a configuration to a resource by file name or stdin",
     "Examples:\n  kubectl apply -f manifest.yaml\n  cat m.yaml | kubectl apply -f -\n\n"
     "Usage:\n  kubectl apply -f FILENAME [options]\n"},
    {"create", kc_apply, "Create a resource from a file or from stdin",
     "Usage:\n  kubectl create -f FILENAME [options]\n"},
    {"delete", kc_delete, "Delete resources by file names, stdin, resources and names, or by resources and label "
                          "selector",
     "Examples:\n  kubectl delete pod web-1\n  kubectl delete -f manifest.yaml\n\n"
     "Usage:\n  kubectl delete ([-f FILENAME] | TYPE [(NAME | -l label | --all)]) [options]\n"},
    {"patch", kc_patch, "Update fields of a resource",
     "Examples:\n  kubectl patch deployment web -p '{\"spec\":{\"replicas\":2}}'\n"
     "  kubectl patch svc web --type=json -p '[{\"op\":\"replace\",\"path\":\"/spec/ports/0/targetPort\","
     "\"value\":9090}]'\n\n"
     "Usage:\n  kubectl patch (TYPE NAME | TYPE/NAME) [-p PATCH] [--type json|merge|strategic] [options]\n"},
    {"scale", kc_scale, "Set a new size for a deployment",
     "Usage:\n  kubectl scale --replicas=COUNT (TYPE NAME | TYPE/NAME) [options]\n"},
    {"rollout", kc_rollout, "Manage the rollout of a resource",
     "Examples:\n  kubectl rollout restart deployment/web\n  kubectl rollout status deployment/web\n"
     "  kubectl rollout undo deployment/web\n\n"
     "Usage:\n  kubectl rollout SUBCOMMAND (TYPE NAME | TYPE/NAME) [options]\n"},
    {"set", kc_set, "Set specific features on objects",
     "Examples:\n  kubectl set env deployment/web KEY=value\n  kubectl set env deployment/web KEY-\n\n"
     "Usage:\n  kubectl set env (TYPE NAME | TYPE/NAME) KEY=VAL ... [options]\n"},
    {"exec", kc_exec, "Execute a command in a container",
     "Examples:\n  kubectl exec web-1 -- cat /etc/hostname\n  kubectl exec deploy/web -c app -- env\n\n"
     "Usage:\n  kubectl exec (POD | TYPE/NAME) [-c CONTAINER] -- COMMAND [args...] [options]\n"},
    {"label", kc_label, "Update the labels on a resource",
     "Usage:\n  kubectl label (TYPE NAME | TYPE/NAME) KEY_1=VAL_1 ... KEY_N=VAL_N [--overwrite] [options]\n"},
    {"annotate", kc_label, "Update the annotations on a resource",
     "Usage:\n  kubectl annotate (TYPE NAME | TYPE/NAME) KEY_1=VAL_1 ... KEY_N=VAL_N [--overwrite] [options]\n"},
};
#define NVERBS (sizeof verbs / sizeof verbs[0])

static void usage(FILE *f)
{
    fprintf(f, "kubectl controls the aiopslab cluster (a kubectl-compatible subset).\n\n"
               "Basic Commands:\n");
    for (size_t i = 0; i < NVERBS; i++)
        if (verbs[i].fn) fprintf(f, "  %-14s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(f, "\nGlobal options (anywhere on the line):\n"
               "  -n, --namespace=''       namespace (default \"default\")\n"
               "  -A, --all-namespaces     across all namespaces\n"
               "  -l, --selector=''        label selector\n"
               "  -o, --output=''          output format\n"
               "      --lab=''             which aiopslab lab (default $AIOPSLAB_LAB or \"default\")\n\n"
               "Usage:\n  kubectl [flags] [options]\n\n"
               "Use \"kubectl <command> --help\" for more information about a given command.\n");
}

/* A global flag with a value: "-n X", "-nX", "-n=X", "--namespace X",
 * "--namespace=X". Returns how many argv slots it used (0: not this flag). */
static int take_value(char **argv, int i, int argc, const char *shortf, const char *longf, const char **val)
{
    const char *a = argv[i];
    size_t ll = longf ? strlen(longf) : 0;
    if ((shortf && !strcmp(a, shortf)) || (longf && !strcmp(a, longf))) {
        if (i + 1 >= argc) return -1;
        *val = argv[i + 1];
        return 2;
    }
    if (longf && !strncmp(a, longf, ll) && a[ll] == '=') {
        *val = a + ll + 1;
        return 1;
    }
    if (shortf && !strncmp(a, shortf, 2) && a[2]) {
        *val = a[2] == '=' ? a + 3 : a + 2;
        return 1;
    }
    return 0;
}

int kubectl_main(int argc, char **argv)
{
    struct kc kc = {.ns = "default", .out = stdout, .err = stderr};
    const char *labname = NULL;
    char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, help = 0, rc = 1;
    const char *verb = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        int used;
        if (!strcmp(a, "--")) {
            while (i < argc) rest[nrest++] = argv[i++];
            break;
        }
        if (a[0] != '-' || !a[1]) {
            if (!verb) verb = a;
            else rest[nrest++] = argv[i];
            continue;
        }
        if ((used = take_value(argv, i, argc, "-n", "--namespace", &val))) {
            if (used < 0) goto missing;
            kc.ns = val;
            kc.ns_given = 1;
        } else if (!strcmp(a, "-A") || !strcmp(a, "--all-namespaces") || !strcmp(a, "--all-namespaces=true")) {
            kc.all_namespaces = 1;
            used = 1;
        } else if ((used = take_value(argv, i, argc, "-l", "--selector", &val))) {
            if (used < 0) goto missing;
            kc.selector = val;
        } else if ((used = take_value(argv, i, argc, "-o", "--output", &val))) {
            if (used < 0) goto missing;
            kc.output = val;
        } else if ((used = take_value(argv, i, argc, NULL, "--lab", &val))) {
            if (used < 0) goto missing;
            labname = val;
        } else if ((used = take_value(argv, i, argc, NULL, "--context", &val)) ||
                   (used = take_value(argv, i, argc, NULL, "--kubeconfig", &val)) ||
                   (used = take_value(argv, i, argc, NULL, "--request-timeout", &val)) ||
                   (used = take_value(argv, i, argc, NULL, "--cluster", &val)) ||
                   (used = take_value(argv, i, argc, NULL, "--user", &val))) {
            if (used < 0) goto missing; /* accepted for compatibility: one cluster only */
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help = 1;
            used = 1;
        } else {
            rest[nrest++] = argv[i];
            used = 1;
        }
        i += used - 1;
        continue;
    missing:
        fprintf(stderr, "error: flag needs an argument: %s\nSee 'kubectl --help' for usage.\n", a);
        goto out;
    }
    if (!verb) {
        usage(help ? stdout : stderr);
        rc = help ? 0 : 1;
        goto out;
    }
    const struct verb *v = NULL;
    for (size_t i = 0; i < NVERBS; i++)
        if (!strcmp(verbs[i].name, verb) && verbs[i].fn) v = &verbs[i];
    if (!v) {
        fprintf(stderr, "error: unknown command \"%s\" for \"kubectl\"\nRun 'kubectl --help' for usage.\n", verb);
        goto out;
    }
    if (help) {
        printf("%s.\n\n%s", v->summary, v->usage);
        rc = 0;
        goto out;
    }
    char err[256];
    if (lab_resolve(labname, &kc.lab, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        goto out;
    }
    /* The verb sees argv[0] = verb, then its own arguments. */
    char **vargv = xcalloc((size_t)nrest + 2, sizeof *vargv);
    vargv[0] = (char *)verb;
    for (int i = 0; i < nrest; i++) vargv[i + 1] = rest[i];
    rc = v->fn(&kc, nrest + 1, vargv);
    free(vargv);
    fflush(stdout);
out:
    free(rest);
    return rc;
}

static int kc_version(struct kc *kc, int argc, char **argv)
{
    fprintf(kc->out, "Client Version: %s\n", KC_CLIENT_VERSION);
    return 0;
}

static int kc_api_resources(struct kc *kc, int argc, char **argv)
{
    static const char *rows[][5] = {
        {"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"},
        {"configmaps", "cm", "v1", "true", "ConfigMap"},
        {"endpoints", "ep", "v1", "true", "Endpoints"},
        {"events", "ev", "v1", "true", "Event"},
        {"namespaces", "ns", "v1", "false", "Namespace"},
        {"pods", "po", "v1", "true", "Pod"},
        {"secrets", "", "v1", "true", "Secret"},
        {"services", "svc", "v1", "true", "Service"},
        {"deployments", "deploy", "apps/v1", "true", "Deployment"},
        {"replicasets", "rs", "apps/v1", "true", "ReplicaSet"},
    };
    struct kc_table t;
    kc_table_init(&t, 5);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (size_t c = 0; c < 5; c++) kc_table_add(&t, rows[r][c]);
    kc_table_print(&t, kc->out);
    kc_table_free(&t);
    return 0;
}

int kc_cluster_info(struct kc *kc, int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "dump"))
        return kc_error(kc, "cluster-info dump is not supported; use kubectl get all -A -o yaml");
    json_t *req = json_pack("{s:s}", "op", "status"), *reply = NULL;
    int rc = kc_call(kc, req, &reply);
    json_decref(req);
    if (rc) return 1;
    int net = (int)json_integer_value(json_object_get(reply, "net"));
    if (!net) net = kc->lab.net;
    fprintf(kc->out, "Kubernetes control plane is running at unix://%s/daemon.sock\n", kc->lab.dir);
    fprintf(kc->out, "Service mesh admin is running at http://127.%d.0.1:%d\n", net, LAB_MESH_ADMIN_PORT);
    const char *limits = json_string_value(json_object_get(reply, "limits"));
    if (limits) fprintf(kc->out, "Resource limits are enforced by %s\n", limits);
    fprintf(kc->out, "\nTo further debug and diagnose cluster problems, use 'kubectl get events -A'.\n");
    json_decref(reply);
    return 0;
}
