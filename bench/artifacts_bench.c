/* artifacts_bench.c: the artifact store benchmark's driver (bench/artifacts
 * builds and runs it): per store, 1,000 small outputs put then got, and one
 * large (sparse) output put then got; throughput and peak memory, side by side.
 *
 * Usage: artifacts_bench [--small N] [--large-mib N] NAME=URL...
 * Each store runs in a child process of its own, so its peak RSS is its own. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "util/clock.h"
#include "util/fs.h"

#define MAX_STORES 4

struct result {
  double small_put_s, small_get_s, large_put_s, large_get_s;
  long peak_kb;
  int failed;
};

static long hwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

static double now_s(void) { return weft_clock_mono_s(); }

static int bench(const char *url, const char *dir, int small, long large_mib,
                 struct result *r) {
  struct weft_artifacts *a = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char in[512], out[512], key[128];
  if (weft_artifacts_open(url, &a, &err)) goto fail;
  snprintf(in, sizeof in, "%s/small", dir);
  if (weft_fs_write_atomic(in, "{\"value\": 42}\n", 14, 0, &err)) goto fail;
  double t = now_s();
  for (int i = 0; i < small; i++) {
    snprintf(key, sizeof key, "bench/step%04d/result", i);
    if (weft_artifacts_put(a, key, in, &err)) goto fail;
  }
  r->small_put_s = now_s() - t;
  t = now_s();
  for (int i = 0; i < small; i++) {
    snprintf(key, sizeof key, "bench/step%04d/result", i);
    snprintf(out, sizeof out, "%s/got", dir);
    if (weft_artifacts_get(a, key, out, &err)) goto fail;
  }
  r->small_get_s = now_s() - t;
  snprintf(in, sizeof in, "%s/large", dir);
  int fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, (off_t)large_mib << 20) || pwrite(fd, "x", 1, 12345) != 1) {
    weft_error_set(&err, WEFT_EIO, "cannot make %s", in);
    goto fail;
  }
  close(fd);
  t = now_s();
  if (weft_artifacts_put(a, "bench/large/result", in, &err)) goto fail;
  r->large_put_s = now_s() - t;
  snprintf(out, sizeof out, "%s/large.got", dir);
  t = now_s();
  if (weft_artifacts_get(a, "bench/large/result", out, &err)) goto fail;
  r->large_get_s = now_s() - t;
  unlink(out);
  unlink(in);
  r->peak_kb = hwm_kb();
  weft_artifacts_close(a);
  return 0;
fail:
  fprintf(stderr, "artifacts_bench: %s: %s\n", url, err.msg);
  weft_artifacts_close(a);
  return 1;
}

int main(int argc, char **argv) {
  int small = 1000, n = 0;
  long large_mib = 1024;
  const char *names[MAX_STORES], *urls[MAX_STORES];
  struct result res[MAX_STORES];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--small") && i + 1 < argc) small = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--large-mib") && i + 1 < argc) large_mib = atol(argv[++i]);
    else if (strchr(argv[i], '=') && n < MAX_STORES) {
      char *eq = strchr(argv[i], '=');
      *eq = 0;
      names[n] = argv[i];
      urls[n++] = eq + 1;
    } else {
      fprintf(stderr, "usage: artifacts_bench [--small N] [--large-mib N] NAME=URL...\n");
      return 2;
    }
  }
  for (int s = 0; s < n; s++) {
    char dir[] = "/tmp/weft-bench-art-XXXXXX";
    int pipefd[2];
    if (!mkdtemp(dir) || pipe(pipefd)) return 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) { /* its own process: its own peak RSS */
      struct result r = {0};
      r.failed = bench(urls[s], dir, small, large_mib, &r);
      if (write(pipefd[1], &r, sizeof r) != (ssize_t)sizeof r) _exit(1);
      _exit(0);
    }
    close(pipefd[1]);
    memset(&res[s], 0, sizeof res[s]);
    if (read(pipefd[0], &res[s], sizeof res[s]) != (ssize_t)sizeof res[s]) res[s].failed = 1;
    close(pipefd[0]);
    waitpid(pid, NULL, 0);
    weft_fs_remove_tree(dir, NULL);
  }
  printf("%-34s", "metric");
  for (int s = 0; s < n; s++) printf(" %14s", names[s]);
  printf("\n");
#define ROW(label, expr)                                          \
  do {                                                            \
    printf("%-34s", label);                                       \
    for (int s = 0; s < n; s++) {                                 \
      struct result *r = &res[s];                                 \
      if (r->failed) printf(" %14s", "FAILED");                   \
      else printf(" %14.1f", (double)(expr));                     \
    }                                                             \
    printf("\n");                                                 \
  } while (0)
  char label[64];
  snprintf(label, sizeof label, "put %d small outputs (/s)", small);
  ROW(label, small / r->small_put_s);
  snprintf(label, sizeof label, "get %d small outputs (/s)", small);
  ROW(label, small / r->small_get_s);
  snprintf(label, sizeof label, "put %ld MiB output (MiB/s)", large_mib);
  ROW(label, large_mib / r->large_put_s);
  snprintf(label, sizeof label, "get %ld MiB output (MiB/s)", large_mib);
  ROW(label, large_mib / r->large_get_s);
  ROW("peak RSS (MiB)", r->peak_kb / 1024.0);
  int over = 0;
  for (int s = 0; s < n; s++) over |= res[s].failed || res[s].peak_kb >= 64 * 1024;
  printf("\ntarget: peak RSS < 64 MiB for every store: %s\n", over ? "MISSED" : "met");
  return over;
}
