/* alloc: the one allocation wrapper. Out of memory is not recoverable in
 * aiopslab: these functions print a clear message and abort. */
#ifndef CORE_ALLOC_H
#define CORE_ALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Free and set the pointer to NULL. */
#define xfree(p) do { free(p); (p) = NULL; } while (0)

#endif
