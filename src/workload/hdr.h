/* hdr: an HDR-style latency histogram with bounded memory.
 *
 * Log-linear buckets: values below 128 are exact; above, every power of
 * two is cut into 128 equal sub-buckets, so a recorded value is known to
 * within 1/128 (< 0.8 %) of itself, from 1 ns to hours, in a fixed
 * LOAD_HDR_BUCKETS counters (about 59 KB). Recording is a handful of
 * instructions and never allocates.
 *
 * Threads: one writer per histogram. A reader on another thread may copy
 * it at any time (load_hdr_add) and sees counts that are at most a few
 * records behind; the writer stores each counter with a relaxed atomic
 * store, so no count is ever torn. */
#ifndef WORKLOAD_HDR_H
#define WORKLOAD_HDR_H
#include <stdint.h>

#define LOAD_HDR_SUB 128
#define LOAD_HDR_BUCKETS (LOAD_HDR_SUB + 57 * LOAD_HDR_SUB)

struct load_hdr {
    uint64_t count, sum, min, max;
    uint64_t counts[LOAD_HDR_BUCKETS];
};

void load_hdr_init(struct load_hdr *h);
/* Record one value (nanoseconds, or any unit). Single writer. */
void load_hdr_record(struct load_hdr *h, uint64_t v);
/* dst += src (src may be written concurrently by its own writer). */
void load_hdr_add(struct load_hdr *dst, const struct load_hdr *src);
/* The value at quantile q in [0, 1] (0.99 = p99): a value within the
 * histogram's precision of the true one, clamped to [min, max]; 0 when empty. */
uint64_t load_hdr_quantile(const struct load_hdr *h, double q);
/* How many recorded values are <= v (to the bucket's precision). */
uint64_t load_hdr_count_le(const struct load_hdr *h, uint64_t v);
double load_hdr_mean(const struct load_hdr *h);
/* out = now - before (a window between two snapshots of the same
 * histogram); min and max become the window's bucket bounds. */
void load_hdr_window(struct load_hdr *out, const struct load_hdr *now, const struct load_hdr *before);
/* The bucket index of v and the highest value of bucket i (for tests). */
unsigned load_hdr_index(uint64_t v);
uint64_t load_hdr_bucket_high(unsigned i);

#endif
