/* libFuzzer target for the YAML reader and writer and the manifest
 * validator: any input must parse or fail cleanly; whatever parses must
 * validate or fail cleanly, and must survive emit -> parse unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/manifest.h"
#include "core/buf.h"
#include "core/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) return 0;
    struct yaml_stream s;
    char err[256];
    if (yaml_parse((const char *)data, size, "fuzz", &s, err, sizeof err)) {
        if (!strstr(err, "fuzz:")) abort(); /* every error names FILE:LINE */
        return 0;
    }
    for (size_t i = 0; i < s.count; i++) {
        const json_t *bad = NULL;
        if (manifest_validate(s.docs[i].root, err, sizeof err, &bad) && !bad) abort();
        (void)yaml_line_of(&s, bad);
        struct buf b;
        buf_init(&b, 64 << 20);
        if (yaml_emit(s.docs[i].root, &b)) {
            buf_free(&b);
            continue;
        }
        struct yaml_stream back;
        if (yaml_parse(b.data, b.len, "emitted", &back, err, sizeof err)) {
            fprintf(stderr, "emitted YAML does not parse: %s\n%s\n", err, b.data);
            abort();
        }
        if (back.count != 1 || !json_equal(back.docs[0].root, s.docs[i].root)) {
            fprintf(stderr, "round trip changed the document:\n%s\n", b.data);
            abort();
        }
        yaml_stream_free(&back);
        buf_free(&b);
    }
    yaml_stream_free(&s);
    return 0;
}
