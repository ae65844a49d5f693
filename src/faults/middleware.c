/* middleware: the middleware layer's faults — the stores under the
 * services (PostgreSQL in MongoDB's place, Redis, memcached), broken the
 * way their operators break them: through the stores' own administration
 * (REVOKE, ALTER ROLE, ALTER SYSTEM, DROP INDEX, CONFIG SET, FLUSHALL), a
 * client that holds a lock or every connection slot, a scaled-down
 * Deployment, a killed process. See middleware_pg.c and middleware_cache.c. */
#include "faults/fault.h"
#include "faults/layers.h"
#include "faults/middleware.h"

const struct fault_type *const fault_types_middleware[] = {
    &mw_db_revoke_privileges,
    &mw_db_drop_user,
    &mw_db_password_change,
    &mw_db_max_connections,
    &mw_db_drop_index,
    &mw_db_lock,
    &mw_db_connection_exhaustion,
    &mw_redis_maxmemory_noeviction,
    &mw_cache_flush,
    &mw_memcached_down,
    &mw_store_kill,
    NULL,
};
