/* get: `kubectl get` and `kubectl events` — resource arguments in all of
 * kubectl's forms (pods, pod/x, deploy,svc, all, pods a b), label and
 * field selectors applied here on the daemon's objects, tables or -o
 * forms, and kubectl's messages for empty and missing results. Also the
 * fetch helpers describe, logs and top use. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/manifest.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "cluster/selector.h"
#include "kubectl/kc.h"
#include "kubectl/kread.h"

/* ---- label selectors ---- */

static char *trim(char *s)
{
    while (*s == ' ') s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ') s[--n] = '\0';
    return s;
}

int kc_selector_match(const char *selector, const json_t *labels)
{
    char err[256];
    return selector_match_string(selector, labels, err, sizeof err);
}

static int field_match(const char *selector, const json_t *obj)
{
    char *copy = xstrdup(selector), *p = copy;
    int result = 1;
    while (p) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *op = strpbrk(p, "=!");
        if (op) {
            int neg = *op == '!';
            char *val = op + (neg || op[1] == '=' ? 2 : 1);
            *op = '\0';
            json_t *v = json_path(obj, trim(p));
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            int eq = !strcmp(s, trim(val));
            if (neg ? eq : !eq) result = 0;
        }
        p = comma ? comma + 1 : NULL;
    }
    free(copy);
    return result;
}

/* ---- fetching ---- */

static const char *api_version(const char *kind)
{
    return !strcmp(kind, "Deployment") || !strcmp(kind, "ReplicaSet") ? "apps/v1" : "v1";
}

static int by_ns_name(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_path_str(x, "metadata.namespace", ""), json_path_str(y, "metadata.namespace", ""));
    return c ? c : strcmp(json_path_str(x, "metadata.name", ""), json_path_str(y, "metadata.name", ""));
}

static const char *ev_time(const json_t *ev)
{
    const char *t = json_path_str(ev, "lastTimestamp", NULL);
    if (!t || !*t) t = json_path_str(ev, "eventTime", NULL);
    if (!t || !*t) t = json_path_str(ev, "firstTimestamp", NULL);
    if (!t || !*t) t = json_path_str(ev, "metadata.creationTimestamp", "");
    return t;
}

static int by_time(const void *a, const void *b)
{
    uint64_t x = 0, y = 0;
    time_parse_rfc3339(ev_time(*(json_t *const *)a), &x);
    time_parse_rfc3339(ev_time(*(json_t *const *)b), &y);
    return x < y ? -1 : x > y;
}

static void sort_array(json_t *arr, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(arr);
    if (n < 2) return;
    json_t **v = xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, cmp);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, v[i]);
    free(v);
}

int kc_fetch(struct kc *kc, const char *kind, const char *ns, const char *name, const char *selector,
             json_t **items)
{
    if (!manifest_kind_namespaced(kind)) ns = NULL;
    json_t *req = json_pack("{s:s, s:s, s:o, s:o, s:n}", "op", "get", "kind", kind, "namespace",
                            ns ? json_string(ns) : json_null(), "name", name ? json_string(name) : json_null(),
                            "selector");
    json_t *reply = NULL;
    int rc = kc_call(kc, req, &reply);
    json_decref(req);
    if (rc) return -1;
    json_t *in = json_object_get(reply, "items");
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(in, i, o)
    {
        if (selector && kc_selector_match(selector, json_path(o, "metadata.labels")) != 1) continue;
        if (!json_object_get(o, "kind")) json_object_set_new(o, "kind", json_string(kind));
        if (!json_object_get(o, "apiVersion")) json_object_set_new(o, "apiVersion", json_string(api_version(kind)));
        json_array_append(out, o);
    }
    json_decref(reply);
    sort_array(out, strcmp(kind, "Event") ? by_ns_name : by_time);
    *items = out;
    return 0;
}

json_t *kc_events_for(struct kc *kc, const char *kind, const char *ns, const char *name)
{
    json_t *all = NULL, *out = json_array();
    FILE *saved = kc->err;
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull) kc->err = devnull; /* a failed event fetch is not the caller's error */
    int rc = kc_fetch(kc, "Event", ns, NULL, NULL, &all);
    kc->err = saved;
    if (devnull) fclose(devnull);
    if (rc) return out;
    size_t i;
    json_t *ev;
    json_array_foreach(all, i, ev)
    {
        if (!strcmp(json_path_str(ev, "involvedObject.kind", ""), kind) &&
            !strcmp(json_path_str(ev, "involvedObject.name", ""), name))
            json_array_append(out, ev);
    }
    json_decref(all);
    return out;
}

/* ---- get ---- */

struct want {
    const char *kind;
    char *name; /* NULL: list */
};

static int is_table_output(const char *o)
{
    return !o || !strcmp(o, "wide");
}

static int resolve_kind(struct kc *kc, const char *res, const char **kind)
{
    *kind = manifest_kind_of_resource(res);
    if (!*kind) {
        fprintf(kc->err, "error: the server doesn't have a resource type \"%s\"\n", res);
        return -1;
    }
    return 0;
}

static void add_want(struct want **w, size_t *n, const char *kind, const char *name)
{
    *w = xrealloc(*w, (*n + 1) * sizeof **w);
    (*w)[*n].kind = kind;
    (*w)[*n].name = name ? xstrdup(name) : NULL;
    (*n)++;
}

static const char *all_kinds[] = {"Pod", "Service", "Deployment", "ReplicaSet"};

/* Parse "pods", "pod/x y/z", "deploy,svc a b", "all" into wants. */
static int parse_resources(struct kc *kc, char **args, size_t nargs, struct want **w, size_t *n)
{
    if (strchr(args[0], '/')) {
        for (size_t i = 0; i < nargs; i++) {
            char *slash = strchr(args[i], '/');
            if (!slash) {
                fprintf(kc->err, "error: there is no need to specify a resource type as a separate argument when "
                                 "passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' "
                                 "instead of 'kubectl get resource resource/<resource_name>'\n");
                return -1;
            }
            char *res = xstrndup(args[i], (size_t)(slash - args[i]));
            const char *kind;
            int rc = resolve_kind(kc, res, &kind);
            free(res);
            if (rc) return -1;
            add_want(w, n, kind, slash + 1);
        }
        return 0;
    }
    for (size_t i = 1; i < nargs; i++)
        if (strchr(args[i], '/')) {
            fprintf(kc->err, "error: there is no need to specify a resource type as a separate argument when passing "
                             "arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of "
                             "'kubectl get resource resource/<resource_name>'\n");
            return -1;
        }
    char *types = xstrdup(args[0]);
    int rc = 0;
    char *p = types;
    while (p && !rc) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        const char *kinds[8];
        size_t nk = 0;
        if (!strcmp(p, "all")) {
            for (size_t k = 0; k < 4; k++) kinds[nk++] = all_kinds[k];
        } else if (*p) {
            if (resolve_kind(kc, p, &kinds[0])) rc = -1;
            else nk = 1;
        }
        for (size_t k = 0; k < nk; k++) {
            if (nargs == 1)
                add_want(w, n, kinds[k], NULL);
            else
                for (size_t a = 1; a < nargs; a++) add_want(w, n, kinds[k], args[a]);
        }
        p = comma ? comma + 1 : NULL;
    }
    free(types);
    return rc;
}

static json_t *sort_by(json_t *items, const char *expr)
{
    /* Decorate with the expression's text, sort, undecorate. */
    size_t n = json_array_size(items);
    char *tmpl = expr[0] == '{' ? xstrdup(expr) : xasprintf("{%s%s}", expr[0] == '.' ? "" : ".", expr);
    struct pair {
        json_t *o;
        char *key;
        double num;
        int is_num;
    } *v = xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        struct buf b;
        buf_init(&b, 1u << 16);
        char err[128];
        v[i].o = json_array_get(items, i);
        kc_jsonpath(tmpl, v[i].o, 0, &b, err, sizeof err);
        char *end;
        v[i].num = strtod(b.data ? b.data : "", &end);
        v[i].is_num = b.len && !*end;
        v[i].key = buf_steal(&b);
        if (!v[i].key) v[i].key = xstrdup("");
    }
    /* insertion sort: stable, and lists are small */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            struct pair *a = &v[j - 1], *b = &v[j];
            int gt = a->is_num && b->is_num ? a->num > b->num : strcmp(a->key, b->key) > 0;
            if (!gt) break;
            struct pair t = *a;
            *a = *b;
            *b = t;
        }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append(out, v[i].o);
        free(v[i].key);
    }
    free(v);
    free(tmpl);
    json_decref(items);
    return out;
}

int kc_get(struct kc *kc, int argc, char **argv)
{
    struct kc_print_opts po = {.now = time(NULL), .all_namespaces = kc->all_namespaces};
    const char *field_sel = NULL, *sort_expr = NULL;
    int ignore_missing = 0;
    char **args = xcalloc((size_t)argc + 1, sizeof *args);
    size_t nargs = 0;
    int rc = 0;
    struct want *w = NULL;
    size_t nw = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--show-labels")) {
            po.show_labels = 1;
        } else if (!strcmp(a, "--no-headers") || !strcmp(a, "--no-headers=true")) {
            po.no_headers = 1;
        } else if (!strcmp(a, "--ignore-not-found") || !strcmp(a, "--ignore-not-found=true")) {
            ignore_missing = 1;
        } else if (!strcmp(a, "-w") || !strcmp(a, "--watch") || !strncmp(a, "--watch=", 8) ||
                   !strcmp(a, "--watch-only")) {
            rc = kc_error(kc, "--watch is not supported: it would never return (run get again instead)");
            goto out;
        } else if (!strcmp(a, "--field-selector") && i + 1 < argc) {
            field_sel = argv[++i];
        } else if (!strncmp(a, "--field-selector=", 17)) {
            field_sel = a + 17;
        } else if (!strcmp(a, "--sort-by") && i + 1 < argc) {
            sort_expr = argv[++i];
        } else if (!strncmp(a, "--sort-by=", 10)) {
            sort_expr = a + 10;
        } else if (!strcmp(a, "--chunk-size") && i + 1 < argc) {
            i++;
        } else if (!strncmp(a, "--chunk-size=", 13) || !strcmp(a, "--show-kind")) {
            if (!strcmp(a, "--show-kind")) po.with_kind = 1;
        } else if (a[0] == '-' && a[1]) {
            rc = kc_usage_error(kc, "get", "unknown flag: %s", a);
            goto out;
        } else {
            args[nargs++] = argv[i];
        }
    }
    if (!nargs) {
        fprintf(kc->err, "You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete "
                         "list of supported resources.\n\nerror: Required resource not specified.\nUse \"kubectl "
                         "explain <resource>\" for a detailed description of that resource (e.g. kubectl explain "
                         "pods).\nSee 'kubectl get -h' for help and examples\n");
        rc = 1;
        goto out;
    }
    if (kc->selector) {
        json_t *empty = json_object();
        int m = kc_selector_match(kc->selector, empty);
        json_decref(empty);
        if (m < 0) {
            rc = kc_error(kc, "unable to parse requirement: invalid label selector \"%s\"", kc->selector);
            goto out;
        }
    }
    if (kc->output && !is_table_output(kc->output) && strcmp(kc->output, "json") && strcmp(kc->output, "yaml") &&
        strcmp(kc->output, "name") && strncmp(kc->output, "jsonpath", 8) && strncmp(kc->output, "custom-columns=", 15)) {
        rc = kc_error(kc,
                      "unable to match a printer suitable for the output format \"%s\", allowed formats are: "
                      "custom-columns,json,jsonpath,jsonpath-as-json,name,wide,yaml",
                      kc->output);
        goto out;
    }
    po.wide = kc->output && !strcmp(kc->output, "wide");
    if (parse_resources(kc, args, nargs, &w, &nw)) {
        rc = 1;
        goto out;
    }
    const char *ns = kc->all_namespaces ? NULL : kc->ns;
    /* Gather per kind, in the order kinds were first asked for. */
    const char *kinds[16];
    json_t *per_kind[16];
    size_t nk = 0;
    int named = 0;
    for (size_t i = 0; i < nw; i++) {
        size_t k = 0;
        while (k < nk && strcmp(kinds[k], w[i].kind)) k++;
        if (k == nk) {
            if (nk == 16) continue;
            kinds[nk] = w[i].kind;
            per_kind[nk++] = json_array();
        }
        json_t *items = NULL;
        if (w[i].name) named++;
        FILE *saved = kc->err, *devnull = NULL;
        if (ignore_missing && w[i].name && (devnull = fopen("/dev/null", "w"))) kc->err = devnull;
        int frc = kc_fetch(kc, w[i].kind, ns, w[i].name, w[i].name ? NULL : kc->selector, &items);
        kc->err = saved;
        if (devnull) fclose(devnull);
        if (frc) {
            if (!ignore_missing || !w[i].name) rc = 1;
            continue;
        }
        size_t j;
        json_t *o;
        json_array_foreach(items, j, o)
        {
            if (field_sel && !field_match(field_sel, o)) continue;
            json_array_append(per_kind[k], o);
        }
        json_decref(items);
    }
    if (sort_expr)
        for (size_t k = 0; k < nk; k++) per_kind[k] = sort_by(per_kind[k], sort_expr);
    size_t total = 0;
    for (size_t k = 0; k < nk; k++) total += json_array_size(per_kind[k]);
    if (!is_table_output(kc->output)) {
        json_t *all = json_array();
        for (size_t k = 0; k < nk; k++) json_array_extend(all, per_kind[k]);
        if (total || !named) {
            int single = named == 1 && nw == 1;
            if (kc_print_objects(kc, all, single)) rc = 1;
        }
        json_decref(all);
    } else if (total == 0) {
        if (!named) {
            if (ns && manifest_kind_namespaced(kinds[0]))
                fprintf(kc->err, "No resources found in %s namespace.\n", ns);
            else
                fprintf(kc->err, "No resources found\n");
        }
    } else {
        int printed = 0;
        po.with_kind = po.with_kind || nk > 1;
        for (size_t k = 0; k < nk; k++) {
            if (!json_array_size(per_kind[k])) continue;
            if (printed++) fputc('\n', kc->out);
            struct kc_print_opts o = po;
            o.all_namespaces = po.all_namespaces && manifest_kind_namespaced(kinds[k]);
            kc_print_table(kinds[k], per_kind[k], &o, kc->out);
        }
    }
    for (size_t k = 0; k < nk; k++) json_decref(per_kind[k]);
out:
    for (size_t i = 0; i < nw; i++) free(w[i].name);
    free(w);
    free(args);
    return rc;
}

/* ---- events ---- */

int kc_events(struct kc *kc, int argc, char **argv)
{
    const char *for_obj = NULL, *types = NULL;
    struct kc_print_opts po = {.now = time(NULL), .all_namespaces = kc->all_namespaces};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--for") && i + 1 < argc) {
            for_obj = argv[++i];
        } else if (!strncmp(a, "--for=", 6)) {
            for_obj = a + 6;
        } else if (!strcmp(a, "--types") && i + 1 < argc) {
            types = argv[++i];
        } else if (!strncmp(a, "--types=", 8)) {
            types = a + 8;
        } else if (!strcmp(a, "--no-headers")) {
            po.no_headers = 1;
        } else if (!strcmp(a, "-w") || !strcmp(a, "--watch")) {
            return kc_error(kc, "--watch is not supported: it would never return (run events again instead)");
        } else {
            return kc_usage_error(kc, "events", "unknown flag or argument: %s", a);
        }
    }
    const char *for_kind = NULL;
    char *for_name = NULL;
    if (for_obj) {
        const char *slash = strchr(for_obj, '/');
        if (!slash) return kc_error(kc, "--for must be in resource/name form");
        char *res = xstrndup(for_obj, (size_t)(slash - for_obj));
        for_kind = manifest_kind_of_resource(res);
        free(res);
        if (!for_kind) return kc_error(kc, "the server doesn't have a resource type in \"%s\"", for_obj);
        for_name = xstrdup(slash + 1);
    }
    json_t *items = NULL;
    const char *ns = kc->all_namespaces ? NULL : kc->ns;
    if (kc_fetch(kc, "Event", ns, NULL, NULL, &items)) {
        free(for_name);
        return 1;
    }
    json_t *sel = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(items, i, ev)
    {
        if (for_kind && (strcmp(json_path_str(ev, "involvedObject.kind", ""), for_kind) ||
                         strcmp(json_path_str(ev, "involvedObject.name", ""), for_name)))
            continue;
        if (types) {
            char pat[64];
            snprintf(pat, sizeof pat, "%s", json_path_str(ev, "type", "Normal"));
            int hit = 0;
            char *copy = xstrdup(types), *p = copy;
            while (p && !hit) {
                char *comma = strchr(p, ',');
                if (comma) *comma = '\0';
                if (!strcasecmp(p, pat)) hit = 1;
                p = comma ? comma + 1 : NULL;
            }
            free(copy);
            if (!hit) continue;
        }
        json_array_append(sel, ev);
    }
    int rc = 0;
    if (kc->output && strcmp(kc->output, "wide")) {
        rc = kc_print_objects(kc, sel, 0);
    } else if (!json_array_size(sel)) {
        if (ns)
            fprintf(kc->err, "No events found in %s namespace.\n", ns);
        else
            fprintf(kc->err, "No events found.\n");
    } else {
        kc_print_table("Event", sel, &po, kc->out);
    }
    json_decref(sel);
    json_decref(items);
    free(for_name);
    return rc;
}
