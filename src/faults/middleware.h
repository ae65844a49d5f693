/* middleware: the middleware layer's fault types, defined in
 * middleware_pg.c (PostgreSQL) and middleware_cache.c (Redis, memcached,
 * any store's process) and listed by middleware.c. */
#ifndef FAULTS_MIDDLEWARE_H
#define FAULTS_MIDDLEWARE_H
#include "faults/fault.h"

extern const struct fault_type mw_db_revoke_privileges, mw_db_drop_user, mw_db_password_change,
    mw_db_max_connections, mw_db_drop_index, mw_db_lock, mw_db_connection_exhaustion;
extern const struct fault_type mw_redis_maxmemory_noeviction, mw_cache_flush, mw_memcached_down, mw_store_kill;

#endif
