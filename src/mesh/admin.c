/* admin: request reading and response writing for the admin port (see
 * admin.h). Requests are bounded (8 KiB head); the response is rendered
 * whole into a bounded buffer and written as the socket allows. */
#include "mesh/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "mesh/metrics.h"

#define REQ_MAX 8192
#define RESP_MAX (64u << 20)

struct mesh_admin {
    struct mesh_handle h;
    int fd;
    int closed, writing;
    struct buf in, out;
    size_t out_off;
    struct mesh_admin *prev, *next;
};

static void admin_close(struct mesh_loop *L, struct mesh_admin *a)
{
    if (a->closed) return;
    a->closed = 1;
    close(a->fd);
    if (a->prev) a->prev->next = a->next;
    else L->admins = a->next;
    if (a->next) a->next->prev = a->prev;
    a->next = L->admin_graveyard;
    L->admin_graveyard = a;
}

void mesh_admin_reap(struct mesh_loop *L)
{
    while (L->admin_graveyard) {
        struct mesh_admin *a = L->admin_graveyard;
        L->admin_graveyard = a->next;
        buf_free(&a->in);
        buf_free(&a->out);
        free(a);
    }
}

void mesh_admin_close_all(struct mesh_loop *L)
{
    while (L->admins) admin_close(L, L->admins);
    mesh_admin_reap(L);
}

void mesh_admin_accept(struct mesh_loop *L, int lfd)
{
    for (int i = 0; i < 16; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        struct mesh_admin *a = xcalloc(1, sizeof *a);
        a->fd = fd;
        a->h.kind = MESH_H_ADMIN;
        a->h.owner = a;
        buf_init(&a->in, REQ_MAX);
        buf_init(&a->out, RESP_MAX);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &a->h};
        if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
            close(fd);
            buf_free(&a->in);
            buf_free(&a->out);
            free(a);
            continue;
        }
        a->next = L->admins;
        if (L->admins) L->admins->prev = a;
        L->admins = a;
    }
}

static void respond(struct mesh_loop *L, struct mesh_admin *a, int code, const char *reason, const char *ctype,
                    struct buf *body)
{
    buf_printf(&a->out,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", code,
               reason, ctype, body->len);
    if (buf_append(&a->out, body->data, body->len)) {
        buf_reset(&a->out);
        buf_puts(&a->out, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    a->writing = 1;
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = &a->h};
    epoll_ctl(L->epfd, EPOLL_CTL_MOD, a->fd, &e);
}

static void handle_request(struct mesh_loop *L, struct mesh_admin *a)
{
    struct buf body;
    buf_init(&body, RESP_MAX - 4096);
    char *sp = strchr(a->in.data, ' ');
    char *path = sp ? sp + 1 : NULL;
    char *end = path ? strchr(path, ' ') : NULL;
    if (end) *end = '\0';
    if (!path || !end || (strncmp(a->in.data, "GET ", 4) && strncmp(a->in.data, "HEAD ", 5))) {
        buf_puts(&body, "bad request\n");
        respond(L, a, 400, "Bad Request", "text/plain", &body);
    } else if (!strcmp(path, "/metrics") || !strncmp(path, "/metrics?", 9)) {
        if (mesh_metrics_render(L->metrics, &body)) log_warn("metrics exposition too large");
        respond(L, a, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", &body);
    } else if (!strcmp(path, "/healthz")) {
        buf_puts(&body, "ok\n");
        respond(L, a, 200, "OK", "text/plain", &body);
    } else {
        buf_puts(&body, "not found\n");
        respond(L, a, 404, "Not Found", "text/plain", &body);
    }
    buf_free(&body);
}

void mesh_admin_event(struct mesh_loop *L, struct mesh_handle *h, uint32_t events)
{
    struct mesh_admin *a = h->owner;
    if (a->closed) return;
    if (!a->writing) {
        char tmp[4096];
        ssize_t n = recv(a->fd, tmp, sizeof tmp, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0 || buf_append(&a->in, tmp, (size_t)n)) {
            admin_close(L, a);
            return;
        }
        if (!strstr(a->in.data, "\r\n\r\n") && !strstr(a->in.data, "\n\n")) return;
        handle_request(L, a);
    }
    while (a->out_off < a->out.len) {
        ssize_t w = send(a->fd, a->out.data + a->out_off, a->out.len - a->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            admin_close(L, a);
            return;
        }
        a->out_off += (size_t)w;
    }
    admin_close(L, a);
}
