/* Placeholder until this part lands (being written now). */
#include <stdio.h>
#include "cluster/conmon.h"
int conmon_main(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "aiopslab: conmon_main is not built yet\n");
    return 1;
}
