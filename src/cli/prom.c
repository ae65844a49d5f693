/* prom: the CLI's HTTP GETs to the lab's Prometheus and other JSON
 * endpoints (see prom.h). One request per call, with a connect timeout
 * so that a dead service fails fast and a total timeout so that a stuck
 * one cannot hang an agent's shell. */
#include "cli/prom.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    return buf_append(arg, p, size * n) ? 0 : size * n;
}

int prom_http_get_json(const char *url, json_t **out, long *status, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "cannot initialize libcurl");
        return -ENOMEM;
    }
    struct buf b;
    buf_init(&b, PROM_RESPONSE_MAX);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    int ret = 0;
    if (rc == CURLE_COULDNT_CONNECT) {
        snprintf(err, errlen, "nothing answers on %s", url);
        ret = -ECONNREFUSED;
    } else if (rc == CURLE_WRITE_ERROR) {
        snprintf(err, errlen, "the answer of %s is larger than %u MiB", url, PROM_RESPONSE_MAX >> 20);
        ret = -E2BIG;
    } else if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
        ret = -EIO;
    } else {
        json_t *v = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        if (!json_is_object(v)) {
            snprintf(err, errlen, "%s answered %ld with something that is not JSON", url, code);
            json_decref(v);
            ret = -EPROTO;
        } else {
            *out = v;
            *status = code;
        }
    }
    buf_free(&b);
    return ret;
}

int prom_get(const struct lab *lab, const char *path, const char *const *params, json_t **out, char *err,
             size_t errlen)
{
    char node[16];
    lab_node_ip(lab, node, sizeof node);
    struct buf url;
    buf_init(&url, 64u << 10);
    int ret = 0;
    json_t *v = NULL;
    if (buf_printf(&url, "http://%s:%d%s", node, LAB_PROMETHEUS_PORT, path)) ret = -E2BIG;
    for (size_t i = 0; params && params[i] && params[i + 1] && !ret; i += 2) {
        char *esc = curl_easy_escape(NULL, params[i + 1], 0);
        if (!esc || buf_printf(&url, "%c%s=%s", i ? '&' : '?', params[i], esc)) ret = -E2BIG;
        curl_free(esc);
    }
    if (ret) {
        snprintf(err, errlen, "the query is too long");
        goto out;
    }
    long status = 0;
    ret = prom_http_get_json(url.data, &v, &status, err, errlen);
    if (ret == -ECONNREFUSED) {
        snprintf(err, errlen, "Prometheus of lab \"%s\" at %s:%d: not running (is the cluster up? aiopslab cluster status)",
                 lab->name, node, LAB_PROMETHEUS_PORT);
        goto out;
    }
    if (ret) goto out;
    if (strcmp(json_path_str(v, "status", ""), "success")) {
        snprintf(err, errlen, "%s: %s", json_path_str(v, "errorType", "error"), json_path_str(v, "error", ""));
        json_decref(v);
        ret = -EINVAL;
        goto out;
    }
    *out = v;
out:
    buf_free(&url);
    return ret;
}
