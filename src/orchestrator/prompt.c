/* prompt: AIOpsLab's task texts (see prompt.h), so agents written for it
 * read what they expect. */
#include "orchestrator/prompt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "orchestrator/aci.h"

static const char *const GOALS[TASKS] = {
    "You are an expert DevOps engineer assigned to detect anomalies in a deployed service.",
    "You are an expert DevOps engineer assigned to localize faults in a deployed service.",
    "You are an expert DevOps engineer assigned to do root cause analysis in a deployed service.",
    "You are an expert DevOps engineer assigned to mitigate anomalies in a deployed service.",
};

static const char *const SUBMITS[TASKS] = {
    "1. str: `Yes` or `No` to indicate whether there are anomalies detected",
    "1. list[str]: list of faulty components (i.e., service names)",
    "1. str: `system_level` the system level at which the fault occurred. Choose from: Hardware, Operating System, "
    "Network, Virtualization, Middleware, Application, Workload\n"
    "2. str: `fault_type` the type of the fault. Choose from: Misconfiguration, Code Defect, Authentication Issue, "
    "Network/Storage Issue, Operation Error, Dependency Problem, Resource Exhaustion, Overload",
    "Once your solution is complete and ready for evaluation, you must call `submit()` with no arguments. The "
    "service's live state is checked then: the root cause must be gone, the workload must meet its service level "
    "again, and nothing else may be broken.",
};

char *prompt_task(const struct problem *p)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    buf_printf(&b, "%s\n\nService Details:\nService Name: %s\nNamespace: %s\nDescription: %s\nSupported Operations:\n",
            GOALS[p->task], p->app->name, p->app->namespace, p->app->description);
    /* The operations are one ;-separated line in the table: a list here. */
    const char *ops = p->app->operations;
    while (*ops) {
        const char *semi = strchr(ops, ';');
        size_t n = semi ? (size_t)(semi - ops) : strlen(ops);
        buf_printf(&b, "  - %.*s\n", (int)n, ops);
        ops += n;
        while (*ops == ';' || *ops == ' ') ops++;
    }
    buf_printf(&b, "\nYou are requested to %s. ",
            p->task == TASK_DETECTION      ? "detect anomalies in the service"
            : p->task == TASK_LOCALIZATION ? "identify the service(s) where the root cause of the fault lies"
            : p->task == TASK_ANALYSIS     ? "analyze the root cause of the fault"
                                           : "mitigate the fault so that the service is healthy again");
    buf_printf(&b, "You will begin by analyzing the service's state and telemetry, and then submit your solution:\n%s\n",
            SUBMITS[p->task]);
    buf_append(&b, "", 1);
    return b.data;
}

char *prompt_instructions(enum task t)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    buf_printf(&b, "You will respond with one of the above APIs as your next action.\n"
                "Please respond in the following format in a markdown code block:\n"
                "```\n<API_NAME>(<API_PARAM1>, <API_PARAM2> ...)\n```\n\n"
                "For instance, if you want to list files in current directory, your response must be exactly:\n\n"
                "```\nexec_shell(\"ls -l\")\n```\n\n");
    switch (t) {
    case TASK_DETECTION:
        buf_printf(&b, "If you decide that there are no anomalies:\n\n```\nsubmit(\"No\")\n```\n\n"
                    "Or, if anomalies are found:\n\n```\nsubmit(\"Yes\")\n```\n\n");
        break;
    case TASK_LOCALIZATION:
        buf_printf(&b, "If there are faulty components to submit:\n\n```\nsubmit([\"placeholderA\", \"placeholderB\"])\n"
                    "```\n\n(where \"placeholderA\" and \"placeholderB\" are placeholders; replace them with the "
                    "faulty components in your environment)\n\nOr, if no faulty components are found:\n\n"
                    "```\nsubmit([])\n```\n\n");
        break;
    case TASK_ANALYSIS:
        buf_printf(&b, "When you have the root cause, submit it as a dict:\n\n```\nsubmit({\"system_level\": "
                    "\"Virtualization\", \"fault_type\": \"Misconfiguration\"})\n```\n\n");
        break;
    case TASK_MITIGATION:
        buf_printf(&b, "Once your solution is complete and ready for evaluation, respond with:\n\n```\nsubmit()\n```\n\n");
        break;
    default: break;
    }
    buf_printf(&b, "Please respond with only a single API call (a.k.a., action) per turn without any additional "
                "words, labels, or prefixes.\n");
    buf_append(&b, "", 1);
    return b.data;
}

char *prompt_full(const struct problem *p)
{
    char *task = prompt_task(p), *acts = aci_describe(p->task), *ins = prompt_instructions(p->task);
    struct buf b;
    buf_init(&b, 1u << 20);
    buf_printf(&b, "%s\nYou are provided with the following APIs to interact with the service:\n\n", task);
    buf_append(&b, acts, strlen(acts));
    buf_printf(&b, "\n");
    buf_append(&b, ins, strlen(ins));
    buf_append(&b, "", 1);
    free(task);
    free(acts);
    free(ins);
    return b.data;
}
