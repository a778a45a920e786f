/* log_pump.c: a host step whose logs must be masked (its spec has secret
 * values) runs under a pump: a process of weft's that leads the step's
 * process group, runs the step as its child with stdout and stderr on
 * pipes, and writes them to the log files with every secret value
 * replaced by "***" (util/mask.h), so the value never reaches the disk.
 *
 *   executor ──fork──> pump (group leader: the pid the executor watches)
 *                       │ ──fork+exec──> step (same group; fd 1, 2 pipes)
 *                       │ pipes ──mask──> WORK/stdout.log, WORK/stderr.log
 *                       └ step exited: drain the pipes, flush, exit with
 *                         the step's status (a signal is raised again)
 *
 * The pump ignores SIGTERM, SIGINT and SIGHUP so a cancel reaches the step
 * and the pump still writes its last words; SIGKILL to the group (the
 * grace is over, or the executor reaps the group after the pump exited)
 * ends both. Everything the pump uses is allocated before the fork: it
 * only reads, writes and polls, as a forked child of a threaded server
 * must. It writes no core file (its memory holds the values). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/exec_int.h"
#include "util/mask.h"

#define PUMP_CHUNK 65536

struct pump {
  struct weft_mask_stream stream[2]; /* stdout, stderr */
  int log_fd[2];
  int failed; /* a log write failed: the rest is dropped, the step goes on */
};

static int write_sink(void *ctx, const char *p, size_t n) {
  int fd = *(int *)ctx;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads what fd has now into stream k; returns 0 at EOF or error (the fd
 * is then closed and set to -1), 1 otherwise. */
static int pump_read(struct pump *p, int k, int *fd, char *buf) {
  for (;;) {
    ssize_t n = read(*fd, buf, PUMP_CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 1;
    if (n <= 0) {
      close(*fd);
      *fd = -1;
      return 0;
    }
    if (!p->failed &&
        weft_mask_stream_feed(&p->stream[k], buf, (size_t)n, write_sink, &p->log_fd[k]))
      p->failed = 1;
  }
}

/* The step's side, between fork and exec: only async-signal-safe calls.
 * errno goes to report_fd when the exec fails. */
static void step_child(const struct weft_step_spec *spec, int events_wfd, int out_w, int err_w,
                       int report_fd, pid_t pump, char *const *argv, char *const *envp,
                       int use_path) {
  int e = 0;
  /* The pump gone (killed alone): nobody reads the logs, so go too. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != pump) _exit(127);
  int hi = fcntl(report_fd, F_DUPFD_CLOEXEC, WEFT__EVENTS_FD + 1);
  if (hi < 0) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  if (sigprocmask(SIG_SETMASK, &none, NULL)) goto fail;
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  /* Every source above fd 3 first, so no dup2 overwrites one not yet used. */
  int ev = fcntl(events_wfd, F_DUPFD_CLOEXEC, hi + 1);
  int o = fcntl(out_w, F_DUPFD_CLOEXEC, hi + 1), r = fcntl(err_w, F_DUPFD_CLOEXEC, hi + 1);
  if (in < 0 || ev < 0 || o < 0 || r < 0) goto fail;
  /* dup2 leaves the copies without FD_CLOEXEC: the step keeps 0-3. */
  if (dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(r, 2) < 0 || dup2(ev, WEFT__EVENTS_FD) < 0)
    goto fail;
  for (int fd = WEFT__EVENTS_FD + 1; fd < hi; fd++) close(fd);
  closefrom(hi + 1);
  if (spec->cwd && chdir(spec->cwd)) goto fail;
  if (use_path) execvpe(argv[0], argv, envp);
  else execve(argv[0], argv, envp);
fail:
  e = errno;
  if (write(hi, &e, sizeof e) < 0) _exit(127);
  _exit(127);
}

/* The pump's body, in the forked child; never returns. */
static void pump_main(struct pump *p, const struct weft_step_spec *spec,
                      const struct weft__work_paths *paths, int events_wfd, int report_fd,
                      pid_t parent, char *const *argv, char *const *envp, int use_path,
                      char *buf) {
  int e = 0, out[2] = {-1, -1}, err[2] = {-1, -1};
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  if (spec->die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent))
    _exit(127);
  setpgid(0, 0);
  /* Keep only the events pipe (as fd 3) and the report pipe (4) of the
   * parent's descriptors: the pump lives as long as its step and must not
   * hold a server's socket, the database or other steps' pipes. */
  int top = events_wfd > report_fd ? events_wfd : report_fd;
  int ev = fcntl(events_wfd, F_DUPFD, top > 4 ? top + 1 : 5);
  int rp = ev < 0 ? -1 : fcntl(report_fd, F_DUPFD_CLOEXEC, ev + 1);
  if (ev < 0 || rp < 0 || dup2(ev, WEFT__EVENTS_FD) < 0 ||
      dup3(rp, WEFT__EVENTS_FD + 1, O_CLOEXEC) < 0)
    _exit(127);
  events_wfd = WEFT__EVENTS_FD;
  report_fd = WEFT__EVENTS_FD + 1;
  closefrom(WEFT__EVENTS_FD + 2);
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_SETMASK, &none, NULL);
  p->log_fd[0] = open(paths->stdout_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  p->log_fd[1] = open(paths->stderr_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (p->log_fd[0] < 0 || p->log_fd[1] < 0 || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
    goto fail;
  pid_t self = getpid();
  pid_t child = fork();
  if (child < 0) goto fail;
  if (child == 0)
    step_child(spec, events_wfd, out[1], err[1], report_fd, self, argv, envp, use_path);
  /* Only the step holds the write ends now; the report pipe closes for
   * the executor once the step has exec'ed. */
  close(out[1]);
  close(err[1]);
  close(events_wfd);
  close(report_fd);
  int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  if (pidfd < 0 || fcntl(out[0], F_SETFL, O_NONBLOCK) || fcntl(err[0], F_SETFL, O_NONBLOCK)) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    _exit(127);
  }
  int fds[2] = {out[0], err[0]}, exited = 0, status = 0;
  while (!exited) {
    struct pollfd pf[3] = {{pidfd, POLLIN, 0}, {fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (poll(pf, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < 2; k++)
      if (fds[k] >= 0 && pf[k + 1].revents) pump_read(p, k, &fds[k], buf);
    if (pf[0].revents) exited = 1;
  }
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  /* What the step wrote before it exited is in the pipes now; a process it
   * left behind may still hold them, so read what is there, not to EOF. */
  for (int k = 0; k < 2; k++) {
    if (fds[k] >= 0) pump_read(p, k, &fds[k], buf);
    if (!p->failed) weft_mask_stream_finish(&p->stream[k], write_sink, &p->log_fd[k]);
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
fail:
  e = errno;
  if (write(report_fd, &e, sizeof e) < 0) _exit(127);
  _exit(127);
}

int weft__spawn_masked(const struct weft_step_spec *spec, const struct weft__work_paths *paths,
                       int events_wfd, char *const *argv, char *const *envp, int use_path,
                       pid_t *pid, int *spawn_errno, weft_error *err) {
  struct pump p;
  char *buf = malloc(PUMP_CHUNK);
  int report[2] = {-1, -1}, rc = WEFT_OK;
  memset(&p, 0, sizeof p);
  if (!buf || weft_mask_stream_init(&p.stream[0], spec->secrets->mask, PUMP_CHUNK) ||
      weft_mask_stream_init(&p.stream[1], spec->secrets->mask, PUMP_CHUNK)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (pipe2(report, O_CLOEXEC)) {
    rc = weft_error_set(err, WEFT_EIO, "step '%s': pipe: %s", spec->step, strerror(errno));
    goto done;
  }
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    int e = errno;
    rc = weft_error_set(err, e == ENOMEM || e == EAGAIN ? WEFT_ENOMEM : WEFT_EIO,
                        "step '%s': fork: %s", spec->step, strerror(e));
    goto done;
  }
  if (child == 0) {
    close(report[0]);
    pump_main(&p, spec, paths, events_wfd, report[1], parent, argv, envp, use_path, buf);
  }
  setpgid(child, child); /* also in the child: whichever runs first */
  close(report[1]);
  report[1] = -1;
  int e = 0;
  ssize_t n;
  do n = read(report[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof e) { /* the step never ran: reap the pump, as posix_spawn does */
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    *spawn_errno = e ? e : EIO;
  } else {
    *pid = child;
  }
done:
  if (report[0] >= 0) close(report[0]);
  if (report[1] >= 0) close(report[1]);
  weft_mask_stream_release(&p.stream[0]);
  weft_mask_stream_release(&p.stream[1]);
  free(buf);
  return rc;
}
