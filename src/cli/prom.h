/* prom: HTTP GETs from the lab's telemetry services for the CLI — the
 * lab's Prometheus HTTP API (`metrics`, `observe export`) and any other
 * JSON endpoint on the node (the trace store's query API). libcurl does
 * the HTTP; answers are bounded by PROM_RESPONSE_MAX. Nothing here
 * prints: errors go into err.
 *
 * Convention: 0, or a negative errno:
 *   -ECONNREFUSED  nothing answers (the service is down), err says where
 *   -EIO           another transport failure
 *   -EPROTO        the answer is not the expected JSON
 *   -EINVAL        Prometheus refused the query (err: "TYPE: message")
 *   -E2BIG         the request or the answer is too large */
#ifndef CLI_PROM_H
#define CLI_PROM_H
#include <jansson.h>
#include <stddef.h>

#include "core/lab.h"

#define PROM_RESPONSE_MAX (64u << 20)

/* GET url; the parsed JSON body in *out (new reference) and the HTTP
 * status in *status. Call curl_global_init first. */
int prom_http_get_json(const char *url, json_t **out, long *status, char *err, size_t errlen);

/* GET path on the lab's Prometheus with the query parameters params
 * (NULL or key, value, ..., NULL; values are URL-escaped). On success the
 * whole answer (status "success") in *out, a new reference. */
int prom_get(const struct lab *lab, const char *path, const char *const *params, json_t **out, char *err,
             size_t errlen);

#endif
