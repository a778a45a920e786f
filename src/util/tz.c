/* tz.c: TZif (RFC 8536, v1-v3) reader with the POSIX TZ footer rule for
 * instants after the last transition; UTC <-> local wall time without libc's global TZ.
 */
#include "util/tz.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/fs.h"
#include "util/str.h"

#define TZ_MAX_FILE (1 << 20)
#define TZ_MAX_OFFSET (26 * 3600)
#define TZ_NONE_LO INT64_MIN
#define TZ_NONE_HI INT64_MAX

struct tz_type {
  int32_t utoff;
  uint8_t isdst;
};

/* A POSIX rule date: kind 'J' (Jn, 1-365, no Feb 29), 'D' (n, 0-365) or
 * 'M' (Mm.w.d); secs is the local time of day of the change. */
struct tz_rule_date {
  char kind;
  int n, m, w, d;
  int32_t secs;
};

struct tz_rule {
  int present; /* the footer gave a rule */
  int has_dst;
  int32_t std_off, dst_off; /* seconds east of UTC */
  struct tz_rule_date start, end;
};

struct weft_tz {
  char *name;
  size_t ntrans, ntypes;
  int64_t *trans;    /* ascending UTC instants */
  uint8_t *trans_ix; /* type index after each transition */
  struct tz_type *types;
  struct tz_rule rule;
};

/* ---- calendar ----------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

int64_t weft_tz_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void weft_tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
  days += 719468;
  int64_t era = floor_div(days, 146097);
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m) {
  static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

/* ---- POSIX TZ rule (the TZif footer) ------------------------------------ */

/* Local seconds since the epoch of a rule date in year y. */
static int64_t rule_date_local(const struct tz_rule_date *rd, int64_t y) {
  int64_t jan1 = weft_tz_days_from_civil(y, 1, 1), day;
  if (rd->kind == 'J') {
    day = jan1 + rd->n - 1 + (is_leap(y) && rd->n >= 60);
  } else if (rd->kind == 'D') {
    day = jan1 + rd->n;
  } else {
    int64_t first = weft_tz_days_from_civil(y, rd->m, 1);
    int wd_first = (int)(((first + 4) % 7 + 7) % 7);
    int mday = 1 + (rd->d - wd_first + 7) % 7 + (rd->w - 1) * 7;
    while (mday > month_days(y, rd->m)) mday -= 7;
    day = first + mday - 1;
  }
  return day * 86400 + rd->secs;
}

static int64_t rule_start_utc(const struct tz_rule *r, int64_t y) {
  return rule_date_local(&r->start, y) - r->std_off;
}

static int64_t rule_end_utc(const struct tz_rule *r, int64_t y) {
  return rule_date_local(&r->end, y) - r->dst_off;
}

static int64_t year_of(int64_t t) {
  int64_t y;
  int m, d;
  weft_tz_civil_from_days(floor_div(t, 86400), &y, &m, &d);
  return y;
}

static int rule_is_dst(const struct tz_rule *r, int64_t t) {
  if (!r->has_dst) return 0;
  int64_t y = year_of(t + r->std_off);
  int64_t s = rule_start_utc(r, y), e = rule_end_utc(r, y);
  if (s < e) return t >= s && t < e;
  return !(t >= e && t < s);
}

/* Parses a zone abbreviation: alphabetic, or <...> quoted. */
static const char *parse_abbr(const char *p) {
  if (*p == '<') {
    const char *q = strchr(p, '>');
    return q && q - p >= 2 ? q + 1 : NULL;
  }
  const char *q = p;
  while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z')) q++;
  return q - p >= 3 ? q : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h; returns the end or NULL. */
static const char *parse_hms(const char *p, int max_h, int32_t *out) {
  int sign = 1;
  if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
  int32_t v[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++) {
    if (i > 0) {
      if (*p != ':') break;
      p++;
    }
    if (*p < '0' || *p > '9') return NULL;
    int n = 0, digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 3) n = n * 10 + (*p++ - '0'), digits++;
    if ((i == 0 && n > max_h) || (i > 0 && n > 59)) return NULL;
    v[i] = n;
  }
  *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
  return p;
}

static const char *parse_num(const char *p, int lo, int hi, int *out) {
  if (*p < '0' || *p > '9') return NULL;
  int n = 0;
  while (*p >= '0' && *p <= '9') {
    n = n * 10 + (*p++ - '0');
    if (n > hi) return NULL;
  }
  if (n < lo) return NULL;
  *out = n;
  return p;
}

static const char *parse_rule_date(const char *p, struct tz_rule_date *rd) {
  memset(rd, 0, sizeof *rd);
  if (*p == 'J') {
    rd->kind = 'J';
    p = parse_num(p + 1, 1, 365, &rd->n);
  } else if (*p == 'M') {
    rd->kind = 'M';
    if (!(p = parse_num(p + 1, 1, 12, &rd->m)) || *p++ != '.') return NULL;
    if (!(p = parse_num(p, 1, 5, &rd->w)) || *p++ != '.') return NULL;
    p = parse_num(p, 0, 6, &rd->d);
  } else {
    rd->kind = 'D';
    p = parse_num(p, 0, 365, &rd->n);
  }
  if (!p) return NULL;
  rd->secs = 7200;
  if (*p == '/') p = parse_hms(p + 1, 167, &rd->secs);
  return p;
}

/* "CET-1CEST,M3.5.0,M10.5.0/3" -> rule. Returns 0 or -1. */
static int parse_posix_tz(const char *s, struct tz_rule *r) {
  memset(r, 0, sizeof *r);
  const char *p = parse_abbr(s);
  int32_t off;
  if (!p || !(p = parse_hms(p, 24, &off))) return -1;
  r->std_off = -off;
  r->dst_off = r->std_off;
  r->present = 1;
  if (!*p) return 0;
  if (!(p = parse_abbr(p))) return -1;
  r->has_dst = 1;
  r->dst_off = r->std_off + 3600;
  if (*p && *p != ',') {
    if (!(p = parse_hms(p, 24, &off))) return -1;
    r->dst_off = -off;
  }
  if (!*p) { /* no rule: the POSIX default of glibc (US rules) */
    p = "M3.2.0,M11.1.0";
  } else {
    p++;
  }
  if (!(p = parse_rule_date(p, &r->start)) || *p++ != ',') return -1;
  if (!(p = parse_rule_date(p, &r->end)) || *p) return -1;
  return 0;
}

/* ---- offsets and transitions -------------------------------------------- */

static void offset_at(const struct weft_tz *tz, int64_t t, int32_t *off, int *isdst) {
  size_t n = tz->ntrans;
  if (n == 0 || t >= tz->trans[n - 1]) {
    if (tz->rule.present) {
      int dst = rule_is_dst(&tz->rule, t);
      *off = dst ? tz->rule.dst_off : tz->rule.std_off;
      *isdst = dst;
      return;
    }
    const struct tz_type *ty = &tz->types[n ? tz->trans_ix[n - 1] : 0];
    *off = ty->utoff, *isdst = ty->isdst;
    return;
  }
  if (t < tz->trans[0]) {
    *off = tz->types[0].utoff, *isdst = tz->types[0].isdst;
    return;
  }
  size_t lo = 0, hi = n - 1; /* trans[lo] <= t < trans[hi] */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (tz->trans[mid] <= t)
      lo = mid;
    else
      hi = mid;
  }
  const struct tz_type *ty = &tz->types[tz->trans_ix[lo]];
  *off = ty->utoff, *isdst = ty->isdst;
}

static int32_t off_at(const struct weft_tz *tz, int64_t t) {
  int32_t off;
  int dst;
  offset_at(tz, t, &off, &dst);
  return off;
}

/* Smallest raw transition instant > t (table or rule), or TZ_NONE_HI. */
static int64_t raw_next(const struct weft_tz *tz, int64_t t) {
  size_t n = tz->ntrans;
  if (n > 0 && t < tz->trans[n - 1]) {
    size_t lo = 0, hi = n - 1; /* first index with trans > t */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (tz->trans[mid] > t)
        hi = mid;
      else
        lo = mid + 1;
    }
    return tz->trans[lo];
  }
  if (!tz->rule.present || !tz->rule.has_dst) return TZ_NONE_HI;
  int64_t best = TZ_NONE_HI, y = year_of(t);
  for (int64_t yy = y - 1; yy <= y + 1; yy++) {
    int64_t c[2] = {rule_start_utc(&tz->rule, yy), rule_end_utc(&tz->rule, yy)};
    for (int i = 0; i < 2; i++)
      if (c[i] > t && c[i] < best) best = c[i];
  }
  return best;
}

/* Largest raw transition instant <= t, or TZ_NONE_LO. */
static int64_t raw_prev(const struct weft_tz *tz, int64_t t) {
  size_t n = tz->ntrans;
  if (tz->rule.present && tz->rule.has_dst && (n == 0 || t > tz->trans[n - 1])) {
    int64_t best = TZ_NONE_LO, y = year_of(t);
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
      int64_t c[2] = {rule_start_utc(&tz->rule, yy), rule_end_utc(&tz->rule, yy)};
      for (int i = 0; i < 2; i++)
        if (c[i] <= t && c[i] > best && (n == 0 || c[i] > tz->trans[n - 1])) best = c[i];
    }
    if (best != TZ_NONE_LO) return best;
  }
  if (n == 0 || t < tz->trans[0]) return TZ_NONE_LO;
  size_t lo = 0, hi = n; /* last index with trans <= t */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (tz->trans[mid] <= t)
      lo = mid;
    else
      hi = mid;
  }
  return tz->trans[lo];
}

/* The first instant T > t where the UTC offset changes, or TZ_NONE_HI
 * (also when it is later than limit). */
int64_t weft__tz_next_change(const struct weft_tz *tz, int64_t t, int64_t limit) {
  for (int64_t T = raw_next(tz, t); T != TZ_NONE_HI && T <= limit; T = raw_next(tz, T)) {
    if (off_at(tz, T) != off_at(tz, T - 1)) return T;
  }
  return TZ_NONE_HI;
}

/* The last instant T <= t where the UTC offset changed, or TZ_NONE_LO (also
 * when it is earlier than limit). */
int64_t weft__tz_prev_change(const struct weft_tz *tz, int64_t t, int64_t limit) {
  for (int64_t T = raw_prev(tz, t); T != TZ_NONE_LO && T >= limit;
       T = raw_prev(tz, T - 1)) {
    if (off_at(tz, T) != off_at(tz, T - 1)) return T;
  }
  return TZ_NONE_LO;
}

int32_t weft__tz_offset(const struct weft_tz *tz, int64_t t) {
  return off_at(tz, t);
}

/* ---- public conversions ------------------------------------------------- */

void weft_tz_to_local(const struct weft_tz *tz, int64_t utc_s, struct tm *local,
                      int *offset_s) {
  int32_t off;
  int dst;
  offset_at(tz, utc_s, &off, &dst);
  int64_t l = utc_s + off, days = floor_div(l, 86400), secs = l - days * 86400;
  int64_t y;
  int m, d;
  weft_tz_civil_from_days(days, &y, &m, &d);
  memset(local, 0, sizeof *local);
  local->tm_year = (int)(y - 1900);
  local->tm_mon = m - 1;
  local->tm_mday = d;
  local->tm_hour = (int)(secs / 3600);
  local->tm_min = (int)(secs / 60 % 60);
  local->tm_sec = (int)(secs % 60);
  local->tm_wday = (int)(((days + 4) % 7 + 7) % 7);
  local->tm_yday = (int)(days - weft_tz_days_from_civil(y, 1, 1));
  local->tm_isdst = dst;
#ifdef __USE_MISC
  local->tm_gmtoff = off;
#endif
  if (offset_s) *offset_s = off;
}

int weft_tz_from_local(const struct weft_tz *tz, const struct tm *local, int64_t out[2]) {
  int64_t mon = local->tm_mon;
  int64_t y = (int64_t)local->tm_year + 1900 + floor_div(mon, 12);
  mon -= floor_div(mon, 12) * 12;
  int64_t L = weft_tz_days_from_civil(y, (int)mon + 1, 1) * 86400 +
              ((int64_t)local->tm_mday - 1) * 86400 + (int64_t)local->tm_hour * 3600 +
              (int64_t)local->tm_min * 60 + local->tm_sec;
  int64_t t0 = L - off_at(tz, L);
  /* The offset changes within two days of t0 bound every candidate. */
  int64_t bounds[4];
  size_t nb = 0;
  int64_t b = weft__tz_prev_change(tz, t0, t0 - 2 * 86400);
  if (b != TZ_NONE_LO) {
    bounds[nb++] = b;
    b = weft__tz_prev_change(tz, b - 1, t0 - 2 * 86400);
    if (b != TZ_NONE_LO) bounds[nb++] = b;
  }
  b = weft__tz_next_change(tz, t0, t0 + 2 * 86400);
  if (b != TZ_NONE_HI) {
    bounds[nb++] = b;
    b = weft__tz_next_change(tz, b, t0 + 2 * 86400);
    if (b != TZ_NONE_HI) bounds[nb++] = b;
  }
  int32_t offs[9];
  size_t no = 0;
  offs[no++] = off_at(tz, t0);
  for (size_t i = 0; i < nb; i++) {
    offs[no++] = off_at(tz, bounds[i]);
    offs[no++] = off_at(tz, bounds[i] - 1);
  }
  int64_t sol[9];
  size_t ns = 0;
  for (size_t i = 0; i < no; i++) {
    int64_t u = L - offs[i];
    int dup = 0;
    for (size_t j = 0; j < ns; j++) dup |= sol[j] == u;
    if (!dup && off_at(tz, u) == offs[i]) sol[ns++] = u;
  }
  for (size_t i = 1; i < ns; i++) /* insertion sort, ns <= 9 */
    for (size_t j = i; j > 0 && sol[j - 1] > sol[j]; j--) {
      int64_t tmp = sol[j];
      sol[j] = sol[j - 1], sol[j - 1] = tmp;
    }
  if (ns >= 2) {
    out[0] = sol[0], out[1] = sol[1];
    return 2;
  }
  if (ns == 1) {
    out[0] = out[1] = sol[0];
    return 1;
  }
  for (size_t i = 0; i < nb; i++) {
    int32_t before = off_at(tz, bounds[i] - 1), after = off_at(tz, bounds[i]);
    if (L >= bounds[i] + before && L < bounds[i] + after) {
      out[0] = out[1] = bounds[i];
      return 0;
    }
  }
  out[0] = out[1] = t0; /* unreachable for sane zones */
  return 0;
}

const char *weft_tz_name(const struct weft_tz *tz) {
  return tz->name;
}

void weft_tz_free(struct weft_tz *tz) {
  if (!tz) return;
  free(tz->name);
  free(tz->trans);
  free(tz->trans_ix);
  free(tz->types);
  free(tz);
}

/* ---- TZif parsing ------------------------------------------------------- */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
  uint32_t isut, isstd, leap, time, type, chr;
};

static int read_header(const unsigned char *p, size_t len, struct tzif_counts *c,
                       char *version) {
  if (len < 44 || memcmp(p, "TZif", 4)) return -1;
  *version = (char)p[4];
  c->isut = be32(p + 20), c->isstd = be32(p + 24), c->leap = be32(p + 28);
  c->time = be32(p + 32), c->type = be32(p + 36), c->chr = be32(p + 40);
  if (c->type == 0 || c->type > 256 || c->time > 100000 || c->chr > 65536 ||
      c->leap > 10000 || (c->isut && c->isut != c->type) ||
      (c->isstd && c->isstd != c->type))
    return -1;
  return 0;
}

static size_t block_size(const struct tzif_counts *c, size_t tsz) {
  return c->time * tsz + c->time + c->type * 6 + c->chr + c->leap * (tsz + 4) + c->isstd +
         c->isut;
}

static int parse_tzif(struct weft_tz *tz, const unsigned char *p, size_t len,
                      const char *name, weft_error *err) {
  struct tzif_counts c;
  char version;
  if (read_header(p, len, &c, &version))
    return weft_error_set(err, WEFT_EINVALID, "time zone '%s': not a TZif file", name);
  size_t tsz = 4, off = 44;
  if (version >= '2') { /* skip the v1 block, use the 64-bit one */
    off += block_size(&c, 4);
    if (off > len || read_header(p + off, len - off, &c, &version))
      return weft_error_set(err, WEFT_EINVALID, "time zone '%s': bad TZif v2 header",
                            name);
    off += 44;
    tsz = 8;
  }
  size_t need = block_size(&c, tsz);
  if (off + need > len)
    return weft_error_set(err, WEFT_EINVALID, "time zone '%s': truncated TZif file",
                          name);
  const unsigned char *q = p + off;
  tz->ntrans = c.time, tz->ntypes = c.type;
  tz->trans = calloc(c.time ? c.time : 1, sizeof *tz->trans);
  tz->trans_ix = calloc(c.time ? c.time : 1, 1);
  tz->types = calloc(c.type, sizeof *tz->types);
  if (!tz->trans || !tz->trans_ix || !tz->types)
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < c.time; i++) {
    tz->trans[i] = tsz == 8 ? be64(q) : (int32_t)be32(q);
    q += tsz;
    if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
      return weft_error_set(err, WEFT_EINVALID,
                            "time zone '%s': transitions out of order", name);
  }
  for (uint32_t i = 0; i < c.time; i++) {
    tz->trans_ix[i] = *q++;
    if (tz->trans_ix[i] >= c.type)
      return weft_error_set(err, WEFT_EINVALID, "time zone '%s': bad type index", name);
  }
  for (uint32_t i = 0; i < c.type; i++, q += 6) {
    int32_t utoff = (int32_t)be32(q);
    if (utoff < -TZ_MAX_OFFSET || utoff > TZ_MAX_OFFSET || q[4] > 1)
      return weft_error_set(err, WEFT_EINVALID, "time zone '%s': bad local time type",
                            name);
    tz->types[i].utoff = utoff;
    tz->types[i].isdst = q[4];
  }
  off += need;
  if (tsz == 8 && off < len && p[off] == '\n') { /* footer: "\nTZ\n" */
    const char *f = (const char *)p + off + 1;
    const char *e = memchr(f, '\n', len - off - 1);
    if (!e)
      return weft_error_set(err, WEFT_EINVALID, "time zone '%s': unterminated footer",
                            name);
    if (e > f) {
      char rule[256];
      size_t n = (size_t)(e - f);
      if (n >= sizeof rule ||
          (memcpy(rule, f, n), rule[n] = 0, parse_posix_tz(rule, &tz->rule)))
        return weft_error_set(err, WEFT_EINVALID,
                              "time zone '%s': bad POSIX TZ footer '%.*s'", name,
                              (int)(n < 200 ? n : 200), f);
    }
  }
  return WEFT_OK;
}

static int valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 200 || name[0] == '/' || strstr(name, "..")) return 0;
  for (const char *p = name; *p; p++) {
    char ch = *p;
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
          (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '-' || ch == '+' ||
          ch == '.'))
      return 0;
  }
  return 1;
}

int weft_tz_load(const char *name, struct weft_tz **out, weft_error *err) {
  struct weft_buf data = WEFT_BUF_INIT;
  char *path = NULL;
  int rc;
  *out = NULL;
  if (!name || !valid_name(name))
    return weft_error_set(err, WEFT_EINVALID, "invalid time zone name '%s'",
                          name ? name : "(null)");
  struct weft_tz *tz = calloc(1, sizeof *tz);
  if (!tz || !(tz->name = weft_str_dup(name))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if (!strcmp(name, "UTC")) { /* built in: works without tzdata */
    tz->ntypes = 1;
    tz->types = calloc(1, sizeof *tz->types);
    if (!tz->types) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto fail;
    }
    *out = tz;
    return WEFT_OK;
  }
  const char *dir = getenv("TZDIR");
  if (!dir || !*dir) dir = "/usr/share/zoneinfo";
  if (!(path = weft_fs_join(dir, name))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if (!weft_fs_exists(path) || weft_fs_is_dir(path)) {
    rc = weft_error_set(err, WEFT_ENOTFOUND, "unknown time zone '%s'", name);
    goto fail;
  }
  weft_error rerr = WEFT_ERROR_INIT;
  if ((rc = weft_fs_read_file(path, &data, &rerr)) != WEFT_OK) {
    rc = rc == WEFT_ENOTFOUND
             ? weft_error_set(err, rc, "unknown time zone '%s'", name)
             : weft_error_set(err, rc, "time zone '%s': %s", name, rerr.msg);
    goto fail;
  }
  if (data.len > TZ_MAX_FILE) {
    rc = weft_error_set(err, WEFT_EINVALID, "time zone '%s': file too large", name);
    goto fail;
  }
  if ((rc = parse_tzif(tz, (const unsigned char *)data.ptr, data.len, name, err)))
    goto fail;
  weft_buf_release(&data);
  free(path);
  *out = tz;
  return WEFT_OK;
fail:
  weft_buf_release(&data);
  free(path);
  weft_tz_free(tz);
  return rc;
}

/* ---- process-wide cache ------------------------------------------------- */

struct tz_cache_entry {
  struct weft_tz *tz;
  struct tz_cache_entry *next;
};

static pthread_mutex_t tz_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz_cache_entry *tz_cache_head;

int weft_tz_get(const char *name, const struct weft_tz **out, weft_error *err) {
  int rc = WEFT_OK;
  *out = NULL;
  pthread_mutex_lock(&tz_cache_lock);
  for (struct tz_cache_entry *e = tz_cache_head; e; e = e->next) {
    if (name && !strcmp(e->tz->name, name)) {
      *out = e->tz;
      goto done;
    }
  }
  struct weft_tz *tz = NULL;
  if ((rc = weft_tz_load(name, &tz, err)) != WEFT_OK) goto done;
  struct tz_cache_entry *e = malloc(sizeof *e);
  if (!e) {
    weft_tz_free(tz);
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  e->tz = tz;
  e->next = tz_cache_head;
  tz_cache_head = e;
  *out = tz;
done:
  pthread_mutex_unlock(&tz_cache_lock);
  return rc;
}
