/* admin: the mesh's admin HTTP server on 127.NET.0.1:15090 — GET /metrics
 * (Prometheus text 0.0.4) and GET /healthz. One request per connection
 * (Connection: close), served from the mesh loop without blocking. */
#ifndef MESH_ADMIN_H
#define MESH_ADMIN_H
#include <stdint.h>

#include "mesh/proxy.h"

void mesh_admin_accept(struct mesh_loop *L, int lfd);
void mesh_admin_event(struct mesh_loop *L, struct mesh_handle *h, uint32_t events);
void mesh_admin_reap(struct mesh_loop *L);
void mesh_admin_close_all(struct mesh_loop *L);

#endif
