/* replay: an agent that plays back a recorded trajectory — the assistant
 * turns of a session record (results_save's JSON: {"trace": [{"role":
 * "assistant", "content": ...}, ...]}) or a plain JSON array of action
 * texts — one per turn, in order, whatever the observations say (played
 * by the script agent, script.c). When the trajectory ends before the
 * session does, it answers nothing more and the session ends there. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agents/agent.h"
#include "core/util.h"

#define REPLAY_FILE_MAX (64u << 20)

/* The turns of doc as a new array of strings, or NULL with err. */
static json_t *turns_of(const json_t *doc, char *err, size_t errlen)
{
    json_t *turns = json_array();
    size_t i;
    json_t *v;
    if (json_is_array(doc)) {
        json_array_foreach(doc, i, v)
        {
            if (!json_is_string(v)) {
                snprintf(err, errlen, "element %zu is not a string (an action text)", i);
                goto bad;
            }
            json_array_append(turns, v);
        }
        return turns;
    }
    const json_t *trace = json_object_get(doc, "trace");
    if (!json_is_array(trace)) {
        snprintf(err, errlen, "neither a session record (an object with \"trace\") nor an array of action texts");
        goto bad;
    }
    json_array_foreach(trace, i, v)
    {
        const char *role = json_string_value(json_object_get(v, "role"));
        if (!role || strcmp(role, "assistant")) continue;
        const json_t *c = json_object_get(v, "content");
        if (!json_is_string(c)) {
            snprintf(err, errlen, "trace[%zu]: an assistant turn without a string \"content\"", i);
            goto bad;
        }
        json_array_append(turns, (json_t *)c);
    }
    return turns;
bad:
    json_decref(turns);
    return NULL;
}

int agent_replay_open(struct agent *a, const char *file, char *err, size_t errlen)
{
    struct buf text;
    buf_init(&text, REPLAY_FILE_MAX);
    int rc = read_file(file, &text);
    if (rc) {
        snprintf(err, errlen, "replay: cannot read %s: %s", file,
                 rc == -E2BIG ? "larger than 64 MiB" : strerror(-rc));
        buf_free(&text);
        return -1;
    }
    json_error_t je;
    json_t *doc = json_loadb(text.data ? text.data : "", text.len, 0, &je);
    buf_free(&text);
    if (!doc) {
        snprintf(err, errlen, "replay: %s:%d:%d: %s", file, je.line, je.column, je.text);
        return -1;
    }
    char why[256];
    json_t *turns = turns_of(doc, why, sizeof why);
    json_decref(doc);
    if (!turns) {
        snprintf(err, errlen, "replay: %s: %s", file, why);
        return -1;
    }
    if (!json_array_size(turns)) {
        snprintf(err, errlen, "replay: %s holds no assistant turns", file);
        json_decref(turns);
        return -1;
    }
    /* Played as a script (script.c): turns in order, calls put in fences when they have none. */
    agent_script_open(a, "replay", turns);
    json_decref(turns);
    return 0;
}
