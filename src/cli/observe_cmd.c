/* observe_cmd: `aiopslab observe endpoints` — where the lab's telemetry
 * is: Prometheus, the trace store's query API and OTLP receiver, the
 * node's cAdvisor metrics and the mesh's metrics, all on the node IP —
 * and `aiopslab observe export` (export_cmd.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/lab.h"

int cli_observe(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "export")) return cli_export(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "endpoints") || argc > 2) {
        FILE *f = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr;
        fprintf(f, "Usage: aiopslab [--lab NAME] observe endpoints               where the lab's metrics, traces and logs are\n"
                   "       aiopslab [--lab NAME] observe export [--since 10m] DIR   write them to files (CSV, logs)\n");
        return f == stdout ? 0 : 2;
    }
    struct lab lab;
    char err[512];
    if (lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return 1;
    }
    if (!lab.net) {
        fprintf(stderr, "aiopslab: lab \"%s\" does not exist (aiopslab cluster up)\n", lab.name);
        return 1;
    }
    char ip[16];
    lab_node_ip(&lab, ip, sizeof ip);
    printf("prometheus         http://%s:%d            (PromQL: /api/v1/query)\n", ip, LAB_PROMETHEUS_PORT);
    printf("trace query        http://%s:%d           (Jaeger API: /api/services, /api/traces)\n", ip,
           LAB_TRACES_QUERY_PORT);
    printf("otlp receiver      http://%s:%d/v1/traces  (OTLP/HTTP JSON)\n", ip, LAB_TRACES_OTLP_PORT);
    printf("node metrics       http://%s:%d/metrics/cadvisor\n", ip, LAB_KUBELET_PORT);
    printf("mesh metrics       http://%s:%d/metrics\n", ip, LAB_MESH_ADMIN_PORT);
    printf("pod logs           %s/pods/<pod-uid>/containers/<container>/<run>/current.log (kubectl logs)\n", lab.dir);
    return 0;
}
