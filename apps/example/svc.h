/* svc.h: the small service kit of the example app, header-only.
 *
 * The example programs (example-frontend, example-words, example-counter)
 * are ordinary programs, as they would be in a real cluster: plain C over
 * POSIX sockets and pthreads, nothing from src/. This header gives them
 * what every one of them needs:
 *   - one JSON log line per event on stdout
 *     ({"ts":...,"level":"info","service":"frontend","msg":"GET / 200 3.2ms"});
 *   - an HTTP/1.1 server on 0.0.0.0:PORT, a thread per connection, bounded
 *     requests, one log line per request, a clean exit on SIGTERM/SIGINT;
 *   - Service discovery through the variables Kubernetes injects
 *     (WORDS_SERVICE_HOST / WORDS_SERVICE_PORT) and a TCP connect with a
 *     timeout whose errors read like "connect to words:9090 failed:
 *     Connection refused";
 *   - a small HTTP client and a bounded JSON field extractor.
 * Everything is static (one copy per program); unused parts are fine.
 */
#ifndef EXAMPLE_SVC_H
#define EXAMPLE_SVC_H
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SVC_API static __attribute__((unused))
#define SVC_HEAD_MAX 8192     /* request or response head */
#define SVC_BODY_MAX 16384    /* request or response body */
#define SVC_MAX_CLIENTS 256   /* concurrent connections served */
#define SVC_IO_TIMEOUT_MS 5000

static const char *svc_service = "example";
static pthread_mutex_t svc_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int svc_wake_pipe[2] = {-1, -1};
static atomic_int svc_active;

/* ---- logging ---------------------------------------------------------- */

/* Append s to out[*len..n) JSON-escaped (without quotes); stops when full. */
SVC_API void svc_json_escape(char *out, size_t n, size_t *len, const char *s)
{
    for (; *s && *len + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[(*len)++] = '\\';
            out[(*len)++] = (char)c;
        } else if (c == '\n') {
            out[(*len)++] = '\\';
            out[(*len)++] = 'n';
        } else if (c < 0x20) {
            *len += (size_t)snprintf(out + *len, n - *len, "\\u%04x", c);
        } else {
            out[(*len)++] = (char)c;
        }
    }
    out[*len] = '\0';
}

SVC_API void svc_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
SVC_API void svc_log(const char *level, const char *fmt, ...)
{
    char msg[1024], line[2048], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t t = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + t, sizeof ts - t, ".%03ldZ", now.tv_nsec / 1000000);
    size_t len = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"service\":\"", ts, level);
    svc_json_escape(line, sizeof line, &len, svc_service);
    len += (size_t)snprintf(line + len, sizeof line - len, "\",\"msg\":\"");
    svc_json_escape(line, sizeof line - 3, &len, msg);
    len += (size_t)snprintf(line + len, sizeof line - len, "\"}\n");
    pthread_mutex_lock(&svc_log_lock);
    fwrite(line, 1, len, stdout);
    fflush(stdout);
    pthread_mutex_unlock(&svc_log_lock);
}

/* ---- small helpers ------------------------------------------------------ */

SVC_API double svc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* A whole decimal number in [min, max] from s, else -1. */
SVC_API long svc_parse_num(const char *s, long min, long max)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    return v;
}

/* The port to listen on: $PORT when set and valid, else def. */
SVC_API int svc_listen_port(int def)
{
    long p = svc_parse_num(getenv("PORT"), 1, 65535);
    return p > 0 ? (int)p : def;
}

SVC_API void svc_set_timeouts(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

SVC_API int svc_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copy the string value of "key" in a flat JSON object into out; 0 or -1.
 * Enough for the small bodies the example services exchange. */
SVC_API int svc_json_get_str(const char *json, const char *key, char *out, size_t n)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == ':') p++;
    if (*p != '"') return -1;
    p++;
    size_t len = 0;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        if (len + 1 >= n) return -1;
        out[len++] = *p++;
    }
    if (*p != '"') return -1;
    out[len] = '\0';
    return 0;
}

/* The integer value of "key" in a flat JSON object; 0 or -1. */
SVC_API int svc_json_get_int(const char *json, const char *key, long long *out)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == ':') p++;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p) return -1;
    *out = v;
    return 0;
}

/* ---- Service discovery and connecting ----------------------------------- */

struct svc_target {
    char name[64];  /* "words": for messages */
    char host[256]; /* $WORDS_SERVICE_HOST */
    char port[16];  /* $WORDS_SERVICE_PORT */
};

/* Find Service `name` through the variables Kubernetes injects
 * (NAME_SERVICE_HOST, NAME_SERVICE_PORT; dashes become underscores).
 * 0, or -1 with err. */
SVC_API int svc_lookup(const char *name, struct svc_target *t, char *err, size_t errlen)
{
    char var[128], up[64];
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof up; i++)
        up[i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    up[i] = '\0';
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(var, sizeof var, "%s_SERVICE_HOST", up);
    const char *host = getenv(var);
    snprintf(var, sizeof var, "%s_SERVICE_PORT", up);
    const char *port = getenv(var);
    if (!host || !*host || !port || svc_parse_num(port, 1, 65535) < 0) {
        snprintf(err, errlen, "service %s not found: %s_SERVICE_HOST/%s_SERVICE_PORT not set", name, up, up);
        return -1;
    }
    snprintf(t->host, sizeof t->host, "%s", host);
    snprintf(t->port, sizeof t->port, "%s", port);
    return 0;
}

/* Connect to t within timeout_ms. A connected blocking socket whose reads
 * and writes also time out after timeout_ms, or -1 with err
 * ("connect to words:9090 failed: Connection refused"). */
SVC_API int svc_connect(const struct svc_target *t, int timeout_ms, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(t->host, t->port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "connect to %s:%s failed: %s", t->name, t->port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "connect to %s:%s failed: %s", t->name, t->port, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    /* The lab's connect shim waits for the mesh's verdict inside connect()
     * and honours SO_SNDTIMEO there, even on a non-blocking socket. */
    svc_set_timeouts(fd, timeout_ms);
    int e = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int n;
            do n = poll(&pfd, 1, timeout_ms); while (n < 0 && errno == EINTR);
            if (n == 0) {
                e = ETIMEDOUT;
            } else {
                socklen_t sl = sizeof e;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0) e = errno;
            }
        }
    }
    freeaddrinfo(ai);
    if (e) {
        snprintf(err, errlen, "connect to %s:%s failed: %s", t->name, t->port, strerror(e));
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    svc_set_timeouts(fd, timeout_ms);
    return fd;
}

/* ---- HTTP client -------------------------------------------------------- */

struct svc_http_resp {
    int status;
    char body[SVC_BODY_MAX];
    size_t len;
};

/* One HTTP/1.1 request to Service `name` (Connection: close). 0 with r
 * filled (any status), or -1 with err when the exchange itself failed. */
SVC_API int svc_http_call(const char *name, const char *method, const char *path, int timeout_ms,
                          struct svc_http_resp *r, char *err, size_t errlen)
{
    struct svc_target t;
    if (svc_lookup(name, &t, err, errlen) < 0) return -1;
    int fd = svc_connect(&t, timeout_ms, err, errlen);
    if (fd < 0) return -1;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: example-%s\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     method, path, t.name, t.port, svc_service);
    if (n < 0 || (size_t)n >= sizeof req || svc_send_all(fd, req, (size_t)n) < 0) {
        snprintf(err, errlen, "send to %s:%s failed: %s", t.name, t.port, strerror(errno));
        close(fd);
        return -1;
    }
    static __thread char buf[SVC_HEAD_MAX + SVC_BODY_MAX + 1];
    size_t len = 0;
    long want = -1; /* total bytes when Content-Length is known */
    char *body = NULL;
    for (;;) {
        if (want >= 0 && (long)len >= want) break;
        if (len >= sizeof buf - 1) {
            snprintf(err, errlen, "answer from %s:%s too large", t.name, t.port);
            close(fd);
            return -1;
        }
        ssize_t got = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            snprintf(err, errlen, "read from %s:%s failed: %s", t.name, t.port,
                     errno == EAGAIN ? "timed out" : strerror(errno));
            close(fd);
            return -1;
        }
        if (got == 0) break;
        len += (size_t)got;
        buf[len] = '\0';
        if (!body && (body = strstr(buf, "\r\n\r\n"))) {
            body += 4;
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            if (cl && cl < body) {
                long v = strtol(cl + 17, NULL, 10);
                if (v >= 0 && v <= SVC_BODY_MAX) want = (long)(body - buf) + v;
            }
        }
    }
    close(fd);
    buf[len] = '\0';
    int status = 0;
    if (!body || sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(err, errlen, "bad answer from %s:%s (%zu bytes)", t.name, t.port, len);
        return -1;
    }
    r->status = status;
    r->len = len - (size_t)(body - buf);
    if (r->len >= sizeof r->body) r->len = sizeof r->body - 1;
    memcpy(r->body, body, r->len);
    r->body[r->len] = '\0';
    return 0;
}

/* ---- HTTP server -------------------------------------------------------- */

struct svc_req {
    char method[16];
    char path[1024]; /* without the query */
    char query[1024];
    char body[4096];
    size_t body_len;
};

struct svc_resp {
    int status;
    char ctype[64];
    char body[SVC_BODY_MAX];
    size_t len;
};

typedef void (*svc_handler_fn)(const struct svc_req *req, struct svc_resp *resp);
static svc_handler_fn svc_handler;

SVC_API void svc_reply(struct svc_resp *resp, int status, const char *ctype, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
SVC_API void svc_reply(struct svc_resp *resp, int status, const char *ctype, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(resp->body, sizeof resp->body, fmt, ap);
    va_end(ap);
    resp->status = status;
    snprintf(resp->ctype, sizeof resp->ctype, "%s", ctype);
    resp->len = n < 0 ? 0 : (size_t)n >= sizeof resp->body ? sizeof resp->body - 1 : (size_t)n;
}

/* An error answer {"error":"msg"} with msg escaped. */
SVC_API void svc_reply_error(struct svc_resp *resp, int status, const char *msg)
{
    char esc[1024];
    size_t len = 0;
    esc[0] = '\0';
    svc_json_escape(esc, sizeof esc, &len, msg);
    svc_reply(resp, status, "application/json", "{\"error\":\"%s\"}\n", esc);
}

static const char *svc_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* Read one request head (and a small body) from fd. 0, or the status to
 * answer with (400/413/431), or -1 when the peer went away silently. */
static int svc_read_request(int fd, struct svc_req *req)
{
    char head[SVC_HEAD_MAX + 1];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len >= SVC_HEAD_MAX) return 431;
        ssize_t got = recv(fd, head + len, SVC_HEAD_MAX - len, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return len ? 400 : -1;
        len += (size_t)got;
        head[len] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    char target[1024];
    if (sscanf(head, "%15s %1023s HTTP/1.%*d", req->method, target) != 2) return 400;
    char *q = strchr(target, '?');
    if (q) *q++ = '\0';
    size_t plen = strlen(target), qlen = q ? strlen(q) : 0;
    if (plen >= sizeof req->path || qlen >= sizeof req->query) return 431;
    memcpy(req->path, target, plen + 1);
    memcpy(req->query, q ? q : "", qlen + 1);
    /* Body: only what Content-Length announces, bounded. */
    long clen = 0;
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    if (cl && cl < end) {
        clen = strtol(cl + 17, NULL, 10);
        if (clen < 0) return 400;
        if ((size_t)clen >= sizeof req->body) return 413;
    }
    size_t have = len - (size_t)(end + 4 - head);
    if (have > (size_t)clen) have = (size_t)clen;
    memcpy(req->body, end + 4, have);
    while (have < (size_t)clen) {
        ssize_t got = recv(fd, req->body + have, (size_t)clen - have, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return 400;
        have += (size_t)got;
    }
    req->body[have] = '\0';
    req->body_len = have;
    return 0;
}

static void *svc_conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    double t0 = svc_now_ms();
    struct svc_req *req = calloc(1, sizeof *req);
    struct svc_resp *resp = calloc(1, sizeof *resp);
    if (!req || !resp) goto out;
    svc_set_timeouts(fd, SVC_IO_TIMEOUT_MS);
    int bad = svc_read_request(fd, req);
    if (bad < 0) goto out;
    if (bad > 0) {
        svc_reply_error(resp, bad, svc_reason(bad));
        snprintf(req->method, sizeof req->method, "-");
        snprintf(req->path, sizeof req->path, "-");
    } else {
        svc_handler(req, resp);
    }
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     resp->status, svc_reason(resp->status), resp->ctype[0] ? resp->ctype : "text/plain",
                     resp->len);
    if (svc_send_all(fd, head, (size_t)n) == 0 && strcmp(req->method, "HEAD") != 0)
        svc_send_all(fd, resp->body, resp->len);
    svc_log(resp->status >= 500 ? "error" : "info", "%s %s %d %.1fms", req->method, req->path, resp->status,
            svc_now_ms() - t0);
out:
    shutdown(fd, SHUT_WR);
    close(fd);
    free(req);
    free(resp);
    atomic_fetch_sub(&svc_active, 1);
    return NULL;
}

static void svc_on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(svc_wake_pipe[1], &b, 1) < 0) { /* nothing to do in a handler */
    }
    errno = saved;
}

/* Serve HTTP on 0.0.0.0:port with handler until SIGTERM or SIGINT; then
 * stop accepting, give running requests up to 2 s and return the exit
 * status (0 after a signal, 1 when the port cannot be bound). */
SVC_API int svc_serve(int port, svc_handler_fn handler)
{
    svc_handler = handler;
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(svc_wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        svc_log("error", "pipe: %s", strerror(errno));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = svc_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(lfd, 128) < 0) {
        svc_log("error", "listen on 0.0.0.0:%d failed: %s", port, strerror(errno));
        return 1;
    }
    /* Report the address actually bound (the pod IP under the lab's shim). */
    struct sockaddr_in got;
    socklen_t gl = sizeof got;
    char ip[INET_ADDRSTRLEN] = "0.0.0.0";
    if (getsockname(lfd, (struct sockaddr *)&got, &gl) == 0) inet_ntop(AF_INET, &got.sin_addr, ip, sizeof ip);
    svc_log("info", "listening on %s:%d", ip, port);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int sig = 0;
    while (!sig) {
        struct pollfd pfd[2] = {{.fd = lfd, .events = POLLIN}, {.fd = svc_wake_pipe[0], .events = POLLIN}};
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) continue;
            svc_log("error", "poll: %s", strerror(errno));
            break;
        }
        if (pfd[1].revents) {
            unsigned char b = 0;
            if (read(svc_wake_pipe[0], &b, 1) == 1) sig = b;
            continue;
        }
        if (!(pfd[0].revents & POLLIN)) continue;
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) continue;
        if (atomic_load(&svc_active) >= SVC_MAX_CLIENTS) {
            static const char busy[] =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(cfd);
            continue;
        }
        atomic_fetch_add(&svc_active, 1);
        pthread_t th;
        if (pthread_create(&th, &attr, svc_conn_thread, (void *)(intptr_t)cfd) != 0) {
            atomic_fetch_sub(&svc_active, 1);
            close(cfd);
        }
    }
    close(lfd);
    svc_log("info", "received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    for (int i = 0; i < 200 && atomic_load(&svc_active) > 0; i++) usleep(10 * 1000);
    pthread_attr_destroy(&attr);
    return sig ? 0 : 1;
}

/* Name this program for its log lines ("frontend"). */
SVC_API void svc_init(const char *service)
{
    svc_service = service;
    setvbuf(stdout, NULL, _IOLBF, 0);
}

#endif
