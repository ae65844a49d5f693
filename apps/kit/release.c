/* release.c: which release of its code a service runs, and the
 * regressions a release can carry.
 *
 * A "bad rollout of a buggy version" is a new revision of a Deployment
 * whose env APP_VERSION names a release that shipped a regression. Each app
 * keeps a small table of such releases (version, service, kind of
 * regression); the services carry the buggy code as real alternative code
 * paths and take them when kit_regression() says so. Any other version
 * (the current one, a fixed one) runs the good code. The version shows
 * where a real service shows it: the start-up log line ("starting
 * compose-post-service version 1.1.0-rc1") and the metric
 * service_build_info{service,version} 1. The regression itself is never
 * named anywhere a user can see: it has to be found by its symptoms.
 *
 * kit_index_check is Go's bounds check as a Go service's recovery
 * middleware reports it: the buggy paths index real arrays with it.
 */
#include "kit_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION_MAX 64

int kit__version_valid(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > VERSION_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
              c == '-' || c == '+' || c == '_'))
            return 0;
    }
    return 1;
}

enum kit_regression kit__release_find(const struct kit_release *table, size_t n, const char *service,
                                      const char *version)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(table[i].service, service) && !strcmp(table[i].version, version)) return table[i].regression;
    return KIT_REGRESSION_NONE;
}

void kit_release(struct kit *k, const char *current, const struct kit_release *table, size_t n)
{
    const char *v = getenv("APP_VERSION");
    if (!v || !*v) v = current;
    if (!kit__version_valid(v)) {
        kit_logf(k, KIT_ERROR, "bad configuration: APP_VERSION=%s is not a version (1-%d of 0-9 A-Z a-z . - + _)", v,
                 VERSION_MAX);
        exit(1);
    }
    free(k->version);
    k->version = kit__xstrdup(v);
    k->regression = kit__release_find(table, n, k->service, v);
    const char *labels[] = {"service", "version"};
    struct kit_family *f =
        kit__family(k->metrics, "service_build_info", "The release this service runs (always 1).", KIT_GAUGE, 2, labels);
    const char *values[] = {k->service, k->version};
    kit__metric_add(f, 1, values);
    kit_logf(k, KIT_INFO, "starting %s version %s", k->service, k->version);
}

const char *kit_version(const struct kit *k) { return k->version ? k->version : "unknown"; }

enum kit_regression kit_regression(const struct kit_req *r) { return r->k->regression; }

int kit_index_check(struct kit_req *r, size_t i, size_t len)
{
    if (i < len) return 0;
    char msg[128];
    snprintf(msg, sizeof msg, "runtime error: index out of range [%zu] with length %zu", i, len);
    kit_log(r, KIT_ERROR, "panic recovered in %s: %s", r->operation ? r->operation : "handler", msg);
    if (r->span && !r->span->error) {
        r->span->error = 1;
        free(r->span->status_msg);
        r->span->status_msg = kit__xstrdup(msg);
    }
    kit_reply_json(r, 500, json_pack("{s:s}", "error", msg));
    return -1;
}
