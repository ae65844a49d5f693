/* Unit tests for kubectl's read-side printers: pod status as kubectl
 * computes it, table layout, ages, -o name/json, labels and selectors,
 * and the describe tabwriter — all on canned objects, no daemon. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/timeutil.h"
#include "kubectl/kc.h"
#include "kubectl/kread.h"
#include "t.h"

static const time_t NOW = 1800000000; /* 2027-01-15T08:00:00Z */

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v) fprintf(stderr, "# bad test json: %s\n", e.text);
    T_CHECK(v != NULL);
    return v;
}

static char *ts_ago(int seconds)
{
    static char bufs[4][32];
    static int k;
    char *b = bufs[k++ % 4];
    time_rfc3339(NOW - seconds, b, 32);
    return b;
}

static json_t *pod_with(const char *container_status, const char *extra_status)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"test\",\"creationTimestamp\":\"%s\","
             "\"labels\":{\"app\":\"web\",\"tier\":\"front\"}},"
             "\"spec\":{\"nodeName\":\"aiopslab\",\"containers\":[{\"name\":\"app\",\"image\":\"web\"}]},"
             "\"status\":{\"phase\":\"Running\",\"podIP\":\"127.100.64.5\"%s%s,\"containerStatuses\":[%s]}}",
             ts_ago(300), extra_status ? "," : "", extra_status ? extra_status : "", container_status);
    return load(text);
}

static void summary_of(const char *cs, const char *extra, struct kc_pod_summary *s)
{
    json_t *p = pod_with(cs, extra);
    kc_pod_summary(p, NOW, s);
    json_decref(p);
}

static void test_pod_status_running(void)
{
    struct kc_pod_summary s;
    summary_of("{\"name\":\"app\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{\"startedAt\":\"x\"}}}", NULL, &s);
    T_EQ_STR(s.status, "Running");
    T_EQ_STR(s.ready, "1/1");
    T_EQ_STR(s.restarts, "0");
}

static void test_pod_status_crashloop(void)
{
    char cs[1024];
    snprintf(cs, sizeof cs,
             "{\"name\":\"app\",\"ready\":false,\"restartCount\":3,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},"
             "\"lastState\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\",\"finishedAt\":\"%s\"}}}",
             ts_ago(45));
    struct kc_pod_summary s;
    summary_of(cs, NULL, &s);
    T_EQ_STR(s.status, "CrashLoopBackOff");
    T_EQ_STR(s.ready, "0/1");
    T_EQ_STR(s.restarts, "3 (45s ago)");
}

static void test_pod_status_terminated(void)
{
    struct kc_pod_summary s;
    summary_of("{\"name\":\"app\",\"ready\":false,\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":137,"
               "\"reason\":\"OOMKilled\"}}}", NULL, &s);
    T_EQ_STR(s.status, "OOMKilled");
    summary_of("{\"name\":\"app\",\"ready\":false,\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":0,"
               "\"reason\":\"Completed\"}}}", NULL, &s);
    T_EQ_STR(s.status, "Completed");
    summary_of("{\"name\":\"app\",\"ready\":false,\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":2}}}", NULL, &s);
    T_EQ_STR(s.status, "ExitCode:2");
    summary_of("{\"name\":\"app\",\"ready\":false,\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":143,"
               "\"signal\":15}}}", NULL, &s);
    T_EQ_STR(s.status, "Signal:15");
    summary_of("{\"name\":\"app\",\"ready\":false,\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":1,"
               "\"reason\":\"Error\"}}}", NULL, &s);
    T_EQ_STR(s.status, "Error");
}

static void test_pod_status_pending_and_terminating(void)
{
    struct kc_pod_summary s;
    summary_of("{\"name\":\"app\",\"ready\":false,\"restartCount\":0,\"state\":{\"waiting\":{\"reason\":"
               "\"ContainerCreating\"}}}", NULL, &s);
    T_EQ_STR(s.status, "ContainerCreating");
    T_EQ_STR(s.ready, "0/1");
    /* no container statuses at all: the phase */
    json_t *p = pod_with("", NULL);
    json_object_set_new(json_object_get(p, "status"), "phase", json_string("Pending"));
    kc_pod_summary(p, NOW, &s);
    T_EQ_STR(s.status, "Pending");
    json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp", json_string(ts_ago(3)));
    kc_pod_summary(p, NOW, &s);
    T_EQ_STR(s.status, "Terminating");
    json_decref(p);
}

static void test_pod_status_init(void)
{
    json_t *p = load("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],"
                     "\"containers\":[{\"name\":\"app\"}]},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
                     "{\"name\":\"i1\",\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":0}}},"
                     "{\"name\":\"i2\",\"restartCount\":0,\"state\":{\"running\":{}}}],"
                     "\"containerStatuses\":[{\"name\":\"app\",\"ready\":false,\"restartCount\":0,"
                     "\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}");
    struct kc_pod_summary s;
    kc_pod_summary(p, NOW, &s);
    T_EQ_STR(s.status, "Init:1/2");
    json_t *i2 = json_array_get(json_object_get(json_object_get(p, "status"), "initContainerStatuses"), 1);
    json_object_set_new(i2, "state", load("{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}"));
    kc_pod_summary(p, NOW, &s);
    T_EQ_STR(s.status, "Init:CrashLoopBackOff");
    json_object_set_new(i2, "state", load("{\"terminated\":{\"exitCode\":3}}"));
    kc_pod_summary(p, NOW, &s);
    T_EQ_STR(s.status, "Init:ExitCode:3");
    json_decref(p);
}

static char *capture(void (*fn)(FILE *, void *), void *arg)
{
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    fn(f, arg);
    fclose(f);
    return data;
}

struct table_args {
    const char *kind;
    json_t *items;
    struct kc_print_opts o;
};

static void print_table_fn(FILE *f, void *arg)
{
    struct table_args *a = arg;
    kc_print_table(a->kind, a->items, &a->o, f);
}

static void test_table_widths(void)
{
    struct kc_table t;
    kc_table_init(&t, 3);
    const char *cells[] = {"NAME", "READY", "AGE", "user-service-5d7f", "1/1", "5m", "db", "0/1", "12d"};
    for (int i = 0; i < 9; i++) kc_table_add(&t, cells[i]);
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    kc_table_print(&t, f);
    fclose(f);
    T_EQ_STR(data, "NAME                READY   AGE\n"
                   "user-service-5d7f   1/1     5m\n"
                   "db                  0/1     12d\n");
    free(data);
    kc_table_free(&t);
}

static void test_pod_table(void)
{
    json_t *items = json_array();
    json_array_append_new(items, pod_with("{\"name\":\"app\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}", NULL));
    struct table_args a = {"Pod", items, {.now = NOW}};
    char *out = capture(print_table_fn, &a);
    T_EQ_STR(out, "NAME    READY   STATUS    RESTARTS   AGE\n"
                  "web-1   1/1     Running   0          5m\n");
    free(out);
    a.o.wide = 1;
    a.o.all_namespaces = 1;
    a.o.show_labels = 1;
    out = capture(print_table_fn, &a);
    T_EQ_STR(out, "NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE   IP             NODE       NOMINATED NODE   "
                  "READINESS GATES   LABELS\n"
                  "test        web-1   1/1     Running   0          5m    127.100.64.5   aiopslab   <none>           "
                  "<none>            app=web,tier=front\n");
    free(out);
    a.o = (struct kc_print_opts){.now = NOW, .no_headers = 1, .with_kind = 1};
    out = capture(print_table_fn, &a);
    T_EQ_STR(out, "pod/web-1   1/1   Running   0     5m\n");
    free(out);
    json_decref(items);
}

static void test_service_endpoints_tables(void)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[{\"metadata\":{\"name\":\"user-service\",\"creationTimestamp\":\"%s\"},\"spec\":{\"type\":\"ClusterIP\","
             "\"clusterIP\":\"127.100.1.4\",\"selector\":{\"app\":\"user\"},\"ports\":[{\"port\":9090,\"protocol\":"
             "\"TCP\",\"targetPort\":9090}]}}]",
             ts_ago(7200));
    struct table_args a = {"Service", load(text), {.now = NOW, .wide = 1}};
    char *out = capture(print_table_fn, &a);
    T_EQ_STR(out, "NAME           TYPE        CLUSTER-IP    EXTERNAL-IP   PORT(S)    AGE    SELECTOR\n"
                  "user-service   ClusterIP   127.100.1.4   <none>        9090/TCP   120m   app=user\n");
    free(out);
    json_decref(a.items);
    snprintf(text, sizeof text,
             "[{\"metadata\":{\"name\":\"a\",\"creationTimestamp\":\"%s\"},\"subsets\":[{\"addresses\":[{\"ip\":"
             "\"127.100.64.5\"},{\"ip\":\"127.100.64.6\"}],\"ports\":[{\"port\":9090}]}]},"
             "{\"metadata\":{\"name\":\"b\",\"creationTimestamp\":\"%s\"},\"subsets\":[{\"notReadyAddresses\":[{\"ip\":"
             "\"127.100.64.7\"}],\"ports\":[{\"port\":80}]}]},"
             "{\"metadata\":{\"name\":\"c\",\"creationTimestamp\":\"%s\"},\"subsets\":[{\"addresses\":[{\"ip\":\"1\"},"
             "{\"ip\":\"2\"},{\"ip\":\"3\"},{\"ip\":\"4\"},{\"ip\":\"5\"}],\"ports\":[{\"port\":80}]}]}]",
             ts_ago(10), ts_ago(10), ts_ago(10));
    a = (struct table_args){"Endpoints", load(text), {.now = NOW}};
    out = capture(print_table_fn, &a);
    T_EQ_STR(out, "NAME   ENDPOINTS                             AGE\n"
                  "a      127.100.64.5:9090,127.100.64.6:9090   10s\n"
                  "b      <none>                                10s\n"
                  "c      1:80,2:80,3:80 + 2 more...            10s\n");
    free(out);
    json_decref(a.items);
}

static void test_deployment_table(void)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[{\"metadata\":{\"name\":\"user\",\"creationTimestamp\":\"%s\"},\"spec\":{\"replicas\":2,\"selector\":"
             "{\"matchLabels\":{\"app\":\"user\"}},\"template\":{\"spec\":{\"containers\":[{\"name\":\"u\",\"image\":"
             "\"user:1\"}]}}},\"status\":{\"readyReplicas\":1,\"updatedReplicas\":2,\"availableReplicas\":1}}]",
             ts_ago(90000));
    struct table_args a = {"Deployment", load(text), {.now = NOW, .wide = 1}};
    char *out = capture(print_table_fn, &a);
    T_EQ_STR(out, "NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES   SELECTOR\n"
                  "user   1/2     2            1           25h   u            user:1   app=user\n");
    free(out);
    json_decref(a.items);
}

static void test_event_table(void)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[{\"metadata\":{\"name\":\"e1\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\"},\"type\":"
             "\"Warning\",\"reason\":\"BackOff\",\"message\":\"Back-off restarting failed container\",\"lastTimestamp\":"
             "\"%s\"}]",
             ts_ago(30));
    struct table_args a = {"Event", load(text), {.now = NOW}};
    char *out = capture(print_table_fn, &a);
    T_EQ_STR(out, "LAST SEEN   TYPE      REASON    OBJECT      MESSAGE\n"
                  "30s         Warning   BackOff   pod/web-1   Back-off restarting failed container\n");
    free(out);
    json_decref(a.items);
}

static void test_age(void)
{
    char out[32];
    kc_age(ts_ago(185), NOW, out, sizeof out);
    T_EQ_STR(out, "3m5s");
    kc_age(ts_ago(3 * 86400), NOW, out, sizeof out);
    T_EQ_STR(out, "3d");
    kc_age(NULL, NOW, out, sizeof out);
    T_EQ_STR(out, "<unknown>");
}

static void test_selector(void)
{
    json_t *l = load("{\"app\":\"web\",\"tier\":\"front\"}");
    T_EQ_INT(kc_selector_match("app=web", l), 1);
    T_EQ_INT(kc_selector_match("app==web,tier=front", l), 1);
    T_EQ_INT(kc_selector_match("app!=web", l), 0);
    T_EQ_INT(kc_selector_match("app in (db, web)", l), 1);
    T_EQ_INT(kc_selector_match("app notin (db,web)", l), 0);
    T_EQ_INT(kc_selector_match("missing notin (x)", l), 1);
    T_EQ_INT(kc_selector_match("tier", l), 1);
    T_EQ_INT(kc_selector_match("!tier", l), 0);
    T_EQ_INT(kc_selector_match("!version,app=web", l), 1);
    T_EQ_INT(kc_selector_match("app=db", l), 0);
    T_CHECK(kc_selector_match("app in db", l) < 0);
    json_decref(l);
    l = load("{\"z\":\"1\",\"a\":\"2\"}");
    char *s = kc_labels_string(l);
    T_EQ_STR(s, "a=2,z=1");
    free(s);
    json_decref(l);
}

static struct kc test_kc(FILE *out, FILE *err, const char *output)
{
    struct kc kc = {.ns = "default", .out = out, .err = err, .output = output};
    return kc;
}

static void test_output_name_and_json(void)
{
    json_t *items = load("[{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}},{\"kind\":\"Deployment\",\"metadata\":"
                         "{\"name\":\"b\"}}]");
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    struct kc kc = test_kc(f, stderr, "name");
    T_EQ_INT(kc_print_objects(&kc, items, 0), 0);
    kc.output = "json";
    json_t *one = json_array();
    json_array_append(one, json_array_get(items, 0));
    T_EQ_INT(kc_print_objects(&kc, one, 1), 0);
    fclose(f);
    T_EQ_STR(data, "pod/a\ndeployment.apps/b\n{\n    \"kind\": \"Pod\",\n    \"metadata\": {\n        \"name\": \"a\"\n    }\n}\n");
    free(data);
    /* a list is a v1 List */
    f = open_memstream(&data, &len);
    kc.out = f;
    T_EQ_INT(kc_print_objects(&kc, items, 0), 0);
    fclose(f);
    json_t *list = load(data);
    T_EQ_STR(json_string_value(json_object_get(list, "kind")), "List");
    T_EQ_INT(json_array_size(json_object_get(list, "items")), 2);
    free(data);
    /* jsonpath over the list */
    f = open_memstream(&data, &len);
    kc.out = f;
    kc.output = "jsonpath={.items[*].metadata.name}";
    T_EQ_INT(kc_print_objects(&kc, items, 0), 0);
    fclose(f);
    T_EQ_STR(data, "a b");
    free(data);
    /* bad format */
    char *edata = NULL;
    size_t elen = 0;
    FILE *ef = open_memstream(&edata, &elen);
    kc.err = ef;
    kc.output = "xml";
    T_EQ_INT(kc_print_objects(&kc, items, 0), 1);
    fclose(ef);
    T_CHECK(strstr(edata, "error: unable to match a printer suitable for the output format \"xml\"") != NULL);
    free(edata);
    json_decref(list);
    json_decref(one);
    json_decref(items);
}

static void test_custom_columns(void)
{
    json_t *items = load("[{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"},\"status\":{\"podIP\":\"1.2.3.4\"}},"
                         "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"bb\"}}]");
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    struct kc kc = test_kc(f, stderr, "custom-columns=NAME:.metadata.name,IP:.status.podIP");
    T_EQ_INT(kc_print_objects(&kc, items, 0), 0);
    fclose(f);
    T_EQ_STR(data, "NAME   IP\na      1.2.3.4\nbb     <none>\n");
    free(data);
    json_decref(items);
}

static void test_tabwriter_blocks(void)
{
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    kc_tabwrite("Name:\tweb-1\nNamespace:\ttest\nIPs:\n  IP:\t127.0.0.1\nControlled By:\tReplicaSet/x\n"
                "Containers:\n  app:\n    Image:\tweb\n    Restart Count:\t0\n",
                0, 2, f);
    fclose(f);
    T_EQ_STR(data, "Name:       web-1\n"
                   "Namespace:  test\n"
                   "IPs:\n"
                   "  IP:           127.0.0.1\n"
                   "Controlled By:  ReplicaSet/x\n"
                   "Containers:\n"
                   "  app:\n"
                   "    Image:          web\n"
                   "    Restart Count:  0\n");
    free(data);
}

int main(void)
{
    T_RUN(test_pod_status_running);
    T_RUN(test_pod_status_crashloop);
    T_RUN(test_pod_status_terminated);
    T_RUN(test_pod_status_pending_and_terminating);
    T_RUN(test_pod_status_init);
    T_RUN(test_table_widths);
    T_RUN(test_pod_table);
    T_RUN(test_service_endpoints_tables);
    T_RUN(test_deployment_table);
    T_RUN(test_event_table);
    T_RUN(test_age);
    T_RUN(test_selector);
    T_RUN(test_output_name_and_json);
    T_RUN(test_custom_columns);
    T_RUN(test_tabwriter_blocks);
    return t_done();
}
