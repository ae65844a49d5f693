/* Placeholder: being written now. */
#include "cli/cli.h"
int cli_cluster(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cli_deploy(int argc, char **argv, int deploy) { (void)argc; (void)argv; (void)deploy; return 1; }
int cli_mesh(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cli_daemon(int argc, char **argv) { (void)argc; (void)argv; return 1; }
