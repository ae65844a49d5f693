/* digest: a fingerprint of a namespace's PostgreSQL data, to prove that a
 * fault (or an agent's mitigation) lost nothing: for every PostgreSQL
 * store (a Deployment running aiopslab-postgres or postgres), every
 * database and every table, the row count and an md5 over the rows in
 * primary-key order, read as the store's superuser.
 *
 *   {"namespace": NS,
 *    "stores": {"DEPLOYMENT": {"identity": "...",
 *                              "DATABASE": {"SCHEMA.TABLE": {"rows": N, "md5": "..."}}}}}
 *
 * identity is the PostgreSQL cluster's system identifier (pg_control_system())
 * and the incarnation aiopslab-postgres writes as the comment of the database
 * "postgres" at initialisation: a new one means the store's data directory
 * was created anew.
 *
 * A store that cannot be read makes the whole digest fail (a partial one
 * would compare equal to nothing and prove nothing). */
#ifndef FAULTS_DIGEST_H
#define FAULTS_DIGEST_H
#include <jansson.h>

#include "core/lab.h"

/* New reference, or NULL with err. */
json_t *fault_digest(const struct lab *lab, const char *ns, char *err, size_t errlen);

#endif
