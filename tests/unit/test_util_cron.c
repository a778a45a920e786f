/* test_util_cron.c: unit tests for src/util/cron (parsing, errors, next fire
 * time incl. DST). Expected times come from a brute-force Python reference. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"
#include "util/clock.h"
#include "util/cron.h"
#include "util/tz.h"
#include "weft.h"

/* "2026-03-29T01:00:00Z" -> seconds, with libc's timegm (independent of tz.c). */
static int64_t utc(const char *iso) {
  struct tm tm = {0};
  if (sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    abort();
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (int64_t)timegm(&tm);
}

static void iso(int64_t t, char *out) {
  if (t < 0) {
    strcpy(out, "-1");
    return;
  }
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct next_case {
  const char *expr, *zone, *after;
  const char *want[4]; /* successive fires; NULL ends */
};

static const struct next_case cases[] = {
    /* plain, lists, ranges, steps, names, macros (UTC) */
    {"*/15 * * * *", "UTC", "2026-01-01T00:07:00Z", {"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z"}},
    {"0 9 * * MON-FRI", "UTC", "2026-01-03T10:00:00Z", {"2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"}},
    {"30 4 1,15 * *", "UTC", "2026-01-01T05:00:00Z", {"2026-01-15T04:30:00Z", "2026-02-01T04:30:00Z"}},
    {"0 12 * jan,Jul *", "UTC", "2026-02-01T00:00:00Z", {"2026-07-01T12:00:00Z", "2026-07-02T12:00:00Z"}},
    {"5-10/2 */6 * * *", "UTC", "2026-01-01T00:06:00Z",
     {"2026-01-01T00:07:00Z", "2026-01-01T00:09:00Z", "2026-01-01T06:05:00Z"}},
    {"0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z"}},
    {"0 0 * * FRI-SUN", "UTC", "2026-01-01T00:00:00Z",
     {"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"}},
    {"@hourly", "UTC", "2026-01-01T00:00:00Z", {"2026-01-01T01:00:00Z"}},
    {"@daily", "UTC", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z"}},
    {"@midnight", "UTC", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z"}},
    {"@weekly", "UTC", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z"}},
    {"@monthly", "UTC", "2026-01-15T00:00:00Z", {"2026-02-01T00:00:00Z"}},
    {"@YEARLY", "UTC", "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
    {"@annually", "UTC", "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
    /* strictly after: seconds past a fire time do not fire it again */
    {"0 0 * * *", "UTC", "2026-01-01T00:00:30Z", {"2026-01-02T00:00:00Z"}},
    {"0 0 * * *", "UTC", "2025-12-31T23:59:59Z", {"2026-01-01T00:00:00Z"}},
    /* Vixie: both day fields restricted -> either matches ... */
    {"0 0 13 * FRI", "UTC", "2026-01-01T00:00:00Z",
     {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"}},
    /* ... but a field starting with '*' makes it AND */
    {"0 0 */2 * MON", "UTC", "2026-01-01T00:00:00Z", {"2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z"}},
    /* Feb 29 */
    {"0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z"}}, /* 2100 is no leap year */
    {"0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", {"-1"}},
    {"0 0 31 4,6,9,11 *", "UTC", "2026-01-01T00:00:00Z", {"-1"}},
    /* DST: Amsterdam 2026-03-29 02:00->03:00, 2026-10-25 03:00->02:00 */
    {"30 2 * * *", "Europe/Amsterdam", "2026-03-28T12:00:00Z", {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
    {"30 2 * * *", "Europe/Amsterdam", "2026-10-24T12:00:00Z", {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
    /* New York 2026-03-08 02:00->03:00, 2026-11-01 02:00->01:00 */
    {"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
    {"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
    /* after the first 01:30 has fired, the second is skipped */
    {"30 1 * * *", "America/New_York", "2026-11-01T06:00:00Z", {"2026-11-02T06:30:00Z"}},
    /* two matches in the gap collapse into one fire, which coincides with 03:00 */
    {"*/30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", {"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"}},
    {"0,30 2,3 * * *", "America/New_York", "2026-03-08T06:00:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:00:00Z"}},
    /* 2045: after the last listed transition, from the POSIX footer */
    {"0 9 * * *", "Europe/Amsterdam", "2045-03-25T12:00:00Z",
     {"2045-03-26T07:00:00Z", "2045-03-27T07:00:00Z", "2045-03-28T07:00:00Z"}},
    {"30 2 * * *", "Australia/Sydney", "2045-09-30T00:00:00Z", {"2045-09-30T16:00:00Z", "2045-10-01T15:30:00Z"}},
    {"30 2 * * *", "Australia/Sydney", "2045-03-31T00:00:00Z",
     {"2045-03-31T15:30:00Z", "2045-04-01T15:30:00Z", "2045-04-02T16:30:00Z"}},
    {"0 * * * *", "America/New_York", "2045-11-05T05:30:00Z",
     {"2045-11-05T06:00:00Z", "2045-11-05T07:00:00Z", "2045-11-05T08:00:00Z"}},
};

TEST(next_fire_known_answers) {
  int failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct next_case *k = &cases[i];
    struct weft_cron *c = NULL;
    const struct weft_tz *tz = NULL;
    weft_error err = WEFT_ERROR_INIT;
    ASSERT_EQ(weft_cron_parse(k->expr, &c, NULL, &err), WEFT_OK);
    ASSERT_EQ(weft_tz_get(k->zone, &tz, &err), WEFT_OK);
    int64_t t = utc(k->after);
    for (int j = 0; j < 4 && k->want[j]; j++) {
      char got[32];
      t = weft_cron_next(c, tz, t);
      iso(t, got);
      if (strcmp(got, k->want[j])) {
        fprintf(stderr, "# '%s' in %s after %s, fire %d: got %s, want %s\n", k->expr,
                k->zone, k->after, j + 1, got, k->want[j]);
        failed = 1;
        break;
      }
    }
    weft_cron_free(c);
  }
  return failed;
}

/* Number of fires during one local calendar day. */
static int fires_on(const char *expr, const char *zone, int y, int m, int d) {
  struct weft_cron *c = NULL;
  const struct weft_tz *tz = NULL;
  if (weft_cron_parse(expr, &c, NULL, NULL) || weft_tz_get(zone, &tz, NULL)) return -1;
  struct tm w = {0};
  int64_t lo[2], hi[2];
  w.tm_year = y - 1900, w.tm_mon = m - 1, w.tm_mday = d;
  weft_tz_from_local(tz, &w, lo);
  w.tm_mday++;
  weft_tz_from_local(tz, &w, hi);
  int n = 0;
  for (int64_t t = weft_cron_next(c, tz, lo[0] - 1); t >= 0 && t < hi[0];
       t = weft_cron_next(c, tz, t))
    n++;
  weft_cron_free(c);
  return n;
}

TEST(fires_per_day_across_dst) {
  ASSERT_EQ(fires_on("0 * * * *", "Europe/Amsterdam", 2026, 3, 29), 23);
  ASSERT_EQ(fires_on("0 * * * *", "Europe/Amsterdam", 2026, 10, 25), 25);
  ASSERT_EQ(fires_on("0 * * * *", "America/New_York", 2026, 3, 8), 23);
  ASSERT_EQ(fires_on("0 * * * *", "America/New_York", 2026, 11, 1), 25);
  ASSERT_EQ(fires_on("0 * * * *", "America/New_York", 2026, 11, 2), 24);
  ASSERT_EQ(fires_on("*/10 * * * *", "America/New_York", 2026, 11, 1), 150);
  ASSERT_EQ(fires_on("* 1 * * *", "America/New_York", 2026, 11, 1), 60);
  ASSERT_EQ(fires_on("30 2 * * *", "Europe/Amsterdam", 2026, 3, 29), 1);
  ASSERT_EQ(fires_on("30 2 * * *", "Europe/Amsterdam", 2026, 10, 25), 1);
  ASSERT_EQ(fires_on("30 1 * * *", "America/New_York", 2026, 11, 1), 1);
  return 0;
}

TEST(parse_normalises_text) {
  struct weft_cron *c = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_cron_parse("  0   9\t* * mon-fri ", &c, NULL, &err), WEFT_OK);
  ASSERT_STR_EQ(weft_cron_text(c), "0 9 * * MON-FRI");
  weft_cron_free(c);
  ASSERT_EQ(weft_cron_parse("@Daily", &c, NULL, &err), WEFT_OK);
  ASSERT_STR_EQ(weft_cron_text(c), "@daily");
  weft_cron_free(c);
  weft_cron_free(NULL);
  return 0;
}

struct bad_case {
  const char *expr;
  size_t offset;
  const char *msg;
};

TEST(parse_errors_name_field_and_offset) {
  static const struct bad_case bad[] = {
      {"61 * * * *", 0, "cron: minute field: 61 is out of range 0-59"},
      {"0 25 * * *", 2, "cron: hour field: 25 is out of range 0-23"},
      {"0 0 0 * *", 4, "cron: day-of-month field: 0 is out of range 1-31"},
      {"0 0 * 13 *", 6, "cron: month field: 13 is out of range 1-12"},
      {"0 0 * * 8", 8, "cron: day-of-week field: 8 is out of range 0-7"},
      {"* * *", 5, "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 3"},
      {"* * * * * *", 10, "got more"},
      {"*/0 * * * *", 2, "cron: minute field: step 0 must be at least 1"},
      {"5-2 * * * *", 0, "cron: minute field: range 5-2 is reversed"},
      {"@every", 0, "cron: unknown macro '@every'"},
      {" @every 5m", 1, "unknown macro '@every 5m'"},
      {"0 0 * FOO *", 6, "cron: month field: unknown name 'FOO' (expected JAN-DEC)"},
      {"0 0 * * Sunday", 8, "cron: day-of-week field: unknown name 'Sunday' (expected SUN-SAT)"},
      {"0 abc * * *", 2, "cron: hour field: 'abc' is not a number"},
      {"1,,2 * * * *", 2, "cron: minute field: empty list item"},
      {"1, * * * *", 2, "cron: minute field: empty list item"},
      {"0 0 1-x * *", 6, "cron: day-of-month field: 'x' is not a number"},
      {"0 0 1-% * *", 6, "cron: day-of-month field: unexpected character '%'"},
      {"*/ * * * *", 2, "cron: minute field: step must be a number"},
      {"0 0 * * 1?", 9, "cron: day-of-week field: unexpected character '?'"},
      {"", 0, "cron: empty expression"},
      {"   ", 3, "cron: empty expression"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct weft_cron *c = (struct weft_cron *)1;
    size_t off = 999;
    weft_error err = WEFT_ERROR_INIT;
    int rc = weft_cron_parse(bad[i].expr, &c, &off, &err);
    if (rc != WEFT_EINVALID || c != NULL || off != bad[i].offset ||
        !strstr(err.msg, bad[i].msg)) {
      fprintf(stderr, "# '%s': rc %d offset %zu (want %zu) msg \"%s\"\n", bad[i].expr, rc,
              off, bad[i].offset, err.msg);
      return 1;
    }
  }
  /* bad_offset and err may be NULL */
  struct weft_cron *c = NULL;
  ASSERT_EQ(weft_cron_parse("61 * * * *", &c, NULL, NULL), WEFT_EINVALID);
  return 0;
}

TEST(timing) {
  static const char *exprs[] = {"*/5 9-17 * * MON-FRI", "0 3 * * *", "30 2 1,15 * *",
                                "0 * * * *", "0 0 29 2 *"};
  const struct weft_tz *tz = NULL;
  ASSERT_EQ(weft_tz_get("Europe/Amsterdam", &tz, NULL), WEFT_OK);
  struct weft_cron *c[5];
  for (int i = 0; i < 5; i++) ASSERT_EQ(weft_cron_parse(exprs[i], &c[i], NULL, NULL), WEFT_OK);
  long calls = 0;
  double t0 = weft_clock_mono_s(), t1;
  int64_t after = utc("2026-01-01T00:00:00Z");
  do {
    for (int k = 0; k < 1000; k++, calls++) {
      int64_t t = weft_cron_next(c[k % 5], tz, after + (int64_t)(k % 997) * 7919);
      ASSERT(t > 0);
    }
    t1 = weft_clock_mono_s();
  } while (t1 - t0 < 0.3);
  printf("# weft_cron_next: %.0f calls/s (Europe/Amsterdam, mixed expressions)\n",
         calls / (t1 - t0));
  for (int i = 0; i < 5; i++) weft_cron_free(c[i]);
  return 0;
}

TEST_MAIN(TEST_ENTRY(next_fire_known_answers) TEST_ENTRY(fires_per_day_across_dst)
              TEST_ENTRY(parse_normalises_text) TEST_ENTRY(parse_errors_name_field_and_offset)
                  TEST_ENTRY(timing))
