/* code_snapshot_bench.c: how long a location's code version and snapshot
 * take (engine/code_snapshot.h): the hash alone, a new snapshot (copy, hash,
 * sync, rename), a launch whose version exists (hash and touch), and loading
 * the location back from its snapshot (what a coordinator does).
 * Usage: bench_code_snapshot SCRATCH N LOCATION...  (medians of N) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/code_snapshot.h"
#include "util/fs.h"
#include "util/str.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

static int bench(const char *scratch, const char *src, int n) {
  double *t = calloc((size_t)n * 4, sizeof *t);
  char v[WEFT_CODE_VERSION_LEN + 1];
  weft_error err = WEFT_ERROR_INIT;
  int rc = 1;
  if (!t) return 1;
  for (int i = 0; i < n; i++) {
    char *home = weft_str_printf("%s/home%d", scratch, i), *dir = NULL;
    struct weft_location *loc = NULL;
    if (!home || weft_fs_remove_tree(home, &err) || weft_fs_mkdirs(home, &err)) goto fail;
    double t0 = now_ms();
    if (weft_code_version(src, NULL, v, &err)) goto fail;
    t[i] = now_ms() - t0;
    t0 = now_ms();
    if (weft_code_snapshot(home, src, v, &dir, &err)) goto fail;
    t[n + i] = now_ms() - t0;
    free(dir);
    t0 = now_ms();
    if (weft_code_snapshot(home, src, v, &dir, &err)) goto fail;
    t[2 * n + i] = now_ms() - t0;
    t0 = now_ms();
    if (weft_location_load(dir, "bench", &loc, &err)) goto fail;
    t[3 * n + i] = now_ms() - t0;
    weft_location_free(loc);
    free(dir);
    weft_fs_remove_tree(home, &err);
    free(home);
    continue;
  fail:
    fprintf(stderr, "bench_code_snapshot: %s: %s\n", src, err.msg);
    free(home);
    goto done;
  }
  printf("%s\n  hash %.2f ms, new snapshot %.2f ms, existing version %.2f ms, "
         "load from the snapshot %.2f ms (medians of %d)\n",
         src, median(t, n), median(t + n, n), median(t + 2 * n, n), median(t + 3 * n, n), n);
  rc = 0;
done:
  free(t);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_code_snapshot SCRATCH N LOCATION...\n");
    return 2;
  }
  int n = atoi(argv[2]), rc = 0;
  if (n < 1) n = 1;
  for (int i = 3; i < argc; i++) rc |= bench(argv[1], argv[i], n);
  return rc;
}
