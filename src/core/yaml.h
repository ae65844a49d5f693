/* yaml: Kubernetes YAML in and out, over libyaml, to and from jansson
 * trees. Parsing keeps the line of every node so that a manifest error can
 * name the file and line of the offending field. */
#ifndef CORE_YAML_H
#define CORE_YAML_H
#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"

struct yaml_lines; /* node -> line map of one parsed stream */

struct yaml_doc {
    json_t *root; /* owned */
    int line;     /* 1-based line where the document starts */
};

struct yaml_stream {
    struct yaml_doc *docs;
    size_t count;
    struct yaml_lines *lines;
};

/* Parse every document of text (multi-document "---" streams; empty
 * documents are skipped). Scalars become JSON types as YAML 1.1/1.2 core
 * schema would type them: plain true/false/null/~, integers, floats;
 * quoted scalars stay strings. Anchors/aliases are resolved; merge keys
 * are not supported (an error). 0, or -EINVAL with "FILE:LINE: message"
 * in err (file names the input for messages). */
int yaml_parse(const char *text, size_t len, const char *file, struct yaml_stream *out, char *err, size_t errlen);
void yaml_stream_free(struct yaml_stream *s);
/* The line of a node of the stream (any json_t reachable from a doc's
 * root), or 0 when unknown. */
int yaml_line_of(const struct yaml_stream *s, const json_t *node);

/* Emit v as YAML the way kubectl -o yaml prints (2-space indent, lists of
 * maps as "- key: v", strings quoted only when needed, multi-line strings
 * as "|" blocks). 0 or -E2BIG. */
int yaml_emit(const json_t *v, struct buf *out);

#endif
