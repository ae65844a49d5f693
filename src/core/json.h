/* json: small helpers over jansson, the JSON library every part uses.
 * Kubernetes objects are kept as json_t trees so that fields aiopslab does
 * not act on are kept and shown, never dropped. */
#ifndef CORE_JSON_H
#define CORE_JSON_H
#include <jansson.h>
#include <stdint.h>

/* Follow a dotted path ("spec.template.spec"); NULL when absent. Array
 * elements are not addressed by this; use jansson directly. */
json_t *json_path(const json_t *root, const char *path);
/* The string at path, or dflt when absent or not a string. */
const char *json_path_str(const json_t *root, const char *path, const char *dflt);
/* The integer at path, or dflt when absent or not an integer. */
json_int_t json_path_int(const json_t *root, const char *path, json_int_t dflt);
/* The object at path, created (with all missing parents) when absent.
 * Returns a borrowed reference. */
json_t *json_path_obj(json_t *root, const char *path);
/* Set path to value (stealing the reference), creating parents. */
void json_path_set(json_t *root, const char *path, json_t *value);
/* json_equal that also holds two absent values (NULL) equal. */
int json_same(const json_t *a, const json_t *b);
/* Serialize compactly with sorted keys (stable for comparisons). Caller frees. */
char *json_dump_compact(const json_t *v);

/* A JSON string of text[0..n) with every invalid UTF-8 byte replaced by
 * U+FFFD (command output is not always UTF-8; jansson refuses it). */
json_t *json_string_lossy(const char *text, size_t n);

#endif
