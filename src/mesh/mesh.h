/* mesh: the data plane process (`aiopslab __mesh --lab-dir DIR`), started
 * and supervised by the cluster daemon. See docs/mesh.md. */
#ifndef MESH_MESH_H
#define MESH_MESH_H

int mesh_main(int argc, char **argv);

#endif
