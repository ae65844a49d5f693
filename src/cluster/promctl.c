/* promctl: the daemon's side of Prometheus (Debian's, run by infra.c on
 * the node IP). It writes Prometheus' configuration — scrape every 2 s the
 * node's cAdvisor metrics (cadvisor.c), the mesh, Prometheus itself, and
 * every pod annotated prometheus.io/scrape: "true" (port and path from
 * prometheus.io/port and prometheus.io/path, the Kubernetes convention) —
 * and keeps the pods' targets file (file_sd, LABDIR/prometheus/targets.json)
 * up to date with labels namespace, pod, service and container. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/daemon.h"
#include "cluster/object.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"

#define PROMETHEUS_BIN "/usr/bin/prometheus"

static int write_config(struct daemon *d)
{
    char node[16], dir[PATH_MAX], path[PATH_MAX + 32];
    lab_node_ip(&d->lab, node, sizeof node);
    lab_path(&d->lab, "prometheus", dir, sizeof dir);
    mkdir_p(dir, 0755);
    struct buf b;
    buf_init(&b, 65536);
    buf_printf(&b,
               "# Written by the aiopslab daemon at start; edits are lost.\n"
               "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 5s\n"
               "scrape_configs:\n"
               "  - job_name: kubelet-cadvisor\n    metrics_path: /metrics/cadvisor\n"
               "    static_configs: [{targets: ['%s:%d'], labels: {node: '%s'}}]\n"
               "  - job_name: mesh\n    static_configs: [{targets: ['%s:%d']}]\n"
               "  - job_name: prometheus\n    static_configs: [{targets: ['%s:%d']}]\n"
               "  - job_name: pods\n    file_sd_configs: [{files: ['%s/targets.json'], refresh_interval: 5s}]\n",
               node, LAB_KUBELET_PORT, DAEMON_NODE_NAME, node, LAB_MESH_ADMIN_PORT, node, LAB_PROMETHEUS_PORT, dir);
    snprintf(path, sizeof path, "%s/prometheus.yml", dir);
    int rc = write_file_replace(path, b.data, b.len);
    buf_free(&b);
    return rc;
}

int promctl_argv(struct daemon *d, char **argv, int max)
{
    static int said;
    if (access(PROMETHEUS_BIN, X_OK) != 0) {
        if (!said++) log_warn("%s is not installed: no Prometheus in this lab (scripts/install-deps.sh)", PROMETHEUS_BIN);
        return -1;
    }
    if (write_config(d) || max < 8) return -1;
    char node[16], dir[PATH_MAX];
    lab_node_ip(&d->lab, node, sizeof node);
    lab_path(&d->lab, "prometheus", dir, sizeof dir);
    promctl_targets(d);
    argv[0] = xstrdup(PROMETHEUS_BIN);
    argv[1] = xasprintf("--config.file=%s/prometheus.yml", dir);
    argv[2] = xasprintf("--storage.tsdb.path=%s/data", dir);
    argv[3] = xstrdup("--storage.tsdb.retention.time=6h");
    argv[4] = xasprintf("--web.listen-address=%s:%d", node, LAB_PROMETHEUS_PORT);
    argv[5] = xstrdup("--log.level=warn");
    argv[6] = NULL;
    return 0;
}

void promctl_argv_free(char **argv)
{
    for (int i = 0; argv[i]; i++) xfree(argv[i]);
}

void promctl_targets(struct daemon *d)
{
    json_t *targets = json_array();
    json_t *pods = store_list(d->store, "Pod", NULL);
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod) {
        const char *ip = json_path_str(pod, "status.podIP", NULL);
        const char *scrape = object_annotation(pod, "prometheus.io/scrape");
        if (!ip || !scrape || strcmp(scrape, "true") || json_path(pod, "metadata.deletionTimestamp")) continue;
        const char *port = object_annotation(pod, "prometheus.io/port");
        char portbuf[16];
        if (!port) {
            json_int_t p = json_path_int(json_array_get(json_path(json_array_get(json_path(pod, "spec.containers"), 0), "ports"), 0),
                                         "containerPort", 0);
            if (!p) continue;
            snprintf(portbuf, sizeof portbuf, "%lld", (long long)p);
            port = portbuf;
        }
        const char *path = object_annotation(pod, "prometheus.io/path");
        const char *app = json_path_str(pod, "metadata.labels.app", json_path_str(pod, "metadata.name", ""));
        char addr[64];
        snprintf(addr, sizeof addr, "%s:%s", ip, port);
        json_array_append_new(
            targets, json_pack("{s:[s], s:{s:s, s:s, s:s, s:s, s:s}}", "targets", addr, "labels", "namespace",
                               json_path_str(pod, "metadata.namespace", ""), "pod", json_path_str(pod, "metadata.name", ""),
                               "service", app, "container",
                               json_path_str(json_array_get(json_path(pod, "spec.containers"), 0), "name", ""),
                               "__metrics_path__", path ? path : "/metrics"));
    }
    json_decref(pods);
    char *text = json_dumps(targets, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(targets);
    if (d->prom_targets && !strcmp(d->prom_targets, text)) {
        free(text);
        return;
    }
    char dir[PATH_MAX], file[PATH_MAX + 32];
    lab_path(&d->lab, "prometheus", dir, sizeof dir);
    snprintf(file, sizeof file, "%s/targets.json", dir);
    mkdir_p(dir, 0755);
    if (write_file_replace(file, text, strlen(text))) {
        log_error("cannot write %s", file);
        free(text);
        return;
    }
    free(d->prom_targets);
    d->prom_targets = text;
}
