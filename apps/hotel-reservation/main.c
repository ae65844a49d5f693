/* main.c: `hotel-reservation ROLE` runs one service of HotelReservation
 * (DeathStarBench's hotel app on the kit). Each role is one Deployment in
 * apps/hotel-reservation/manifests with DeathStarBench's name and port:
 * frontend :5000, profile :8081, search :8082, geo :8083, rate :8084,
 * recommendation :8085, user :8086, reservation :8087.
 */
#include <stdio.h>
#include <string.h>

#include "hr.h"

static const struct {
    const char *name;
    int (*run)(void);
} roles[] = {
    {"frontend", hr_frontend},       {"search", hr_search}, {"geo", hr_geo},
    {"profile", hr_profile},         {"rate", hr_rate},     {"recommendation", hr_recommendation},
    {"reservation", hr_reservation}, {"user", hr_user},
};

/* Releases that shipped a regression (README: "Releases"); any other
 * version runs the good code. */
static const struct kit_release releases[] = {
    {"1.1.0-rc1", "frontend", KIT_REGRESSION_ERRORS},  {"1.1.0-rc2", "frontend", KIT_REGRESSION_WRONG_RESULTS},
    {"1.1.0-rc3", "frontend", KIT_REGRESSION_SLOW},    {"1.1.0-rc1", "search", KIT_REGRESSION_ERRORS},
    {"1.1.0-rc2", "search", KIT_REGRESSION_WRONG_RESULTS}, {"1.1.0-rc3", "search", KIT_REGRESSION_SLOW},
    {"1.1.0-rc1", "profile", KIT_REGRESSION_ERRORS},   {"1.1.0-rc3", "profile", KIT_REGRESSION_SLOW},
};

struct kit *hr_kit_new(const char *role)
{
    struct kit *k = kit_new(role);
    const char *names[sizeof roles / sizeof roles[0]];
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) names[i] = roles[i].name;
    kit_flags_services(k, names, sizeof names / sizeof names[0]);
    kit_release(k, HR_VERSION, releases, sizeof releases / sizeof releases[0]);
    return k;
}

int main(int argc, char **argv)
{
    if (argc == 2)
        for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
            if (!strcmp(argv[1], roles[i].name)) return roles[i].run();
    fprintf(stderr, "usage: hotel-reservation ROLE\nroles:");
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) fprintf(stderr, " %s", roles[i].name);
    fprintf(stderr, "\n");
    return 2;
}
