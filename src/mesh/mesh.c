/* Placeholder until this part lands (being written now). */
#include <stdio.h>
#include "mesh/mesh.h"
int mesh_main(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "aiopslab: mesh_main is not built yet\n");
    return 1;
}
