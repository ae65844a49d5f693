/* daemon: the cluster daemon's shared state and the internal interface
 * between its parts — API server (api.c), controllers (deployment.c,
 * service.c), the pod runtime (kubelet.c, probe.c, podspec.c), events
 * (events.c) and the mesh supervisor (meshctl.c). One daemon per lab, one
 * libuv loop, no threads: every part runs on the loop. */
#ifndef CLUSTER_DAEMON_H
#define CLUSTER_DAEMON_H
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "cluster/store.h"
#include "core/lab.h"

#define DAEMON_NODE_NAME "aiopslab"

struct podrt; /* kubelet.c: the runtime side of one pod */

/* The lab's own processes (infra.c). */
enum infra_id { INFRA_MESH, INFRA_TRACES, INFRA_PROMETHEUS, INFRA_COUNT };
struct infra_proc {
    const char *name; /* "mesh": runs as `aiopslab __mesh`, pid file LABDIR/mesh/mesh.pid */
    pid_t pid;
    int pidfd;
    uv_poll_t poll;
    int polling;
    uint64_t restart_at;
};

struct daemon {
    struct lab lab;
    uv_loop_t *loop;
    struct store *store;
    char exe[PATH_MAX];     /* the aiopslab binary */
    char shim[PATH_MAX];    /* libaiopslab-shim.so */
    char appsbin[PATH_MAX]; /* app programs, first on pods' PATH */
    char limits[32];        /* resource limit mechanism in force */
    struct podrt *pods;     /* runtime list */
    uv_timer_t sync_timer, resync_timer, checkpoint_timer;
    uv_pipe_t api;
    uv_pipe_t agent_api; /* agent.sock: the agents' restricted view (api.c) */
    uv_tcp_t kubelet_http; /* cadvisor.c */
    uv_signal_t sigterm, sigint;
    uint64_t backoff_base_ms, backoff_max_ms;
    int stopping;
    int stop_pods_on_exit;
    struct infra_proc infra[INFRA_COUNT];
    char *mesh_routes; /* last routes.json written (meshctl.c) */
    char *prom_targets; /* last targets.json written (promctl.c) */
};

/* Schedule a full reconcile pass soon (coalesced). */
void daemon_kick(struct daemon *d);
/* Schedule a reconcile pass in ms milliseconds at the latest. */
void daemon_wake_in(struct daemon *d, uint64_t ms);
/* One reconcile pass over every controller. */
void daemon_sync(struct daemon *d);

/* kubelet.c */
void kubelet_sync(struct daemon *d);
/* Adopt containers that survived a daemon restart (call once at start). */
void kubelet_adopt(struct daemon *d);
/* Stop every pod's containers (cluster down). */
void kubelet_stop_all(struct daemon *d);
int kubelet_running_pods(struct daemon *d);
/* At daemon exit: close the runtime's handles, then (after the loop ran
 * their close callbacks) free it. Pods keep running. */
void kubelet_release(struct daemon *d);
void kubelet_free(struct daemon *d);
/* OOM kills of a container since the daemon started. */
int kubelet_oom_kills(struct daemon *d, const char *uid, const char *container);

/* cadvisor.c: serve node metrics on NODE_IP:LAB_KUBELET_PORT. The listener
 * is also the daemon's claim on the lab's network: -EADDRINUSE (and a
 * message in err) when another lab's daemon serves that address. */
int cadvisor_start(struct daemon *d, char *err, size_t errlen);

/* deployment.c */
void deployment_sync(struct daemon *d);
/* Rollout actions; 0 or -errno with err set (kubectl's text). */
int deployment_restart(struct daemon *d, json_t *deploy, char *err, size_t errlen);
int deployment_undo(struct daemon *d, json_t *deploy, long to_revision, char *err, size_t errlen);
/* The template hash Kubernetes-style ("5d8f7c9b6"). */
void deployment_template_hash(const json_t *template, char out[16]);

/* service.c */
/* Give a new Service its ClusterIP; 0 or -EINVAL with err. */
int service_assign_ip(struct daemon *d, json_t *svc, const json_t *old, char *err, size_t errlen);
void service_sync(struct daemon *d);

/* events.c: record an event about obj (type "Normal" or "Warning"). */
void event_record(struct daemon *d, const json_t *obj, const char *type, const char *reason,
                  const char *component, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* infra.c */
void infra_init(struct daemon *d);
/* Start (or re-adopt, or restart) every lab process that is not running. */
void infra_start(struct daemon *d);
void infra_stop(struct daemon *d);
/* At daemon exit: close the handles; the processes go on. */
void infra_release(struct daemon *d);
void infra_signal(struct daemon *d, enum infra_id id, int sig);

/* promctl.c: Prometheus' command line (config written first): 0, or -1
 * when Prometheus is not installed; promctl_argv_free frees what it made. */
int promctl_argv(struct daemon *d, char **argv, int max);
void promctl_argv_free(char **argv);
/* Write the scrape targets file from the pods (when it changed). */
void promctl_targets(struct daemon *d);

/* meshctl.c */
void meshctl_update(struct daemon *d, json_t *routes); /* steals routes */
/* The mesh-rule op of the API. */
json_t *meshctl_rule_op(struct daemon *d, json_t *req);

/* api.c */
int api_start(struct daemon *d, char *err, size_t errlen);
/* Build an error reply {"error":{code,reason,message}}. */
json_t *api_error(int code, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* spawn.c: start a program detached in its own session; returns its pid
 * and a pidfd (or -1 when pidfd_open is unavailable). 0 or -errno. */
int spawn_detached(char *const argv[], char *const envp[], const char *log_path, pid_t *pid, int *pidfd);
int pidfd_of(pid_t pid);

#endif
