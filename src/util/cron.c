/* cron.c: parses 5-field cron expressions into bit sets and finds the next fire
 * time in a zone, walking UTC-offset segments and skipping by month/day/hour. */
#include "util/cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/str.h"

/* "none within 10 years": 10 Gregorian years, rounded up. */
#define CRON_HORIZON_S ((int64_t)3653 * 86400)
#define HOURS_ALL 0xFFFFFFu

struct weft_cron {
  uint64_t minute;        /* bits 0-59 */
  uint32_t hour;          /* bits 0-23 */
  uint32_t dom;           /* bits 1-31 */
  uint32_t month;         /* bits 1-12 */
  uint32_t dow;           /* bits 0-6, Sunday = 0 */
  int dom_star, dow_star; /* field began with '*' (Vixie: then days AND) */
  char *text;
};

struct field_spec {
  const char *name;
  int lo, hi;
  const char *const *names; /* 3-letter names, or NULL */
  int names_base;           /* value of names[0] */
  const char *names_hint;
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const struct field_spec fields[5] = {
    {"minute", 0, 59, NULL, 0, NULL},
    {"hour", 0, 23, NULL, 0, NULL},
    {"day-of-month", 1, 31, NULL, 0, NULL},
    {"month", 1, 12, month_names, 1, "JAN-DEC"},
    {"day-of-week", 0, 7, day_names, 0, "SUN-SAT"},
};

static const struct {
  const char *name, *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* ---- parsing ------------------------------------------------------------ */

struct parse_ctx {
  const char *expr; /* offsets are into this */
  size_t *bad_offset;
  weft_error *err;
};

__attribute__((format(printf, 4, 5))) static int fail_at(struct parse_ctx *px, size_t off,
                                                         const struct field_spec *f,
                                                         const char *fmt, ...) {
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  if (px->bad_offset) *px->bad_offset = off;
  if (f)
    return weft_error_set(px->err, WEFT_EINVALID, "cron: %s field: %s", f->name, detail);
  return weft_error_set(px->err, WEFT_EINVALID, "cron: %s", detail);
}

/* A number or (month, weekday) name at *p; *p advances past it. */
static int parse_value(struct parse_ctx *px, const struct field_spec *f, size_t *p,
                       size_t end, int *out, int *was_name) {
  const char *e = px->expr;
  size_t start = *p;
  *was_name = 0;
  if (*p < end && isdigit((unsigned char)e[*p])) {
    long v = 0;
    while (*p < end && isdigit((unsigned char)e[*p])) {
      if (v < 100000) v = v * 10 + (e[*p] - '0');
      (*p)++;
    }
    if (v < f->lo || v > f->hi)
      return fail_at(px, start, f, "%ld is out of range %d-%d", v, f->lo, f->hi);
    *out = (int)v;
    return WEFT_OK;
  }
  if (*p < end && isalpha((unsigned char)e[*p])) {
    char word[16];
    size_t n = 0;
    while (*p < end && isalpha((unsigned char)e[*p])) {
      if (n < sizeof word - 1) word[n++] = e[*p];
      (*p)++;
    }
    word[n] = 0;
    if (!f->names) return fail_at(px, start, f, "'%s' is not a number", word);
    int count = f->names == month_names ? 12 : 7;
    for (int i = 0; i < count; i++) {
      if (!strcasecmp(word, f->names[i])) {
        *out = i + f->names_base;
        *was_name = 1;
        return WEFT_OK;
      }
    }
    return fail_at(px, start, f, "unknown name '%s' (expected %s)", word, f->names_hint);
  }
  if (*p >= end) return fail_at(px, start, f, "missing value");
  return fail_at(px, start, f, "unexpected character '%c'", e[*p]);
}

/* One field: item[,item...], item = '*' | v | v-v, each optionally /step. */
static int parse_field(struct parse_ctx *px, const struct field_spec *f, size_t start,
                       size_t end, uint64_t *bits) {
  const char *e = px->expr;
  size_t p = start;
  int rc;
  *bits = 0;
  for (;;) {
    size_t item = p;
    int lo, hi, step = 1, single = 0, lo_name = 0, hi_name = 0;
    if (p >= end || e[p] == ',') return fail_at(px, p, f, "empty list item");
    if (e[p] == '*') {
      lo = f->lo;
      hi = f->hi == 7 ? 6 : f->hi;
      p++;
    } else {
      if ((rc = parse_value(px, f, &p, end, &lo, &lo_name))) return rc;
      hi = lo;
      single = 1;
      if (p < end && e[p] == '-') {
        p++;
        if ((rc = parse_value(px, f, &p, end, &hi, &hi_name))) return rc;
        single = 0;
        if (f->names == day_names && hi_name && hi == 0 && lo > 0) hi = 7; /* FRI-SUN */
        if (lo > hi) return fail_at(px, item, f, "range %d-%d is reversed", lo, hi);
      }
    }
    if (p < end && e[p] == '/') {
      size_t ss = ++p;
      long s = 0;
      if (p >= end || !isdigit((unsigned char)e[p]))
        return fail_at(px, ss, f, "step must be a number");
      while (p < end && isdigit((unsigned char)e[p])) {
        if (s < 100000) s = s * 10 + (e[p] - '0');
        p++;
      }
      if (s == 0) return fail_at(px, ss, f, "step 0 must be at least 1");
      if (s > f->hi)
        return fail_at(px, ss, f, "step %ld is larger than the range (max %d)", s, f->hi);
      step = (int)s;
      if (single) hi = f->hi == 7 ? 6 : f->hi; /* "5/15" = 5-max/15 */
    }
    for (int v = lo; v <= hi; v += step)
      *bits |= (uint64_t)1 << (v == 7 && f->hi == 7 ? 0 : v);
    if (p >= end) return WEFT_OK;
    if (e[p] != ',') {
      return fail_at(px, p, f, "unexpected character '%c'", e[p]);
    }
    p++;
  }
}

int weft_cron_parse(const char *expr, struct weft_cron **out, size_t *bad_offset,
                    weft_error *err) {
  struct parse_ctx px = {expr, bad_offset, err};
  struct weft_cron *c = NULL;
  struct weft_buf text = WEFT_BUF_INIT;
  int rc;
  *out = NULL;
  if (bad_offset) *bad_offset = 0;
  if (!expr) return fail_at(&px, 0, NULL, "empty expression");
  size_t len = strlen(expr), b = 0;
  while (b < len && isspace((unsigned char)expr[b])) b++;
  while (len > b && isspace((unsigned char)expr[len - 1])) len--;
  if (b == len) return fail_at(&px, b, NULL, "empty expression");
  if (!(c = calloc(1, sizeof *c)))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  const char *fields_src = expr;
  size_t fb = b, fe = len;
  if (expr[b] == '@') {
    const char *exp = NULL;
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
      if (strlen(macros[i].name) == len - b &&
          !strncasecmp(expr + b, macros[i].name, len - b)) {
        exp = macros[i].expansion;
        rc = weft_buf_addf(&text, "%s", macros[i].name);
        if (rc) goto fail;
      }
    if (!exp) {
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(len - b < 40 ? len - b : 40), expr + b);
      rc = fail_at(&px, b, NULL,
                   "unknown macro '%s' (expected @hourly, @daily, @midnight, "
                   "@weekly, @monthly, @yearly or @annually)",
                   name);
      goto fail;
    }
    fields_src = exp, fb = 0, fe = strlen(exp);
    px.expr = exp;
  }
  size_t starts[5], ends[5];
  int nf = 0;
  for (size_t p = fb; p < fe;) {
    while (p < fe && isspace((unsigned char)fields_src[p])) p++;
    if (p >= fe) break;
    if (nf == 5) {
      rc = fail_at(&px, p, NULL,
                   "expected 5 fields (minute hour day-of-month month day-of-week), "
                   "got more");
      goto fail;
    }
    starts[nf] = p;
    while (p < fe && !isspace((unsigned char)fields_src[p])) p++;
    ends[nf++] = p;
  }
  if (nf < 5) {
    rc = fail_at(&px, fe, NULL,
                 "expected 5 fields (minute hour day-of-month month day-of-week), got %d",
                 nf);
    goto fail;
  }
  uint64_t bits[5];
  for (int i = 0; i < 5; i++)
    if ((rc = parse_field(&px, &fields[i], starts[i], ends[i], &bits[i]))) goto fail;
  c->minute = bits[0];
  c->hour = (uint32_t)bits[1];
  c->dom = (uint32_t)bits[2];
  c->month = (uint32_t)bits[3];
  c->dow = (uint32_t)bits[4];
  c->dom_star = fields_src[starts[2]] == '*';
  c->dow_star = fields_src[starts[4]] == '*';
  if (!text.len) {
    for (int i = 0; i < 5; i++) {
      if ((rc = weft_buf_addf(&text, "%s", i ? " " : ""))) goto fail;
      for (size_t p = starts[i]; p < ends[i]; p++)
        if ((rc = weft_buf_addf(&text, "%c", toupper((unsigned char)fields_src[p]))))
          goto fail;
    }
  }
  c->text = weft_buf_detach(&text, NULL);
  if (!c->text) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  *out = c;
  return WEFT_OK;
fail:
  weft_buf_release(&text);
  weft_cron_free(c);
  return rc;
}

void weft_cron_free(struct weft_cron *c) {
  if (!c) return;
  free(c->text);
  free(c);
}

const char *weft_cron_text(const struct weft_cron *c) {
  return c->text;
}

/* ---- next fire time ----------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

static int next_bit(uint64_t mask, int from) { /* lowest set bit >= from, or -1 */
  if (from >= 64) return -1;
  uint64_t m = mask >> from << from;
  return m ? __builtin_ctzll(m) : -1;
}

static int month_len(int64_t y, int m) {
  static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : md[m - 1];
}

static int day_matches(const struct weft_cron *c, int64_t days, int d) {
  int wd = (int)(((days + 4) % 7 + 7) % 7);
  int dom_ok = (int)(c->dom >> d & 1), dow_ok = (int)(c->dow >> wd & 1);
  if (c->dom_star || c->dow_star) return dom_ok && dow_ok;
  return dom_ok || dow_ok;
}

/* The first matching minute (as local wall seconds, i.e. seconds since
 * 1970-01-01 00:00 wall clock) in [from, to]; 1 when found, else 0. */
static int next_match(const struct weft_cron *c, int64_t from, int64_t to, int64_t *out) {
  int64_t mins = floor_div(from + 59, 60);
  int64_t days = floor_div(mins, 1440);
  int rem = (int)(mins - days * 1440), h = rem / 60, mi = rem % 60, mon, d;
  int64_t y;
  weft_tz_civil_from_days(days, &y, &mon, &d);
  for (;;) {
    if (days * 86400 + h * 3600 + mi * 60 > to) return 0;
    if (!(c->month >> mon & 1)) {
      int nm = next_bit(c->month, mon + 1);
      if (nm < 0) y++, nm = next_bit(c->month, 1);
      mon = nm, d = 1, h = 0, mi = 0;
      days = weft_tz_days_from_civil(y, mon, 1);
      continue;
    }
    if (!day_matches(c, days, d)) {
      days++, h = 0, mi = 0;
      if (++d > month_len(y, mon)) {
        d = 1;
        if (++mon > 12) mon = 1, y++;
      }
      continue;
    }
    int nh = next_bit(c->hour, h);
    if (nh < 0) {
      h = 24; /* forces the next day below */
    } else if (nh != h) {
      h = nh, mi = 0;
    }
    int nmin = h < 24 ? next_bit(c->minute, mi) : -1;
    if (nmin < 0) {
      mi = 0;
      if (++h >= 24) {
        h = 0, days++;
        if (++d > month_len(y, mon)) {
          d = 1;
          if (++mon > 12) mon = 1, y++;
        }
      }
      continue;
    }
    int64_t w = days * 86400 + h * 3600 + nmin * 60;
    if (w > to) return 0;
    *out = w;
    return 1;
  }
}

/* Walks the zone's constant-offset segments from after_s: a segment after a
 * spring-forward gap first fires at its start if any wall time in the gap
 * matches; after a fall back the repeated wall times are skipped unless
 * every hour matches. */
int64_t weft_cron_next(const struct weft_cron *c, const struct weft_tz *tz,
                       int64_t after_s) {
  int64_t t = after_s + 1, limit = after_s + CRON_HORIZON_S, wall;
  int hour_all = (c->hour & HOURS_ALL) == HOURS_ALL;
  int64_t seg_start = weft__tz_prev_change(tz, t, t - 2 * 86400);
  int64_t seg_end = weft__tz_next_change(tz, t, limit);
  int64_t from = t;
  for (;;) {
    int32_t o = weft__tz_offset(tz, from);
    int64_t from_wall = from + o;
    if (seg_start != INT64_MIN) {
      int32_t o_prev = weft__tz_offset(tz, seg_start - 1);
      if (o_prev < o && seg_start > after_s) {
        if (next_match(c, seg_start + o_prev, seg_start + o - 1, &wall)) return seg_start;
      } else if (o_prev > o && !hour_all && from_wall < seg_start + o_prev) {
        from_wall = seg_start + o_prev;
      }
    }
    int64_t end_wall =
        (seg_end == INT64_MAX || seg_end > limit ? limit : seg_end - 1) + o;
    if (next_match(c, from_wall, end_wall, &wall)) return wall - o;
    if (seg_end == INT64_MAX || seg_end > limit) return -1;
    seg_start = from = seg_end;
    seg_end = weft__tz_next_change(tz, seg_start, limit);
  }
}
