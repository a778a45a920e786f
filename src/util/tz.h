/* tz.h: IANA time zones read from TZif files (v1-v3 incl. the POSIX TZ footer)
 * and conversions between UTC instants and local wall time. No global state. */
#ifndef WEFT_UTIL_TZ_H
#define WEFT_UTIL_TZ_H

#include <stdint.h>
#include <time.h>

#include "weft.h"

struct weft_tz; /* immutable once loaded; shareable across threads */

/* name: "UTC" or an IANA name ("Europe/Amsterdam"), read from TZif files
 * under $TZDIR or /usr/share/zoneinfo (Debian package tzdata). Rejects names
 * with "..", absolute paths or odd characters (WEFT_EINVALID, "invalid time
 * zone name 'X'"), unknown zones (WEFT_ENOTFOUND, message
 * "unknown time zone 'X'"), and malformed files (WEFT_EINVALID).
 * Caller frees with weft_tz_free. *out is NULL on failure. */
int weft_tz_load(const char *name, struct weft_tz **out, weft_error *err);
void weft_tz_free(struct weft_tz *tz); /* NULL is a no-op */

/* Like weft_tz_load, but from a process-wide cache (mutex-protected): *out is
 * a borrowed pointer valid for the process lifetime; never free it. */
int weft_tz_get(const char *name, const struct weft_tz **out, weft_error *err);

/* The name the zone was loaded with (owned by tz). */
const char *weft_tz_name(const struct weft_tz *tz);

/* UTC seconds -> local broken-down time (tm_isdst, tm_wday and tm_yday set;
 * the UTC offset in seconds in *offset_s, which may be NULL). */
void weft_tz_to_local(const struct weft_tz *tz, int64_t utc_s, struct tm *local,
                      int *offset_s);

/* Local wall time (year, mon, mday, hour, min, sec of *local; other fields
 * ignored; values out of range are normalised like timegm) -> UTC instants.
 * Returns 0 when the local time does not exist (spring-forward gap; then
 * out[0] is the instant the gap ends, i.e. the first existing local time
 * after it), 1 for a normal time (out[0]), 2 when ambiguous (fall back;
 * out[0] < out[1]). */
int weft_tz_from_local(const struct weft_tz *tz, const struct tm *local, int64_t out[2]);

/* Helpers on the proleptic Gregorian calendar, independent of any zone. */
int64_t weft_tz_days_from_civil(int64_t y, int m,
                                int d); /* m 1-12; days since 1970-01-01 */
void weft_tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Internal, for cron.c: the UTC offset in effect at t (seconds east), and
 * the instants where the offset changes. next: first change T > t, or
 * INT64_MAX (also when T > limit); prev: last change T <= t, or INT64_MIN
 * (also when T < limit). */
int32_t weft__tz_offset(const struct weft_tz *tz, int64_t t);
int64_t weft__tz_next_change(const struct weft_tz *tz, int64_t t, int64_t limit);
int64_t weft__tz_prev_change(const struct weft_tz *tz, int64_t t, int64_t limit);

#endif
