/* cli: the aiopslab subcommands. Each returns the process exit status:
 * 0 success, 1 failure, 2 usage error. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

int cli_cluster(int argc, char **argv);
int cli_deploy(int argc, char **argv, int deploy);
int cli_mesh(int argc, char **argv);
int cli_daemon(int argc, char **argv);
int cli_load(int argc, char **argv);   /* load_cmd.c */
int cli_traces(int argc, char **argv); /* traces_cmd.c */
int cli_metrics(int argc, char **argv); /* metrics_cmd.c */
int cli_logs(int argc, char **argv);    /* logs_cmd.c */
int cli_observe(int argc, char **argv); /* observe_cmd.c */
int cli_export(int argc, char **argv);  /* export_cmd.c: observe export */
int cli_fault(int argc, char **argv);   /* fault_cmd.c */
int cli_fault_run(int argc, char **argv); /* fault_cmd.c: __fault-run ID */
int cli_problems(int argc, char **argv); /* problems_cmd.c */
int cli_run(int argc, char **argv);      /* run_cmd.c: the main job */
int cli_validate(int argc, char **argv); /* validate_cmd.c */
int cli_results(int argc, char **argv);  /* results_cmd.c */

#endif
