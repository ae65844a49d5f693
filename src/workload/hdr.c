/* hdr: the load generator's latency histogram (see hdr.h). Each worker
 * thread owns one; the live stats and the final report merge them. */
#include "workload/hdr.h"

#include <string.h>

#define RELAXED_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define RELAXED_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

void load_hdr_init(struct load_hdr *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

unsigned load_hdr_index(uint64_t v)
{
    if (v < LOAD_HDR_SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = e - 7;
    unsigned sub = (unsigned)(v >> shift) - LOAD_HDR_SUB;
    return LOAD_HDR_SUB + shift * LOAD_HDR_SUB + sub;
}

uint64_t load_hdr_bucket_high(unsigned i)
{
    if (i < LOAD_HDR_SUB) return i;
    unsigned shift = (i - LOAD_HDR_SUB) / LOAD_HDR_SUB;
    uint64_t sub = (i - LOAD_HDR_SUB) % LOAD_HDR_SUB;
    uint64_t low = (LOAD_HDR_SUB + sub) << shift;
    return low + ((1ull << shift) - 1);
}

static uint64_t bucket_mid(unsigned i)
{
    if (i < LOAD_HDR_SUB) return i;
    unsigned shift = (i - LOAD_HDR_SUB) / LOAD_HDR_SUB;
    uint64_t sub = (i - LOAD_HDR_SUB) % LOAD_HDR_SUB;
    uint64_t low = (LOAD_HDR_SUB + sub) << shift;
    return low + ((1ull << shift) >> 1);
}

void load_hdr_record(struct load_hdr *h, uint64_t v)
{
    unsigned i = load_hdr_index(v);
    RELAXED_STORE(&h->counts[i], h->counts[i] + 1);
    RELAXED_STORE(&h->sum, h->sum + v);
    if (v < h->min) RELAXED_STORE(&h->min, v);
    if (v > h->max) RELAXED_STORE(&h->max, v);
    RELAXED_STORE(&h->count, h->count + 1);
}

void load_hdr_add(struct load_hdr *dst, const struct load_hdr *src)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < LOAD_HDR_BUCKETS; i++) {
        uint64_t c = RELAXED_LOAD(&src->counts[i]);
        dst->counts[i] += c;
        n += c;
    }
    /* The count is the sum of what was copied, so quantiles stay consistent. */
    dst->count += n;
    dst->sum += RELAXED_LOAD(&src->sum);
    uint64_t mn = RELAXED_LOAD(&src->min), mx = RELAXED_LOAD(&src->max);
    if (mn < dst->min) dst->min = mn;
    if (mx > dst->max) dst->max = mx;
}

uint64_t load_hdr_quantile(const struct load_hdr *h, double q)
{
    if (!h->count) return 0;
    if (q <= 0) return h->min;
    if (q >= 1) return h->max;
    /* The rank of the value at q, 1-based, as HdrHistogram counts it. */
    double r = q * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r || rank == 0) rank++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LOAD_HDR_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bucket_mid(i);
            if (v < h->min) v = h->min;
            if (v > h->max) v = h->max;
            return v;
        }
    }
    return h->max;
}

uint64_t load_hdr_count_le(const struct load_hdr *h, uint64_t v)
{
    unsigned last = load_hdr_index(v);
    uint64_t n = 0;
    for (unsigned i = 0; i <= last && i < LOAD_HDR_BUCKETS; i++) n += h->counts[i];
    return n;
}

double load_hdr_mean(const struct load_hdr *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

void load_hdr_window(struct load_hdr *out, const struct load_hdr *now, const struct load_hdr *before)
{
    load_hdr_init(out);
    for (unsigned i = 0; i < LOAD_HDR_BUCKETS; i++) {
        uint64_t c = now->counts[i] >= before->counts[i] ? now->counts[i] - before->counts[i] : 0;
        if (!c) continue;
        out->counts[i] = c;
        out->count += c;
        if (out->min == UINT64_MAX) out->min = i < LOAD_HDR_SUB ? i : load_hdr_bucket_high(i - 1) + 1;
        out->max = load_hdr_bucket_high(i);
    }
    out->sum = now->sum >= before->sum ? now->sum - before->sum : 0;
}
