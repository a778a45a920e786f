/* pypool.c: the warm Python interpreter pool's C side (pypool.h has the
 * protocol and the servers' state machine): starts, feeds and stops fork
 * servers. Runs on the executor's thread only; every read is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/pypool.h"
#include "util/clock.h"
#include "util/credential_env.h"
#include "util/mask.h"
#include "util/str.h"

extern char **environ;

#define STEP_FDS 5               /* stdin, stdout, stderr, events; done (reuse only) */
#define MSG_MAX (1 << 20)        /* longest packet read from a server */
#define REPLY_TIMEOUT_MS 30000   /* a spawn reply: a fork, an import */
#define STATUS_TIMEOUT_MS 10000  /* an exit report after the child ended */

enum srv_state { SRV_ACTIVE, SRV_DRAINING, SRV_DEAD, SRV_FAILED };

struct pyexit {
  pid_t pid;
  int status;
};

struct weft__pyserver {
  struct weft__pyserver *next;
  enum srv_state state;
  char *interp, *root;
  pid_t pid;
  int fd;       /* our end of the socket, -1 once closed */
  int statm_fd; /* its /proc/PID/statm, kept open: read before each spawn */
  long forks;   /* children started */
  long refs;    /* children not yet finished */
  char *why;    /* SRV_FAILED: why it did not start */
  struct pyexit *exits; /* reported, not yet asked for */
  size_t n_exits, cap_exits;
  /* Children running a step of ours (spawned, not finished): an exit report
   * of any other pid (a reused child that died after its step's "done") is
   * for nobody and dropped, not queued forever. */
  pid_t *busy;
  size_t n_busy, cap_busy;
};

struct weft__pypool {
  pthread_mutex_t lock; /* spawn and finish: executors of several runs */
  struct weft__pyserver *servers; /* every server not yet freed */
  long max_forks;
  long max_rss_kb;
  long idle_s;
  int start_timeout_ms;
  int debug; /* WEFT_PYPOOL_DEBUG: a line a spawn on stderr */
  int steps_per_child; /* WEFT_PYPOOL_STEPS_PER_CHILD: an op's default */
  char *buf; /* MSG_MAX bytes */
};

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  char *end;
  if (!v || !*v) return dflt;
  long n = strtol(v, &end, 10);
  return *end || n <= 0 ? dflt : n;
}

struct weft__pypool *weft__pypool_new(void) {
  const char *off = getenv("WEFT_PYPOOL");
  if (off && (!strcmp(off, "off") || !strcmp(off, "0"))) return NULL;
  struct weft__pypool *p = calloc(1, sizeof *p);
  if (!p || !(p->buf = malloc(MSG_MAX))) {
    free(p);
    return NULL;
  }
  pthread_mutex_init(&p->lock, NULL);
  p->debug = getenv("WEFT_PYPOOL_DEBUG") != NULL;
  p->idle_s = env_long("WEFT_PYPOOL_IDLE", WEFT__PYPOOL_IDLE_S);
  p->max_forks = env_long("WEFT_PYPOOL_MAX_FORKS", WEFT__PYPOOL_MAX_FORKS);
  p->max_rss_kb = env_long("WEFT_PYPOOL_MAX_RSS_MB", WEFT__PYPOOL_MAX_RSS_MB) * 1024;
  p->start_timeout_ms = (int)env_long("WEFT_PYPOOL_START_TIMEOUT", 60) * 1000;
  p->steps_per_child = (int)env_long("WEFT_PYPOOL_STEPS_PER_CHILD", 1);
  if (p->steps_per_child > WEFT__PYPOOL_MAX_STEPS_PER_CHILD)
    p->steps_per_child = WEFT__PYPOOL_MAX_STEPS_PER_CHILD;
  return p;
}

static void server_stop(struct weft__pyserver *s) {
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  if (s->statm_fd >= 0) close(s->statm_fd);
  s->statm_fd = -1;
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    s->pid = 0;
  }
}

static void server_free(struct weft__pyserver *s) {
  server_stop(s);
  free(s->interp);
  free(s->root);
  free(s->why);
  free(s->exits);
  free(s->busy);
  free(s);
}

static void server_unlink(struct weft__pypool *p, struct weft__pyserver *s) {
  for (struct weft__pyserver **at = &p->servers; *at; at = &(*at)->next)
    if (*at == s) {
      *at = s->next;
      return;
    }
}

void weft__pypool_free(struct weft__pypool *p) {
  if (!p) return;
  while (p->servers) {
    struct weft__pyserver *s = p->servers;
    p->servers = s->next;
    server_free(s);
  }
  pthread_mutex_destroy(&p->lock);
  free(p->buf);
  free(p);
}

static struct weft__pypool *shared;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static pid_t shared_owner;

/* At exit: the servers stop and are reaped (their CPU time, and their
 * children's, is then the process's, as it was when each executor had
 * its own). Only in the process that made the pool: a forked child that
 * calls exit() must not stop its parent's servers. */
static void shared_stop(void) {
  if (shared && getpid() == shared_owner) {
    weft__pypool_free(shared);
    shared = NULL;
  }
}

static void shared_make(void) {
  shared = weft__pypool_new();
  shared_owner = getpid();
  if (shared) atexit(shared_stop);
}

struct weft__pypool *weft__pypool_shared(void) {
  pthread_once(&shared_once, shared_make);
  /* A forked child of the process that made it must not talk to its
   * parent's servers over the same sockets: it runs without a pool. */
  return shared && getpid() == shared_owner ? shared : NULL;
}

/* ---- which steps ---- */

int weft__pypool_is_python_argv(char *const *argv) {
  if (!argv) return 0;
  for (int i = 0; i < 6; i++)
    if (!argv[i]) return 0;
  if (argv[6]) return 0;
  const char *base = strrchr(argv[0], '/');
  base = base ? base + 1 : argv[0];
  return !strncmp(base, "python", 6) && !strcmp(argv[1], "-m") && !strcmp(argv[2], "weft") &&
         !strcmp(argv[3], "run");
}

int weft__pypool_eligible(const struct weft_step_spec *spec) {
  const struct weft_op_def *def = spec->def;
  if (def->isolated || spec->container || !weft__pypool_is_python_argv(def->argv)) return 0;
  /* Masked logs go through log_pump.c's pump process. */
  return !(spec->secrets && weft_mask_count(spec->secrets->mask));
}

/* ---- messages ---- */

/* Reads one packet into p->buf (NUL-terminated) within timeout_ms. Returns
 * its length, 0 at EOF (or a broken socket), -1 on timeout. */
static ssize_t recv_packet(struct weft__pypool *p, struct weft__pyserver *s, int timeout_ms) {
  int64_t end = weft_clock_mono_ms() + timeout_ms;
  for (;;) {
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    int64_t left = end - weft_clock_mono_ms();
    if (left < 0) left = 0;
    int r = poll(&pfd, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return -1;
    if (r < 0) return 0;
    ssize_t n = recv(s->fd, p->buf, MSG_MAX - 1, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return 0;
    p->buf[n] = '\0';
    return n;
  }
}

static int busy_index(const struct weft__pyserver *s, pid_t pid) {
  for (size_t i = 0; i < s->n_busy; i++)
    if (s->busy[i] == pid) return (int)i;
  return -1;
}

static int busy_add(struct weft__pyserver *s, pid_t pid) {
  if (s->n_busy == s->cap_busy) {
    size_t cap = s->cap_busy ? 2 * s->cap_busy : 8;
    pid_t *v = realloc(s->busy, cap * sizeof *v);
    if (!v) return WEFT_ENOMEM;
    s->busy = v;
    s->cap_busy = cap;
  }
  s->busy[s->n_busy++] = pid;
  return WEFT_OK;
}

static void busy_remove(struct weft__pyserver *s, pid_t pid) {
  int i = busy_index(s, pid);
  if (i >= 0) s->busy[i] = s->busy[--s->n_busy];
}

static int push_exit(struct weft__pyserver *s, pid_t pid, int status) {
  if (busy_index(s, pid) < 0) return WEFT_OK; /* nobody waits for it */
  if (s->n_exits == s->cap_exits) {
    size_t cap = s->cap_exits ? 2 * s->cap_exits : 8;
    struct pyexit *v = realloc(s->exits, cap * sizeof *v);
    if (!v) return WEFT_ENOMEM;
    s->exits = v;
    s->cap_exits = cap;
  }
  s->exits[s->n_exits++] = (struct pyexit){pid, status};
  return WEFT_OK;
}

/* The server is gone: no step goes to it again. */
static void server_died(struct weft__pypool *p, struct weft__pyserver *s) {
  (void)p;
  if (s->state == SRV_ACTIVE || s->state == SRV_DRAINING) s->state = SRV_DEAD;
  server_stop(s);
}

/* Reads packets until one that is not an exit report (returned, owned),
 * queueing exit reports; with until_exit, returns NULL after the first
 * exit report too. NULL with *dead set when the server died, or on
 * timeout. */
static json_t *next_reply(struct weft__pypool *p, struct weft__pyserver *s, int timeout_ms,
                          int until_exit, int *dead) {
  *dead = 0;
  while (s->fd >= 0) {
    ssize_t n = recv_packet(p, s, timeout_ms);
    if (n <= 0) { /* EOF, or a server that stopped answering */
      *dead = 1;
      server_died(p, s);
      return NULL;
    }
    json_t *m = json_loads(p->buf, 0, NULL);
    if (!m) continue;
    json_t *ex = json_object_get(m, "exit");
    if (json_is_integer(ex)) {
      int st = (int)json_integer_value(json_object_get(m, "status"));
      if (push_exit(s, (pid_t)json_integer_value(ex), st)) {
        json_decref(m);
        *dead = 1;
        server_died(p, s);
        return NULL;
      }
      json_decref(m);
      if (until_exit) return NULL;
      continue;
    }
    return m;
  }
  *dead = 1;
  return NULL;
}

/* ---- starting a server ---- */

/* The server's environment: weft's, less its credentials, with the step's
 * PATH (a virtualenv first) and no bytecode written into the code folder. */
static char **server_env(char *const *step_envp) {
  size_t n = 0;
  while (environ && environ[n]) n++;
  char **env = calloc(n + 3, sizeof *env);
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "PATH=", 5) && strncmp(environ[i], "PYTHONDONTWRITEBYTECODE=", 24) &&
        !weft_env_is_credential(environ[i]))
      env[k++] = environ[i];
  for (size_t i = 0; step_envp[i]; i++)
    if (!strncmp(step_envp[i], "PATH=", 5)) {
      env[k++] = step_envp[i];
      break;
    }
  env[k++] = "PYTHONDONTWRITEBYTECODE=1";
  env[k] = NULL;
  return env;
}

/* argv[0] as the step would find it: through the step's PATH. */
static char *find_interp(const char *prog, char *const *envp) {
  char *found = weft__find_program(prog, envp);
  return found ? found : strdup(prog); /* the server's exec fails: the step says so */
}

static struct weft__pyserver *server_start(struct weft__pypool *p, const char *interp,
                                           const char *root, char *const *step_envp) {
  struct weft__pyserver *s = calloc(1, sizeof *s);
  int sv[2] = {-1, -1};
  char **env = NULL;
  if (!s) return NULL;
  s->fd = s->statm_fd = -1;
  s->state = SRV_FAILED;
  if (!(s->interp = strdup(interp)) || !(s->root = strdup(root)) ||
      !(env = server_env(step_envp))) {
    server_free(s);
    free(env);
    return NULL;
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
    s->why = weft_str_printf("socketpair: %s", strerror(errno));
    goto out;
  }
  char idle[32];
  snprintf(idle, sizeof idle, "%ld", p->idle_s);
  char *argv[] = {s->interp, "-m", "weft._forkserver", "--root", s->root, "--fd", "3",
                  "--idle", idle, NULL};
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    s->why = weft_str_printf("fork: %s", strerror(errno));
    goto out;
  }
  if (pid == 0) { /* async-signal-safe calls only */
    /* It dies with the thread that started it (as a worker's steps do). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++)
      if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid(); /* its own group: a step's killpg never reaches it */
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || (p->debug ? 0 : dup2(null, 2) < 0) ||
        dup2(sv[1], 3) < 0)
      _exit(127);
    closefrom(4);
    if (chdir(s->root)) _exit(127);
    execve(argv[0], argv, env);
    _exit(127);
  }
  s->pid = pid;
  close(sv[1]);
  sv[1] = -1;
  s->fd = sv[0];
  sv[0] = -1;
  /* Not next_reply: a server that fails here is FAILED, not DEAD, and its
   * exit status says why. */
  ssize_t n = recv_packet(p, s, p->start_timeout_ms);
  json_t *ready = n > 0 ? json_loads(p->buf, 0, NULL) : NULL;
  if (ready && json_is_true(json_object_get(ready, "ready"))) {
    s->state = SRV_ACTIVE;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/statm", (long)s->pid);
    s->statm_fd = open(path, O_RDONLY | O_CLOEXEC); /* -1: its size goes unchecked */
  } else {
    int st = 0;
    if (n < 0) kill(s->pid, SIGKILL); /* still importing: give up on it */
    while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR) {
    }
    s->pid = 0;
    s->why = n < 0 ? weft_str_printf("%s -m weft._forkserver was not ready within %d s", interp,
                                     p->start_timeout_ms / 1000)
             : WIFEXITED(st) ? weft_str_printf("%s -m weft._forkserver exited with status %d",
                                               interp, WEXITSTATUS(st))
                             : weft_str_printf("%s -m weft._forkserver did not get ready",
                                               interp);
    server_stop(s);
  }
  json_decref(ready);
out:
  if (sv[0] >= 0) close(sv[0]);
  if (sv[1] >= 0) close(sv[1]);
  free(env);
  s->next = p->servers;
  p->servers = s;
  return s;
}

static struct weft__pyserver *find_server(const struct weft__pypool *p, const char *interp,
                                          const char *root) {
  for (struct weft__pyserver *s = p->servers; s; s = s->next)
    if ((s->state == SRV_ACTIVE || s->state == SRV_FAILED) && !strcmp(s->interp, interp) &&
        !strcmp(s->root, root))
      return s;
  return NULL;
}

/* Frees s once it takes no new step and has no child left. */
static void server_maybe_free(struct weft__pypool *p, struct weft__pyserver *s) {
  if (s->refs || s->state == SRV_ACTIVE || s->state == SRV_FAILED) return;
  server_unlink(p, s);
  server_free(s);
}

/* The server's resident set in kB (0 when unknown): one pread of the file
 * kept open since it started (a read from offset 0 is always current)
 * rather than the four calls of an fopen a spawn. */
static long server_rss_kb(const struct weft__pyserver *s) {
  char b[128];
  long pages = 0, rss = 0;
  if (s->statm_fd < 0) return 0;
  ssize_t n = pread(s->statm_fd, b, sizeof b - 1, 0);
  if (n <= 0) return 0;
  b[n] = '\0';
  if (sscanf(b, "%ld %ld", &pages, &rss) != 2) rss = 0;
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- a step ---- */

static int send_spawn(struct weft__pyserver *s, const char *msg, const int fds[STEP_FDS],
                      int n_fds) {
  struct iovec iov = {.iov_base = (void *)msg, .iov_len = strlen(msg)};
  union {
    char buf[CMSG_SPACE(sizeof(int) * STEP_FDS)];
    struct cmsghdr align;
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                      .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
  memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n_fds);
  ssize_t n;
  do n = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)iov.iov_len ? 0 : errno ? errno : EIO;
}

/* The spawn request's JSON text (it may hold secrets: zeroed by the caller). */
static char *spawn_message(const struct weft_step_spec *spec, const char *cwd,
                           char *const *envp, int reuse) {
  json_t *argv = json_array(), *env = json_array();
  for (size_t i = 0; argv && spec->def->argv[i]; i++)
    if (json_array_append_new(argv, json_string(spec->def->argv[i]))) break;
  for (size_t i = 0; env && envp[i]; i++)
    if (json_array_append_new(env, json_string(envp[i]))) break;
  json_t *m = json_pack("{s:s, s:o, s:s, s:o}", "op", "spawn", "argv", argv, "cwd", cwd,
                        "env", env);
  if (m && reuse > 1) json_object_set_new(m, "reuse", json_integer(reuse));
  char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
  json_decref(m);
  return text;
}

static void zero_free(char *s) {
  if (s) memset(s, 0, strlen(s));
  free(s);
}

/* Servers that ended by themselves (idle, WEFT_PYPOOL_IDLE) with no child
 * of ours left: reaped and freed now, not when their key's next step
 * comes, which may be never (a code version no run uses any more). */
static void sweep_ended(struct weft__pypool *p) {
  struct weft__pyserver *next;
  for (struct weft__pyserver *s = p->servers; s; s = next) {
    next = s->next;
    if (s->state != SRV_ACTIVE || s->refs || s->fd < 0) continue;
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR))) {
      server_died(p, s);
      server_maybe_free(p, s);
    }
  }
}

/* How many steps a child of spec's op may run in a row. */
static int reuse_of(const struct weft__pypool *p, const struct weft_step_spec *spec) {
  return spec->def->steps_per_child > 0 ? spec->def->steps_per_child : p->steps_per_child;
}

static int pool_spawn(struct weft__pypool *p, const struct weft_step_spec *spec,
                      const struct weft__work_paths *paths, int events_wfd, pid_t *pid,
                      struct weft__pyserver **srv, int *done_fd, char **note,
                      weft_error *err) {
  struct weft__step_env env = {NULL, NULL, 0};
  char *interp = NULL, *msg = NULL, cwd_buf[4096];
  int fds[STEP_FDS] = {-1, -1, -1, -1, -1}, done[2] = {-1, -1}, rc = WEFT_OK;
  int reuse = reuse_of(p, spec), n_fds = reuse > 1 ? STEP_FDS : STEP_FDS - 1;
  *pid = 0;
  *srv = NULL;
  *done_fd = -1;
  *note = NULL;
  sweep_ended(p);
  const char *cwd = spec->cwd ? spec->cwd : getcwd(cwd_buf, sizeof cwd_buf);
  if (!cwd) return WEFT_OK;
  if ((rc = weft__step_env_build(spec, paths, &env)) ||
      !(interp = find_interp(spec->def->argv[0], env.envp)) ||
      !(msg = spawn_message(spec, cwd, env.envp, reuse))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  /* The step's own files, as spawn.c opens them (before any chdir). */
  fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  fds[1] = open(paths->stdout_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  fds[2] = open(paths->stderr_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  fds[3] = events_wfd;
  /* A reused child outlives its step: it says the step ended on this pipe
   * (its exit code, then EOF), as a fresh child says it by exiting. */
  if (reuse > 1 && !pipe2(done, O_CLOEXEC)) fds[4] = done[1];
  if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || (reuse > 1 && fds[4] < 0)) {
    *note = weft_str_printf("warm pool: cannot open the step's files (%s); starting a "
                            "fresh interpreter", strerror(errno));
    goto done;
  }
  /* One retry: a server that died or whose code changed is replaced. */
  for (int attempt = 0; attempt < 2; attempt++) {
    struct weft__pyserver *s = find_server(p, interp, cwd);
    if (!s && !(s = server_start(p, interp, cwd, env.envp))) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    if (s->state == SRV_FAILED) {
      *note = weft_str_printf("warm pool: %s; starting a fresh interpreter",
                              s->why ? s->why : "the pool server did not start");
      goto done;
    }
    long rss = server_rss_kb(s);
    if (s->forks && (s->forks >= p->max_forks || (rss && rss > p->max_rss_kb))) {
      s->state = SRV_DRAINING; /* recycled: a fresh server takes the step */
      server_maybe_free(p, s);
      attempt--;
      continue;
    }
    if (busy_add(s, 0)) { /* room for the pid, before the child exists */
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    s->n_busy--;
    int e = send_spawn(s, msg, fds, n_fds);
    if (e == EMSGSIZE) {
      *note = strdup("warm pool: the step's environment is too large for the pool; "
                     "starting a fresh interpreter");
      goto done;
    }
    int dead = 0;
    json_t *r = e ? NULL : next_reply(p, s, REPLY_TIMEOUT_MS, 0, &dead);
    if (!r) {
      server_died(p, s);
      server_maybe_free(p, s);
      continue;
    }
    json_t *jpid = json_object_get(r, "pid");
    const char *fb = json_string_value(json_object_get(r, "fallback"));
    if (json_is_integer(jpid) && json_integer_value(jpid) > 0) {
      *pid = (pid_t)json_integer_value(jpid);
      *srv = s;
      s->busy[s->n_busy++] = *pid;
      s->refs++;
      if (!json_is_true(json_object_get(r, "reused"))) s->forks++;
      if (reuse > 1) {
        *done_fd = done[0];
        done[0] = -1;
      }
      json_decref(r);
      goto done;
    }
    if (fb) {
      *note = weft_str_printf("warm pool: %s; starting a fresh interpreter", fb);
      json_decref(r);
      goto done;
    }
    json_decref(r); /* "restart": the code changed under the server */
    s->state = SRV_DRAINING;
    server_maybe_free(p, s);
  }
  *note = strdup("warm pool: the pool server keeps failing; starting a fresh interpreter");
done:
  if (!rc && !*pid && !*note) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0) close(fds[i]);
  for (int i = 0; i < 2; i++)
    if (done[i] >= 0) close(done[i]);
  if (*done_fd >= 0) fcntl(*done_fd, F_SETFL, O_NONBLOCK);
  zero_free(msg);
  free(interp);
  weft__step_env_release(&env);
  return rc;
}

int weft__pypool_spawn(struct weft__pypool *p, const struct weft_step_spec *spec,
                       const struct weft__work_paths *paths, int events_wfd, pid_t *pid,
                       struct weft__pyserver **srv, int *done_fd, char **note,
                       weft_error *err) {
  int64_t t0 = p->debug ? mono_us() : 0;
  pthread_mutex_lock(&p->lock);
  int rc = pool_spawn(p, spec, paths, events_wfd, pid, srv, done_fd, note, err);
  pthread_mutex_unlock(&p->lock);
  if (p->debug)
    fprintf(stderr, "weft pool: step %s: pid %ld from server %ld in %.2f ms%s%s%s\n",
            spec->step, (long)*pid, *srv ? (long)(*srv)->pid : 0L,
            (double)(mono_us() - t0) / 1000, *done_fd >= 0 ? " (reusable child)" : "",
            *note ? ": " : "", *note ? *note : "");
  return rc;
}

/* A reused child's step status from its done pipe: 1 with *status (a wait
 * status, as if it had exited with that code), 0 when it wrote none (it
 * died, or the pipe is not readable yet). */
static int read_done(int done_fd, int *status) {
  char b[32];
  ssize_t n;
  do n = read(done_fd, b, sizeof b - 1);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  b[n] = '\0';
  char *end;
  long code = strtol(b, &end, 10);
  if (end == b || *end != '\n' || code < 0 || code > 255) return 0;
  *status = (int)code << 8;
  return 1;
}

static int pool_finish(struct weft__pypool *p, struct weft__pyserver *s, pid_t pid,
                       int done_fd, int retire, int *status, weft_error *err) {
  int rc = WEFT_OK, found = 0;
  pid_t server = s->pid;
  int64_t end = weft_clock_mono_ms() + STATUS_TIMEOUT_MS;
  *status = 0;
  if (done_fd >= 0 && read_done(done_fd, status)) {
    if (!retire) { /* the child lives on: back to its server for another step */
      char rel[64];
      snprintf(rel, sizeof rel, "{\"op\":\"release\",\"pid\":%ld}", (long)pid);
      busy_remove(s, pid);
      if (s->fd >= 0 && send(s->fd, rel, strlen(rel), MSG_NOSIGNAL) < 0) server_died(p, s);
      s->refs--;
      server_maybe_free(p, s);
      return WEFT_OK;
    }
    found = 1; /* canceled or timed out: the child goes, its code stands */
  }
  /* The child died in its step (no status written), or must go: the rest
   * of its group with it; the zombie holds the group id until reaped. */
  if (done_fd >= 0) kill(-pid, SIGKILL);
  int known = *status, have = found;
  found = 0;
  while (!found) {
    for (size_t i = 0; i < s->n_exits; i++)
      if (s->exits[i].pid == pid) {
        *status = s->exits[i].status;
        s->exits[i] = s->exits[--s->n_exits];
        found = 1;
        break;
      }
    if (found) break;
    int64_t left = end - weft_clock_mono_ms();
    int dead = 0;
    json_t *r = s->fd >= 0 && left > 0 ? next_reply(p, s, (int)left, 1, &dead) : NULL;
    if (!r && s->fd >= 0 && !dead) continue; /* a stray reply: read on */
    json_decref(r);
    if (!r) break;
  }
  if (found && s->fd >= 0) {
    char reap[64];
    snprintf(reap, sizeof reap, "{\"op\":\"reap\",\"pid\":%ld}", (long)pid);
    if (send(s->fd, reap, strlen(reap), MSG_NOSIGNAL) < 0) server_died(p, s);
  }
  if (have) { /* the code the step ended with, not the kill that followed */
    *status = known;
    found = 1;
  }
  if (!found)
    rc = weft_error_set(err, WEFT_EIO, "the warm pool's server (pid %ld) ended before it "
                        "reported the exit of step process %ld", (long)server, (long)pid);
  busy_remove(s, pid);
  s->refs--;
  server_maybe_free(p, s);
  return rc;
}

int weft__pypool_finish(struct weft__pypool *p, struct weft__pyserver *s, pid_t pid,
                        int done_fd, int retire, int *status, weft_error *err) {
  pthread_mutex_lock(&p->lock);
  int rc = pool_finish(p, s, pid, done_fd, retire, status, err);
  pthread_mutex_unlock(&p->lock);
  return rc;
}

pid_t weft__pypool_server_pid(struct weft__pypool *p, const char *interp, const char *root) {
  if (!p) return 0;
  pthread_mutex_lock(&p->lock);
  struct weft__pyserver *s = find_server(p, interp, root);
  pid_t pid = s && s->state == SRV_ACTIVE ? s->pid : 0;
  pthread_mutex_unlock(&p->lock);
  return pid;
}
