/* results: where sessions are recorded — one JSON file per session with
 * AIOpsLab's keys (agent, session_id, problem_id, start_time, end_time,
 * trace, results) plus ground_truth, submission, timings and status, and
 * a row per session in a SQLite database (DIR/results.db, WAL) that
 * `aiopslab results` reads. DIR is $AIOPSLAB_HOME/results by default,
 * private to the lab's owner (agents never see it). */
#ifndef ORCHESTRATOR_RESULTS_H
#define ORCHESTRATOR_RESULTS_H
#include <jansson.h>
#include <stddef.h>

/* The results folder ($AIOPSLAB_RESULTS, else $AIOPSLAB_HOME/results, else
 * ~/.aiopslab/results; root: /var/lib/aiopslab/results), created 0700. 0 or -1. */
int results_dir(char *out, size_t n, char *err, size_t errlen);
/* Write DIR/<session_id>.json and its row. 0 or -1 with err. */
int results_save(const char *dir, const json_t *session, char *err, size_t errlen);

#endif
