/* Unit tests of kubectl's write verbs (apply.c, edit.c, rollout.c,
 * exec.c): the pure request builders and parsers through kcw.h, and the
 * verbs themselves against a small fake daemon (a forked process serving
 * the daemon protocol on LABDIR/daemon.sock from an in-memory store, using
 * the real patch code), so that what is sent and what is printed are both
 * checked without the real cluster. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cluster/manifest.h"
#include "cluster/patch.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"
#include "kubectl/kc.h"
#include "kubectl/kcw.h"
#include "t.h"

/* ---------------------------------------------------------------- helpers */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kwt.XXXXXX");
    T_CHECK(mkdtemp(tmpdir) != NULL);
}

static void write_text(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir_p(path, 0755);
    *slash = '/';
    FILE *f = fopen(path, "w");
    T_CHECK(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    static char data[65536];
    rewind(f);
    size_t r = fread(data, 1, n > 0 && n < (long)sizeof data ? (size_t)n : 0, f);
    data[r] = '\0';
    return data;
}

/* ------------------------------------------------------------ pure parts */

static void test_kind_names(void)
{
    T_EQ_STR(kcw_kind_type("Deployment"), "deployment.apps");
    T_EQ_STR(kcw_kind_type("Service"), "service");
    T_EQ_STR(kcw_kind_type("ConfigMap"), "configmap");
    T_EQ_STR(kcw_kind_resource("Deployment"), "deployments.apps");
    T_EQ_STR(kcw_kind_resource("Pod"), "pods");
}

static void test_parse_refs(void)
{
    char err[512];
    struct kcw_ref *r = NULL;
    size_t n = 0;
    const char *kind_only = NULL;
    char *a1[] = {"deploy", "a", "b"};
    T_EQ_INT(kcw_parse_refs(3, a1, &r, &n, &kind_only, err, sizeof err), 0);
    T_EQ_INT(n, 2);
    T_EQ_STR(r[0].kind, "Deployment");
    T_EQ_STR(r[1].name, "b");
    kcw_refs_free(r, n);

    char *a2[] = {"svc/x", "po/y"};
    T_EQ_INT(kcw_parse_refs(2, a2, &r, &n, &kind_only, err, sizeof err), 0);
    T_EQ_INT(n, 2);
    T_EQ_STR(r[0].kind, "Service");
    T_EQ_STR(r[0].name, "x");
    T_EQ_STR(r[1].kind, "Pod");
    kcw_refs_free(r, n);

    char *a3[] = {"pods"};
    T_EQ_INT(kcw_parse_refs(1, a3, &r, &n, &kind_only, err, sizeof err), 0);
    T_EQ_INT(n, 0);
    T_EQ_STR(kind_only, "Pod");

    char *a4[] = {"widgets", "x"};
    T_CHECK(kcw_parse_refs(2, a4, &r, &n, &kind_only, err, sizeof err) < 0);
    T_EQ_STR(err, "the server doesn't have a resource type \"widgets\"");

    char *a5[] = {"deploy", "deploy/x"};
    T_CHECK(kcw_parse_refs(2, a5, &r, &n, &kind_only, err, sizeof err) < 0);
    T_CHECK(strstr(err, "there is no need to specify a resource type"));

    char *a6[] = {"deploy/"};
    T_CHECK(kcw_parse_refs(1, a6, &r, &n, &kind_only, err, sizeof err) < 0);
}

static void test_flag(void)
{
    char *argv[] = {"scale", "--replicas=3", "--replicas", "4", "--replicas"};
    int i = 1;
    const char *v = NULL;
    T_EQ_INT(kcw_flag(5, argv, &i, "--replicas", &v), 1);
    T_EQ_STR(v, "3");
    i = 2;
    T_EQ_INT(kcw_flag(5, argv, &i, "--replicas", &v), 1);
    T_EQ_STR(v, "4");
    T_EQ_INT(i, 3);
    i = 4;
    T_EQ_INT(kcw_flag(5, argv, &i, "--replicas", &v), -1);
    i = 1;
    T_EQ_INT(kcw_flag(5, argv, &i, "--replica", &v), 0);
}

static const char *DEPLOY_YAML = "apiVersion: apps/v1\n"
                                 "kind: Deployment\n"
                                 "metadata:\n"
                                 "  name: web\n"
                                 "spec:\n"
                                 "  replicas: 1\n"
                                 "  selector:\n"
                                 "    matchLabels: {app: web}\n"
                                 "  template:\n"
                                 "    metadata:\n"
                                 "      labels: {app: web}\n"
                                 "    spec:\n"
                                 "      containers:\n"
                                 "      - name: app\n"
                                 "        image: web\n"
                                 "        command: [sleep, '100']\n";

static void test_manifest_namespace_fill(void)
{
    char err[1024];
    char text[4096];
    snprintf(text, sizeof text, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\n%s", DEPLOY_YAML);
    json_t *out = json_array();
    T_EQ_INT(kcw_manifest_objects("a.yaml", text, strlen(text), "shop", 1, out, err, sizeof err), 0);
    T_EQ_INT(json_array_size(out), 2);
    T_CHECK(json_path(json_array_get(out, 0), "metadata.namespace") == NULL); /* cluster-scoped */
    T_EQ_STR(json_path_str(json_array_get(out, 1), "metadata.namespace", ""), "shop");
    json_decref(out);

    out = json_array();
    T_EQ_INT(kcw_manifest_objects("a.yaml", DEPLOY_YAML, strlen(DEPLOY_YAML), "default", 0, out, err, sizeof err),
             0);
    T_EQ_STR(json_path_str(json_array_get(out, 0), "metadata.namespace", ""), "default");
    json_decref(out);
}

static void test_manifest_namespace_conflict(void)
{
    char err[1024];
    const char *text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: a\ndata: {k: v}\n";
    json_t *out = json_array();
    T_CHECK(kcw_manifest_objects("c.yaml", text, strlen(text), "b", 1, out, err, sizeof err) < 0);
    T_EQ_STR(err, "the namespace from the provided object \"a\" does not match the namespace \"b\". You must pass "
                  "the same namespace or not pass a namespace");
    T_EQ_INT(json_array_size(out), 0);
    /* Without -n the file's namespace stands. */
    T_EQ_INT(kcw_manifest_objects("c.yaml", text, strlen(text), "default", 0, out, err, sizeof err), 0);
    T_EQ_STR(json_path_str(json_array_get(out, 0), "metadata.namespace", ""), "a");
    json_decref(out);
}

static void test_manifest_unknown_kind_sends_nothing(void)
{
    char err[1024];
    const char *text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n---\n"
                       "apiVersion: v1\nkind: Foo\nmetadata:\n  name: x\n";
    json_t *out = json_array();
    T_CHECK(kcw_manifest_objects("f.yaml", text, strlen(text), "default", 0, out, err, sizeof err) < 0);
    T_CHECK(str_has_prefix(err, "resource mapping not found for name: \"x\" namespace: \"\" from \"f.yaml\": no "
                                "matches for kind \"Foo\" in version \"v1\""));
    T_EQ_INT(json_array_size(out), 0); /* the good ConfigMap is not sent either */
    json_decref(out);
}

static void test_manifest_invalid_names_line(void)
{
    char err[1024];
    const char *text = "apiVersion: apps/v1\n"
                       "kind: Deployment\n"
                       "metadata:\n"
                       "  name: web\n"
                       "spec:\n"
                       "  selector:\n"
                       "    matchLabels: {app: web}\n"
                       "  template:\n"
                       "    metadata:\n"
                       "      labels: {app: web}\n"
                       "    spec:\n"
                       "      containers:\n"
                       "      - name: app\n"
                       "        image: web\n"
                       "        ports:\n"
                       "        - containerPort: 99999\n";
    json_t *out = json_array();
    T_CHECK(kcw_manifest_objects("d.yaml", text, strlen(text), "default", 0, out, err, sizeof err) < 0);
    T_CHECK(str_has_prefix(err, "error validating \"d.yaml\": d.yaml:16: "
                                "spec.template.spec.containers[0].ports[0].containerPort"));
    T_EQ_INT(json_array_size(out), 0);
    json_decref(out);
}

static void test_manifest_syntax_error(void)
{
    char err[1024];
    const char *text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n";
    json_t *out = json_array();
    T_CHECK(kcw_manifest_objects("s.yaml", text, strlen(text), "default", 0, out, err, sizeof err) < 0);
    T_CHECK(str_has_prefix(err, "error parsing s.yaml: s.yaml:"));
    json_decref(out);
}

static void test_manifest_list_kind(void)
{
    char err[1024];
    const char *text = "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
                       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}},"
                       "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"b\"}}]}";
    json_t *out = json_array();
    T_EQ_INT(kcw_manifest_objects("l.json", text, strlen(text), "ns1", 1, out, err, sizeof err), 0);
    T_EQ_INT(json_array_size(out), 2);
    T_EQ_STR(json_path_str(json_array_get(out, 1), "kind", ""), "Secret");
    T_EQ_STR(json_path_str(json_array_get(out, 1), "metadata.namespace", ""), "ns1");
    json_decref(out);
}

static void test_manifest_files(void)
{
    make_tmpdir();
    write_text("m/b.yaml", "x: 1\n");
    write_text("m/a.json", "{}\n");
    write_text("m/notes.txt", "no\n");
    write_text("m/sub/c.yml", "x: 1\n");
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/m", tmpdir);
    json_t *out = json_array();
    T_EQ_INT(kcw_manifest_files(path, 0, out, err, sizeof err), 0);
    T_EQ_INT(json_array_size(out), 2);
    T_CHECK(strstr(json_string_value(json_array_get(out, 0)), "/m/a.json"));
    T_CHECK(strstr(json_string_value(json_array_get(out, 1)), "/m/b.yaml"));
    json_array_clear(out);
    T_EQ_INT(kcw_manifest_files(path, 1, out, err, sizeof err), 0);
    T_EQ_INT(json_array_size(out), 3);
    T_CHECK(strstr(json_string_value(json_array_get(out, 2)), "/m/sub/c.yml"));
    json_array_clear(out);
    T_CHECK(kcw_manifest_files("/nonexistent/x.yaml", 0, out, err, sizeof err) < 0);
    T_EQ_STR(err, "the path \"/nonexistent/x.yaml\" does not exist");
    json_decref(out);
    rm_rf(tmpdir);
}

static void test_parse_patch(void)
{
    char err[512];
    json_t *p = NULL;
    T_EQ_INT(kcw_parse_patch("{\"spec\":{\"replicas\":2}}", &p, err, sizeof err), 0);
    T_EQ_INT(json_path_int(p, "spec.replicas", 0), 2);
    json_decref(p);
    T_EQ_INT(kcw_parse_patch("spec:\n  replicas: 3\n", &p, err, sizeof err), 0);
    T_EQ_INT(json_path_int(p, "spec.replicas", 0), 3);
    json_decref(p);
    T_EQ_INT(kcw_parse_patch("[{\"op\":\"remove\",\"path\":\"/a\"}]", &p, err, sizeof err), 0);
    T_CHECK(json_is_array(p));
    json_decref(p);
    T_CHECK(kcw_parse_patch("{bad", &p, err, sizeof err) < 0);
    T_CHECK(str_has_prefix(err, "unable to parse \"{bad\""));
}

static void test_object_changed(void)
{
    json_t *a = json_pack("{s:{s:s, s:s}, s:{s:i}, s:{s:i}}", "metadata", "name", "x", "resourceVersion", "1",
                          "spec", "replicas", 1, "status", "replicas", 0);
    json_t *b = json_deep_copy(a);
    json_path_set(b, "metadata.resourceVersion", json_string("2"));
    json_path_set(b, "status.replicas", json_integer(1));
    T_EQ_INT(kcw_object_changed(a, b), 0);
    json_path_set(b, "spec.replicas", json_integer(2));
    T_EQ_INT(kcw_object_changed(a, b), 1);
    json_decref(a);
    json_decref(b);
}

static json_t *deploy_with_env(void)
{
    return json_loads("{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
                      "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\",\"tier\":\"fe\"}},"
                      "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
                      "{\"name\":\"app\",\"image\":\"web\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},"
                      "{\"name\":\"S\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"sec\",\"key\":\"pw\"}}}]},"
                      "{\"name\":\"side\",\"image\":\"side\"}]}}}}",
                      0, NULL);
}

static void test_setenv_patch(void)
{
    char err[512];
    json_t *d = deploy_with_env(), *p = NULL;
    char *set[] = {"B=2", "A-", "S=plain"};
    T_EQ_INT(kcw_setenv_patch(d, "app", set, 3, &p, err, sizeof err), 0);
    T_CHECK(p);
    json_t *cs = json_path(p, "spec.template.spec.containers");
    T_EQ_INT(json_array_size(cs), 1);
    json_t *c = json_array_get(cs, 0);
    T_EQ_STR(json_path_str(c, "name", ""), "app");
    char *dump = json_dump_compact(json_object_get(c, "env"));
    T_EQ_STR(dump, "[{\"name\":\"S\",\"value\":\"plain\",\"valueFrom\":null},{\"name\":\"B\",\"value\":\"2\"},"
                   "{\"$patch\":\"delete\",\"name\":\"A\"}]");
    free(dump);
    json_decref(p);

    /* The patch really does it, through the daemon's strategic merge. */
    json_t *after = NULL;
    T_EQ_INT(kcw_setenv_patch(d, "app", set, 3, &p, err, sizeof err), 0);
    T_EQ_INT(patch_strategic(d, p, &after, err, sizeof err), 0);
    json_t *env = json_object_get(json_array_get(json_path(after, "spec.template.spec.containers"), 0), "env");
    dump = json_dump_compact(env);
    T_EQ_STR(dump, "[{\"name\":\"S\",\"value\":\"plain\"},{\"name\":\"B\",\"value\":\"2\"}]");
    free(dump);
    json_decref(after);
    json_decref(p);

    /* No change: no patch. All containers when -c is not given. */
    char *same[] = {"A=1"};
    T_EQ_INT(kcw_setenv_patch(d, "app", same, 1, &p, err, sizeof err), 0);
    T_CHECK(p == NULL);
    char *all[] = {"X=y"};
    T_EQ_INT(kcw_setenv_patch(d, NULL, all, 1, &p, err, sizeof err), 0);
    T_EQ_INT(json_array_size(json_path(p, "spec.template.spec.containers")), 2);
    json_decref(p);

    T_CHECK(kcw_setenv_patch(d, "nope", all, 1, &p, err, sizeof err) < 0);
    T_EQ_STR(err, "unable to find container named \"nope\"");
    char *bad[] = {"=x"};
    T_CHECK(kcw_setenv_patch(d, NULL, bad, 1, &p, err, sizeof err) < 0);
    json_decref(d);
}

static void test_setenv_list(void)
{
    char err[512];
    json_t *d = deploy_with_env();
    struct buf b;
    buf_init(&b, 4096);
    T_EQ_INT(kcw_setenv_list(d, "app", &b, err, sizeof err), 0);
    T_EQ_STR(b.data, "# deployments web, container app\nA=1\n# S from secret sec, key pw\n");
    buf_free(&b);
    json_decref(d);
}

static void test_meta_patch(void)
{
    char err[512];
    json_t *o = json_loads("{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\",\"old\":\"x\"}}}", 0, NULL);
    json_t *p = NULL;
    char *a[] = {"tier=fe", "old-", "app=web"};
    T_EQ_INT(kcw_meta_patch(o, "labels", a, 3, 0, &p, err, sizeof err), 0);
    char *dump = json_dump_compact(p);
    T_EQ_STR(dump, "{\"metadata\":{\"labels\":{\"old\":null,\"tier\":\"fe\"}}}");
    free(dump);
    json_decref(p);
    char *b[] = {"app=api"};
    T_CHECK(kcw_meta_patch(o, "labels", b, 1, 0, &p, err, sizeof err) < 0);
    T_EQ_STR(err, "'app' already has a value (web), and --overwrite is false");
    T_EQ_INT(kcw_meta_patch(o, "labels", b, 1, 1, &p, err, sizeof err), 0);
    T_EQ_STR(json_path_str(p, "metadata.labels.app", ""), "api");
    json_decref(p);
    char *c[] = {"app=web", "missing-"};
    T_EQ_INT(kcw_meta_patch(o, "labels", c, 2, 0, &p, err, sizeof err), 0);
    T_CHECK(p == NULL);
    T_EQ_INT(kcw_meta_patch(o, "annotations", b, 1, 0, &p, err, sizeof err), 0);
    T_EQ_STR(json_path_str(p, "metadata.annotations.app", ""), "api");
    json_decref(p);
    json_decref(o);
}

static void test_rollout_status(void)
{
    char msg[512];
    json_t *d = json_loads("{\"metadata\":{\"name\":\"web\",\"generation\":3},\"spec\":{\"replicas\":2},"
                           "\"status\":{\"observedGeneration\":2}}", 0, NULL);
    T_EQ_INT(kcw_rollout_status(d, msg, sizeof msg), 0);
    T_EQ_STR(msg, "Waiting for deployment spec update to be observed...");
    json_path_set(d, "status.observedGeneration", json_integer(3));
    json_path_set(d, "status.updatedReplicas", json_integer(1));
    T_EQ_INT(kcw_rollout_status(d, msg, sizeof msg), 0);
    T_EQ_STR(msg, "Waiting for deployment \"web\" rollout to finish: 1 out of 2 new replicas have been updated...");
    json_path_set(d, "status.updatedReplicas", json_integer(2));
    json_path_set(d, "status.replicas", json_integer(3));
    T_EQ_INT(kcw_rollout_status(d, msg, sizeof msg), 0);
    T_EQ_STR(msg, "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...");
    json_path_set(d, "status.replicas", json_integer(2));
    json_path_set(d, "status.availableReplicas", json_integer(1));
    T_EQ_INT(kcw_rollout_status(d, msg, sizeof msg), 0);
    T_EQ_STR(msg, "Waiting for deployment \"web\" rollout to finish: 1 of 2 updated replicas are available...");
    json_path_set(d, "status.availableReplicas", json_integer(2));
    T_EQ_INT(kcw_rollout_status(d, msg, sizeof msg), 1);
    T_EQ_STR(msg, "deployment \"web\" successfully rolled out");
    json_path_set(d, "status.conditions",
                  json_pack("[{s:s, s:s}]", "type", "Progressing", "reason", "ProgressDeadlineExceeded"));
    T_EQ_INT(kcw_rollout_status(d, msg, sizeof msg), -1);
    T_EQ_STR(msg, "deployment \"web\" exceeded its progress deadline");
    json_decref(d);
}

static json_t *history_rs(void)
{
    return json_loads(
        "[{\"metadata\":{\"name\":\"web-2\",\"annotations\":{\"deployment.kubernetes.io/revision\":\"2\","
        "\"kubernetes.io/change-cause\":\"set env A=2\"},\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":"
        "\"web\",\"uid\":\"d1\"}]},\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
        "\"containers\":[{\"name\":\"app\",\"image\":\"web:2\",\"env\":[{\"name\":\"A\",\"value\":\"2\"}]}]}}}},"
        "{\"metadata\":{\"name\":\"web-1\",\"annotations\":{\"deployment.kubernetes.io/revision\":\"1\"},"
        "\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"web\",\"uid\":\"d1\"}]}},"
        "{\"metadata\":{\"name\":\"other-1\",\"annotations\":{\"deployment.kubernetes.io/revision\":\"7\"},"
        "\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"web\",\"uid\":\"OLD\"}]}}]",
        0, NULL);
}

static void test_rollout_history(void)
{
    char err[512];
    json_t *d = json_loads("{\"metadata\":{\"name\":\"web\",\"uid\":\"d1\"}}", 0, NULL);
    json_t *rs = history_rs();
    struct buf b;
    buf_init(&b, 1 << 16);
    T_EQ_INT(kcw_rollout_history(d, rs, 0, &b, err, sizeof err), 0);
    T_EQ_STR(b.data, "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         set env A=2\n\n");
    buf_reset(&b);
    T_EQ_INT(kcw_rollout_history(d, rs, 2, &b, err, sizeof err), 0);
    T_CHECK(str_has_prefix(b.data, "deployment.apps/web with revision #2\nPod Template:\n"));
    T_CHECK(strstr(b.data, "    Image:\tweb:2\n"));
    T_CHECK(strstr(b.data, "      A:\t2\n"));
    T_CHECK(kcw_rollout_history(d, rs, 7, &b, err, sizeof err) < 0);
    T_EQ_STR(err, "unable to find the specified revision");
    buf_free(&b);
    json_decref(rs);
    json_decref(d);
}

static void test_selector_of(void)
{
    json_t *d = deploy_with_env();
    char sel[256];
    T_EQ_INT(kcw_selector_of(d, sel, sizeof sel), 0);
    T_EQ_STR(sel, "app=web,tier=fe");
    json_decref(d);
}

static void test_exec_parse(void)
{
    char err[512];
    struct kcw_exec_args a;
    char *a1[] = {"exec", "-it", "web-1", "-c", "app", "--", "ls", "-l"};
    T_EQ_INT(kcw_exec_parse(8, a1, &a, err, sizeof err), 0);
    T_EQ_STR(a.target, "web-1");
    T_EQ_STR(a.container, "app");
    T_EQ_INT(a.stdin_open, 1);
    T_EQ_INT(a.tty, 1);
    T_EQ_INT(a.cmdc, 2);
    T_EQ_STR(a.cmd[0], "ls");
    T_EQ_STR(a.cmd[1], "-l");
    char *a2[] = {"exec", "deploy/web", "--container=side", "-i", "--", "sh"};
    T_EQ_INT(kcw_exec_parse(6, a2, &a, err, sizeof err), 0);
    T_EQ_STR(a.target, "deploy/web");
    T_EQ_STR(a.container, "side");
    T_EQ_INT(a.tty, 0);
    char *a3[] = {"exec", "web-1", "ls"};
    T_CHECK(kcw_exec_parse(3, a3, &a, err, sizeof err) < 0);
    T_EQ_STR(err, "exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead");
    char *a4[] = {"exec", "web-1", "--"};
    T_CHECK(kcw_exec_parse(3, a4, &a, err, sizeof err) < 0);
    T_EQ_STR(err, "you must specify at least one command for the container");
    char *a5[] = {"exec", "--", "ls"};
    T_CHECK(kcw_exec_parse(3, a5, &a, err, sizeof err) < 0);
    char *a6[] = {"exec", "--bogus", "p", "--", "ls"};
    T_CHECK(kcw_exec_parse(5, a6, &a, err, sizeof err) < 0);
    T_EQ_STR(err, "unknown flag: --bogus");
}

static json_t *running_pod(void)
{
    return json_loads("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\",\"uid\":\"u1\","
                      "\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}},"
                      "\"spec\":{\"containers\":[{\"name\":\"app\"},{\"name\":\"side\"}]},"
                      "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
                      "{\"name\":\"app\",\"restartCount\":2,\"state\":{\"running\":{}}},"
                      "{\"name\":\"side\",\"restartCount\":0,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}"
                      "]}}",
                      0, NULL);
}

static void test_exec_container(void)
{
    char err[512];
    json_t *pod = running_pod();
    const char *c = NULL;
    int restart = -1;
    T_EQ_INT(kcw_exec_container(pod, NULL, &c, &restart, err, sizeof err), 0);
    T_EQ_STR(c, "app");
    T_EQ_INT(restart, 2);
    T_CHECK(kcw_exec_container(pod, "side", &c, &restart, err, sizeof err) < 0);
    T_EQ_STR(err, "unable to upgrade connection: container not found (\"side\")");
    T_CHECK(kcw_exec_container(pod, "db", &c, &restart, err, sizeof err) < 0);
    T_EQ_STR(err, "container db is not valid for pod web-1");
    json_path_set(pod, "status.phase", json_string("Succeeded"));
    T_CHECK(kcw_exec_container(pod, NULL, &c, &restart, err, sizeof err) < 0);
    T_EQ_STR(err, "cannot exec into a container in a completed pod; current phase is Succeeded");
    json_decref(pod);
}

/* ------------------------------------------------------- the fake daemon */

static json_t *store; /* array of objects, in the server process */

static json_t *store_find(const char *kind, const char *ns, const char *name, size_t *idx)
{
    size_t i;
    json_t *o;
    json_array_foreach(store, i, o)
    {
        if (strcmp(json_path_str(o, "kind", ""), kind) || strcmp(json_path_str(o, "metadata.name", ""), name))
            continue;
        if (ns && strcmp(json_path_str(o, "metadata.namespace", ""), ns)) continue;
        if (idx) *idx = i;
        return o;
    }
    return NULL;
}

static json_t *not_found(const char *kind, const char *name)
{
    return json_pack("{s:{s:i, s:s, s:s++}}", "error", "code", 404, "reason", "NotFound",
                     "message", kcw_kind_resource(kind), " \"", name);
}

static json_t *fake_reply(json_t *req)
{
    const char *op = json_path_str(req, "op", "");
    const char *kind = json_path_str(req, "kind", "Deployment");
    const char *ns = json_path_str(req, "namespace", NULL);
    const char *name = json_path_str(req, "name", NULL);
    char nf[256];
    if (name) snprintf(nf, sizeof nf, "%s\" not found", name);
    if (!strcmp(op, "get")) {
        json_t *items = json_array();
        size_t i;
        json_t *o;
        json_array_foreach(store, i, o)
        {
            if (strcmp(json_path_str(o, "kind", ""), kind)) continue;
            if (ns && strcmp(json_path_str(o, "metadata.namespace", ""), ns)) continue;
            if (name && strcmp(json_path_str(o, "metadata.name", ""), name)) continue;
            json_array_append(items, o);
        }
        if (name && !json_array_size(items)) {
            json_decref(items);
            return not_found(kind, nf);
        }
        return json_pack("{s:o}", "items", items);
    }
    if (!strcmp(op, "apply")) {
        json_t *obj = json_array_get(json_object_get(req, "objects"), 0);
        const char *k = json_path_str(obj, "kind", "");
        const char *n = json_path_str(obj, "metadata.name", "");
        const char *o_ns = json_path_str(obj, "metadata.namespace", NULL);
        size_t idx;
        json_t *old = store_find(k, o_ns, n, &idx);
        if (old && json_is_true(json_object_get(req, "create")))
            return json_pack("{s:{s:i, s:s, s:s+++}}", "error", "code", 409, "reason", "AlreadyExists", "message",
                             kcw_kind_resource(k), " \"", n, "\" already exists");
        const char *action = !old ? "created" : json_equal(old, obj) ? "unchanged" : "configured";
        if (old) json_array_set(store, idx, obj);
        else json_array_append(store, obj);
        return json_pack("{s:[{s:s, s:s?, s:s, s:s, s:O}]}", "results", "kind", k, "namespace", o_ns, "name", n,
                         "action", action, "object", obj);
    }
    size_t idx = 0;
    json_t *old = name ? store_find(!strcmp(op, "scale") || !strcmp(op, "rollout") ? "Deployment" : kind, ns, name,
                                    &idx)
                       : NULL;
    if (!old) return not_found(kind, nf);
    if (!strcmp(op, "delete")) {
        json_t *r = json_pack("{s:O}", "deleted", old);
        json_array_remove(store, idx);
        return r;
    }
    json_t *upd = NULL;
    char err[256];
    if (!strcmp(op, "patch")) {
        if (patch_apply(json_path_str(req, "type", ""), old, json_object_get(req, "patch"), &upd, err, sizeof err))
            return json_pack("{s:{s:i, s:s, s:s}}", "error", "code", 400, "reason", "BadRequest", "message", err);
    } else if (!strcmp(op, "scale")) {
        upd = json_deep_copy(old);
        json_path_set(upd, "spec.replicas", json_incref(json_object_get(req, "replicas")));
    } else if (!strcmp(op, "rollout")) {
        if (json_path_int(req, "toRevision", 0) == 99)
            return json_pack("{s:{s:i, s:s, s:s}}", "error", "code", 400, "reason", "BadRequest", "message",
                             "unable to find specified revision 99 in history");
        upd = json_deep_copy(old);
        json_path_set(upd, "spec.template.metadata.annotations.restarted", json_string("now"));
        json_path_set(upd, "metadata.lastAction", json_string(json_path_str(req, "action", "")));
    } else {
        return json_pack("{s:{s:i, s:s, s:s}}", "error", "code", 400, "reason", "BadRequest", "message", "op");
    }
    int changed = !json_equal(old, upd);
    json_array_set(store, idx, upd);
    return json_pack("{s:o, s:b}", "object", upd, "changed", changed);
}

static void serve(int lfd, const char *log)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        char line[1 << 16];
        size_t n = 0;
        while (n < sizeof line - 1) {
            ssize_t r = read(fd, line + n, sizeof line - 1 - n);
            if (r <= 0) break;
            n += (size_t)r;
            if (line[n - 1] == '\n') break;
        }
        line[n] = '\0';
        json_t *req = json_loads(line, 0, NULL);
        FILE *f = fopen(log, "a");
        if (f) {
            fputs(line, f);
            fclose(f);
        }
        json_t *reply = req ? fake_reply(req) : json_pack("{s:s}", "error", "bad request");
        char *text = json_dumps(reply, JSON_COMPACT);
        write_all(fd, text, strlen(text));
        write_all(fd, "\n", 1);
        free(text);
        json_decref(reply);
        json_decref(req);
        close(fd);
    }
}

static pid_t server_pid;
static struct kc kc;
static FILE *out, *errf;

static void start_fake(const char *initial)
{
    make_tmpdir();
    memset(&kc, 0, sizeof kc);
    snprintf(kc.lab.name, sizeof kc.lab.name, "t");
    snprintf(kc.lab.dir, sizeof kc.lab.dir, "%s", tmpdir);
    kc.ns = "default";
    out = tmpfile();
    errf = tmpfile();
    kc.out = out;
    kc.err = errf;
    store = json_loads(initial, 0, NULL);
    T_CHECK(json_is_array(store));
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/daemon.sock", tmpdir);
    T_CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
    T_CHECK(listen(lfd, 16) == 0);
    fflush(stdout);
    fflush(stderr);
    server_pid = fork();
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char log[512];
        snprintf(log, sizeof log, "%s/requests", tmpdir);
        serve(lfd, log);
        _exit(0);
    }
    close(lfd);
}

static void stop_fake(void)
{
    kill(server_pid, SIGKILL);
    rm_rf(tmpdir);
}

/* The requests the fake daemon saw, one JSON per line. */
static char *requests(void)
{
    static char text[1 << 16];
    char path[512];
    snprintf(path, sizeof path, "%s/requests", tmpdir);
    FILE *f = fopen(path, "r");
    if (!f) return "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static int count_op(const char *op)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"op\":\"%s\"", op);
    int n = 0;
    for (const char *p = requests(); (p = strstr(p, needle)); p++) n++;
    return n;
}

static const char *STORE =
    "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
    "\"uid\":\"d1\",\"generation\":1},"
    "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
    "{\"name\":\"app\",\"image\":\"web\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}},"
    "\"status\":{\"observedGeneration\":1,\"replicas\":2,\"updatedReplicas\":2,\"availableReplicas\":1}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
    "\"uid\":\"u1\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"app\"}]},"
    "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"app\",\"restartCount\":0,"
    "\"state\":{\"running\":{}}}]}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\",\"namespace\":\"default\"},"
    "\"data\":{\"k\":\"v\"}}]";

static void test_verb_apply(void)
{
    start_fake(STORE);
    char file[512];
    write_text("app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: v2\n---\n"
                           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg2\ndata:\n  k: v\n");
    snprintf(file, sizeof file, "%s/app.yaml", tmpdir);
    char *argv[] = {"apply", "-f", file};
    T_EQ_INT(kc_apply(&kc, 3, argv), 0);
    T_EQ_STR(slurp(out), "configmap/cfg configured\nconfigmap/cfg2 created\n");
    T_EQ_INT(count_op("apply"), 2);
    T_CHECK(strstr(requests(), "\"namespace\":\"default\""));
    /* Applying again: unchanged. */
    T_EQ_INT(kc_apply(&kc, 3, argv), 0);
    T_CHECK(strstr(slurp(out), "configmap/cfg unchanged\nconfigmap/cfg2 unchanged\n"));
    /* create refuses what exists, with kubectl's text. */
    char *cargv[] = {"create", "-f", file};
    T_EQ_INT(kc_apply(&kc, 3, cargv), 1);
    T_CHECK(strstr(slurp(errf), "Error from server (AlreadyExists): configmaps \"cfg\" already exists\n"));
    /* Imperative create of a namespace and a configmap. */
    char *ns[] = {"create", "namespace", "shop"};
    T_EQ_INT(kc_apply(&kc, 3, ns), 0);
    T_CHECK(strstr(slurp(out), "namespace/shop created\n"));
    T_EQ_INT(kc_apply(&kc, 3, ns), 1);
    T_CHECK(strstr(slurp(errf), "Error from server (AlreadyExists): namespaces \"shop\" already exists\n"));
    char *cm[] = {"create", "configmap", "lit", "--from-literal=mode=fast", "--from-literal", "x=1"};
    T_EQ_INT(kc_apply(&kc, 6, cm), 0);
    T_CHECK(strstr(slurp(out), "configmap/lit created\n"));
    T_CHECK(strstr(requests(), "\"data\":{\"mode\":\"fast\",\"x\":\"1\"}"));
    stop_fake();
}

static void test_verb_apply_bad_file_sends_nothing(void)
{
    start_fake(STORE);
    char file[512];
    write_text("bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\n"
                           "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n");
    snprintf(file, sizeof file, "%s/bad.yaml", tmpdir);
    char *argv[] = {"apply", "-f", file};
    T_EQ_INT(kc_apply(&kc, 3, argv), 1);
    T_CHECK(strstr(slurp(errf), "no matches for kind \"Widget\" in version \"example.com/v1\""));
    T_EQ_INT(count_op("apply"), 0);
    char *none[] = {"apply"};
    T_EQ_INT(kc_apply(&kc, 1, none), 1);
    stop_fake();
}

static void test_verb_patch(void)
{
    start_fake(STORE);
    char *argv[] = {"patch", "deployment", "web", "-p", "{\"spec\":{\"replicas\":5}}"};
    T_EQ_INT(kc_patch(&kc, 5, argv), 0);
    T_EQ_STR(slurp(out), "deployment.apps/web patched\n");
    T_CHECK(strstr(requests(), "\"type\":\"strategic\""));
    T_EQ_INT(kc_patch(&kc, 5, argv), 0);
    T_CHECK(strstr(slurp(out), "deployment.apps/web patched (no change)\n"));
    char *json[] = {"patch", "cm/cfg", "--type", "json", "-p", "[{\"op\":\"replace\",\"path\":\"/data/k\",\"value\":\"w\"}]"};
    T_EQ_INT(kc_patch(&kc, 6, json), 0);
    T_CHECK(strstr(slurp(out), "configmap/cfg patched\n"));
    char *rs[] = {"patch", "rs", "web-1", "-p", "{}"};
    T_EQ_INT(kc_patch(&kc, 5, rs), 1);
    T_CHECK(strstr(slurp(errf), "error: patching replicasets.apps is not supported"));
    char *pod[] = {"patch", "pod", "web-1", "-p", "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}"};
    T_EQ_INT(kc_patch(&kc, 5, pod), 0);
    T_CHECK(strstr(slurp(out), "pod/web-1 patched\n"));
    char *missing[] = {"patch", "deploy", "nope", "-p", "{\"a\":1}"};
    T_EQ_INT(kc_patch(&kc, 5, missing), 1);
    T_CHECK(strstr(slurp(errf), "Error from server (NotFound): deployments.apps \"nope\" not found\n"));
    char *badtype[] = {"patch", "deploy", "web", "--type=xml", "-p", "{}"};
    T_EQ_INT(kc_patch(&kc, 6, badtype), 1);
    T_CHECK(strstr(slurp(errf), "error: --type must be one of [json merge strategic], not \"xml\"\n"));
    stop_fake();
}

static void test_verb_scale(void)
{
    start_fake(STORE);
    char *argv[] = {"scale", "deploy/web", "--replicas=3"};
    T_EQ_INT(kc_scale(&kc, 3, argv), 0);
    T_EQ_STR(slurp(out), "deployment.apps/web scaled\n");
    T_CHECK(strstr(requests(), "\"replicas\":3"));
    char *cur[] = {"scale", "deployment", "web", "--current-replicas=2", "--replicas", "1"};
    T_EQ_INT(kc_scale(&kc, 6, cur), 1);
    T_CHECK(strstr(slurp(errf), "error: Expected replicas to be 2, was 3\n"));
    T_EQ_INT(count_op("scale"), 1);
    char *noflag[] = {"scale", "deploy/web"};
    T_EQ_INT(kc_scale(&kc, 2, noflag), 1);
    T_CHECK(strstr(slurp(errf), "required flag(s) \"replicas\" not set"));
    stop_fake();
}

static void test_verb_set_env(void)
{
    start_fake(STORE);
    char *argv[] = {"set", "env", "deploy/web", "B=2", "A-"};
    T_EQ_INT(kc_set(&kc, 5, argv), 0);
    T_EQ_STR(slurp(out), "deployment.apps/web env updated\n");
    char *list[] = {"set", "env", "deployment", "web", "--list"};
    T_EQ_INT(kc_set(&kc, 5, list), 0);
    T_CHECK(strstr(slurp(out), "# deployments web, container app\nB=2\n"));
    T_CHECK(!strstr(slurp(out), "A=1"));
    stop_fake();
}

static void test_verb_delete_and_label(void)
{
    start_fake(STORE);
    char *lab[] = {"label", "pod", "web-1", "tier=fe"};
    T_EQ_INT(kc_label(&kc, 4, lab), 0);
    T_EQ_STR(slurp(out), "pod/web-1 labeled\n");
    char *ann[] = {"annotate", "deploy/web", "note=x"};
    T_EQ_INT(kc_label(&kc, 3, ann), 0);
    T_CHECK(strstr(slurp(out), "deployment.apps/web annotated\n"));
    char *del[] = {"delete", "pod", "web-1"};
    T_EQ_INT(kc_delete(&kc, 3, del), 0);
    T_CHECK(strstr(slurp(out), "pod \"web-1\" deleted\n"));
    T_EQ_INT(kc_delete(&kc, 3, del), 1);
    T_CHECK(strstr(slurp(errf), "Error from server (NotFound): pods \"web-1\" not found\n"));
    char *ign[] = {"delete", "pod", "web-1", "--ignore-not-found"};
    T_EQ_INT(kc_delete(&kc, 4, ign), 0);
    char *all[] = {"delete", "cm", "--all"};
    T_EQ_INT(kc_delete(&kc, 3, all), 0);
    T_CHECK(strstr(slurp(out), "configmap \"cfg\" deleted\n"));
    char *noname[] = {"delete", "deploy"};
    T_EQ_INT(kc_delete(&kc, 2, noname), 1);
    T_CHECK(strstr(slurp(errf), "resource(s) were provided, but no name was specified"));
    stop_fake();
}

static void test_verb_rollout(void)
{
    start_fake(STORE);
    char *restart[] = {"rollout", "restart", "deployment/web"};
    T_EQ_INT(kc_rollout(&kc, 3, restart), 0);
    T_EQ_STR(slurp(out), "deployment.apps/web restarted\n");
    T_CHECK(strstr(requests(), "\"action\":\"restart\""));
    char *undo[] = {"rollout", "undo", "deploy/web", "--to-revision=1"};
    T_EQ_INT(kc_rollout(&kc, 4, undo), 0);
    T_CHECK(strstr(slurp(out), "deployment.apps/web rolled back\n"));
    T_CHECK(strstr(requests(), "\"toRevision\":1"));
    T_EQ_INT(count_op("rollout"), 2);
    /* A refusal reads as kubectl's client-side error, and is sent once. */
    char *undo99[] = {"rollout", "undo", "deploy/web", "--to-revision=99"};
    T_EQ_INT(kc_rollout(&kc, 4, undo99), 1);
    T_EQ_STR(slurp(errf), "error: unable to find specified revision 99 in history\n");
    T_EQ_INT(count_op("rollout"), 3);
    /* 1 of 2 available: --watch=false prints once and succeeds. */
    char *st[] = {"rollout", "status", "deploy/web", "--watch=false"};
    T_EQ_INT(kc_rollout(&kc, 4, st), 0);
    T_CHECK(strstr(slurp(out), "Waiting for deployment \"web\" rollout to finish: 1 of 2 updated replicas are "
                               "available...\n"));
    char *tmo[] = {"rollout", "status", "deploy/web", "--timeout=500ms"};
    T_EQ_INT(kc_rollout(&kc, 4, tmo), 1);
    T_CHECK(strstr(slurp(errf), "error: timed out waiting for the condition\n"));
    stop_fake();
}

static void test_verb_exec(void)
{
    start_fake(STORE);
    char spec[1024];
    snprintf(spec, sizeof spec, "{\"argv\":[\"sleep\",\"100\"],\"env\":[\"PATH=/usr/bin:/bin\",\"GREETING=hi\"],"
                                "\"cwd\":\"%s\"}", tmpdir);
    write_text("pods/u1/containers/app/0/spec.json", spec);
    char *argv[] = {"exec", "web-1", "--", "sh", "-c", "echo $GREETING; pwd; exit 3"};
    int xrc = kc_exec(&kc, 6, argv);
    if (xrc != 3) fprintf(stderr, "# %s\n", slurp(errf));
    T_EQ_INT(xrc, 3);
    char expect[600];
    snprintf(expect, sizeof expect, "hi\n%s\n", tmpdir);
    T_EQ_STR(slurp(out), expect);
    T_CHECK(strstr(slurp(errf), "command terminated with exit code 3\n"));
    char *dep[] = {"exec", "deploy/web", "--", "true"};
    T_EQ_INT(kc_exec(&kc, 4, dep), 0);
    char *nf[] = {"exec", "web-1", "--", "no-such-program-xyz"};
    T_EQ_INT(kc_exec(&kc, 4, nf), 126);
    T_CHECK(strstr(slurp(errf), "exec: \"no-such-program-xyz\": executable file not found in $PATH"));
    stop_fake();
}

int main(void)
{
    T_RUN(test_kind_names);
    T_RUN(test_parse_refs);
    T_RUN(test_flag);
    T_RUN(test_manifest_namespace_fill);
    T_RUN(test_manifest_namespace_conflict);
    T_RUN(test_manifest_unknown_kind_sends_nothing);
    T_RUN(test_manifest_invalid_names_line);
    T_RUN(test_manifest_syntax_error);
    T_RUN(test_manifest_list_kind);
    T_RUN(test_manifest_files);
    T_RUN(test_parse_patch);
    T_RUN(test_object_changed);
    T_RUN(test_setenv_patch);
    T_RUN(test_setenv_list);
    T_RUN(test_meta_patch);
    T_RUN(test_rollout_status);
    T_RUN(test_rollout_history);
    T_RUN(test_selector_of);
    T_RUN(test_exec_parse);
    T_RUN(test_exec_container);
    T_RUN(test_verb_apply);
    T_RUN(test_verb_apply_bad_file_sends_nothing);
    T_RUN(test_verb_patch);
    T_RUN(test_verb_scale);
    T_RUN(test_verb_set_env);
    T_RUN(test_verb_delete_and_label);
    T_RUN(test_verb_rollout);
    T_RUN(test_verb_exec);
    return t_done();
}
