/* code_snapshot_bench.c: how long a location's code version and snapshot
 * take (engine/code_snapshot.h): the hash alone, a new snapshot (copy, hash,
 * sync, rename), a launch whose version exists (hash and touch), and loading
 * the location back from its snapshot (what a coordinator does). With
 * --ship, how long its trip to a worker takes (engine/code_ship.h): publish
 * (pack, put), a worker's first fetch (get, unpack, verify, seal) and the
 * cache's cost per step once it holds the version.
 * Usage: bench_code_snapshot SCRATCH N LOCATION...  (medians of N)
 *        bench_code_snapshot --ship SCRATCH N STORE_URL LOCATION */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/code_ship.h"
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

/* Publish and first fetch of src's snapshot through the store at url,
 * each of n times from scratch; then the cache hit per step: a version
 * another step of this worker holds (in-process), and one nobody holds (a
 * lock file opened and locked, the folder checked and touched). */
static int bench_ship(const char *scratch, const char *url, const char *src, int n) {
  double *t = calloc((size_t)n * 2, sizeof *t);
  char v[WEFT_CODE_VERSION_LEN + 1];
  char *home = weft_str_printf("%s/ship-home", scratch), *code = NULL, *dir = NULL;
  char *key = NULL, *cache = NULL;
  struct weft_artifacts *a = NULL;
  struct weft_code_cache *c = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int64_t size = 0;
  int rc = 1, exists = 0, uploaded = 0, fetched = 0;
  enum { HITS = 20000 };
  if (!t || !home || weft_fs_remove_tree(home, &err) || weft_fs_mkdirs(home, &err) ||
      weft_code_snapshot(home, src, v, &dir, &err) || weft_artifacts_open(url, &a, &err))
    goto fail;
  code = weft_fs_join(home, "code");
  key = weft_code_archive_key(v);
  for (int i = 0; i < n; i++) {
    const char *path = NULL;
    if (weft_artifacts_delete(a, key, &err)) goto fail;
    double t0 = now_ms();
    if (weft_code_publish(a, dir, v, code, &uploaded, &err)) goto fail;
    t[i] = now_ms() - t0;
    free(cache);
    cache = weft_str_printf("%s/cache%d", scratch, i);
    if (!cache || weft_code_remove(cache, &err) || weft_code_cache_open(cache, 0, &c, &err))
      goto fail;
    t0 = now_ms();
    if (weft_code_cache_acquire(c, a, v, &path, &fetched, &err)) goto fail;
    t[n + i] = now_ms() - t0;
    weft_code_cache_release(c, v);
    if (i < n - 1) {
      weft_code_cache_close(c);
      c = NULL;
      if (weft_code_remove(cache, &err)) goto fail;
    }
  }
  if (weft_artifacts_head(a, key, &exists, &size, &err)) goto fail;
  const char *path = NULL, *held = NULL;
  if (weft_code_cache_acquire(c, a, v, &held, NULL, &err)) goto fail;
  double t0 = now_ms();
  for (int i = 0; i < HITS; i++) {
    if (weft_code_cache_acquire(c, a, v, &path, NULL, &err)) goto fail;
    weft_code_cache_release(c, v);
  }
  double held_us = (now_ms() - t0) * 1000 / HITS;
  weft_code_cache_release(c, v);
  t0 = now_ms();
  for (int i = 0; i < HITS; i++) {
    if (weft_code_cache_acquire(c, a, v, &path, NULL, &err)) goto fail;
    weft_code_cache_release(c, v);
  }
  double free_us = (now_ms() - t0) * 1000 / HITS;
  printf("%s -> %s\n  publish (pack, put) %.2f ms for a %.1f KiB archive, first fetch "
         "(get, unpack, verify, seal) %.2f ms (medians of %d)\n"
         "  cache hit per step: %.2f us (version held by a running step), %.2f us "
         "(version idle: lock, check, touch)\n",
         src, url, median(t, n), (double)size / 1024, median(t + n, n), n, held_us, free_us);
  rc = 0;
  goto done;
fail:
  fprintf(stderr, "bench_code_snapshot --ship: %s: %s\n", src, err.msg);
done:
  weft_code_cache_close(c);
  weft_artifacts_close(a);
  if (cache) weft_code_remove(cache, &err);
  if (home) weft_fs_remove_tree(home, &err);
  free(cache);
  free(key);
  free(code);
  free(dir);
  free(home);
  free(t);
  return rc;
}

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "--ship")) {
    int n = atoi(argv[3]);
    return bench_ship(argv[2], argv[4], argv[5], n < 1 ? 1 : n);
  }
  if (argc < 4) {
    fprintf(stderr, "usage: bench_code_snapshot SCRATCH N LOCATION...\n"
                    "       bench_code_snapshot --ship SCRATCH N STORE_URL LOCATION\n");
    return 2;
  }
  int n = atoi(argv[2]), rc = 0;
  if (n < 1) n = 1;
  for (int i = 3; i < argc; i++) rc |= bench(argv[1], argv[i], n);
  return rc;
}
