/* cron.h: 5-field cron expressions (Vixie syntax and semantics) and their next
 * fire time in an IANA zone with correct DST handling. No global state. */
#ifndef WEFT_UTIL_CRON_H
#define WEFT_UTIL_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "util/tz.h"
#include "weft.h"

struct weft_cron; /* immutable once parsed; shareable across threads */

/* 5 fields (minute hour day-of-month month day-of-week) with lists, ranges,
 * steps (*\/15, 1-10/2), month names JAN-DEC and day names SUN-SAT
 * (case-insensitive), 0 or 7 = Sunday, and the macros @hourly @daily
 * @midnight @weekly @monthly @yearly @annually. Standard Vixie semantics:
 * when both day-of-month and day-of-week are restricted, a day matches if
 * EITHER matches. On error returns WEFT_EINVALID, err names the field and the
 * problem ("cron: hour field: 25 is out of range 0-23"), and *bad_offset (may
 * be NULL) is the 0-based byte offset in expr where the bad field/token
 * starts, so the YAML loader can report file:line:col (with too few fields
 * it is the end of the trimmed text). Also accepted: "N/S" = N-max/S, and a
 * day-of-week range ending in SUN (FRI-SUN). Vixie: a day field counts as
 * unrestricted for the OR rule when it starts with '*' (so "*\/2" too).
 * Caller frees with weft_cron_free; *out is NULL on failure. */
int weft_cron_parse(const char *expr, struct weft_cron **out, size_t *bad_offset,
                    weft_error *err);
void weft_cron_free(struct weft_cron *c); /* NULL is a no-op */

/* The first fire time strictly after after_s (UTC seconds), evaluated in tz's
 * local wall time; -1 when none within 10 years (e.g. "0 0 30 2 *").
 * DST rules (Vixie cron / Dagster): a matching local time inside a
 * spring-forward gap fires once at the instant the gap ends (several matches
 * inside one gap collapse into one fire, and coincide with a match at the end
 * instant); an ambiguous local time (fall back) fires only at its FIRST
 * occurrence, except when the hour field is '*' (every hour), which then
 * fires at both occurrences. */
int64_t weft_cron_next(const struct weft_cron *c, const struct weft_tz *tz,
                       int64_t after_s);

/* Normalised text of the expression, for display (owned by c). */
const char *weft_cron_text(const struct weft_cron *c);

#endif
