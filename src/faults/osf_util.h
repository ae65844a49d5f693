/* osf_util: what the OS and hardware faults share — the target
 * Deployment's running containers as processes (main pid, its start time,
 * its conmon, its cgroup, its pod IP and port), their member processes,
 * joining a container's cgroup, and small /proc readers.
 *
 * Convention: 0 or -1 with c->err (the fault_ctx of the caller). */
#ifndef FAULTS_OSF_UTIL_H
#define FAULTS_OSF_UTIL_H
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "faults/fault.h"

#define OSF_MAX_PODS 16

/* One running container (the first of its pod) of the target. */
struct osf_ctr {
    char pod[256], uid[64], name[64];
    int restarts;
    pid_t pid;      /* the container's main process (its session leader) */
    uint64_t start; /* its start time (identity) */
    pid_t conmon;
    char limits[16]; /* cgroup-v2, cgroup-v1, poll, none */
    char cgroup[256];
    char ip[48];
    int port;                 /* its first containerPort, 0 if none */
    char root[PATH_MAX];      /* the pod's root (HOME of its processes) */
    char rundir[PATH_MAX];
};

/* The running containers of Deployment c->target (at most OSF_MAX_PODS).
 * The count (>= 1), or -1 with c->err when there is none. */
int osf_containers(struct fault_ctx *c, struct osf_ctr *out, int max);
/* The running containers of c->target whose pod is Ready (for fixed():
 * a target scaled to zero or not serving is not fixed). Count >= 0, or -1. */
int osf_ready_containers(struct fault_ctx *c, struct osf_ctr *out, int max);
/* Re-read one pod's container by pod name: 0 when it runs (out filled),
 * -1 when it is gone or not running. */
int osf_container_of(struct fault_ctx *c, const char *pod, struct osf_ctr *out);
/* The pids of the container's processes (its cgroup, or its session and
 * conmon's descendants). Count (>= 0); *out malloc'd. */
int osf_members(const struct osf_ctr *k, pid_t **out);
/* Whether the container uses a cgroup this process can join. */
int osf_has_cgroup(const struct osf_ctr *k);
/* Resource use of the container (cgroup accounting, else its processes). 0 or -errno. */
struct limits_usage;
int osf_usage(const struct osf_ctr *k, struct limits_usage *u);
/* Move the calling process into the container's cgroup. 0 or -errno. */
int osf_join_cgroup(const struct osf_ctr *k, char *err, size_t errlen);
/* prlimit(2) on another process, also one of another user when this
 * process lacks CAP_SYS_RESOURCE (containers often drop it): a child
 * takes the target's uid and gid, which the kernel accepts, then calls
 * prlimit. 0 or -errno. */
struct rlimit;
int osf_prlimit(pid_t pid, int res, const struct rlimit *nl, struct rlimit *old);
/* /proc/PID/stat's state letter ('R', 'S', 'T', ...) or 0 if gone. */
char osf_proc_state(pid_t pid);
/* Open descriptors of pid, or -1. */
int osf_proc_nfds(pid_t pid);
/* A state entry {pid, start} for a process, as faults record them. */
json_t *osf_proc_ref(pid_t pid);
/* The pid of such an entry when it is still the same process, else 0. */
pid_t osf_proc_live(const json_t *ref);
/* Sleep ms, in steps that return early (0) once the fault is no longer
 * active; 1 when the whole time passed with the fault active. */
int osf_sleep_active(struct fault_ctx *c, unsigned ms);
/* A program's path through PATH, or -1 when it is not installed. */
int osf_which(const char *prog, char *out, size_t n);

#endif
