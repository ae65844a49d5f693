/* Placeholder: being written now. */
#include <stdio.h>
#include "cli/cli.h"
int cli_load(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "aiopslab: load is not built yet\n"); return 1; }
