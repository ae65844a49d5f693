/* Unit tests for src/core/yaml: typing of scalars, multi-document streams,
 * lines of nodes, errors with FILE:LINE, bounds (depth, alias bombs) and
 * the kubectl-shaped emitter, including round trips. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/yaml.h"
#include "t.h"

static json_t *parse1(const char *text)
{
    struct yaml_stream s;
    char err[256];
    int rc = yaml_parse(text, strlen(text), "t.yaml", &s, err, sizeof err);
    if (rc) fprintf(stderr, "# parse error: %s\n", err);
    T_EQ_INT(rc, 0);
    T_EQ_INT(s.count, 1);
    json_t *root = json_incref(s.docs[0].root);
    yaml_stream_free(&s);
    return root;
}

static void parse_fails(const char *text, const char *want_in_err)
{
    struct yaml_stream s;
    char err[256];
    int rc = yaml_parse(text, strlen(text), "bad.yaml", &s, err, sizeof err);
    if (rc == 0) fprintf(stderr, "# unexpectedly parsed: %s\n", text);
    T_EQ_INT(rc, -EINVAL);
    if (!strstr(err, want_in_err)) fprintf(stderr, "# err \"%s\" lacks \"%s\"\n", err, want_in_err);
    T_CHECK(strstr(err, want_in_err) != NULL);
}

static void test_scalar_typing(void)
{
    json_t *r = parse1("a: 80\n"
                       "b: \"80\"\n"
                       "c: yes\n"
                       "d: on\n"
                       "e: true\n"
                       "f: False\n"
                       "g: ~\n"
                       "h:\n"
                       "i: null\n"
                       "j: 0x1F\n"
                       "k: 0o17\n"
                       "l: 1.5\n"
                       "m: -3\n"
                       "n: 1e3\n"
                       "o: '1.5'\n"
                       "p: 500m\n"
                       "q: 012\n"
                       "r: .inf\n"
                       "s: !!str 42\n"
                       "t: 99999999999999999999\n");
    T_EQ_INT(json_integer_value(json_object_get(r, "a")), 80);
    T_EQ_STR(json_string_value(json_object_get(r, "b")), "80");
    T_EQ_STR(json_string_value(json_object_get(r, "c")), "yes");
    T_EQ_STR(json_string_value(json_object_get(r, "d")), "on");
    T_CHECK(json_is_true(json_object_get(r, "e")));
    T_CHECK(json_is_false(json_object_get(r, "f")));
    T_CHECK(json_is_null(json_object_get(r, "g")));
    T_CHECK(json_is_null(json_object_get(r, "h")));
    T_CHECK(json_is_null(json_object_get(r, "i")));
    T_EQ_INT(json_integer_value(json_object_get(r, "j")), 31);
    T_EQ_INT(json_integer_value(json_object_get(r, "k")), 15);
    T_CHECK(json_is_real(json_object_get(r, "l")) && json_real_value(json_object_get(r, "l")) == 1.5);
    T_EQ_INT(json_integer_value(json_object_get(r, "m")), -3);
    T_CHECK(json_is_real(json_object_get(r, "n")) && json_real_value(json_object_get(r, "n")) == 1000.0);
    T_EQ_STR(json_string_value(json_object_get(r, "o")), "1.5");
    T_EQ_STR(json_string_value(json_object_get(r, "p")), "500m");
    T_EQ_INT(json_integer_value(json_object_get(r, "q")), 12);
    T_EQ_STR(json_string_value(json_object_get(r, "r")), ".inf");
    T_EQ_STR(json_string_value(json_object_get(r, "s")), "42");
    T_CHECK(json_is_real(json_object_get(r, "t")));
    json_decref(r);
}

static void test_styles_and_anchors(void)
{
    json_t *r = parse1("# comment\n"
                       "flow: {a: 1, b: [x, 'y', \"z\"]}\n"
                       "lit: |\n"
                       "  line1\n"
                       "  line2\n"
                       "folded: >\n"
                       "  one\n"
                       "  two\n"
                       "strip: |-\n"
                       "  keep\n"
                       "base: &b\n"
                       "  k: v\n"
                       "copy: *b\n"
                       "80: port\n");
    T_EQ_INT(json_integer_value(json_path(r, "flow.a")), 1);
    T_EQ_STR(json_string_value(json_array_get(json_path(r, "flow.b"), 1)), "y");
    T_EQ_STR(json_string_value(json_object_get(r, "lit")), "line1\nline2\n");
    T_EQ_STR(json_string_value(json_object_get(r, "folded")), "one two\n");
    T_EQ_STR(json_string_value(json_object_get(r, "strip")), "keep");
    T_EQ_STR(json_path_str(r, "copy.k", NULL), "v");
    /* an alias is a copy: changing it leaves the anchored node alone */
    T_CHECK(json_path(r, "copy") != json_path(r, "base"));
    T_EQ_STR(json_string_value(json_object_get(r, "80")), "port");
    json_decref(r);
}

static void test_multi_doc_and_lines(void)
{
    const char *text = "---\n"
                       "kind: A\n"
                       "---\n"
                       "# only a comment\n"
                       "---\n"
                       "kind: B\n"
                       "spec:\n"
                       "  ports:\n"
                       "  - port: 80\n"
                       "...\n";
    struct yaml_stream s;
    char err[256];
    T_EQ_INT(yaml_parse(text, strlen(text), "m.yaml", &s, err, sizeof err), 0);
    T_EQ_INT(s.count, 2);
    T_EQ_STR(json_path_str(s.docs[0].root, "kind", NULL), "A");
    T_EQ_STR(json_path_str(s.docs[1].root, "kind", NULL), "B");
    T_EQ_INT(s.docs[0].line, 1);
    T_EQ_INT(s.docs[1].line, 5);
    json_t *ports = json_path(s.docs[1].root, "spec.ports");
    json_t *port = json_object_get(json_array_get(ports, 0), "port");
    T_EQ_INT(yaml_line_of(&s, port), 9);
    T_EQ_INT(yaml_line_of(&s, json_object_get(s.docs[1].root, "kind")), 6);
    T_EQ_INT(yaml_line_of(&s, NULL), 0);
    yaml_stream_free(&s);
}

static void test_errors_have_lines(void)
{
    parse_fails("a: 1\nb: [1, 2\n", "bad.yaml:");
    parse_fails("a: 1\n  b: 2\n", "bad.yaml:2:");
    parse_fails("a: 1\nb: 2\na: 3\n", "bad.yaml:3: mapping key \"a\" already defined");
    parse_fails("a: *nope\n", "unknown anchor");
    parse_fails("x: &x {a: 1}\ny:\n  <<: *x\n", "merge keys");
    parse_fails("\tkey: 1\n", "bad.yaml:1:");
    parse_fails("a: !!int abc\n", "cannot decode");
    parse_fails("? [a]\n: b\n", "mapping keys must be scalars");
}

static void test_bounds(void)
{
    /* deep nesting */
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 300; i++) buf_puts(&b, "[");
    for (int i = 0; i < 300; i++) buf_puts(&b, "]");
    parse_fails(b.data, "nesting deeper than 256");
    buf_reset(&b);
    /* depth 250 is fine */
    for (int i = 0; i < 250; i++) buf_puts(&b, "[");
    for (int i = 0; i < 250; i++) buf_puts(&b, "]");
    json_t *r = parse1(b.data);
    json_decref(r);
    buf_free(&b);
    /* billion laughs */
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                       "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    parse_fails(bomb, "more than 1000000 nodes");
    /* a deep alias chain that stays small but nests too deep */
    buf_init(&b, 1 << 20);
    buf_puts(&b, "a0: &a0 [1]\n");
    for (int i = 1; i < 300; i++) buf_printf(&b, "a%d: &a%d [*a%d]\n", i, i, i - 1);
    parse_fails(b.data, "nesting deeper than 256");
    buf_free(&b);
}

static char *emit(const json_t *v)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    T_EQ_INT(yaml_emit(v, &b), 0);
    return buf_steal(&b);
}

static void test_emit_shape(void)
{
    json_t *v = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\",\"labels\":{}},"
                           "\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":\"8080\",\"name\":\"\"}],"
                           "\"selector\":{\"app\":\"x\"},\"flags\":[\"yes\",\"true\",\"a: b\",\"-\",\"- x\",\"#c\",\"*\",\"ok-text\",\"1.5\",\"null\",\"1_000\",\"1:20\",\"0b11\",\"1.2.3\",\"v1.2\"],"
                           "\"script\":\"echo a\\necho b\\n\",\"noeol\":\"a\\nb\",\"r\":0.5,\"e\":[],\"nul\":null,"
                           "\"nested\":[[1,2],{\"k\":[3]}]}}",
                           0, NULL);
    T_CHECK(v != NULL);
    char *y = emit(v);
    const char *want = "apiVersion: v1\n"
                       "kind: Service\n"
                       "metadata:\n"
                       "  name: s\n"
                       "  labels: {}\n"
                       "spec:\n"
                       "  ports:\n"
                       "  - port: 80\n"
                       "    targetPort: \"8080\"\n"
                       "    name: \"\"\n"
                       "  selector:\n"
                       "    app: x\n"
                       "  flags:\n"
                       "  - \"yes\"\n"
                       "  - \"true\"\n"
                       "  - \"a: b\"\n"
                       "  - \"-\"\n"
                       "  - \"- x\"\n"
                       "  - \"#c\"\n"
                       "  - \"*\"\n"
                       "  - ok-text\n"
                       "  - \"1.5\"\n"
                       "  - \"null\"\n"
                       "  - \"1_000\"\n"
                       "  - \"1:20\"\n"
                       "  - \"0b11\"\n"
                       "  - \"1.2.3\"\n"
                       "  - v1.2\n"
                       "  script: |\n"
                       "    echo a\n"
                       "    echo b\n"
                       "  noeol: |-\n"
                       "    a\n"
                       "    b\n"
                       "  r: 0.5\n"
                       "  e: []\n"
                       "  nul: null\n"
                       "  nested:\n"
                       "  - - 1\n"
                       "    - 2\n"
                       "  - k:\n"
                       "    - 3\n";
    if (strcmp(y, want)) fprintf(stderr, "# got:\n%s", y);
    T_EQ_STR(y, want);
    free(y);
    json_decref(v);
}

static void roundtrip(const json_t *v)
{
    char *y = emit(v);
    json_t *back = parse1(y);
    if (!json_equal(back, v)) {
        char *a = json_dumps(v, JSON_ENCODE_ANY), *b = json_dumps(back, JSON_ENCODE_ANY);
        fprintf(stderr, "# round trip changed:\n# %s\n# %s\n# yaml:\n%s", a, b, y);
        free(a);
        free(b);
    }
    T_CHECK(json_equal(back, v));
    json_decref(back);
    free(y);
}

static void test_round_trips(void)
{
    const char *cases[] = {
        "{\"a\":[\"\",\" lead\",\"trail \",\"x\\ty\",\"\\u0001\",\"quote\\\"s\",\"back\\\\slash\",\"multi\\n\\nline\\n\\n\","
        "\"  indented\\nfirst\",\"trailing space \\nx\",\"0x10\",\"0o7\",\"~\",\"1e3\",\"---\",\"key: value\",\"a #b\","
        "\"[x]\",\"{y}\",\"!tag\",\"&a\",\"@at\",\"`tick\",\"%p\",\"|\",\">\",\"?\",\"?x\",\":x\",\"x:\",\"héllo\",\"ON\",\"n\"]}",
        "{\"nums\":[0,-1,9007199254740993,1.0,1e300,-2.5e-10,0.1],\"b\":[true,false,null],\"o\":{\"\":1,\"true\":2,\"a b\":{}}}",
        "[[[[]]],{},[{}],{\"x\":[[{\"y\":\"z\"}]]}]",
        "{\"k\":\"x\\n\"}",
        "{\"k\":[\"line\\n\"]}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_error_t je;
        json_t *v = json_loads(cases[i], 0, &je);
        if (!v) fprintf(stderr, "# bad case %zu: %s\n", i, je.text);
        T_CHECK(v != NULL);
        roundtrip(v);
        json_decref(v);
    }
    /* keys longer than a reader's implicit-key limit (1024) */
    char longkey[1500];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    json_t *v = json_pack("{s:{s:i,s:[i]},s:[{s:s}]}", longkey, longkey, 1, "b", 2, "list", longkey, "x");
    roundtrip(v);
    json_decref(v);
    /* booleans and nulls have no line of their own (shared singletons) */
    struct yaml_stream s;
    char err[256];
    T_EQ_INT(yaml_parse("a: true\nb: 1\nc: true\n", 21, "t", &s, err, sizeof err), 0);
    T_EQ_INT(yaml_line_of(&s, json_object_get(s.docs[0].root, "a")), 0);
    T_EQ_INT(yaml_line_of(&s, json_object_get(s.docs[0].root, "b")), 2);
    yaml_stream_free(&s);
}

static void test_deployment_and_service(void)
{
    const char *text = "apiVersion: apps/v1\n"
                       "kind: Deployment\n"
                       "metadata:\n"
                       "  name: user-service\n"
                       "  namespace: test-social-network\n"
                       "  labels: {app: user-service}\n"
                       "spec:\n"
                       "  replicas: 2\n"
                       "  selector:\n"
                       "    matchLabels:\n"
                       "      app: user-service\n"
                       "  template:\n"
                       "    metadata:\n"
                       "      labels:\n"
                       "        app: user-service\n"
                       "    spec:\n"
                       "      containers:\n"
                       "        - name: user-service\n"
                       "          image: deathstarbench/social-network-microservices:latest\n"
                       "          command: [\"user-service\"]\n"
                       "          args:\n"
                       "            - --port=9090\n"
                       "          env:\n"
                       "            - name: DEBUG\n"
                       "              value: \"false\"\n"
                       "          ports:\n"
                       "            - containerPort: 9090\n"
                       "          resources:\n"
                       "            limits: {cpu: 500m, memory: 64Mi}\n"
                       "---\n"
                       "apiVersion: v1\n"
                       "kind: Service\n"
                       "metadata:\n"
                       "  name: user-service\n"
                       "spec:\n"
                       "  ports:\n"
                       "  - name: \"9090\"\n"
                       "    port: 9090\n"
                       "    targetPort: 9090\n"
                       "  selector:\n"
                       "    app: user-service\n";
    struct yaml_stream s;
    char err[256];
    T_EQ_INT(yaml_parse(text, strlen(text), "dep.yaml", &s, err, sizeof err), 0);
    T_EQ_INT(s.count, 2);
    json_t *d = s.docs[0].root;
    T_EQ_INT(json_path_int(d, "spec.replicas", -1), 2);
    json_t *c0 = json_array_get(json_path(d, "spec.template.spec.containers"), 0);
    T_EQ_STR(json_string_value(json_array_get(json_object_get(c0, "args"), 0)), "--port=9090");
    T_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(c0, "env"), 0), "value")), "false");
    T_EQ_STR(json_path_str(c0, "resources.limits.cpu", NULL), "500m");
    T_EQ_INT(yaml_line_of(&s, c0), 18);
    T_EQ_STR(json_string_value(json_object_get(json_array_get(json_path(s.docs[1].root, "spec.ports"), 0), "name")), "9090");
    /* emitted key order is the manifest's order */
    char *y = emit(s.docs[1].root);
    const char *head = "apiVersion: v1\nkind: Service\nmetadata:\n  name: user-service\nspec:\n  ports:\n  - name: \"9090\"\n";
    T_CHECK(strncmp(y, head, strlen(head)) == 0);
    free(y);
    roundtrip(d);
    roundtrip(s.docs[1].root);
    yaml_stream_free(&s);
}

static void test_emit_bounded(void)
{
    json_t *v = json_pack("{s:s}", "key", "a fairly long value that will not fit");
    struct buf b;
    buf_init(&b, 16);
    T_EQ_INT(yaml_emit(v, &b), -E2BIG);
    buf_free(&b);
    json_decref(v);
}

int main(void)
{
    T_RUN(test_scalar_typing);
    T_RUN(test_styles_and_anchors);
    T_RUN(test_multi_doc_and_lines);
    T_RUN(test_errors_have_lines);
    T_RUN(test_bounds);
    T_RUN(test_emit_shape);
    T_RUN(test_round_trips);
    T_RUN(test_deployment_and_service);
    T_RUN(test_emit_bounded);
    return t_done();
}
