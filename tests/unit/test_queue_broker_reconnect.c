/* test_queue_broker_reconnect.c: opening a RabbitMQ connection waits for a
 * broker that restarts, at whatever stage the restart meets it, and fails
 * at once for a refused login or vhost. Skipped unless WEFT_TEST_AMQP_URL
 * and WEFT_TEST_AMQP_CTL (a command restarting that node) are set, except
 * the case that needs no broker. */
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

#include "queue/broker.h"
/* A RabbitMQ restart takes 5 s on a quiet machine and 30 s or more on a
 * loaded one: each test may take up to 3 minutes. */
#define TEST_TIMEOUT_S 180
#include "test.h"
#include "util/clock.h"

#define SKIP_UNLESS_CONFIGURED()                                                  \
  do {                                                                            \
    const char *u_ = getenv("WEFT_TEST_AMQP_URL"), *c_ = getenv("WEFT_TEST_AMQP_CTL"); \
    if (!u_ || !*u_ || !c_ || !*c_) {                                             \
      fprintf(stderr, "# skipped: WEFT_TEST_AMQP_URL or WEFT_TEST_AMQP_CTL is not set\n"); \
      return 0;                                                                   \
    }                                                                             \
  } while (0)

static int restart_broker(void) {
  fflush(NULL);
  int st = system(getenv("WEFT_TEST_AMQP_CTL"));
  if (st != 0) fprintf(stderr, "# restart command failed (%d)\n", st);
  return st == 0 ? 0 : 1;
}

/* Waits for the restart child, whatever the test's outcome: the next test
 * must not meet a node half restarted. 0 when it succeeded. */
static int reap(pid_t *ctl) {
  int st = 0;
  if (*ctl <= 0) return 0;
  pid_t w = waitpid(*ctl, &st, 0);
  *ctl = 0;
  return w > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* Opens url and declares a queue (a channel in use, not only a socket);
 * *ms gets how long the open took. A connection opened just before the
 * node went down may be lost by the declare: that is what
 * weft_broker_ensure is for, not a failed open, so *lost says so and the
 * call succeeds. */
static int open_timed_lost(const char *url, struct weft_broker **b, weft_error *err,
                           int64_t *ms, int *lost) {
  int64_t t0 = weft_clock_mono_ms();
  int rc = weft_broker_open(url, b, err);
  *ms = weft_clock_mono_ms() - t0;
  if (rc) return rc;
  rc = weft_broker_declare_step_queue(*b, "reconnect_test", err);
  if (rc && lost && weft_broker_broken(*b)) {
    (*lost)++;
    rc = WEFT_OK;
  }
  return rc;
}

static int open_timed(const char *url, struct weft_broker **b, weft_error *err, int64_t *ms) {
  return open_timed_lost(url, b, err, ms, NULL);
}

/* An opener: opens and uses a connection, again and again, until stop is
 * readable. A waiting opener (bound 120 s: a node restarts slowly on a
 * loaded machine) must never fail: it exits 0 when it met the node down and
 * waited, 2 when it never did, 1 when an open failed. A prober (one attempt
 * per open) must fail while the node is down, always with the one message
 * shape: it exits 0 when it saw such failures, 2 when it saw none, 1 on a
 * message of another shape. */
static int opener(int id, int probe, int stop) {
  const char *url = getenv("WEFT_TEST_AMQP_URL");
  weft_error err = WEFT_ERROR_INIT;
  int64_t slowest = 0, give_up = weft_clock_mono_ms() + 170000;
  int opens = 0, lost = 0, refused = 0;
  struct pollfd pfd = {.fd = stop, .events = POLLIN};
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
  if (setenv("WEFT_AMQP_CONNECT_TIMEOUT_S", probe ? "0" : "120", 1)) return 1;
  while (poll(&pfd, 1, 0) == 0 && weft_clock_mono_ms() < give_up) {
    struct weft_broker *b = NULL;
    int64_t ms = 0;
    int rc = open_timed_lost(url, &b, &err, &ms, &lost);
    weft_broker_close(b);
    if (rc && probe) {
      if (!refused++) fprintf(stderr, "# prober: seen down: %s\n", err.msg);
      if (!strstr(err.msg, "cannot connect after 1 attempt over ") ||
          strstr(err.msg, ":guest@")) {
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
    fprintf(stderr, "# prober: %d opens, %d refused while the node was down\n", opens, refused);
    return refused ? 0 : 2;
  }
  fprintf(stderr, "# opener %d: %d opens (%d lost after opening); the slowest waited %lld ms\n",
          id, opens, lost, (long long)slowest);
  return slowest >= 300 ? 0 : 2;
}

/* Three waiting openers and a prober loop from before a restart until
 * after it, so that opens meet the node refusing, closing during the
 * handshake or the login, or forcing the connection closed (320) as it
 * stops: no waiting open may fail, and one-attempt opens fail with the
 * message "cannot connect after 1 attempt over T s: WHY". */
TEST(open_races_restart) {
  SKIP_UNLESS_CONFIGURED();
  enum { OPENERS = 4 }; /* the last one probes */
  pid_t pid[OPENERS], ctl = 0;
  int stop[2], rc = 0, met_down = 0, probe_rc = -1;
  /* close-on-exec: a server the restart starts must not hold it open */
  ASSERT_EQ(pipe2(stop, O_CLOEXEC), 0);
  fflush(NULL);
  for (int i = 0; i < OPENERS; i++) {
    pid[i] = fork();
    if (pid[i] == 0) {
      close(stop[1]);
      _exit(opener(i, i == OPENERS - 1, stop[0]));
    }
  }
  close(stop[0]);
  weft_clock_sleep_ms(300);
  ctl = fork();
  if (ctl == 0) _exit(restart_broker());
  if (ctl < 0) rc = 1;
  rc |= reap(&ctl);
  weft_clock_sleep_ms(300);
  close(stop[1]);
  for (int i = 0; i < OPENERS; i++) {
    int st = 0;
    if (pid[i] < 0 || waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st)) {
      rc = 1;
      continue;
    }
    if (i == OPENERS - 1) {
      probe_rc = WEXITSTATUS(st);
      continue;
    }
    if (WEXITSTATUS(st) == 0) met_down++;
    if (WEXITSTATUS(st) == 1) rc = 1;
  }
  ASSERT_EQ(rc, 0);
  ASSERT(met_down > 0);    /* some waiting open met the node down and waited */
  ASSERT_EQ(probe_rc, 0);  /* one-attempt opens failed, with the right message */
  return 0;
}

/* url with its user info replaced by userinfo (NULL: kept) and its vhost by
 * vhost (NULL: kept); caller frees. */
static char *url_with(const char *url, const char *userinfo, const char *vhost) {
  const char *auth = strstr(url, "://");
  if (!auth) return NULL;
  auth += 3;
  const char *slash = strchr(auth, '/'), *at = strchr(auth, '@');
  if (!slash) slash = auth + strlen(auth);
  if (at && at > slash) at = NULL;
  const char *hostport = userinfo && at ? at + 1 : auth;
  char *out = NULL;
  if (asprintf(&out, "%.*s%s%s%.*s/%s", (int)(auth - url), url, userinfo ? userinfo : "",
               userinfo ? "@" : "", (int)(slash - hostport), hostport,
               vhost ? vhost : (*slash ? slash + 1 : "")) < 0)
    return NULL;
  return out;
}

/* A broker that says no is not waited for, whatever the bound. */
TEST(open_refused_fails_fast) {
  SKIP_UNLESS_CONFIGURED();
  const char *url = getenv("WEFT_TEST_AMQP_URL");
  struct weft_broker *b = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int64_t ms = 0;
  ASSERT_EQ(unsetenv("WEFT_AMQP_CONNECT_TIMEOUT_S"), 0);

  char *bad_login = url_with(url, "guest:s3cret-wrong", NULL);
  ASSERT(bad_login);
  ASSERT(open_timed(bad_login, &b, &err, &ms) != WEFT_OK);
  fprintf(stderr, "# bad password, %lld ms: %s\n", (long long)ms, err.msg);
  ASSERT(ms < 2000);
  ASSERT_CONTAINS(err.msg, "403");
  ASSERT(!strstr(err.msg, "s3cret"));
  ASSERT(!strstr(err.msg, "attempts"));
  free(bad_login);

  char *bad_vhost = url_with(url, NULL, "weft_no_such_vhost");
  ASSERT(bad_vhost);
  ASSERT(open_timed(bad_vhost, &b, &err, &ms) != WEFT_OK);
  fprintf(stderr, "# missing vhost, %lld ms: %s\n", (long long)ms, err.msg);
  ASSERT(ms < 2000);
  ASSERT_CONTAINS(err.msg, "530");
  ASSERT(!strstr(err.msg, "attempts"));
  free(bad_vhost);
  return 0;
}

/* Nothing listens: open gives up after the bound and says how long it
 * tried. Needs no broker. */
TEST(open_gives_up_after_bound) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT(fd >= 0);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd); /* bound, never listened, closed: connections are refused */
  char url[128], want[160];
  snprintf(url, sizeof url, "amqp://weft:s3cret@127.0.0.1:%d/", ntohs(a.sin_port));
  snprintf(want, sizeof want, "RabbitMQ amqp://weft@127.0.0.1:%d/: cannot connect after ",
           ntohs(a.sin_port));
  ASSERT_EQ(setenv("WEFT_AMQP_CONNECT_TIMEOUT_S", "1", 1), 0);
  struct weft_broker *b = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int64_t t0 = weft_clock_mono_ms();
  int rc = weft_broker_open(url, &b, &err);
  int64_t ms = weft_clock_mono_ms() - t0;
  ASSERT_EQ(unsetenv("WEFT_AMQP_CONNECT_TIMEOUT_S"), 0);
  fprintf(stderr, "# %lld ms: %s\n", (long long)ms, err.msg);
  ASSERT_EQ(rc, WEFT_EIO);
  ASSERT(!b);
  ASSERT(ms >= 1000 && ms < 4000);
  ASSERT_CONTAINS(err.msg, want);
  ASSERT_CONTAINS(err.msg, " attempts over 1.");
  ASSERT(!strstr(err.msg, "s3cret"));
  return 0;
}

TEST_MAIN(TEST_ENTRY(open_races_restart) TEST_ENTRY(open_refused_fails_fast)
              TEST_ENTRY(open_gives_up_after_bound))
