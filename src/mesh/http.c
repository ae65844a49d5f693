/* http: incremental HTTP/1.x framing for request metrics (see http.h).
 * Each direction is a small state machine over lines (head, chunk sizes,
 * trailers) and counted spans (bodies, chunk data). Lines are found with
 * memchr and only their first MESH_HTTP_LINE_MAX bytes are kept, which is
 * all the framing needs (method, status, Content-Length,
 * Transfer-Encoding); bodies are skipped by arithmetic. */
#include "mesh/http.h"

#include <string.h>
#include <strings.h>

enum {
    S_FIRST,      /* request or status line */
    S_HEADERS,
    S_BODY,       /* remaining bytes of a Content-Length body */
    S_CHUNK_SIZE,
    S_CHUNK_DATA,
    S_CHUNK_END,  /* CRLF after chunk data */
    S_TRAILER,
    S_UNTIL_CLOSE /* response body delimited by connection close */
};

void mesh_http_init(struct mesh_http *h)
{
    memset(h, 0, sizeof *h);
}

static void line_reset(struct mesh_http_dir *d)
{
    d->line_len = 0;
    d->line_total = 0;
    d->line_over = 0;
}

static void line_add(struct mesh_http_dir *d, const char *p, size_t n)
{
    size_t room = MESH_HTTP_LINE_MAX - 1 - d->line_len;
    size_t take = n < room ? n : room;
    memcpy(d->line + d->line_len, p, take);
    d->line_len += (uint16_t)take;
    if (take < n) d->line_over = 1;
    /* Keep the last bytes of the line for the request line's version. */
    size_t t = sizeof d->tail;
    if (n >= t) {
        memcpy(d->tail, p + n - t, t);
    } else {
        memmove(d->tail, d->tail + n, t - n);
        memcpy(d->tail + t - n, p, n);
    }
    d->line_total += (uint32_t)(n > UINT32_MAX - d->line_total ? 0 : n);
}

/* The last k bytes of the current line (without CR), or NULL. */
static const char *line_end(struct mesh_http_dir *d, size_t k)
{
    if (d->line_total < k) return NULL;
    if (!d->line_over) return d->line + d->line_len - k;
    return d->tail + sizeof d->tail - k;
}

static int parse_request_line(struct mesh_http_dir *d)
{
    size_t m = 0;
    while (m < d->line_len && d->line[m] >= 'A' && d->line[m] <= 'Z') m++;
    if (m == 0 || m > 20 || m >= d->line_len || d->line[m] != ' ') return -1;
    const char *v = line_end(d, 9);
    if (!v || memcmp(v, " HTTP/1.", 8) || (v[8] != '0' && v[8] != '1')) return -1;
    d->is_head_req = m == 4 && !memcmp(d->line, "HEAD", 4);
    d->http10 = v[8] == '0';
    return 0;
}

static int parse_status_line(struct mesh_http_dir *d)
{
    const char *s = d->line;
    if (d->line_len < 12 || memcmp(s, "HTTP/1.", 7) || s[8] != ' ') return -1;
    int code = 0;
    for (int i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        code = code * 10 + (s[i] - '0');
    }
    if (d->line_len > 12 && s[12] != ' ') return -1;
    if (code < 100) return -1;
    d->status = code;
    return 0;
}

static int parse_header(struct mesh_http_dir *d)
{
    const char *s = d->line, *colon = memchr(s, ':', d->line_len);
    if (!colon) return -1;
    size_t nlen = (size_t)(colon - s);
    const char *v = colon + 1, *end = s + d->line_len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    if (nlen == 14 && !strncasecmp(s, "content-length", 14)) {
        if (d->line_over) return -1;
        uint64_t n = 0;
        const char *q = v;
        for (; q < end && *q >= '0' && *q <= '9'; q++) {
            if (n > (UINT64_MAX - 9) / 10) return -1;
            n = n * 10 + (uint64_t)(*q - '0');
        }
        while (q < end && (*q == ' ' || *q == '\t')) q++;
        if (q == v || q != end) return -1;
        d->has_length = 1;
        d->remaining = n;
    } else if (nlen == 17 && !strncasecmp(s, "transfer-encoding", 17)) {
        /* chunked must be the last coding; a substring test is enough here. */
        for (const char *q = v; q + 7 <= end; q++)
            if (!strncasecmp(q, "chunked", 7)) d->chunked = 1;
    }
    return 0;
}

static int parse_chunk_size(struct mesh_http_dir *d)
{
    uint64_t n = 0;
    size_t i = 0, digits = 0;
    for (; i < d->line_len; i++, digits++) {
        char c = d->line[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0) break;
        if (n >> 59) return -1;
        n = n * 16 + (uint64_t)v;
    }
    if (!digits || (i < d->line_len && d->line[i] != ';' && d->line[i] != ' ' && d->line[i] != '\t')) return -1;
    d->remaining = n;
    return 0;
}

/* A whole head was read: decide what follows. */
static int head_done(struct mesh_http *h, struct mesh_http_dir *d, int is_req, uint64_t now,
                     mesh_http_response_cb cb, void *ctx)
{
    if (d->chunked) d->has_length = 0;
    if (is_req) {
        if (h->q_len == MESH_HTTP_PIPELINE) return -1;
        unsigned slot = (h->q_head + h->q_len++) % MESH_HTTP_PIPELINE;
        h->start_ns[slot] = now;
        h->head_req[slot] = d->is_head_req;
        if (d->chunked) d->state = S_CHUNK_SIZE;
        else if (d->has_length && d->remaining) d->state = S_BODY;
        else d->state = S_FIRST, d->msg_done = 1;
        return 0;
    }
    if (d->status < 200) {
        if (d->status == 101) return -1; /* upgraded: no longer HTTP/1 */
        d->state = S_FIRST;
        return 0;
    }
    if (h->q_len == 0) return -1;
    unsigned slot = h->q_head;
    h->q_head = (h->q_head + 1) % MESH_HTTP_PIPELINE;
    h->q_len--;
    cb(ctx, d->status, now - h->start_ns[slot]);
    if (h->head_req[slot] || d->status == 204 || d->status == 304) d->state = S_FIRST;
    else if (d->chunked) d->state = S_CHUNK_SIZE;
    else if (d->has_length) d->state = d->remaining ? S_BODY : S_FIRST;
    else d->state = S_UNTIL_CLOSE;
    return 0;
}

static int line_done(struct mesh_http *h, struct mesh_http_dir *d, int is_req, uint64_t now,
                     mesh_http_response_cb cb, void *ctx)
{
    if (d->line_len && d->line[d->line_len - 1] == '\r' && !d->line_over) d->line_len--;
    else if (d->line_over && d->tail[sizeof d->tail - 1] == '\r') {
        memmove(d->tail + 1, d->tail, sizeof d->tail - 1);
        d->line_total--;
    }
    int empty = d->line_len == 0 && !d->line_over;
    switch (d->state) {
    case S_FIRST:
        if (empty) return 0; /* stray CRLF between messages */
        d->chunked = d->has_length = 0;
        d->remaining = 0;
        d->head_bytes = d->line_total;
        if (is_req ? parse_request_line(d) : parse_status_line(d)) return -1;
        d->state = S_HEADERS;
        return 0;
    case S_HEADERS:
        if (empty) return head_done(h, d, is_req, now, cb, ctx);
        return parse_header(d);
    case S_CHUNK_SIZE:
        if (parse_chunk_size(d)) return -1;
        d->state = d->remaining ? S_CHUNK_DATA : S_TRAILER;
        return 0;
    case S_CHUNK_END:
        if (!empty) return -1;
        d->state = S_CHUNK_SIZE;
        return 0;
    case S_TRAILER:
        if (empty) d->state = S_FIRST, d->msg_done = 1;
        return 0;
    }
    return -1;
}

/* Returns the bytes consumed: all of them, or (stop) those up to the end
 * of the first message that ends within p. */
static size_t feed(struct mesh_http *h, struct mesh_http_dir *d, int is_req, const char *p, size_t n, uint64_t now,
                   mesh_http_response_cb cb, void *ctx, int stop)
{
    const char *start = p;
    d->msg_done = 0;
    while (n > 0 && !h->off) {
        if (stop && d->msg_done) break;
        switch (d->state) {
        case S_UNTIL_CLOSE:
            return (size_t)(p - start) + n;
        case S_BODY:
        case S_CHUNK_DATA: {
            size_t take = n < d->remaining ? n : (size_t)d->remaining;
            p += take;
            n -= take;
            d->remaining -= take;
            if (!d->remaining) {
                d->msg_done = d->state == S_BODY;
                d->state = d->state == S_BODY ? S_FIRST : S_CHUNK_END;
            }
            break;
        }
        default: {
            if (d->state == S_FIRST && d->line_total == 0 && *p != '\r' && *p != '\n' &&
                !(is_req ? (*p >= 'A' && *p <= 'Z') : *p == 'H')) {
                h->off = 1;
                return (size_t)(p - start) + n;
            }
            const char *nl = memchr(p, '\n', n);
            size_t seg = nl ? (size_t)(nl - p) : n;
            line_add(d, p, seg);
            if (d->state == S_FIRST || d->state == S_HEADERS) {
                d->head_bytes += (uint32_t)seg + 1;
                if (d->head_bytes > MESH_HTTP_HEAD_MAX) {
                    h->off = 1;
                    return (size_t)(p - start) + n;
                }
            }
            if (!nl) return (size_t)(p - start) + n;
            p += seg + 1;
            n -= seg + 1;
            if (line_done(h, d, is_req, now, cb, ctx)) {
                h->off = 1;
                return (size_t)(p - start) + n;
            }
            line_reset(d);
        }
        }
    }
    return (size_t)(p - start) + (h->off ? n : 0);
}

static void no_cb(void *ctx, int status, uint64_t latency_ns)
{
    (void)ctx, (void)status, (void)latency_ns;
}

void mesh_http_feed_request(struct mesh_http *h, const char *p, size_t n, uint64_t now_ns)
{
    if (!h->off) feed(h, &h->req, 1, p, n, now_ns, no_cb, NULL, 0);
}

size_t mesh_http_feed_one_request(struct mesh_http *h, const char *p, size_t n, uint64_t now_ns, int *ended)
{
    *ended = 0;
    if (h->off) return n;
    size_t used = feed(h, &h->req, 1, p, n, now_ns, no_cb, NULL, 1);
    *ended = !h->off && h->req.msg_done;
    return used;
}

int mesh_http_idle(const struct mesh_http *h)
{
    return !h->off && h->q_len == 0 && h->req.state == S_FIRST && h->req.line_total == 0 &&
           h->resp.state == S_FIRST && h->resp.line_total == 0;
}

void mesh_http_forget_request(struct mesh_http *h)
{
    if (h->q_len) h->q_len--;
}

void mesh_http_feed_response(struct mesh_http *h, const char *p, size_t n, uint64_t now_ns,
                             mesh_http_response_cb cb, void *ctx)
{
    if (!h->off) feed(h, &h->resp, 0, p, n, now_ns, cb, ctx, 0);
}
