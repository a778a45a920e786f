/* fuzz_cron.c: libFuzzer harness for cron expressions (src/util/cron.c), as
 * schedules' `cron:` fields give them: any text through weft_cron_parse;
 * a parsed one's next fire times in UTC and in a zone with DST.
 *
 * What must hold: a refusal points inside the text; a parsed expression's
 * normalised text parses again to the same schedule; each next fire time is
 * later than the one asked after (or -1: none within 10 years). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/cron.h"
#include "util/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 512) return 0; /* schedules are one line */
  char *expr = malloc(size + 1);
  if (!expr) return 0;
  memcpy(expr, data, size);
  expr[size] = '\0';
  struct weft_cron *c = NULL, *again = NULL;
  size_t bad = 0;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_cron_parse(expr, &c, &bad, &err) != WEFT_OK) {
    if (c || bad > strlen(expr) || !err.msg[0]) abort();
    free(expr);
    return 0;
  }
  if (weft_cron_parse(weft_cron_text(c), &again, NULL, &err) != WEFT_OK) abort();
  const struct weft_tz *zones[2] = {NULL, NULL};
  (void)weft_tz_get("UTC", &zones[0], &err);
  (void)weft_tz_get("Europe/Amsterdam", &zones[1], &err); /* DST both ways */
  /* 2024-03-31 00:30 UTC, just before Amsterdam's spring-forward gap. */
  int64_t after = 1711845000;
  for (int z = 0; z < 2; z++) {
    if (!zones[z]) continue;
    int64_t t = after;
    for (int i = 0; i < 3 && t >= 0; i++) {
      int64_t next = weft_cron_next(c, zones[z], t);
      if (next != -1 && next <= t) abort();
      if (next != weft_cron_next(again, zones[z], t)) abort();
      t = next;
    }
  }
  weft_cron_free(again);
  weft_cron_free(c);
  free(expr);
  return 0;
}
