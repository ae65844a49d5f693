/* Placeholder: being written now. */
#include <stdio.h>
#include "observe/traces.h"
int traces_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "aiopslab: __traces is not built yet\n"); return 1; }
