/* Unit tests of the ACI's action parser and binder: the forms agents write
 * (AIOpsLab's examples first), every literal, the JSON tool-call forms, and
 * each error an agent can cause, with the text it gets back. */
#include <errno.h>
#include <jansson.h>

#include "orchestrator/action.h"
#include "t.h"

static const struct action_spec table[] = {
    {"get_logs", {{"namespace", ACTION_STR, ACTION_REQUIRED}, {"service", ACTION_STR, ACTION_REQUIRED}}},
    {"get_metrics", {{"namespace", ACTION_STR, ACTION_REQUIRED}, {"duration", ACTION_INT, "5"}}},
    {"get_traces", {{"namespace", ACTION_STR, ACTION_REQUIRED}, {"duration", ACTION_INT, "5"}}},
    {"read_metrics", {{"file_path", ACTION_STR, ACTION_REQUIRED}}},
    {"exec_shell", {{"command", ACTION_STR, ACTION_REQUIRED}, {"timeout", ACTION_FLOAT, "30"}}},
    {"submit", {{"answer", ACTION_ANY, "null"}}},
    {"scale", {{"name", ACTION_STR, ACTION_REQUIRED}, {"replicas", ACTION_INT, ACTION_REQUIRED}, {"wait", ACTION_BOOL, "false"}, {"labels", ACTION_DICT, "null"}}},
    {"tag", {{"items", ACTION_LIST, ACTION_REQUIRED}, {"a", ACTION_STR, ACTION_REQUIRED}, {"b", ACTION_STR, ACTION_REQUIRED}, {"c", ACTION_STR, ACTION_REQUIRED}}},
    {"noargs", {{0}}},
    {0},
};

/* Parse text (which must succeed) and compare with the expected name, args and kwargs (JSON). */
static void expect(const char *text, const char *name, const char *args, const char *kwargs)
{
    struct action_call c = {0};
    char err[1024] = "";
    int rc = action_parse(text, strlen(text), &c, err, sizeof err);
    if (rc) fprintf(stderr, "# parse of <<%s>> failed: %s\n", text, err);
    T_EQ_INT(rc, 0);
    T_EQ_STR(c.name, name);
    json_t *a = json_loads(args, 0, NULL), *k = json_loads(kwargs, 0, NULL);
    T_CHECK(a && k);
    if (!json_equal(a, c.args) || !json_equal(k, c.kwargs)) {
        char *ga = json_dumps(c.args, JSON_COMPACT), *gk = json_dumps(c.kwargs, JSON_COMPACT);
        fprintf(stderr, "# <<%s>>: got args %s kwargs %s, expected %s %s\n", text, ga, gk, args, kwargs);
        exit(1);
    }
    json_decref(a);
    json_decref(k);
    action_call_free(&c);
}

static int utf8_valid(const char *s)
{
    json_t *v = json_string(s); /* jansson checks UTF-8 */
    json_decref(v);
    return v != NULL;
}

/* Parse text (which must fail with rc) and check the error holds every needle. */
static void expect_error(const char *text, size_t len, int rc_want, const char *const needles[])
{
    struct action_call c = {.name = (char *)"untouched"};
    char err[1024] = "";
    int rc = action_parse(text, len, &c, err, sizeof err);
    if (rc != rc_want) fprintf(stderr, "# <<%.200s>> gave %d (%s), expected %d\n", text, rc, err, rc_want);
    T_EQ_INT(rc, rc_want);
    T_EQ_STR(c.name, "untouched");
    T_CHECK(utf8_valid(err));
    for (int i = 0; needles[i]; i++) {
        if (!strstr(err, needles[i])) {
            fprintf(stderr, "# error for <<%.200s>> is\n%s\n# and lacks \"%s\"\n", text, err, needles[i]);
            exit(1);
        }
    }
}
#define ERR(text, ...) expect_error(text, strlen(text), -EINVAL, (const char *const[]){__VA_ARGS__, NULL})

/* ---- forms agents write ------------------------------------------------- */

static void test_aiopslab_examples(void)
{
    expect("```\nget_logs(\"test-social-network\", \"user-service\")\n```", "get_logs",
           "[\"test-social-network\", \"user-service\"]", "{}");
    expect("```\nexec_shell(\"kubectl get pods -n test-social-network\")\n```", "exec_shell",
           "[\"kubectl get pods -n test-social-network\"]", "{}");
    expect("```\nsubmit(\"Yes\")\n```", "submit", "[\"Yes\"]", "{}");
    expect("```\nsubmit([\"user-service\"])\n```", "submit", "[[\"user-service\"]]", "{}");
    expect("```\nsubmit({\"system_level\": \"Virtualization\", \"fault_type\": \"Misconfiguration\"})\n```", "submit",
           "[{\"system_level\": \"Virtualization\", \"fault_type\": \"Misconfiguration\"}]", "{}");
    expect("```\nsubmit()\n```", "submit", "[]", "{}");
    expect("```\nget_metrics(\"ns\", duration=5)\n```", "get_metrics", "[\"ns\"]", "{\"duration\": 5}");
}

static void test_fences(void)
{
    /* language tags, prose around the block, indentation, CRLF, inline */
    expect("Let me look at the logs.\n```python\nget_logs(\"a\", \"b\")\n```\nThat should help.", "get_logs",
           "[\"a\", \"b\"]", "{}");
    expect("```bash\nexec_shell(\"ls\")\n```", "exec_shell", "[\"ls\"]", "{}");
    expect("  ```\n  submit()\n  ```", "submit", "[]", "{}");
    expect("```\r\nsubmit(\"No\")\r\n```\r\n", "submit", "[\"No\"]", "{}");
    expect("```submit(\"Yes\")```", "submit", "[\"Yes\"]", "{}");
    expect("````\nsubmit()\n````", "submit", "[]", "{}");
    /* AIOpsLab takes any line holding ``` as a fence: text before an opening one, after a closing one */
    expect("Action: ```\nget_logs(\"a\", \"b\")\n```", "get_logs", "[\"a\", \"b\"]", "{}");
    expect("Action:```python  \nsubmit()\n``` (done)", "submit", "[]", "{}");
    expect("```\nsubmit(\"Yes\")```\nThat is my answer.", "submit", "[\"Yes\"]", "{}");
    expect("```\nexec_shell(\"echo ```\"\n)\n```", "exec_shell", "[\"echo ```\"]", "{}"); /* ``` inside the call */
    /* blocks without a call are skipped when one block has a call */
    expect("Output was:\n```\nNAME READY\n```\nNext:\n```\nsubmit(\"Yes\")\n```\n```\n```", "submit", "[\"Yes\"]", "{}");
}

static void test_layout(void)
{
    expect("```\nget_logs(\n    \"a\",\n    \"b\",\n)\n```", "get_logs", "[\"a\", \"b\"]", "{}");
    expect("```\n# look at the logs first\nget_logs ( 'a' , # the namespace\n 'b' ) ;  # done\n```", "get_logs",
           "[\"a\", \"b\"]", "{}");
    expect("```\nget_metrics(namespace = \"ns\", duration\n=\n10)\n```", "get_metrics", "[]",
           "{\"namespace\": \"ns\", \"duration\": 10}");
    expect("```\nf(1, 2, x=3, y=4,)\n```", "f", "[1, 2]", "{\"x\": 3, \"y\": 4}");
    expect("```\n_private_2()\n```", "_private_2", "[]", "{}");
    /* names up to 64 characters */
    expect("```\nf012345678901234567890123456789012345678901234567890123456789012(x012345678901234567890123456789012345678901234567890123456789012=1)\n```",
           "f012345678901234567890123456789012345678901234567890123456789012", "[]",
           "{\"x012345678901234567890123456789012345678901234567890123456789012\": 1}");
}

static void test_strings(void)
{
    expect("```\nf('a', \"b\", '''c\nd''', \"\"\"e'f\"g\"\"\")\n```", "f", "[\"a\", \"b\", \"c\\nd\", \"e'f\\\"g\"]",
           "{}");
    expect("```\nf(\"\\n\\t\\r\\\\\\'\\\"\\a\\b\\f\\v\")\n```", "f", "[\"\\n\\t\\r\\\\'\\\"\\u0007\\b\\f\\u000b\"]", "{}");
    expect("```\nf(\"\\x41\\u00e9\\U0001F600\\101\\7\")\n```", "f", "[\"A\\u00e9\\ud83d\\ude00A\\u0007\"]", "{}");
    /* unknown escapes keep their backslash, as in Python: grep patterns pass through */
    expect("```\nexec_shell(\"grep -E 'a\\|b' \\d\")\n```", "exec_shell", "[\"grep -E 'a\\\\|b' \\\\d\"]", "{}");
    expect("```\nf(r'C:\\new\\x', R\"a\\\"b\")\n```", "f", "[\"C:\\\\new\\\\x\", \"a\\\\\\\"b\"]", "{}");
    expect("```\nf('kubectl get pods '\n  \"-n ns\" u' -o wide')\n```", "f", "[\"kubectl get pods -n ns -o wide\"]", "{}");
    expect("```\nf('a\\\nb')\n```", "f", "[\"ab\"]", "{}"); /* backslash-newline continues the line */
    expect("```\r\nf('a\\\r\nb', '\\u2713')\r\n```", "f", "[\"ab\", \"\\u2713\"]", "{}");
    expect("```\nf('')\n```", "f", "[\"\"]", "{}");
    expect("```\nf(\"héllo ✓\")\n```", "f", "[\"h\\u00e9llo \\u2713\"]", "{}");
    expect("```\nf(\"```\")\n```", "f", "[\"```\"]", "{}"); /* a fence inside a string on the call's line */
}

static void test_numbers(void)
{
    expect("```\nf(0, -1, +2, 1_000, 0x_ff, 0XFF, 0o17, 0b101, 00)\n```", "f", "[0, -1, 2, 1000, 255, 255, 15, 5, 0]",
           "{}");
    expect("```\nf(9223372036854775807, -9223372036854775808)\n```", "f",
           "[9223372036854775807, -9223372036854775808]", "{}");
    expect("```\nf(1.5, 1e3, -0.5, .5, 5., 1_0.2_5, 2E-2, - 3)\n```", "f", "[1.5, 1000.0, -0.5, 0.5, 5.0, 10.25, 0.02, -3]",
           "{}");
}

static void test_containers(void)
{
    expect("```\nf(True, False, None)\n```", "f", "[true, false, null]", "{}");
    expect("```\nf([], [1, [2, [3]]], [1,], ())\n```", "f", "[[], [1, [2, [3]]], [1], []]", "{}");
    expect("```\nf((1, 2), (3,), (4), ((5)))\n```", "f", "[[1, 2], [3], 4, 5]", "{}");
    expect("```\nf({}, {'a': 1, \"b\": [True], 'c': {'d': None},}, {'k': 1, 'k': 2})\n```", "f",
           "[{}, {\"a\": 1, \"b\": [true], \"c\": {\"d\": null}}, {\"k\": 2}]", "{}");
    /* 32 levels are allowed */
    char text[256];
    snprintf(text, sizeof text, "```\nf(%.32s1%.32s)\n```", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    struct action_call c;
    char err[512];
    T_EQ_INT(action_parse(text, strlen(text), &c, err, sizeof err), 0);
    action_call_free(&c);
}

static void test_json_forms(void)
{
    expect("{\"name\": \"get_logs\", \"arguments\": {\"namespace\": \"a\", \"service\": \"b\"}}", "get_logs", "[]",
           "{\"namespace\": \"a\", \"service\": \"b\"}");
    expect("  {\"name\": \"get_logs\", \"arguments\": \"{\\\"namespace\\\": \\\"a\\\"}\"}\n", "get_logs", "[]",
           "{\"namespace\": \"a\"}");
    expect("{\"type\": \"function\", \"function\": {\"name\": \"submit\", \"arguments\": \"\"}}", "submit", "[]", "{}");
    expect("{\"action\": \"get_metrics\", \"args\": [\"ns\"], \"kwargs\": {\"duration\": 10}}", "get_metrics", "[\"ns\"]",
           "{\"duration\": 10}");
    expect("{\"action\": \"submit\"}", "submit", "[]", "{}");
    expect("I will submit.\n```json\n{\"name\": \"submit\", \"arguments\": [[\"user-service\"]]}\n```", "submit",
           "[[\"user-service\"]]", "{}");
    expect("```\n{\"name\": \"submit\", \"parameters\": {\"answer\": \"Yes\"}}\n```", "submit", "[]",
           "{\"answer\": \"Yes\"}");
}

/* ---- errors -------------------------------------------------------------- */

static void test_error_blocks(void)
{
    ERR("I think the user-service is broken.", "No API call found in a fenced block", "```\nget_logs(");
    ERR("Answer: ```submit(\"Yes\")``` now", "No API call found"); /* ``` inside prose is no fence */
    ERR("Let me check.\nget_logs(\"a\", \"b\")", "the call on line 2 must be inside ``` fences");
    ERR("```\n\n```", "The fenced block is empty");
    ERR("text\n```\nget_logs(\"a\", \"b\")\n", "opened at line 2 is not closed");
    ERR("```\nget_logs(\"a\", \"b\")\n```\nand\n```\nsubmit()\n```", "Found 2 actions", "lines 1, 5",
        "one action per turn");
    ERR("```bash\nkubectl get pods -n test-social-network\n```", "no action call",
        "exec_shell(\"kubectl get pods -n test-social-network\")", "line 2, column 1");
    ERR("```\nresult = get_logs(\"a\", \"b\")\n```", "no action call", "line 2, column 1");
    ERR("```\nget_logs(\"a\", \"b\")\nsubmit()\n```", "unexpected text after the call", "one action per turn",
        "line 3, column 1");
}

static void test_error_strings(void)
{
    ERR("```\nget_logs(\"test-social-network, \"user-service\")\n```", "line 2, column 33", "quote missing");
    ERR("```\nsubmit(\"Yes)\n```", "unterminated string literal", "line 2, column 8", "    submit(\"Yes)\n           ^");
    ERR("```\nsubmit('''Yes)\n```", "unterminated triple-quoted string literal");
    ERR("```\nsubmit('a\nb')\n```", "cannot span lines");
    ERR("```\nf('\\x4')\n```", "truncated \\x escape", "column 4");
    ERR("```\nf('\\u12')\n```", "truncated \\u escape");
    ERR("```\nf('\\N{DASH}')\n```", "\\N{...} escapes are not supported");
    ERR("```\nf('a\\x00b')\n```", "NUL characters are not allowed");
    ERR("```\nf('\\ud800')\n```", "not a Unicode character");
    ERR("```\nf('\\U00110000')\n```", "not a Unicode character");
    ERR("```\nf(b'abc')\n```", "b'..' strings are not supported");
    ERR("```\nf(f'{x}')\n```", "f'..' strings are not supported");
    ERR("```\nf('\xff\xfe')\n```", "not valid UTF-8");
    expect_error("```\nf('a\0b')\n```", 16, -EINVAL, (const char *const[]){"NUL characters", NULL});
    expect_error("```\nf(r'a\\\0b')\n```", 18, -EINVAL, (const char *const[]){"NUL characters", NULL});
}

static void test_error_literals(void)
{
    ERR("```\nget_logs(test-social-network, user-service)\n```", "name 'test' is not defined",
        "e.g. \"test-social-network\"", "line 2, column 10");
    ERR("```\nsubmit(true)\n```", "the literals are True, False and None");
    ERR("```\nsubmit(null)\n```", "the literals are True, False and None");
    ERR("```\nsubmit(false)\n```", "name 'false' is not defined: the literals are True, False and None");
    ERR("```\nf(12345678901234567890123456789012345678901234567890123456789012345678901234567890123)\n```",
        "number too long");
    ERR("```\nsubmit(get_logs(\"a\"))\n```", "not calls");
    ERR("```\nget_metrics(\"ns\", duration=5min)\n```", "invalid decimal literal");
    ERR("```\nf(007)\n```", "leading zeros");
    ERR("```\nf(1__0)\n```", "invalid decimal literal");
    ERR("```\nf(1_)\n```", "invalid decimal literal");
    ERR("```\nf(0x)\n```", "invalid hexadecimal literal");
    ERR("```\nf(0b2)\n```", "invalid binary literal");
    ERR("```\nf(1e)\n```", "invalid decimal literal");
    ERR("```\nf(1j)\n```", "complex numbers are not supported");
    ERR("```\nf(1.2.3)\n```", "invalid decimal literal");
    ERR("```\nf(- 'a')\n```", "expected a number after '-'");
    ERR("```\nf(9223372036854775808)\n```", "integer out of range");
    ERR("```\nf(-9223372036854775809)\n```", "integer out of range");
    ERR("```\nf(1e999)\n```", "float out of range");
    ERR("```\nf(*args)\n```", "expected a value", "'*'");
    ERR("```\nf(,)\n```", "expected a value");
    ERR("```\nf(1 2)\n```", "expected ',' or ')' after an argument, found '2'");
    ERR("```\nf(\xc3\xa9)\n```", "expected a value", "'\xc3\xa9'");
}

static void test_error_structure(void)
{
    ERR("```\nget_metrics(namespace=\"ns\", 5)\n```", "positional argument follows keyword argument", "column 29");
    ERR("```\nget_metrics(duration=1, duration=2)\n```", "keyword argument repeated: 'duration'");
    ERR("```\nget_logs(\"a\", \"b\"\n```", "'(' was never closed");
    ERR("```\nsubmit([\"a\", \"b\"\n```", "'[' was never closed", "line 2, column 8");
    ERR("```\nsubmit([\"a\" \"b\" 1])\n```", "expected ',' or ']' after an item");
    ERR("```\nsubmit({1: 2})\n```", "dict keys must be strings");
    ERR("```\nsubmit({\"a\", \"b\"})\n```", "sets are not supported");
    ERR("```\nsubmit({\"a\": 1\n```", "'{' was never closed");
    ERR("```\nsubmit((1, 2\n```", "'(' was never closed");
    ERR("```\nsubmit((1 2))\n```", "expected ',' or ')' after an item, found '2'");
    ERR("```\nsubmit({\"a\" 1})\n```", "expected ':' after a dict key, found '1'");
    ERR("```\nsubmit({\"a\"\n```", "'{' was never closed");
    ERR("```\nsubmit({\"a\": 1,\n```", "'{' was never closed");
    ERR("```\nsubmit([1,\n```", "'[' was never closed");
    ERR("```\nsubmit(1,\n```", "'(' was never closed");
    ERR("```\nf(x0123456789012345678901234567890123456789012345678901234567890123=1)\n```",
        "argument name is longer than 64");
    ERR("```\nf0123456789012345678901234567890123456789012345678901234567890123()\n```", "action name is longer than 64");
    char deep[256];
    snprintf(deep, sizeof deep, "```\nf(%.33s)\n```", "(((((((((((((((((((((((((((((((((((((((((");
    ERR(deep, "nesting too deep", "32 levels");
}

static void test_error_json(void)
{
    ERR("{\"name\": \"get_logs\", \"arguments\": {\"namespace\": }}", "invalid JSON");
    ERR("```json\n{\"tool\": \"get_logs\"}\n```", "needs \"name\" and \"arguments\"", "line 2, column 1");
    ERR("{\"name\": \"get_logs\", \"arguments\": 5}", "\"arguments\" must be an object");
    ERR("{\"name\": \"get_logs\", \"arguments\": \"[1]\"}", "is a string but not a JSON object");
    ERR("{\"name\": \"get_logs\", \"arguments\": \"{oops\"}", "is a string but not a JSON object");
    ERR("{\"name\": \"get logs\", \"arguments\": {}}", "action name must be a name");
    ERR("{\"name\": \"f\", \"arguments\": {\"a b\": 1}}", "argument names must be names");
    ERR("{\"action\": \"f\", \"args\": {}}", "\"args\" must be a list");
    ERR("{\"action\": \"f\", \"kwargs\": []}", "\"kwargs\" must be an object");
    ERR("{\"name\": \"f\", \"arguments\": {\"a\": 1, \"a\": 2}}", "duplicate");
    char deep[256];
    snprintf(deep, sizeof deep, "{\"action\": \"f\", \"args\": [%.33s]}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    ERR(deep, "invalid JSON"); /* unbalanced: jansson's own error */
    snprintf(deep, sizeof deep, "{\"action\": \"f\", \"args\": [%.33s%.33s]}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    ERR(deep, "nesting too deep");
    /* a keyword's value nested 32 objects deep is fine, 33 is not */
    for (int depth = 32; depth <= 33; depth++) {
        char obj[512];
        int n = snprintf(obj, sizeof obj, "{\"name\": \"f\", \"arguments\": {\"a\": ");
        for (int i = 0; i < depth; i++) n += snprintf(obj + n, sizeof obj - (size_t)n, "{\"a\": ");
        n += snprintf(obj + n, sizeof obj - (size_t)n, "1");
        for (int i = 0; i < depth + 2; i++) n += snprintf(obj + n, sizeof obj - (size_t)n, "}");
        struct action_call c;
        char err[512];
        int rc = action_parse(obj, strlen(obj), &c, err, sizeof err);
        T_EQ_INT(rc, depth == 32 ? 0 : -EINVAL);
        if (rc == 0) action_call_free(&c);
        else T_CHECK(strstr(err, "nesting too deep"));
    }
}

static void test_error_bounds(void)
{
    /* over 64 KiB: refused before any parsing */
    size_t n = ACTION_MAX_INPUT + 1;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "```\nsubmit()\n```", 16);
    big[n] = '\0';
    expect_error(big, n, -E2BIG, (const char *const[]){"65537 bytes", "limit is 65536", NULL});
    /* exactly 64 KiB is fine */
    struct action_call c;
    char err[256];
    T_EQ_INT(action_parse(big, ACTION_MAX_INPUT, &c, err, sizeof err), 0);
    action_call_free(&c);
    /* a long line is shown as a window around the error */
    memset(big, 'x', n);
    memcpy(big, "```\nf(\"", 7);
    memcpy(big + 3000, "\", y y)\n```", 11);
    expect_error(big, 3011, -EINVAL, (const char *const[]){"column 3000", "...xxx", "\", y y)", NULL});
    free(big);
    /* a tiny error buffer is filled and terminated, still valid UTF-8 */
    char small[40];
    const char *t = "```\nf(\"é\" é)\n```";
    T_EQ_INT(action_parse(t, strlen(t), &c, small, sizeof small), -EINVAL);
    T_CHECK(strlen(small) == sizeof small - 1 && utf8_valid(small));
    /* errors never echo invalid UTF-8 or control characters */
    ERR("```\nf(\x01 \xff)\n```", "control character 0x01");
    ERR("```\nf(\xff)\n```", "the byte 0xff (not UTF-8)");
    /* the first non-call block is the one reported */
    ERR("```\nls\n```\n```\npwd\n```", "exec_shell(\"ls\")");
}

/* ---- binding ------------------------------------------------------------- */

/* Parse (must succeed), bind: on success compare with want_json, else check the error holds want. */
static void bind(const char *call_text, int rc_want, const char *want)
{
    char text[512], err[1024] = "";
    snprintf(text, sizeof text, "```\n%s\n```", call_text);
    struct action_call c;
    T_EQ_INT(action_parse(text, strlen(text), &c, err, sizeof err), 0);
    json_t *out = (json_t *)table; /* a sentinel: must not change on failure */
    int rc = action_bind(table, &c, &out, err, sizeof err);
    if (rc != rc_want) fprintf(stderr, "# bind %s gave %d (%s)\n", call_text, rc, err);
    T_EQ_INT(rc, rc_want);
    if (rc == 0) {
        json_t *w = json_loads(want, 0, NULL);
        if (!json_equal(w, out)) {
            fprintf(stderr, "# bind %s gave %s, expected %s\n", call_text, json_dumps(out, JSON_COMPACT), want);
            exit(1);
        }
        T_CHECK(json_is_real(json_object_get(out, "timeout")) || !json_object_get(out, "timeout"));
        json_decref(w);
        json_decref(out);
    } else {
        T_CHECK(out == (json_t *)table);
        if (!strstr(err, want)) {
            fprintf(stderr, "# bind %s: error\n%s\n# lacks \"%s\"\n", call_text, err, want);
            exit(1);
        }
    }
    action_call_free(&c);
}

static void test_bind_ok(void)
{
    bind("get_logs(\"test-social-network\", \"user-service\")", 0,
         "{\"namespace\": \"test-social-network\", \"service\": \"user-service\"}");
    bind("get_logs(service=\"s\", namespace=\"n\")", 0, "{\"namespace\": \"n\", \"service\": \"s\"}");
    bind("get_logs(\"n\", service=\"s\")", 0, "{\"namespace\": \"n\", \"service\": \"s\"}");
    bind("get_metrics(\"ns\")", 0, "{\"namespace\": \"ns\", \"duration\": 5}");
    bind("get_metrics(\"ns\", duration=10)", 0, "{\"namespace\": \"ns\", \"duration\": 10}");
    bind("exec_shell(\"ls\")", 0, "{\"command\": \"ls\", \"timeout\": 30.0}");
    bind("exec_shell(\"ls\", 5)", 0, "{\"command\": \"ls\", \"timeout\": 5.0}"); /* int accepted for float */
    bind("exec_shell(\"ls\", timeout=2.5)", 0, "{\"command\": \"ls\", \"timeout\": 2.5}");
    bind("submit()", 0, "{\"answer\": null}");
    bind("submit(\"Yes\")", 0, "{\"answer\": \"Yes\"}");
    bind("submit([\"user-service\"])", 0, "{\"answer\": [\"user-service\"]}");
    bind("submit({\"system_level\": \"Application\", \"fault_type\": \"Code Defect\"})", 0,
         "{\"answer\": {\"system_level\": \"Application\", \"fault_type\": \"Code Defect\"}}");
    bind("scale(\"frontend\", 2, True, labels=None)", 0,
         "{\"name\": \"frontend\", \"replicas\": 2, \"wait\": true, \"labels\": null}");
    bind("scale(\"frontend\", 2, labels={\"a\": \"b\"})", 0,
         "{\"name\": \"frontend\", \"replicas\": 2, \"wait\": false, \"labels\": {\"a\": \"b\"}}");
    bind("noargs()", 0, "{}");
}

static void test_bind_errors(void)
{
    bind("get_logs(\"ns\")", -EINVAL, "get_logs() missing 1 required positional argument: 'service'");
    bind("get_logs()", -EINVAL, "get_logs() missing 2 required positional arguments: 'namespace' and 'service'");
    bind("tag()", -EINVAL, "tag() missing 4 required positional arguments: 'items', 'a', 'b', and 'c'");
    bind("tag([], 'a')", -EINVAL, "tag() missing 2 required positional arguments: 'b' and 'c'");
    bind("get_logs(\"a\", svc=\"b\")", -EINVAL, "get_logs() got an unexpected keyword argument 'svc'");
    bind("get_logs(\"a\", \"b\", \"c\")", -EINVAL, "get_logs() takes 2 positional arguments but 3 were given");
    bind("read_metrics(\"a\", \"b\")", -EINVAL, "read_metrics() takes 1 positional argument but 2 were given");
    bind("noargs(1)", -EINVAL, "noargs() takes 0 positional arguments but 1 was given");
    bind("get_metrics(\"a\", 1, 2)", -EINVAL, "get_metrics() takes from 1 to 2 positional arguments but 3 were given");
    bind("get_logs(\"a\", \"b\", namespace=\"c\")", -EINVAL, "get_logs() got multiple values for argument 'namespace'");
    /* Python's order: a keyword mistake before the count of positionals */
    bind("get_logs(\"a\", \"b\", \"c\", x=1)", -EINVAL, "got an unexpected keyword argument 'x'");
    bind("get_metrics(\"ns\", duration=\"5\")", -EINVAL, "get_metrics() argument 'duration' must be int, not str");
    bind("get_metrics(\"ns\", 5.0)", -EINVAL, "argument 'duration' must be int, not float");
    bind("get_metrics(\"ns\", True)", -EINVAL, "argument 'duration' must be int, not bool");
    bind("get_logs(None, \"b\")", -EINVAL, "argument 'namespace' must be str, not NoneType");
    bind("exec_shell(\"ls\", \"5\")", -EINVAL, "argument 'timeout' must be float, not str");
    bind("scale(\"a\", 1, 1)", -EINVAL, "argument 'wait' must be bool, not int");
    bind("scale(\"a\", 1, labels=[])", -EINVAL, "argument 'labels' must be dict, not list");
    bind("tag((1, 2), 'a', 'b', c={})", -EINVAL, "argument 'c' must be str, not dict");
    bind("tag({}, 'a', 'b', 'c')", -EINVAL, "argument 'items' must be list, not dict");
    /* errors end with the signature */
    bind("get_metrics()", -EINVAL, "\nUsage: get_metrics(namespace: str, duration: int = 5)");
    /* unknown actions */
    bind("get_log(\"a\", \"b\")", -EINVAL,
         "Unknown action 'get_log'. Did you mean 'get_logs'? Available actions: get_logs, get_metrics, get_traces, "
         "read_metrics, exec_shell, submit, scale, tag, noargs.");
    bind("GetMetrics(\"a\")", -EINVAL, "Did you mean 'get_metrics'?");
    bind("Submit(\"Yes\")", -EINVAL, "Did you mean 'submit'?");
    bind("kubectl(\"get pods\")", -EINVAL, "Unknown action 'kubectl'. Available actions: get_logs,");
}

static void test_bind_table_errors(void)
{
    static const struct action_spec bad[] = {{"f", {{"a", ACTION_INT, "{oops"}}}, {0}};
    struct action_call c = {.name = (char *)"f", .args = json_array(), .kwargs = json_object()};
    json_t *out = NULL;
    char err[256];
    T_EQ_INT(action_bind(bad, &c, &out, err, sizeof err), -EINVAL);
    T_CHECK(strstr(err, "default of 'a' in the action table is not JSON"));
    T_CHECK(out == NULL);
    /* an empty table: still an answer the agent can read */
    static const struct action_spec none[] = {{0}};
    T_EQ_INT(action_bind(none, &c, &out, err, sizeof err), -EINVAL);
    T_EQ_STR(err, "Unknown action 'f'. Available actions:.");
    json_decref(c.args);
    json_decref(c.kwargs);
}

/* ---- formatting and signatures ------------------------------------------- */

static void test_format_roundtrip(void)
{
    const char *texts[] = {
        "get_logs(\"test-social-network\", \"user-service\")",
        "get_metrics(\"ns\", duration=5)",
        "submit({\"system_level\": \"Virtualization\", \"fault_type\": \"Misconfiguration\"})",
        "f(\"q\\\"b\\\\s\\n\\t\\r\\x01\\x7f é\", -0.0, 0.1, 1e+300, 2.0, -9223372036854775808, [True, False, None], [])",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char text[512], err[512];
        snprintf(text, sizeof text, "```\n%s\n```", texts[i]);
        struct action_call c, again;
        T_EQ_INT(action_parse(text, strlen(text), &c, err, sizeof err), 0);
        struct buf b;
        buf_init(&b, 4096);
        T_EQ_INT(action_format(&c, &b), 0);
        T_EQ_STR(b.data, texts[i]); /* these are written in the canonical form already */
        T_EQ_INT(action_parse(b.data, b.len, &again, err, sizeof err), -EINVAL); /* no fences: not an action */
        buf_reset(&b);
        buf_puts(&b, "```\n");
        T_EQ_INT(action_format(&c, &b), 0);
        buf_puts(&b, "\n```");
        T_EQ_INT(action_parse(b.data, b.len, &again, err, sizeof err), 0);
        T_CHECK(json_equal(c.args, again.args) && json_equal(c.kwargs, again.kwargs));
        action_call_free(&again);
        action_call_free(&c);
        buf_free(&b);
    }
    /* JSON-form keywords that Python cannot write are refused, and so is a full buffer */
    struct action_call c = {.name = (char *)"f", .args = json_array(), .kwargs = json_pack("{s:i}", "a-b", 1)};
    struct buf b;
    buf_init(&b, 4096);
    T_EQ_INT(action_format(&c, &b), -EINVAL);
    json_decref(c.kwargs);
    c.kwargs = json_object();
    json_array_append_new(c.args, json_string("a long string that does not fit"));
    buf_init(&b, 10);
    T_EQ_INT(action_format(&c, &b), -E2BIG);
    buf_free(&b);
    json_decref(c.args);
    json_decref(c.kwargs);
}

static void test_signature(void)
{
    struct buf b;
    buf_init(&b, 1024);
    T_EQ_INT(action_signature(action_find(table, "get_metrics"), &b), 0);
    T_EQ_STR(b.data, "get_metrics(namespace: str, duration: int = 5)");
    buf_reset(&b);
    T_EQ_INT(action_signature(action_find(table, "exec_shell"), &b), 0);
    T_EQ_STR(b.data, "exec_shell(command: str, timeout: float = 30)");
    buf_reset(&b);
    T_EQ_INT(action_signature(action_find(table, "scale"), &b), 0);
    T_EQ_STR(b.data, "scale(name: str, replicas: int, wait: bool = False, labels: dict = None)");
    buf_reset(&b);
    T_EQ_INT(action_signature(action_find(table, "submit"), &b), 0);
    T_EQ_STR(b.data, "submit(answer=None)");
    buf_reset(&b);
    T_EQ_INT(action_signature(action_find(table, "noargs"), &b), 0);
    T_EQ_STR(b.data, "noargs()");
    T_CHECK(action_find(table, "nope") == NULL);
    buf_free(&b);
}

int main(void)
{
    T_RUN(test_aiopslab_examples);
    T_RUN(test_fences);
    T_RUN(test_layout);
    T_RUN(test_strings);
    T_RUN(test_numbers);
    T_RUN(test_containers);
    T_RUN(test_json_forms);
    T_RUN(test_error_blocks);
    T_RUN(test_error_strings);
    T_RUN(test_error_literals);
    T_RUN(test_error_structure);
    T_RUN(test_error_json);
    T_RUN(test_error_bounds);
    T_RUN(test_bind_ok);
    T_RUN(test_bind_errors);
    T_RUN(test_bind_table_errors);
    T_RUN(test_format_roundtrip);
    T_RUN(test_signature);
    return t_done();
}
