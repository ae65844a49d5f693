/* http: an incremental HTTP/1.x framer for the mesh's request metrics. It
 * watches both directions of one connection, never buffers payload (only
 * the current head line, bounded), and reports each response with its
 * status code and the time from request head to response head. Supports
 * Content-Length and chunked bodies, keep-alive, pipelining (up to
 * MESH_HTTP_PIPELINE outstanding requests), HEAD, 1xx, 204/304 and
 * responses delimited by close. Anything it does not understand turns the
 * tracker off for the rest of the connection: bytes keep flowing, only
 * the request metrics stop. */
#ifndef MESH_HTTP_H
#define MESH_HTTP_H
#include <stddef.h>
#include <stdint.h>

#define MESH_HTTP_PIPELINE 32
#define MESH_HTTP_LINE_MAX 256
#define MESH_HTTP_HEAD_MAX (64 * 1024) /* larger heads are not HTTP we track */

struct mesh_http_dir {
    uint8_t state;
    uint8_t chunked, has_length, line_over;
    uint64_t remaining;   /* body or chunk bytes still to skip */
    uint32_t head_bytes;  /* bytes in the current head so far */
    uint16_t line_len;    /* bytes kept in line (at most LINE_MAX - 1) */
    uint32_t line_total;  /* full length of the current line */
    int status;           /* response: status of the head being read */
    uint8_t is_head_req;  /* request: method is HEAD */
    uint8_t http10;       /* request: HTTP/1.0 */
    uint8_t msg_done;     /* a message ended during the last feed */
    char line[MESH_HTTP_LINE_MAX];
    char tail[12];        /* last bytes of an overlong line, for " HTTP/1.x" */
};

struct mesh_http {
    int off;              /* 1: not HTTP (or lost track) */
    struct mesh_http_dir req, resp;
    uint64_t start_ns[MESH_HTTP_PIPELINE];
    uint8_t head_req[MESH_HTTP_PIPELINE];
    unsigned q_head, q_len;
};

typedef void (*mesh_http_response_cb)(void *ctx, int status, uint64_t latency_ns);

void mesh_http_init(struct mesh_http *h);
/* Feed bytes the caller sent (request direction), seen at now_ns. */
void mesh_http_feed_request(struct mesh_http *h, const char *p, size_t n, uint64_t now_ns);
/* Feed bytes the service sent; cb is called once per complete response head
 * that answers a request (not for 1xx). */
void mesh_http_feed_response(struct mesh_http *h, const char *p, size_t n, uint64_t now_ns,
                             mesh_http_response_cb cb, void *ctx);

/* The HTTP abort fault (proxy.c) answers some requests itself; it needs
 * request boundaries. */
/* Feed request bytes up to the end of the request in progress: returns how
 * many bytes of p belong to it (all of n when it does not end within p, or
 * when the connection is not HTTP), *ended = 1 when it ended there. */
size_t mesh_http_feed_one_request(struct mesh_http *h, const char *p, size_t n, uint64_t now_ns, int *ended);
/* 1 between messages with no request awaiting its response. */
int mesh_http_idle(const struct mesh_http *h);
/* Drop the newest request awaiting a response (it was answered by the mesh). */
void mesh_http_forget_request(struct mesh_http *h);

#endif
