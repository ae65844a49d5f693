/* metrics_cmd: `aiopslab metrics query 'PROMQL'` — an instant query to the
 * lab's Prometheus over its HTTP API, printed as a table (one row per
 * series: its labels, then the value), and `aiopslab metrics targets`.
 * cli/prom.h does the HTTP. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/prom.h"
#include "core/json.h"
#include "core/lab.h"

/* GET path on the lab's Prometheus with an optional query; the answer or
 * NULL after printing why. */
static json_t *metrics_get(const struct lab *lab, const char *path, const char *query)
{
    const char *params[] = {"query", query, NULL};
    json_t *v = NULL;
    char err[1024];
    int rc = prom_get(lab, path, query ? params : NULL, &v, err, sizeof err);
    if (rc == -EINVAL) fprintf(stderr, "Error: %s\n", err);
    else if (rc) fprintf(stderr, "aiopslab: %s\n", err);
    return rc ? NULL : v;
}

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    if (!strcmp(x, "__name__")) return -1;
    if (!strcmp(y, "__name__")) return 1;
    return strcmp(x, y);
}

/* One row per series; a column per label name seen; VALUE last. */
static void print_vector(json_t *result)
{
    json_t *names = json_object();
    size_t i;
    json_t *s;
    json_array_foreach(result, i, s) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(s, "metric"), k, v) json_object_set_new(names, k, json_true());
    }
    size_t ncol = json_object_size(names);
    const char **cols = calloc(ncol + 1, sizeof *cols);
    size_t c = 0;
    const char *k;
    json_t *v;
    json_object_foreach(names, k, v) cols[c++] = k;
    qsort(cols, ncol, sizeof *cols, cmp_str);
    size_t *width = calloc(ncol + 1, sizeof *width);
    for (c = 0; c < ncol; c++) width[c] = strlen(!strcmp(cols[c], "__name__") ? "METRIC" : cols[c]);
    width[ncol] = 5;
    json_array_foreach(result, i, s) {
        for (c = 0; c < ncol; c++) {
            size_t n = strlen(json_path_str(json_object_get(s, "metric"), cols[c], ""));
            if (n > width[c]) width[c] = n;
        }
        size_t n = strlen(json_string_value(json_array_get(json_object_get(s, "value"), 1)) ?: "");
        if (n > width[ncol]) width[ncol] = n;
    }
    for (c = 0; c < ncol; c++) {
        char up[256];
        const char *h = !strcmp(cols[c], "__name__") ? "METRIC" : cols[c];
        size_t j = 0;
        for (; h[j] && j < sizeof up - 1; j++) up[j] = (char)(h[j] >= 'a' && h[j] <= 'z' ? h[j] - 32 : h[j]);
        up[j] = '\0';
        printf("%-*s   ", (int)width[c], up);
    }
    printf("VALUE\n");
    json_array_foreach(result, i, s) {
        for (c = 0; c < ncol; c++) printf("%-*s   ", (int)width[c], json_path_str(json_object_get(s, "metric"), cols[c], ""));
        printf("%s\n", json_string_value(json_array_get(json_object_get(s, "value"), 1)) ?: "");
    }
    free(cols);
    free(width);
    json_decref(names);
}

static int usage(FILE *f)
{
    fprintf(f, "Usage: aiopslab [--lab NAME] metrics query 'PROMQL' [--json]   an instant query, as a table\n"
               "       aiopslab [--lab NAME] metrics targets                  what Prometheus scrapes, and its health\n");
    return f == stdout ? 0 : 2;
}

int cli_metrics(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) return usage(argc < 2 ? stderr : stdout);
    struct lab lab;
    char err[512];
    if (lab_resolve(NULL, &lab, err, sizeof err)) {
        fprintf(stderr, "aiopslab: %s\n", err);
        return 1;
    }
    if (!lab.net) {
        fprintf(stderr, "aiopslab: lab \"%s\" does not exist (aiopslab cluster up)\n", lab.name);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int status = 1;
    if (!strcmp(argv[1], "query")) {
        const char *q = NULL;
        int raw = 0;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--json")) raw = 1;
            else if (!q) q = argv[i];
            else return usage(stderr);
        }
        if (!q || strlen(q) > 4000) return usage(stderr);
        json_t *r = metrics_get(&lab, "/api/v1/query", q);
        if (r) {
            const char *type = json_path_str(r, "data.resultType", "");
            json_t *result = json_path(r, "data.result");
            if (raw) {
                char *s = json_dumps(json_object_get(r, "data"), JSON_INDENT(2));
                printf("%s\n", s);
                free(s);
            } else if (!strcmp(type, "vector")) {
                if (json_array_size(result)) print_vector(result);
                else printf("(no series)\n");
            } else if (!strcmp(type, "scalar") || !strcmp(type, "string")) {
                printf("%s\n", json_string_value(json_array_get(result, 1)) ?: "");
            } else {
                char *s = json_dumps(result, JSON_COMPACT);
                printf("%s\n", s);
                free(s);
            }
            status = 0;
            json_decref(r);
        }
    } else if (!strcmp(argv[1], "targets")) {
        json_t *r = metrics_get(&lab, "/api/v1/targets", NULL);
        if (r) {
            printf("%-18s %-52s %-8s %s\n", "JOB", "ENDPOINT", "HEALTH", "LAST ERROR");
            size_t i;
            json_t *t;
            json_array_foreach(json_path(r, "data.activeTargets"), i, t)
                printf("%-18s %-52s %-8s %s\n", json_path_str(t, "labels.job", ""), json_path_str(t, "scrapeUrl", ""),
                       json_path_str(t, "health", ""), json_path_str(t, "lastError", ""));
            status = 0;
            json_decref(r);
        }
    } else {
        status = usage(stderr);
    }
    curl_global_cleanup();
    return status;
}
