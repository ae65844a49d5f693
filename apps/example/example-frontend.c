/* example-frontend: the entry service of the example app.
 *
 * HTTP on :8080 (or $PORT). GET / asks the "words" Service for a word
 * (GET /word) and the "counter" Service for the next count (POST /incr)
 * and answers
 *   {"greeting":"...","word":"...","count":N,"pod":"...","words_pod":"..."}
 * with the greeting from $GREETING (a ConfigMap key in the manifests).
 * A downstream that cannot be reached or answers badly gives 502 with
 * {"error":"connect to words:9090 failed: Connection refused"} and the
 * same text in an error log line; a Service that is not configured at all
 * gives 503. GET /healthz answers ok without calling anyone.
 */
#include "svc.h"

#define DOWNSTREAM_TIMEOUT_MS 3000 /* longer than counter's own to the cache */

/* Call one downstream; 0 with r filled (status 200), or the status to
 * answer with and err set. */
static int call(const char *service, const char *method, const char *path, struct svc_http_resp *r, char *err,
                size_t errlen)
{
    struct svc_target t;
    if (svc_lookup(service, &t, err, errlen) < 0) return 503;
    if (svc_http_call(service, method, path, DOWNSTREAM_TIMEOUT_MS, r, err, errlen) < 0) return 502;
    if (r->status != 200) {
        char detail[256] = "";
        if (svc_json_get_str(r->body, "error", detail, sizeof detail) < 0) detail[0] = '\0';
        snprintf(err, errlen, "%s:%s answered %d%s%s", t.name, t.port, r->status, detail[0] ? ": " : "", detail);
        return 502;
    }
    return 0;
}

static void handle(const struct svc_req *req, struct svc_resp *resp)
{
    if (!strcmp(req->path, "/healthz")) {
        svc_reply(resp, 200, "text/plain", "ok\n");
        return;
    }
    if (strcmp(req->path, "/")) {
        svc_reply_error(resp, 404, "not found");
        return;
    }
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
        svc_reply_error(resp, 405, "method not allowed");
        return;
    }
    static __thread struct svc_http_resp r;
    char err[768], word[128], words_pod[256];
    long long count = 0;
    int status = call("words", "GET", "/word", &r, err, sizeof err);
    if (!status && (svc_json_get_str(r.body, "word", word, sizeof word) < 0 ||
                    svc_json_get_str(r.body, "pod", words_pod, sizeof words_pod) < 0)) {
        snprintf(err, sizeof err, "bad answer from words: %.100s", r.body);
        status = 502;
    }
    if (!status) status = call("counter", "POST", "/incr", &r, err, sizeof err);
    if (!status && svc_json_get_int(r.body, "count", &count) < 0) {
        snprintf(err, sizeof err, "bad answer from counter: %.100s", r.body);
        status = 502;
    }
    if (status) {
        svc_log("error", "%s", err);
        svc_reply_error(resp, status, err);
        return;
    }
    const char *greeting = getenv("GREETING");
    const char *pod = getenv("HOSTNAME");
    char g[512], p[256], w[128], wp[256];
    size_t gl = 0, pl = 0, wl = 0, wpl = 0;
    g[0] = p[0] = w[0] = wp[0] = '\0';
    svc_json_escape(g, sizeof g, &gl, greeting ? greeting : "Hello");
    svc_json_escape(p, sizeof p, &pl, pod ? pod : "");
    svc_json_escape(w, sizeof w, &wl, word);
    svc_json_escape(wp, sizeof wp, &wpl, words_pod);
    svc_reply(resp, 200, "application/json",
              "{\"greeting\":\"%s\",\"word\":\"%s\",\"count\":%lld,\"pod\":\"%s\",\"words_pod\":\"%s\"}\n", g, w, count,
              p, wp);
}

int main(void)
{
    svc_init("frontend");
    return svc_serve(svc_listen_port(8080), handle);
}
