/* flags.c: feature flags in the spirit of the OpenTelemetry demo's flagd.
 *
 * An app's ConfigMap <app>-feature-flags holds flags.json, mounted into
 * every service pod; KIT_FLAGS_FILE says where. The file is flagd's:
 *   {"flags": {"composePostServiceFailure": {"state": "ENABLED",
 *      "variants": {"on": 25, "off": 0}, "defaultVariant": "on"}, ...}}
 * A flag's name is the service's name in camelCase (compose-post-service
 * -> composePostService) and a kind; its value is the default variant's
 * (0 when DISABLED):
 *   Failure       percent of requests that fail with 500
 *   HighCpu       ms of CPU each request burns
 *   MemoryLeak    bytes each request allocates, touches and never frees
 *   SlowPath      percent of requests that take the service's slow code path
 *   CacheFailure  percent of requests that bypass the service's cache
 * (percent flags also take true/false: 100/0). A flag for another service
 * of the app is none of this one's business; a flag naming a service or a
 * kind nobody knows is ignored with one warning.
 *
 * The file is looked at from the request path at most once a second (one
 * stat; read and parsed only when it changed: a ConfigMap update swaps the
 * file, so its inode changes), by whichever thread comes first; the other
 * requests only read atomics.
 */
#include "kit_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define FLAGS_MAX_FILE (256 * 1024)
#define FLAGS_POLL_NS 1000000000ull
#define MAX_CPU_MS 10000
#define MAX_LEAK_BYTES (64L << 20)

static const char *const kinds[KIT_FLAG_KINDS] = {"Failure", "HighCpu", "MemoryLeak", "SlowPath", "CacheFailure"};
static const long maxima[KIT_FLAG_KINDS] = {100, MAX_CPU_MS, MAX_LEAK_BYTES, 100, 100};

int kit__flag_prefix(const char *service, char *out, size_t n)
{
    size_t w = 0;
    int up = 0;
    for (const char *p = service; *p; p++) {
        if (*p == '-' || *p == '_' || *p == '.') {
            up = w > 0;
            continue;
        }
        if (w + 1 >= n) return -EINVAL;
        char c = *p;
        if (up && c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        else if (!up && w == 0 && c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        out[w++] = c;
        up = 0;
    }
    if (!w) return -EINVAL;
    out[w] = '\0';
    return 0;
}

/* The value of one flagd flag: 0 with *out set, or -EINVAL with why. */
static int flag_value(const json_t *f, int percent, long max, long *out, char *why, size_t whylen)
{
    if (!json_is_object(f)) {
        snprintf(why, whylen, "not an object");
        return -EINVAL;
    }
    const char *state = json_string_value(json_object_get(f, "state"));
    if (state && !strcmp(state, "DISABLED")) {
        *out = 0;
        return 0;
    }
    if (state && strcmp(state, "ENABLED")) {
        snprintf(why, whylen, "state \"%s\" is neither ENABLED nor DISABLED", state);
        return -EINVAL;
    }
    const char *def = json_string_value(json_object_get(f, "defaultVariant"));
    json_t *v = def ? json_object_get(json_object_get(f, "variants"), def) : NULL;
    if (!v) {
        snprintf(why, whylen, "no variant \"%s\"", def ? def : "(defaultVariant missing)");
        return -EINVAL;
    }
    long x;
    if (json_is_boolean(v) && percent)
        x = json_is_true(v) ? 100 : 0;
    else if (json_is_integer(v))
        x = (long)json_integer_value(v);
    else {
        snprintf(why, whylen, "variant \"%s\" is not %s", def, percent ? "a number or a boolean" : "a number");
        return -EINVAL;
    }
    if (x < 0 || x > max) {
        snprintf(why, whylen, "variant \"%s\" is %ld, outside [0, %ld]", def, x, max);
        return -EINVAL;
    }
    *out = x;
    return 0;
}

int kit__flags_parse(const char *text, size_t len, const char *service, const char *const *services,
                     struct kit_flag_values *out, void (*warn)(void *arg, const char *msg), void *arg, char *err,
                     size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    json_t *flags = json_object_get(root, "flags");
    if (!json_is_object(flags)) {
        if (root)
            snprintf(err, errlen, "no \"flags\" object");
        else
            snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
        json_decref(root);
        return -EINVAL;
    }
    char mine[128];
    if (kit__flag_prefix(service, mine, sizeof mine) < 0) {
        snprintf(err, errlen, "service name \"%s\" makes no flag name", service);
        json_decref(root);
        return -EINVAL;
    }
    struct kit_flag_values v = {{0}};
    const char *name;
    json_t *f;
    json_object_foreach(flags, name, f) {
        int kind = -1;
        size_t nlen = strlen(name);
        for (int i = 0; i < KIT_FLAG_KINDS; i++) {
            size_t klen = strlen(kinds[i]);
            if (nlen > klen && !strcmp(name + nlen - klen, kinds[i])) kind = i;
        }
        char msg[512], prefix[128], why[256];
        if (kind >= 0) snprintf(prefix, sizeof prefix, "%.*s", (int)(nlen - strlen(kinds[kind])), name);
        if (kind >= 0 && !strcmp(prefix, mine)) {
            long x;
            if (flag_value(f, kind != KIT_FLAG_HIGH_CPU && kind != KIT_FLAG_MEMORY_LEAK, maxima[kind], &x, why,
                           sizeof why) < 0) {
                snprintf(msg, sizeof msg, "feature flag %s ignored: %s", name, why);
                if (warn) warn(arg, msg);
                continue;
            }
            v.value[kind] = x;
            continue;
        }
        int known = 0;
        for (size_t i = 0; kind >= 0 && services && services[i]; i++) {
            char p[128];
            if (kit__flag_prefix(services[i], p, sizeof p) == 0 && !strcmp(p, prefix)) known = 1;
        }
        if (known) continue; /* another service's flag */
        if (kind < 0)
            snprintf(msg, sizeof msg,
                     "feature flag %s ignored: not <service><Failure|HighCpu|MemoryLeak|SlowPath|CacheFailure>", name);
        else
            snprintf(msg, sizeof msg, "feature flag %s ignored: no service of this app is called %s", name, prefix);
        if (warn) warn(arg, msg);
    }
    json_decref(root);
    *out = v;
    return 0;
}

/* ---- the service's flags ---- */

/* One warning per message for the life of the process. */
static void warn_once(void *arg, const char *msg)
{
    struct kit *k = arg;
    for (int i = 0; i < k->flags_nwarned; i++)
        if (!strcmp(k->flags_warned[i], msg)) return;
    if (k->flags_nwarned < KIT_FLAGS_MAX_WARNED) k->flags_warned[k->flags_nwarned++] = kit__xstrdup(msg);
    kit_logf(k, KIT_WARN, "%s", msg);
}

static void flags_load(struct kit *k)
{
    struct stat st;
    if (stat(k->flags_path, &st) < 0) {
        int e = errno;
        if (k->flags_ino != (ino_t)-1) {
            kit_logf(k, KIT_WARN, "feature flags: cannot read %s: %s (all flags off)", k->flags_path, strerror(e));
            for (int i = 0; i < KIT_FLAG_KINDS; i++) atomic_store(&k->flags[i], 0);
        }
        k->flags_ino = (ino_t)-1;
        return;
    }
    if (st.st_ino == k->flags_ino && st.st_size == k->flags_size && st.st_mtim.tv_sec == k->flags_mtime.tv_sec &&
        st.st_mtim.tv_nsec == k->flags_mtime.tv_nsec)
        return;
    k->flags_ino = st.st_ino;
    k->flags_size = st.st_size;
    k->flags_mtime = st.st_mtim;
    char err[512];
    FILE *f = fopen(k->flags_path, "re");
    if (!f) {
        kit_logf(k, KIT_WARN, "feature flags: cannot open %s: %s", k->flags_path, strerror(errno));
        return;
    }
    char *buf = kit__xmalloc(FLAGS_MAX_FILE + 1);
    size_t n = fread(buf, 1, FLAGS_MAX_FILE + 1, f);
    fclose(f);
    struct kit_flag_values v;
    if (n > FLAGS_MAX_FILE)
        kit_logf(k, KIT_WARN, "feature flags: %s is larger than %d bytes; flags unchanged", k->flags_path,
                 FLAGS_MAX_FILE);
    else if (kit__flags_parse(buf, n, k->service, (const char *const *)k->flags_services, &v, warn_once, k, err,
                              sizeof err) < 0)
        kit_logf(k, KIT_WARN, "feature flags: %s: %s; flags unchanged", k->flags_path, err);
    else {
        int changed = 0;
        for (int i = 0; i < KIT_FLAG_KINDS; i++)
            if (atomic_exchange(&k->flags[i], v.value[i]) != v.value[i]) changed = 1;
        if (changed)
            kit_logf(k, KIT_INFO, "feature flags reloaded: failure %ld%%, cpu %ld ms, leak %ld B, slow path %ld%%, "
                                  "cache bypass %ld%%",
                     v.value[0], v.value[1], v.value[2], v.value[3], v.value[4]);
    }
    free(buf);
}

void kit__flags_init(struct kit *k)
{
    const char *path = getenv("KIT_FLAGS_FILE");
    k->flags_ino = 0;
    if (!path || !*path) return;
    k->flags_path = kit__xstrdup(path);
    pthread_mutex_init(&k->flags_mu, NULL);
    flags_load(k);
    atomic_store(&k->flags_next_ns, kit__mono_ns() + FLAGS_POLL_NS);
}

void kit__flags_poll(struct kit *k)
{
    if (!k->flags_path) return;
    uint64_t now = kit__mono_ns(), next = atomic_load(&k->flags_next_ns);
    if (now < next) return;
    if (!atomic_compare_exchange_strong(&k->flags_next_ns, &next, now + FLAGS_POLL_NS)) return;
    if (pthread_mutex_trylock(&k->flags_mu) != 0) return;
    flags_load(k);
    pthread_mutex_unlock(&k->flags_mu);
}

void kit_flags_services(struct kit *k, const char *const *services, size_t n)
{
    k->flags_services = kit__xmalloc(sizeof *k->flags_services * (n + 1));
    for (size_t i = 0; i < n; i++) k->flags_services[i] = kit__xstrdup(services[i]);
    k->flags_services[n] = NULL;
}

/* ---- what the flags do to a request ---- */

static uint32_t roll(void)
{
    static __thread uint64_t s;
    if (!s) kit__random_id((uint8_t *)&s, sizeof s);
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (uint32_t)(s % 100);
}

/* Real work on the CPU until this thread has used ms of it. */
static void burn_cpu(long ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    uint64_t until = (uint64_t)t0.tv_sec * 1000000000ull + (uint64_t)t0.tv_nsec + (uint64_t)ms * 1000000ull;
    volatile uint64_t h = 1469598103934665603ull;
    for (;;) {
        for (int i = 0; i < 20000; i++) h = (h ^ (uint64_t)i) * 1099511628211ull;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        if ((uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec >= until) break;
    }
}

/* Blocks that are allocated, written and kept: each holds the previous
 * one, so they stay reachable (a leak by design, not by accident). */
static void *leaked;
static pthread_mutex_t leak_mu = PTHREAD_MUTEX_INITIALIZER;

static void leak(long bytes)
{
    size_t n = bytes < (long)sizeof(void *) ? sizeof(void *) : (size_t)bytes;
    char *p = kit__xmalloc(n);
    memset(p, 0xa5, n);
    pthread_mutex_lock(&leak_mu);
    memcpy(p, &leaked, sizeof leaked);
    leaked = p;
    pthread_mutex_unlock(&leak_mu);
}

int kit__flags_apply(struct kit_req *r)
{
    struct kit *k = r->k;
    kit__flags_poll(k);
    long leak_b = atomic_load(&k->flags[KIT_FLAG_MEMORY_LEAK]);
    long cpu = atomic_load(&k->flags[KIT_FLAG_HIGH_CPU]);
    long fail = atomic_load(&k->flags[KIT_FLAG_FAILURE]);
    long slow = atomic_load(&k->flags[KIT_FLAG_SLOW_PATH]);
    long cache = atomic_load(&k->flags[KIT_FLAG_CACHE_FAILURE]);
    if (leak_b) leak(leak_b);
    if (cpu) burn_cpu(cpu);
    r->slow_path = slow && (long)roll() < slow;
    r->cache_bypass = cache && (long)roll() < cache;
    if (fail && (long)roll() < fail) {
        kit_reply_error(r, 500, "%s failed: internal error: unexpected state in %s", r->operation, k->service);
        return 1;
    }
    return 0;
}

int kit_flag_slow_path(const struct kit_req *r) { return r->slow_path; }
int kit_flag_cache_bypass(const struct kit_req *r) { return r->cache_bypass; }
