/* mesh: the data plane process, `aiopslab __mesh --lab-dir LABDIR` (see
 * docs/mesh.md). It owns the epoll loop, the listeners (one per Service
 * port on its ClusterIP, the shim port and the admin port), the routes
 * table (re-read on SIGHUP through a signalfd) and the admin HTTP server;
 * connections themselves live in proxy.c. */
#include "mesh/mesh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/lab.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "mesh/admin.h"
#include "mesh/proxy.h"
#include "mesh/routes.h"
#include "mesh/spin.h"

#define ROUTES_MAX (32u << 20)
#define MAX_EVENTS 256
#define SPIN_US_DEFAULT 50 /* AIOPSLAB_MESH_SPIN_US: see mesh/spin.h */

struct listener {
    struct mesh_handle h;
    int fd;
    uint32_t ip;
    uint16_t port;
    uint8_t wanted;
};

struct mesh {
    struct mesh_loop loop;
    char lab_dir[PATH_MAX];
    int net;
    uint32_t node_ip;
    struct listener shim, admin;
    struct mesh_handle sig_h;
    int sig_fd;
    struct mesh_spin spin;
    struct listener **svc; /* Service listeners */
    size_t n_svc, cap_svc;
    int stop;
};

static int listen_on(uint32_t ip, uint16_t port, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) {
        int e = errno;
        char s[16];
        mesh_ip_format(ip, s, sizeof s);
        snprintf(err, errlen, "listen on %s:%u: %s", s, port, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

static int watch(struct mesh *m, int fd, struct mesh_handle *h)
{
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = h};
    return epoll_ctl(m->loop.epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static int lab_net(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/lab.json", dir);
    struct buf b;
    buf_init(&b, 64 * 1024);
    int rc = read_file(path, &b);
    int net = -1;
    if (rc) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
    } else {
        json_error_t jerr;
        json_t *root = json_loadb(b.data, b.len, 0, &jerr);
        json_int_t n = json_integer_value(json_object_get(root, "net"));
        if (n >= 2 && n <= 254) net = (int)n;
        else snprintf(err, errlen, "%s: \"net\" missing or out of range", path);
        json_decref(root);
    }
    buf_free(&b);
    return net;
}

/* Open listeners for every Service port of the current routes, close those
 * of Services that are gone; connections already accepted keep going. */
static void sync_listeners(struct mesh *m)
{
    struct mesh_routes *r = m->loop.routes;
    for (size_t i = 0; i < m->n_svc; i++) m->svc[i]->wanted = 0;
    for (size_t k = 0; k < r->n_addr; k++) {
        uint32_t ip = r->by_addr[k]->svc->cluster_ip;
        uint16_t port = r->by_addr[k]->port;
        struct listener *l = NULL;
        for (size_t i = 0; i < m->n_svc && !l; i++)
            if (m->svc[i]->ip == ip && m->svc[i]->port == port) l = m->svc[i];
        if (!l) {
            l = xcalloc(1, sizeof *l);
            l->ip = ip;
            l->port = port;
            l->fd = -1;
            l->h.kind = MESH_H_LISTEN_SVC;
            l->h.owner = l;
            if (m->n_svc == m->cap_svc) {
                m->cap_svc = m->cap_svc ? 2 * m->cap_svc : 16;
                m->svc = xrealloc(m->svc, m->cap_svc * sizeof *m->svc);
            }
            m->svc[m->n_svc++] = l;
        }
        l->wanted = 1;
        if (l->fd >= 0) continue;
        char err[256], s[16];
        mesh_ip_format(ip, s, sizeof s);
        if (port < 1024) {
            log_warn("service %s/%s port %u on %s: ports below 1024 need privilege, skipped", r->by_addr[k]->svc->ns,
                     r->by_addr[k]->svc->name, port, s);
            continue;
        }
        int fd = listen_on(ip, port, err, sizeof err);
        if (fd < 0) {
            log_error("service %s/%s: %s", r->by_addr[k]->svc->ns, r->by_addr[k]->svc->name, err);
            continue;
        }
        l->fd = fd;
        watch(m, fd, &l->h);
        log_info("listening on %s:%u for %s/%s", s, port, r->by_addr[k]->svc->ns, r->by_addr[k]->svc->name);
    }
    size_t j = 0;
    for (size_t i = 0; i < m->n_svc; i++) {
        struct listener *l = m->svc[i];
        if (l->wanted) {
            m->svc[j++] = l;
            continue;
        }
        if (l->fd >= 0) {
            char s[16];
            mesh_ip_format(l->ip, s, sizeof s);
            log_info("closing listener %s:%u", s, l->port);
            close(l->fd);
        }
        free(l);
    }
    m->n_svc = j;
}

static void load_routes(struct mesh *m)
{
    char path[PATH_MAX + 32], err[256];
    snprintf(path, sizeof path, "%s/mesh/routes.json", m->lab_dir);
    struct buf b;
    buf_init(&b, ROUTES_MAX);
    int rc = read_file(path, &b);
    if (rc == -ENOENT) {
        log_info("no %s yet: no services", path);
        buf_free(&b);
        return;
    }
    if (rc) {
        log_error("cannot read %s: %s; keeping the current routes", path, strerror(-rc));
        buf_free(&b);
        return;
    }
    struct mesh_routes *r;
    rc = mesh_routes_parse(b.data, b.len, &r, err, sizeof err);
    buf_free(&b);
    if (rc) {
        log_error("%s: %s; keeping the current routes", path, err);
        return;
    }
    mesh_routes_free(m->loop.routes);
    m->loop.routes = r;
    m->loop.now = mono_ns();
    mesh_proxy_routes_changed(&m->loop);
    log_info("routes generation %lld: %zu services, %zu pods, %zu rules", (long long)r->generation, r->n_services,
             r->n_pods, r->n_rules);
    sync_listeners(m);
}

static void on_signal(struct mesh *m)
{
    struct signalfd_siginfo si;
    while (read(m->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            load_routes(m);
        } else {
            log_info("signal %u: stopping", si.ssi_signo);
            m->stop = 1;
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: aiopslab __mesh --lab-dir LABDIR [--threads 1] [--debug]\n"
                    "  (env: AIOPSLAB_MESH_SPIN_US, 0 to 1000, default %d)\n", SPIN_US_DEFAULT);
}

static int run(struct mesh *m)
{
    struct epoll_event events[MAX_EVENTS];
    int n = 0;
    while (!m->stop) {
        int timeout = -1;
        uint64_t next = mesh_timers_next(&m->loop.timers);
        if (next != UINT64_MAX) {
            uint64_t now = mono_ns();
            timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
        }
        n = mesh_spin_wait(&m->spin, m->loop.epfd, events, MAX_EVENTS, timeout, n > 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            log_error("epoll_wait: %s", strerror(errno));
            return 1;
        }
        m->loop.now = mono_ns();
        for (int i = 0; i < n; i++) {
            struct mesh_handle *h = events[i].data.ptr;
            switch (h->kind) {
            case MESH_H_CONN:
                mesh_proxy_event(&m->loop, h, events[i].events);
                break;
            case MESH_H_LISTEN_SVC: {
                struct listener *l = h->owner;
                mesh_proxy_accept(&m->loop, l->fd, 0, l->ip, l->port);
                break;
            }
            case MESH_H_LISTEN_SHIM:
                mesh_proxy_accept(&m->loop, m->shim.fd, 1, 0, 0);
                break;
            case MESH_H_LISTEN_ADMIN:
                mesh_admin_accept(&m->loop, m->admin.fd);
                break;
            case MESH_H_ADMIN:
                mesh_admin_event(&m->loop, h, events[i].events);
                break;
            case MESH_H_SIGNAL:
                on_signal(m);
                break;
            }
        }
        mesh_proxy_flush(&m->loop);
        if (m->loop.timers.n) {
            m->loop.now = mono_ns();
            mesh_timers_run(&m->loop.timers, m->loop.now);
        }
        mesh_proxy_reap(&m->loop);
        mesh_admin_reap(&m->loop);
    }
    return 0;
}

int mesh_main(int argc, char **argv)
{
    const char *lab_dir = NULL;
    int debug = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lab-dir") && i + 1 < argc) {
            lab_dir = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            long t;
            if (parse_long(argv[++i], 1, 64, &t)) {
                usage();
                return 2;
            }
            /* One thread saturates loopback for the lab's loads (see the mesh section of bench/RESULTS.md). */
        } else if (!strcmp(argv[i], "--debug")) {
            debug = 1;
        } else {
            usage();
            return 2;
        }
    }
    if (!lab_dir) {
        usage();
        return 2;
    }
    static struct mesh mesh; /* large; lives for the whole process */
    struct mesh *m = &mesh;
    char err[PATH_MAX + 256], path[PATH_MAX + 32];
    if (snprintf(m->lab_dir, sizeof m->lab_dir, "%s", lab_dir) >= (int)sizeof m->lab_dir) {
        fprintf(stderr, "aiopslab mesh: lab dir too long\n");
        return 2;
    }
    m->net = lab_net(lab_dir, err, sizeof err);
    if (m->net < 0) {
        fprintf(stderr, "aiopslab mesh: %s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/logs", lab_dir);
    mkdir_p(path, 0755);
    snprintf(path, sizeof path, "%s/mesh", lab_dir);
    mkdir_p(path, 0755);
    snprintf(path, sizeof path, "%s/logs/mesh.log", lab_dir);
    if (log_open("mesh", path)) fprintf(stderr, "aiopslab mesh: cannot open %s, logging to stderr\n", path);
    if (debug) log_set_level(LOG_DEBUG);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct mesh_loop *L = &m->loop;
    L->epfd = epoll_create1(EPOLL_CLOEXEC);
    L->routes = mesh_routes_empty();
    L->metrics = mesh_metrics_new();
    L->rnd = mono_ns() ^ ((uint64_t)getpid() << 32);
    long spin_us = SPIN_US_DEFAULT;
    const char *sv = getenv("AIOPSLAB_MESH_SPIN_US");
    if (sv && *sv && parse_long(sv, 0, 1000, &spin_us)) {
        log_warn("AIOPSLAB_MESH_SPIN_US=%s: want 0 to 1000 (µs); using %d", sv, SPIN_US_DEFAULT);
        spin_us = SPIN_US_DEFAULT;
    }
    mesh_spin_init(&m->spin, spin_us, "/proc/stat", mono_ns());
    m->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (L->epfd < 0 || m->sig_fd < 0) {
        log_error("epoll/signalfd: %s", strerror(errno));
        return 1;
    }
    m->sig_h.kind = MESH_H_SIGNAL;
    watch(m, m->sig_fd, &m->sig_h);

    m->node_ip = (127u << 24) | ((uint32_t)m->net << 16) | 1;
    m->shim.fd = listen_on(m->node_ip, LAB_MESH_SHIM_PORT, err, sizeof err);
    if (m->shim.fd < 0) {
        log_error("shim port: %s", err);
        return 1;
    }
    m->admin.fd = listen_on(m->node_ip, LAB_MESH_ADMIN_PORT, err, sizeof err);
    if (m->admin.fd < 0) {
        log_error("admin port: %s", err);
        return 1;
    }
    m->shim.h.kind = MESH_H_LISTEN_SHIM;
    m->admin.h.kind = MESH_H_LISTEN_ADMIN;
    watch(m, m->shim.fd, &m->shim.h);
    watch(m, m->admin.fd, &m->admin.h);
    load_routes(m);

    snprintf(path, sizeof path, "%s/mesh/mesh.pid", lab_dir);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (write_file_atomic(path, pid, (size_t)n)) log_warn("cannot write %s", path);
    log_info("mesh up: net 127.%d.0.0/16, shim %d, admin %d", m->net, LAB_MESH_SHIM_PORT, LAB_MESH_ADMIN_PORT);

    int rc = run(m);

    mesh_proxy_close_all(L);
    mesh_admin_close_all(L);
    for (size_t i = 0; i < m->n_svc; i++) {
        if (m->svc[i]->fd >= 0) close(m->svc[i]->fd);
        free(m->svc[i]);
    }
    free(m->svc);
    close(m->shim.fd);
    close(m->admin.fd);
    close(m->sig_fd);
    mesh_spin_close(&m->spin);
    close(L->epfd);
    mesh_timers_free(&L->timers);
    mesh_routes_free(L->routes);
    mesh_metrics_free(L->metrics);
    unlink(path);
    log_info("mesh stopped");
    return rc;
}
