/* fuzz_http: the mesh's incremental HTTP/1.x framer on arbitrary bytes.
 * The first byte splits the input into a request stream and a response
 * stream; the second sets the chunk size both are fed in, so that every
 * way a message can be cut across reads is tried. The framer must never
 * read out of bounds, loop, or report a status outside 100-999. */
#include <stdint.h>
#include <stdlib.h>

#include "mesh/http.h"

static void on_response(void *ctx, int status, uint64_t latency_ns)
{
    (void)ctx;
    (void)latency_ns;
    if (status < 100 || status > 999) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t split = (size_t)data[0] * (size - 2) / 255;
    size_t chunk = (size_t)data[1] % 64 + 1;
    const char *req = (const char *)data + 2, *resp = req + split;
    size_t req_len = split, resp_len = size - 2 - split;
    struct mesh_http h;
    mesh_http_init(&h);
    uint64_t now = 1;
    size_t ri = 0, si = 0;
    while (ri < req_len || si < resp_len) {
        if (ri < req_len) {
            size_t n = req_len - ri < chunk ? req_len - ri : chunk;
            mesh_http_feed_request(&h, req + ri, n, now++);
            ri += n;
        }
        if (si < resp_len) {
            size_t n = resp_len - si < chunk ? resp_len - si : chunk;
            mesh_http_feed_response(&h, resp + si, n, now++, on_response, NULL);
            si += n;
        }
    }
    return 0;
}
