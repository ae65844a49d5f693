/* client: one request, one reply over the daemon's Unix socket (see client.h). */
#include "cluster/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"

int cluster_call(const struct lab *lab, json_t *req, json_t **reply, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char path[PATH_MAX];
    if (lab_path(lab, "daemon.sock", path, sizeof path) || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "lab directory path is too long for a Unix socket: %s", lab->dir);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    int rc = 0;
    struct buf in;
    buf_init(&in, CLUSTER_API_MAX);
    char *text = json_dumps(req, JSON_COMPACT);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        rc = -errno;
        snprintf(err, errlen, "the cluster of lab \"%s\" is not running (start it with: aiopslab cluster up)",
                 lab->name);
        goto out;
    }
    if ((rc = write_all(fd, text, strlen(text))) || (rc = write_all(fd, "\n", 1))) {
        snprintf(err, errlen, "sending to the daemon: %s", strerror(-rc));
        goto out;
    }
    for (;;) {
        char chunk[65536];
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, 120000);
        if (pr == 0) {
            rc = -ETIMEDOUT;
            snprintf(err, errlen, "the daemon did not answer within 120s");
            goto out;
        }
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = -errno;
            snprintf(err, errlen, "reading from the daemon: %s", strerror(errno));
            goto out;
        }
        if (r == 0) break;
        if (buf_append(&in, chunk, (size_t)r)) {
            rc = -E2BIG;
            snprintf(err, errlen, "the daemon's reply is larger than %u bytes", CLUSTER_API_MAX);
            goto out;
        }
        if (in.data[in.len - 1] == '\n') break;
    }
    json_error_t je;
    json_t *v = in.len ? json_loadb(in.data, in.len, 0, &je) : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        rc = -EPROTO;
        snprintf(err, errlen, "the daemon closed the connection without a valid reply");
        goto out;
    }
    *reply = v;
out:
    free(text);
    buf_free(&in);
    close(fd);
    return rc;
}
