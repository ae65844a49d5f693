/* client.c: kit_call, a service's outbound HTTP/JSON call to another one
 * (and kit_call_raw, the same call handing back the reply's bytes).
 *
 * The address comes from the Kubernetes service variables
 * (<NAME>_SERVICE_HOST/_PORT), so the call goes to the ClusterIP and
 * through the mesh. Each server thread keeps one libcurl easy handle for
 * its whole life (curl_easy_reset between calls keeps its connection
 * cache), so calls reuse keep-alive connections instead of paying a
 * connect per call.
 *
 * Retries follow the app's configuration, as a mesh's or an RPC library's
 * retry policy does: up to KIT_CALL_RETRIES more attempts, for the
 * failures KIT_RETRY_ON names — connect (the request never left: always
 * safe), timeout, 5xx and reset (the request may have reached the server,
 * which may be doing the work already: sending it again adds load where it
 * hurts). Between attempts an exponential back-off with jitter from
 * KIT_RETRY_BACKOFF_MS (0: none). Without timeout retries a call has one
 * deadline, KIT_CALL_TIMEOUT_MS, over all its attempts; with them each
 * attempt gets its own (Envoy's per_try_timeout), so a slow downstream
 * sees every request up to 1 + KIT_CALL_RETRIES times: the defaults
 * (1 retry, connect only, 50 ms) are safe; "5 retries on timeout,5xx, no
 * back-off" turns a short blip into a retry storm.
 * The reply is bounded (MAX_REPLY). Each call is a client span (its
 * traceparent goes out in the request) and is counted by downstream and
 * status, with failures by reason; error texts read like a Go service's:
 * "connect to user-service:9090 failed: Connection refused".
 */
#include "kit_int.h"
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPLY (16u << 20)

static pthread_key_t curl_key;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static __thread CURL *thread_curl;

static void curl_destroy(void *c) { curl_easy_cleanup(c); }
static void curl_key_init(void) { pthread_key_create(&curl_key, curl_destroy); }

static CURL *this_thread_curl(void)
{
    if (!thread_curl) {
        pthread_once(&curl_once, curl_key_init);
        thread_curl = curl_easy_init();
        if (thread_curl) pthread_setspecific(curl_key, thread_curl);
    }
    return thread_curl;
}

struct rbuf {
    char *p;
    size_t len, cap;
    int too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct rbuf *b = arg;
    size_t add = size * n;
    if (b->len + add > MAX_REPLY) {
        b->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (b->len + add + 1 > b->cap) {
        b->cap = (b->len + add + 1) * 2;
        b->p = kit__xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, data, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

/* "user-service" -> "USER_SERVICE_SERVICE_<suffix>"; -EINVAL when too long. */
static int env_name(const char *service, const char *suffix, char *out, size_t outlen)
{
    size_t n = strlen(service);
    if (n + strlen(suffix) + 10 >= outlen) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = service[i];
        out[i] = c == '-' || c == '.' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    snprintf(out + n, outlen - n, "_SERVICE_%s", suffix);
    return 0;
}

static void record(struct kit *k, const char *service, const char *status, const char *reason, double secs)
{
    const char *t[] = {k->service, service, status};
    kit__metric_add(k->m_cli_total, 1, t);
    const char *d[] = {k->service, service};
    kit__metric_observe(k->m_cli_dur, secs, d);
    if (reason) {
        const char *e[] = {k->service, service, reason};
        kit__metric_add(k->m_down_err, 1, e);
    }
}

/* ---- the retry policy ---- */

static const struct {
    const char *name;
    unsigned bit;
} retry_words[] = {{"connect", KIT_RETRY_CONNECT}, {"timeout", KIT_RETRY_TIMEOUT}, {"5xx", KIT_RETRY_5XX},
                   {"reset", KIT_RETRY_RESET}};
#define NWORDS (sizeof retry_words / sizeof retry_words[0])

int kit__retry_on_parse(const char *s, unsigned *out, char *err, size_t errlen)
{
    unsigned bits = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ", ");
        if (!n) break;
        unsigned bit = 0;
        for (size_t i = 0; i < NWORDS; i++)
            if (strlen(retry_words[i].name) == n && !strncmp(p, retry_words[i].name, n)) bit = retry_words[i].bit;
        if (!bit && !(n == 4 && !strncmp(p, "none", 4))) {
            snprintf(err, errlen, "unknown failure \"%.*s\" (want a list of connect, timeout, 5xx, reset)",
                     (int)(n > 32 ? 32 : n), p);
            return -EINVAL;
        }
        bits |= bit;
        p += n;
    }
    *out = bits;
    return 0;
}

void kit__retry_on_format(unsigned bits, char *out, size_t n)
{
    size_t w = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NWORDS; i++)
        if ((bits & retry_words[i].bit) && w < n)
            w += (size_t)snprintf(out + w, n - w, "%s%s", w ? "," : "", retry_words[i].name);
    if (!w) snprintf(out, n, "none");
}

long kit__retry_backoff_ms(long base, int attempt, uint32_t rnd)
{
    if (base <= 0) return 0;
    long d = base;
    for (int i = 1; i < attempt && d < 20 * base; i++) d *= 2;
    if (d > 20 * base) d = 20 * base;
    /* Jitter into [d/2, d]: callers that failed together do not retry together. */
    return d / 2 + (long)(rnd % (uint32_t)(d / 2 + 1));
}

/* What failed, as a KIT_RETRY_* bit (0: nothing a retry could help). */
static unsigned failure_kind(CURLcode rc, long status)
{
    switch (rc) {
    case CURLE_OK: return status >= 500 ? KIT_RETRY_5XX : 0;
    case CURLE_COULDNT_CONNECT: return KIT_RETRY_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: return KIT_RETRY_TIMEOUT;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR: return KIT_RETRY_RESET;
    default: return 0;
    }
}

static const char *failure_name(unsigned bit)
{
    for (size_t i = 0; i < NWORDS; i++)
        if (retry_words[i].bit == bit) return retry_words[i].name;
    return "other";
}

/* kit_call and kit_call_raw: the reply parsed into *reply, or its bytes
 * handed over in *raw and *rawlen (whichever is non-NULL). */
static int call(struct kit_req *r, const char *service, const char *method, const char *path, const json_t *body,
                json_t **reply, char **raw, size_t *rawlen, char *err, size_t errlen)
{
    if (reply) *reply = NULL;
    if (raw) *raw = NULL;
    if (rawlen) *rawlen = 0;
    if (!r) {
        snprintf(err, errlen, "call to %s failed: kit_call needs the request it serves", service);
        return -EINVAL;
    }
    struct kit *k = r->k;
    uint64_t start = kit__mono_ns();
    char hname[160], pname[160];
    const char *host = NULL, *port = NULL;
    if (env_name(service, "HOST", hname, sizeof hname) == 0 && env_name(service, "PORT", pname, sizeof pname) == 0) {
        host = getenv(hname);
        port = getenv(pname);
        /* In a lab pod (the shim answers the cluster DNS) call the Service
         * by its name, as DeathStarBench's services do, so that name
         * resolution is part of the call; without the shim the address
         * variable is all there is. */
        const char *pod_ip = getenv("AIOPSLAB_POD_IP");
        if (host && *host && pod_ip && *pod_ip) host = service;
    } else {
        snprintf(hname, sizeof hname, "<service name too long>");
    }
    if (!host || !*host || !port || !*port) {
        snprintf(err, errlen, "no address for service %s (%s is not set)", service, host && *host ? pname : hname);
        record(k, service, "error", "dns", 0);
        return -EHOSTUNREACH;
    }
    CURL *c = this_thread_curl();
    if (!c) {
        snprintf(err, errlen, "call to %s:%s failed: cannot create a curl handle", service, port);
        record(k, service, "error", "other", 0);
        return -ENOMEM;
    }
    char url[1024];
    if (snprintf(url, sizeof url, "http://%s:%s%s%s", host, port, path[0] == '/' ? "" : "/", path) >= (int)sizeof url) {
        snprintf(err, errlen, "call to %s:%s failed: path too long", service, port);
        record(k, service, "error", "other", 0);
        return -EINVAL;
    }
    char name[256];
    snprintf(name, sizeof name, "%s %s%s", method, service, path);
    struct kit_span *span = kit__child_span(k, r, name, KIT_SPAN_CLIENT);
    kit_span_attr(span, "http.method", method);
    kit_span_attr(span, "http.url", url);
    kit_span_attr(span, "peer.service", service);
    char tp[64], tph[80];
    kit__traceparent_format(span->trace_id, span->span_id, span->flags, tp);
    snprintf(tph, sizeof tph, "traceparent: %s", tp);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;

    struct curl_slist *h = curl_slist_append(NULL, tph);
    h = curl_slist_append(h, "Expect:");
    h = curl_slist_append(h, "Accept: application/json");
    if (payload) h = curl_slist_append(h, "Content-Type: application/json");

    uint64_t timeout_ns = (uint64_t)k->call_timeout_ms * 1000000ull;
    uint64_t deadline = start + timeout_ns;
    struct rbuf b = {0};
    CURLcode rc = CURLE_OK;
    long os_errno = 0;
    int attempts = 0;
    for (;;) {
        uint64_t now = kit__mono_ns();
        /* Timeout retries: each attempt has the whole timeout of its own. */
        if (attempts > 0 && (k->retry_on & KIT_RETRY_TIMEOUT)) deadline = now + timeout_ns;
        long left_ms = now >= deadline ? 0 : (long)((deadline - now) / 1000000ull);
        if (left_ms <= 0) {
            rc = CURLE_OPERATION_TIMEDOUT;
            break;
        }
        attempts++;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        /* Keep a connection to every downstream (compose-post calls seven):
         * curl's default cache of 5 would reconnect on every call. */
        curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 32L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, left_ms);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (payload || !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH")) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload ? payload : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(payload ? strlen(payload) : 0));
        }
        if (!strcmp(method, "HEAD"))
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        else if (strcmp(method, "GET") && strcmp(method, "POST"))
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        else if (!strcmp(method, "GET") && payload)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
        b.len = 0;
        b.too_big = 0;
        rc = curl_easy_perform(c);
        os_errno = 0;
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
        long status = 0;
        if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        unsigned failure = failure_kind(rc, status);
        if (!(failure & k->retry_on) || attempts > k->call_retries) break;
        long pause_ms = kit__retry_backoff_ms(k->retry_backoff_ms, attempts, (uint32_t)kit__mono_ns());
        now = kit__mono_ns();
        /* Within the call's one deadline, unless each attempt has its own. */
        if (!(k->retry_on & KIT_RETRY_TIMEOUT) && now + (uint64_t)pause_ms * 1000000ull + 10000000ull >= deadline)
            break;
        const char *rl[] = {k->service, service, failure_name(failure)};
        kit__metric_add(k->m_retries, 1, rl);
        if (pause_ms > 0) {
            struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (attempts > 1) {
        char na[16];
        snprintf(na, sizeof na, "%d", attempts - 1);
        kit_span_attr(span, "http.request.resend_count", na);
    }
    curl_slist_free_all(h);
    free(payload);
    double secs = (double)(kit__mono_ns() - start) / 1e9;

    int ret;
    const char *reason = NULL;
    if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        ret = (int)status;
        if (reply && b.len) {
            *reply = json_loadb(b.p, b.len, 0, NULL);
        } else if (raw && b.len) {
            *raw = b.p; /* NUL-terminated by on_data */
            if (rawlen) *rawlen = b.len;
            b.p = NULL;
        }
        char st[16];
        snprintf(st, sizeof st, "%ld", status);
        record(k, service, st, status >= 500 ? "http_5xx" : NULL, secs);
        kit_span_attr(span, "http.status_code", st);
        if (status >= 500) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s:%s answered %ld", service, port, status);
            kit__span_finish(span, msg);
        } else {
            kit__span_finish(span, NULL);
        }
        free(b.p);
        return ret;
    }
    int e = (int)os_errno;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        if (!e) e = ECONNREFUSED;
        snprintf(err, errlen, "connect to %s:%s failed: %s", service, port, strerror(e));
        reason = e == ECONNREFUSED ? "refused" : e == ETIMEDOUT ? "timeout" : "other";
        ret = -e;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(err, errlen, "call to %s:%s timed out after %ld ms", service, port, k->call_timeout_ms);
        reason = "timeout";
        ret = -ETIMEDOUT;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, errlen, "connect to %s:%s failed: cannot resolve %s", service, port, host);
        reason = "dns";
        ret = -EHOSTUNREACH;
        break;
    case CURLE_GOT_NOTHING:
        snprintf(err, errlen, "call to %s:%s failed: connection closed before a reply (EOF)", service, port);
        reason = "reset";
        ret = -ECONNRESET;
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        if (!e) e = ECONNRESET;
        snprintf(err, errlen, "call to %s:%s failed: %s", service, port, strerror(e));
        reason = e == ECONNRESET || e == EPIPE ? "reset" : "other";
        ret = -e;
        break;
    case CURLE_WRITE_ERROR:
        if (b.too_big) {
            snprintf(err, errlen, "call to %s:%s failed: reply larger than %u bytes", service, port, MAX_REPLY);
            reason = "other";
            ret = -EMSGSIZE;
            break;
        }
        /* fall through */
    default:
        snprintf(err, errlen, "call to %s:%s failed: %s", service, port, curl_easy_strerror(rc));
        reason = "other";
        ret = -EIO;
        break;
    }
    free(b.p);
    record(k, service, "error", reason, secs);
    kit__span_finish(span, err);
    return ret;
}

int kit_call(struct kit_req *r, const char *service, const char *method, const char *path, const json_t *body,
             json_t **reply, char *err, size_t errlen)
{
    return call(r, service, method, path, body, reply, NULL, NULL, err, errlen);
}

int kit_call_raw(struct kit_req *r, const char *service, const char *method, const char *path, const json_t *body,
                 char **reply, size_t *len, char *err, size_t errlen)
{
    return call(r, service, method, path, body, NULL, reply, len, err, errlen);
}
