/* test_util_tz.c: unit tests for src/util/tz (TZif zones, POSIX footer rules,
 * local <-> UTC). Expected values come from Python zoneinfo and GNU date. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"
#include "util/fs.h"
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

static struct tm wall(int y, int mo, int d, int h, int mi) {
  struct tm tm = {0};
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
  tm.tm_hour = h, tm.tm_min = mi;
  return tm;
}

TEST(utc_is_builtin) {
  struct weft_tz *tz = NULL;
  weft_error err = WEFT_ERROR_INIT;
  setenv("TZDIR", "/nonexistent", 1); /* UTC needs no tzdata */
  ASSERT_EQ(weft_tz_load("UTC", &tz, &err), WEFT_OK);
  ASSERT_STR_EQ(weft_tz_name(tz), "UTC");
  struct tm tm;
  int off = -1;
  weft_tz_to_local(tz, utc("2026-07-01T12:34:56Z"), &tm, &off);
  ASSERT_EQ(off, 0);
  ASSERT_EQ(tm.tm_year, 126);
  ASSERT_EQ(tm.tm_mon, 6);
  ASSERT_EQ(tm.tm_hour, 12);
  ASSERT_EQ(tm.tm_sec, 56);
  ASSERT_EQ(tm.tm_wday, 3); /* Wednesday */
  ASSERT_EQ(tm.tm_isdst, 0);
  int64_t out[2];
  struct tm w = wall(2026, 7, 1, 12, 34);
  ASSERT_EQ(weft_tz_from_local(tz, &w, out), 1);
  ASSERT_EQ(out[0], utc("2026-07-01T12:34:00Z"));
  weft_tz_free(tz);
  return 0;
}

TEST(amsterdam_to_local) {
  struct weft_tz *tz = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_tz_load("Europe/Amsterdam", &tz, &err), WEFT_OK);
  struct tm tm;
  int off;
  /* 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z */
  weft_tz_to_local(tz, utc("2026-03-29T00:59:59Z"), &tm, &off);
  ASSERT_EQ(tm.tm_hour, 1);
  ASSERT_EQ(tm.tm_min, 59);
  ASSERT_EQ(off, 3600);
  ASSERT_EQ(tm.tm_isdst, 0);
  weft_tz_to_local(tz, utc("2026-03-29T01:00:00Z"), &tm, &off);
  ASSERT_EQ(tm.tm_hour, 3);
  ASSERT_EQ(off, 7200);
  ASSERT_EQ(tm.tm_isdst, 1);
  /* before 1937 the zone was on local mean time +00:19:32 */
  weft_tz_to_local(tz, utc("1900-01-01T12:00:00Z"), &tm, &off);
  ASSERT_EQ(off, 1172);
  ASSERT_EQ(tm.tm_min, 19);
  ASSERT_EQ(tm.tm_sec, 32);
  weft_tz_free(tz);
  return 0;
}

TEST(from_local_gap_normal_ambiguous) {
  struct weft_tz *ams = NULL, *ny = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_tz_load("Europe/Amsterdam", &ams, &err), WEFT_OK);
  ASSERT_EQ(weft_tz_load("America/New_York", &ny, &err), WEFT_OK);
  int64_t out[2];
  struct tm w = wall(2026, 3, 29, 2, 30);
  ASSERT_EQ(weft_tz_from_local(ams, &w, out), 0);
  ASSERT_EQ(out[0], utc("2026-03-29T01:00:00Z"));
  w = wall(2026, 10, 25, 2, 30);
  ASSERT_EQ(weft_tz_from_local(ams, &w, out), 2);
  ASSERT_EQ(out[0], utc("2026-10-25T00:30:00Z"));
  ASSERT_EQ(out[1], utc("2026-10-25T01:30:00Z"));
  w = wall(2026, 7, 1, 12, 0);
  ASSERT_EQ(weft_tz_from_local(ams, &w, out), 1);
  ASSERT_EQ(out[0], utc("2026-07-01T10:00:00Z"));
  w = wall(2026, 10, 25, 3, 0); /* first time after the repeated hour */
  ASSERT_EQ(weft_tz_from_local(ams, &w, out), 1);
  ASSERT_EQ(out[0], utc("2026-10-25T02:00:00Z"));
  w = wall(2026, 3, 8, 2, 0);
  ASSERT_EQ(weft_tz_from_local(ny, &w, out), 0);
  ASSERT_EQ(out[0], utc("2026-03-08T07:00:00Z"));
  w = wall(2026, 11, 1, 1, 30);
  ASSERT_EQ(weft_tz_from_local(ny, &w, out), 2);
  ASSERT_EQ(out[0], utc("2026-11-01T05:30:00Z"));
  ASSERT_EQ(out[1], utc("2026-11-01T06:30:00Z"));
  /* fields out of range are normalised like timegm: 2026-13-01 = 2027-01-01 */
  w = wall(2026, 13, 1, 0, 0);
  ASSERT_EQ(weft_tz_from_local(ny, &w, out), 1);
  ASSERT_EQ(out[0], utc("2027-01-01T05:00:00Z"));
  weft_tz_free(ams);
  weft_tz_free(ny);
  return 0;
}

TEST(footer_rule_after_last_transition) {
  /* Debian's files list transitions up to 2037; 2045 comes from the POSIX
   * footer ("CET-1CEST,M3.5.0,M10.5.0/3", "AEST-10AEDT,M10.1.0,M4.1.0/3"). */
  struct weft_tz *ams = NULL, *syd = NULL, *ny = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_tz_load("Europe/Amsterdam", &ams, &err), WEFT_OK);
  ASSERT_EQ(weft_tz_load("Australia/Sydney", &syd, &err), WEFT_OK);
  ASSERT_EQ(weft_tz_load("America/New_York", &ny, &err), WEFT_OK);
  struct tm tm;
  int off;
  weft_tz_to_local(ams, utc("2045-07-01T12:00:00Z"), &tm, &off);
  ASSERT_EQ(off, 7200);
  ASSERT_EQ(tm.tm_isdst, 1);
  ASSERT_EQ(tm.tm_hour, 14);
  ASSERT_EQ(tm.tm_wday, 6);
  ASSERT_EQ(tm.tm_yday, 181);
  weft_tz_to_local(ams, utc("2045-12-01T12:00:00Z"), &tm, &off);
  ASSERT_EQ(off, 3600);
  ASSERT_EQ(tm.tm_isdst, 0);
  weft_tz_to_local(syd, utc("2045-07-01T12:00:00Z"), &tm, &off);
  ASSERT_EQ(off, 36000);
  ASSERT_EQ(tm.tm_isdst, 0);
  weft_tz_to_local(syd, utc("2045-12-01T12:00:00Z"), &tm, &off);
  ASSERT_EQ(off, 39600);
  ASSERT_EQ(tm.tm_isdst, 1);
  weft_tz_to_local(ny, utc("2045-07-01T12:00:00Z"), &tm, &off);
  ASSERT_EQ(off, -14400);
  int64_t out[2];
  struct tm w = wall(2045, 3, 26, 2, 30);
  ASSERT_EQ(weft_tz_from_local(ams, &w, out), 0);
  ASSERT_EQ(out[0], utc("2045-03-26T01:00:00Z"));
  w = wall(2045, 10, 29, 2, 30);
  ASSERT_EQ(weft_tz_from_local(ams, &w, out), 2);
  ASSERT_EQ(out[0], utc("2045-10-29T00:30:00Z"));
  ASSERT_EQ(out[1], utc("2045-10-29T01:30:00Z"));
  w = wall(2045, 4, 2, 2, 30); /* Sydney falls back on the first Sunday of April */
  ASSERT_EQ(weft_tz_from_local(syd, &w, out), 2);
  ASSERT_EQ(out[0], utc("2045-04-01T15:30:00Z"));
  ASSERT_EQ(out[1], utc("2045-04-01T16:30:00Z"));
  weft_tz_free(ams);
  weft_tz_free(syd);
  weft_tz_free(ny);
  return 0;
}

/* A "slim" TZif v2 file: no transitions, only the footer. */
static size_t slim_tzif(unsigned char *b, const char *footer, int32_t utoff) {
  size_t n = 0;
  for (int part = 0; part < 2; part++) {
    memcpy(b + n, "TZif2", 5);
    memset(b + n + 5, 0, 39);
    b[n + 39] = 1; /* typecnt */
    b[n + 43] = 4; /* charcnt */
    n += 44;
    uint32_t u = (uint32_t)utoff;
    b[n++] = (unsigned char)(u >> 24), b[n++] = (unsigned char)(u >> 16);
    b[n++] = (unsigned char)(u >> 8), b[n++] = (unsigned char)u;
    b[n++] = 0, b[n++] = 0;
    memcpy(b + n, "EST", 4);
    n += 4;
  }
  n += (size_t)sprintf((char *)b + n, "\n%s\n", footer);
  return n;
}

TEST(slim_file_and_malformed_files) {
  char dir[] = "/tmp/weft-tz-XXXXXX";
  ASSERT(mkdtemp(dir));
  weft_error err = WEFT_ERROR_INIT;
  char *sub = weft_fs_join(dir, "Test");
  ASSERT_EQ(weft_fs_mkdirs(sub, &err), WEFT_OK);
  unsigned char b[512];
  size_t n = slim_tzif(b, "EST5EDT,M3.2.0,M11.1.0", -18000);
  char *p = weft_fs_join(dir, "Test/Slim");
  ASSERT_EQ(weft_fs_write_atomic(p, b, n, 0, &err), WEFT_OK);
  free(p);
  p = weft_fs_join(dir, "Test/Truncated");
  ASSERT_EQ(weft_fs_write_atomic(p, b, 50, 0, &err), WEFT_OK);
  free(p);
  n = slim_tzif(b, "EST5EDT,M13.2.0,M11.1.0", -18000);
  p = weft_fs_join(dir, "Test/BadFooter");
  ASSERT_EQ(weft_fs_write_atomic(p, b, n, 0, &err), WEFT_OK);
  free(p);
  p = weft_fs_join(dir, "Test/Text");
  ASSERT_EQ(weft_fs_write_atomic(p, "hello\n", 6, 0, &err), WEFT_OK);
  free(p);
  setenv("TZDIR", dir, 1);

  struct weft_tz *tz = NULL;
  ASSERT_EQ(weft_tz_load("Test/Slim", &tz, &err), WEFT_OK);
  int64_t out[2];
  struct tm w = wall(2026, 3, 8, 2, 30);
  ASSERT_EQ(weft_tz_from_local(tz, &w, out), 0);
  ASSERT_EQ(out[0], utc("2026-03-08T07:00:00Z"));
  w = wall(2026, 11, 1, 1, 30);
  ASSERT_EQ(weft_tz_from_local(tz, &w, out), 2);
  ASSERT_EQ(out[0], utc("2026-11-01T05:30:00Z"));
  struct tm tm;
  int off;
  weft_tz_to_local(tz, utc("2026-07-01T12:00:00Z"), &tm, &off);
  ASSERT_EQ(off, -14400);
  weft_tz_free(tz);

  ASSERT_EQ(weft_tz_load("Test/Truncated", &tz, &err), WEFT_EINVALID);
  ASSERT(tz == NULL);
  ASSERT_CONTAINS(err.msg, "Test/Truncated");
  ASSERT_EQ(weft_tz_load("Test/BadFooter", &tz, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "footer");
  ASSERT_EQ(weft_tz_load("Test/Text", &tz, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "not a TZif file");
  ASSERT_EQ(weft_tz_load("Test", &tz, &err), WEFT_ENOTFOUND); /* a folder */
  ASSERT_EQ(weft_fs_remove_tree(dir, &err), WEFT_OK);
  free(sub);
  return 0;
}

TEST(bad_names_rejected) {
  struct weft_tz *tz = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_tz_load("Mars/Base", &tz, &err), WEFT_ENOTFOUND);
  ASSERT_STR_EQ(err.msg, "unknown time zone 'Mars/Base'");
  ASSERT(tz == NULL);
  ASSERT_EQ(weft_tz_load("../etc/passwd", &tz, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "'../etc/passwd'");
  ASSERT_EQ(weft_tz_load("Europe/../../etc/passwd", &tz, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_tz_load("/etc/passwd", &tz, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_tz_load("", &tz, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_tz_load("Europe/Amsterdam; rm", &tz, &err), WEFT_EINVALID);
  ASSERT(tz == NULL);
  return 0;
}

static void *get_many(void *arg) {
  (void)arg;
  const char *names[] = {"Europe/Amsterdam", "America/New_York", "UTC"};
  for (int i = 0; i < 300; i++) {
    const struct weft_tz *tz = NULL;
    if (weft_tz_get(names[i % 3], &tz, NULL) != WEFT_OK) return (void *)1;
    struct tm tm;
    int off;
    weft_tz_to_local(tz, 1800000000 + i * 3600, &tm, &off);
  }
  return NULL;
}

TEST(cache_shared_across_threads) {
  const struct weft_tz *a = NULL, *b = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_tz_get("Europe/Amsterdam", &a, &err), WEFT_OK);
  ASSERT_EQ(weft_tz_get("Europe/Amsterdam", &b, &err), WEFT_OK);
  ASSERT(a == b);
  ASSERT_EQ(weft_tz_get("Mars/Base", &b, &err), WEFT_ENOTFOUND);
  ASSERT(b == NULL);
  pthread_t th[8];
  for (int i = 0; i < 8; i++) ASSERT_EQ(pthread_create(&th[i], NULL, get_many, NULL), 0);
  for (int i = 0; i < 8; i++) {
    void *rv = (void *)1;
    pthread_join(th[i], &rv);
    ASSERT(rv == NULL);
  }
  return 0;
}

TEST_MAIN(TEST_ENTRY(utc_is_builtin) TEST_ENTRY(amsterdam_to_local)
              TEST_ENTRY(from_local_gap_normal_ambiguous)
                  TEST_ENTRY(footer_rule_after_last_transition)
                      TEST_ENTRY(slim_file_and_malformed_files)
                          TEST_ENTRY(bad_names_rejected)
                              TEST_ENTRY(cache_shared_across_threads))
