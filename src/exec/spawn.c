/* spawn.c: starts one step process with posix_spawn: own process group,
 * signals reset, stdin /dev/null, logs on stdout/stderr, events on fd 3.
 * A step that must die with its starter (die_with_parent) takes a
 * clone(CLONE_VM | CLONE_VFORK) instead, the same set-up plus PR_SET_PDEATHSIG. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/exec_int.h"
#include "util/credential_env.h"
#include "util/fs.h"
#include "util/mask.h"
#include "util/str.h"

extern char **environ;

/* The step's environment: an array of pointers into one string buffer,
 * built after every string is in place since the buffer may move. */
struct env_builder {
  struct weft_buf text;   /* "K=V\0K=V\0..." of the entries we add */
  size_t *offsets;        /* where each added entry starts in text */
  const char **names;     /* the added names, to drop the parent's copies */
  size_t n_added, cap_added;
};

static int env_add(struct env_builder *e, const char *name, const char *value) {
  if (e->n_added == e->cap_added) {
    size_t cap = e->cap_added ? 2 * e->cap_added : 16;
    size_t *offsets = realloc(e->offsets, cap * sizeof *offsets);
    const char **names = realloc(e->names, cap * sizeof *names);
    if (offsets) e->offsets = offsets;
    if (names) e->names = names;
    if (!offsets || !names) return WEFT_ENOMEM;
    e->cap_added = cap;
  }
  size_t at = e->text.len;
  if (weft_buf_addf(&e->text, "%s=%s", name, value) ||
      weft_buf_addc(&e->text, '\0'))
    return WEFT_ENOMEM;
  e->offsets[e->n_added] = at;
  e->names[e->n_added++] = name;
  return WEFT_OK;
}

/* Whether the first `upto` names added define the variable of entry, which
 * is "NAME=VALUE" or a bare "NAME". */
static int overridden(const struct env_builder *e, size_t upto, const char *entry) {
  for (size_t i = 0; i < upto; i++) {
    const char *name = e->names[i];
    size_t len = strlen(name);
    if (entry[0] == name[0] && !strncmp(entry, name, len) &&
        (entry[len] == '=' || entry[len] == '\0'))
      return 1;
  }
  return 0;
}

/* Parent environment (less its credentials), then the op's env:, then the
 * protocol variables; a later definition of a name replaces every earlier
 * one. */
void weft__step_env_release(struct weft__step_env *env) {
  /* It may hold secret values (engine/secrets.h). */
  if (env->block) memset(env->block, 0, env->block_len);
  free(env->block);
  free(env->envp);
  env->block = NULL;
  env->envp = NULL;
}

static const char *kvs_get(const struct weft_kvs *kv, const char *key) {
  for (size_t i = 0; i < kv->n; i++)
    if (!strcmp(kv->v[i].key, key)) return kv->v[i].value ? kv->v[i].value : "";
  return NULL;
}

int weft__step_env_build(const struct weft_step_spec *spec,
                         const struct weft__work_paths *paths, struct weft__step_env *out) {
  struct env_builder e = {WEFT_BUF_INIT, NULL, NULL, 0, 0};
  char attempt[24], events_fd[8];
  char *path_inputs = weft__path_input_names(spec->def);
  char **envp = NULL, *venv_path = NULL;
  int rc = path_inputs ? WEFT_OK : WEFT_ENOMEM;
  snprintf(attempt, sizeof attempt, "%d", spec->attempt);
  snprintf(events_fd, sizeof events_fd, "%d", WEFT__EVENTS_FD);
  const struct weft_kvs *env = &spec->def->env;
  /* Protocol variables go first in `names` so that an op env entry of the
   * same name is dropped below. */
  const char *proto[][2] = {
      {"WEFT_RUN_ID", spec->run_id ? spec->run_id : ""},
      {"WEFT_JOB", spec->job ? spec->job : ""},
      {"WEFT_OP", spec->step},
      {"WEFT_ATTEMPT", attempt},
      {"WEFT_CONFIG", paths->config},
      {"WEFT_INPUTS", paths->inputs},
      {"WEFT_OUTPUTS", paths->outputs},
      {"WEFT_EVENTS", events_fd},
      {"WEFT_PATH_INPUTS", path_inputs ? path_inputs : ""},
  };
  size_t n_proto = sizeof proto / sizeof proto[0];
  for (size_t i = 0; !rc && i < n_proto; i++)
    rc = env_add(&e, proto[i][0], proto[i][1]);
  if (!rc && spec->partition_key) rc = env_add(&e, "WEFT_PARTITION_KEY", spec->partition_key);
  char *secrets_dir = NULL;
  if (!rc && spec->secrets && spec->secrets->files.n &&
      (!(secrets_dir = weft_str_printf("%s/secrets", spec->work_dir)) ||
       env_add(&e, "WEFT_SECRETS_DIR", secrets_dir)))
    rc = WEFT_ENOMEM;
  free(secrets_dir);
  /* The virtualenv goes in front of whichever PATH the step would have
   * had, so it is added before (and so wins over) the env entries. */
  if (!rc && spec->path_prefix) {
    const char *base = kvs_get(env, "PATH");
    if (!base) base = spec->loc_env ? kvs_get(spec->loc_env, "PATH") : NULL;
    if (!base) base = getenv("PATH");
    if (!(venv_path = weft_str_printf("%s%s%s", spec->path_prefix, base ? ":" : "",
                                      base ? base : "")))
      rc = WEFT_ENOMEM;
    else
      rc = env_add(&e, "PATH", venv_path);
  }
  size_t n_fixed = e.n_added;
  for (size_t i = 0; !rc && i < env->n; i++) /* never replaces WEFT_* */
    if (!overridden(&e, n_fixed, env->v[i].key))
      rc = env_add(&e, env->v[i].key, env->v[i].value ? env->v[i].value : "");
  /* env: {NAME: {secret: S}} and {variable: V}, resolved by the caller. */
  const struct weft_kvs *refs = spec->secrets ? &spec->secrets->env : NULL;
  for (size_t i = 0; !rc && refs && i < refs->n; i++)
    if (!overridden(&e, n_fixed, refs->v[i].key))
      rc = env_add(&e, refs->v[i].key, refs->v[i].value ? refs->v[i].value : "");
  /* What the op asked for by name from weft's environment (unset: left out). */
  const struct weft_kvs *from = &spec->def->env_from;
  for (size_t i = 0; !rc && i < from->n; i++) {
    const char *v = getenv(from->v[i].value);
    if (v && !overridden(&e, n_fixed, from->v[i].key)) rc = env_add(&e, from->v[i].key, v);
  }
  /* The location's env sits under the op's: the op knows better. */
  size_t n_op = e.n_added;
  for (size_t i = 0; !rc && spec->loc_env && i < spec->loc_env->n; i++)
    if (!overridden(&e, n_op, spec->loc_env->v[i].key))
      rc = env_add(&e, spec->loc_env->v[i].key,
                   spec->loc_env->v[i].value ? spec->loc_env->v[i].value : "");
  if (rc) goto done;
  size_t n_parent = 0;
  while (environ && environ[n_parent]) n_parent++;
  envp = malloc((n_parent + e.n_added + 1) * sizeof *envp);
  if (!envp) {
    rc = WEFT_ENOMEM;
    goto done;
  }
  size_t n = 0;
  for (size_t i = 0; i < n_parent; i++)
    if (!overridden(&e, e.n_added, environ[i]) && !weft_env_is_credential(environ[i]))
      envp[n++] = environ[i];
  size_t text_len = 0;
  char *text = weft_buf_detach(&e.text, &text_len);
  if (!text) {
    rc = WEFT_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < e.n_added; i++) envp[n++] = text + e.offsets[i];
  envp[n] = NULL;
  out->envp = envp;
  out->block = text;
  out->block_len = text_len;
  envp = NULL;
done:
  free(envp);
  free(venv_path);
  free(path_inputs);
  free(e.offsets);
  free(e.names);
  weft_buf_release(&e.text);
  return rc;
}

char *weft__spawn_failure(const struct weft_step_spec *spec, int spawn_errno,
                          int *exit_code) {
  const char *program = spec->def->argv ? spec->def->argv[0] : "/bin/sh";
  if (spec->cwd && !weft_fs_is_dir(spec->cwd)) {
    *exit_code = 127;
    return weft__strdupf("cannot start: code location folder '%s' does not exist",
                         spec->cwd);
  }
  if (spawn_errno == ENOENT) {
    *exit_code = 127;
    return weft__strdupf("command not found: %s", program);
  }
  *exit_code = spawn_errno == EACCES || spawn_errno == ENOEXEC ? 126 : 127;
  return weft__strdupf("cannot execute %s: %s", program, strerror(spawn_errno));
}

/* What the child of spawn_dying needs: it runs in the parent's memory
 * (CLONE_VM) while the parent waits, so it reads these in place and leaves
 * its errno in err when it cannot exec. */
struct dying {
  const struct weft_step_spec *spec;
  const struct weft__work_paths *paths;
  int events_wfd, use_path;
  pid_t parent;
  char *const *argv, *const *envp;
  volatile int err;
};

/* The child side of spawn_dying: only async-signal-safe calls, no writes
 * to memory but d->err (the parent's memory, the parent paused). Every
 * signal is blocked on entry (spawn_dying), so none of the parent's
 * handlers can run here before the dispositions are reset. */
static int child_setup_and_exec(void *arg) {
  struct dying *d = arg;
  const struct weft_step_spec *spec = d->spec;
  const struct weft__work_paths *paths = d->paths;
  /* SIGKILL when the parent thread ends; if it ended already, before the
   * prctl, we were reparented and must not run at all. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != d->parent) {
    d->err = ESRCH;
    _exit(127);
  }
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
  if (setpgid(0, 0) || sigprocmask(SIG_SETMASK, &none, NULL) ||
      dup2(d->events_wfd, WEFT__EVENTS_FD) < 0)
    goto fail;
  static const int flags[3] = {O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC, O_WRONLY | O_CREAT | O_TRUNC};
  const char *files[3] = {"/dev/null", paths->stdout_log, paths->stderr_log};
  for (int fd = 0; fd < 3; fd++) {
    int o = open(files[fd], flags[fd] | O_CLOEXEC, 0644);
    if (o < 0 || (o != fd && dup2(o, fd) < 0)) goto fail;
    if (o != fd) close(o);
    else if (fcntl(fd, F_SETFD, 0)) goto fail;
  }
  closefrom(WEFT__EVENTS_FD + 1);
  if (spec->cwd && chdir(spec->cwd)) goto fail;
  if (d->use_path) execvpe(d->argv[0], d->argv, d->envp);
  else execve(d->argv[0], d->argv, d->envp);
fail:
  d->err = errno ? errno : EIO;
  _exit(127);
}

/* The child's stack: execvpe builds the candidate paths on it. One per
 * thread, kept: a fresh mapping per step cost its page faults and the
 * munmap's TLB flush every time. Only the paused parent's child uses it. */
#define DYING_STACK (256 * 1024)
static _Thread_local void *dying_stack;

/* Like posix_spawn (clone with CLONE_VM | CLONE_VFORK: no copy of the
 * parent's page tables, which costs milliseconds per step in a VM, and no
 * copy-on-write faults after it), with weft__spawn_step's set-up plus a
 * parent-death SIGKILL, which posix_spawn cannot ask for. Same results:
 * *pid 0 and *spawn_errno set when the program could not be started. */
static int spawn_dying(const struct weft_step_spec *spec, const struct weft__work_paths *paths,
                       int events_wfd, char *const *argv, char *const *envp, int use_path,
                       pid_t *pid, int *spawn_errno, weft_error *err) {
  struct dying d = {spec, paths, events_wfd, use_path, getpid(), argv, envp, 0};
  if (!dying_stack) {
    void *stack = mmap(NULL, DYING_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
      return weft_error_set(err, WEFT_ENOMEM, "step '%s': a stack for clone: %s", spec->step,
                            strerror(errno));
    dying_stack = stack;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  /* Returns once the child has called execve or _exit (CLONE_VFORK). */
  pid_t child = clone(child_setup_and_exec, (char *)dying_stack + DYING_STACK,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &d);
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (child < 0)
    return weft_error_set(err, e == ENOMEM || e == EAGAIN ? WEFT_ENOMEM : WEFT_EIO,
                          "step '%s': clone: %s", spec->step, strerror(e));
  if (d.err) { /* it never ran: reap it, as posix_spawn does */
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    *spawn_errno = d.err;
    return WEFT_OK;
  }
  *pid = child;
  return WEFT_OK;
}

char *weft__find_program(const char *prog, char *const *envp) {
  if (strchr(prog, '/')) return strdup(prog);
  const char *path = NULL;
  for (size_t i = 0; envp[i]; i++)
    if (!strncmp(envp[i], "PATH=", 5)) path = envp[i] + 5;
  if (!path) return NULL;
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    char *cand = weft_str_printf("%.*s/%s", (int)len, len ? path : ".", prog);
    if (!cand) return NULL;
    if (!access(cand, X_OK)) return cand;
    free(cand);
    path += len + (colon ? 1 : 0);
    if (!colon) break;
  }
  return NULL;
}

int weft__spawn_step(const struct weft_step_spec *spec,
                     const struct weft__work_paths *paths, int events_wfd,
                     pid_t *pid, int *spawn_errno, weft_error *err) {
  const struct weft_op_def *def = spec->def;
  char *shell_argv[] = {"/bin/sh", "-c", def->run, NULL};
  char *const *argv = def->argv ? def->argv : shell_argv;
  char **found_argv = NULL; /* argv with argv[0] found on the step's PATH */
  struct weft__step_env env = {NULL, NULL, 0};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int have_fa = 0, have_attr = 0, rc = WEFT_OK, e = 0;
  *pid = 0;
  *spawn_errno = 0;
  if (events_wfd <= WEFT__EVENTS_FD)
    return weft_error_set(err, WEFT_EINVALID, "events fd %d is too low", events_wfd);
  if ((rc = weft__step_env_build(spec, paths, &env))) {
    weft_error_set(err, rc, "out of memory");
    goto done;
  }
  /* An argv op's program is looked up on the step's PATH (a location's
   * --python virtualenv first), not on weft's own, which is all that
   * posix_spawnp and execvpe search; not found there, weft's PATH as
   * before. */
  if (def->argv && !strchr(argv[0], '/')) {
    char *prog = weft__find_program(argv[0], env.envp);
    size_t n = 0;
    while (argv[n]) n++;
    if (prog && (found_argv = calloc(n + 1, sizeof *found_argv))) {
      memcpy(found_argv, argv, n * sizeof *argv);
      found_argv[0] = prog;
      argv = found_argv;
    } else {
      free(prog);
    }
  }
  if (spec->secrets && weft_mask_count(spec->secrets->mask)) {
    rc = weft__spawn_masked(spec, paths, events_wfd, argv, env.envp, def->argv != NULL, pid,
                            spawn_errno, err);
    goto done;
  }
  if (spec->die_with_parent) {
    rc = spawn_dying(spec, paths, events_wfd, argv, env.envp, def->argv != NULL, pid,
                     spawn_errno, err);
    goto done;
  }
  if ((e = posix_spawn_file_actions_init(&fa))) goto spawn_setup_failed;
  have_fa = 1;
  /* Order matters: the logs open before the chdir, so a relative work
   * folder still names the right files. */
  if ((e = posix_spawn_file_actions_adddup2(&fa, events_wfd, WEFT__EVENTS_FD)) ||
      (e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
      (e = posix_spawn_file_actions_addopen(&fa, 1, paths->stdout_log,
                                            O_WRONLY | O_CREAT | O_TRUNC, 0644)) ||
      (e = posix_spawn_file_actions_addopen(&fa, 2, paths->stderr_log,
                                            O_WRONLY | O_CREAT | O_TRUNC, 0644)) ||
      (e = posix_spawn_file_actions_addclosefrom_np(&fa, WEFT__EVENTS_FD + 1)) ||
      (spec->cwd && (e = posix_spawn_file_actions_addchdir_np(&fa, spec->cwd))))
    goto spawn_setup_failed;
  if ((e = posix_spawnattr_init(&attr))) goto spawn_setup_failed;
  have_attr = 1;
  sigset_t all, none;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  sigemptyset(&none);
  if ((e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                               POSIX_SPAWN_SETSIGDEF |
                                               POSIX_SPAWN_SETSIGMASK)) ||
      (e = posix_spawnattr_setpgroup(&attr, 0)) ||
      (e = posix_spawnattr_setsigdefault(&attr, &all)) ||
      (e = posix_spawnattr_setsigmask(&attr, &none)))
    goto spawn_setup_failed;
  if (def->argv)
    e = posix_spawnp(pid, argv[0], &fa, &attr, argv, env.envp);
  else
    e = posix_spawn(pid, argv[0], &fa, &attr, argv, env.envp);
  if (e) {
    *pid = 0;
    *spawn_errno = e;
  }
  goto done;
spawn_setup_failed:
  rc = weft_error_set(err, e == ENOMEM ? WEFT_ENOMEM : WEFT_EIO,
                      "step '%s': preparing posix_spawn: %s", spec->step,
                      strerror(e));
done:
  if (have_fa) posix_spawn_file_actions_destroy(&fa);
  if (have_attr) posix_spawnattr_destroy(&attr);
  if (found_argv) free(found_argv[0]);
  free(found_argv);
  weft__step_env_release(&env);
  return rc;
}
