/* exec_container.c: a step in a container: the request built from the step
 * spec, and the supervisor process that drives the container to its end.
 *
 * The executor forks a supervisor per container step (weft__container_spawn)
 * and watches it like any step process: its exit status is the container's,
 * SIGTERM to it is a cancel or a timeout. The supervisor, on a connection
 * of its own to the engine:
 *
 *   ENSURE_IMAGE --> CREATE --> ATTACH+START --> FOLLOW ----> INSPECT -------+
 *   (pull policy)   (labels,    (output into the step's      (exited: its   |
 *        |           binds)      log files, events file       code, OOM?)   |
 *        |             |         tailed onto fd 3)           still running: |
 *        |             |                                    WAIT, INSPECT  v
 *        +-- error ----+--------------------------------------------> REMOVE --> exit
 *                                 | SIGTERM: STOP (grace, then         ^
 *                                 |  SIGKILL by the engine) ----------+
 *
 * It writes WORK/container.json twice (after CREATE: id and digest; at the
 * end: exit code, OOM, error) for the executor to read (weft__container_
 * status). Should the supervisor itself be killed, the executor removes the
 * container by name (weft__container_reap). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "containers/containers.h"
#include "exec/exec_int.h"
#include "util/fs.h"
#include "util/mask.h"
#include "util/str.h"

#define IN_CODE "/weft/code"
#define IN_EVENTS "/weft/events.jsonl"
#define IN_SECRETS "/weft/secrets"
#define STATUS_FILE "container.json"
#define EVENTS_FILE "events.jsonl"

/* A NULL-terminated list of owned strings. */
struct strv {
  char **v;
  size_t n, cap;
};

static int strv_add(struct strv *s, char *owned) {
  if (!owned) return WEFT_ENOMEM;
  if (s->n + 2 > s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 16;
    char **v = realloc(s->v, cap * sizeof *v);
    if (!v) {
      free(owned);
      return WEFT_ENOMEM;
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = owned;
  s->v[s->n] = NULL;
  return WEFT_OK;
}

static void strv_release(struct strv *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  memset(s, 0, sizeof *s);
}

/* Whether env already defines name ("NAME=..."). */
static int strv_has_env(const struct strv *s, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < s->n; i++)
    if (!strncmp(s->v[i], name, len) && s->v[i][len] == '=') return 1;
  return 0;
}

/* Everything the supervisor needs, built in the parent before the fork. */
struct ctr_job {
  char *url, *name, *image, *work_dir, *status_path, *events_path, *auth_file;
  int pull, grace_s, die_with_parent;
  struct strv env, labels, entrypoint;
  struct weft_ctr_mount *mounts; /* the step protocol's, then the op's */
  char **mount_src, **mount_dst;
  size_t n_mounts;
  char user[48];
  const char *network;
  char *network_copy;
  struct weft_resources res;
  /* Secret values to mask in its output (the parent's, still valid in the
   * forked supervisor), or NULL. */
  const struct weft_mask *mask;
};

static void ctr_job_release(struct ctr_job *j) {
  free(j->url);
  free(j->name);
  free(j->image);
  free(j->work_dir);
  free(j->status_path);
  free(j->events_path);
  free(j->auth_file);
  free(j->network_copy);
  strv_release(&j->env);
  strv_release(&j->labels);
  strv_release(&j->entrypoint);
  for (size_t i = 0; i < j->n_mounts; i++) {
    free(j->mount_src[i]);
    free(j->mount_dst[i]);
  }
  free(j->mounts);
  free(j->mount_src);
  free(j->mount_dst);
  memset(j, 0, sizeof *j);
}

/* Takes host; copies target. The arrays were sized for every mount. */
static int add_mount(struct ctr_job *j, char *host, const char *target, int ro) {
  char *dst = weft_str_dup(target);
  if (!host || !dst) {
    free(host);
    free(dst);
    return WEFT_ENOMEM;
  }
  j->mount_src[j->n_mounts] = host;
  j->mount_dst[j->n_mounts] = dst;
  j->mounts[j->n_mounts++] = (struct weft_ctr_mount){host, dst, ro};
  return WEFT_OK;
}

/* Container names allow [a-zA-Z0-9_.-]: anything else becomes '_'. */
static char *container_name(const struct weft_step_spec *spec) {
  unsigned rnd = (unsigned)getpid() ^ (unsigned)time(NULL);
  char *n = spec->run_id ? weft_str_printf("weft-%s-%s-%d", spec->run_id, spec->step, spec->attempt)
                         : weft_str_printf("weft-%s-%d-%x", spec->step, spec->attempt, rnd);
  for (char *p = n; p && *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '.' || *p == '-'))
      *p = '_';
  return n;
}

/* The container's environment: the location's env under the op's, then
 * the protocol's variables (which win), with the container's paths. */
static int build_env(const struct weft_step_spec *spec, struct strv *env) {
  const struct weft_op_def *def = spec->def;
  char *path_inputs = weft__path_input_names(def);
  int rc = path_inputs ? WEFT_OK : WEFT_ENOMEM;
  const char *proto[][2] = {
      {"WEFT_RUN_ID", spec->run_id ? spec->run_id : ""},
      {"WEFT_JOB", spec->job ? spec->job : ""},
      {"WEFT_OP", spec->step},
      {"WEFT_CONFIG", "/weft/config.json"},
      {"WEFT_INPUTS", "/weft/inputs"},
      {"WEFT_OUTPUTS", "/weft/outputs"},
      {"WEFT_EVENTS", def->argv ? IN_EVENTS : "3"},
      {"WEFT_EVENTS_FILE", IN_EVENTS},
      {"WEFT_PATH_INPUTS", path_inputs ? path_inputs : ""},
      {"WEFT_CODE_DIR", IN_CODE},
      {"WEFT_SDK", "/weft/sdk"},
      {"PYTHONPATH", "/weft/sdk/python"},
  };
  for (size_t i = 0; !rc && i < sizeof proto / sizeof proto[0]; i++)
    rc = strv_add(env, weft_str_printf("%s=%s", proto[i][0], proto[i][1]));
  if (!rc) rc = strv_add(env, weft_str_printf("WEFT_ATTEMPT=%d", spec->attempt));
  if (!rc && spec->partition_key)
    rc = strv_add(env, weft_str_printf("WEFT_PARTITION_KEY=%s", spec->partition_key));
  const struct weft_step_secrets *sec = spec->secrets;
  if (!rc && sec && sec->files.n) rc = strv_add(env, weft_str_dup("WEFT_SECRETS_DIR=" IN_SECRETS));
  /* env: {NAME: {secret: S}} and {variable: V}, resolved by the caller. */
  for (size_t i = 0; !rc && sec && i < sec->env.n; i++)
    if (!strv_has_env(env, sec->env.v[i].key))
      rc = strv_add(env, weft_str_printf("%s=%s", sec->env.v[i].key,
                                         sec->env.v[i].value ? sec->env.v[i].value : ""));
  /* The op's env over the location's; WEFT_LOCATION_DIR is a host path
   * the container cannot see, so it is left out. */
  for (size_t i = 0; !rc && i < def->env.n; i++)
    if (!strv_has_env(env, def->env.v[i].key))
      rc = strv_add(env, weft_str_printf("%s=%s", def->env.v[i].key,
                                         def->env.v[i].value ? def->env.v[i].value : ""));
  /* env: {NAME: {from_env: VAR}}: weft's own $VAR, asked for by name (the
   * container inherits nothing else of weft's environment). */
  for (size_t i = 0; !rc && i < def->env_from.n; i++) {
    const char *v = getenv(def->env_from.v[i].value);
    if (v && !strv_has_env(env, def->env_from.v[i].key))
      rc = strv_add(env, weft_str_printf("%s=%s", def->env_from.v[i].key, v));
  }
  for (size_t i = 0; !rc && spec->loc_env && i < spec->loc_env->n; i++) {
    const struct weft_kv *kv = &spec->loc_env->v[i];
    if (strcmp(kv->key, "WEFT_LOCATION_DIR") && !strv_has_env(env, kv->key))
      rc = strv_add(env, weft_str_printf("%s=%s", kv->key, kv->value ? kv->value : ""));
  }
  free(path_inputs);
  return rc;
}

static int ctr_job_init(const struct weft_step_spec *spec, const struct weft__work_paths *paths,
                        struct ctr_job *j, weft_error *err) {
  const struct weft_step_container *c = spec->container;
  const struct weft_op_def *def = spec->def;
  int rc = WEFT_OK;
  memset(j, 0, sizeof *j);
  j->pull = c->pull;
  j->grace_s = (int)ceil(spec->kill_grace_s > 0 ? spec->kill_grace_s : 5);
  j->die_with_parent = spec->die_with_parent;
  j->res = c->has_resources ? c->resources : def->resources;
  snprintf(j->user, sizeof j->user, "%u:%u", (unsigned)getuid(), (unsigned)getgid());
  if (!(j->url = weft_str_dup(c->url)) || !(j->image = weft_str_dup(c->image)) ||
      !(j->name = container_name(spec)) || !(j->work_dir = weft_str_dup(spec->work_dir)) ||
      !(j->status_path = weft_fs_join(spec->work_dir, STATUS_FILE)) ||
      !(j->events_path = weft_fs_join(spec->work_dir, EVENTS_FILE)) ||
      (c->network && !(j->network_copy = weft_str_dup(c->network))) ||
      (c->auth_file && !(j->auth_file = weft_str_dup(c->auth_file))))
    goto nomem;
  j->network = j->network_copy;
  if ((rc = build_env(spec, &j->env))) goto nomem;
  /* Labels: weft's own (gc-containers finds its containers by them). */
  if (strv_add(&j->labels, weft_str_printf(WEFT_CTR_LABEL_INSTANCE "=%s",
                                           c->instance ? c->instance : "")) ||
      strv_add(&j->labels, weft_str_printf(WEFT_CTR_LABEL_RUN "=%s",
                                           spec->run_id ? spec->run_id : "")) ||
      strv_add(&j->labels, weft_str_printf(WEFT_CTR_LABEL_STEP "=%s", spec->step)) ||
      strv_add(&j->labels, weft_str_printf(WEFT_CTR_LABEL_ATTEMPT "=%d", spec->attempt)))
    goto nomem;
  for (size_t i = 0; c->labels && c->labels[i]; i++)
    if (strv_add(&j->labels, weft_str_dup(c->labels[i]))) goto nomem;
  /* run: the image's sh, fd 3 on the events file first; argv: as given. */
  if (def->argv) {
    for (size_t i = 0; def->argv[i]; i++)
      if (strv_add(&j->entrypoint, weft_str_dup(def->argv[i]))) goto nomem;
  } else if (strv_add(&j->entrypoint, weft_str_dup("/bin/sh")) ||
             strv_add(&j->entrypoint, weft_str_dup("-c")) ||
             strv_add(&j->entrypoint, weft_str_printf("exec 3>>" IN_EVENTS "\n%s", def->run))) {
    goto nomem;
  }
  size_t cap = 7 + def->n_mounts;
  if (!(j->mounts = calloc(cap, sizeof *j->mounts)) ||
      !(j->mount_src = calloc(cap, sizeof *j->mount_src)) ||
      !(j->mount_dst = calloc(cap, sizeof *j->mount_dst)))
    goto nomem;
  for (size_t i = 0; i < def->n_mounts; i++) /* the op's mounts: (dsl checked them) */
    if (add_mount(j, weft_str_dup(def->mounts[i].source), def->mounts[i].target,
                  def->mounts[i].read_only))
      goto nomem;
  if (add_mount(j, weft_str_dup(spec->cwd ? spec->cwd : spec->work_dir), IN_CODE, 1) ||
      add_mount(j, weft_str_dup(paths->config), "/weft/config.json", 1) ||
      add_mount(j, weft_str_dup(paths->inputs), "/weft/inputs", 0) ||
      add_mount(j, weft_str_dup(paths->outputs), "/weft/outputs", 0) ||
      add_mount(j, weft_str_dup(j->events_path), IN_EVENTS, 0) ||
      (c->sdk_dir && add_mount(j, weft_str_dup(c->sdk_dir), "/weft/sdk", 1)) ||
      (spec->secrets && spec->secrets->files.n &&
       add_mount(j, weft_fs_join(spec->work_dir, "secrets"), IN_SECRETS, 1)))
    goto nomem;
  j->mask = spec->secrets ? spec->secrets->mask : NULL;
  return WEFT_OK;
nomem:
  ctr_job_release(j);
  return weft_error_set(err, WEFT_ENOMEM, "out of memory");
}

/* ---- the supervisor (runs in the forked child) ---- */

static volatile sig_atomic_t terminate_requested;
static int wake_pipe[2] = {-1, -1};

static void on_terminate(int sig) {
  (void)sig;
  int e = errno;
  terminate_requested = 1;
  if (wake_pipe[1] >= 0 && write(wake_pipe[1], "x", 1) < 0) {
  }
  errno = e;
}

struct supervisor {
  struct ctr_job *j;
  struct weft_ctr_engine *e, *stopper; /* the logs stream holds e's socket */
  const char *id;
  int out_fd, err_fd, events_fd, events_in;
  int stopped;
  struct weft_mask_stream mask[2]; /* stdout, stderr */
  char error[1024];
};

static void write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

/* Moves what the op appended to the events file onto the events pipe. */
static void tail_events(struct supervisor *s) {
  char buf[65536];
  if (s->events_in < 0) s->events_in = open(s->j->events_path, O_RDONLY | O_CLOEXEC);
  if (s->events_in < 0) return;
  ssize_t n;
  while ((n = read(s->events_in, buf, sizeof buf)) > 0) write_all(s->events_fd, buf, (size_t)n);
}

static int mask_sink(void *ctx, const char *p, size_t n) {
  write_all(*(int *)ctx, p, n);
  return 0;
}

/* The container's output into the log files, secret values masked. */
static int on_output(void *data, int stream, const char *buf, size_t n) {
  struct supervisor *s = data;
  int *fd = stream == 2 ? &s->err_fd : &s->out_fd;
  weft_mask_stream_feed(&s->mask[stream == 2], buf, n, mask_sink, fd);
  return 0;
}

static void stop_once(struct supervisor *s) {
  if (s->stopped || !s->id) return;
  s->stopped = 1;
  weft_error e = WEFT_ERROR_INIT;
  if (weft_ctr_stop(s->stopper, s->id, s->j->grace_s, &e))
    weft_ctr_remove(s->stopper, s->id, &e); /* the engine is what it is: kill */
}

static int on_tick(void *data) {
  struct supervisor *s = data;
  char drain[64];
  while (read(wake_pipe[0], drain, sizeof drain) > 0) {
  }
  tail_events(s);
  if (terminate_requested) stop_once(s);
  return 0;
}

static void write_status(struct supervisor *s, const struct weft_ctr_image *img, int exit_code,
                         int oom, int64_t memory) {
  json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "name", s->j->name, "image", s->j->image,
                        "id", s->id, "digest", img ? img->digest : NULL, "image_id",
                        img ? img->id : NULL);
  if (!o) return;
  if (exit_code >= 0) json_object_set_new(o, "exit_code", json_integer(exit_code));
  if (oom) json_object_set_new(o, "oom_killed", json_true());
  if (memory > 0) json_object_set_new(o, "memory", json_integer(memory));
  if (s->stopped) json_object_set_new(o, "stopped", json_true());
  if (s->error[0]) json_object_set_new(o, "error", json_string(s->error));
  char *text = json_dumps(o, JSON_COMPACT);
  weft_error e = WEFT_ERROR_INIT;
  if (text) weft_fs_write_atomic(s->j->status_path, text, strlen(text), 0, &e);
  free(text);
  json_decref(o);
}

/* The supervisor's body: returns its exit status (the container's, or 125
 * when the container could not be run, as `docker run` does). */
static int supervise(struct ctr_job *j, int events_fd, int out_fd, int err_fd) {
  struct supervisor s = {j, NULL, NULL, NULL, out_fd, err_fd, events_fd, -1, 0, {{0}}, {0}};
  struct weft_ctr_image img = {0};
  struct weft_ctr_state st = {0};
  weft_error e = WEFT_ERROR_INIT;
  char *id = NULL;
  int status = 125, exit_code = -1, rc;
  if (weft_mask_stream_init(&s.mask[0], j->mask, 0) ||
      weft_mask_stream_init(&s.mask[1], j->mask, 0)) {
    rc = weft_error_set(&e, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = weft_ctr_engine_open(j->url, &s.e, &e)) ||
      (rc = weft_ctr_engine_open(j->url, &s.stopper, &e)) ||
      (rc = weft_ctr_engine_set_auth_file(s.e, j->auth_file)))
    goto fail;
  if ((rc = weft_ctr_image_ensure(s.e, j->image, (enum weft_ctr_pull)j->pull, &img, &e))) goto fail;
  if (terminate_requested) {
    status = 128 + SIGTERM;
    goto done;
  }
  struct weft_ctr_spec spec = {
      .name = j->name, .image = j->image, .entrypoint = j->entrypoint.v, .env = j->env.v,
      .workdir = IN_CODE, .user = j->user, .mounts = j->mounts, .n_mounts = j->n_mounts,
      .labels = j->labels.v, .network = j->network, .cpus = j->res.cpus,
      .memory = j->res.memory, .shm = j->res.shm, .gpus = j->res.gpus};
  rc = weft_ctr_create(s.e, &spec, &id, &e);
  if (rc == WEFT_ECONFLICT) { /* a container of this attempt outlived its step */
    weft_error ignored = WEFT_ERROR_INIT;
    weft_ctr_remove(s.e, j->name, &ignored);
    rc = weft_ctr_create(s.e, &spec, &id, &e);
  }
  if (rc) goto fail;
  s.id = id;
  write_status(&s, &img, -1, 0, 0);
  if (terminate_requested) {
    status = 128 + SIGTERM;
    goto done;
  }
  /* Attached before it starts: all it prints, and its end at once. */
  struct weft_ctr_log_sink sink = {on_output, on_tick, wake_pipe[0], 100, &s};
  if ((rc = weft_ctr_attach_start(s.e, id, &sink, &e))) {
    struct weft_ctr_state now = {0};
    weft_error ie = WEFT_ERROR_INIT;
    int never_ran = !weft_ctr_inspect(s.e, id, &now, &ie) && !strcmp(now.status, "created");
    weft_ctr_state_release(&now);
    if (never_ran) goto fail; /* the start failed: its message is in e */
    /* Output lost (the engine restarted?): the exit status still counts. */
    char line[1200];
    int n = snprintf(line, sizeof line, "weft: container output: %s\n", e.msg);
    write_all(err_fd, line, (size_t)(n > 0 ? n : 0));
  }
  if (terminate_requested) stop_once(&s);
  /* The logs end when the container does: inspect says how it ended. Only
   * when it still looks alive, wait (Podman's wait polls: it costs up to
   * half a second more than the inspect). */
  /* Podman says "stopped" between the exit and its clean-up: ended too. */
  if (!(rc = weft_ctr_inspect(s.e, id, &st, &e)) && !st.running &&
      (!strcmp(st.status, "exited") || !strcmp(st.status, "stopped"))) {
    exit_code = st.exit_code;
  } else {
    weft_ctr_state_release(&st);
    if ((rc = weft_ctr_wait(s.e, id, &exit_code, &e))) goto fail;
    if ((rc = weft_ctr_inspect(s.e, id, &st, &e))) goto fail;
  }
  tail_events(&s);
  /* Podman 4 on cgroup v1 never reports OOMKilled: a SIGKILL weft did not
   * send, under a memory limit, is the limit's doing. */
  int64_t memory = st.memory;
  int oom = st.oom_killed || (exit_code == 137 && memory > 0 && !s.stopped);
  status = exit_code & 0xff;
  write_status(&s, &img, exit_code, oom, memory);
  goto done;
fail:
  snprintf(s.error, sizeof s.error, "%s", e.msg);
  {
    char line[1200];
    int n = snprintf(line, sizeof line, "weft: %s\n", e.msg);
    write_all(err_fd, line, (size_t)(n > 0 ? n : 0));
  }
  write_status(&s, img.id ? &img : NULL, -1, 0, 0);
done:
  weft_mask_stream_finish(&s.mask[0], mask_sink, &s.out_fd);
  weft_mask_stream_finish(&s.mask[1], mask_sink, &s.err_fd);
  weft_mask_stream_release(&s.mask[0]);
  weft_mask_stream_release(&s.mask[1]);
  if (id) {
    weft_error ignored = WEFT_ERROR_INIT;
    weft_ctr_remove(s.stopper ? s.stopper : s.e, id, &ignored);
  }
  if (s.events_in >= 0) close(s.events_in);
  free(id);
  weft_ctr_image_release(&img);
  weft_ctr_state_release(&st);
  weft_ctr_engine_free(s.e);
  weft_ctr_engine_free(s.stopper);
  return status;
}

/* The child: the step's process group, its logs on 1 and 2, the events
 * pipe kept; then supervise and _exit (no atexit handlers of the parent). */
static void child_main(struct ctr_job *j, const struct weft__work_paths *paths, int events_wfd,
                       pid_t parent) {
  if (j->die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)) _exit(125);
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Keep only the events pipe (as fd 3) of the parent's descriptors: no
   * exec follows to close the rest, and a supervisor lives as long as its
   * container (it must not hold a server's socket or other steps' pipes). */
  if (events_wfd != WEFT__EVENTS_FD && dup2(events_wfd, WEFT__EVENTS_FD) < 0) _exit(125);
  events_wfd = WEFT__EVENTS_FD;
  closefrom(WEFT__EVENTS_FD + 1);
  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK)) _exit(125);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_terminate;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open(paths->stdout_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open(paths->stderr_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
    _exit(125);
  _exit(supervise(j, events_wfd, 1, 2));
}

int weft__container_spawn(const struct weft_step_spec *spec, const struct weft__work_paths *paths,
                          int events_wfd, pid_t *pid, char **name, weft_error *err) {
  struct ctr_job j;
  *pid = 0;
  *name = NULL;
  int rc = ctr_job_init(spec, paths, &j, err);
  if (rc) return rc;
  /* The events file exists before the container mounts it, writable by
   * whichever user the container runs as. */
  int fd = open(j.events_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    rc = weft_error_set(err, WEFT_EIO, "%s: %s", j.events_path, strerror(errno));
    goto done;
  }
  close(fd);
  unlink(j.status_path);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    rc = weft_error_set(err, errno == ENOMEM || errno == EAGAIN ? WEFT_ENOMEM : WEFT_EIO,
                        "step '%s': fork: %s", spec->step, strerror(errno));
    goto done;
  }
  if (child == 0) child_main(&j, paths, events_wfd, parent);
  setpgid(child, child); /* also in the child: whichever runs first */
  *pid = child;
  *name = j.name;
  j.name = NULL;
done:
  ctr_job_release(&j);
  return rc;
}

/* ---- the executor's side, once the supervisor exited ---- */

int weft__container_status(const char *work_dir, struct weft_step_result *r, char **message) {
  struct weft_buf text = WEFT_BUF_INIT;
  weft_error e = WEFT_ERROR_INIT;
  char *path = weft_fs_join(work_dir, STATUS_FILE);
  *message = NULL;
  if (!path) return WEFT_ENOMEM;
  int rc = weft_fs_read_file(path, &text, &e);
  free(path);
  if (rc) {
    weft_buf_release(&text);
    return rc == WEFT_ENOMEM ? rc : WEFT_ENOTFOUND;
  }
  json_t *o = json_loadb(text.ptr ? text.ptr : "", text.len, 0, NULL);
  weft_buf_release(&text);
  if (!o) return WEFT_ENOTFOUND;
  const char *id = json_string_value(json_object_get(o, "id"));
  const char *image = json_string_value(json_object_get(o, "image"));
  const char *digest = json_string_value(json_object_get(o, "digest"));
  const char *error = json_string_value(json_object_get(o, "error"));
  rc = WEFT_OK;
  if ((id && !(r->container_id = weft_str_dup(id))) ||
      (image && !(r->image = weft_str_dup(image))) ||
      (digest && !(r->image_digest = weft_str_dup(digest))))
    rc = WEFT_ENOMEM;
  if (!rc && error) {
    *message = weft__strdupf("container engine: %s", error);
  } else if (!rc && json_is_true(json_object_get(o, "oom_killed"))) {
    char limit[32];
    weft_ctr_format_bytes((int64_t)json_integer_value(json_object_get(o, "memory")), limit,
                          sizeof limit);
    *message = weft__strdupf("killed: out of memory (limit %s)", limit);
  }
  if (!rc && (error || json_is_true(json_object_get(o, "oom_killed"))) && !*message)
    rc = WEFT_ENOMEM;
  json_decref(o);
  return rc;
}

void weft__container_reap(const char *url, const char *name) {
  struct weft_ctr_engine *e = NULL;
  weft_error ignored = WEFT_ERROR_INIT;
  if (!weft_ctr_engine_open(url, &e, &ignored)) weft_ctr_remove(e, name, &ignored);
  weft_ctr_engine_free(e);
}
