/* test_race.h: a server restart raced by openers that loop from before it
 * until after it, for the tests of opening a store or broker across a restart. */
#ifndef WEFT_TEST_RACE_H
#define WEFT_TEST_RACE_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"
#include "weft.h"

/* One open (and whatever use proves it) of the thing under test. Returns
 * WEFT_OK or an error in err; *ms gets how long the open took. */
typedef int (*race_open_fn)(weft_error *err, int64_t *ms);

struct race {
  race_open_fn open;
  const char *timeout_env;  /* the open's bound, e.g. WEFT_PG_CONNECT_TIMEOUT_S */
  const char *wait_s;       /* waiting openers' bound: generous, restarts are slow under load */
  const char *restart_env;  /* the variable holding the restart command */
  const char *secret;       /* must never appear in a message (NULL: none) */
  int openers;              /* waiting openers; one prober more */
};

/* Runs the command in restart_env; 0 when it succeeded. */
static inline int race_restart_cmd(const struct race *r) {
  fflush(NULL);
  int st = system(getenv(r->restart_env));
  if (st != 0) fprintf(stderr, "# restart command failed (%d)\n", st);
  return st == 0 ? 0 : 1;
}

/* An opener opens again and again until stop is readable. A waiting one
 * (bound r->wait_s) must never fail: it exits 0 when it met the server
 * down and waited, 2 when it never did, 1 when an open failed. A prober
 * (bound 0: one attempt per open) must fail while the server is down,
 * always with the one message shape "cannot connect after 1 attempt over T
 * s: WHY": it exits 0 when it saw such failures, 2 when none, 1 when a
 * failure had another shape. It dies with the test. */
static inline int race_opener(const struct race *r, int id, int probe, int stop) {
  weft_error err = WEFT_ERROR_INIT;
  int64_t slowest = 0, give_up = weft_clock_mono_ms() + (atoi(r->wait_s) + 60) * 1000LL;
  int opens = 0, refused = 0;
  struct pollfd pfd = {.fd = stop, .events = POLLIN};
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (setenv(r->timeout_env, probe ? "0" : r->wait_s, 1)) return 1;
  while (poll(&pfd, 1, 0) == 0 && weft_clock_mono_ms() < give_up) {
    int64_t ms = 0;
    int rc = r->open(&err, &ms);
    if (rc && probe) {
      if (!refused++) fprintf(stderr, "# prober: seen down: %s\n", err.msg);
      if (!strstr(err.msg, "cannot connect after 1 attempt over ") ||
          (r->secret && strstr(err.msg, r->secret))) {
        fprintf(stderr, "# prober: a failure of another shape: %s\n", err.msg);
        return 1;
      }
      weft_clock_sleep_ms(10);
      continue;
    }
    if (rc) {
      fprintf(stderr, "# opener %d: open %d failed after %lld ms: %s\n", id, opens,
              (long long)ms, err.msg);
      return 1;
    }
    opens++;
    if (ms > slowest) slowest = ms;
  }
  if (probe) {
    fprintf(stderr, "# prober: %d opens, %d refused while the server was down\n", opens,
            refused);
    return refused ? 0 : 2;
  }
  fprintf(stderr, "# opener %d: %d opens; the slowest waited %lld ms\n", id, opens,
          (long long)slowest);
  return slowest >= 300 ? 0 : 2;
}

/* The race: r->openers waiting openers and a prober loop from before a
 * restart until after it, so that opens meet the server at every stage of
 * going down and coming up. The restart is always waited for, whatever
 * happens. 0 when the restart succeeded, no waiting open failed, some
 * waiting open met the server down and waited, and the prober saw
 * one-attempt failures of the right shape. */
static inline int race_restart(const struct race *r) {
  enum { MAX = 16 };
  pid_t pid[MAX + 1], ctl;
  int n = r->openers + 1, stop[2], rc = 0, met_down = 0, probe_rc = -1, st = 0;
  if (n > MAX + 1) return 1;
  /* close-on-exec: a server the restart starts must not hold it open */
  if (pipe2(stop, O_CLOEXEC)) return 1;
  fflush(NULL);
  for (int i = 0; i < n; i++) {
    pid[i] = fork();
    if (pid[i] == 0) {
      close(stop[1]);
      _exit(race_opener(r, i, i == n - 1, stop[0]));
    }
  }
  close(stop[0]);
  weft_clock_sleep_ms(300); /* the openers are at work before the restart */
  ctl = fork();
  if (ctl == 0) _exit(race_restart_cmd(r));
  if (ctl < 0 || waitpid(ctl, &st, 0) != ctl || !WIFEXITED(st) || WEXITSTATUS(st)) {
    fprintf(stderr, "# the restart failed\n");
    rc = 1;
  }
  weft_clock_sleep_ms(300);
  close(stop[1]); /* the openers finish their open and stop */
  for (int i = 0; i < n; i++) {
    if (pid[i] < 0 || waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st)) {
      rc = 1;
      continue;
    }
    if (i == n - 1) probe_rc = WEXITSTATUS(st);
    else if (WEXITSTATUS(st) == 0) met_down++;
    else if (WEXITSTATUS(st) == 1) rc = 1;
  }
  if (!met_down) fprintf(stderr, "# no waiting open met the server down\n");
  if (probe_rc) fprintf(stderr, "# the prober ended with %d\n", probe_rc);
  return rc || !met_down || probe_rc != 0;
}

/* A loopback port nobody listens on (bound, never listened, closed:
 * connections to it are refused); -1 on failure. */
static inline int race_refused_port(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
  if (fd < 0) return -1;
  if (!bind(fd, (struct sockaddr *)&a, sizeof a) &&
      !getsockname(fd, (struct sockaddr *)&a, &len))
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

#endif
