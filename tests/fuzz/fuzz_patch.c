/* libFuzzer target for the three patch types. The input is two JSON texts
 * separated by a NUL byte: the object and the patch; the first byte picks
 * the patch type. Any input must apply or fail cleanly, never touch the
 * original object, and JSON patches that succeed must be repeatable. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 64 * 1024) return 0;
    static const char *const types[] = {"json", "merge", "strategic"};
    const char *type = types[data[0] % 3];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    const char *sep = memchr(text, '\0', len);
    if (!sep) return 0;
    json_t *obj = json_loadb(text, (size_t)(sep - text), JSON_DECODE_ANY, NULL);
    json_t *patch = json_loadb(sep + 1, len - (size_t)(sep - text) - 1, JSON_DECODE_ANY, NULL);
    if (obj && patch) {
        json_t *copy = json_deep_copy(obj);
        json_t *out = NULL, *out2 = NULL;
        char err[256];
        int rc = patch_apply(type, obj, patch, &out, err, sizeof err);
        if (!json_equal(obj, copy)) abort();
        if (rc == 0) {
            if (!out) abort();
            /* deterministic: the same patch on the same object gives the same result */
            if (patch_apply(type, obj, patch, &out2, err, sizeof err) || !json_equal(out, out2)) abort();
            /* merge patch is idempotent (RFC 7386) */
            if (!strcmp(type, "merge")) {
                json_t *again = NULL;
                if (patch_merge(out, patch, &again, err, sizeof err) || !json_equal(again, out)) abort();
                json_decref(again);
            }
        }
        json_decref(out);
        json_decref(out2);
        json_decref(copy);
    }
    json_decref(obj);
    json_decref(patch);
    return 0;
}
