/* Unit tests for kubectl's JSONPath subset (src/kubectl/jsonpath.c). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "kubectl/kread.h"
#include "t.h"

static const char *LIST =
    "{\"kind\":\"List\",\"items\":["
    "{\"metadata\":{\"name\":\"a\",\"labels\":{\"app.kubernetes.io/name\":\"x\"}},\"spec\":{\"containers\":"
    "[{\"name\":\"c1\",\"image\":\"i1\"},{\"name\":\"c2\",\"image\":\"i2\"}]},\"status\":{\"phase\":\"Running\","
    "\"restarts\":3}},"
    "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"containers\":[{\"name\":\"c3\",\"image\":\"i3\"}]},\"status\":"
    "{\"phase\":\"Pending\",\"restarts\":0}},"
    "{\"metadata\":{\"name\":\"c\"},\"spec\":{\"containers\":[]},\"status\":{\"phase\":\"Running\",\"restarts\":1}}]}";

static char *eval(const char *tmpl)
{
    json_error_t e;
    json_t *root = json_loads(LIST, 0, &e);
    T_CHECK(root != NULL);
    struct buf b;
    buf_init(&b, 1 << 20);
    char err[256];
    int rc = kc_jsonpath(tmpl, root, 0, &b, err, sizeof err);
    json_decref(root);
    if (rc) {
        buf_free(&b);
        return NULL;
    }
    char *s = buf_steal(&b);
    return s ? s : strdup("");
}

#define EXPECT(tmpl, want)                                                     \
    do {                                                                       \
        char *got_ = eval(tmpl);                                               \
        T_EQ_STR(got_, want);                                                  \
        free(got_);                                                            \
    } while (0)

static void test_fields_and_wildcards(void)
{
    EXPECT("{.kind}", "List");
    EXPECT("{.items[*].metadata.name}", "a b c");
    EXPECT("{$.items[0].metadata.name}", "a");
    EXPECT("{.items[0].spec.containers[*].image}", "i1 i2");
    EXPECT("{.items[*].spec.containers[*].name}", "c1 c2 c3");
    EXPECT("{.items[0].status}", "{\"phase\":\"Running\",\"restarts\":3}");
    EXPECT("{.items[0].metadata.labels.app\\.kubernetes\\.io/name}", "x");
    EXPECT("{.items[0].metadata.labels['app.kubernetes.io/name']}", "x");
    EXPECT("{.missing.field}", "");
    EXPECT("name: {.items[1].metadata.name}!", "name: b!");
}

static void test_indexes_and_slices(void)
{
    EXPECT("{.items[-1].metadata.name}", "c");
    EXPECT("{.items[-1:].metadata.name}", "c");
    EXPECT("{.items[0:2].metadata.name}", "a b");
    EXPECT("{.items[1:].metadata.name}", "b c");
    EXPECT("{.items[0,2].metadata.name}", "a c");
    EXPECT("{.items[7].metadata.name}", "");
}

static void test_filters(void)
{
    EXPECT("{.items[?(@.status.phase==\"Running\")].metadata.name}", "a c");
    EXPECT("{.items[?(@.status.phase!='Running')].metadata.name}", "b");
    EXPECT("{.items[?(@.status.restarts>0)].metadata.name}", "a c");
    EXPECT("{.items[?(@.status.restarts<=1)].metadata.name}", "b c");
    EXPECT("{.items[*].spec.containers[?(@.name==\"c2\")].image}", "i2");
    EXPECT("{.items[?(@.metadata.labels)].metadata.name}", "a");
}

static void test_range_and_literals(void)
{
    EXPECT("{range .items[*]}{.metadata.name}{\"\\t\"}{.status.phase}{\"\\n\"}{end}",
           "a\tRunning\nb\tPending\nc\tRunning\n");
    EXPECT("{range .items[*]}[{.metadata.name}:{range .spec.containers[*]}{.name},{end}]{end}",
           "[a:c1,c2,][b:c3,][c:]");
    EXPECT("{range .items}{.metadata.name} {end}", "a b c ");
    EXPECT("{..image}", "i1 i2 i3");
}

static void test_errors(void)
{
    T_CHECK(eval("{.items[*].metadata.name") == NULL);
    T_CHECK(eval("{range .items[*]}{.metadata.name}") == NULL);
    T_CHECK(eval("{end}") == NULL);
    T_CHECK(eval("{.items[0}") == NULL);
}

static void test_as_json(void)
{
    json_error_t e;
    json_t *root = json_loads(LIST, 0, &e);
    struct buf b;
    buf_init(&b, 1 << 20);
    char err[256];
    T_EQ_INT(kc_jsonpath("{.items[*].metadata.name}", root, 1, &b, err, sizeof err), 0);
    json_t *arr = json_loads(b.data, 0, &e);
    T_CHECK(json_is_array(arr));
    T_EQ_INT(json_array_size(arr), 3);
    T_EQ_STR(json_string_value(json_array_get(arr, 2)), "c");
    json_decref(arr);
    json_decref(root);
    buf_free(&b);
}

int main(void)
{
    T_RUN(test_fields_and_wildcards);
    T_RUN(test_indexes_and_slices);
    T_RUN(test_filters);
    T_RUN(test_range_and_literals);
    T_RUN(test_errors);
    T_RUN(test_as_json);
    return t_done();
}
