/* apply: `kubectl apply -f` and `kubectl create -f`.
 *
 * Files (one, several -f, a directory with -R, or "-" for stdin) are read,
 * parsed as YAML streams, checked (kind known, manifest valid, namespace
 * consistent with -n) and only then sent, one object per request so that
 * each object gets its own result or error as with kubectl. A file with a
 * bad object sends nothing. kcw_manifest_objects and kcw_manifest_files
 * are also used by `delete -f`. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/client.h"
#include "cluster/manifest.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"
#include "core/yaml.h"
#include "kubectl/kc.h"
#include "kubectl/kcw.h"

#define MANIFEST_FILE_MAX (8u << 20)
#define MANIFEST_DEPTH_MAX 16

/* Check one object and fill its namespace; appends to objs. */
static int check_object(const char *file, const struct yaml_stream *ys, const json_t *docroot, json_t *obj,
                        const char *ns, int ns_given, json_t *objs, char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        int line = yaml_line_of(ys, obj);
        if (!line) line = yaml_line_of(ys, docroot);
        snprintf(err, errlen, "error validating \"%s\": %s:%d: object: expected a mapping", file, file, line);
        return -EINVAL;
    }
    const char *kind = json_path_str(obj, "kind", NULL);
    const char *name = json_path_str(obj, "metadata.name", "");
    if (kind && !manifest_kind_known(kind)) {
        snprintf(err, errlen,
                 "resource mapping not found for name: \"%s\" namespace: \"%s\" from \"%s\": no matches for kind "
                 "\"%s\" in version \"%s\"\nensure CRDs are installed first",
                 name, json_path_str(obj, "metadata.namespace", ""), file, kind,
                 json_path_str(obj, "apiVersion", ""));
        return -EINVAL;
    }
    char verr[512];
    const json_t *bad = NULL;
    if (manifest_validate(obj, verr, sizeof verr, &bad)) {
        int line = bad ? yaml_line_of(ys, bad) : 0;
        if (!line) line = yaml_line_of(ys, obj);
        snprintf(err, errlen, "error validating \"%s\": %s:%d: %s", file, file, line, verr);
        return -EINVAL;
    }
    if (manifest_kind_namespaced(kind)) {
        const char *own = json_path_str(obj, "metadata.namespace", NULL);
        if (own && *own) {
            if (ns_given && strcmp(own, ns)) {
                snprintf(err, errlen,
                         "the namespace from the provided object \"%s\" does not match the namespace \"%s\". You "
                         "must pass the same namespace or not pass a namespace",
                         own, ns);
                return -EINVAL;
            }
        } else {
            json_object_set_new(json_path_obj(obj, "metadata"), "namespace", json_string(ns));
        }
    }
    json_array_append(objs, obj);
    return 0;
}

int kcw_manifest_objects(const char *file, const char *text, size_t len, const char *ns, int ns_given,
                         json_t *out, char *err, size_t errlen)
{
    struct yaml_stream ys = {0};
    char yerr[512];
    if (yaml_parse(text, len, file, &ys, yerr, sizeof yerr)) {
        snprintf(err, errlen, "error parsing %s: %s", file, yerr);
        return -EINVAL;
    }
    int rc = 0;
    json_t *objs = json_array();
    for (size_t i = 0; i < ys.count && !rc; i++) {
        json_t *root = ys.docs[i].root;
        if (!root || json_is_null(root)) continue;
        const char *kind = json_path_str(root, "kind", NULL);
        if (kind && (!strcmp(kind, "List") || !strcmp(kind, "DeploymentList") || !strcmp(kind, "PodList") ||
                     !strcmp(kind, "ServiceList") || !strcmp(kind, "ConfigMapList"))) {
            json_t *items = json_object_get(root, "items");
            size_t j;
            json_t *it;
            json_array_foreach(items, j, it)
            {
                if ((rc = check_object(file, &ys, root, it, ns, ns_given, objs, err, errlen))) break;
            }
            continue;
        }
        rc = check_object(file, &ys, root, root, ns, ns_given, objs, err, errlen);
    }
    if (!rc) {
        size_t j;
        json_t *it;
        json_array_foreach(objs, j, it)
        {
            /* Deep copies: the stream's nodes are freed with it. */
            json_array_append_new(out, json_deep_copy(it));
        }
    }
    json_decref(objs);
    yaml_stream_free(&ys);
    return rc;
}

static int has_manifest_ext(const char *name)
{
    size_t n = strlen(name);
    static const char *exts[] = {".yaml", ".yml", ".json"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && !strcmp(name + n - e, exts[i])) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *path, int recursive, int depth, json_t *out, char *err, size_t errlen)
{
    if (depth > MANIFEST_DEPTH_MAX) {
        snprintf(err, errlen, "%s: directories nested too deeply", path);
        return -ELOOP;
    }
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "the path \"%s\" cannot be read: %s", path, strerror(errno));
        return -errno;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[count++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        char *full = xasprintf("%s/%s", path, names[i]);
        struct stat st;
        if (!rc && stat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                if (recursive) rc = list_dir(full, recursive, depth + 1, out, err, errlen);
            } else if (has_manifest_ext(names[i])) {
                json_array_append_new(out, json_string(full));
            }
        }
        free(full);
        free(names[i]);
    }
    free(names);
    return rc;
}

int kcw_manifest_files(const char *path, int recursive, json_t *out, char *err, size_t errlen)
{
    if (!strcmp(path, "-")) {
        json_array_append_new(out, json_string("-"));
        return 0;
    }
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "the path \"%s\" does not exist", path);
        return -ENOENT;
    }
    if (S_ISDIR(st.st_mode)) return list_dir(path, recursive, 0, out, err, errlen);
    json_array_append_new(out, json_string(path));
    return 0;
}

static int read_input(const char *path, struct buf *b, char *err, size_t errlen)
{
    if (strcmp(path, "-")) {
        int rc = read_file(path, b);
        if (rc) snprintf(err, errlen, "the path \"%s\" cannot be read: %s", path, strerror(-rc));
        return rc;
    }
    char chunk[65536];
    for (;;) {
        ssize_t r = read(0, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errlen, "reading standard input: %s", strerror(errno));
            return -errno;
        }
        if (r == 0) return 0;
        if (buf_append(b, chunk, (size_t)r)) {
            snprintf(err, errlen, "standard input is larger than %u bytes", MANIFEST_FILE_MAX);
            return -E2BIG;
        }
    }
}

/* Shared by apply and delete: objects per -f file. Each element of *out is
 * {"file": F, "objects": [...]} for files that loaded; errors are printed
 * and counted in *errors. */
int kcw_load_files(struct kc *kc, json_t *paths, int recursive, json_t **out, int *errors)
{
    char err[1024];
    json_t *files = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p)
    {
        if (kcw_manifest_files(json_string_value(p), recursive, files, err, sizeof err)) {
            fprintf(kc->err, "error: %s\n", err);
            (*errors)++;
        }
    }
    json_t *res = json_array();
    json_array_foreach(files, i, p)
    {
        const char *file = json_string_value(p);
        struct buf b;
        buf_init(&b, MANIFEST_FILE_MAX);
        json_t *objs = json_array();
        if (read_input(file, &b, err, sizeof err) ||
            kcw_manifest_objects(strcmp(file, "-") ? file : "STDIN", b.data ? b.data : "", b.len, kc->ns,
                                 kc->ns_given, objs, err, sizeof err)) {
            fprintf(kc->err, "error: %s\n", err);
            (*errors)++;
            json_decref(objs);
        } else {
            json_array_append_new(res, json_pack("{s:s, s:o}", "file", file, "objects", objs));
        }
        buf_free(&b);
    }
    json_decref(files);
    *out = res;
    return 0;
}

/* Parse -f/--filename/-R flags common to apply, create and delete.
 * Returns the index of the first unparsed argument, or -1 after an error. */
static int take_file_flag(int argc, char **argv, int *i, json_t *paths)
{
    const char *a = argv[*i];
    if (!strcmp(a, "-f") || !strcmp(a, "--filename")) {
        if (*i + 1 >= argc) return -1;
        json_array_append_new(paths, json_string(argv[++*i]));
        return 1;
    }
    if (str_has_prefix(a, "--filename=")) {
        json_array_append_new(paths, json_string(a + 11));
        return 1;
    }
    if (str_has_prefix(a, "-f=")) {
        json_array_append_new(paths, json_string(a + 3));
        return 1;
    }
    if (str_has_prefix(a, "-f") && a[2]) {
        json_array_append_new(paths, json_string(a + 2));
        return 1;
    }
    return 0;
}

int kcw_file_flag(int argc, char **argv, int *i, json_t *paths)
{
    return take_file_flag(argc, argv, i, paths);
}

/* `create namespace NAME` and `create configmap NAME --from-literal=K=V...`:
 * the imperative forms agents reach for most. */
static int create_imperative(struct kc *kc, int argc, char **argv)
{
    const char *what = argv[1];
    int is_ns = !strcmp(what, "namespace") || !strcmp(what, "ns");
    const char *name = NULL;
    json_t *data = json_object();
    int status = 1;
    json_t *obj = NULL, *req = NULL, *reply = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int t = kcw_flag(argc, argv, &i, "--from-literal", &v);
        if (t < 0) {
            kc_usage_error(kc, "create", "flag needs an argument: --from-literal");
            goto out;
        }
        if (t && !is_ns) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                kc_error(kc, "invalid literal source %s, expected key=value", v);
                goto out;
            }
            char *key = xstrndup(v, (size_t)(eq - v));
            json_object_set_new(data, key, json_string(eq + 1));
            free(key);
        } else if (t || (a[0] == '-' && a[1])) {
            kc_usage_error(kc, "create", "unknown flag: %s", a);
            goto out;
        } else if (!name) {
            name = a;
        } else {
            kc_usage_error(kc, "create", "exactly one NAME is required, got %d", argc - 2);
            goto out;
        }
    }
    if (!name) {
        kc_usage_error(kc, "create", "exactly one NAME is required, got 0");
        goto out;
    }
    if (is_ns)
        obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", name);
    else
        obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                        name, "namespace", kc->ns, "data", data);
    req = json_pack("{s:s, s:[O], s:b}", "op", "apply", "objects", obj, "create", 1);
    if (kc_call(kc, req, &reply)) goto out;
    if (kc->output && !strcmp(kc->output, "name")) fprintf(kc->out, "%s/%s\n", is_ns ? "namespace" : "configmap", name);
    else fprintf(kc->out, "%s/%s created\n", is_ns ? "namespace" : "configmap", name);
    status = 0;
out:
    json_decref(data);
    json_decref(obj);
    json_decref(req);
    json_decref(reply);
    return status;
}

int kc_apply(struct kc *kc, int argc, char **argv)
{
    const char *verb = argv[0];
    int create = !strcmp(verb, "create");
    if (create && argc >= 2 && (!strcmp(argv[1], "namespace") || !strcmp(argv[1], "ns") ||
                                !strcmp(argv[1], "configmap") || !strcmp(argv[1], "cm")))
        return create_imperative(kc, argc, argv);
    int recursive = 0, errors = 0;
    json_t *paths = json_array();
    int status = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int t = take_file_flag(argc, argv, &i, paths);
        if (t < 0) {
            status = kc_usage_error(kc, verb, "flag needs an argument: 'f' in -f");
            goto out;
        }
        if (t) continue;
        if (!strcmp(a, "-R") || !strcmp(a, "--recursive") || !strcmp(a, "--recursive=true")) {
            recursive = 1;
        } else if (!strcmp(a, "--recursive=false")) {
            recursive = 0;
        } else if (!strcmp(a, "--validate") || str_has_prefix(a, "--validate=") || !strcmp(a, "--record") ||
                   str_has_prefix(a, "--record=") || str_has_prefix(a, "--save-config") ||
                   str_has_prefix(a, "--server-side") || str_has_prefix(a, "--force-conflicts") ||
                   str_has_prefix(a, "--field-manager=")) {
            /* accepted, no effect here */
        } else if (!strcmp(a, "--wait") || !strcmp(a, "--wait=false") || !strcmp(a, "--wait=true")) {
        } else if (a[0] == '-') {
            status = kc_usage_error(kc, verb, "unknown flag: %s", a);
            goto out;
        } else {
            if (create) {
                status = kc_error(kc, "aiopslab supports \"create -f FILE\", \"create namespace NAME\" and "
                                      "\"create configmap NAME --from-literal=K=V\" (got \"%s\")", a);
            } else {
                status = kc_usage_error(kc, verb, "Unexpected args: [%s]", a);
            }
            goto out;
        }
    }
    if (json_array_size(paths) == 0) {
        status = create ? kc_usage_error(kc, verb, "must specify one of -f and -k")
                        : kc_usage_error(kc, verb, "must specify one of -f and -k");
        goto out;
    }
    json_t *files = NULL;
    kcw_load_files(kc, paths, recursive, &files, &errors);
    json_t *shown = json_array();
    size_t i, j;
    json_t *f, *obj;
    json_array_foreach(files, i, f)
    {
        json_array_foreach(json_object_get(f, "objects"), j, obj)
        {
            json_t *req = json_pack("{s:s, s:[O], s:b}", "op", "apply", "objects", obj, "create", create);
            json_t *reply = NULL;
            if (kc_call(kc, req, &reply)) {
                errors++;
                json_decref(req);
                continue;
            }
            json_decref(req);
            json_t *r0 = json_array_get(json_object_get(reply, "results"), 0);
            const char *kind = json_path_str(r0, "kind", json_path_str(obj, "kind", ""));
            const char *name = json_path_str(r0, "name", json_path_str(obj, "metadata.name", ""));
            const char *action = json_path_str(r0, "action", create ? "created" : "configured");
            if (!kc->output) {
                fprintf(kc->out, "%s/%s %s\n", kcw_kind_type(kind), name, action);
            } else if (!strcmp(kc->output, "name")) {
                fprintf(kc->out, "%s/%s\n", kcw_kind_type(kind), name);
            } else {
                json_t *o = json_object_get(r0, "object");
                if (o) json_array_append(shown, o);
            }
            json_decref(reply);
        }
    }
    if (kc->output && strcmp(kc->output, "name") && json_array_size(shown)) {
        if (kc_print_objects(kc, shown, json_array_size(shown) == 1)) errors++;
    }
    json_decref(shown);
    json_decref(files);
    status = errors ? 1 : 0;
out:
    json_decref(paths);
    return status;
}
