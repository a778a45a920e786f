/* buf.c: growable NUL-terminated byte buffer.
 * Invariant: ptr[len] == 0 and ptr is weft__buf_empty exactly when cap == 0. */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

char weft__buf_empty[1];

void weft_buf_init(struct weft_buf *b) {
  b->ptr = weft__buf_empty;
  b->len = 0;
  b->cap = 0;
}

void weft_buf_release(struct weft_buf *b) {
  if (b->cap) free(b->ptr);
  weft_buf_init(b);
}

void weft_buf_reset(struct weft_buf *b) {
  b->len = 0;
  if (b->cap) b->ptr[0] = 0;
}

int weft_buf_grow(struct weft_buf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return WEFT_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  char *p = realloc(b->cap ? b->ptr : NULL, cap);
  if (!p) return WEFT_ENOMEM;
  if (!b->cap) p[0] = 0;
  b->ptr = p;
  b->cap = cap;
  return WEFT_OK;
}

int weft_buf_add(struct weft_buf *b, const void *data, size_t len) {
  if (weft_buf_grow(b, len)) return WEFT_ENOMEM;
  memcpy(b->ptr + b->len, data, len);
  b->len += len;
  b->ptr[b->len] = 0;
  return WEFT_OK;
}

int weft_buf_adds(struct weft_buf *b, const char *s) {
  return weft_buf_add(b, s, strlen(s));
}

int weft_buf_addc(struct weft_buf *b, char c) { return weft_buf_add(b, &c, 1); }

int weft_buf_vaddf(struct weft_buf *b, const char *fmt, va_list ap) {
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0) return WEFT_EINVALID;
  if (weft_buf_grow(b, (size_t)n)) return WEFT_ENOMEM;
  vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return WEFT_OK;
}

int weft_buf_addf(struct weft_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = weft_buf_vaddf(b, fmt, ap);
  va_end(ap);
  return rc;
}

char *weft_buf_detach(struct weft_buf *b, size_t *len) {
  char *p;
  if (!b->cap) {
    p = strdup("");
  } else {
    p = b->ptr;
  }
  if (len) *len = b->len;
  weft_buf_init(b);
  return p;
}

int weft_array_grow(void **v, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap * 2 : 4;
  while (n < need) n *= 2;
  void *p = realloc(*v, n * elem);
  if (!p) return -1;
  *v = p;
  *cap = n;
  return 0;
}
