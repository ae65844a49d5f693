/* Placeholder until this part lands (being written now). */
#include <stdio.h>
#include "kubectl/kubectl.h"
int kubectl_main(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "aiopslab: kubectl_main is not built yet\n");
    return 1;
}
