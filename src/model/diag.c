/* diag.c: the diagnostics list.
 * Sorting keeps insertion order for equal positions so related errors stay together. */
#include "model/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

void weft_diags_addf(struct weft_diags *d, const char *file, int line, int col,
                     const char *fmt, ...) {
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    struct weft_diag *v = realloc(d->v, cap * sizeof *v);
    if (!v) return;
    d->v = v;
    d->cap = cap;
  }
  struct weft_buf b = WEFT_BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  int rc = weft_buf_vaddf(&b, fmt, ap);
  va_end(ap);
  char *msg = rc ? NULL : weft_buf_detach(&b, NULL);
  char *f = file ? strdup(file) : NULL;
  weft_buf_release(&b);
  if (!msg || (file && !f)) {
    free(msg);
    free(f);
    return;
  }
  d->v[d->n++] = (struct weft_diag){f, line, col, msg};
}

void weft_diags_take(struct weft_diags *dst, struct weft_diags *src) {
  for (size_t i = 0; i < src->n; i++) {
    if (dst->n == dst->cap) {
      size_t cap = dst->cap ? dst->cap * 2 : 8;
      struct weft_diag *v = realloc(dst->v, cap * sizeof *v);
      if (!v) break;
      dst->v = v;
      dst->cap = cap;
    }
    dst->v[dst->n++] = src->v[i];
    src->v[i].file = src->v[i].msg = NULL;
  }
  weft_diags_release(src);
}

static int diag_cmp(const struct weft_diag *a, const struct weft_diag *b) {
  int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
  if (c) return c;
  if (a->line != b->line) return a->line < b->line ? -1 : 1;
  if (a->col != b->col) return a->col < b->col ? -1 : 1;
  return 0;
}

void weft_diags_sort(struct weft_diags *d) {
  /* insertion sort: stable, and lists are short */
  for (size_t i = 1; i < d->n; i++) {
    struct weft_diag x = d->v[i];
    size_t j = i;
    while (j > 0 && diag_cmp(&d->v[j - 1], &x) > 0) {
      d->v[j] = d->v[j - 1];
      j--;
    }
    d->v[j] = x;
  }
}

void weft_diags_print(const struct weft_diags *d, FILE *out) {
  for (size_t i = 0; i < d->n; i++) {
    const struct weft_diag *g = &d->v[i];
    if (g->file && g->line)
      fprintf(out, "%s:%d:%d: error: %s\n", g->file, g->line, g->col, g->msg);
    else if (g->file)
      fprintf(out, "%s: error: %s\n", g->file, g->msg);
    else
      fprintf(out, "error: %s\n", g->msg);
  }
}

void weft_diags_release(struct weft_diags *d) {
  for (size_t i = 0; i < d->n; i++) {
    free(d->v[i].file);
    free(d->v[i].msg);
  }
  free(d->v);
  d->v = NULL;
  d->n = d->cap = 0;
}
