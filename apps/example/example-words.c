/* example-words: the "words" service of the example app.
 *
 * HTTP on :9090 (or $PORT). GET /word answers {"word":"...","pod":"..."}
 * with a random word from a fixed list and the pod's name ($HOSTNAME), so
 * a caller can see which replica answered; GET /healthz answers ok. It
 * calls nothing and holds no state, so it runs with several replicas.
 */
#include "svc.h"

static const char *const words[] = {
    "apple",  "breeze", "canyon", "delta",  "ember",  "falcon", "glacier", "harbor",
    "island", "jasmine", "kernel", "lantern", "meadow", "nebula", "orchard", "pebble",
    "quartz", "river",  "summit", "thistle", "umbra",  "violet", "willow",  "zephyr",
};

static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int rng_state;

static const char *pick_word(void)
{
    pthread_mutex_lock(&rng_lock);
    int r = rand_r(&rng_state);
    pthread_mutex_unlock(&rng_lock);
    return words[(unsigned)r % (sizeof words / sizeof words[0])];
}

static void handle(const struct svc_req *req, struct svc_resp *resp)
{
    int get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    if (!strcmp(req->path, "/healthz")) {
        svc_reply(resp, 200, "text/plain", "ok\n");
    } else if (!strcmp(req->path, "/word")) {
        if (!get) {
            svc_reply_error(resp, 405, "method not allowed");
            return;
        }
        const char *host = getenv("HOSTNAME");
        char pod[256];
        size_t len = 0;
        pod[0] = '\0';
        svc_json_escape(pod, sizeof pod, &len, host ? host : "");
        svc_reply(resp, 200, "application/json", "{\"word\":\"%s\",\"pod\":\"%s\"}\n", pick_word(), pod);
    } else {
        svc_reply_error(resp, 404, "not found");
    }
}

int main(void)
{
    svc_init("words");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rng_state = (unsigned)ts.tv_nsec ^ (unsigned)getpid();
    return svc_serve(svc_listen_port(9090), handle);
}
