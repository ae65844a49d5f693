/* Unit tests for src/cluster/patch: the RFC 6902 and RFC 7386 appendix
 * examples, and strategic merges of containers, env and ports with the
 * $patch directives, as kubectl patch would send them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/patch.h"
#include "core/json.h"
#include "t.h"

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v) fprintf(stderr, "# bad JSON in test: %s: %s\n", text, je.text);
    T_CHECK(v != NULL);
    return v;
}

/* Apply and compare with want (NULL: the patch must fail, err containing
 * want_err). */
static void check(const char *type, const char *doc, const char *patch, const char *want, const char *want_err)
{
    json_t *d = J(doc), *p = J(patch), *out = NULL;
    char *before = json_dumps(d, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    char err[256] = "";
    int rc = patch_apply(type, d, p, &out, err, sizeof err);
    char *after = json_dumps(d, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    T_EQ_STR(after, before); /* input untouched */
    if (want) {
        if (rc) fprintf(stderr, "# %s patch %s failed: %s\n", type, patch, err);
        T_EQ_INT(rc, 0);
        json_t *w = J(want);
        if (!json_equal(out, w)) {
            char *got = json_dumps(out, JSON_ENCODE_ANY);
            fprintf(stderr, "# %s patch %s on %s\n#  got  %s\n#  want %s\n", type, patch, doc, got, want);
            free(got);
        }
        T_CHECK(json_equal(out, w));
        json_decref(w);
        json_decref(out);
    } else {
        T_EQ_INT(rc, -EINVAL);
        if (!strstr(err, want_err)) fprintf(stderr, "# err \"%s\" lacks \"%s\"\n", err, want_err);
        T_CHECK(strstr(err, want_err) != NULL);
    }
    free(before);
    free(after);
    json_decref(d);
    json_decref(p);
}

static void test_rfc6902_examples(void)
{
    /* A.1 - A.16 */
    check("json", "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]", "{\"baz\":\"qux\",\"foo\":\"bar\"}", NULL);
    check("json", "{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]", "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", NULL);
    check("json", "{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]", "{\"foo\":\"bar\"}", NULL);
    check("json", "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]", "{\"foo\":[\"bar\",\"baz\"]}", NULL);
    check("json", "{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]", "{\"baz\":\"boo\",\"foo\":\"bar\"}", NULL);
    check("json", "{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
          "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
          "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}", NULL);
    check("json", "{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}", "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
          "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}", NULL);
    check("json", "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
          "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
          "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}", NULL);
    check("json", "{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]", NULL, "test failed");
    check("json", "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
          "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}", NULL);
    check("json", "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]", "{\"foo\":\"bar\",\"baz\":\"qux\"}", NULL);
    check("json", "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]", NULL, "missing path");
    check("json", "{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]", "{\"/\":9,\"~1\":10}", NULL);
    check("json", "{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]", NULL, "test failed");
    check("json", "{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]", "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}", NULL);
    /* more */
    check("json", "{\"a/b\":1}", "[{\"op\":\"remove\",\"path\":\"/a~1b\"}]", "{}", NULL);
    check("json", "{\"a\":{\"b\":1}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"}]", "{\"a\":{\"b\":1},\"c\":{\"b\":1}}", NULL);
    check("json", "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/5\",\"value\":2}]", NULL, "out of bounds");
    check("json", "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/01\",\"value\":2}]", NULL, "out of bounds");
    check("json", "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/b\"}]", NULL, "missing path");
    check("json", "{\"a\":1}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", NULL, "unexpected kind");
    check("json", "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\"}]", NULL, "missing \"value\"");
    check("json", "{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]", NULL, "ancestor");
    check("json", "{\"a\":1}", "{\"op\":\"add\"}", NULL, "list of operations");
    check("json", "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]", "[1]", NULL);
    /* a failure in a later operation leaves nothing half-applied (input is checked untouched in check) */
    check("json", "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},{\"op\":\"remove\",\"path\":\"/zz\"}]", NULL, "/zz");
    check("json", "{\"a\":[1,{\"b\":2.0}]}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":[1.0,{\"b\":2}]}]", "{\"a\":[1,{\"b\":2.0}]}", NULL);
    /* the kubectl idiom */
    check("json", "{\"spec\":{\"replicas\":1}}", "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":0}]", "{\"spec\":{\"replicas\":0}}", NULL);
}

static void test_rfc7386_examples(void)
{
    static const char *const cases[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
        {"{\"a\":\"foo\"}", "null", "null"},
        {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check("merge", cases[i][0], cases[i][1], cases[i][2], NULL);
}

static const char *const DEP =
    "{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":["
    "{\"name\":\"app\",\"image\":\"a:1\",\"args\":[\"-x\",\"-y\"],\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}],"
    "\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]},"
    "{\"name\":\"side\",\"image\":\"s:1\"}]}}}}";

static void test_strategic_containers_env(void)
{
    /* change one container's image: the other container stays */
    check("strategic", DEP, "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"side\",\"image\":\"s:2\"}]}}}}",
          "{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":["
          "{\"name\":\"app\",\"image\":\"a:1\",\"args\":[\"-x\",\"-y\"],\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}],"
          "\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]},"
          "{\"name\":\"side\",\"image\":\"s:2\"}]}}}}",
          NULL);
    /* env merged by name; a new variable appended; args (scalars) replaced; ports by containerPort */
    check("strategic", DEP,
          "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"args\":[\"-z\"],"
          "\"env\":[{\"name\":\"B\",\"value\":\"20\"},{\"name\":\"C\",\"value\":\"3\"}],\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}]}}}}",
          "{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":["
          "{\"name\":\"app\",\"image\":\"a:1\",\"args\":[\"-z\"],\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"20\"},{\"name\":\"C\",\"value\":\"3\"}],"
          "\"ports\":[{\"containerPort\":80,\"name\":\"http\",\"protocol\":\"TCP\"}]},"
          "{\"name\":\"side\",\"image\":\"s:1\"}]}}}}",
          NULL);
    /* $patch: delete of an env entry and of a container; null deletes a field */
    check("strategic", DEP,
          "{\"spec\":{\"replicas\":null,\"template\":{\"spec\":{\"containers\":[{\"name\":\"side\",\"$patch\":\"delete\"},"
          "{\"name\":\"app\",\"env\":[{\"name\":\"A\",\"$patch\":\"delete\"}]}]}}}}",
          "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
          "{\"name\":\"app\",\"image\":\"a:1\",\"args\":[\"-x\",\"-y\"],\"env\":[{\"name\":\"B\",\"value\":\"2\"}],"
          "\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]}]}}}}",
          NULL);
    /* $patch: replace on a list and on a map */
    check("strategic", DEP, "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"$patch\":\"replace\"},{\"name\":\"only\",\"image\":\"o\"}]}}}}",
          "{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":[{\"name\":\"only\",\"image\":\"o\"}]}}}}", NULL);
    check("strategic", DEP, "{\"spec\":{\"$patch\":\"replace\",\"replicas\":3}}", "{\"spec\":{\"replicas\":3}}", NULL);
    /* $patch: delete on a map field */
    check("strategic", DEP, "{\"spec\":{\"template\":{\"$patch\":\"delete\"}}}", "{\"spec\":{\"replicas\":1}}", NULL);
    /* Service ports merge by port */
    check("strategic", "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080},{\"port\":443,\"targetPort\":8443}]}}",
          "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9999}]}}",
          "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9999},{\"port\":443,\"targetPort\":8443}]}}", NULL);
    /* a new list is created without directives or nulls */
    check("strategic", "{\"spec\":{}}", "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{},\"x\":null}]}}",
          "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}]}}", NULL);
    /* $deleteFromPrimitiveList */
    check("strategic", "{\"finalizers\":[\"a\",\"b\",\"c\"]}", "{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}",
          "{\"finalizers\":[\"a\",\"c\"]}", NULL);
    /* errors */
    check("strategic", DEP, "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}", NULL,
          "does not contain declared merge key: name");
    check("strategic", DEP, "[1]", NULL, "must be a JSON object");
    check("strategic", DEP, "{\"spec\":{\"$patch\":\"frob\"}}", NULL, "unknown patch type: frob");
    check("yaml", DEP, "{}", NULL, "--type must be one of");
}

int main(void)
{
    T_RUN(test_rfc6902_examples);
    T_RUN(test_rfc7386_examples);
    T_RUN(test_strategic_containers_env);
    return t_done();
}
