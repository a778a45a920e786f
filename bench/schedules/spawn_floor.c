/* spawn_floor.c: the floor under "tick -> first step" for steps that are
 * processes: no orchestrator at all, one loop posix_spawning N `sh -c true`.
 * Prints the ms at which the median and the last spawn returned. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  pid_t *pids = n > 0 ? calloc((size_t)n, sizeof *pids) : NULL;
  char *args[] = {"/bin/sh", "-c", "true", NULL};
  if (!pids) return 2;
  double t0 = now_ms(), median = 0;
  for (int i = 0; i < n; i++) {
    if (posix_spawn(&pids[i], "/bin/sh", NULL, NULL, args, environ)) return 1;
    if (i == (n - 1) / 2) median = now_ms() - t0;
  }
  double last = now_ms() - t0;
  for (int i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
  printf("%.0f %.0f\n", median, last);
  free(pids);
  return 0;
}
