/* prompt: the text a problem poses, in AIOpsLab's shape — the task
 * description with the app summary, the instructions (how to answer), and
 * the documented actions. It names the app, never the fault. */
#ifndef ORCHESTRATOR_PROMPT_H
#define ORCHESTRATOR_PROMPT_H
#include "orchestrator/problem.h"

/* The task description (service details and what to submit). New string. */
char *prompt_task(const struct problem *p);
/* The instructions: one call per turn in a fenced block. New string. */
char *prompt_instructions(enum task t);
/* Everything the agent gets first: task, actions, instructions. New string. */
char *prompt_full(const struct problem *p);
/* What follows every observation. */
#define PROMPT_NEXT "\nPlease take the next action"

#endif
