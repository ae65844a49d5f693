/* example-counter: the "counter" service of the example app.
 *
 * HTTP on :9091 (or $PORT). POST /incr (GET accepted too) adds one to a
 * count kept in Redis through the "cache" Service and answers
 * {"count":N}; GET /count answers the count without changing it;
 * GET /healthz answers ok without touching Redis (a cache outage must show
 * as failed requests, not as a counter that restarts).
 *
 * It speaks RESP itself over a socket, one connection per request: the
 * command as an array of bulk strings, the answer an integer (:N),
 * a bulk string ($N / $-1), or an error (-ERR ...).
 */
#include "svc.h"

#define COUNT_KEY "example:count"
#define REDIS_TIMEOUT_MS 1000

/* Send a two-word command and read an integer reply (a bulk string holding
 * an integer, or nil as 0, is accepted too). 0 or -1 with err. */
static int redis_int_command(const char *cmd, const char *key, long long *out, char *err, size_t errlen)
{
    struct svc_target t;
    if (svc_lookup("cache", &t, err, errlen) < 0) return -1;
    int fd = svc_connect(&t, REDIS_TIMEOUT_MS, err, errlen);
    if (fd < 0) return -1;
    char req[256];
    int n = snprintf(req, sizeof req, "*2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(cmd), cmd, strlen(key), key);
    if (n < 0 || (size_t)n >= sizeof req || svc_send_all(fd, req, (size_t)n) < 0) {
        snprintf(err, errlen, "send to %s:%s failed: %s", t.name, t.port, strerror(errno));
        close(fd);
        return -1;
    }
    /* Replies are short; read until a complete one is in. */
    char buf[512];
    size_t len = 0;
    int rc = -1;
    for (;;) {
        ssize_t got = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            snprintf(err, errlen, "read from %s:%s failed: %s", t.name, t.port,
                     got == 0 ? "connection closed" : errno == EAGAIN ? "timed out" : strerror(errno));
            break;
        }
        len += (size_t)got;
        buf[len] = '\0';
        char *eol = strstr(buf, "\r\n");
        if (!eol) {
            if (len >= sizeof buf - 1) {
                snprintf(err, errlen, "bad reply from %s:%s", t.name, t.port);
                break;
            }
            continue;
        }
        *eol = '\0';
        if (buf[0] == '-') {
            snprintf(err, errlen, "%s:%s answered %.200s", t.name, t.port, buf + 1);
            break;
        }
        if (buf[0] == ':') {
            char *end;
            errno = 0;
            *out = strtoll(buf + 1, &end, 10);
            rc = (errno || *end) ? -1 : 0;
            if (rc) snprintf(err, errlen, "bad reply from %s:%s", t.name, t.port);
            break;
        }
        if (buf[0] == '$') {
            long blen = strtol(buf + 1, NULL, 10);
            if (blen < 0) { /* nil: no count yet */
                *out = 0;
                rc = 0;
                break;
            }
            char *val = eol + 2;
            if ((size_t)(val - buf) + (size_t)blen + 2 > len) {
                *eol = '\r'; /* incomplete: read on */
                if (len >= sizeof buf - 1) {
                    snprintf(err, errlen, "bad reply from %s:%s", t.name, t.port);
                    break;
                }
                continue;
            }
            val[blen] = '\0';
            char *end;
            errno = 0;
            *out = strtoll(val, &end, 10);
            rc = (errno || *end) ? -1 : 0;
            if (rc) snprintf(err, errlen, "bad reply from %s:%s", t.name, t.port);
            break;
        }
        snprintf(err, errlen, "bad reply from %s:%s", t.name, t.port);
        break;
    }
    close(fd);
    return rc;
}

static void handle(const struct svc_req *req, struct svc_resp *resp)
{
    char err[512];
    long long count = 0;
    if (!strcmp(req->path, "/healthz")) {
        svc_reply(resp, 200, "text/plain", "ok\n");
        return;
    }
    const char *cmd = NULL;
    if (!strcmp(req->path, "/incr") && (!strcmp(req->method, "POST") || !strcmp(req->method, "GET")))
        cmd = "INCR";
    else if (!strcmp(req->path, "/count") && !strcmp(req->method, "GET"))
        cmd = "GET";
    if (!cmd) {
        if (!strcmp(req->path, "/incr") || !strcmp(req->path, "/count"))
            svc_reply_error(resp, 405, "method not allowed");
        else
            svc_reply_error(resp, 404, "not found");
        return;
    }
    if (redis_int_command(cmd, COUNT_KEY, &count, err, sizeof err) < 0) {
        svc_log("error", "%s", err);
        svc_reply_error(resp, 503, err);
        return;
    }
    svc_reply(resp, 200, "application/json", "{\"count\":%lld}\n", count);
}

int main(void)
{
    svc_init("counter");
    return svc_serve(svc_listen_port(9091), handle);
}
