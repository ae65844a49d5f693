/* action: the Agent-Cloud-Interface's parser and argument binder. An agent
 * answers text; action_parse finds the one action in it, action_bind checks
 * it against an action's signature the way Python would call a function.
 * Pure functions over jansson values: no I/O, no global state.
 *
 * Accepted forms (AIOpsLab's, plus JSON tool calls):
 *
 *   reply     := text with exactly one fenced block holding an action;
 *                fenced blocks without an action (an empty block, a
 *                ```bash listing) are skipped as long as one block has one.
 *   fence     := a line starting (after blanks) with ``` and an optional
 *                language tag (```python, ```bash, ```json), or ending with
 *                one after some text ("Action: ```"); the block ends at the
 *                next line that starts or ends with ```. ```call(...)``` at
 *                the start of a line is a block too.
 *   action    := call | json-call        (chosen by the block's first character)
 *   call      := NAME "(" [arg ("," arg)* [","]] ")" [";"]
 *   arg       := value | NAME "=" value  (no positional argument after a keyword one)
 *   value     := string+ | number | True | False | None
 *              | "[" [value ("," value)* [","]] "]"
 *              | "(" value "," ... ")" | "()"     (tuples, as arrays)
 *              | "{" [string ":" value ("," ...)* [","]] "}"
 *   string    := [r|R|u|U] ('..' | ".." | '''..''' | """..""") ; adjacent strings
 *                are concatenated; escapes \n \t \r \a \b \f \v \\ \' \" \ooo
 *                \xNN \uNNNN \UNNNNNNNN and backslash-newline; an unknown escape
 *                keeps its backslash (as Python does); raw strings keep all
 *                backslashes. NUL and surrogates are refused.
 *   number    := ["-"|"+"] (decimal | 0x.. | 0o.. | 0b.. integer, 64-bit,
 *                underscores between digits) | float (1.5, .5, 1e3, -0.5)
 *   blanks, newlines and # comments may appear between any two tokens.
 *   json-call := {"name": N, "arguments": {..} | "<json text>" | [..]}
 *              | {"type": "function", "function": {"name": .., "arguments": ..}}
 *              | {"action": N, "args": [..], "kwargs": {..}}
 *                as a ```json block, or as the whole reply without fences.
 *
 * Limits: a reply of at most ACTION_MAX_INPUT bytes, containers nested at
 * most ACTION_MAX_DEPTH deep, names of at most ACTION_MAX_NAME bytes.
 *
 * Convention: 0, or a negative errno with err holding a text meant for the
 * agent (it becomes the observation): what is wrong, where (line and column
 * of the reply, with the line shown), and an example of the right form.
 * -EINVAL for a malformed reply or a failed binding, -E2BIG for a reply over
 * the limit. Out-parameters are set only on success. */
#ifndef ORCHESTRATOR_ACTION_H
#define ORCHESTRATOR_ACTION_H
#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"

#define ACTION_MAX_INPUT (64 * 1024)
#define ACTION_MAX_DEPTH 32
#define ACTION_MAX_NAME 64
#define ACTION_MAX_PARAMS 8

/* One parsed action. Owned by the caller: release with action_call_free. */
struct action_call {
    char *name;
    json_t *args;   /* array of positional values */
    json_t *kwargs; /* object of keyword values */
};

int action_parse(const char *text, size_t len, struct action_call *call, char *err, size_t errlen);
void action_call_free(struct action_call *call);

/* The call written back in the form agents use, e.g.
 * get_metrics("ns", duration=5), appended to out. -EINVAL when a keyword
 * is not a Python identifier (possible in the JSON forms), -E2BIG past
 * out's maximum. action_parse(action_format(c)) gives c back. */
int action_format(const struct action_call *call, struct buf *out);

enum action_type {
    ACTION_ANY,
    ACTION_STR,
    ACTION_INT,
    ACTION_FLOAT, /* an int is accepted and becomes a float */
    ACTION_BOOL,
    ACTION_LIST,
    ACTION_DICT,
};

/* A parameter: required when dflt is ACTION_REQUIRED (NULL), else dflt is
 * its default as JSON text ("5", "null", "[]"). A parameter whose default
 * is null also accepts None whatever its type (Python's Optional). A table:
 *     static const struct action_spec aci[] = {
 *         {"get_logs", {{"namespace", ACTION_STR, ACTION_REQUIRED}, {"service", ACTION_STR, ACTION_REQUIRED}}},
 *         {"get_metrics", {{"namespace", ACTION_STR, ACTION_REQUIRED}, {"duration", ACTION_INT, "5"}}},
 *         {0},
 *     }; */
#define ACTION_REQUIRED NULL
struct action_param {
    const char *name;
    enum action_type type;
    const char *dflt;
};

/* An action's signature. params end at the first entry without a name.
 * A table of actions is an array of these ending with {0}. */
struct action_spec {
    const char *name;
    struct action_param params[ACTION_MAX_PARAMS];
};

/* The table entry called name, or NULL. */
const struct action_spec *action_find(const struct action_spec *table, const char *name);

/* Bind call to its action in table: *args_out becomes a new object with
 * every parameter by name (defaults filled in, ints widened to float where
 * a float is expected). Errors use Python's wording, e.g.
 * "get_logs() missing 1 required positional argument: 'service'", followed
 * by the action's signature; an unknown action lists the table's actions
 * and suggests the closest name. */
int action_bind(const struct action_spec *table, const struct action_call *call, json_t **args_out, char *err,
                size_t errlen);

/* The signature as a line of text, e.g. "get_metrics(namespace: str, duration: int = 5)". */
int action_signature(const struct action_spec *spec, struct buf *out);

#endif
