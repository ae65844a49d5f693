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
 *     12-byte header naming the Service address; the mesh answers a 4-byte
 *     status (0 or the errno of its upstream connect) once the upstream
 *     connect has finished, and the shim hands exactly that to the caller.
 *
 * Without AIOPSLAB_POD_IP in the environment the shim does nothing. It is
 * built on its own (no src/core objects: it lives inside foreign programs),
 * keeps no mutable state after its constructor, and so is safe in threaded
 * programs. Every call it makes goes to the real libc functions. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../core/lab.h" /* relative: the shim is built without -Isrc */

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static bind_fn real_bind;
static connect_fn real_connect;
static int shim_on;
static uint32_t pod_ip;   /* network order */
static int lab_net = -1;  /* second octet of the lab's /16 */

__attribute__((constructor)) static void shim_init(void)
{
    real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    real_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
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
    if (!real_bind) real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    if (!real_connect) real_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
}

static int is_tcp(int fd)
{
    int type = 0;
    socklen_t len = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* Replace the IPv6 socket fd by an IPv4 TCP socket on the same number,
 * keeping the file status flags, close-on-exec and the reuse options. */
static int replace_with_ipv4(int fd)
{
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    int reuseaddr = 0, reuseport = 0;
    socklen_t len = sizeof reuseaddr;
    getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, &len);
    len = sizeof reuseport;
    getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuseport, &len);
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
        getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen);
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

/* Milliseconds left until deadline (CLOCK_MONOTONIC ms), or -1 for none. */
static int left_ms(int64_t deadline)
{
    if (deadline < 0) return -1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return now >= deadline ? 0 : (int)(deadline - now);
}

/* Wait for events on fd until deadline; 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, left_ms(deadline));
        if (rc < 0 && errno == EINTR) continue;
        return rc;
    }
}

/* The shim port protocol on fd (already bound to the pod IP). Returns 0 or
 * an errno value for the caller. */
static int via_mesh(int fd, const struct sockaddr_in *dst, int64_t deadline)
{
    struct sockaddr_in mesh;
    memset(&mesh, 0, sizeof mesh);
    mesh.sin_family = AF_INET;
    mesh.sin_port = htons(LAB_MESH_SHIM_PORT);
    mesh.sin_addr.s_addr = htonl((127u << 24) | ((uint32_t)lab_net << 16) | 1);
    if (real_connect(fd, (struct sockaddr *)&mesh, sizeof mesh) < 0) {
        if (errno != EINPROGRESS && errno != EINTR) return errno;
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r == 0) return ETIMEDOUT;
        if (r < 0) return errno;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
        if (err) return err;
    }
    unsigned char hdr[12] = {'A', 'I', 'O', 'M'};
    memcpy(hdr + 4, &dst->sin_addr.s_addr, 4);
    memcpy(hdr + 8, &dst->sin_port, 2);
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
    unsigned char st[4];
    off = 0;
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

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    ensure_real();
    if (!shim_on || !addr || addr->sa_family != AF_INET || len < (socklen_t)sizeof(struct sockaddr_in))
        return real_connect(fd, addr, len);
    const struct sockaddr_in *dst = (const struct sockaddr_in *)addr;
    uint32_t h = ntohl(dst->sin_addr.s_addr);
    if ((h >> 24) != 127 || !is_tcp(fd)) return real_connect(fd, addr, len);
    int saved = errno;

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

    /* A Service: through the mesh, waiting for its verdict like a blocking
     * connect would (bounded by SO_SNDTIMEO when set). */
    int64_t deadline = -1;
    struct timeval tv;
    socklen_t tlen = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &tlen) == 0 && (tv.tv_sec || tv.tv_usec)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    }
    int fl = fcntl(fd, F_GETFL);
    int err = via_mesh(fd, dst, deadline);
    if (err == 0) {
        if (fl >= 0 && (fl & O_NONBLOCK)) {
            errno = EINPROGRESS; /* connected already: writable at once, SO_ERROR 0 */
            return -1;
        }
        errno = saved;
        return 0;
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
