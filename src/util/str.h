/* str.h: small string helpers: edit distance for did-you-mean, checked dup.
 * Returned strings are malloc'ed and owned by the caller. */
#ifndef WEFT_UTIL_STR_H
#define WEFT_UTIL_STR_H

#include <stddef.h>

/* Levenshtein distance, capped at 255 for long strings. */
int weft_str_distance(const char *a, const char *b);
/* The candidate closest to word when close enough to be a plausible typo
 * (distance <= max(2, len/3)), else NULL. Borrowed from candidates. */
const char *weft_str_suggest(const char *word, const char *const *candidates,
                             size_t n);
/* strdup that accepts NULL (returns NULL). */
char *weft_str_dup(const char *s);
/* A new string formatted as by printf (caller frees); NULL when out of
 * memory. */
char *weft_str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int weft_str_has_prefix(const char *s, const char *prefix);
int weft_str_has_suffix(const char *s, const char *suffix);
/* A name usable for ops, jobs, outputs: [A-Za-z_][A-Za-z0-9_-]*. */
int weft_str_is_identifier(const char *s);
/* An S3 bucket name weft accepts: 3-63 of a-z 0-9 . - (DNS-safe, so
 * virtual-host addressing works); both weft.yaml and s3:// URLs check it. */
int weft_str_is_s3_bucket(const char *s);

#endif
