/* main.c: the social-network program. argv[1] names the DeathStarBench
 * service this process plays (`social-network compose-post-service`); the
 * manifests start one Deployment per service with that argument. The
 * extra role `seed-stats` prints the seed graph's degree figures (used to
 * document the generator; it starts no server).
 */
#include "sn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int (*setup)(struct kit *k);
} services[] = {
    {"compose-post-service", sn_compose_post_setup}, {"text-service", sn_text_setup},
    {"user-mention-service", sn_user_mention_setup}, {"url-shorten-service", sn_url_shorten_setup},
    {"media-service", sn_media_setup},               {"unique-id-service", sn_unique_id_setup},
    {"user-service", sn_user_setup},                 {"post-storage-service", sn_post_storage_setup},
    {"user-timeline-service", sn_user_timeline_setup}, {"home-timeline-service", sn_home_timeline_setup},
    {"social-graph-service", sn_social_graph_setup}, {"nginx-thrift", sn_nginx_thrift_setup},
};

/* Releases that shipped a regression (README: "Releases"); any other
 * version runs the good code. */
static const struct kit_release releases[] = {
    {"1.1.0-rc1", "compose-post-service", KIT_REGRESSION_ERRORS},
    {"1.1.0-rc2", "compose-post-service", KIT_REGRESSION_WRONG_RESULTS},
    {"1.1.0-rc1", "home-timeline-service", KIT_REGRESSION_ERRORS},
    {"1.1.0-rc2", "home-timeline-service", KIT_REGRESSION_WRONG_RESULTS},
    {"1.1.0-rc3", "home-timeline-service", KIT_REGRESSION_SLOW},
    {"1.1.0-rc1", "post-storage-service", KIT_REGRESSION_ERRORS},
    {"1.1.0-rc2", "post-storage-service", KIT_REGRESSION_WRONG_RESULTS},
    {"1.1.0-rc3", "post-storage-service", KIT_REGRESSION_SLOW},
    {"1.1.0-rc1", "user-service", KIT_REGRESSION_ERRORS},
    {"1.1.0-rc3", "user-service", KIT_REGRESSION_SLOW},
};

static int cmp_desc(const void *a, const void *b)
{
    return *(const int *)b - *(const int *)a;
}

static int seed_stats(void)
{
    static uint32_t edges[SN_SEED_EDGES][2];
    static int deg[SN_USERS + 1];
    size_t n = sn_seed_graph(edges, SN_SEED_EDGES);
    for (size_t i = 0; i < n; i++) {
        deg[edges[i][0]]++;
        deg[edges[i][1]]++;
    }
    int zero = 0;
    for (int i = 1; i <= SN_USERS; i++) zero += deg[i] == 0;
    qsort(deg + 1, SN_USERS, sizeof deg[0], cmp_desc);
    printf("users %d, friendships %zu (follows %zu), degree max %d p90 %d median %d p10 %d min %d, isolated %d\n",
           SN_USERS, n, 2 * n, deg[1], deg[1 + SN_USERS / 10], deg[1 + SN_USERS / 2], deg[1 + SN_USERS * 9 / 10],
           deg[SN_USERS], zero);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "seed-stats")) return seed_stats();
    for (size_t i = 0; argc == 2 && i < sizeof services / sizeof services[0]; i++) {
        if (strcmp(argv[1], services[i].name) != 0) continue;
        struct kit *k = kit_new(services[i].name);
        const char *names[sizeof services / sizeof services[0]];
        for (size_t j = 0; j < sizeof services / sizeof services[0]; j++) names[j] = services[j].name;
        kit_flags_services(k, names, sizeof names / sizeof names[0]);
        kit_release(k, SN_VERSION, releases, sizeof releases / sizeof releases[0]);
        if (services[i].setup(k) != 0) {
            kit_free(k);
            return 1;
        }
        int rc = kit_serve(k);
        kit_free(k);
        return rc;
    }
    fprintf(stderr, "usage: social-network SERVICE (one of:");
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) fprintf(stderr, " %s", services[i].name);
    fprintf(stderr, ", or seed-stats)\n");
    return 2;
}
