/* traces: the lab's trace store — an OTLP/HTTP JSON receiver (POST
 * /v1/traces) that keeps spans in SQLite with a size and age bound, and a
 * Jaeger-style query API (/api/services, /api/services/{s}/operations,
 * /api/traces). It runs as one lab process (`aiopslab __traces --lab-dir
 * LABDIR`), started and supervised by the cluster daemon like the mesh,
 * listening on the node IP: 127.NET.0.1:4318 (OTLP) and :16686 (query).
 * See docs/traces.md. */
#ifndef OBSERVE_TRACES_H
#define OBSERVE_TRACES_H

#include "core/lab.h"

#define TRACES_OTLP_PORT LAB_TRACES_OTLP_PORT
#define TRACES_QUERY_PORT LAB_TRACES_QUERY_PORT

int traces_main(int argc, char **argv);

#endif
