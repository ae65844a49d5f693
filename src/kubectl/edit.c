/* edit: the kubectl verbs that change existing objects — delete, patch,
 * scale, set env, label and annotate — and the helpers they share with
 * apply and rollout (resource arguments, flags, kind names in messages).
 *
 * Each verb parses its arguments, builds the daemon request (patches are
 * built here, applied by the daemon: src/cluster/patch.h) and prints what
 * kubectl prints. The request builders are in kcw.h so that unit tests can
 * reach them without a daemon. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/client.h"
#include "cluster/manifest.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"
#include "core/yaml.h"
#include "kubectl/kc.h"
#include "kubectl/kcw.h"

/* ---- kinds and arguments ---- */

static const struct {
    const char *kind, *type, *resource;
} kinds[] = {
    {"Deployment", "deployment.apps", "deployments.apps"},
    {"ReplicaSet", "replicaset.apps", "replicasets.apps"},
    {"StatefulSet", "statefulset.apps", "statefulsets.apps"},
    {"DaemonSet", "daemonset.apps", "daemonsets.apps"},
    {"Pod", "pod", "pods"},
    {"Service", "service", "services"},
    {"Endpoints", "endpoints", "endpoints"},
    {"ConfigMap", "configmap", "configmaps"},
    {"Secret", "secret", "secrets"},
    {"Namespace", "namespace", "namespaces"},
    {"Event", "event", "events"},
};

const char *kcw_kind_type(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kind && !strcmp(kind, kinds[i].kind)) return kinds[i].type;
    return kind ? kind : "";
}

const char *kcw_kind_resource(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kind && !strcmp(kind, kinds[i].kind)) return kinds[i].resource;
    return kind ? kind : "";
}

int kcw_flag(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n)) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n]) return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

void kcw_refs_free(struct kcw_ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++) free(refs[i].name);
    free(refs);
}

int kcw_parse_refs(int argc, char **argv, struct kcw_ref **refs, size_t *n, const char **kind_only, char *err,
                   size_t errlen)
{
    struct kcw_ref *r = NULL;
    size_t count = 0;
    *kind_only = NULL;
    if (argc <= 0) {
        snprintf(err, errlen, "You must provide one or more resources by argument or filename.");
        return -EINVAL;
    }
    int slash_form = strchr(argv[0], '/') != NULL;
    const char *kind = NULL;
    if (!slash_form) {
        kind = manifest_kind_of_resource(argv[0]);
        if (!kind) {
            snprintf(err, errlen, "the server doesn't have a resource type \"%s\"", argv[0]);
            return -EINVAL;
        }
    }
    r = xcalloc((size_t)argc, sizeof *r);
    for (int i = slash_form ? 0 : 1; i < argc; i++) {
        const char *slash = strchr(argv[i], '/');
        if (!slash_form) {
            if (slash) {
                snprintf(err, errlen,
                         "there is no need to specify a resource type as a separate argument when passing "
                         "arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead "
                         "of 'kubectl get resource resource/<resource_name>'");
                goto fail;
            }
            r[count].kind = kind;
            r[count].name = xstrdup(argv[i]);
            count++;
            continue;
        }
        if (!slash || slash == argv[i] || !slash[1]) {
            snprintf(err, errlen, "arguments in resource/name form must have a single resource and name");
            goto fail;
        }
        char type[128];
        size_t tl = (size_t)(slash - argv[i]);
        if (tl >= sizeof type) tl = sizeof type - 1;
        memcpy(type, argv[i], tl);
        type[tl] = '\0';
        const char *k = manifest_kind_of_resource(type);
        if (!k) {
            snprintf(err, errlen, "the server doesn't have a resource type \"%s\"", type);
            goto fail;
        }
        r[count].kind = k;
        r[count].name = xstrdup(slash + 1);
        count++;
    }
    if (count == 0) {
        free(r);
        r = NULL;
        *kind_only = kind;
    }
    *refs = r;
    *n = count;
    return 0;
fail:
    kcw_refs_free(r, count);
    return -EINVAL;
}

/* ---- requests ---- */

int kcw_parse_patch(const char *text, json_t **out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (v) {
        *out = v;
        return 0;
    }
    struct yaml_stream ys = {0};
    char yerr[256];
    if (yaml_parse(text, strlen(text), "patch", &ys, yerr, sizeof yerr) || ys.count != 1 || !ys.docs[0].root ||
        json_is_null(ys.docs[0].root) || json_is_string(ys.docs[0].root)) {
        snprintf(err, errlen, "unable to parse \"%s\": %s", text, ys.count ? "not a JSON or YAML object" : yerr);
        yaml_stream_free(&ys);
        return -EINVAL;
    }
    *out = json_deep_copy(ys.docs[0].root);
    yaml_stream_free(&ys);
    return 0;
}

static json_t *strip_bookkeeping(const json_t *o)
{
    json_t *c = json_deep_copy(o);
    json_t *md = json_object_get(c, "metadata");
    if (json_is_object(md)) {
        json_object_del(md, "resourceVersion");
        json_object_del(md, "generation");
        json_object_del(md, "managedFields");
    }
    json_object_del(c, "status");
    return c;
}

int kcw_object_changed(const json_t *before, const json_t *after)
{
    json_t *a = strip_bookkeeping(before), *b = strip_bookkeeping(after);
    int changed = !json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return changed;
}

static json_t *env_find(json_t *env, const char *name, size_t *idx)
{
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        if (!strcmp(json_path_str(e, "name", ""), name)) {
            if (idx) *idx = i;
            return e;
        }
    }
    return NULL;
}

static int valid_env_name(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return !(s[0] >= '0' && s[0] <= '9');
}

int kcw_setenv_patch(const json_t *deploy, const char *container, char **assigns, size_t n, json_t **patch,
                     char *err, size_t errlen)
{
    for (size_t k = 0; k < n; k++) {
        const char *a = assigns[k];
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (!eq && len && a[len - 1] == '-') len--;
        else if (!eq) len = 0;
        if (!valid_env_name(a, len)) {
            snprintf(err, errlen, "invalid key value pair \"%s\": environment variables must be of the form "
                                  "KEY=VALUE or KEY- to remove", a);
            return -EINVAL;
        }
    }
    json_t *containers = json_path(deploy, "spec.template.spec.containers");
    if (!json_is_array(containers)) containers = json_path(deploy, "spec.containers");
    json_t *pcs = json_array();
    size_t ci;
    json_t *c;
    int found = 0;
    json_array_foreach(containers, ci, c)
    {
        const char *cname = json_path_str(c, "name", "");
        if (container && strcmp(container, cname)) continue;
        found = 1;
        json_t *orig = json_object_get(c, "env");
        json_t *cur = json_is_array(orig) ? json_deep_copy(orig) : json_array();
        for (size_t k = 0; k < n; k++) {
            const char *a = assigns[k];
            const char *eq = strchr(a, '=');
            size_t idx;
            if (eq) {
                char *key = xstrndup(a, (size_t)(eq - a));
                json_t *e = json_pack("{s:s, s:s}", "name", key, "value", eq + 1);
                if (env_find(cur, key, &idx)) json_array_set_new(cur, idx, e);
                else json_array_append_new(cur, e);
                free(key);
            } else {
                char *key = xstrndup(a, strlen(a) - 1);
                if (env_find(cur, key, &idx)) json_array_remove(cur, idx);
                free(key);
            }
        }
        json_t *entries = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(cur, i, e)
        {
            json_t *was = env_find(orig, json_path_str(e, "name", ""), NULL);
            if (was && json_equal(was, e)) continue;
            json_t *pe = json_deep_copy(e);
            if (was && json_object_get(was, "valueFrom") && !json_object_get(e, "valueFrom"))
                json_object_set_new(pe, "valueFrom", json_null());
            json_array_append_new(entries, pe);
        }
        json_array_foreach(orig, i, e)
        {
            const char *name = json_path_str(e, "name", "");
            if (!env_find(cur, name, NULL))
                json_array_append_new(entries, json_pack("{s:s, s:s}", "name", name, "$patch", "delete"));
        }
        if (json_array_size(entries))
            json_array_append_new(pcs, json_pack("{s:s, s:o}", "name", cname, "env", entries));
        else
            json_decref(entries);
        json_decref(cur);
    }
    if (!found) {
        json_decref(pcs);
        if (container) snprintf(err, errlen, "unable to find container named \"%s\"", container);
        else snprintf(err, errlen, "the object has no containers");
        return -EINVAL;
    }
    if (!json_array_size(pcs)) {
        json_decref(pcs);
        *patch = NULL;
        return 0;
    }
    json_t *p = json_object();
    json_path_set(p, "spec.template.spec.containers", pcs);
    *patch = p;
    return 0;
}

int kcw_setenv_list(const json_t *obj, const char *container, struct buf *out, char *err, size_t errlen)
{
    const char *kind = json_path_str(obj, "kind", "Deployment");
    json_t *containers = json_path(obj, "spec.template.spec.containers");
    if (!json_is_array(containers)) containers = json_path(obj, "spec.containers");
    size_t ci;
    json_t *c;
    int found = 0;
    json_array_foreach(containers, ci, c)
    {
        const char *cname = json_path_str(c, "name", "");
        if (container && strcmp(container, cname)) continue;
        found = 1;
        char res[64];
        snprintf(res, sizeof res, "%s", kcw_kind_resource(kind));
        char *dot = strchr(res, '.');
        if (dot) *dot = '\0';
        buf_printf(out, "# %s %s, container %s\n", res, json_path_str(obj, "metadata.name", ""), cname);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(c, "env"), i, e)
        {
            const char *name = json_path_str(e, "name", "");
            json_t *vf = json_object_get(e, "valueFrom");
            if (!vf) {
                buf_printf(out, "%s=%s\n", name, json_path_str(e, "value", ""));
            } else if (json_object_get(vf, "secretKeyRef")) {
                buf_printf(out, "# %s from secret %s, key %s\n", name, json_path_str(vf, "secretKeyRef.name", ""),
                           json_path_str(vf, "secretKeyRef.key", ""));
            } else if (json_object_get(vf, "configMapKeyRef")) {
                buf_printf(out, "# %s from configmap %s, key %s\n", name,
                           json_path_str(vf, "configMapKeyRef.name", ""), json_path_str(vf, "configMapKeyRef.key", ""));
            } else if (json_object_get(vf, "fieldRef")) {
                buf_printf(out, "# %s from field path %s\n", name, json_path_str(vf, "fieldRef.fieldPath", ""));
            } else if (json_object_get(vf, "resourceFieldRef")) {
                buf_printf(out, "# %s from resource %s\n", name, json_path_str(vf, "resourceFieldRef.resource", ""));
            } else {
                buf_printf(out, "# %s from an unknown source\n", name);
            }
        }
    }
    if (!found) {
        if (container) snprintf(err, errlen, "unable to find container named \"%s\"", container);
        else snprintf(err, errlen, "the object has no containers");
        return -EINVAL;
    }
    return 0;
}

int kcw_meta_patch(const json_t *obj, const char *field, char **assigns, size_t n, int overwrite, json_t **patch,
                   char *err, size_t errlen)
{
    json_t *have = json_object_get(json_object_get(obj, "metadata"), field);
    json_t *changes = json_object();
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        const char *a = assigns[k];
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (!eq && len > 1 && a[len - 1] == '-') {
            char *key = xstrndup(a, len - 1);
            if (json_object_get(have, key)) json_object_set_new(changes, key, json_null());
            else json_object_del(changes, key);
            free(key);
            continue;
        }
        if (!eq || len == 0) {
            snprintf(err, errlen, "invalid %s format: %s", !strcmp(field, "labels") ? "label" : "annotation", a);
            rc = -EINVAL;
            goto out;
        }
        char *key = xstrndup(a, len);
        json_t *old = json_object_get(have, key);
        if (old && json_is_string(old) && !strcmp(json_string_value(old), eq + 1)) {
            json_object_del(changes, key);
        } else if (old && !overwrite) {
            snprintf(err, errlen, "'%s' already has a value (%s), and --overwrite is false", key,
                     json_is_string(old) ? json_string_value(old) : "");
            free(key);
            rc = -EINVAL;
            goto out;
        } else {
            json_object_set_new(changes, key, json_string(eq + 1));
        }
        free(key);
    }
    if (json_object_size(changes) == 0) {
        *patch = NULL;
        goto out;
    }
    *patch = json_pack("{s:{s:O}}", "metadata", field, changes);
out:
    json_decref(changes);
    return rc;
}

/* ---- daemon helpers ---- */

/* Get one object; NULL after kc_call printed the error. */
static json_t *get_one(struct kc *kc, const char *kind, const char *name)
{
    json_t *req = json_pack("{s:s, s:s, s:s?, s:s}", "op", "get", "kind", kind, "namespace",
                            manifest_kind_namespaced(kind) ? kc->ns : NULL, "name", name);
    json_t *reply = NULL, *obj = NULL;
    if (!kc_call(kc, req, &reply)) {
        obj = json_array_get(json_object_get(reply, "items"), 0);
        if (obj) json_incref(obj);
        else fprintf(kc->err, "Error from server (NotFound): %s \"%s\" not found\n", kcw_kind_resource(kind), name);
    }
    json_decref(req);
    json_decref(reply);
    return obj;
}

/* Print a changed object the way write verbs do: "TYPE/NAME SUFFIX", or -o. */
static int print_result(struct kc *kc, const char *kind, const char *name, const char *suffix, json_t *obj)
{
    if (!kc->output) {
        fprintf(kc->out, "%s/%s %s\n", kcw_kind_type(kind), name, suffix);
        return 0;
    }
    if (!strcmp(kc->output, "name")) {
        fprintf(kc->out, "%s/%s\n", kcw_kind_type(kind), name);
        return 0;
    }
    if (!obj) return 0;
    json_t *items = json_pack("[O]", obj);
    int rc = kc_print_objects(kc, items, 1);
    json_decref(items);
    return rc;
}

/* Send a patch; *obj gets the object after it, *changed (if non-NULL)
 * whether the daemon changed anything (1 when it does not say). */
static int send_patch(struct kc *kc, const char *kind, const char *name, const char *type, json_t *patch,
                      json_t **obj, int *changed)
{
    json_t *req = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:O}", "op", "patch", "kind", kind, "namespace",
                            manifest_kind_namespaced(kind) ? kc->ns : NULL, "name", name, "type", type, "patch",
                            patch);
    json_t *reply = NULL;
    int rc = kc_call(kc, req, &reply);
    json_decref(req);
    if (!rc) {
        *obj = json_object_get(reply, "object");
        json_incref(*obj);
        json_t *c = json_object_get(reply, "changed");
        if (changed) *changed = c ? json_is_true(c) : 1;
    }
    json_decref(reply);
    return rc;
}

/* ---- delete ---- */

static int delete_one(struct kc *kc, const char *kind, const char *ns, const char *name, long grace,
                      int ignore_not_found)
{
    if (ignore_not_found) {
        /* Ask quietly: a NotFound here is not an error. A transport
         * failure falls through to the delete, which reports it. */
        json_t *req = json_pack("{s:s, s:s, s:s?, s:s}", "op", "get", "kind", kind, "namespace", ns, "name", name);
        json_t *reply = NULL;
        char err[256];
        int rc = cluster_call(&kc->lab, req, &reply, err, sizeof err);
        int missing = !rc && (!strcmp(json_path_str(reply, "error.reason", ""), "NotFound") ||
                              (!json_object_get(reply, "error") && !json_array_size(json_object_get(reply, "items"))));
        json_decref(req);
        json_decref(reply);
        if (missing) return 0;
    }
    json_t *req = json_pack("{s:s, s:s, s:s?, s:s}", "op", "delete", "kind", kind, "namespace", ns, "name", name);
    if (grace >= 0) json_object_set_new(req, "gracePeriodSeconds", json_integer(grace));
    json_t *reply = NULL;
    int rc = kc_call(kc, req, &reply);
    json_decref(req);
    json_decref(reply);
    if (rc) return 1;
    if (kc->output && !strcmp(kc->output, "name"))
        fprintf(kc->out, "%s/%s\n", kcw_kind_type(kind), name);
    else
        fprintf(kc->out, "%s \"%s\" deleted\n", kcw_kind_type(kind), name);
    return 0;
}

int kc_delete(struct kc *kc, int argc, char **argv)
{
    json_t *paths = json_array();
    char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, all = 0, recursive = 0, ignore_nf = 0, status = 0;
    long grace = -1;
    struct kcw_ref *refs = NULL;
    size_t nrefs = 0;
    char err[1024];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int t = kcw_file_flag(argc, argv, &i, paths);
        if (t < 0) {
            status = kc_usage_error(kc, "delete", "flag needs an argument: 'f' in -f");
            goto out;
        }
        if (t) continue;
        if ((t = kcw_flag(argc, argv, &i, "--grace-period", &v))) {
            if (t < 0 || parse_long(v, -1, 1L << 30, &grace)) {
                status = kc_usage_error(kc, "delete", "invalid argument for --grace-period");
                goto out;
            }
        } else if (!strcmp(a, "--now")) {
            grace = 1;
        } else if (!strcmp(a, "--all") || !strcmp(a, "--all=true")) {
            all = 1;
        } else if (!strcmp(a, "-R") || !strcmp(a, "--recursive")) {
            recursive = 1;
        } else if (!strcmp(a, "--ignore-not-found") || !strcmp(a, "--ignore-not-found=true")) {
            ignore_nf = 1;
        } else if (!strcmp(a, "--force") || !strcmp(a, "--force=true") || !strcmp(a, "--wait") ||
                   str_has_prefix(a, "--wait=") || str_has_prefix(a, "--cascade") || !strcmp(a, "--all=false") ||
                   !strcmp(a, "--ignore-not-found=false") || str_has_prefix(a, "--timeout=")) {
            /* accepted: deletion here is immediate and always cascades */
        } else if (a[0] == '-' && a[1]) {
            status = kc_usage_error(kc, "delete", "unknown flag: %s", a);
            goto out;
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (json_array_size(paths)) {
        if (npos) {
            status = kc_error(kc, "Unexpected args: [%s]", pos[0]);
            goto out;
        }
        json_t *files = NULL;
        int errors = 0;
        kcw_load_files(kc, paths, recursive, &files, &errors);
        size_t i, j;
        json_t *f, *obj;
        json_array_foreach(files, i, f)
        {
            json_array_foreach(json_object_get(f, "objects"), j, obj)
            {
                const char *kind = json_path_str(obj, "kind", "");
                errors += delete_one(kc, kind, manifest_kind_namespaced(kind) ? json_path_str(obj, "metadata.namespace", kc->ns) : NULL,
                                     json_path_str(obj, "metadata.name", ""), grace, ignore_nf);
            }
        }
        json_decref(files);
        status = errors ? 1 : 0;
        goto out;
    }
    if (npos == 0) {
        status = kc_usage_error(kc, "delete",
                                "You must provide one or more resources by argument or filename.\n"
                                "Example resource specifications include:\n"
                                "   '-f rsrc.yaml'\n"
                                "   '--filename=rsrc.json'\n"
                                "   '<resource> <name>'\n"
                                "   '<resource>'");
        goto out;
    }
    const char *kind_only = NULL;
    if (kcw_parse_refs(npos, pos, &refs, &nrefs, &kind_only, err, sizeof err)) {
        status = kc_error(kc, "%s", err);
        goto out;
    }
    if (kind_only) {
        if (!all && !kc->selector) {
            status = kc_error(kc, "resource(s) were provided, but no name was specified");
            goto out;
        }
        json_t *req = json_pack("{s:s, s:s, s:s?, s:s?}", "op", "get", "kind", kind_only, "namespace",
                                manifest_kind_namespaced(kind_only) && !kc->all_namespaces ? kc->ns : NULL,
                                "selector", kc->selector);
        json_t *reply = NULL;
        if (kc_call(kc, req, &reply)) {
            json_decref(req);
            status = 1;
            goto out;
        }
        json_decref(req);
        json_t *items = json_object_get(reply, "items");
        if (!json_array_size(items)) fprintf(kc->out, "No resources found\n");
        size_t i;
        json_t *o;
        int errors = 0;
        json_array_foreach(items, i, o)
        {
            errors += delete_one(kc, kind_only, json_path_str(o, "metadata.namespace", NULL),
                                 json_path_str(o, "metadata.name", ""), grace, 0);
        }
        json_decref(reply);
        status = errors ? 1 : 0;
        goto out;
    }
    if (all || kc->selector) {
        status = kc_error(kc, "name cannot be provided when a selector is specified");
        goto out;
    }
    int errors = 0;
    for (size_t i = 0; i < nrefs; i++)
        errors += delete_one(kc, refs[i].kind, manifest_kind_namespaced(refs[i].kind) ? kc->ns : NULL,
                             refs[i].name, grace, ignore_nf);
    status = errors ? 1 : 0;
out:
    kcw_refs_free(refs, nrefs);
    free(pos);
    json_decref(paths);
    return status;
}

/* ---- patch ---- */

static int patchable(const char *kind)
{
    /* Pods too: the daemon allows their labels and annotations to change
     * and refuses the rest with Kubernetes' own Forbidden text. */
    return !strcmp(kind, "Deployment") || !strcmp(kind, "Service") || !strcmp(kind, "ConfigMap") ||
           !strcmp(kind, "Secret") || !strcmp(kind, "Pod");
}

int kc_patch(struct kc *kc, int argc, char **argv)
{
    const char *type = "strategic", *text = NULL, *file = NULL;
    char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, status = 0;
    struct kcw_ref *refs = NULL;
    size_t nrefs = 0;
    json_t *patch = NULL;
    char err[1024];
    struct buf fb;
    buf_init(&fb, 1u << 20);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int t;
        if ((t = kcw_flag(argc, argv, &i, "-p", &v)) || (t = kcw_flag(argc, argv, &i, "--patch", &v))) {
            if (t < 0) goto missing;
            text = v;
        } else if ((t = kcw_flag(argc, argv, &i, "--type", &v))) {
            if (t < 0) goto missing;
            type = v;
        } else if ((t = kcw_flag(argc, argv, &i, "--patch-file", &v))) {
            if (t < 0) goto missing;
            file = v;
        } else if (str_has_prefix(a, "--dry-run") || str_has_prefix(a, "--record") ||
                   str_has_prefix(a, "--field-manager")) {
        } else if (a[0] == '-' && a[1]) {
            status = kc_usage_error(kc, "patch", "unknown flag: %s", a);
            goto out;
        } else {
            pos[npos++] = argv[i];
        }
        continue;
    missing:
        status = kc_usage_error(kc, "patch", "flag needs an argument: %s", a);
        goto out;
    }
    if (strcmp(type, "json") && strcmp(type, "merge") && strcmp(type, "strategic")) {
        status = kc_error(kc, "--type must be one of [json merge strategic], not \"%s\"", type);
        goto out;
    }
    if (text && file) {
        status = kc_error(kc, "--patch and --patch-file are mutually exclusive");
        goto out;
    }
    if (file) {
        int rc = read_file(file, &fb);
        if (rc) {
            status = kc_error(kc, "unable to read patch file: open %s: %s", file, strerror(-rc));
            goto out;
        }
        text = fb.data ? fb.data : "";
    }
    if (!text) {
        status = kc_error(kc, "must specify --patch or --patch-file containing the contents of the patch");
        goto out;
    }
    const char *kind_only = NULL;
    if (kcw_parse_refs(npos, pos, &refs, &nrefs, &kind_only, err, sizeof err)) {
        status = kc_error(kc, "%s", err);
        goto out;
    }
    if (kind_only || nrefs == 0) {
        status = kc_error(kc, "resource(s) were provided, but no name was specified");
        goto out;
    }
    if (kcw_parse_patch(text, &patch, err, sizeof err)) {
        status = kc_error(kc, "%s", err);
        goto out;
    }
    if (!strcmp(type, "json") ? !json_is_array(patch) : !json_is_object(patch)) {
        status = kc_error(kc, "unable to parse \"%s\": a %s patch must be a JSON %s", text, type,
                          !strcmp(type, "json") ? "array" : "object");
        goto out;
    }
    int errors = 0;
    for (size_t i = 0; i < nrefs; i++) {
        const char *kind = refs[i].kind;
        if (!patchable(kind)) {
            fprintf(kc->err, "error: patching %s is not supported by aiopslab (deployments, services, configmaps, "
                             "secrets and pods are)\n", kcw_kind_resource(kind));
            errors++;
            continue;
        }
        json_t *after = NULL;
        int changed = 1;
        if (send_patch(kc, kind, refs[i].name, type, patch, &after, &changed)) {
            errors++;
        } else if (print_result(kc, kind, refs[i].name, changed ? "patched" : "patched (no change)", after)) {
            errors++;
        }
        json_decref(after);
    }
    status = errors ? 1 : 0;
out:
    json_decref(patch);
    buf_free(&fb);
    kcw_refs_free(refs, nrefs);
    free(pos);
    return status;
}

/* ---- scale ---- */

int kc_scale(struct kc *kc, int argc, char **argv)
{
    const char *replicas = NULL, *current = NULL;
    char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, status = 0;
    struct kcw_ref *refs = NULL;
    size_t nrefs = 0;
    char err[1024];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int t;
        if ((t = kcw_flag(argc, argv, &i, "--replicas", &v))) {
            if (t < 0) goto missing;
            replicas = v;
        } else if ((t = kcw_flag(argc, argv, &i, "--current-replicas", &v))) {
            if (t < 0) goto missing;
            current = v;
        } else if (str_has_prefix(a, "--timeout") || str_has_prefix(a, "--record") ||
                   str_has_prefix(a, "--resource-version")) {
        } else if (a[0] == '-' && a[1]) {
            status = kc_usage_error(kc, "scale", "unknown flag: %s", a);
            goto out;
        } else {
            pos[npos++] = argv[i];
        }
        continue;
    missing:
        status = kc_usage_error(kc, "scale", "flag needs an argument: %s", a);
        goto out;
    }
    long want = 0, cur = -1;
    if (!replicas) {
        status = kc_usage_error(kc, "scale", "required flag(s) \"replicas\" not set");
        goto out;
    }
    if (parse_long(replicas, 0, 1000000, &want)) {
        status = kc_error(kc, "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0");
        goto out;
    }
    if (current && parse_long(current, -1, 1000000, &cur)) {
        status = kc_usage_error(kc, "scale", "invalid argument \"%s\" for \"--current-replicas\" flag", current);
        goto out;
    }
    const char *kind_only = NULL;
    if (kcw_parse_refs(npos, pos, &refs, &nrefs, &kind_only, err, sizeof err)) {
        status = kc_error(kc, "%s", err);
        goto out;
    }
    if (kind_only || nrefs == 0) {
        status = kc_error(kc, "resource(s) were provided, but no name was specified");
        goto out;
    }
    int errors = 0;
    for (size_t i = 0; i < nrefs; i++) {
        if (strcmp(refs[i].kind, "Deployment")) {
            fprintf(kc->err, "error: scaling %s is not supported by aiopslab (deployments are)\n",
                    kcw_kind_resource(refs[i].kind));
            errors++;
            continue;
        }
        if (cur >= 0) {
            json_t *d = get_one(kc, refs[i].kind, refs[i].name);
            if (!d) {
                errors++;
                continue;
            }
            long have = (long)json_path_int(d, "spec.replicas", 1);
            json_decref(d);
            if (have != cur) {
                fprintf(kc->err, "error: Expected replicas to be %ld, was %ld\n", cur, have);
                errors++;
                continue;
            }
        }
        json_t *req = json_pack("{s:s, s:s, s:s, s:I}", "op", "scale", "namespace", kc->ns, "name", refs[i].name,
                                "replicas", (json_int_t)want);
        json_t *reply = NULL;
        if (kc_call(kc, req, &reply)) {
            errors++;
        } else if (print_result(kc, refs[i].kind, refs[i].name, "scaled", json_object_get(reply, "object"))) {
            errors++;
        }
        json_decref(req);
        json_decref(reply);
    }
    status = errors ? 1 : 0;
out:
    kcw_refs_free(refs, nrefs);
    free(pos);
    return status;
}

/* ---- set env ---- */

int kc_set(struct kc *kc, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "env")) {
        if (argc >= 2 && argv[1][0] != '-')
            return kc_error(kc, "aiopslab supports \"set env\" only (got \"set %s\")", argv[1]);
        return kc_usage_error(kc, "set", "you must specify a subcommand: env");
    }
    const char *container = NULL;
    char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
    char **assigns = xcalloc((size_t)argc + 1, sizeof *assigns);
    int npos = 0, nassign = 0, list = 0, overwrite = 1, status = 0;
    struct kcw_ref *refs = NULL;
    size_t nrefs = 0;
    char err[1024];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int t;
        if ((t = kcw_flag(argc, argv, &i, "-c", &v)) || (t = kcw_flag(argc, argv, &i, "--containers", &v)) ||
            (t = kcw_flag(argc, argv, &i, "--container", &v))) {
            if (t < 0) goto missing;
            container = !strcmp(v, "*") ? NULL : v;
        } else if ((t = kcw_flag(argc, argv, &i, "-e", &v)) || (t = kcw_flag(argc, argv, &i, "--env", &v))) {
            if (t < 0) goto missing;
            assigns[nassign++] = (char *)v;
        } else if (!strcmp(a, "--list") || !strcmp(a, "--list=true")) {
            list = 1;
        } else if (!strcmp(a, "--overwrite=false")) {
            overwrite = 0;
        } else if (!strcmp(a, "--overwrite") || !strcmp(a, "--overwrite=true") || str_has_prefix(a, "--dry-run")) {
        } else if (a[0] == '-' && a[1]) {
            status = kc_usage_error(kc, "set env", "unknown flag: %s", a);
            goto out;
        } else if (strchr(a, '=') || (npos > 0 && a[strlen(a) - 1] == '-')) {
            assigns[nassign++] = argv[i];
        } else {
            pos[npos++] = argv[i];
        }
        continue;
    missing:
        status = kc_usage_error(kc, "set env", "flag needs an argument: %s", a);
        goto out;
    }
    const char *kind_only = NULL;
    if (kcw_parse_refs(npos, pos, &refs, &nrefs, &kind_only, err, sizeof err)) {
        status = kc_error(kc, "%s", err);
        goto out;
    }
    if (kind_only || nrefs == 0) {
        status = kc_error(kc, "resource(s) were provided, but no name was specified");
        goto out;
    }
    if (!list && nassign == 0) {
        status = kc_error(kc, "at least one environment variable must be provided");
        goto out;
    }
    int errors = 0;
    for (size_t i = 0; i < nrefs; i++) {
        const char *kind = refs[i].kind;
        if (!list && strcmp(kind, "Deployment")) {
            fprintf(kc->err, "error: setting env on %s is not supported by aiopslab (deployments are)\n",
                    kcw_kind_resource(kind));
            errors++;
            continue;
        }
        json_t *obj = get_one(kc, kind, refs[i].name);
        if (!obj) {
            errors++;
            continue;
        }
        if (list) {
            struct buf b;
            buf_init(&b, 1u << 20);
            if (kcw_setenv_list(obj, container, &b, err, sizeof err)) {
                fprintf(kc->err, "error: %s\n", err);
                errors++;
            } else {
                fputs(b.data ? b.data : "", kc->out);
            }
            buf_free(&b);
            json_decref(obj);
            continue;
        }
        json_t *patch = NULL;
        if (!overwrite) {
            /* --overwrite=false: keys already set are errors. */
            for (int k = 0; k < nassign; k++) {
                const char *eq = strchr(assigns[k], '=');
                if (!eq) continue;
                json_t *cs = json_path(obj, "spec.template.spec.containers");
                size_t ci;
                json_t *c;
                json_array_foreach(cs, ci, c)
                {
                    if (container && strcmp(container, json_path_str(c, "name", ""))) continue;
                    size_t ei;
                    json_t *e;
                    json_array_foreach(json_object_get(c, "env"), ei, e)
                    {
                        const char *n = json_path_str(e, "name", "");
                        if (strlen(n) == (size_t)(eq - assigns[k]) && !strncmp(n, assigns[k], strlen(n))) {
                            fprintf(kc->err, "error: '%s' already has a value (%s), and --overwrite is false\n", n,
                                    json_path_str(e, "value", ""));
                            json_decref(obj);
                            status = 1;
                            goto out;
                        }
                    }
                }
            }
        }
        if (kcw_setenv_patch(obj, container, assigns, (size_t)nassign, &patch, err, sizeof err)) {
            fprintf(kc->err, "error: %s\n", err);
            errors++;
        } else if (patch) {
            json_t *after = NULL;
            if (send_patch(kc, kind, refs[i].name, "strategic", patch, &after, NULL)) errors++;
            else if (print_result(kc, kind, refs[i].name, "env updated", after)) errors++;
            json_decref(after);
        }
        json_decref(patch);
        json_decref(obj);
    }
    status = errors ? 1 : 0;
out:
    kcw_refs_free(refs, nrefs);
    free(pos);
    free(assigns);
    return status;
}

/* ---- label / annotate ---- */

int kc_label(struct kc *kc, int argc, char **argv)
{
    int annotate = !strcmp(argv[0], "annotate");
    const char *verb = annotate ? "annotate" : "label";
    const char *field = annotate ? "annotations" : "labels";
    char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
    char **assigns = xcalloc((size_t)argc + 1, sizeof *assigns);
    int npos = 0, nassign = 0, overwrite = 0, status = 0;
    struct kcw_ref *refs = NULL;
    size_t nrefs = 0;
    char err[1024];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--overwrite") || !strcmp(a, "--overwrite=true")) {
            overwrite = 1;
        } else if (!strcmp(a, "--overwrite=false") || str_has_prefix(a, "--dry-run") ||
                   str_has_prefix(a, "--record")) {
        } else if (a[0] == '-' && a[1]) {
            status = kc_usage_error(kc, verb, "unknown flag: %s", a);
            goto out;
        } else if (strchr(a, '=') || (npos > 0 && a[strlen(a) - 1] == '-')) {
            assigns[nassign++] = argv[i];
        } else {
            pos[npos++] = argv[i];
        }
    }
    const char *kind_only = NULL;
    if (kcw_parse_refs(npos, pos, &refs, &nrefs, &kind_only, err, sizeof err)) {
        status = kc_error(kc, "%s", err);
        goto out;
    }
    if (kind_only || nrefs == 0) {
        status = kc_error(kc, "resource(s) were provided, but no name was specified");
        goto out;
    }
    if (nassign == 0) {
        status = kc_error(kc, "at least one %s update is required", annotate ? "annotation" : "label");
        goto out;
    }
    int errors = 0;
    for (size_t i = 0; i < nrefs; i++) {
        json_t *obj = get_one(kc, refs[i].kind, refs[i].name);
        if (!obj) {
            errors++;
            continue;
        }
        json_t *patch = NULL;
        if (kcw_meta_patch(obj, field, assigns, (size_t)nassign, overwrite, &patch, err, sizeof err)) {
            fprintf(kc->err, "error: %s\n", err);
            errors++;
        } else if (!patch) {
            print_result(kc, refs[i].kind, refs[i].name, annotate ? "not annotated" : "not labeled", obj);
        } else {
            json_t *after = NULL;
            if (send_patch(kc, refs[i].kind, refs[i].name, "merge", patch, &after, NULL)) errors++;
            else if (print_result(kc, refs[i].kind, refs[i].name, annotate ? "annotated" : "labeled", after))
                errors++;
            json_decref(after);
        }
        json_decref(patch);
        json_decref(obj);
    }
    status = errors ? 1 : 0;
out:
    kcw_refs_free(refs, nrefs);
    free(pos);
    free(assigns);
    return status;
}
