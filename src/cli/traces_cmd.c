/* Placeholder: being written now. */
#include <stdio.h>
#include "cli/cli.h"
int cli_traces(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "aiopslab: traces is not built yet\n"); return 1; }
