/* main: the aiopslab command. One binary for every role: the user's
 * commands, the cluster daemon, the mesh and the per-container monitor
 * (internal roles, started by aiopslab itself). Installed or linked under
 * the name "kubectl" it behaves as kubectl. */
#include <libgen.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util.h"
#include "cluster/conmon.h"
#include "kubectl/kubectl.h"
#include "mesh/mesh.h"
#include "observe/traces.h"

static void usage(FILE *f)
{
    fprintf(f,
            "aiopslab — a lab for building and evaluating AIOps agents, on one machine.\n"
            "\n"
            "Usage: aiopslab [--lab NAME] COMMAND [ARGS...]\n"
            "\n"
            "Commands:\n"
            "  run [--problem ID] [--task T] [--agent NAME] [--agent-cmd CMD]  the main job: problems posed to an agent\n"
            "  problems [--task T] [--app A] [--layer L] | problems show ID     the benchmark's problems\n"
            "  validate [--sample] [--problem ID]  prove problems: reference passes, nothing and shortcuts fail\n"
            "  results [--by task|fault|agent|layer] | results list | results show ID  the recorded sessions\n"
            "  cluster up|down|status   start, stop or inspect the lab's embedded cluster\n"
            "  deploy APP               deploy an app from apps/ (example)\n"
            "  undeploy APP             remove an app\n"
            "  kubectl ARGS...          kubectl over the lab's cluster (also: a 'kubectl' link)\n"
            "  mesh rule add|delete|list  the mesh's network fault rules (docs/mesh.md)\n"
            "  load run ...             the open-loop load generator (aiopslab load --help)\n"
            "  traces ...               query the lab's traces (aiopslab traces --help)\n"
            "  metrics query 'PROMQL'   ask the lab's Prometheus; metrics targets: what it scrapes\n"
            "  logs -n NS SERVICE|POD   a service's or pod's logs: --since, --tail, --grep, --level, --compact\n"
            "  observe endpoints        where the lab's metrics, traces and logs are\n"
            "  observe export DIR       write metrics, traces, logs and events to files (--since 10m)\n"
            "  fault list|describe|inject|status|recover  inject faults across every layer, and undo them\n"
            "\n"
            "Options:\n"
            "  --lab NAME               which lab (default: $AIOPSLAB_LAB or \"default\")\n"
            "  -h, --help               this help\n"
            "\n"
            "Environment: AIOPSLAB_HOME (default ~/.aiopslab) holds every lab's data.\n");
}

int main(int argc, char **argv)
{
    const char *self = basename(argv[0]);
    if (!strcmp(self, "kubectl")) return kubectl_main(argc, argv);
    const char *labname = NULL;
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--lab") && i + 1 < argc) {
            labname = argv[i + 1];
            i += 2;
        } else if (!strncmp(argv[i], "--lab=", 6)) {
            labname = argv[i] + 6;
            i++;
        } else {
            fprintf(stderr, "aiopslab: unknown option \"%s\"\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (labname) setenv("AIOPSLAB_LAB", labname, 1);
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (!strcmp(cmd, "cluster")) return cli_cluster(sub_argc, sub_argv);
    if (!strcmp(cmd, "deploy")) return cli_deploy(sub_argc, sub_argv, 1);
    if (!strcmp(cmd, "undeploy")) return cli_deploy(sub_argc, sub_argv, 0);
    if (!strcmp(cmd, "kubectl")) return kubectl_main(sub_argc, sub_argv);
    if (!strcmp(cmd, "mesh")) return cli_mesh(sub_argc, sub_argv);
    /* The commands that hold many connections may use every descriptor allowed. */
    if (!strcmp(cmd, "load") || !strcmp(cmd, "__mesh") || !strcmp(cmd, "__fault-run")) raise_fd_limit();
    if (!strcmp(cmd, "load")) return cli_load(sub_argc, sub_argv);
    if (!strcmp(cmd, "traces")) return cli_traces(sub_argc, sub_argv);
    if (!strcmp(cmd, "metrics")) return cli_metrics(sub_argc, sub_argv);
    if (!strcmp(cmd, "logs")) return cli_logs(sub_argc, sub_argv);
    if (!strcmp(cmd, "observe")) return cli_observe(sub_argc, sub_argv);
    if (!strcmp(cmd, "fault")) return cli_fault(sub_argc, sub_argv);
    if (!strcmp(cmd, "problems")) return cli_problems(sub_argc, sub_argv);
    if (!strcmp(cmd, "run")) return cli_run(sub_argc, sub_argv);
    if (!strcmp(cmd, "validate")) return cli_validate(sub_argc, sub_argv);
    if (!strcmp(cmd, "results")) return cli_results(sub_argc, sub_argv);
    /* Internal roles. */
    if (!strcmp(cmd, "__daemon")) return cli_daemon(sub_argc, sub_argv);
    if (!strcmp(cmd, "__mesh")) return mesh_main(sub_argc, sub_argv);
    if (!strcmp(cmd, "__conmon")) return conmon_main(sub_argc, sub_argv);
    if (!strcmp(cmd, "__traces")) return traces_main(sub_argc, sub_argv);
    if (!strcmp(cmd, "__fault-run")) return cli_fault_run(sub_argc, sub_argv);
    fprintf(stderr, "aiopslab: unknown command \"%s\" (see aiopslab --help)\n", cmd);
    return 2;
}
