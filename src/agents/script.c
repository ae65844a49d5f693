/* script: an agent that plays a fixed list of replies, in order — the
 * reference solutions and the shortcuts of `aiopslab validate`. When the
 * list is over it has nothing more to say (the session ends there). */
#include <stdio.h>
#include <string.h>

#include "agents/agent.h"
#include "core/alloc.h"

struct script {
    json_t *replies;
    size_t next;
};

static int script_act(struct agent *a, const char *input, struct buf *reply, char *err, size_t errlen)
{
    (void)input;
    struct script *s = a->impl;
    const char *text = json_string_value(json_array_get(s->replies, s->next));
    if (!text) {
        snprintf(err, errlen, "%s: trajectory ended (%zu turns)", a->name, s->next);
        return -1;
    }
    s->next++;
    /* Replies are calls as a person writes them; agents answer in a fenced block. */
    if (!strstr(text, "```")) return buf_append(reply, "```\n", 4) || buf_append(reply, text, strlen(text)) ||
                                            buf_append(reply, "\n```", 4)
                                        ? -1
                                        : 0;
    return buf_append(reply, text, strlen(text)) ? -1 : 0;
}

static void script_close(struct agent *a)
{
    struct script *s = a->impl;
    json_decref(s->replies);
    free(s);
    a->impl = NULL;
}

int agent_script_open(struct agent *a, const char *name, json_t *replies)
{
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    struct script *s = xcalloc(1, sizeof *s);
    s->replies = json_incref(replies);
    a->impl = s;
    a->act = script_act;
    a->close = script_close;
    return 0;
}
