/* test_netf: the network faults' probe (src/faults/netf_util.c) against
 * small local servers that answer, stay silent, reset, answer like the
 * mesh's abort, or close late: what it measures is what verify decides on. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "faults/netf_util.h"
#include "t.h"

enum mode { ANSWER, SILENT, RESET, ABORT, LATE_CLOSE };

struct server {
    int lfd;
    enum mode mode;
    char request[8192];
    size_t request_len;
};

static void sleep_ms(int ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

static void *serve(void *arg)
{
    struct server *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    /* Read the request head (up to its blank line). */
    while (s->request_len < sizeof s->request - 1 && !strstr(s->request, "\r\n\r\n")) {
        ssize_t r = recv(fd, s->request + s->request_len, sizeof s->request - 1 - s->request_len, 0);
        if (r <= 0) break;
        s->request_len += (size_t)r;
        s->request[s->request_len] = '\0';
    }
    static const char ok[] = "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok";
    static const char ab[] = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 18\r\n\r\nfault filter abort";
    switch (s->mode) {
    case ANSWER: send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL); break;
    case ABORT: send(fd, ab, sizeof ab - 1, MSG_NOSIGNAL); break;
    case SILENT: sleep_ms(600); break;
    case RESET: {
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        break;
    }
    case LATE_CLOSE:
        send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL);
        sleep_ms(400);
        break;
    }
    close(fd);
    return NULL;
}

/* One probe against a server in mode m; the result in *p. */
static void probe_once(enum mode m, unsigned wait_ms, size_t pad, struct netf_probe *p, struct server *s)
{
    memset(s, 0, sizeof *s);
    s->mode = m;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    T_CHECK(bind(s->lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(s->lfd, 4) == 0);
    T_CHECK(getsockname(s->lfd, (struct sockaddr *)&a, &len) == 0);
    struct netf_target t = {.name = "words", .ip = "127.0.0.1", .port = ntohs(a.sin_port), .proto = NETF_HTTP};
    pthread_t th;
    pthread_create(&th, NULL, serve, s);
    struct fault_ctx c = {0};
    T_EQ_INT(netf_probe_run(&c, &t, NULL, pad, 1, wait_ms, p), 0);
    pthread_join(th, NULL);
    close(s->lfd);
}

static void test_answer(void)
{
    struct netf_probe p;
    struct server s;
    probe_once(ANSWER, 2000, 0, &p, &s);
    T_CHECK(p.connected && !p.reset && p.closed);
    T_EQ_INT(p.received, 40);
    T_EQ_INT(p.http_status, 200);
    T_CHECK(!p.abort_body && p.first_ms < 500);
    T_CHECK(!strncmp(s.request, "GET /healthz HTTP/1.0\r\nHost: words:", 35));
}

static void test_silent(void)
{
    struct netf_probe p;
    struct server s;
    probe_once(SILENT, 300, 0, &p, &s);
    T_CHECK(p.connected && !p.reset && !p.closed);
    T_EQ_INT(p.received, 0);
}

static void test_reset(void)
{
    struct netf_probe p;
    struct server s;
    probe_once(RESET, 2000, 0, &p, &s);
    T_CHECK(p.reset);
    T_EQ_INT(p.received, 0);
}

static void test_abort(void)
{
    struct netf_probe p;
    struct server s;
    probe_once(ABORT, 2000, 0, &p, &s);
    T_EQ_INT(p.http_status, 503);
    T_CHECK(p.abort_body);
}

static void test_late_close(void)
{
    struct netf_probe p;
    struct server s;
    probe_once(LATE_CLOSE, 2000, 0, &p, &s);
    T_CHECK(p.closed && p.received);
    T_CHECK(p.close_ms - p.last_ms >= 300);
}

static void test_padding(void)
{
    struct netf_probe p;
    struct server s;
    probe_once(ANSWER, 2000, 3000, &p, &s);
    T_CHECK(p.sent >= 3000 && p.sent == s.request_len);
    T_CHECK(strstr(s.request, "\r\nX-Padding: aaa") != NULL);
}

int main(void)
{
    T_RUN(test_answer);
    T_RUN(test_silent);
    T_RUN(test_reset);
    T_RUN(test_abort);
    T_RUN(test_late_close);
    T_RUN(test_padding);
    return t_done();
}
