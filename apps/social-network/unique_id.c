/* unique_id.c: unique-id-service. ComposeUniqueId hands out post ids as
 * DeathStarBench does (snowflake-style): milliseconds since 2018-01-01 in
 * the high bits, a machine id from the pod's name (so replicas differ) and
 * a per-millisecond counter, giving 63-bit ids that grow with time.
 */
#include "sn.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EPOCH_MS 1514764800000LL

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long long last_ms;
static unsigned counter;
static unsigned machine_id;

static long long next_id(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - EPOCH_MS;
    pthread_mutex_lock(&lock);
    if (ms <= last_ms) {
        ms = last_ms;
        if (++counter >= 4096) { /* 4096 ids in one millisecond: borrow the next one */
            ms = ++last_ms;
            counter = 0;
        }
    } else {
        last_ms = ms;
        counter = 0;
    }
    unsigned c = counter;
    pthread_mutex_unlock(&lock);
    /* 41 bits of time, 10 of machine, 12 of counter; below 2^53 for decades
     * is not needed: ids travel as strings. */
    return (ms << 22) | ((long long)machine_id << 12) | c;
}

static void compose_unique_id(struct kit_req *r, void *arg SN_UNUSED)
{
    json_t *b = sn_body(r);
    if (!b) return;
    long long post_type = 0;
    if (json_object_get(b, "post_type") && sn_get_i64(b, "post_type", 0, 3, &post_type) < 0) {
        kit_reply_error(r, 400, "invalid post_type");
        return;
    }
    kit_reply_json(r, 200, json_pack("{s:o}", "post_id", sn_id_json(next_id())));
}

int sn_unique_id_setup(struct kit *k)
{
    const char *host = getenv("HOSTNAME");
    machine_id = (unsigned)(sn_hash64(host ? host : "unique-id", strlen(host ? host : "unique-id")) & 0x3ff);
    kit_handle(k, "POST", "/ComposeUniqueId", "compose_unique_id", compose_unique_id, NULL);
    return 0;
}
