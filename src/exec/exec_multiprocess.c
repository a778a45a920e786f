/* exec_multiprocess.c: the "multiprocess" executor: up to N step processes at
 * once, watched through pidfds and events pipes in one poll(), no threads.
 *
 * Slot state machine (one slot per concurrent step):
 *
 *   FREE --mp_start--> RUNNING --slot_finish--> DONE --mp_wait--> FREE
 *   FREE --mp_start (exec failed)--> DONE
 *   RUNNING --slot_deadlines (timeout) / slot_cancel--> RUNNING, SIGTERM sent
 *                        --slot_deadlines (grace over)--> RUNNING, SIGKILL sent
 *
 * A container step's process is its supervisor (exec_container.c), which
 * on SIGTERM stops the container with the same grace itself: its SIGKILL
 * comes CONTAINER_KILL_SLACK_MS later, and slot_finish then removes the
 * container the supervisor could not (weft__container_reap).
 *
 * A Python op's step may run as a child of a warm pool server (pypool.h):
 * the slot watches that pid through a pidfd as it does its own children,
 * signals its process group the same way, and gets its wait status from
 * the server instead of waitpid (slot_reap). A child the pool reuses
 * (steps_per_child) outlives its step: the slot also watches the pipe on
 * which it says the step ended (done_fd), and does not kill its group
 * when the step ends well.
 *
 * DONE slots queue in completion order in a ring so wait() hands results out
 * first come, first served. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/exec_int.h"
#include "exec/pypool.h"
#include "util/clock.h"

enum slot_state { SLOT_FREE, SLOT_RUNNING, SLOT_DONE };

/* How long a container supervisor gets beyond the grace to stop and remove
 * its container before it is killed. */
#define CONTAINER_KILL_SLACK_MS 30000

struct mp_slot {
  enum slot_state state;
  pid_t pid;
  int pidfd;     /* readable once the process has exited */
  int done_fd;   /* a reused pool child's "step ended" pipe, or -1 */
  int epfd;      /* the executor's epoll fd (mp_poll_fd), watching both */
  int events_fd; /* read end of the events pipe, -1 once at EOF */
  struct weft__event_reader events;
  struct weft__event_sink sink;
  struct weft__port_decls outputs;
  char *outputs_dir;
  char *cwd;
  double timeout_s;
  int64_t grace_ms;
  int64_t deadline_ms; /* monotonic; 0: none (or already fired) */
  int64_t kill_at_ms;  /* monotonic time to send SIGKILL; 0: none */
  char *cancel_reason;
  char *ctr_url, *ctr_name, *work_dir; /* container steps only */
  char *secrets_work; /* the work folder whose secrets/ goes when it ends */
  struct weft__pyserver *pysrv; /* the warm pool server whose child runs it */
  char *pool_note; /* why a Python step did not use the pool, for its log */
  struct weft_step_result result;
};

struct mp_executor {
  struct weft_executor base;
  struct weft_executor_callbacks cb;
  size_t max;
  struct mp_slot *slots;
  size_t n_busy;     /* RUNNING + DONE */
  size_t *done;      /* ring of DONE slot indexes, capacity max */
  size_t done_head, n_done;
  struct pollfd *pfds; /* 3 per slot */
  int epfd; /* every running slot's pidfd and events fd: mp_poll_fd */
  size_t *pfd_slot;
  struct weft__pypool *pool; /* the process's (pypool_shared), at the first Python step */
  int pool_off;              /* WEFT_PYPOOL=off (or no memory for one) */
};

static int pidfd_open_(pid_t pid) {
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Closes *fd, out of the epoll set first: a child between fork and exec
 * may still hold an events pipe's read end, and epoll forgets an fd only
 * once every copy of it is closed. */
static void slot_close(struct mp_slot *s, int *fd) {
  if (*fd < 0) return;
  if (s->epfd >= 0) epoll_ctl(s->epfd, EPOLL_CTL_DEL, *fd, NULL);
  close(*fd);
  *fd = -1;
}

static void slot_watch(struct mp_slot *s, int fd) {
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.fd = fd;
  if (s->epfd >= 0 && fd >= 0) epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void slot_clear(struct mp_slot *s) {
  slot_close(s, &s->pidfd);
  slot_close(s, &s->done_fd);
  slot_close(s, &s->events_fd);
  weft__events_release(&s->events);
  weft__port_decls_release(&s->outputs);
  free(s->outputs_dir);
  free(s->cwd);
  free(s->cancel_reason);
  free(s->ctr_url);
  free(s->ctr_name);
  free(s->work_dir);
  free(s->pool_note);
  if (s->secrets_work) weft__secrets_dir_remove(s->secrets_work);
  free(s->secrets_work);
  weft_step_result_release(&s->result);
  int epfd = s->epfd;
  memset(s, 0, sizeof *s);
  s->pidfd = s->done_fd = s->events_fd = -1;
  s->epfd = epfd;
  weft__events_init(&s->events);
  s->state = SLOT_FREE;
}

static void push_done(struct mp_executor *x, struct mp_slot *s) {
  s->state = SLOT_DONE;
  x->done[(x->done_head + x->n_done) % x->max] = (size_t)(s - x->slots);
  x->n_done++;
}

/* ---- finishing a step ---- */

static void drain_events(struct mp_slot *s, int at_exit) {
  char chunk[65536];
  while (s->events_fd >= 0) {
    ssize_t n = read(s->events_fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!at_exit) return;
      /* The leader is gone and its group killed: whatever is not in the
       * pipe now never will be (a straggler outside the group may still
       * hold the write end, so do not wait for EOF). */
    }
    if (n > 0) {
      if (weft__events_feed(&s->events, &s->sink, chunk, (size_t)n) &&
          !s->events.error)
        s->events.error = strdup("out of memory reading the events fd");
      continue;
    }
    slot_close(s, &s->events_fd);
  }
}

static char *exit_message(struct mp_slot *s, int status) {
  if (s->cancel_reason)
    return weft__strdupf("canceled%s%s", s->cancel_reason[0] ? ": " : "",
                         s->cancel_reason);
  if (s->result.timed_out)
    return weft__strdupf("timed out after %gs", s->timeout_s);
  if (WIFSIGNALED(status))
    return weft__strdupf("killed by signal %d", WTERMSIG(status));
  if (WEXITSTATUS(status))
    return weft__strdupf("exited with status %d", WEXITSTATUS(status));
  return NULL;
}

/* Waits for the slot's process (killed or exited) and its wait status:
 * our child, or a warm pool server's (a reused one goes back to it unless
 * the step was canceled or timed out, or force). Returns the pid, or -1
 * with *lost (caller frees) saying why the status is unknown. */
static pid_t slot_reap(struct mp_executor *x, struct mp_slot *s, int force, int *status,
                       char **lost) {
  pid_t got;
  *lost = NULL;
  if (s->pysrv) {
    weft_error e = WEFT_ERROR_INIT;
    struct weft__pyserver *srv = s->pysrv;
    s->pysrv = NULL;
    int retire = force || s->cancel_reason || s->result.timed_out;
    if (!weft__pypool_finish(x->pool, srv, s->pid, s->done_fd, retire, status, &e))
      return s->pid;
    *lost = strdup(e.msg);
    return -1;
  }
  do got = waitpid(s->pid, status, 0);
  while (got < 0 && errno == EINTR);
  if (got < 0)
    *lost = weft__strdupf("process %ld was reaped by someone else: %s", (long)s->pid,
                          strerror(errno));
  return got;
}

/* The leader has exited (its pidfd is readable): kill the rest of its
 * group, reap it, read the last events, check outputs. */
static void slot_finish(struct mp_executor *x, struct mp_slot *s) {
  struct weft_step_result *r = &s->result;
  int status = 0;
  char *lost = NULL;
  /* The zombie leader still holds the group id, so it cannot be reused. A
   * reused pool child may be alive and waiting for its next step:
   * pypool_finish kills its group only when it must go. */
  if (s->done_fd < 0) kill(-s->pid, SIGKILL);
  pid_t got = slot_reap(x, s, 0, &status, &lost);
  if (s->secrets_work) { /* the step is over: its secret files go now */
    weft__secrets_dir_remove(s->secrets_work);
    free(s->secrets_work);
    s->secrets_work = NULL;
  }
  drain_events(s, 1);
  if (!s->events.error) weft__events_finish(&s->events, &s->sink);
  r->ended_ms = weft_clock_wall_ms();
  r->canceled = s->cancel_reason != NULL;
  if (got < 0) {
    r->exit_code = -1;
    r->message = lost;
    lost = NULL;
  } else {
    if (WIFSIGNALED(status)) {
      r->term_signal = WTERMSIG(status);
      r->exit_code = 128 + r->term_signal;
    } else {
      r->exit_code = WEXITSTATUS(status);
    }
    char *ctr_message = NULL;
    if (s->ctr_name) {
      /* The supervisor says which container ran and why it failed; one
       * killed before it could remove the container leaves that to us. */
      int st = weft__container_status(s->work_dir, r, &ctr_message);
      if (WIFSIGNALED(status) || st == WEFT_ENOTFOUND) weft__container_reap(s->ctr_url, s->ctr_name);
    }
    r->message = exit_message(s, status);
    if (!r->message || (ctr_message && !s->cancel_reason && !r->timed_out)) {
      free(r->message);
      r->message = ctr_message;
      ctr_message = NULL;
      if (!r->message && WEXITSTATUS(status)) r->message = exit_message(s, status);
    }
    free(ctr_message);
    if (!r->message && s->events.error) r->message = strdup(s->events.error);
    if (!r->message && !r->canceled && !r->timed_out && r->exit_code == 0 &&
        !s->events.error) {
      int rc = weft__outputs_collect(s->outputs_dir, &s->outputs, &r->outputs,
                                     &r->message);
      if (rc == WEFT_OK) r->ok = 1;
      else if (!r->message) r->message = strdup("out of memory collecting outputs");
    }
  }
  if (!r->ok && !r->message) r->message = strdup("step failed");
  slot_close(s, &s->pidfd);
  slot_close(s, &s->done_fd);
  push_done(x, s);
}

/* ---- signals ---- */

static void slot_terminate(struct mp_slot *s, int64_t now) {
  kill(-s->pid, SIGTERM);
  if (!s->kill_at_ms)
    s->kill_at_ms = now + s->grace_ms + (s->ctr_name ? CONTAINER_KILL_SLACK_MS : 0);
}

/* Fires timeouts and grace periods that are due; returns the milliseconds
 * until the next one (-1: none). */
static int64_t slot_deadlines(struct mp_slot *s, int64_t now) {
  if (s->deadline_ms && now >= s->deadline_ms) {
    s->deadline_ms = 0;
    s->result.timed_out = 1;
    slot_terminate(s, now);
  }
  if (s->kill_at_ms && now >= s->kill_at_ms) {
    s->kill_at_ms = 0;
    kill(-s->pid, SIGKILL);
  }
  int64_t next = -1;
  if (s->deadline_ms) next = s->deadline_ms - now;
  if (s->kill_at_ms && (next < 0 || s->kill_at_ms - now < next))
    next = s->kill_at_ms - now;
  return next;
}

/* ---- methods ---- */

static int mp_can_start_more(struct weft_executor *base) {
  struct mp_executor *x = (struct mp_executor *)base;
  return x->n_busy < x->max;
}

static size_t mp_running_count(struct weft_executor *base) {
  return ((struct mp_executor *)base)->n_busy;
}

static int check_spec(const struct weft_step_spec *spec, weft_error *err) {
  if (!spec || !spec->def || !spec->step || !spec->work_dir)
    return weft_error_set(err, WEFT_EINVALID,
                          "step spec needs def, step and work_dir");
  const struct weft_op_def *def = spec->def;
  const char *op = def->name ? def->name : spec->step;
  if (spec->container && (!spec->container->image || !spec->container->url))
    return weft_error_set(err, WEFT_EINVALID, "op '%s': a container step needs an image and "
                          "an engine", op);
  if (def->argv && def->argv[0]) return WEFT_OK;
  if (def->run) return WEFT_OK;
  if (def->c_function)
    return weft_error_set(err, WEFT_EINVALID,
                          "op '%s' runs C function '%s', which needs the "
                          "in_process executor",
                          op, def->c_function);
  return weft_error_set(err, WEFT_EINVALID, "op '%s' has nothing to run", op);
}

/* The events pipe: the read end non-blocking for draining, the write end
 * above fd 3 so the dup2 onto fd 3 in the child never clobbers it. */
static int open_events_pipe(int fds[2], weft_error *err) {
  if (pipe2(fds, O_CLOEXEC))
    return weft_error_set(err, WEFT_EIO, "events pipe: %s", strerror(errno));
  if (fds[1] <= WEFT__EVENTS_FD) {
    int high = fcntl(fds[1], F_DUPFD_CLOEXEC, WEFT__EVENTS_FD + 1);
    if (high < 0) {
      int e = errno;
      close(fds[0]);
      close(fds[1]);
      return weft_error_set(err, WEFT_EIO, "events pipe: %s", strerror(e));
    }
    close(fds[1]);
    fds[1] = high;
  }
  if (fcntl(fds[0], F_SETFL, O_NONBLOCK)) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return weft_error_set(err, WEFT_EIO, "events pipe: %s", strerror(e));
  }
  return WEFT_OK;
}

static int mp_start(struct weft_executor *base, const struct weft_step_spec *spec,
                    weft_error *err) {
  struct mp_executor *x = (struct mp_executor *)base;
  struct weft__work_paths paths = {0};
  struct mp_slot *s = NULL;
  int fds[2] = {-1, -1}, rc, spawn_errno = 0;
  pid_t pid = 0;
  int done_fd = -1;
  if ((rc = check_spec(spec, err))) return rc;
  if (x->n_busy >= x->max)
    return weft_error_set(err, WEFT_ECONFLICT,
                          "executor is full (%zu steps running)", x->max);
  for (size_t i = 0; i < x->max && !s; i++)
    if (x->slots[i].state == SLOT_FREE) s = &x->slots[i];
  if (spec->secrets && spec->secrets->files.n && !(s->secrets_work = strdup(spec->work_dir))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = weft__work_prepare(spec, &paths, err))) goto fail;
  if ((rc = open_events_pipe(fds, err))) goto fail;
  s->result.user = spec->user;
  s->result.exit_code = -1;
  s->result.started_ms = weft_clock_wall_ms();
  s->sink.cb = &x->cb;
  s->sink.user = spec->user;
  s->timeout_s = spec->def->timeout_s;
  s->grace_ms = (int64_t)ceil((spec->kill_grace_s > 0 ? spec->kill_grace_s : 5) * 1000);
  s->outputs_dir = paths.outputs;
  paths.outputs = NULL;
  s->cwd = spec->cwd ? strdup(spec->cwd) : NULL;
  if ((spec->cwd && !s->cwd) ||
      weft__port_decls_copy(spec->def->outputs, spec->def->n_outputs,
                            &s->outputs)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  s->sink.outputs = &s->outputs;
  s->sink.outputs_dir = s->outputs_dir;
  s->sink.cwd = s->cwd;
  s->sink.in_container = spec->container != NULL;
  paths.outputs = s->outputs_dir; /* borrowed back for the spawn */
  if (spec->container) {
    s->ctr_url = strdup(spec->container->url);
    s->work_dir = strdup(spec->work_dir);
    if (!s->ctr_url || !s->work_dir)
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    else
      rc = weft__container_spawn(spec, &paths, fds[1], &pid, &s->ctr_name, err);
  } else {
    /* A Python op's step goes to the warm pool when it can (pypool.h). */
    if (!x->pool_off && weft__pypool_eligible(spec)) {
      if (!x->pool && !(x->pool = weft__pypool_shared())) x->pool_off = 1;
      if (x->pool)
        rc = weft__pypool_spawn(x->pool, spec, &paths, fds[1], &pid, &s->pysrv, &done_fd,
                                &s->pool_note, err);
    }
    if (!rc && !pid) rc = weft__spawn_step(spec, &paths, fds[1], &pid, &spawn_errno, err);
  }
  paths.outputs = NULL;
  close(fds[1]);
  fds[1] = -1;
  if (rc) goto fail;
  x->n_busy++;
  if (!pid) {
    close(fds[0]);
    if (s->secrets_work) weft__secrets_dir_remove(s->secrets_work);
    s->result.message = weft__spawn_failure(spec, spawn_errno, &s->result.exit_code);
    if (!s->result.message) s->result.message = strdup("cannot execute");
    s->result.ended_ms = weft_clock_wall_ms();
    push_done(x, s);
    goto done;
  }
  int pidfd = pidfd_open_(pid);
  if (pidfd < 0) {
    int e = errno, status;
    char *lost = NULL;
    kill(-pid, SIGKILL);
    s->pid = pid;
    s->done_fd = done_fd;
    slot_reap(x, s, 1, &status, &lost);
    free(lost);
    x->n_busy--;
    rc = weft_error_set(err, WEFT_EIO, "step '%s': pidfd_open: %s", spec->step,
                        strerror(e));
    goto fail;
  }
  s->state = SLOT_RUNNING;
  s->pid = pid;
  s->pidfd = pidfd;
  s->events_fd = fds[0];
  s->done_fd = done_fd;
  slot_watch(s, s->pidfd);
  slot_watch(s, s->done_fd);
  slot_watch(s, s->events_fd);
  s->result.pid = pid;
  if (s->timeout_s > 0)
    s->deadline_ms = weft_clock_mono_ms() + (int64_t)ceil(s->timeout_s * 1000);
  if (x->cb.on_started) x->cb.on_started(x->cb.cb_data, spec->user, (long)pid);
  if (s->pool_note) { /* once, in the step's own log */
    json_t *ev = json_pack("{s:s, s:s, s:s}", "type", "log", "level", "warning", "msg",
                           s->pool_note);
    char *why = NULL;
    if (ev) weft__event_deliver(&s->sink, ev, &why);
    json_decref(ev);
    free(why);
  }
  goto done;
fail:
  if (fds[0] >= 0) close(fds[0]);
  if (fds[1] >= 0) close(fds[1]);
  if (s) slot_clear(s);
done:
  weft__work_paths_release(&paths);
  return rc;
}

/* One poll() over every running step; handles whatever became ready. */
static int poll_once(struct mp_executor *x, int64_t user_deadline, weft_error *err) {
  int64_t now = weft_clock_mono_ms();
  /* A deadline already past waits 0 ms, never -1 (forever): wait(0) whose
   * clock ticked since the caller took it must not block until a step ends. */
  int64_t wait_ms = user_deadline < 0 ? -1 : user_deadline - now;
  if (user_deadline >= 0 && wait_ms < 0) wait_ms = 0;
  size_t n = 0;
  for (size_t i = 0; i < x->max; i++) {
    struct mp_slot *s = &x->slots[i];
    if (s->state != SLOT_RUNNING) continue;
    int64_t next = slot_deadlines(s, now);
    if (next >= 0 && (wait_ms < 0 || next < wait_ms)) wait_ms = next;
    x->pfds[n] = (struct pollfd){.fd = s->pidfd, .events = POLLIN};
    x->pfd_slot[n++] = i;
    if (s->done_fd >= 0) {
      x->pfds[n] = (struct pollfd){.fd = s->done_fd, .events = POLLIN};
      x->pfd_slot[n++] = i;
    }
    if (s->events_fd >= 0) {
      x->pfds[n] = (struct pollfd){.fd = s->events_fd, .events = POLLIN};
      x->pfd_slot[n++] = i;
    }
  }
  if (wait_ms > 1 << 30) wait_ms = 1 << 30;
  int ready = poll(x->pfds, n, (int)wait_ms);
  if (ready < 0) {
    if (errno == EINTR) return WEFT_OK;
    return weft_error_set(err, WEFT_EIO, "poll: %s", strerror(errno));
  }
  for (size_t k = 0; ready > 0 && k < n; k++) {
    if (!x->pfds[k].revents) continue;
    ready--;
    struct mp_slot *s = &x->slots[x->pfd_slot[k]];
    if (s->state != SLOT_RUNNING) continue;
    if (x->pfds[k].fd == s->events_fd)
      drain_events(s, 0);
    else if (x->pfds[k].fd == s->pidfd || x->pfds[k].fd == s->done_fd)
      slot_finish(x, s);
  }
  return WEFT_OK;
}

static void take_result(struct mp_executor *x, struct weft_step_result *out) {
  struct mp_slot *s = &x->slots[x->done[x->done_head]];
  x->done_head = (x->done_head + 1) % x->max;
  x->n_done--;
  *out = s->result;
  memset(&s->result, 0, sizeof s->result);
  slot_clear(s);
  x->n_busy--;
}

static int mp_wait(struct weft_executor *base, int timeout_ms,
                   struct weft_step_result *out, weft_error *err) {
  struct mp_executor *x = (struct mp_executor *)base;
  memset(out, 0, sizeof *out);
  if (!x->n_busy) {
    if (timeout_ms < 0)
      return weft_error_set(err, WEFT_ENOTFOUND, "no step is running");
    while (poll(NULL, 0, timeout_ms) < 0 && errno == EINTR) {
    }
    return 0;
  }
  int64_t user_deadline = timeout_ms < 0 ? -1 : weft_clock_mono_ms() + timeout_ms;
  for (;;) {
    if (x->n_done) {
      take_result(x, out);
      return 1;
    }
    if (user_deadline >= 0 && weft_clock_mono_ms() >= user_deadline &&
        timeout_ms > 0)
      return 0;
    int rc = poll_once(x, user_deadline, err);
    if (rc) return rc;
    if (!x->n_done && timeout_ms == 0) return 0;
  }
}

static void slot_cancel(struct mp_slot *s, const char *reason, int64_t now) {
  if (s->cancel_reason) return;
  s->cancel_reason = strdup(reason ? reason : "");
  if (!s->cancel_reason) s->cancel_reason = strdup("");
  s->deadline_ms = 0;
  slot_terminate(s, now);
}

static void mp_cancel_all(struct weft_executor *base, const char *reason) {
  struct mp_executor *x = (struct mp_executor *)base;
  int64_t now = weft_clock_mono_ms();
  for (size_t i = 0; i < x->max; i++)
    if (x->slots[i].state == SLOT_RUNNING) slot_cancel(&x->slots[i], reason, now);
}

static int mp_cancel_one(struct weft_executor *base, void *user, const char *reason) {
  struct mp_executor *x = (struct mp_executor *)base;
  for (size_t i = 0; i < x->max; i++) {
    struct mp_slot *s = &x->slots[i];
    if (s->state == SLOT_RUNNING && s->result.user == user) {
      slot_cancel(s, reason, weft_clock_mono_ms());
      return WEFT_OK;
    }
  }
  return WEFT_ENOTFOUND;
}

static void mp_free(struct weft_executor *base) {
  struct mp_executor *x = (struct mp_executor *)base;
  for (size_t i = 0; i < x->max; i++) {
    struct mp_slot *s = &x->slots[i];
    if (s->state == SLOT_RUNNING) {
      int status;
      char *lost = NULL;
      kill(-s->pid, SIGKILL);
      slot_reap(x, s, 1, &status, &lost);
      free(lost);
      if (s->ctr_name) weft__container_reap(s->ctr_url, s->ctr_name);
    }
    slot_clear(s);
  }
  /* x->pool is the process's: its servers stay warm for the next run. */
  free(x->slots);
  free(x->done);
  free(x->pfds);
  free(x->pfd_slot);
  close(x->epfd);
  free(x);
}

/* The epoll fd over every running step's pidfd and events pipe, and the
 * nearest timeout or kill escalation; a finished step not yet returned by
 * wait() makes it now. */
static int mp_poll_fd(struct weft_executor *base, int *timeout_ms) {
  struct mp_executor *x = (struct mp_executor *)base;
  int64_t now = weft_clock_mono_ms();
  if (x->n_done) *timeout_ms = 0;
  for (size_t i = 0; i < x->max; i++) {
    if (x->slots[i].state != SLOT_RUNNING) continue;
    int64_t next = slot_deadlines(&x->slots[i], now);
    if (next >= 0 && (*timeout_ms < 0 || next < *timeout_ms))
      *timeout_ms = next > 1 << 30 ? 1 << 30 : (int)next;
  }
  return x->epfd;
}

static const struct weft_executor_methods mp_methods = {
    .name = "multiprocess",
    .can_start_more = mp_can_start_more,
    .start = mp_start,
    .wait = mp_wait,
    .cancel_all = mp_cancel_all,
    .cancel_one = mp_cancel_one,
    .running_count = mp_running_count,
    .free = mp_free,
    .poll_fd = mp_poll_fd,
};

int weft__multiprocess_new(int max_concurrent,
                           const struct weft_executor_callbacks *cb,
                           struct weft_executor **out, weft_error *err) {
  *out = NULL;
  if (max_concurrent < 0)
    return weft_error_set(err, WEFT_EINVALID,
                          "max_concurrent must be 0 (all cores) or more, got %d",
                          max_concurrent);
  if (max_concurrent == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    max_concurrent = cores > 0 ? (int)cores : 1;
  }
  struct mp_executor *x = calloc(1, sizeof *x);
  if (!x) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  x->base.m = &mp_methods;
  if (cb) x->cb = *cb;
  x->max = (size_t)max_concurrent;
  x->slots = calloc(x->max, sizeof *x->slots);
  x->done = calloc(x->max, sizeof *x->done);
  x->pfds = calloc(3 * x->max, sizeof *x->pfds); /* pidfd, done_fd, events */
  x->pfd_slot = calloc(3 * x->max, sizeof *x->pfd_slot);
  x->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (!x->slots || !x->done || !x->pfds || !x->pfd_slot || x->epfd < 0) {
    if (x->epfd >= 0) close(x->epfd);
    free(x->slots);
    free(x->done);
    free(x->pfds);
    free(x->pfd_slot);
    free(x);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < x->max; i++) {
    x->slots[i].pidfd = x->slots[i].done_fd = x->slots[i].events_fd = -1;
    x->slots[i].epfd = x->epfd;
    weft__events_init(&x->slots[i].events);
  }
  *out = &x->base;
  return WEFT_OK;
}
