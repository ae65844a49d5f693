/* client: one request, one reply over the daemon's Unix socket (see client.h).
 *
 * Every step is bounded by one deadline for the whole call, so that a
 * daemon that is stuck or overloaded turns into an error, never a hang:
 * connect (a daemon that stopped accepting fills its listen backlog, and a
 * Unix connect then waits for room), sending (a daemon that stopped
 * reading) and the wait for the reply. */
#include "cluster/client.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/timeutil.h"
#include "core/util.h"

#define CLIENT_TIMEOUT_MS 120000 /* the whole call */

/* Milliseconds left until deadline (mono_ns), at least 1 while any is. */
static int64_t left_ms(uint64_t deadline)
{
    uint64_t now = mono_ns();
    if (now >= deadline) return 0;
    uint64_t ms = (deadline - now) / 1000000;
    return ms ? (int64_t)ms : 1;
}

/* connect and write block at most this long: SO_SNDTIMEO bounds both on a
 * Unix stream socket (they fail with EAGAIN when it runs out). */
static void send_timeout(int fd, int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        int64_t ms = left_ms(deadline);
        if (!ms) return -ETIMEDOUT;
        send_timeout(fd, ms);
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one reply line into in until EOF, the newline or the deadline. */
static int read_reply(int fd, struct buf *in, uint64_t deadline, char *err, size_t errlen)
{
    for (;;) {
        char chunk[65536];
        int64_t ms = left_ms(deadline);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = ms ? poll(&p, 1, (int)ms) : 0;
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) {
            snprintf(err, errlen, "waiting for the daemon: %s", strerror(errno));
            return -errno;
        }
        if (pr == 0) {
            snprintf(err, errlen, "the daemon did not answer within %ds", CLIENT_TIMEOUT_MS / 1000);
            return -ETIMEDOUT;
        }
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r < 0) {
            snprintf(err, errlen, "reading from the daemon: %s", strerror(errno));
            return -errno;
        }
        if (r == 0) return 0;
        if (buf_append(in, chunk, (size_t)r)) {
            snprintf(err, errlen, "the daemon's reply is larger than %u bytes", CLUSTER_API_MAX);
            return -E2BIG;
        }
        if (in->data[in->len - 1] == '\n') return 0;
    }
}

int cluster_call(const struct lab *lab, json_t *req, json_t **reply, char *err, size_t errlen)
{
    uint64_t deadline = mono_ns() + (uint64_t)CLIENT_TIMEOUT_MS * 1000000;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char path[PATH_MAX];
    if (lab_path(lab, "daemon.sock", path, sizeof path) || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "lab directory path is too long for a Unix socket: %s", lab->dir);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    char *text = json_dumps(req, JSON_COMPACT);
    if (!text) {
        snprintf(err, errlen, "cannot encode the request");
        return -ENOMEM;
    }
    size_t n = strlen(text);
    if (n + 1 > CLUSTER_API_MAX) { /* the daemon would refuse it after reading it all */
        snprintf(err, errlen, "the request is larger than %u bytes", CLUSTER_API_MAX);
        free(text);
        return -E2BIG;
    }
    text[n] = '\n'; /* replaces the terminator: text is sent by length */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket: %s", strerror(e));
        free(text);
        return -e;
    }
    int rc = 0;
    struct buf in;
    buf_init(&in, CLUSTER_API_MAX);
    send_timeout(fd, left_ms(deadline));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        rc = -errno;
        if (rc == -EAGAIN) {
            rc = -ETIMEDOUT;
            snprintf(err, errlen, "the daemon of lab \"%s\" did not accept the connection within %ds",
                     lab->name, CLIENT_TIMEOUT_MS / 1000);
        } else {
            snprintf(err, errlen, "the cluster of lab \"%s\" is not running (start it with: aiopslab cluster up)",
                     lab->name);
        }
        goto out;
    }
    int sent = send_all(fd, text, n + 1, deadline);
    /* A daemon that refuses a request (too busy, too large) replies and
     * closes before reading it all: its reply is still there to read. */
    rc = read_reply(fd, &in, deadline, err, errlen);
    if (sent && !in.len) {
        rc = sent;
        if (sent == -ETIMEDOUT) snprintf(err, errlen, "the daemon did not take the request within %ds",
                                         CLIENT_TIMEOUT_MS / 1000);
        else snprintf(err, errlen, "sending to the daemon: %s", strerror(-sent));
        goto out;
    }
    if (rc) goto out;
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
