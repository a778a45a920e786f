/* diag.h: a list of file:line:col diagnostics, so a loader can report every
 * error of a pass at once instead of stopping at the first. */
#ifndef WEFT_MODEL_DIAG_H
#define WEFT_MODEL_DIAG_H

#include <stddef.h>
#include <stdio.h>

/* One diagnostic; all strings owned by the list. line and col are 1-based,
 * 0 when unknown (then only the file is printed). */
struct weft_diag {
  char *file;
  int line;
  int col;
  char *msg;
};

struct weft_diags {
  struct weft_diag *v;
  size_t n, cap;
};

#define WEFT_DIAGS_INIT {NULL, 0, 0}

/* Appends a diagnostic (file may be NULL); silently drops it when out of
 * memory, since the caller is already on an error path. */
void weft_diags_addf(struct weft_diags *d, const char *file, int line, int col,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Moves every diagnostic of src to the end of dst; src is left empty. */
void weft_diags_take(struct weft_diags *dst, struct weft_diags *src);
/* Stable sort by file, line, column. */
void weft_diags_sort(struct weft_diags *d);
/* Prints "file:line:col: error: msg" lines. */
void weft_diags_print(const struct weft_diags *d, FILE *out);
void weft_diags_release(struct weft_diags *d);

#endif
