/* kit: the service kit every aiopslab app service is written on.
 *
 * An app service is an ordinary program (it knows nothing of src/): it
 * calls kit_new, registers handlers, and kit_serve runs an HTTP/1.1 JSON
 * server (libmicrohttpd, a thread pool) until SIGTERM, then drains and
 * returns. Around every handler the kit does what a production service
 * framework does:
 *   - W3C trace context: the inbound `traceparent` is continued (or a new
 *     trace begun); a server span per request and a client span per
 *     outbound call or store operation are exported over OTLP/HTTP JSON to
 *     $OTEL_EXPORTER_OTLP_ENDPOINT (+ "/v1/traces") from a background
 *     thread, batched, with a bounded queue: a missing collector drops
 *     spans, it never slows or fails a request.
 *   - Prometheus metrics on GET /metrics (see KIT METRICS below), GET
 *     /healthz (alive) and GET /readyz (ready once kit_serve listens and
 *     every store pool made its first connection).
 *   - One JSON log line per event on stdout: {"ts","level","service",
 *     "trace_id","span_id","msg"} with messages written the way real
 *     services write them ("connect to user-service:9090 failed:
 *     Connection refused", "pq: permission denied for table posts").
 *
 * Configuration is read from the environment (which Kubernetes fills from
 * the manifest, ConfigMaps and Secrets):
 *   PORT                         listen port (required)
 *   KIT_THREADS                  server threads (default 4)
 *   KIT_CALL_TIMEOUT_MS          deadline of an outbound call (default 2000)
 *   KIT_CALL_RETRIES             retries of a failed call (default 1), of the failures KIT_RETRY_ON names
 *   KIT_RETRY_ON                 which failures are retried: a comma list of connect (never reached the
 *                                server), timeout, 5xx, reset (default connect; see client.c)
 *   KIT_RETRY_BACKOFF_MS         base of the exponential back-off between attempts (default 50; 0: none)
 *   APP_VERSION                  the release to run (see kit_release; default the app's current one)
 *   KIT_MAX_BODY                 largest request body accepted (default 1 MiB)
 *   LOG_LEVEL                    debug|info|warn|error (default info)
 *   KIT_FLAGS_FILE               flagd-style feature flags (flags.c; unset: none), re-read when it changes
 *   OTEL_EXPORTER_OTLP_ENDPOINT  e.g. http://otel-collector.observe:4318 (unset: no export)
 *   <NAME>_SERVICE_HOST/_PORT    where service NAME is (Kubernetes service variables)
 *   store pools: see kit_pg_new, kit_redis_new, kit_mc_new.
 *
 * Threads: handlers run on the server's threads; every function here is
 * thread-safe. Ownership: json_t bodies passed to kit_reply_json are
 * stolen; replies returned to the caller are new references (or malloc'd
 * bytes the caller frees, for kit_call_raw and kit_mc_get*).
 *
 * KIT METRICS (labels in braces):
 *   http_server_requests_total{service,operation,method,status}
 *   http_server_request_duration_seconds{service,operation} (histogram)
 *   http_server_requests_in_flight{service}
 *   http_client_requests_total{service,downstream,status}   (status "error" for transport failures)
 *   http_client_request_duration_seconds{service,downstream} (histogram)
 *   http_client_retries_total{service,downstream,reason}   (reason: connect, timeout, 5xx, reset)
 *   service_build_info{service,version}                     (1; see kit_release)
 *   downstream_errors_total{service,downstream,reason}       (reason: refused, timeout, reset, dns, http_5xx, other)
 *   db_client_operations_total{service,system,operation,status}  (system: postgresql|redis|memcached; status ok|error)
 *   db_client_operation_duration_seconds{service,system} (histogram)
 *   trace_spans_dropped_total{service}
 *   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
 *   process_open_fds, process_max_fds, process_start_time_seconds, process_threads
 */
#ifndef KIT_H
#define KIT_H
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

struct kit;
struct kit_req;

enum kit_level { KIT_DEBUG, KIT_INFO, KIT_WARN, KIT_ERROR };

/* ---- the service ---- */

/* Read the environment; exits with a clear message on bad configuration. */
struct kit *kit_new(const char *service);
typedef void (*kit_handler)(struct kit_req *r, void *arg);
/* Route METHOD PATH (exact path) to h, reported as operation (the span and
 * metric name, e.g. "compose_post"). Register before kit_serve. */
void kit_handle(struct kit *k, const char *method, const char *path, const char *operation, kit_handler h, void *arg);
/* Serve until SIGTERM/SIGINT; then stop accepting, finish the requests in
 * flight (at most 10 s), flush spans, and return 0 (or 1 when the port
 * cannot be bound, after logging why). */
int kit_serve(struct kit *k);
/* Wait ms milliseconds before kit_serve (a store that is not up yet): a
 * SIGTERM/SIGINT meanwhile ends the process at once (exit 0, logged), as
 * a service that has nothing to drain yet does, instead of leaving the
 * signal pending until the grace period runs out. */
void kit_pause(struct kit *k, unsigned ms);
void kit_free(struct kit *k);
/* A process-wide log line outside any request. */
void kit_logf(struct kit *k, enum kit_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- the request ---- */

const char *kit_method(const struct kit_req *r);
const char *kit_path(const struct kit_req *r);
/* A query-string or application/x-www-form-urlencoded body parameter
 * (decoded), or NULL. */
const char *kit_param(struct kit_req *r, const char *name);
/* The request body parsed as JSON (borrowed), or NULL with err set when it
 * is missing or malformed. */
json_t *kit_json(struct kit_req *r, char *err, size_t errlen);
const char *kit_header(struct kit_req *r, const char *name);
/* Log within the request (adds trace_id and span_id). */
void kit_log(struct kit_req *r, enum kit_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Exactly one reply per request; a handler that returns without one
 * answers 500. */
void kit_reply_json(struct kit_req *r, int status, json_t *body);
void kit_reply_text(struct kit_req *r, int status, const char *content_type, const char *body);
/* body[0..len-1] as it is (copied; may hold any bytes), e.g. JSON text
 * from kit_call_raw with content type "application/json" (NULL: text/plain). */
void kit_reply_raw(struct kit_req *r, int status, const char *content_type, const char *body, size_t len);
/* {"error": "MSG"} with status; logs MSG at warn (4xx) or error (5xx) and
 * marks the request's span as an error for 5xx. */
void kit_reply_error(struct kit_req *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- calling another service (through the mesh) ---- */

/* METHOD http://$SERVICE_SERVICE_HOST:$SERVICE_SERVICE_PORT PATH with a
 * JSON body (may be NULL) and the trace context, under the call deadline,
 * retrying only failed connects. service is the Kubernetes Service name,
 * e.g. "user-service". Returns the HTTP status, with the parsed JSON reply
 * (new reference, may be NULL) in *reply; or a negative errno for a
 * transport failure, with err like "connect to user-service:9090 failed:
 * Connection refused" or "call to user-service:9090 timed out after
 * 2000 ms". A missing service variable is -EHOSTUNREACH ("no address for
 * service user-service (USER_SERVICE_SERVICE_HOST is not set)"). */
int kit_call(struct kit_req *r, const char *service, const char *method, const char *path, const json_t *body,
             json_t **reply, char *err, size_t errlen);
/* kit_call, but the reply body comes back as bytes, unparsed: for a
 * service that passes a reply on (with kit_reply_raw) without looking
 * inside. *reply is the body (malloc'd, NUL-terminated, caller frees; NULL
 * when empty or on a transport failure) and *len its length (len may be
 * NULL). Returns as kit_call does. */
int kit_call_raw(struct kit_req *r, const char *service, const char *method, const char *path, const json_t *body,
                 char **reply, size_t *len, char *err, size_t errlen);

/* ---- feature flags (see flags.c) ---- */

/* The app's services (their flags are not unknown to this one): call
 * between kit_new and kit_serve. */
void kit_flags_services(struct kit *k, const char *const *services, size_t n);
/* Whether this request takes the service's slow code path (flag
 * <service>SlowPath) or bypasses its cache (<service>CacheFailure). */
int kit_flag_slow_path(const struct kit_req *r);
int kit_flag_cache_bypass(const struct kit_req *r);

/* ---- releases (see release.c) ---- */

/* The kind of regression a release ships. */
enum kit_regression {
    KIT_REGRESSION_NONE,
    KIT_REGRESSION_ERRORS,        /* a share of requests fail (a real bug on some inputs) */
    KIT_REGRESSION_WRONG_RESULTS, /* answers 200 with wrong data */
    KIT_REGRESSION_SLOW,          /* a slower code path (N+1 reads, no cache) */
};
/* One row of an app's table: the release version of service carries the
 * regression. */
struct kit_release {
    const char *version, *service;
    enum kit_regression regression;
};
/* Pick the release to run: $APP_VERSION, else current. Exits as bad
 * configuration when it is not 1-64 of [0-9A-Za-z.+-_]. Logs "starting
 * SERVICE version V" and sets service_build_info. A version the table does
 * not list for this service runs the good code. Call between kit_new and
 * kit_serve; table is read at once (not kept). */
void kit_release(struct kit *k, const char *current, const struct kit_release *table, size_t n);
const char *kit_version(const struct kit *k);
/* The regression of the running release (KIT_REGRESSION_NONE mostly). */
enum kit_regression kit_regression(const struct kit_req *r);
/* Go's bounds check, reported as a Go service's recovery middleware does:
 * 0 when i < len; else logs "panic recovered in OPERATION: runtime error:
 * index out of range [i] with length len", answers 500 with that error,
 * and returns -1 (the handler must return). */
int kit_index_check(struct kit_req *r, size_t i, size_t len);

/* ---- spans of one's own ---- */

struct kit_span;
struct kit_span *kit_span_begin(struct kit_req *r, const char *name);
void kit_span_attr(struct kit_span *s, const char *key, const char *value);
/* End the span; error non-NULL marks it failed with that message. */
void kit_span_end(struct kit_span *s, const char *error);

/* ---- stores: pooled clients with timeouts ---- */

/* A PostgreSQL pool. The connection comes from <PREFIX>_HOST, _PORT
 * (default 5432), _DB, _USER, _PASSWORD (e.g. prefix "POST_STORAGE_DB").
 * KIT_PG_POOL connections (default 4), connect timeout 2 s, statement
 * timeout KIT_PG_STATEMENT_TIMEOUT_MS (default 2000). Never fails: the
 * first connection is tried at kit_serve and later on demand. */
struct kit_pg *kit_pg_new(struct kit *k, const char *env_prefix);
/* PQexecParams on a pooled connection (a broken one is reconnected once).
 * Returns the result (caller PQclear()s) for PGRES_COMMAND_OK and
 * PGRES_TUPLES_OK, else NULL with err as lib/pq words it: "pq: permission
 * denied for table posts", "dial tcp 127.100.1.7:5432: connect: connection
 * refused". The operation is recorded as a span and in the db metrics. */
PGresult *kit_pg_exec(struct kit_req *r, struct kit_pg *pg, const char *sql, int nparams,
                      const char *const *params, char *err, size_t errlen);

/* A Redis pool from <PREFIX>_HOST and _PORT (default 6379); KIT_REDIS_POOL
 * (default 4), 1 s timeouts. */
struct kit_redis *kit_redis_new(struct kit *k, const char *env_prefix);
/* A command as an argument vector. Returns the reply (caller
 * freeReplyObject()s) or NULL with err ("dial tcp ...: connection refused",
 * "OOM command not allowed when used memory > 'maxmemory'."); an error
 * reply from Redis is returned as NULL with its text in err. */
redisReply *kit_redis(struct kit_req *r, struct kit_redis *rd, int argc, const char **argv, const size_t *argvlen,
                      char *err, size_t errlen);

/* A memcached pool from <PREFIX>_HOST and _PORT (default 11211). */
struct kit_mc *kit_mc_new(struct kit *k, const char *env_prefix);
/* Get: 1 and a malloc'd value in *val (caller frees) on a hit, 0 on a
 * miss, -1 with err on failure. */
int kit_mc_get(struct kit_req *r, struct kit_mc *mc, const char *key, char **val, size_t *len, char *err,
               size_t errlen);
/* Multi-get: keys[0..n-1] in one round trip (`get k1 k2 ...`, as
 * libmemcached's memcached_mget). vals[i] is a malloc'd value (caller
 * frees; NUL-terminated, its length in lens[i] when lens is non-NULL) for
 * a hit and NULL for a miss; a key may appear more than once. Returns the
 * number of hits (0 for n == 0, without asking the server), or -1 with err
 * and every vals[i] NULL (a bad key is reported by its index). One span
 * and one db operation "get_multi", however many keys. */
int kit_mc_get_multi(struct kit_req *r, struct kit_mc *mc, const char *const *keys, size_t n, char **vals,
                     size_t *lens, char *err, size_t errlen);
/* Set: 0, or -1 with err. Delete: 1 when deleted, 0 when there was no such
 * key, -1 with err. Keys are 1-250 bytes without spaces or control
 * characters (as memcached requires); values at most 8 MiB. */
int kit_mc_set(struct kit_req *r, struct kit_mc *mc, const char *key, const char *val, size_t len, int ttl_s,
               char *err, size_t errlen);
int kit_mc_delete(struct kit_req *r, struct kit_mc *mc, const char *key, char *err, size_t errlen);

#endif
