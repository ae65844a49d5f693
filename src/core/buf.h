/* buf: a growable byte buffer with a hard maximum, for everything that
 * comes from a file, the network or an agent (like curl's dynbuf). The
 * contents are always NUL-terminated so they can be used as a string.
 * Functions return 0, or -E2BIG when the maximum would be passed (the
 * buffer is then left unchanged). */
#ifndef CORE_BUF_H
#define CORE_BUF_H
#include <stddef.h>

struct buf {
    char *data;
    size_t len, cap, max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Remove the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hand the data over to the caller (who frees it) and reset the buffer. */
char *buf_steal(struct buf *b);

#endif
