/* shim: libaiopslab-shim.so, LD_PRELOADed into every pod (docs/mesh.md).
 *
 * It makes unmodified programs behave as if they had their own network
 * identity on the lab's loopback, without root:
 *   - bind() of a TCP socket to 0.0.0.0, 127.0.0.1, :: or ::1 binds the pod
 *     IP instead (an IPv6 socket is first replaced, on the same descriptor,
 *     by an IPv4 one), so replicas of a server share a port;
 *   - connect() of an unbound TCP socket to 127/8 binds it to the pod IP
 *     first, so the mesh can tell which pod a connection comes from;
 *   - connect() to a Service ClusterIP goes to the mesh's shim port with a
 *     12-byte header naming the Service address; the mesh answers a status
 *     (0 or the errno of its upstream connect) once the upstream connect
 *     has finished, and the shim hands exactly that to the caller. A
 *     blocking connect waits for it inside connect(); a non-blocking one
 *     returns EINPROGRESS at once and the status (one urgent byte) is
 *     collected where the program waits for its connect to finish: poll(),
 *     select(), getsockopt(SO_ERROR) or a second connect() (docs/mesh.md,
 *     "Non-blocking connects"), so the program's own connect timeout works;
 *   - getaddrinfo() and gethostbyname() ask the mesh first (the cluster
 *     DNS, mesh/dns.h): Service names resolve to ClusterIPs, dns fault
 *     rules fail lookups, other names go to libc.
 *
 * Without AIOPSLAB_POD_IP in the environment the shim does nothing. It is
 * built on its own (no src/core objects: it lives inside foreign programs).
 * Its only mutable state is the table of non-blocking connects awaiting
 * their status, indexed by descriptor and updated atomically, so it is
 * safe in threaded programs. Every call it makes goes to the real libc
 * functions. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../core/lab.h" /* relative: the shim is built without -Isrc */

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef int (*select_fn)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef struct hostent *(*gethostbyname_fn)(const char *);

static bind_fn real_bind;
static connect_fn real_connect;
static poll_fn real_poll;
static select_fn real_select;
static getsockopt_fn real_getsockopt;
static getaddrinfo_fn real_getaddrinfo;
static gethostbyname_fn real_gethostbyname;
static int shim_on;
static uint32_t pod_ip;   /* network order */
static int lab_net = -1;  /* second octet of the lab's /16 */

static void resolve_real(void)
{
    real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    real_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
    real_poll = (poll_fn)dlsym(RTLD_NEXT, "poll");
    real_select = (select_fn)dlsym(RTLD_NEXT, "select");
    real_getsockopt = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
    real_getaddrinfo = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    real_gethostbyname = (gethostbyname_fn)dlsym(RTLD_NEXT, "gethostbyname");
}

__attribute__((constructor)) static void shim_init(void)
{
    resolve_real();
    const char *ip = getenv("AIOPSLAB_POD_IP");
    struct in_addr a;
    if (!ip || inet_pton(AF_INET, ip, &a) != 1) return;
    pod_ip = a.s_addr;
    const char *net = getenv("AIOPSLAB_LAB_NET");
    if (net && *net) {
        char *end;
        long v = strtol(net, &end, 10);
        if (*end == '\0' && v >= 2 && v <= 254) lab_net = (int)v;
    }
    if (lab_net < 0) lab_net = (int)((ntohl(pod_ip) >> 16) & 0xff); /* the pod's own /16 */
    shim_on = 1;
}

/* Lazily resolved for calls that come before the constructor ran (another
 * library's constructor); dlsym is thread-safe and the result the same. */
static void ensure_real(void)
{
    if (!real_getsockopt) resolve_real();
}

static int is_tcp(int fd)
{
    int type = 0;
    socklen_t len = sizeof type;
    return real_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* Replace the IPv6 socket fd by an IPv4 TCP socket on the same number,
 * keeping the file status flags, close-on-exec and the reuse options. */
static int replace_with_ipv4(int fd)
{
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    int reuseaddr = 0, reuseport = 0;
    socklen_t len = sizeof reuseaddr;
    real_getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, &len);
    len = sizeof reuseport;
    real_getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuseport, &len);
    int nfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (nfd < 0) return -1;
    if (reuseaddr) setsockopt(nfd, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, sizeof reuseaddr);
    if (reuseport) setsockopt(nfd, SOL_SOCKET, SO_REUSEPORT, &reuseport, sizeof reuseport);
    if (fl >= 0) fcntl(nfd, F_SETFL, fl);
    int rc = dup3(nfd, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0);
    int e = errno;
    close(nfd);
    errno = e;
    return rc < 0 ? -1 : 0;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    ensure_real();
    if (!shim_on || !addr) return real_bind(fd, addr, len);
    uint16_t port;
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        uint32_t h = ntohl(in->sin_addr.s_addr);
        if (h != INADDR_ANY && h != INADDR_LOOPBACK) return real_bind(fd, addr, len);
        port = in->sin_port;
    } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        if (!IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) && !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return real_bind(fd, addr, len);
        if (!is_tcp(fd)) return real_bind(fd, addr, len);
        port = in6->sin6_port;
        int v6only = 0;
        socklen_t olen = sizeof v6only;
        real_getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen);
        if (replace_with_ipv4(fd) < 0) return -1;
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = port;
        sa.sin_addr.s_addr = pod_ip;
        int rc = real_bind(fd, (struct sockaddr *)&sa, sizeof sa);
        /* A v6-only socket means the program binds IPv4 separately (redis
         * "bind * -::*", postgres "localhost", memcached): both land on the
         * pod IP, so the second one finds the port taken by the first. Such
         * programs disagree on which error they skip, so the second bind
         * succeeds instead, on a spare port of the pod IP that nobody
         * connects to: the program keeps its two listeners, one of them idle. */
        if (rc < 0 && errno == EADDRINUSE && v6only) {
            sa.sin_port = 0;
            rc = real_bind(fd, (struct sockaddr *)&sa, sizeof sa);
        }
        return rc;
    } else {
        return real_bind(fd, addr, len);
    }
    if (!is_tcp(fd)) return real_bind(fd, addr, len);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = port;
    sa.sin_addr.s_addr = pod_ip;
    return real_bind(fd, (struct sockaddr *)&sa, sizeof sa);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (CLOCK_MONOTONIC ms), or -1 for none. */
static int left_ms(int64_t deadline)
{
    if (deadline < 0) return -1;
    int64_t now = now_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

/* Wait for events on fd until deadline; 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int rc = real_poll(&p, 1, left_ms(deadline));
        if (rc < 0 && errno == EINTR) continue;
        return rc;
    }
}

static struct sockaddr_in mesh_addr(void)
{
    struct sockaddr_in mesh;
    memset(&mesh, 0, sizeof mesh);
    mesh.sin_family = AF_INET;
    mesh.sin_port = htons(LAB_MESH_SHIM_PORT);
    mesh.sin_addr.s_addr = htonl((127u << 24) | ((uint32_t)lab_net << 16) | 1);
    return mesh;
}

/* Connect fd to the mesh's shim port and send the 12-byte header; flags
 * is header byte 10 (1: answer with one urgent byte). 0 or an errno. */
static int mesh_open(int fd, const struct sockaddr_in *dst, int flags, int64_t deadline)
{
    struct sockaddr_in mesh = mesh_addr();
    if (real_connect(fd, (struct sockaddr *)&mesh, sizeof mesh) < 0) {
        if (errno != EINPROGRESS && errno != EINTR) return errno;
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r == 0) return ETIMEDOUT;
        if (r < 0) return errno;
        int err = 0;
        socklen_t len = sizeof err;
        if (real_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
        if (err) return err;
    }
    unsigned char hdr[12] = {'A', 'I', 'O', 'M'};
    memcpy(hdr + 4, &dst->sin_addr.s_addr, 4);
    memcpy(hdr + 8, &dst->sin_port, 2);
    hdr[10] = (unsigned char)flags;
    size_t off = 0;
    while (off < sizeof hdr) {
        ssize_t w = send(fd, hdr + off, sizeof hdr - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) return errno;
            int r = wait_fd(fd, POLLOUT, deadline);
            if (r == 0) return ETIMEDOUT;
            if (r < 0) return errno;
            continue;
        }
        off += (size_t)w;
    }
    return 0;
}

/* A blocking connect through the mesh: the header, then the 4-byte status
 * in-band. Returns 0 or an errno value for the caller. */
static int via_mesh(int fd, const struct sockaddr_in *dst, int64_t deadline)
{
    int err = mesh_open(fd, dst, 0, deadline);
    if (err) return err;
    unsigned char st[4];
    size_t off = 0;
    while (off < sizeof st) {
        ssize_t n = recv(fd, st + off, sizeof st - off, MSG_DONTWAIT);
        if (n == 0) return ECONNREFUSED; /* the mesh went away */
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) return errno == ECONNRESET ? ECONNREFUSED : errno;
            int r = wait_fd(fd, POLLIN, deadline);
            if (r == 0) return ETIMEDOUT;
            if (r < 0) return errno;
            continue;
        }
        off += (size_t)n;
    }
    uint32_t status;
    memcpy(&status, st, 4);
    return (int)ntohl(status);
}

/* ---- non-blocking connects awaiting their status ------------------------
 * pend_state[fd]: 0 none, -1 waiting for the mesh's urgent status byte,
 * > 0 the connect failed with that errno (until SO_ERROR reads it). The
 * socket's inode is kept to notice a descriptor closed and reused. */
#define PEND_MAX 65536
static int pend_state[PEND_MAX];
static unsigned long pend_ino[PEND_MAX];
static int pend_count; /* entries not 0: poll() and select() are plain calls while it is 0 */

static unsigned long ino_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static void pend_put(int fd, int state)
{
    int old = __atomic_exchange_n(&pend_state[fd], state, __ATOMIC_ACQ_REL);
    if (!old && state) __atomic_add_fetch(&pend_count, 1, __ATOMIC_ACQ_REL);
    else if (old && !state) __atomic_sub_fetch(&pend_count, 1, __ATOMIC_ACQ_REL);
}

/* The state of fd (0 when none or when the descriptor is another socket now). */
static int pend_get(int fd)
{
    if (fd < 0 || fd >= PEND_MAX || !__atomic_load_n(&pend_count, __ATOMIC_ACQUIRE)) return 0;
    int st = __atomic_load_n(&pend_state[fd], __ATOMIC_ACQUIRE);
    if (st && ino_of(fd) != pend_ino[fd]) {
        pend_put(fd, 0);
        return 0;
    }
    return st;
}

/* Collect the status of a waiting fd if it has come: the new state (0
 * connected, > 0 failed, -1 still waiting). */
static int pend_collect(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLPRI};
    if (real_poll(&p, 1, 0) <= 0) return -1;
    int st = -1;
    if (p.revents & POLLPRI) {
        unsigned char b;
        ssize_t n = recv(fd, &b, 1, MSG_OOB);
        if (n == 1) st = b;
    }
    if (st < 0 && (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLIN))) st = ECONNREFUSED; /* the mesh went away */
    if (st < 0) return -1;
    pend_put(fd, st);
    return st;
}

/* poll() over a set that holds waiting connects: those wait for the
 * status (POLLPRI) instead of writability; once it comes they report what
 * a finished connect reports. Loops until something the caller asked for
 * is ready or its timeout is over. */
static int poll_pending(struct pollfd *fds, nfds_t n, int timeout)
{
    int64_t deadline = timeout < 0 ? -1 : now_ms() + timeout;
    short *asked = n <= 1024 ? __builtin_alloca(n * sizeof *asked) : NULL;
    if (!asked) return real_poll(fds, n, timeout);
    for (;;) {
        int ready = 0;
        for (nfds_t i = 0; i < n; i++) {
            asked[i] = fds[i].events;
            int st = pend_get(fds[i].fd);
            if (st == -1) st = pend_collect(fds[i].fd);
            fds[i].revents = 0;
            if (st == -1) fds[i].events = POLLPRI;
            else if (st > 0) fds[i].revents = (short)(POLLERR | POLLHUP | (asked[i] & (POLLOUT | POLLIN)));
            if (fds[i].revents) ready++;
        }
        int rc = real_poll(fds, n, ready ? 0 : left_ms(deadline));
        int err = errno;
        int count = 0, collected = 0;
        for (nfds_t i = 0; i < n; i++) {
            short was = fds[i].events;
            fds[i].events = asked[i];
            int st = pend_get(fds[i].fd);
            if (st > 0) {
                fds[i].revents = (short)(POLLERR | POLLHUP | (asked[i] & (POLLOUT | POLLIN)));
            } else if (st == -1 && was == POLLPRI) {
                fds[i].revents = 0;
                if (rc > 0 && pend_collect(fds[i].fd) != -1) collected = 1;
            }
            if (fds[i].revents) count++;
        }
        if (rc < 0 && !count) {
            errno = err;
            return rc;
        }
        if (count || !collected || left_ms(deadline) == 0) return count;
        /* A status came but the caller's events are not ready yet: go on waiting. */
    }
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    ensure_real();
    if (!__atomic_load_n(&pend_count, __ATOMIC_ACQUIRE)) return real_poll(fds, n, timeout);
    return poll_pending(fds, n, timeout);
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    ensure_real();
    if (!__atomic_load_n(&pend_count, __ATOMIC_ACQUIRE) || nfds <= 0 || nfds > FD_SETSIZE)
        return real_select(nfds, r, w, e, tv);
    int any = 0;
    for (int fd = 0; fd < nfds && !any; fd++)
        if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w))) && pend_get(fd)) any = 1;
    if (!any) return real_select(nfds, r, w, e, tv);
    /* The same through poll_pending: select() is poll() with bit sets. */
    struct pollfd fds[FD_SETSIZE];
    nfds_t n = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) | (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
                           (e && FD_ISSET(fd, e) ? POLLPRI : 0));
        if (ev) fds[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    int timeout = tv ? (int)(tv->tv_sec * 1000 + tv->tv_usec / 1000) : -1;
    int rc = poll_pending(fds, n, timeout);
    if (rc < 0) return rc;
    if (r) FD_ZERO(r);
    if (w) FD_ZERO(w);
    if (e) FD_ZERO(e);
    int count = 0;
    for (nfds_t i = 0; i < n; i++) {
        short re = fds[i].revents, ev = fds[i].events;
        if ((ev & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR))) FD_SET(fds[i].fd, r), count++;
        if ((ev & POLLOUT) && (re & (POLLOUT | POLLERR))) FD_SET(fds[i].fd, w), count++;
        if ((ev & POLLPRI) && (re & POLLPRI)) FD_SET(fds[i].fd, e), count++;
    }
    return count;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    ensure_real();
    if (level == SOL_SOCKET && name == SO_ERROR && val && len && *len >= (socklen_t)sizeof(int)) {
        int st = pend_get(fd);
        if (st == -1) st = pend_collect(fd);
        if (st > 0) {
            pend_put(fd, 0); /* reading SO_ERROR clears it */
            *(int *)val = st;
            *len = sizeof(int);
            return 0;
        }
        if (st == -1) { /* still connecting: no error yet */
            *(int *)val = 0;
            *len = sizeof(int);
            return 0;
        }
    }
    return real_getsockopt(fd, level, name, val, len);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    ensure_real();
    if (!shim_on || !addr || addr->sa_family != AF_INET || len < (socklen_t)sizeof(struct sockaddr_in))
        return real_connect(fd, addr, len);
    const struct sockaddr_in *dst = (const struct sockaddr_in *)addr;
    uint32_t h = ntohl(dst->sin_addr.s_addr);
    if ((h >> 24) != 127 || !is_tcp(fd)) return real_connect(fd, addr, len);
    int saved = errno;

    /* A second connect() on a non-blocking connect in flight (hiredis asks
     * so): what the kernel would say. */
    int st = pend_get(fd);
    if (st == -1) st = pend_collect(fd);
    if (st) {
        if (st > 0) pend_put(fd, 0);
        errno = st > 0 ? st : EALREADY;
        return -1;
    }

    /* Bind an unbound socket to the pod IP so that the peer (the mesh or a
     * pod) sees which pod this is. */
    struct sockaddr_in self;
    socklen_t slen = sizeof self;
    if (getsockname(fd, (struct sockaddr *)&self, &slen) == 0 && self.sin_family == AF_INET &&
        self.sin_port == 0 && self.sin_addr.s_addr == htonl(INADDR_ANY)) {
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = pod_ip;
        real_bind(fd, (struct sockaddr *)&sa, sizeof sa); /* on failure the kernel picks, as without the shim */
    }
    uint32_t svc_lo = (127u << 24) | ((uint32_t)lab_net << 16) | (1u << 8);
    uint32_t svc_hi = (127u << 24) | ((uint32_t)lab_net << 16) | (64u << 8);
    if (h < svc_lo || h >= svc_hi) {
        errno = saved;
        return real_connect(fd, addr, len);
    }

    /* Already connected (a program that calls connect() again to learn how
     * its non-blocking connect ended, as hiredis does): what the kernel says. */
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
        errno = EISCONN;
        return -1;
    }

    /* A Service: through the mesh. The wait for the mesh itself (a loopback
     * handshake) is bounded by SO_SNDTIMEO when set, like a blocking connect. */
    int64_t deadline = -1;
    struct timeval tv;
    socklen_t tlen = sizeof tv;
    if (real_getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &tlen) == 0 && (tv.tv_sec || tv.tv_usec))
        deadline = now_ms() + (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    int fl = fcntl(fd, F_GETFL);
    int err;
    if (fl >= 0 && (fl & O_NONBLOCK) && fd < PEND_MAX) {
        /* Non-blocking: the verdict comes later, as one urgent byte. */
        err = mesh_open(fd, dst, 1, deadline);
        if (err == 0) {
            pend_ino[fd] = ino_of(fd);
            pend_put(fd, -1);
            errno = EINPROGRESS;
            return -1;
        }
    } else {
        err = via_mesh(fd, dst, deadline);
        if (err == 0) {
            if (fl >= 0 && (fl & O_NONBLOCK)) {
                errno = EINPROGRESS; /* connected already: writable at once, SO_ERROR 0 */
                return -1;
            }
            errno = saved;
            return 0;
        }
    }
    /* Leave the descriptor as a failed connect leaves it: unconnected and
     * reusable for another connect. */
    int fdfl = fcntl(fd, F_GETFD);
    int nfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (nfd >= 0) {
        if (fl >= 0) fcntl(nfd, F_SETFL, fl);
        dup3(nfd, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0);
        close(nfd);
    }
    errno = err;
    return -1;
}

/* ---- cluster DNS ----------------------------------------------------------
 * One query per lookup over the shim port (mesh/dns.h): "AIOD", the name's
 * length (2 bytes, network order), 6 zero bytes, the name; the answer is a
 * status and an IPv4 address (4 bytes each, network order). The socket is
 * bound to the pod IP so that the mesh knows who asks. A mesh that does
 * not answer within 2 s counts as "not a cluster name". */
enum { DNS_FOUND = 0, DNS_NXDOMAIN = 1, DNS_SERVFAIL = 2, DNS_PASS = 3 };

static int ask_mesh(const char *name, struct in_addr *out)
{
    size_t n = strlen(name);
    if (n == 0 || n > 254 || !strcmp(name, "localhost")) return DNS_PASS;
    struct in_addr a;
    if (inet_pton(AF_INET, name, &a) == 1 || strchr(name, ':')) return DNS_PASS;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return DNS_PASS;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1, st = DNS_PASS;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in self;
    memset(&self, 0, sizeof self);
    self.sin_family = AF_INET;
    self.sin_addr.s_addr = pod_ip;
    real_bind(fd, (struct sockaddr *)&self, sizeof self);
    struct sockaddr_in mesh = mesh_addr();
    unsigned char q[12 + 256] = {'A', 'I', 'O', 'D', (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(q + 12, name, n);
    if (real_connect(fd, (struct sockaddr *)&mesh, sizeof mesh) == 0 &&
        send(fd, q, 12 + n, MSG_NOSIGNAL) == (ssize_t)(12 + n)) {
        uint32_t ans[2];
        size_t off = 0;
        while (off < sizeof ans) {
            ssize_t r = recv(fd, (char *)ans + off, sizeof ans - off, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            off += (size_t)r;
        }
        if (off == sizeof ans) {
            st = (int)ntohl(ans[0]);
            out->s_addr = ans[1];
            if (st < DNS_FOUND || st > DNS_PASS) st = DNS_PASS;
        }
    }
    close(fd);
    return st;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
    ensure_real();
    if (!shim_on || !node || (hints && (hints->ai_flags & AI_NUMERICHOST)) ||
        (hints && hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET))
        return real_getaddrinfo(node, service, hints, res);
    int saved = errno;
    struct in_addr a;
    switch (ask_mesh(node, &a)) {
    case DNS_FOUND: {
        /* libc builds the answer from the address, so that freeaddrinfo()
         * and the service/socktype handling are libc's own. */
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a, ip, sizeof ip);
        struct addrinfo h;
        memset(&h, 0, sizeof h);
        if (hints) h = *hints;
        h.ai_family = AF_INET;
        h.ai_flags = (h.ai_flags | AI_NUMERICHOST) & ~(AI_ADDRCONFIG | AI_CANONNAME);
        h.ai_addr = NULL;
        h.ai_canonname = NULL;
        h.ai_next = NULL;
        errno = saved;
        return real_getaddrinfo(ip, service, &h, res);
    }
    case DNS_NXDOMAIN:
        return EAI_NONAME;
    case DNS_SERVFAIL:
        return EAI_AGAIN;
    default:
        errno = saved;
        return real_getaddrinfo(node, service, hints, res);
    }
}

struct hostent *gethostbyname(const char *name)
{
    ensure_real();
    if (!shim_on || !name) return real_gethostbyname(name);
    static __thread struct hostent he;
    static __thread struct in_addr addr;
    static __thread char *addrs[2], *aliases[1], hname[256];
    int saved = errno;
    switch (ask_mesh(name, &addr)) {
    case DNS_FOUND:
        snprintf(hname, sizeof hname, "%s", name);
        addrs[0] = (char *)&addr;
        addrs[1] = NULL;
        aliases[0] = NULL;
        he.h_name = hname;
        he.h_aliases = aliases;
        he.h_addrtype = AF_INET;
        he.h_length = sizeof addr;
        he.h_addr_list = addrs;
        errno = saved;
        return &he;
    case DNS_NXDOMAIN:
        h_errno = HOST_NOT_FOUND;
        return NULL;
    case DNS_SERVFAIL:
        h_errno = TRY_AGAIN;
        return NULL;
    default:
        errno = saved;
        return real_gethostbyname(name);
    }
}

/* ---- clock skew (the clock-skew fault, src/faults/os_clock.c) -------------
 * The fault writes an offset (int64 ns, the file's first 8 bytes) in
 * $HOME/../clock-offset, that is LABDIR/pods/<uid>/clock-offset, next to the
 * pod's root. Every process of the pod looks for that file at most once a
 * second (a coarse monotonic read decides, a few ns) and maps it; the wall
 * clock it gets from clock_gettime(CLOCK_REALTIME*), gettimeofday and time
 * is then offset by a load from the mapped page. Without the file nothing
 * but that check is added. A replaced file (new inode) is mapped again;
 * an old mapping is left in place, as another thread may still read it.
 * Monotonic and cpu clocks are never touched. */
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, void *);

static clock_gettime_fn real_clock_gettime;
static gettimeofday_fn real_gettimeofday;
static char skew_path[4096];
static _Atomic(const int64_t *) skew_page;
static atomic_ulong skew_ino;
static atomic_llong skew_next_ns;

__attribute__((constructor)) static void skew_init(void) /* its own constructor: reads only the environment */
{
    const char *home = getenv("HOME");
    if (!getenv("AIOPSLAB_POD_IP") || !home || home[0] != '/' || strlen(home) > sizeof skew_path - 32) return;
    snprintf(skew_path, sizeof skew_path, "%s/../clock-offset", home);
}

static void skew_look(void)
{
    int saved = errno;
    int fd = open(skew_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        atomic_store(&skew_page, NULL);
    } else if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(int64_t) &&
               (!atomic_load(&skew_page) || (unsigned long)st.st_ino != atomic_load(&skew_ino))) {
        void *m = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) {
            atomic_store(&skew_ino, (unsigned long)st.st_ino);
            atomic_store(&skew_page, (const int64_t *)m);
        }
    }
    if (fd >= 0) close(fd);
    errno = saved;
}

static int64_t skew_offset(void)
{
    if (!skew_path[0]) return 0;
    struct timespec now;
    if (real_clock_gettime(CLOCK_MONOTONIC_COARSE, &now)) return 0;
    long long t = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
    long long next = atomic_load_explicit(&skew_next_ns, memory_order_relaxed);
    if (t >= next && atomic_compare_exchange_strong(&skew_next_ns, &next, t + 1000000000LL)) skew_look();
    const int64_t *p = atomic_load_explicit(&skew_page, memory_order_acquire);
    return p ? *(const volatile int64_t *)p : 0;
}

static void skew_add(time_t *sec, long *nsec, long unit)
{
    int64_t off = skew_offset();
    if (!off) return;
    int64_t total = (int64_t)*sec * 1000000000LL + (int64_t)*nsec * unit + off;
    int64_t s = total / 1000000000LL, rest = total % 1000000000LL;
    if (rest < 0) {
        rest += 1000000000LL;
        s--;
    }
    *sec = (time_t)s;
    *nsec = (long)(rest / unit);
}

/* libc declares these pointers nonnull, yet callers pass NULL at times. */
static int given(const void *p) { return p != NULL; }

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (!real_clock_gettime) real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real_clock_gettime(id, ts);
    if (rc == 0 && given(ts) && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) skew_add(&ts->tv_sec, &ts->tv_nsec, 1);
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    if (!real_gettimeofday) real_gettimeofday = (gettimeofday_fn)dlsym(RTLD_NEXT, "gettimeofday");
    if (!real_clock_gettime) real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real_gettimeofday(tv, tz);
    if (rc == 0 && given(tv)) {
        long usec = (long)tv->tv_usec;
        skew_add(&tv->tv_sec, &usec, 1000);
        tv->tv_usec = (suseconds_t)usec;
    }
    return rc;
}

time_t time(time_t *out)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME_COARSE, &ts)) return (time_t)-1;
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
