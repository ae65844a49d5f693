/* replay: an agent that plays back a recorded trajectory — the assistant
 * turns of a session record (results_save's JSON: {"trace": [{"role":
 * "assistant", "content": ...}, ...]}) or a plain JSON array of action
 * texts — one per turn, in order, whatever the observations say. When the
 * trajectory ends before the session does, it answers nothing more: the
 * session ends with "replay: trajectory ended". */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agents/agent.h"
#include "core/alloc.h"
#include "core/util.h"

#define REPLAY_FILE_MAX (64u << 20)

struct replay {
    json_t *turns; /* array of strings */
    size_t next;
};

static int replay_act(struct agent *a, const char *input, struct buf *reply, char *err, size_t errlen)
{
    (void)input;
    struct replay *r = a->impl;
    if (r->next >= json_array_size(r->turns)) {
        snprintf(err, errlen, "replay: trajectory ended (%zu turns)", json_array_size(r->turns));
        return -1;
    }
    const json_t *t = json_array_get(r->turns, r->next++);
    if (buf_append(reply, json_string_value(t), json_string_length(t))) {
        snprintf(err, errlen, "replay: turn %zu is too long", r->next);
        return -1;
    }
    return 0;
}

static void replay_close(struct agent *a)
{
    struct replay *r = a->impl;
    if (!r) return;
    json_decref(r->turns);
    free(r);
    a->impl = NULL;
}

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
    struct replay *r = xcalloc(1, sizeof *r);
    r->turns = turns;
    a->impl = r;
    snprintf(a->name, sizeof a->name, "replay");
    a->act = replay_act;
    a->close = replay_close;
    return 0;
}
