/* retention_bench.c: the store side of bench/retention/run.sh, through the
 * store API (src/store/store.h) as weft itself writes:
 *   fill URL RUNS EVENTS_PER_RUN ENDED_MS   RUNS finished runs (success,
 *       ended at ENDED_MS), each with EVENTS_PER_RUN log events appended in
 *       batches of 500, as coordinators do
 *   commits URL STOP_FILE                   a live run appending one event
 *       per transaction until STOP_FILE exists (at least 1 s); prints
 *       "commits N p50_ms X p99_ms Y max_ms Z" */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static char *new_run(struct weft_store *s, enum weft_run_status st, int64_t ended,
                     weft_error *err) {
  struct weft_run_row r = {0};
  r.id = weft_store_new_run_id();
  r.job = "bench";
  r.status = st;
  r.created_ms = ended ? ended - 1000 : 0;
  r.started_ms = r.created_ms;
  r.ended_ms = ended;
  if (!r.id || weft_store_run_create(s, &r, err) || weft_store_run_update(s, &r, err)) {
    free(r.id);
    return NULL;
  }
  return r.id;
}

static int fill(struct weft_store *s, long runs, long per_run, int64_t ended, weft_error *err) {
  struct weft_event_row *ev = calloc(500, sizeof *ev);
  if (!ev) return 1;
  for (long i = 0; i < runs; i++) {
    char *id = new_run(s, WEFT_RUN_SUCCESS, ended + i, err);
    if (!id) return 1;
    for (long done = 0; done < per_run;) {
      size_t n = per_run - done > 500 ? 500 : (size_t)(per_run - done);
      for (size_t k = 0; k < n; k++)
        ev[k] = (struct weft_event_row){.run_id = id, .step = "work", .type = "log",
                                        .payload = "{\"level\":\"info\",\"msg\":\"a line of the "
                                                   "step's log, as long as many are\"}"};
      if (weft_store_event_append(s, ev, n, err)) return 1;
      done += (long)n;
    }
    free(id);
  }
  free(ev);
  return 0;
}

static int commits(struct weft_store *s, const char *stop, weft_error *err) {
  char *id = new_run(s, WEFT_RUN_STARTED, 0, err);
  size_t n = 0, cap = 1 << 16;
  double *lat = malloc(cap * sizeof *lat), t0 = now_ms();
  if (!id || !lat) return 1;
  while (access(stop, F_OK) != 0 || now_ms() - t0 < 1000) {
    struct weft_event_row e = {.run_id = id, .step = "live", .type = "log",
                               .payload = "{\"level\":\"info\",\"msg\":\"live\"}"};
    double a = now_ms();
    if (weft_store_event_append(s, &e, 1, err)) return 1;
    if (n == cap && !(lat = realloc(lat, (cap *= 2) * sizeof *lat))) return 1;
    lat[n++] = now_ms() - a;
  }
  qsort(lat, n, sizeof *lat, cmp);
  printf("commits %zu p50_ms %.2f p99_ms %.2f max_ms %.2f\n", n, lat[n / 2],
         lat[(size_t)(n * 0.99)], lat[n - 1]);
  free(lat);
  free(id);
  return 0;
}

int main(int argc, char **argv) {
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int rc = 2;
  if (argc < 3 || weft_store_open(argv[2], &s, &err)) {
    fprintf(stderr, "retention_bench: %s\n", argc < 3 ? "usage: fill|commits URL ..." : err.msg);
    return 2;
  }
  if (!strcmp(argv[1], "fill") && argc == 6)
    rc = fill(s, atol(argv[3]), atol(argv[4]), atoll(argv[5]), &err);
  else if (!strcmp(argv[1], "commits") && argc == 4)
    rc = commits(s, argv[3], &err);
  if (rc == 1) fprintf(stderr, "retention_bench: %s\n", err.msg);
  weft_store_close(s);
  return rc;
}
