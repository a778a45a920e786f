/* orphan_procs.c: finds the processes of a run whose coordinator died, by
 * the WEFT_RUN_ID every step process (and what it starts) carries. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "engine/engine_int.h"

/* Whether the NUL-separated environment in env[0..n) holds want. */
static int environ_has(const char *env, size_t n, const char *want) {
  size_t len = strlen(want);
  for (size_t at = 0; at < n;) {
    const char *e = env + at;
    size_t el = strnlen(e, n - at);
    if (el == len && !memcmp(e, want, len)) return 1;
    at += el + 1;
  }
  return 0;
}

/* The step rows tell which process groups to kill, but a coordinator
 * killed between starting a step and writing its row (rows go in
 * batches) leaves a step no row names. Every step process gets
 * WEFT_RUN_ID=ID in its environment and passes it on to what it starts,
 * so /proc finds them all, grandchildren included. */
int weft__kill_run_procs(const char *run_id) {
  char want[96];
  if (!run_id || snprintf(want, sizeof want, "WEFT_RUN_ID=%s", run_id) >= (int)sizeof want)
    return 0;
  DIR *d = opendir("/proc");
  if (!d) return 0;
  pid_t self = getpid();
  int killed = 0;
  /* A container step's processes carry the run id too, in a PID namespace
   * of their own: the engine stops those (the sweep removes the run's
   * containers by label), and killing them under it would leave their
   * container behind, exited. */
  char my_ns[64] = "", ns[64], path[64];
  ssize_t nl = readlink("/proc/self/ns/pid", my_ns, sizeof my_ns - 1);
  if (nl > 0) my_ns[nl] = '\0';
  size_t cap = 64 * 1024;
  char *env = malloc(cap);
  struct dirent *de;
  while (env && (de = readdir(d))) {
    char *end = NULL;
    long pid = strtol(de->d_name, &end, 10);
    if (pid <= 1 || *end || (pid_t)pid == self) continue;
    snprintf(path, sizeof path, "/proc/%ld/ns/pid", pid);
    nl = readlink(path, ns, sizeof ns - 1);
    if (nl <= 0) continue; /* gone, or not ours */
    ns[nl] = '\0';
    if (*my_ns && strcmp(ns, my_ns)) continue;
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue; /* gone, or not ours to read (nor to kill) */
    /* The whole environment: the protocol's variables come last. */
    size_t n = 0;
    for (ssize_t got = 1; got > 0;) {
      if (n == cap) {
        char *bigger = cap < (16u << 20) ? realloc(env, cap * 2) : NULL;
        if (!bigger) break;
        env = bigger;
        cap *= 2;
      }
      got = read(fd, env + n, cap - n);
      if (got > 0) n += (size_t)got;
    }
    close(fd);
    if (n > 0 && environ_has(env, n, want) && !kill((pid_t)pid, SIGKILL)) killed++;
  }
  free(env);
  closedir(d);
  return killed;
}
