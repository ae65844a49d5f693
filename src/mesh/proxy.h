/* proxy: the mesh's event loop state and the per-connection state machine
 * (shim header → upstream connect → status → byte forwarding, with the
 * network faults of rules.h; DNS queries from the shim). mesh.c owns the listeners and the loop; proxy.c
 * owns connections. Single-threaded: everything here runs on the loop. */
#ifndef MESH_PROXY_H
#define MESH_PROXY_H
#include <stddef.h>
#include <stdint.h>

#include "mesh/metrics.h"
#include "mesh/routes.h"
#include "mesh/timer.h"

/* What an epoll event points at. */
enum mesh_handle_kind {
    MESH_H_LISTEN_SVC,
    MESH_H_LISTEN_SHIM,
    MESH_H_LISTEN_ADMIN,
    MESH_H_SIGNAL,
    MESH_H_CONN,
    MESH_H_ADMIN
};

struct mesh_handle {
    uint8_t kind;
    uint8_t side; /* MESH_H_CONN: 0 caller side, 1 upstream side */
    void *owner;
};

struct mesh_conn;
struct mesh_admin;

struct mesh_loop {
    int epfd;
    struct mesh_routes *routes;
    struct mesh_metrics *metrics;
    struct mesh_timers timers;
    uint64_t rnd;
    uint64_t now;                 /* CLOCK_MONOTONIC ns, refreshed per wakeup */
    struct mesh_conn *graveyard;  /* closed, freed after the current batch */
    struct mesh_conn *conns;      /* all open connections */
    size_t n_conns;
    struct mesh_conn *flush_head, *flush_tail; /* connections with data read in this batch (FIFO) */
    struct mesh_admin *admins, *admin_graveyard; /* admin HTTP connections (admin.c) */
};

/* Accept every pending connection on a Service listener (ip:port is the
 * ClusterIP address it listens on) or on the shim listener (is_shim). */
void mesh_proxy_accept(struct mesh_loop *L, int lfd, int is_shim, uint32_t ip, uint16_t port);
/* An epoll event for a MESH_H_CONN handle. */
void mesh_proxy_event(struct mesh_loop *L, struct mesh_handle *h, uint32_t events);
/* The routes table was replaced: match open connections against its rules
 * again (a fault acts on connections already open; a healed partition lets
 * hung connects through). */
void mesh_proxy_routes_changed(struct mesh_loop *L);
/* Send what the connections read during the last batch of events (call
 * after the batch, before the timers and the reap). */
void mesh_proxy_flush(struct mesh_loop *L);
/* Free connections closed during the last batch of events. */
void mesh_proxy_reap(struct mesh_loop *L);
/* Close every connection (shutdown). */
void mesh_proxy_close_all(struct mesh_loop *L);

#endif
