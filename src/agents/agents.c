/* agents: an agent by name — the built-in ones, or an external program. */
#include <stdio.h>
#include <string.h>

#include "agents/agent.h"

int agent_open(const char *name, const char *cmd, unsigned timeout_ms, struct agent *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    (void)timeout_ms;
    if (cmd) {
        snprintf(err, errlen, "external agents are not built yet");
        return -1;
    }
    if (!strcmp(name, "baseline")) return agent_baseline_open(out);
    snprintf(err, errlen, "unknown agent \"%.64s\" (baseline, replay:FILE, or --agent-cmd CMD)", name);
    return -1;
}

void agent_close(struct agent *a)
{
    if (a->close) a->close(a);
    a->close = NULL;
}
