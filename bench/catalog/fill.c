/* fill.c: fills a store with ASSETS assets and MATS materializations (as
 * steps report them: events, which the trigger copies into the catalog's
 * tables), for bench/catalog/run. Runs of RUN_EVENTS materializations each,
 * asset i of event n = n % ASSETS, every 10th with a partition.
 * Usage: bench_catalog_fill STORE_URL ASSETS MATS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

#define RUN_EVENTS 1000
#define BATCH 500

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: bench_catalog_fill STORE_URL ASSETS MATS\n");
    return 2;
  }
  long assets = atol(argv[2]), mats = atol(argv[3]);
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_open(argv[1], &s, &err)) {
    fprintf(stderr, "open: %s\n", err.msg);
    return 1;
  }
  static struct weft_event_row ev[BATCH];
  static char payload[BATCH][160];
  double t0 = now_s();
  int64_t ts = (int64_t)time(NULL) * 1000 - mats;
  for (long n = 0; n < mats;) {
    struct weft_run_row r = {0};
    r.id = weft_store_new_run_id();
    r.job = "bench";
    r.status = WEFT_RUN_SUCCESS;
    r.created_ms = ts + n;
    r.code_version = "0123456789abcdef";
    if (weft_store_run_create(s, &r, &err)) goto fail;
    for (long k = 0; k < RUN_EVENTS && n < mats;) {
      size_t b = 0;
      for (; b < BATCH && k < RUN_EVENTS && n < mats; b++, k++, n++) {
        long a = n % assets;
        if (n % 10 == 0)
          snprintf(payload[b], sizeof payload[b],
                   "{\"asset\":\"asset_%05ld\",\"partition\":\"p%03ld\",\"metadata\":{\"rows\":%ld}}",
                   a, (n / assets) % 1000, n);
        else
          snprintf(payload[b], sizeof payload[b],
                   "{\"asset\":\"asset_%05ld\",\"metadata\":{\"rows\":%ld,\"bytes\":%ld}}", a, n,
                   n * 8);
        ev[b] = (struct weft_event_row){.run_id = r.id, .step = "s", .type = "materialization",
                                        .ts_ms = ts + n, .payload = payload[b]};
      }
      if (weft_store_event_append(s, ev, b, &err)) goto fail;
    }
    free(r.id);
  }
  printf("filled %ld materializations of %ld assets in %.1f s\n", mats, assets, now_s() - t0);
  weft_store_close(s);
  return 0;
fail:
  fprintf(stderr, "fill: %s\n", err.msg);
  weft_store_close(s);
  return 1;
}
