/* curl_call: cpu per HTTP/1.1 call on one kept-alive connection, the way
 * the kit calls (apps/kit/client.c: curl_easy_reset and the options each
 * call), with the options set once, and as a bare send/recv: what libcurl
 * itself costs per call (bench/calls.sh).
 * Usage: curl_call MODE N PORT   (MODE: kit | once | bare) */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define TRACEPARENT "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

struct reply {
    char *p;
    size_t len, cap;
};

static size_t on_data(char *d, size_t size, size_t n, void *arg)
{
    struct reply *b = arg;
    size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        b->cap = (b->len + add + 1) * 2;
        char *q = realloc(b->p, b->cap);
        if (!q) return 0;
        b->p = q;
    }
    memcpy(b->p + b->len, d, add);
    b->len += add;
    return add;
}

static void set_options(CURL *c, const char *url, struct reply *b)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 32L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
}

static int bare(int n, int port, char *buf, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) return perror("connect"), 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const char *req = "GET /index.html HTTP/1.1\r\nHost: x\r\n" TRACEPARENT "\r\nAccept: application/json\r\n\r\n";
    for (int i = 0; i < n; i++) /* the body is small: one recv holds the whole reply */
        if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 || recv(fd, buf, size, 0) <= 0) return perror("call"), 1;
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) return fprintf(stderr, "usage: curl_call kit|once|bare N PORT\n"), 2;
    const char *mode = argv[1];
    int n = atoi(argv[2]), port = atoi(argv[3]);
    if (n <= 0 || port <= 0 || port > 65535) return fprintf(stderr, "curl_call: bad N or PORT\n"), 2;
    char url[64], buf[65536];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html", port);
    curl_global_init(CURL_GLOBAL_ALL);
    CURL *c = curl_easy_init();
    struct reply b = {0};
    if (!strcmp(mode, "once")) set_options(c, url, &b);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    if (!strcmp(mode, "bare")) {
        if (bare(n, port, buf, sizeof buf)) return 1;
    } else {
        for (int i = 0; i < n; i++) {
            struct curl_slist *h = curl_slist_append(NULL, TRACEPARENT);
            h = curl_slist_append(h, "Expect:");
            h = curl_slist_append(h, "Accept: application/json");
            if (!strcmp(mode, "kit")) {
                curl_easy_reset(c);
                set_options(c, url, &b);
            }
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
            b.len = 0;
            long status = 0;
            CURLcode rc = curl_easy_perform(c);
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            curl_slist_free_all(h);
            if (rc != CURLE_OK || status != 200)
                return fprintf(stderr, "curl_call: %s, status %ld\n", curl_easy_strerror(rc), status), 1;
        }
    }
    getrusage(RUSAGE_SELF, &r1);
    double user =
        (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1e6 + (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec);
    double sys =
        (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 + (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    printf("%-5s %6.1f us/call cpu (user %5.1f, system %5.1f)\n", mode, (user + sys) / n, user / n, sys / n);
    curl_easy_cleanup(c);
    free(b.p);
    return 0;
}
