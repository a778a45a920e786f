/* str.c: string helpers shared across layers.
 * Allocation-free except weft_str_dup and weft_str_printf, so the rest are
 * safe in error paths. */
#include "util/str.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int weft_str_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 255;
  unsigned char row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = (unsigned char)j;
  for (size_t i = 1; i <= la; i++) {
    unsigned char diag = row[0];
    row[0] = (unsigned char)i;
    for (size_t j = 1; j <= lb; j++) {
      unsigned char up = row[j];
      unsigned char best = (unsigned char)(diag + (a[i - 1] != b[j - 1]));
      if (row[j] + 1 < best) best = (unsigned char)(row[j] + 1);
      if (row[j - 1] + 1 < best) best = (unsigned char)(row[j - 1] + 1);
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *weft_str_suggest(const char *word, const char *const *candidates,
                             size_t n) {
  int limit = (int)strlen(word) / 3;
  if (limit < 2) limit = 2;
  const char *best = NULL;
  int best_d = limit + 1;
  for (size_t i = 0; i < n; i++) {
    int d = weft_str_distance(word, candidates[i]);
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  return best;
}

char *weft_str_dup(const char *s) { return s ? strdup(s) : NULL; }

char *weft_str_printf(const char *fmt, ...) {
  va_list ap;
  char *s = NULL;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

int weft_str_has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int weft_str_has_suffix(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

int weft_str_is_identifier(const char *s) {
  if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (s++; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-')) return 0;
  return 1;
}

int weft_str_is_s3_bucket(const char *s) {
  size_t n = strlen(s);
  if (n < 3 || n > 63) return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
      return 0;
  return 1;
}
