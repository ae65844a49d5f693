/* cluster_cmd: `aiopslab cluster up|down|status` and the internal
 * `__daemon` role. `up` starts the lab's daemon detached and returns once
 * it answers; `down` stops the daemon with every pod and the mesh. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cluster/client.h"
#include "cluster/cluster.h"
#include "core/buf.h"
#include "observe/traces.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/util.h"

extern char **environ;

static int open_lab(struct lab *lab)
{
    char err[512];
    if (lab_resolve(NULL, lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return -1;
    }
    return 0;
}

/* The daemon's status reply, or NULL when it does not answer. */
static json_t *daemon_status(const struct lab *lab)
{
    char err[512];
    json_t *req = json_pack("{s:s}", "op", "status"), *reply = NULL;
    int rc = cluster_call(lab, req, &reply, err, sizeof err);
    json_decref(req);
    if (rc || json_object_get(reply, "error")) {
        json_decref(reply);
        return NULL;
    }
    return reply;
}

static void print_tail(const char *path, int lines)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    if (read_file(path, &b) == 0 && b.len) {
        int n = 0;
        size_t i = b.len;
        while (i > 0 && n <= lines) {
            i--;
            if (b.data[i] == '\n') n++;
        }
        fprintf(stderr, "--- %s ---\n%s", path, b.data + (i ? i + 1 : 0));
    }
    buf_free(&b);
}

/* 0: the daemon is up; 1: it did not answer in time; 2: it exited. */
static int start_daemon(struct lab *lab, int quiet)
{
    char exe[PATH_MAX], out[PATH_MAX], logs[PATH_MAX];
    if (self_exe(exe, sizeof exe)) {
        fprintf(stderr, "aiopslab: cannot find my own binary\n");
        return 1;
    }
    lab_path(lab, "logs", logs, sizeof logs);
    mkdir_p(logs, 0755);
    lab_path(lab, "logs/daemon.out", out, sizeof out);
    setenv("AIOPSLAB_LAB", lab->name, 1);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* Nothing else of the caller's: a descriptor it inherited (a lock that
     * flock(1) holds for a script) would otherwise live as long as the lab. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
    char *argv[] = {exe, "__daemon", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc) {
        fprintf(stderr, "aiopslab: cannot start the daemon: %s\n", strerror(rc));
        return 1;
    }
    uint64_t deadline = mono_ns() + 15000000000ull;
    int exited = 0;
    while (mono_ns() < deadline && !exited) {
        json_t *st = daemon_status(lab);
        if (st) {
            if (!quiet)
                printf("cluster \"%s\" is up: network 127.%d.0.0/16, node %s, limits by %s\n  data: %s\n", lab->name,
                       lab->net, json_path_str(st, "nodeIP", ""), json_path_str(st, "limits", ""), lab->dir);
            json_decref(st);
            return 0;
        }
        exited = waitpid(pid, NULL, WNOHANG) == pid;
        if (!exited) usleep(20000);
    }
    fprintf(stderr, "aiopslab: the daemon of lab \"%s\" did not start\n", lab->name);
    print_tail(out, 10);
    return exited ? 2 : 1;
}

static int cluster_up(int argc, char **argv)
{
    long net = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--net") && i + 1 < argc) {
            if (parse_long(argv[++i], 2, 254, &net)) {
                fprintf(stderr, "aiopslab: --net wants a number from 2 to 254 (the second octet of 127.N.0.0/16)\n");
                return 2;
            }
        } else {
            fprintf(stderr, "aiopslab: cluster up: unknown argument \"%s\"\nUsage: aiopslab cluster up [--net N]\n", argv[i]);
            return 2;
        }
    }
    struct lab lab;
    if (open_lab(&lab)) return 1;
    json_t *st = daemon_status(&lab);
    if (st) {
        printf("cluster \"%s\" is already up (network 127.%d.0.0/16, pid %lld)\n", lab.name, lab.net,
               (long long)json_path_int(st, "pid", 0));
        json_decref(st);
        return 0;
    }
    char err[512];
    if (net && lab.net && lab.net != net) {
        fprintf(stderr, "aiopslab: lab \"%s\" already uses 127.%d.0.0/16 (remove it with cluster down --purge)\n",
                lab.name, lab.net);
        return 1;
    }
    int fresh = !lab.net;
    if (lab_init(&lab, (int)net, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return 1;
    }
    int rc = start_daemon(&lab, 0);
    /* A new lab whose daemon gave up (its network was taken meanwhile) never
     * ran: forget it, so that it can be asked for again on another network. */
    if (rc == 2 && fresh) rm_rf(lab.dir);
    return rc ? 1 : 0;
}

/* Ask the daemon that answered with status st (taken) to stop every pod
 * and itself, and wait for it. */
static int stop_daemon(const struct lab *lab, json_t *st)
{
    long pid = (long)json_path_int(st, "pid", 0);
    json_decref(st);
    char err[512];
    json_t *req = json_pack("{s:s, s:b}", "op", "shutdown", "stopPods", 1), *reply = NULL;
    int rc = cluster_call(lab, req, &reply, err, sizeof err);
    json_decref(req);
    json_decref(reply);
    if (rc) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return 1;
    }
    /* The daemon waits up to the longest grace period (at most 300 s) and
     * then kills what is left. */
    uint64_t deadline = mono_ns() + 320000000000ull;
    /* The daemon may be our own child (started above): reap it. */
    while (pid > 0 && waitpid((pid_t)pid, NULL, WNOHANG) != (pid_t)pid && proc_alive((pid_t)pid) &&
           mono_ns() < deadline)
        usleep(20000);
    return 0;
}

static int cluster_down(int argc, char **argv)
{
    int purge = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--purge")) purge = 1;
        else {
            fprintf(stderr, "aiopslab: cluster down: unknown argument \"%s\"\nUsage: aiopslab cluster down [--purge]\n",
                    argv[i]);
            return 2;
        }
    }
    struct lab lab;
    if (open_lab(&lab)) return 1;
    if (!lab.net) {
        printf("cluster \"%s\" does not exist\n", lab.name);
        return 0;
    }
    json_t *st = daemon_status(&lab);
    if (!st && proc_find_under(lab.dir)) {
        /* No daemon, yet monitors or infra of the lab run (its daemon was
         * killed): start one so that it re-adopts and stops them. A lab
         * with nothing left running needs none (its network may be another
         * lab's by now). */
        if (start_daemon(&lab, 1)) return 1;
        st = daemon_status(&lab);
    }
    if (st && stop_daemon(&lab, st)) return 1;
    if (purge) rm_rf(lab.dir);
    printf("cluster \"%s\" is down%s\n", lab.name, purge ? " and its data removed" : "");
    return 0;
}

static int cluster_status(void)
{
    struct lab lab;
    if (open_lab(&lab)) return 1;
    json_t *st = daemon_status(&lab);
    if (!st) {
        printf("cluster \"%s\" is down\n", lab.name);
        return 1;
    }
    printf("cluster \"%s\" is up\n"
           "  network:  127.%d.0.0/16 (node %s)\n"
           "  daemon:   pid %lld\n"
           "  mesh:     pid %lld, admin http://%s:%d/metrics\n"
           "  traces:   pid %lld, OTLP http://%s:%d/v1/traces, query http://%s:%d/api/traces\n"
           "  pods:     %lld (%lld running)\n"
           "  limits:   %s\n"
           "  data:     %s\n",
           lab.name, lab.net, json_path_str(st, "nodeIP", ""), (long long)json_path_int(st, "pid", 0),
           (long long)json_path_int(st, "meshPid", 0), json_path_str(st, "nodeIP", ""), LAB_MESH_ADMIN_PORT,
           (long long)json_path_int(st, "tracesPid", 0), json_path_str(st, "nodeIP", ""), TRACES_OTLP_PORT,
           json_path_str(st, "nodeIP", ""), TRACES_QUERY_PORT,
           (long long)json_path_int(st, "pods", 0), (long long)json_path_int(st, "runningPods", 0),
           json_path_str(st, "limits", ""), lab.dir);
    json_decref(st);
    return 0;
}

int cli_cluster(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (sub && !strcmp(sub, "up")) return cluster_up(argc - 1, argv + 1);
    if (sub && !strcmp(sub, "down")) return cluster_down(argc - 1, argv + 1);
    if (sub && !strcmp(sub, "status")) return cluster_status();
    FILE *f = sub && (!strcmp(sub, "-h") || !strcmp(sub, "--help")) ? stdout : stderr;
    if (sub && f == stderr) fprintf(stderr, "aiopslab: unknown cluster command \"%s\"\n", sub);
    fprintf(f, "Usage: aiopslab [--lab NAME] cluster up [--net N]   start the lab's cluster (127.N.0.0/16)\n"
               "       aiopslab [--lab NAME] cluster down [--purge] stop every pod, the mesh and the daemon\n"
               "       aiopslab [--lab NAME] cluster status         show what runs\n");
    return f == stdout ? 0 : 2;
}

int cli_daemon(int argc, char **argv)
{
    struct lab lab;
    if (open_lab(&lab)) return 1;
    if (!lab.net) {
        fprintf(stderr, "aiopslab: lab \"%s\" is not initialised (use aiopslab cluster up)\n", lab.name);
        return 1;
    }
    char err[512];
    int rc = daemon_run(&lab, err, sizeof err);
    if (rc) fprintf(stderr, "aiopslab: %s\n", err);
    return rc ? 1 : 0;
}
