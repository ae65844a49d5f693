/* libFuzzer target for the ACI's action parser and binder. Any bytes must
 * parse or fail cleanly: a failure leaves an error text that is valid
 * UTF-8 and fits the buffer (even a tiny one); a success gives a call that
 * binds or fails cleanly against a small table and that, written back by
 * action_format and parsed again, is the same call. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/action.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct action_spec table[] = {
    {"get_logs", {{"namespace", ACTION_STR, ACTION_REQUIRED}, {"service", ACTION_STR, ACTION_REQUIRED}}},
    {"get_metrics", {{"namespace", ACTION_STR, ACTION_REQUIRED}, {"duration", ACTION_INT, "5"}}},
    {"exec_shell", {{"command", ACTION_STR, ACTION_REQUIRED}, {"timeout", ACTION_FLOAT, "30"}}},
    {"scale", {{"name", ACTION_STR, ACTION_REQUIRED}, {"wait", ACTION_BOOL, "false"}, {"opts", ACTION_DICT, "null"},
               {"items", ACTION_LIST, "[]"}}},
    {"submit", {{"answer", ACTION_ANY, "null"}}},
    {0},
};

static void check_text(const char *err, size_t errlen)
{
    size_t n = strnlen(err, errlen);
    if (n == errlen || n == 0) abort(); /* terminated, and says something */
    json_t *v = json_string(err);       /* jansson checks UTF-8 */
    if (!v) abort();
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct action_call call = {0}, again = {0};
    char err[1024], tiny[24];
    if (action_parse(text, size, &call, err, sizeof err)) {
        check_text(err, sizeof err);
        if (!action_parse(text, size, &again, tiny, sizeof tiny)) abort(); /* the same answer every time */
        check_text(tiny, sizeof tiny);
        return 0;
    }
    if (!call.name || !json_is_array(call.args) || !json_is_object(call.kwargs)) abort();
    json_t *bound = NULL;
    if (action_bind(table, &call, &bound, err, sizeof err) == 0) {
        const struct action_spec *spec = action_find(table, call.name);
        if (!spec || !json_is_object(bound)) abort();
        for (size_t i = 0; i < ACTION_MAX_PARAMS && spec->params[i].name; i++)
            if (!json_object_get(bound, spec->params[i].name)) abort();
        json_decref(bound);
    } else {
        check_text(err, sizeof err);
    }
    struct buf b;
    buf_init(&b, 4 * ACTION_MAX_INPUT);
    buf_puts(&b, "```\n");
    if (action_format(&call, &b) == 0) {
        buf_puts(&b, "\n```");
        /* A formatted call can be longer than the input (escapes); past the limit it is refused. */
        int rc = action_parse(b.data, b.len, &again, err, sizeof err);
        if (b.len <= ACTION_MAX_INPUT && rc) abort();
        if (rc == 0 && (strcmp(again.name, call.name) || !json_equal(again.args, call.args) ||
                        !json_equal(again.kwargs, call.kwargs)))
            abort();
        action_call_free(&again);
    }
    buf_free(&b);
    action_call_free(&call);
    return 0;
}
