/* Unit tests for src/cluster/manifest: good manifests of every kind pass,
 * each kind of bad field gives Kubernetes' message with the field path and
 * points at the offending node (checked through its YAML line), quantities
 * parse as Kubernetes parses them, and resource names map to kinds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/manifest.h"
#include "core/yaml.h"
#include "t.h"

static const char GOOD_DEPLOYMENT[] =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata:\n"
    "  name: compose-post-service\n"
    "  namespace: test-social-network\n"
    "  labels:\n"
    "    app.kubernetes.io/name: compose-post-service\n"
    "  annotations:\n"
    "    note: \"anything: goes here\"\n"
    "spec:\n"
    "  replicas: 2\n"
    "  revisionHistoryLimit: 3\n"
    "  selector:\n"
    "    matchLabels:\n"
    "      service: compose-post-service\n"
    "  template:\n"
    "    metadata:\n"
    "      labels:\n"
    "        service: compose-post-service\n"
    "        tier: backend\n"
    "    spec:\n"
    "      restartPolicy: Always\n"
    "      terminationGracePeriodSeconds: 5\n"
    "      nodeSelector: {disk: ssd}\n"
    "      containers:\n"
    "      - name: compose-post-service\n"
    "        image: deathstarbench/social-network-microservices:latest\n"
    "        command: [ComposePostService]\n"
    "        args: [--port, \"9090\"]\n"
    "        workingDir: /tmp\n"
    "        env:\n"
    "        - {name: LOG_LEVEL, value: info}\n"
    "        - name: POD_NAME\n"
    "          valueFrom: {fieldRef: {fieldPath: metadata.name}}\n"
    "        - name: TIER\n"
    "          valueFrom: {fieldRef: {fieldPath: \"metadata.labels['tier']\"}}\n"
    "        - name: DB_PASSWORD\n"
    "          valueFrom: {secretKeyRef: {name: db, key: password, optional: true}}\n"
    "        - name: MODE\n"
    "          valueFrom: {configMapKeyRef: {name: cfg, key: mode}}\n"
    "        envFrom:\n"
    "        - configMapRef: {name: cfg}\n"
    "        - secretRef: {name: db}\n"
    "          prefix: DB_\n"
    "        ports:\n"
    "        - {containerPort: 9090, name: thrift, protocol: TCP}\n"
    "        - {containerPort: 9091, protocol: UDP}\n"
    "        resources:\n"
    "          limits: {cpu: \"1\", memory: 128974848}\n"
    "          requests: {cpu: 500m, memory: 64Mi}\n"
    "        livenessProbe:\n"
    "          httpGet: {path: /healthz, port: thrift, httpHeaders: [{name: X-A, value: b}]}\n"
    "          initialDelaySeconds: 1\n"
    "          periodSeconds: 2\n"
    "          failureThreshold: 3\n"
    "        readinessProbe:\n"
    "          tcpSocket: {port: 9090}\n"
    "          successThreshold: 2\n"
    "        startupProbe:\n"
    "          exec: {command: [/bin/true]}\n"
    "        volumeMounts:\n"
    "        - {name: config, mountPath: /etc/app}\n"
    "        - {name: scratch, mountPath: /scratch}\n"
    "        - {name: creds, mountPath: /creds, readOnly: true}\n"
    "        unknownField: {kept: yes}\n"
    "      volumes:\n"
    "      - name: config\n"
    "        configMap: {name: cfg, defaultMode: 0o644, items: [{key: a, path: a.conf}]}\n"
    "      - name: scratch\n"
    "        emptyDir: {}\n"
    "      - name: creds\n"
    "        secret: {secretName: db}\n";

static const char GOOD_OTHERS[] =
    "apiVersion: v1\n"
    "kind: Namespace\n"
    "metadata: {name: test-social-network}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: compose-post-service, namespace: test-social-network}\n"
    "spec:\n"
    "  type: NodePort\n"
    "  selector: {service: compose-post-service}\n"
    "  ports:\n"
    "  - {name: thrift, port: 9090, targetPort: 9090}\n"
    "  - {name: http, port: 8080, targetPort: thrift, protocol: TCP}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: headless}\n"
    "spec: {clusterIP: None, selector: {a: b}}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: fixed}\n"
    "spec: {clusterIP: 10.96.0.12, ports: [{port: 80, targetPort: \"8080\"}]}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: ConfigMap\n"
    "metadata: {name: cfg}\n"
    "data: {mode: fast, nginx.conf: \"worker_processes 1;\\n\"}\n"
    "binaryData: {blob: aGVsbG8=}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Secret\n"
    "metadata: {name: db}\n"
    "type: Opaque\n"
    "data: {password: cGFzc3dvcmQ=, empty: \"\"}\n"
    "stringData: {user: admin}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata: {name: one-shot.job}\n"
    "spec:\n"
    "  restartPolicy: Never\n"
    "  containers: [{name: main, command: [sh, -c, \"exit 0\"]}]\n"
    "---\n"
    "apiVersion: apps/v1\n"
    "kind: ReplicaSet\n"
    "metadata: {name: rs1}\n"
    "spec:\n"
    "  selector: {matchLabels: {a: b}}\n"
    "  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Event\n"
    "metadata: {name: ev.1, namespace: default}\n"
    "reason: Started\n"
    "involvedObject: {kind: Pod, name: x}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Endpoints\n"
    "metadata: {name: svc}\n"
    "subsets: [{addresses: [{ip: 127.0.1.2}], ports: [{port: 80}]}]\n";

static void expect_valid_stream(const char *text)
{
    struct yaml_stream s;
    char err[512];
    T_EQ_INT(yaml_parse(text, strlen(text), "good.yaml", &s, err, sizeof err), 0);
    T_CHECK(s.count > 0);
    for (size_t i = 0; i < s.count; i++) {
        const json_t *bad = NULL;
        int rc = manifest_validate(s.docs[i].root, err, sizeof err, &bad);
        if (rc) fprintf(stderr, "# document %zu: %s (line %d)\n", i, err, yaml_line_of(&s, bad));
        T_EQ_INT(rc, 0);
    }
    yaml_stream_free(&s);
}

static void test_good_manifests(void)
{
    expect_valid_stream(GOOD_DEPLOYMENT);
    expect_valid_stream(GOOD_OTHERS);
}

/* Replace the first occurrence of from in the good deployment by to,
 * validate, and compare the error text (exactly) and the line of the bad node. */
static void expect_bad(const char *base, const char *from, const char *to, const char *want_err, int want_line)
{
    const char *at = strstr(base, from);
    if (!at) fprintf(stderr, "# test setup: \"%s\" not in manifest\n", from);
    T_CHECK(at != NULL);
    size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
    char *text = malloc(n);
    snprintf(text, n, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    struct yaml_stream s;
    char err[1024];
    int prc = yaml_parse(text, strlen(text), "bad.yaml", &s, err, sizeof err);
    if (prc) fprintf(stderr, "# yaml: %s\n", err);
    T_EQ_INT(prc, 0);
    const json_t *bad = NULL;
    int rc = manifest_validate(s.docs[0].root, err, sizeof err, &bad);
    if (rc == 0) fprintf(stderr, "# accepted after replacing \"%s\" by \"%s\"\n", from, to);
    T_EQ_INT(rc, -EINVAL);
    if (strncmp(err, want_err, strlen(want_err))) fprintf(stderr, "# got:  %s\n# want: %s\n", err, want_err);
    T_CHECK(strncmp(err, want_err, strlen(want_err)) == 0);
    T_CHECK(bad != NULL);
    if (want_line) T_EQ_INT(yaml_line_of(&s, bad), want_line);
    yaml_stream_free(&s);
    free(text);
}

#define D GOOD_DEPLOYMENT
#define CPATH "spec.template.spec.containers[0]."

static void test_bad_top_level(void)
{
    expect_bad(D, "kind: Deployment", "kind: Foo", "no matches for kind \"Foo\" in version \"apps/v1\"", 2);
    expect_bad(D, "apiVersion: apps/v1", "apiVersion: v1", "no matches for kind \"Deployment\" in version \"v1\"", 1);
    expect_bad(D, "kind: Deployment", "kinds: Deployment", "Object 'Kind' is missing", 0);
    expect_bad(D, "  name: compose-post-service\n  namespace", "  name: Compose_Post\n  namespace",
               "metadata.name: Invalid value: \"Compose_Post\": a lowercase RFC 1123 subdomain must consist of", 4);
    expect_bad(D, "  name: compose-post-service\n  namespace", "  labels2: {}\n  namespace",
               "metadata.name: Required value: name or generateName is required", 0);
    expect_bad(D, "namespace: test-social-network", "namespace: Test", "metadata.namespace: Invalid value: \"Test\": a lowercase RFC 1123 label", 5);
    expect_bad(D, "app.kubernetes.io/name: compose-post-service", "app.kubernetes.io/name: bad value!",
               "metadata.labels: Invalid value: \"bad value!\": a valid label must be an empty string", 7);
    expect_bad(D, "app.kubernetes.io/name: compose-post-service", "bad key!: x",
               "metadata.labels: Invalid value: \"bad key!\": name part must consist of alphanumeric characters", 7);
    expect_bad(D, "app.kubernetes.io/name: compose-post-service", "version: 1",
               "metadata.labels[version]: Invalid type: got \"integer\", expected \"string\"", 7);
    expect_bad(D, "note: \"anything: goes here\"", "note: [a]", "metadata.annotations[note]: Invalid type: got \"array\", expected \"string\"", 9);
}

static void test_bad_workload(void)
{
    expect_bad(D, "replicas: 2", "replicas: -1", "spec.replicas: Invalid value: -1: must be greater than or equal to 0", 11);
    expect_bad(D, "replicas: 2", "replicas: \"2\"", "spec.replicas: Invalid type: got \"string\", expected \"integer\"", 11);
    expect_bad(D, "replicas: 2", "replicas: 1.5", "spec.replicas: Invalid type: got \"number\", expected \"integer\"", 11);
    expect_bad(D, "revisionHistoryLimit: 3", "revisionHistoryLimit: -3",
               "spec.revisionHistoryLimit: Invalid value: -3: must be greater than or equal to 0", 12);
    expect_bad(D, "      service: compose-post-service\n  template", "      service: other\n  template",
               "spec.template.metadata.labels: Invalid value: map[string]string{\"service\":\"compose-post-service\", "
               "\"tier\":\"backend\"}: `selector` does not match template `labels`",
               19);
    expect_bad(D, "  selector:\n    matchLabels:\n      service: compose-post-service\n", "", "spec.selector: Required value", 11);
    expect_bad(D, "restartPolicy: Always", "restartPolicy: Never",
               "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"", 22);
    expect_bad(D, "terminationGracePeriodSeconds: 5", "terminationGracePeriodSeconds: -5",
               "spec.template.spec.terminationGracePeriodSeconds: Invalid value: -5:", 23);
    expect_bad(D, "nodeSelector: {disk: ssd}", "nodeSelector: {disk: true}",
               "spec.template.spec.nodeSelector[disk]: Invalid type: got \"boolean\", expected \"string\"", 24);
    expect_bad(D, "workingDir: /tmp", "workingDir: false",
               CPATH "workingDir: Invalid type: got \"boolean\", expected \"string\"", 26);
}

static void test_bad_containers(void)
{
    expect_bad(D, "      containers:\n      - name: compose-post-service\n", "      containers: []\n      initContainers:\n      - name: compose-post-service\n",
               "spec.template.spec.containers: Required value", 25);
    expect_bad(D, "- name: compose-post-service\n        image", "- name: Compose\n        image",
               CPATH "name: Invalid value: \"Compose\": a lowercase RFC 1123 label", 26);
    expect_bad(D, "- {name: LOG_LEVEL, value: info}", "- {name: LOG_LEVEL, value: 3}",
               CPATH "env[0].value: Invalid type: got \"integer\", expected \"string\"", 32);
    expect_bad(D, "- {name: LOG_LEVEL, value: info}", "- {name: 1BAD, value: x}",
               CPATH "env[0].name: Invalid value: \"1BAD\": a valid environment variable name", 32);
    expect_bad(D, "fieldPath: metadata.name", "fieldPath: status.phase",
               CPATH "env[1].valueFrom.fieldRef.fieldPath: Unsupported value: \"status.phase\": supported values: \"metadata.name\"", 34);
    expect_bad(D, "{secretKeyRef: {name: db, key: password, optional: true}}", "{secretKeyRef: {name: db}}",
               CPATH "env[3].valueFrom.secretKeyRef.key: Required value", 38);
    expect_bad(D, "{configMapKeyRef: {name: cfg, key: mode}}", "{}",
               CPATH "env[4].valueFrom: Invalid value: \"\": must specify one of", 40);
    expect_bad(D, "- configMapRef: {name: cfg}", "- mapRef: {name: cfg}", CPATH "envFrom[0]: Invalid value: \"\": must specify one of", 42);
    expect_bad(D, "containerPort: 9090, name: thrift", "containerPort: 70000, name: thrift",
               CPATH "ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive", 46);
    expect_bad(D, "containerPort: 9090, name: thrift", "containerPort: 9090, name: thrift-protocol-x",
               CPATH "ports[0].name: Invalid value: \"thrift-protocol-x\": must be no more than 15 characters", 46);
    expect_bad(D, "containerPort: 9091, protocol: UDP", "containerPort: 9091, protocol: HTTP",
               CPATH "ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"TCP\", \"UDP\", \"SCTP\"", 47);
    expect_bad(D, "containerPort: 9091, protocol: UDP", "containerPort: 9091, name: thrift",
               CPATH "ports[1].name: Duplicate value: \"thrift\"", 47);
    expect_bad(D, "limits: {cpu: \"1\"", "limits: {cpu: \"1x\"",
               CPATH "resources.limits[cpu]: Invalid value: \"1x\": quantities must match the regular expression", 49);
    expect_bad(D, "requests: {cpu: 500m", "requests: {cpu: 1500m",
               CPATH "resources.requests[cpu]: Invalid value: \"1500m\": must be less than or equal to cpu limit of 1000m", 50);
    expect_bad(D, "memory: 64Mi", "memory: 1Gi", CPATH "resources.requests[memory]: Invalid value: \"1073741824\": must be less than or equal to memory limit of 128974848", 50);
    expect_bad(D, "port: thrift, httpHeaders", "port: 0, httpHeaders",
               CPATH "livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive", 52);
    expect_bad(D, "port: thrift, httpHeaders", "port: Thrift_, httpHeaders",
               CPATH "livenessProbe.httpGet.port: Invalid value: \"Thrift_\": must contain only alpha-numeric characters", 52);
    expect_bad(D, "tcpSocket: {port: 9090}", "tcpSocket: {}", CPATH "readinessProbe.tcpSocket.port: Required value", 57);
    expect_bad(D, "tcpSocket: {port: 9090}", "periodSeconds: 1", CPATH "readinessProbe: Required value: must specify a handler type", 57);
    expect_bad(D, "exec: {command: [/bin/true]}", "exec: {command: [/bin/true]}\n          tcpSocket: {port: 1}",
               CPATH "startupProbe: Forbidden: may not specify more than 1 handler type", 60);
    expect_bad(D, "initialDelaySeconds: 1", "initialDelaySeconds: -1", CPATH "livenessProbe.initialDelaySeconds: Invalid value: -1", 53);
    expect_bad(D, "exec: {command: [/bin/true]}", "exec: {command: [/bin/true]}\n          successThreshold: 3",
               CPATH "startupProbe.successThreshold: Invalid value: 3: must be 1", 61);
    expect_bad(D, "- {name: scratch, mountPath: /scratch}", "- {name: nothere, mountPath: /scratch}",
               CPATH "volumeMounts[1].name: Not found: \"nothere\"", 63);
    expect_bad(D, "- {name: scratch, mountPath: /scratch}", "- {name: scratch, mountPath: /etc/app}",
               CPATH "volumeMounts[1].mountPath: Invalid value: \"/etc/app\": must be unique", 63);
    expect_bad(D, "command: [ComposePostService]", "command: ComposePostService",
               CPATH "command: Invalid type: got \"string\", expected \"array\"", 28);
    expect_bad(D, "args: [--port, \"9090\"]", "args: [--port, 9090]", CPATH "args[1]: Invalid type: got \"integer\", expected \"string\"", 29);
}

static void test_bad_volumes(void)
{
    expect_bad(D, "- name: scratch\n        emptyDir: {}", "- name: scratch\n        flexi: {}",
               "spec.template.spec.volumes[1]: Required value: must specify a volume type", 69);
    expect_bad(D, "- name: scratch\n        emptyDir: {}", "- name: config\n        emptyDir: {}",
               "spec.template.spec.volumes[1].name: Duplicate value: \"config\"", 69);
    expect_bad(D, "defaultMode: 0o644", "defaultMode: 0o1777",
               "spec.template.spec.volumes[0].configMap.defaultMode: Invalid value: 1023: must be between 0 and 511, inclusive", 68);
    expect_bad(D, "secret: {secretName: db}", "secret: {name: db}", "spec.template.spec.volumes[2].secret.secretName: Required value", 72);
    expect_bad(D, "items: [{key: a, path: a.conf}]", "items: [{key: a}]", "spec.template.spec.volumes[0].configMap.items[0].path: Required value", 68);
}

static void test_bad_service_configmap_secret(void)
{
    const char svc[] = "apiVersion: v1\n"
                       "kind: Service\n"
                       "metadata: {name: user-service}\n"
                       "spec:\n"
                       "  type: ClusterIP\n"
                       "  ports:\n"
                       "  - name: a\n"
                       "    port: 9090\n"
                       "    targetPort: 9090\n"
                       "  - name: b\n"
                       "    port: 9091\n"
                       "  selector: {app: user}\n";
    expect_bad(svc, "name: user-service", "name: 1user", "metadata.name: Invalid value: \"1user\": a DNS-1035 label", 3);
    expect_bad(svc, "port: 9090", "port: 0", "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive", 8);
    expect_bad(svc, "targetPort: 9090", "targetPort: 65536", "spec.ports[0].targetPort: Invalid value: 65536: must be between", 9);
    expect_bad(svc, "targetPort: 9090", "targetPort: web--port", "spec.ports[0].targetPort: Invalid value: \"web--port\": must not contain consecutive hyphens", 9);
    expect_bad(svc, "  - name: b\n", "  - proto: b\n", "spec.ports[1].name: Required value", 10);
    expect_bad(svc, "  - name: b\n", "  - name: a\n", "spec.ports[1].name: Duplicate value: \"a\"", 10);
    expect_bad(svc, "type: ClusterIP", "type: ExternalName", "spec.type: Unsupported value: \"ExternalName\": supported values: \"ClusterIP\", \"NodePort\", \"LoadBalancer\"", 5);
    expect_bad(svc, "type: ClusterIP", "clusterIP: 10.0.0.300", "spec.clusterIP: Invalid value: \"10.0.0.300\": must be a valid IP address", 5);
    expect_bad(svc, "selector: {app: user}", "selector: [app]", "spec.selector: Invalid type: got \"array\", expected \"object\"", 12);
    expect_bad(svc, "  ports:\n  - name: a\n    port: 9090\n    targetPort: 9090\n  - name: b\n    port: 9091\n", "", "spec.ports: Required value", 5);

    const char cm[] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: x\n  b: y\nbinaryData:\n  c: aGk=\n";
    expect_bad(cm, "b: y", "b: 2", "data[b]: Invalid type: got \"integer\", expected \"string\"", 6);
    expect_bad(cm, "b: y", "b/c: y", "data: Invalid value: \"b/c\": a valid config key", 5);
    expect_bad(cm, "c: aGk=", "c: aGk", "binaryData[c]: Invalid value: \"aGk\": illegal base64 data at input byte 0", 8);
    expect_bad(cm, "c: aGk=", "a: aGk=", "data[a]: Invalid value: \"a\": duplicate of key present in binaryData", 5);

    const char sec[] = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\ndata:\n  pw: cGFzc3dvcmQ=\n";
    expect_bad(sec, "pw: cGFzc3dvcmQ=", "pw: pass word", "data[pw]: Invalid value: \"pass word\": illegal base64 data at input byte 4", 6);
    expect_bad(sec, "pw: cGFzc3dvcmQ=", "pw: cGF=c3dvcmQ=", "data[pw]: Invalid value: \"cGF=c3dvcmQ=\": illegal base64 data at input byte 3", 6);
    expect_bad(sec, "type: Opaque", "type: 5", "type: Invalid type: got \"integer\", expected \"string\"", 4);

    const char ns[] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: test-ns}\n";
    expect_bad(ns, "test-ns", "test.ns", "metadata.name: Invalid value: \"test.ns\": a lowercase RFC 1123 label", 3);
    expect_bad(ns, "test-ns", "a234567890123456789012345678901234567890123456789012345678901234",
               "metadata.name: Invalid value: \"a234567890123456789012345678901234567890123456789012345678901234...\": must be no more than 63 characters", 3);
}

static void test_quantities(void)
{
    static const struct { const char *in; long millis; } cpus[] = {
        {"500m", 500}, {"1", 1000}, {"0.5", 500}, {"2.5", 2500}, {"0.1", 100}, {"100u", 1}, {"1e-1", 100}, {"0", 0}, {"1k", 1000000},
    };
    for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
        long m = -1;
        T_EQ_INT(manifest_parse_cpu(cpus[i].in, &m), 0);
        if (m != cpus[i].millis) fprintf(stderr, "# cpu %s\n", cpus[i].in);
        T_EQ_INT(m, cpus[i].millis);
    }
    static const struct { const char *in; long long bytes; } mems[] = {
        {"64Mi", 64LL << 20}, {"1G", 1000000000LL}, {"128974848", 128974848LL}, {"129e6", 129000000LL},
        {"1Gi", 1LL << 30}, {"1.5Ki", 1536}, {"123M", 123000000LL}, {"1E", 1000000000000000000LL}, {"0.5", 1},
    };
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++) {
        long long b = -1;
        T_EQ_INT(manifest_parse_memory(mems[i].in, &b), 0);
        if (b != mems[i].bytes) fprintf(stderr, "# memory %s\n", mems[i].in);
        T_EQ_INT(b, mems[i].bytes);
    }
    static const char *const bad[] = {"", "m", "1x", "1.2.3", "-1", "1Kb", "0x10", "inf", "1e", "1e1000", " 1", "1Mi ", NULL};
    for (size_t i = 0; bad[i]; i++) {
        long m = 77;
        long long b = 77;
        if (manifest_parse_cpu(bad[i], &m) != -EINVAL) fprintf(stderr, "# accepted cpu \"%s\"\n", bad[i]);
        T_EQ_INT(manifest_parse_cpu(bad[i], &m), -EINVAL);
        T_EQ_INT(m, 77);
        T_EQ_INT(manifest_parse_memory(bad[i], &b), -EINVAL);
        T_EQ_INT(b, 77);
    }
}

static void test_kind_tables(void)
{
    static const char *const map[][2] = {
        {"po", "Pod"}, {"pods", "Pod"}, {"pod", "Pod"}, {"deploy", "Deployment"}, {"deployments.apps", "Deployment"},
        {"deployment.v1.apps", "Deployment"}, {"svc", "Service"}, {"ep", "Endpoints"}, {"endpoints", "Endpoints"},
        {"cm", "ConfigMap"}, {"secret", "Secret"}, {"ns", "Namespace"}, {"rs", "ReplicaSet"}, {"ev", "Event"},
        {"events", "Event"}, {"Deployment", "Deployment"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) T_EQ_STR(manifest_kind_of_resource(map[i][0]), map[i][1]);
    T_CHECK(manifest_kind_of_resource("nodes") == NULL);
    T_CHECK(manifest_kind_of_resource("pods.apps") == NULL);
    T_CHECK(manifest_kind_of_resource("") == NULL);
    T_EQ_STR(manifest_resource_of_kind("Pod"), "pods");
    T_EQ_STR(manifest_resource_of_kind("Endpoints"), "endpoints");
    T_CHECK(manifest_resource_of_kind("Node") == NULL);
    T_CHECK(manifest_kind_namespaced("Pod"));
    T_CHECK(!manifest_kind_namespaced("Namespace"));
    T_CHECK(manifest_kind_known("Event"));
    T_CHECK(!manifest_kind_known("CronJob"));
}

static void test_unknown_fields_untouched(void)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:{s:i}},s:{s:[i,i]}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                          "c", "managedFields", "x", 1, "extra", "list", 1, 2);
    char *before = json_dumps(o, JSON_SORT_KEYS);
    char err[256];
    T_EQ_INT(manifest_validate(o, err, sizeof err, NULL), 0);
    char *after = json_dumps(o, JSON_SORT_KEYS);
    T_EQ_STR(after, before);
    free(before);
    free(after);
    json_decref(o);
    /* not an object */
    json_t *arr = json_array();
    const json_t *bad = NULL;
    T_EQ_INT(manifest_validate(arr, err, sizeof err, &bad), -EINVAL);
    T_CHECK(bad == arr);
    json_decref(arr);
}

int main(void)
{
    T_RUN(test_good_manifests);
    T_RUN(test_bad_top_level);
    T_RUN(test_bad_workload);
    T_RUN(test_bad_containers);
    T_RUN(test_bad_volumes);
    T_RUN(test_bad_service_configmap_secret);
    T_RUN(test_quantities);
    T_RUN(test_kind_tables);
    T_RUN(test_unknown_fields_untouched);
    return t_done();
}
