/* buf.h: a growable byte buffer (git's strbuf), always NUL-terminated.
 * The caller owns the struct; weft_buf_release frees the memory, detach hands it over. */
#ifndef WEFT_UTIL_BUF_H
#define WEFT_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct weft_buf {
  char *ptr; /* never NULL after init: points at "" when empty */
  size_t len;
  size_t cap;
};

extern char weft__buf_empty[1];
#define WEFT_BUF_INIT {weft__buf_empty, 0, 0}

void weft_buf_init(struct weft_buf *b);
void weft_buf_release(struct weft_buf *b);
/* Empties the buffer but keeps its memory. */
void weft_buf_reset(struct weft_buf *b);
/* All return WEFT_OK or WEFT_ENOMEM (the buffer is unchanged on failure). */
int weft_buf_grow(struct weft_buf *b, size_t extra);
int weft_buf_add(struct weft_buf *b, const void *data, size_t len);
int weft_buf_adds(struct weft_buf *b, const char *s);
int weft_buf_addc(struct weft_buf *b, char c);
int weft_buf_addf(struct weft_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int weft_buf_vaddf(struct weft_buf *b, const char *fmt, va_list ap);
/* Hands the memory to the caller (free() it); the buffer is left empty and
 * reusable. Returns NULL only when out of memory. */
char *weft_buf_detach(struct weft_buf *b, size_t *len);

/* Grows the array *v of *cap elements of elem bytes to hold need (doubling,
 * from 4: small at first, as a loop keeps thousands of runs in flight, most
 * of which record a few rows a tick); 0, or -1 when out of memory (*v
 * stays). */
int weft_array_grow(void **v, size_t *cap, size_t need, size_t elem);

#endif
