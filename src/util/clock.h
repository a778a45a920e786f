/* clock.h: wall and monotonic time in milliseconds, and ISO-8601 formatting.
 * The engine and scheduler take time only from here so tests can reason about it. */
#ifndef WEFT_UTIL_CLOCK_H
#define WEFT_UTIL_CLOCK_H

#include <stdint.h>

int64_t weft_clock_wall_ms(void);      /* milliseconds since the Unix epoch */
int64_t weft_clock_mono_ms(void);      /* monotonic, for durations and timeouts */
double weft_clock_mono_s(void);        /* monotonic seconds, sub-ms precision */
/* Formats ms since the epoch as "2026-01-02T03:04:05.678Z" into out (>= 25 bytes). */
void weft_clock_format_iso(int64_t wall_ms, char *out, int outlen);
void weft_clock_sleep_ms(int64_t ms);

#endif
