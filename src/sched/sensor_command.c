/* sensor_command.c: the command sensor: runs a script (cwd = the location
 * folder, WEFT_SENSOR_CURSOR in its environment) and reads run requests. */

/* Protocol: each stdout line is a JSON object, either a run request
 * {"run_key": "...", "config"?: {...}, "tags"?: {"k": "v"}} or
 * {"cursor": "..."} (the cursor the next evaluation gets); blank lines are
 * ignored. A malformed line, a non-zero exit or the timeout fails the
 * evaluation (stored as a failure tick naming the line, or the exit code and
 * the end of stderr), and then no run is requested. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sched/sched_int.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/str.h"

extern char **environ;

#define MAX_OUTPUT (4 << 20)
#define STDERR_TAIL 400

/* environ without WEFT_SENSOR_CURSOR, plus it; caller frees (array and the
 * one added string). */
static char **build_env(const char *cursor, char **added) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 2, sizeof *env);
  *added = weft_str_printf("WEFT_SENSOR_CURSOR=%s", cursor ? cursor : "");
  if (!env || !*added) {
    free(env);
    free(*added);
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "WEFT_SENSOR_CURSOR=", 19)) env[k++] = environ[i];
  env[k++] = *added;
  env[k] = NULL;
  return env;
}

/* Runs the command; fills out/errb; *status the wait status, or -1 on
 * timeout. Returns WEFT_OK, or an error when it could not start. */
static int run_command(const struct weft_sensor *se, const char *cwd, const char *cursor,
                       struct weft_buf *out, struct weft_buf *errb, int *status,
                       weft_error *err) {
  int po[2] = {-1, -1}, pe[2] = {-1, -1};
  char *added = NULL;
  char **env = build_env(cursor, &added);
  const char *sh[] = {"/bin/sh", "-c", se->run, NULL};
  char *const *argv = se->argv ? se->argv : (char *const *)sh;
  int rc = WEFT_OK;
  if (!env) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
    rc = weft_error_set(err, WEFT_EIO, "pipe: %s", strerror(errno));
    goto done;
  }
  pid_t pid = fork();
  if (pid < 0) {
    rc = weft_error_set(err, WEFT_EIO, "fork: %s", strerror(errno));
    goto done;
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(po[1], 1);
    dup2(pe[1], 2);
    if (cwd && chdir(cwd)) _exit(126);
    if (strchr(argv[0], '/'))
      execve(argv[0], argv, env);
    else
      execvpe(argv[0], argv, env);
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  po[1] = pe[1] = -1;
  int64_t deadline = weft_clock_mono_ms() + (int64_t)(se->timeout_s * 1000);
  int open_fds = 2, timed_out = 0;
  char chunk[4096];
  while (open_fds > 0) {
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int64_t left = deadline - weft_clock_mono_ms();
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    int r = poll(fds, 2, (int)(left > 1000 ? 1000 : left));
    if (r < 0 && errno == EINTR) continue;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
      if (got <= 0) {
        close(i ? pe[0] : po[0]);
        if (i)
          pe[0] = -1;
        else
          po[0] = -1;
        open_fds--;
        continue;
      }
      struct weft_buf *b = i ? errb : out;
      if (b->len < MAX_OUTPUT) weft_buf_add(b, chunk, (size_t)got);
    }
  }
  if (timed_out) kill(-pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  *status = timed_out ? -1 : st;
done:
  for (int i = 0; i < 2; i++) {
    if (po[i] >= 0) close(po[i]);
    if (pe[i] >= 0) close(pe[i]);
  }
  free(env);
  free(added);
  return rc;
}

static const char *tail(const struct weft_buf *b) {
  if (!b->len) return "";
  const char *p = b->ptr;
  return b->len > STDERR_TAIL ? p + b->len - STDERR_TAIL : p;
}

/* Parses the output lines into res; a malformed one sets res->failure. */
static int parse_output(char *text, struct weft__sensor_result *res) {
  int line_no = 0;
  for (char *line = text, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    line_no++;
    char *p = line;
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    if (!*p) continue;
    json_error_t je;
    json_t *o = json_loads(p, 0, &je);
    const char *why = NULL;
    if (!json_is_object(o))
      why = o ? "not a JSON object" : je.text;
    else if (json_object_get(o, "cursor") && !json_is_string(json_object_get(o, "cursor")))
      why = "\"cursor\" must be a string";
    else if (!json_object_get(o, "cursor") && !json_is_string(json_object_get(o, "run_key")))
      why = "a run request needs \"run_key\" (a string)";
    else if (json_object_get(o, "config") && !json_is_object(json_object_get(o, "config")))
      why = "\"config\" must be an object";
    else if (json_object_get(o, "tags") && !json_is_object(json_object_get(o, "tags")))
      why = "\"tags\" must be an object of strings";
    if (why) {
      res->failure = weft_str_printf("output line %d: %s: %.80s", line_no, why, p);
      json_decref(o);
      return res->failure ? WEFT_OK : WEFT_ENOMEM;
    }
    json_t *c = json_object_get(o, "cursor");
    if (c) {
      free(res->cursor);
      res->cursor = weft_str_dup(json_string_value(c));
    }
    const char *rk = json_string_value(json_object_get(o, "run_key"));
    if (rk) {
      json_t *cfg = json_object_get(o, "config"), *tags = json_object_get(o, "tags");
      if (weft__sensor_result_add(res, rk, cfg ? json_incref(cfg) : NULL,
                                  tags ? json_incref(tags) : NULL, NULL)) {
        json_decref(o);
        return WEFT_ENOMEM;
      }
    }
    json_decref(o);
  }
  return WEFT_OK;
}

int weft__sensor_eval_command(struct weft_scheduler *s, const struct weft_sensor *se,
                              const char *cursor, struct weft__sensor_result *res,
                              weft_error *err) {
  (void)s;
  struct weft_buf out = WEFT_BUF_INIT, errb = WEFT_BUF_INIT;
  int status = 0;
  const char *cwd = se->location && se->location->path && *se->location->path
                        ? se->location->path
                        : NULL;
  weft_error rerr = WEFT_ERROR_INIT;
  int rc = run_command(se, cwd, cursor, &out, &errb, &status, &rerr);
  if (rc == WEFT_ENOMEM) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  weft_buf_addc(&errb, 0);
  errb.len--;
  if (rc) {
    res->failure = weft_str_printf("cannot run the command: %s", rerr.msg);
    rc = WEFT_OK;
  } else if (status == -1) {
    res->failure = weft_str_printf("timed out after %gs; stderr: %s", se->timeout_s, tail(&errb));
  } else if (WIFSIGNALED(status)) {
    res->failure = weft_str_printf("killed by signal %d; stderr: %s", WTERMSIG(status),
                                   tail(&errb));
  } else if (WEXITSTATUS(status)) {
    res->failure = weft_str_printf("exit code %d; stderr: %s", WEXITSTATUS(status), tail(&errb));
  } else {
    weft_buf_addc(&out, 0);
    rc = parse_output(out.ptr, res);
    if (rc) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    if (res->failure) {
      /* nothing of a failed evaluation is launched */
      struct weft__sensor_result keep = {.failure = res->failure};
      res->failure = NULL;
      weft__sensor_result_release(res);
      *res = keep;
    }
  }
done:
  weft_buf_release(&out);
  weft_buf_release(&errb);
  return rc;
}
