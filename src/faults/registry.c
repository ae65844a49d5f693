/* registry: every fault type, by layer (each layer's file exports a
 * NULL-terminated list), and the names of the taxonomy. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "faults/fault.h"
#include "faults/layers.h"

static const struct fault_type *const *const LAYERS[FAULT_LAYERS] = {
    [FAULT_HARDWARE] = fault_types_hardware,     [FAULT_OS] = fault_types_os,
    [FAULT_NETWORK] = fault_types_network,       [FAULT_VIRTUALIZATION] = fault_types_virtualization,
    [FAULT_MIDDLEWARE] = fault_types_middleware, [FAULT_APPLICATION] = fault_types_application,
    [FAULT_WORKLOAD] = fault_types_workload,
};

#define MAX_TYPES 128
static const struct fault_type *all[MAX_TYPES];
static size_t n_all;

const struct fault_type *const *fault_types(size_t *n)
{
    if (!n_all)
        for (int l = 0; l < FAULT_LAYERS; l++)
            for (const struct fault_type *const *t = LAYERS[l]; *t && n_all < MAX_TYPES; t++) all[n_all++] = *t;
    *n = n_all;
    return all;
}

const struct fault_type *fault_type_find(const char *id)
{
    size_t n;
    const struct fault_type *const *t = fault_types(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i]->id, id)) return t[i];
    return NULL;
}

static const char *const LAYER_NAMES[FAULT_LAYERS] = {"Hardware",       "Operating System", "Network",
                                                      "Virtualization", "Middleware",       "Application",
                                                      "Workload"};
static const char *const LAYER_IDS[FAULT_LAYERS] = {"hardware",   "os",          "network", "virtualization",
                                                    "middleware", "application", "workload"};

const char *fault_layer_name(enum fault_layer l) { return l < FAULT_LAYERS ? LAYER_NAMES[l] : "?"; }
const char *fault_layer_id(enum fault_layer l) { return l < FAULT_LAYERS ? LAYER_IDS[l] : "?"; }

int fault_layer_parse(const char *s, enum fault_layer *out)
{
    for (int l = 0; l < FAULT_LAYERS; l++) {
        if (!strcasecmp(s, LAYER_NAMES[l]) || !strcasecmp(s, LAYER_IDS[l])) {
            *out = (enum fault_layer)l;
            return 0;
        }
    }
    return -1;
}

const char *fault_class_name(enum fault_class c)
{
    static const char *const names[FAULT_CLASSES] = {
        "Misconfiguration",   "Code Defect",        "Authentication Issue", "Network/Storage Issue",
        "Operation Error",    "Dependency Problem", "Resource Exhaustion",  "Overload"};
    return c < FAULT_CLASSES ? names[c] : "?";
}

const char *fault_target_name(enum fault_target t)
{
    switch (t) {
    case FT_WORKLOAD: return "deployment";
    case FT_SERVICE: return "service";
    case FT_POSTGRES: return "postgres";
    case FT_REDIS: return "redis";
    case FT_MEMCACHED: return "memcached";
    case FT_STORE: return "store";
    case FT_FRONTEND: return "frontend";
    }
    return "?";
}
