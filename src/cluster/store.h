/* store: the daemon's objects — Kubernetes objects as jansson trees, kept
 * in memory and written through to SQLite (WAL) so that the daemon's state
 * survives its own restart. Keys are "Kind/namespace/name" ("Kind//name"
 * for cluster-scoped kinds). The store assigns uid, creationTimestamp and
 * resourceVersion. Single-threaded: the daemon's loop owns it. */
#ifndef CLUSTER_STORE_H
#define CLUSTER_STORE_H
#include <jansson.h>
#include <stddef.h>

struct store;

/* 0 or -errno with err filled. */
int store_open(struct store **out, const char *path, char *err, size_t errlen);
void store_close(struct store *s);
/* Borrowed reference, or NULL. */
json_t *store_get(struct store *s, const char *kind, const char *ns, const char *name);
/* A new array holding every object of kind (in namespace ns, or all when
 * ns is NULL), ordered by namespace then name. */
json_t *store_list(struct store *s, const char *kind, const char *ns);
/* Insert or replace obj (the store takes its own reference). Fills
 * metadata.uid and creationTimestamp when absent, bumps resourceVersion,
 * and persists. 0 or -EIO. */
int store_put(struct store *s, json_t *obj);
/* Remove and persist. 0 or -ENOENT. */
int store_del(struct store *s, const char *kind, const char *ns, const char *name);
/* A counter that moves on every put and delete (the newest resourceVersion). */
unsigned long long store_version(const struct store *s);
/* Copy the write-ahead log into the database (a passive checkpoint, on a
 * connection of its own): the daemon runs it off its loop, since it waits
 * for the disk. The store itself never checkpoints. 0 or -EIO. */
int store_checkpoint(const char *path);
const char *store_path(const struct store *s);
/* A fresh random id in the Kubernetes uid form (8-4-4-4-12 hex). */
void store_new_uid(char out[37]);

#endif
