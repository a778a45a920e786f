/* partitions.c: a job's partition keys (daily, hourly in a time zone, or a
 * static list): enumeration, membership, and the key a schedule tick targets. */

/* Daily and hourly partitions are named by local wall time in p->timezone.
 * An hourly partition is an existing local hour: hours skipped by a DST
 * spring-forward have no partition, and a repeated (fall-back) hour is one
 * partition of two real hours. A partition is complete once the next one
 * has started. Keys are turned into ordinals (days since 1970-01-01, or
 * days * 24 + hour) to enumerate them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "util/str.h"
#include "util/tz.h"

#define MAX_KEYS 500000 /* 57 years of hourly partitions */

static const struct weft_tz *zone_of(const struct weft_partitions *p) {
  const struct weft_tz *tz = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_tz_get(p->timezone ? p->timezone : "UTC", &tz, &err)) return NULL;
  return tz;
}

/* Parses "YYYY-MM-DD" (daily) or "YYYY-MM-DD-HH:00" (hourly) into an
 * ordinal; 0 on success, -1 when malformed. */
static int key_ordinal(enum weft_partitions_kind kind, const char *key, int64_t *out) {
  int y, m, d, h = 0, mi = 0, used = 0;
  if (!key) return -1;
  if (kind == WEFT_PARTITIONS_DAILY) {
    if (sscanf(key, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || key[used] || used != 10)
      return -1;
  } else {
    if (sscanf(key, "%4d-%2d-%2d-%2d:%2d%n", &y, &m, &d, &h, &mi, &used) != 5 || key[used] ||
        used != 16 || mi != 0 || h < 0 || h > 23)
      return -1;
  }
  if (m < 1 || m > 12 || d < 1 || d > 31) return -1;
  int64_t days = weft_tz_days_from_civil(y, m, d);
  int64_t yy;
  int mm, dd;
  weft_tz_civil_from_days(days, &yy, &mm, &dd);
  if (yy != y || mm != m || dd != d) return -1; /* 2026-02-30 */
  *out = kind == WEFT_PARTITIONS_DAILY ? days : days * 24 + h;
  return 0;
}

static char *ordinal_key(enum weft_partitions_kind kind, int64_t ord) {
  int64_t days = kind == WEFT_PARTITIONS_DAILY ? ord : (ord >= 0 ? ord / 24 : (ord - 23) / 24);
  int h = (int)(ord - days * 24);
  int64_t y;
  int m, d;
  weft_tz_civil_from_days(days, &y, &m, &d);
  if (kind == WEFT_PARTITIONS_DAILY) return weft_str_printf("%04lld-%02d-%02d", (long long)y, m, d);
  return weft_str_printf("%04lld-%02d-%02d-%02d:00", (long long)y, m, d, h);
}

/* Start (UTC s) of the partition with ordinal ord; *exists = 0 for an hour
 * that a DST gap skips. */
static int64_t ordinal_start(const struct weft_partitions *p, const struct weft_tz *tz,
                             int64_t ord, int *exists) {
  int64_t days = p->kind == WEFT_PARTITIONS_DAILY ? ord : (ord >= 0 ? ord / 24 : (ord - 23) / 24);
  int h = p->kind == WEFT_PARTITIONS_DAILY ? 0 : (int)(ord - days * 24);
  int64_t y;
  int m, d;
  weft_tz_civil_from_days(days, &y, &m, &d);
  struct tm t = {0};
  t.tm_year = (int)(y - 1900);
  t.tm_mon = m - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  int64_t out[2] = {0, 0};
  int r = weft_tz_from_local(tz, &t, out);
  /* A daily partition always exists (a midnight in a gap starts when the
   * gap ends); a skipped local hour has no partition. */
  *exists = r != 0 || p->kind == WEFT_PARTITIONS_DAILY;
  return out[0];
}

/* The ordinal of the partition containing instant s (local time there). */
static int64_t ordinal_at(const struct weft_partitions *p, const struct weft_tz *tz, int64_t s) {
  struct tm t;
  weft_tz_to_local(tz, s, &t, NULL);
  int64_t days = weft_tz_days_from_civil(t.tm_year + 1900, t.tm_mon + 1, t.tm_mday);
  return p->kind == WEFT_PARTITIONS_DAILY ? days : days * 24 + t.tm_hour;
}

/* The last ordinal whose partition is complete at now_s (the one before the
 * partition containing now_s), skipping non-existent hours. */
static int64_t last_complete(const struct weft_partitions *p, const struct weft_tz *tz,
                             int64_t now_s) {
  int64_t ord = ordinal_at(p, tz, now_s) - 1;
  int exists = 0;
  for (int i = 0; i < 4; i++, ord--) {
    ordinal_start(p, tz, ord, &exists);
    if (exists) break;
  }
  return ord;
}

static int in_range(const struct weft_partitions *p, const struct weft_tz *tz, int64_t ord,
                    int64_t *first_ord) {
  int64_t first = ordinal_at(p, tz, p->start_s);
  if (first_ord) *first_ord = first;
  if (ord < first) return 0;
  int exists = 0;
  int64_t start = ordinal_start(p, tz, ord, &exists);
  if (!exists) return 0;
  if (p->end_s && start >= p->end_s) return 0;
  return 1;
}

void weft_partitions_keys_free(char **keys, size_t n) {
  if (!keys) return;
  for (size_t i = 0; i < n; i++) free(keys[i]);
  free(keys);
}

static long static_index(const struct weft_partitions *p, const char *key) {
  for (size_t i = 0; key && i < p->n_keys; i++)
    if (!strcmp(p->keys[i], key)) return (long)i;
  return -1;
}

int weft_partitions_has_key(const struct weft_partitions *p, const char *key, int64_t now_s) {
  if (!p || !key) return 0;
  if (p->kind == WEFT_PARTITIONS_STATIC) return static_index(p, key) >= 0;
  if (p->kind == WEFT_PARTITIONS_NONE) return 0;
  const struct weft_tz *tz = zone_of(p);
  int64_t ord;
  if (!tz || key_ordinal(p->kind, key, &ord)) return 0;
  if (!in_range(p, tz, ord, NULL)) return 0;
  return ord <= last_complete(p, tz, now_s);
}

int64_t weft_partitions_key_start(const struct weft_partitions *p, const char *key) {
  int64_t ord;
  int exists;
  const struct weft_tz *tz = p ? zone_of(p) : NULL;
  if (!tz || (p->kind != WEFT_PARTITIONS_DAILY && p->kind != WEFT_PARTITIONS_HOURLY) ||
      key_ordinal(p->kind, key, &ord))
    return -1;
  return ordinal_start(p, tz, ord, &exists);
}

char *weft_partitions_key_for_tick(const struct weft_partitions *p, int64_t tick_s) {
  if (!p || (p->kind != WEFT_PARTITIONS_DAILY && p->kind != WEFT_PARTITIONS_HOURLY)) return NULL;
  const struct weft_tz *tz = zone_of(p);
  if (!tz) return NULL;
  int64_t ord = last_complete(p, tz, tick_s);
  if (!in_range(p, tz, ord, NULL)) return NULL;
  return ordinal_key(p->kind, ord);
}

static int push_key(char ***keys, size_t *n, size_t *cap, char *k) {
  if (!k) return WEFT_ENOMEM;
  if (*n + 1 >= *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    char **v = realloc(*keys, nc * sizeof *v);
    if (!v) {
      free(k);
      return WEFT_ENOMEM;
    }
    *keys = v;
    *cap = nc;
  }
  (*keys)[(*n)++] = k;
  (*keys)[*n] = NULL;
  return WEFT_OK;
}

int weft_partitions_keys_between(const struct weft_partitions *p, const char *from,
                                 const char *to, int64_t now_s, char ***keys, size_t *n,
                                 weft_error *err) {
  char **v = NULL;
  size_t cnt = 0, cap = 0;
  int rc = WEFT_OK;
  *keys = NULL;
  *n = 0;
  if (!p || p->kind == WEFT_PARTITIONS_NONE)
    return weft_error_set(err, WEFT_EINVALID, "the job has no partitions");
  if (p->kind == WEFT_PARTITIONS_STATIC) {
    long a = from ? static_index(p, from) : 0;
    long b = to ? static_index(p, to) : (long)p->n_keys - 1;
    if (a < 0 || b < 0)
      return weft_error_set(err, WEFT_EINVALID, "'%s' is not a partition key of the job",
                            a < 0 ? from : to);
    if (a > b)
      return weft_error_set(err, WEFT_EINVALID, "partition '%s' comes after '%s'", from, to);
    for (long i = a; i <= b && !rc; i++) rc = push_key(&v, &cnt, &cap, weft_str_dup(p->keys[i]));
    goto done;
  }
  const struct weft_tz *tz = zone_of(p);
  if (!tz)
    return weft_error_set(err, WEFT_EINVALID, "unknown time zone '%s'",
                          p->timezone ? p->timezone : "UTC");
  const char *fmt = p->kind == WEFT_PARTITIONS_DAILY ? "YYYY-MM-DD" : "YYYY-MM-DD-HH:00";
  int64_t first = 0, last = last_complete(p, tz, now_s), a, b;
  in_range(p, tz, first, &first);
  if (from && key_ordinal(p->kind, from, &a))
    return weft_error_set(err, WEFT_EINVALID, "malformed partition key '%s' (expected %s)", from,
                          fmt);
  if (to && key_ordinal(p->kind, to, &b))
    return weft_error_set(err, WEFT_EINVALID, "malformed partition key '%s' (expected %s)", to,
                          fmt);
  if (!from) a = first;
  if (!to) b = last;
  if (from && !in_range(p, tz, a, NULL))
    return weft_error_set(err, WEFT_EINVALID, "'%s' is not a partition of the job", from);
  if (to && !in_range(p, tz, b, NULL))
    return weft_error_set(err, WEFT_EINVALID, "'%s' is not a partition of the job", to);
  if (a > b && (from && to))
    return weft_error_set(err, WEFT_EINVALID, "partition '%s' comes after '%s'", from, to);
  if (b - a > MAX_KEYS)
    return weft_error_set(err, WEFT_EINVALID, "more than %d partitions in the range", MAX_KEYS);
  for (int64_t o = a; o <= b && !rc; o++) {
    if (!in_range(p, tz, o, NULL)) continue;
    rc = push_key(&v, &cnt, &cap, ordinal_key(p->kind, o));
  }
done:
  if (rc) {
    weft_partitions_keys_free(v, cnt);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory listing partitions");
  }
  if (!v && !(v = calloc(1, sizeof *v)))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory listing partitions");
  *keys = v;
  *n = cnt;
  return WEFT_OK;
}

void weft__partitions_release(struct weft_partitions *p) {
  free(p->timezone);
  weft_partitions_keys_free(p->keys, p->n_keys);
  memset(p, 0, sizeof *p);
}
