/* pingpong: cpu per round trip of a SIZE-byte message between two
 * processes over loopback TCP or a Unix stream socket (bench/calls.sh):
 * what the transport costs a hop, wake-ups included.
 * Usage: pingpong tcp|unix SIZE N */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int tcp_pair(int sv[2])
{
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &al))
        return -1;
    sv[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&a, sizeof a) || (sv[1] = accept(l, NULL, NULL)) < 0) return -1;
    close(l);
    setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

static int recv_all(int fd, char *buf, size_t size)
{
    for (size_t got = 0; got < size;) {
        ssize_t r = recv(fd, buf + got, size - got, 0);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) return fprintf(stderr, "usage: pingpong tcp|unix SIZE N\n"), 2;
    int use_unix = !strcmp(argv[1], "unix");
    long size = atol(argv[2]), n = atol(argv[3]);
    if ((!use_unix && strcmp(argv[1], "tcp")) || size <= 0 || size > (1 << 20) || n <= 0)
        return fprintf(stderr, "pingpong: bad arguments\n"), 2;
    int sv[2];
    if (use_unix ? socketpair(AF_UNIX, SOCK_STREAM, 0, sv) : tcp_pair(sv)) return perror("pingpong: socket pair"), 1;
    char *buf = calloc(1, (size_t)size);
    pid_t child = fork();
    if (child < 0) return perror("fork"), 1;
    int fd = child == 0 ? sv[1] : sv[0];
    for (long i = 0; i < n; i++) {
        if (child && send(fd, buf, (size_t)size, 0) != size) return 1;
        if (recv_all(fd, buf, (size_t)size)) return 1;
        if (!child && send(fd, buf, (size_t)size, 0) != size) return 1;
    }
    if (!child) return 0;
    int status;
    waitpid(child, &status, 0);
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    double us =
        (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) * 1e6 +
        (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec + kids.ru_stime.tv_usec);
    printf("%-4s %7ld B: %5.1f us cpu per round trip (both processes)\n", argv[1], size, us / (double)n);
    free(buf);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
