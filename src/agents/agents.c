/* agents: an agent by name — the built-in ones, or an external program. */
#include <stdio.h>
#include <string.h>

#include "agents/agent.h"
#include "core/util.h"

int agent_open(const char *name, const char *cmd, unsigned timeout_ms, const struct agent_confine *confine,
               struct agent *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (cmd) return agent_external_open(out, cmd, timeout_ms, confine, err, errlen);
    if (!strcmp(name, "baseline")) return agent_baseline_open(out);
    if (str_has_prefix(name, "replay:") && name[7]) return agent_replay_open(out, name + 7, err, errlen);
    snprintf(err, errlen, "unknown agent \"%.64s\" (baseline, replay:FILE, or --agent-cmd CMD)", name);
    return -1;
}

void agent_close(struct agent *a)
{
    if (a->close) a->close(a);
    a->close = NULL;
}
