/* journal: the fault library's write-ahead record (SQLite, WAL,
 * synchronous=FULL: a row is on disk before the call returns).
 * LABDIR/faults/journal.db, readable by the lab's owner only.
 *
 * A fault's row goes through injecting -> active -> recovering ->
 * recovered. Every row not yet recovered is undone by `aiopslab fault
 * recover --all` and at every daemon start. Rows keep the type's own state
 * (JSON) that its recover needs. Several processes may use the journal at
 * once (busy timeout); the insert that checks conflicts is one IMMEDIATE
 * transaction. */
#ifndef FAULTS_JOURNAL_H
#define FAULTS_JOURNAL_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lab.h"

struct fault_journal;

int journal_open(const struct lab *lab, struct fault_journal **out, char *err, size_t errlen);
void journal_close(struct fault_journal *j);
/* Insert a row in state "injecting" unless a fault not yet recovered holds
 * the same resource on one of the same targets (entities: array of
 * "ns/name"); then -EBUSY and err names it. 0 or -errno. */
int journal_begin(struct fault_journal *j, const char *type, const char *resource, const char *ns, const char *target,
                  const json_t *entities, const json_t *params, int64_t *id, char *err, size_t errlen);
int journal_save_state(struct fault_journal *j, int64_t id, const json_t *state);
/* status: "active", "recovering", "recovered", "failed" (inject failed and
 * was undone). took_ns/message: 0/NULL keep what is there. */
int journal_set_status(struct fault_journal *j, int64_t id, const char *status, uint64_t took_ns, const char *message);
/* One row as {id, type, resource, namespace, target, entities, params, state, status, injectedAt, tookAt,
 * recoveredAt, message} (times in ns), or NULL when absent. */
json_t *journal_get(struct fault_journal *j, int64_t id);
/* Rows (all == 0: not yet recovered), oldest first. */
json_t *journal_list(struct fault_journal *j, int all);

#endif
