/* trace.c: W3C trace context, spans, and the OTLP/HTTP JSON exporter.
 *
 * A request continues the caller's trace from its `traceparent` header (or
 * begins one); every span the kit makes (server, client, store, the app's
 * own) gets a random 64-bit id from a per-thread generator seeded by
 * getrandom. Finished spans go into a bounded queue (a linked list, at most
 * QUEUE_MAX spans) that one background thread drains: every second, or as
 * soon as a batch is full, it posts one ExportTraceServiceRequest in OTLP
 * JSON to $OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces with a 1 s timeout. A full
 * queue or a failed export drops spans and counts them in
 * trace_spans_dropped_total; a request never waits for the exporter.
 */
#include "kit_int.h"
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define QUEUE_MAX 4096
#define BATCH_MAX 512
#define EXPORT_TIMEOUT_MS 1000

/* ---- ids and traceparent ---- */

static __thread uint64_t rng_s[2];

static uint64_t rng_next(void)
{
    if (!rng_s[0] && !rng_s[1]) {
        if (getrandom(rng_s, sizeof rng_s, 0) != (ssize_t)sizeof rng_s) {
            rng_s[0] = kit__now_ns() ^ (uint64_t)(uintptr_t)&rng_s;
            rng_s[1] = kit__mono_ns() * 0x9e3779b97f4a7c15ull;
        }
        if (!rng_s[0] && !rng_s[1]) rng_s[0] = 1;
    }
    /* xorshift128+ */
    uint64_t s1 = rng_s[0];
    const uint64_t s0 = rng_s[1];
    rng_s[0] = s0;
    s1 ^= s1 << 23;
    rng_s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return rng_s[1] + s0;
}

void kit__random_id(uint8_t *out, size_t n)
{
    for (;;) {
        int nonzero = 0;
        for (size_t i = 0; i < n; i += 8) {
            uint64_t v = rng_next();
            for (size_t j = 0; j < 8 && i + j < n; j++) {
                out[i + j] = (uint8_t)(v >> (8 * j));
                nonzero |= out[i + j];
            }
        }
        if (nonzero) return;
    }
}

void kit__hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Lowercase hex only: uppercase is invalid in traceparent. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < 2 * n; i++) {
        int v;
        char c = s[i];
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else
            return -EINVAL;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

static int is_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

int kit__traceparent_parse(const char *s, struct kit_trace_ctx *out)
{
    if (!s) return -EINVAL;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-') return -EINVAL;
    uint8_t version;
    struct kit_trace_ctx c;
    if (unhex(s, &version, 1) < 0 || version == 0xff) return -EINVAL;
    if (version == 0 && len != 55) return -EINVAL;
    if (len > 55 && s[55] != '-') return -EINVAL; /* a future version may append fields */
    if (unhex(s + 3, c.trace_id, 16) < 0 || unhex(s + 36, c.span_id, 8) < 0 || unhex(s + 53, &c.flags, 1) < 0)
        return -EINVAL;
    if (is_zero(c.trace_id, 16) || is_zero(c.span_id, 8)) return -EINVAL;
    *out = c;
    return 0;
}

void kit__traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags, char *out)
{
    char t[33], sp[17], f[3];
    kit__hex(trace_id, 16, t);
    kit__hex(span_id, 8, sp);
    kit__hex(&flags, 1, f);
    snprintf(out, 56, "00-%s-%s-%s", t, sp, f);
}

/* ---- spans ---- */

struct kit_span *kit__span_new(struct kit *k, const struct kit_span *parent, const char *name, int kind)
{
    struct kit_span *s = kit__xmalloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->k = k;
    if (parent) {
        memcpy(s->trace_id, parent->trace_id, 16);
        memcpy(s->parent_id, parent->span_id, 8);
        s->has_parent = 1;
        s->flags = parent->flags;
    } else {
        kit__random_id(s->trace_id, 16);
        s->flags = 1;
    }
    kit__random_id(s->span_id, 8);
    s->kind = kind;
    s->name = kit__xstrdup(name);
    s->start_ns = kit__now_ns();
    return s;
}

void kit__span_free(struct kit_span *s)
{
    if (!s) return;
    free(s->name);
    free(s->status_msg);
    for (int i = 0; i < s->nattrs; i++) {
        free(s->attr_key[i]);
        free(s->attr_val[i]);
    }
    free(s);
}

void kit_span_attr(struct kit_span *s, const char *key, const char *value)
{
    if (!s || !key || !value) return;
    for (int i = 0; i < s->nattrs; i++)
        if (!strcmp(s->attr_key[i], key)) {
            free(s->attr_val[i]);
            s->attr_val[i] = kit__xstrdup(value);
            return;
        }
    if (s->nattrs >= KIT_MAX_ATTRS) return;
    s->attr_key[s->nattrs] = kit__xstrdup(key);
    s->attr_val[s->nattrs++] = kit__xstrdup(value);
}

struct kit_span *kit_span_begin(struct kit_req *r, const char *name)
{
    return r ? kit__child_span(r->k, r, name, KIT_SPAN_INTERNAL) : NULL;
}

void kit_span_end(struct kit_span *s, const char *error) { kit__span_finish(s, error); }

/* ---- the exporter ---- */

struct kit_exporter {
    struct kit *k;
    char *url;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct kit_span *head, *tail;
    int n, stop;
    CURL *curl;
};

static void count_dropped(struct kit *k, int n)
{
    const char *v[] = {k->service};
    kit__metric_add(k->m_dropped, n, v);
}

void kit__span_finish(struct kit_span *s, const char *error)
{
    if (!s) return;
    s->end_ns = kit__now_ns();
    if (error) {
        s->error = 1;
        free(s->status_msg);
        s->status_msg = kit__xstrdup(error);
    }
    struct kit_exporter *e = s->k->exporter;
    if (!e || !(s->flags & 1)) {
        kit__span_free(s);
        return;
    }
    pthread_mutex_lock(&e->mu);
    if (e->n >= QUEUE_MAX || e->stop) {
        pthread_mutex_unlock(&e->mu);
        count_dropped(s->k, 1);
        kit__span_free(s);
        return;
    }
    s->next = NULL;
    if (e->tail)
        e->tail->next = s;
    else
        e->head = s;
    e->tail = s;
    e->n++;
    if (e->n >= BATCH_MAX) pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* ---- OTLP JSON, written directly ----
 * The exporter writes every span of every request, so the document is
 * built as text in one growing buffer, not as a tree of jansson objects
 * (which cost a dozen allocations per span and another pass to print).
 * Strings are checked as jansson checks them: a name that is not UTF-8
 * becomes "?", an attribute value or status message that is not is left
 * out. */

struct jbuf {
    char *p;
    size_t len, cap;
};

static void jb_reserve(struct jbuf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) cap *= 2;
    b->p = kit__xrealloc(b->p, cap);
    b->cap = cap;
}

static void jb_put(struct jbuf *b, const char *s, size_t n)
{
    jb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

#define JB_LIT(b, lit) jb_put((b), (lit), sizeof(lit) - 1)

/* 1 when s is well-formed UTF-8 (no overlongs, surrogates or code points
 * past U+10FFFF), as JSON text must be. */
static int utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        int n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
        else return 0;
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* "s" with JSON escapes (s must be valid UTF-8). */
static void jb_str(struct jbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    jb_reserve(b, n + 2);
    b->p[b->len++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p != '"' && *p != '\\') p++;
        if (p > run) jb_put(b, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        char esc[6] = {'\\', 0};
        size_t el = 2;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15];
            el = 6;
        }
        jb_put(b, esc, el);
    }
    jb_put(b, "\"", 1);
}

/* {"key":K,"value":{"stringValue":V}}, with a leading comma unless first;
 * nothing when value is not UTF-8. Returns whether it wrote. */
static int jb_attr(struct jbuf *b, const char *key, const char *value, int first)
{
    if (!utf8_valid((const unsigned char *)key) || !utf8_valid((const unsigned char *)value)) return 0;
    if (!first) JB_LIT(b, ",");
    JB_LIT(b, "{\"key\":");
    jb_str(b, key);
    JB_LIT(b, ",\"value\":{\"stringValue\":");
    jb_str(b, value);
    JB_LIT(b, "}}");
    return 1;
}

static void jb_fmt(struct jbuf *b, const char *fmt, unsigned long long v)
{
    char num[48];
    int w = snprintf(num, sizeof num, fmt, v);
    if (w > 0) jb_put(b, num, (size_t)w);
}

char *kit__otlp_json(const char *service, struct kit_span *const *spans, size_t n)
{
    struct jbuf b = {0};
    JB_LIT(&b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    int first = !jb_attr(&b, "service.name", service, 1);
    const char *pod = getenv("HOSTNAME");
    if (pod && *pod && jb_attr(&b, "k8s.pod.name", pod, first)) first = 0;
    const char *ip = getenv("AIOPSLAB_POD_IP");
    if (ip && *ip) jb_attr(&b, "k8s.pod.ip", ip, first);
    JB_LIT(&b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"aiopslab-kit\"},\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        const struct kit_span *s = spans[i];
        char id[33];
        if (i) JB_LIT(&b, ",");
        kit__hex(s->trace_id, 16, id);
        JB_LIT(&b, "{\"traceId\":\"");
        jb_put(&b, id, 32);
        kit__hex(s->span_id, 8, id);
        JB_LIT(&b, "\",\"spanId\":\"");
        jb_put(&b, id, 16);
        JB_LIT(&b, "\"");
        if (s->has_parent) {
            kit__hex(s->parent_id, 8, id);
            JB_LIT(&b, ",\"parentSpanId\":\"");
            jb_put(&b, id, 16);
            JB_LIT(&b, "\"");
        }
        JB_LIT(&b, ",\"name\":");
        jb_str(&b, s->name && utf8_valid((const unsigned char *)s->name) ? s->name : "?");
        jb_fmt(&b, ",\"kind\":%llu", (unsigned long long)s->kind);
        jb_fmt(&b, ",\"startTimeUnixNano\":\"%llu\"", (unsigned long long)s->start_ns);
        jb_fmt(&b, ",\"endTimeUnixNano\":\"%llu\"", (unsigned long long)s->end_ns);
        JB_LIT(&b, ",\"attributes\":[");
        int afirst = 1;
        for (int j = 0; j < s->nattrs; j++)
            if (jb_attr(&b, s->attr_key[j], s->attr_val[j], afirst)) afirst = 0;
        JB_LIT(&b, "],\"status\":{");
        if (s->error) {
            JB_LIT(&b, "\"code\":2");
            const char *m = s->status_msg ? s->status_msg : "";
            if (utf8_valid((const unsigned char *)m)) {
                JB_LIT(&b, ",\"message\":");
                jb_str(&b, m);
            }
        }
        JB_LIT(&b, "}}");
    }
    JB_LIT(&b, "]}]}]}");
    return b.p;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* Post one batch (the list is freed); 0 or -1. */
static int post(struct kit_exporter *e, struct kit_span *list, int n)
{
    struct kit_span *arr[BATCH_MAX] = {0};
    int i = 0;
    for (struct kit_span *s = list; s && i < n; s = s->next)
        arr[i++] = s;
    char *body = kit__otlp_json(e->k->service, arr, (size_t)i);
    for (int j = 0; j < i; j++)
        kit__span_free(arr[j]);
    if (!body) return -1;
    if (!e->curl) {
        e->curl = curl_easy_init();
        if (!e->curl) {
            free(body);
            return -1;
        }
    }
    CURL *c = e->curl;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)EXPORT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)EXPORT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    free(body);
    return rc == CURLE_OK && status >= 200 && status < 300 ? 0 : -1;
}

static void *export_loop(void *arg)
{
    struct kit_exporter *e = arg;
    int warned = 0;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        if (!e->stop && e->n < BATCH_MAX) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        }
        if (!e->n) {
            if (e->stop) break;
            continue;
        }
        struct kit_span *list = e->head;
        int n = 0;
        struct kit_span *s = list, *prev = NULL;
        while (s && n < BATCH_MAX) {
            prev = s;
            s = s->next;
            n++;
        }
        prev->next = NULL;
        e->head = s;
        if (!s) e->tail = NULL;
        e->n -= n;
        int stopping = e->stop;
        pthread_mutex_unlock(&e->mu);
        if (post(e, list, n) < 0) {
            count_dropped(e->k, n);
            if (!warned) kit_logf(e->k, KIT_WARN, "exporting %d spans to %s failed; spans are dropped", n, e->url);
            warned = 1;
            if (stopping) { /* do not wait for a dead collector at exit */
                pthread_mutex_lock(&e->mu);
                break;
            }
        } else {
            warned = 0;
        }
        pthread_mutex_lock(&e->mu);
    }
    for (struct kit_span *s = e->head, *next; s; s = next) {
        next = s->next;
        kit__span_free(s);
    }
    e->head = e->tail = NULL;
    e->n = 0;
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

struct kit_exporter *kit__exporter_start(struct kit *k, const char *endpoint)
{
    struct kit_exporter *e = kit__xmalloc(sizeof *e);
    memset(e, 0, sizeof *e);
    e->k = k;
    size_t n = strlen(endpoint);
    while (n && endpoint[n - 1] == '/')
        n--;
    e->url = kit__xmalloc(n + sizeof "/v1/traces");
    memcpy(e->url, endpoint, n);
    memcpy(e->url + n, "/v1/traces", sizeof "/v1/traces");
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->thread, NULL, export_loop, e)) {
        free(e->url);
        free(e);
        return NULL;
    }
    return e;
}

void kit__exporter_stop(struct kit_exporter *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    if (e->curl) curl_easy_cleanup(e->curl);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e->url);
    free(e);
}
