/* lab: lab names, directories and address ranges (see lab.h). */
#include "core/lab.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LAB_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0))) return 0;
    }
    return 1;
}

static int home_dir(char *out, size_t n)
{
    const char *h = getenv("AIOPSLAB_HOME");
    if (h && *h) return snprintf(out, n, "%s", h) >= (int)n ? -ENAMETOOLONG : 0;
    /* root's home is closed to the users that pods may run as (runAsUser). */
    if (geteuid() == 0) return snprintf(out, n, "/var/lib/aiopslab") >= (int)n ? -ENAMETOOLONG : 0;
    const char *home = getenv("HOME");
    return snprintf(out, n, "%s/.aiopslab", home && *home ? home : "/tmp") >= (int)n ? -ENAMETOOLONG : 0;
}

static int read_net(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/lab.json", dir);
    struct buf b;
    buf_init(&b, 4096);
    int net = 0;
    if (read_file(path, &b) == 0) {
        const char *p = strstr(b.data, "\"net\":");
        if (p) net = (int)strtol(p + 6, NULL, 10);
        if (net < 2 || net > 254) net = 0;
    }
    buf_free(&b);
    return net;
}

int lab_resolve(const char *name, struct lab *lab, char *err, size_t errlen)
{
    memset(lab, 0, sizeof *lab);
    if (!name) name = getenv("AIOPSLAB_LAB");
    if (!name || !*name) name = "default";
    if (!valid_name(name)) {
        snprintf(err, errlen, "invalid lab name \"%s\": use 1-%d lowercase letters, digits and '-'", name,
                 LAB_NAME_MAX);
        return -EINVAL;
    }
    char home[PATH_MAX - 64];
    if (home_dir(home, sizeof home)) {
        snprintf(err, errlen, "AIOPSLAB_HOME is too long");
        return -ENAMETOOLONG;
    }
    snprintf(lab->name, sizeof lab->name, "%s", name);
    snprintf(lab->dir, sizeof lab->dir, "%s/labs/%s", home, name);
    lab->net = read_net(lab->dir);
    return 0;
}

static int port_busy(int net, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    /* SO_REUSEADDR: a lab that went down a moment ago leaves connections in
     * TIME_WAIT on these ports; only a listener means a running lab. */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl((127u << 24) | ((unsigned)net << 16) | 1u);
    int busy = bind(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno == EADDRINUSE;
    close(fd);
    return busy;
}

/* A running lab holds its node IP's kubelet port (the daemon's claim on the
 * network) and its mesh's shim port. */
static int net_busy(int net) { return port_busy(net, LAB_KUBELET_PORT) || port_busy(net, LAB_MESH_SHIM_PORT); }

int lab_init(struct lab *lab, int net_hint, char *err, size_t errlen)
{
    if (lab->net) return 0;
    if (net_hint >= 2 && net_hint <= 254 && net_busy(net_hint)) {
        snprintf(err, errlen, "lab network 127.%d.0.0/16 is in use by another running lab", net_hint);
        return -EADDRINUSE;
    }
    int rc = mkdir_p(lab->dir, 0755);
    if (rc) {
        snprintf(err, errlen, "cannot create %s: %s", lab->dir, strerror(-rc));
        return rc;
    }
    int net = net_hint, lock = -1;
    if (!net) {
        /* First /16 not taken by another lab under the same home; labs that
         * start at the same moment (validate --jobs) choose one at a time. */
        char labs[PATH_MAX], lockpath[PATH_MAX + 16];
        snprintf(labs, sizeof labs, "%s", lab->dir);
        *strrchr(labs, '/') = '\0';
        snprintf(lockpath, sizeof lockpath, "%s/.net.lock", labs);
        lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock >= 0) flock(lock, LOCK_EX);
        int used[256] = {0};
        DIR *d = opendir(labs);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", labs, e->d_name) >= (int)sizeof sub) continue;
            used[read_net(sub)] = 1;
        }
        if (d) closedir(d);
        /* ... nor by a running lab of another home (net_busy). */
        for (net = 100; net < 250 && (used[net] || net_busy(net)); net++) {}
    }
    if (net < 2 || net > 254) {
        if (lock >= 0) close(lock);
        snprintf(err, errlen, "lab network 127.%d.0.0/16 is out of range (2-254)", net);
        return -EINVAL;
    }
    char path[PATH_MAX + 16], json[128];
    snprintf(path, sizeof path, "%s/lab.json", lab->dir);
    int n = snprintf(json, sizeof json, "{\"name\":\"%s\",\"net\":%d}\n", lab->name, net);
    rc = write_file_atomic(path, json, (size_t)n);
    if (lock >= 0) close(lock); /* the choice is on disk: the next lab sees it */
    if (rc) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
        return rc;
    }
    lab->net = net;
    return 0;
}

int lab_path(const struct lab *lab, const char *rel, char *out, size_t n)
{
    return snprintf(out, n, "%s/%s", lab->dir, rel) >= (int)n ? -ENAMETOOLONG : 0;
}

void lab_node_ip(const struct lab *lab, char *out, size_t n)
{
    snprintf(out, n, "127.%d.0.1", lab->net);
}

void lab_service_ip(const struct lab *lab, unsigned idx, char *out, size_t n)
{
    unsigned v = 256 + idx;
    snprintf(out, n, "127.%d.%u.%u", lab->net, v / 256, v % 256);
}

void lab_pod_ip(const struct lab *lab, unsigned idx, char *out, size_t n)
{
    unsigned v = 64 * 256 + 1 + idx;
    snprintf(out, n, "127.%d.%u.%u", lab->net, v / 256, v % 256);
}

static int ip_low16(const struct lab *lab, const char *ip)
{
    struct in_addr a;
    if (inet_pton(AF_INET, ip, &a) != 1) return -1;
    uint32_t h = ntohl(a.s_addr);
    if ((h >> 24) != 127 || (int)((h >> 16) & 0xff) != lab->net) return -1;
    return (int)(h & 0xffff);
}

int lab_pod_index(const struct lab *lab, const char *ip)
{
    int v = ip_low16(lab, ip);
    return v < 64 * 256 + 1 || v > 0xfffe ? -1 : v - (64 * 256 + 1);
}

int lab_service_index(const struct lab *lab, const char *ip)
{
    int v = ip_low16(lab, ip);
    return v < 256 || v >= 64 * 256 ? -1 : v - 256;
}
