/* coordinator_spawn.c: spawns `weft run coordinate RUN` as a session of its
 * own for each run a dequeuer admits, and reaps those processes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sched/coord_service.h"
#include "sched/coordinator_spawn.h"
#include "sched/run_queue.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/log.h"

extern char **environ;

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; v && i < n; i++) free(v[i]);
  free(v);
}

/* environ with WEFT_HOME pointing at the instance. */
static char **spawn_env(const char *home) {
  size_t n = 0, k = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 2, sizeof *env);
  if (!env) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (weft_str_has_prefix(environ[i], "WEFT_HOME=")) continue;
    if (!(env[k++] = strdup(environ[i]))) goto fail;
  }
  if (!(env[k] = weft_str_printf("WEFT_HOME=%s", home))) goto fail;
  return env;
fail:
  free_strv(env, n + 1);
  return NULL;
}

int weft_coord_spawner_set_args(struct weft_coord_spawner *sp, const char *const *args,
                                size_t n_args, weft_error *err) {
  char **v = calloc(n_args + 1, sizeof *v);
  if (!v) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t i = 0; i < n_args; i++)
    if (!(v[i] = strdup(args[i]))) {
      free_strv(v, n_args);
      return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
  pthread_mutex_lock(&sp->mu);
  free_strv(sp->args, sp->n_args);
  sp->args = v;
  sp->n_args = n_args;
  pthread_mutex_unlock(&sp->mu);
  return WEFT_OK;
}

int weft_coord_spawner_init(struct weft_coord_spawner *sp, const struct weft_instance *inst,
                            const char *exe, const char *const *args, size_t n_args,
                            weft_error *err) {
  memset(sp, 0, sizeof *sp);
  pthread_mutex_init(&sp->mu, NULL);
  if (!(sp->exe = strdup(exe ? exe : "/proc/self/exe")) || !(sp->env = spawn_env(inst->home)) ||
      !(sp->runs_dir = strdup(inst->runs_dir))) {
    weft_coord_spawner_release(sp);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  int rc = weft_coord_spawner_set_args(sp, args, n_args, err);
  if (rc) weft_coord_spawner_release(sp);
  return rc;
}

/* path made absolute against the working folder; caller frees. */
static char *absolute(const char *path) {
  char *r = realpath(path, NULL);
  return r ? r : strdup(path);
}

int weft_coord_spawner_init_workspace(struct weft_coord_spawner *sp,
                                      const struct weft_instance *inst, const char *ws_file,
                                      char *const *paths, size_t n_paths, weft_error *err) {
  char **args = calloc(2 * n_paths + 2, sizeof *args);
  size_t n = 0;
  int rc = WEFT_OK;
  if (!args) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t i = 0; i < n_paths && !rc; i++) {
    args[n++] = strdup("-l");
    if (!args[n - 1] || !(args[n++] = absolute(paths[i])))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  if (!rc && !n_paths && (ws_file || weft_fs_exists("workspace.yaml"))) {
    args[n++] = strdup("-w");
    if (!args[n - 1] || !(args[n++] = absolute(ws_file ? ws_file : "workspace.yaml")))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  if (!rc) rc = weft_coord_spawner_init(sp, inst, NULL, (const char *const *)args, n, err);
  free_strv(args, n);
  return rc;
}

void weft_coord_spawner_release(struct weft_coord_spawner *sp) {
  size_t n_env = 0;
  while (sp->env && sp->env[n_env]) n_env++;
  free_strv(sp->env, n_env);
  free_strv(sp->args, sp->n_args);
  for (size_t i = 0; i < sp->n_children; i++) free(sp->children[i].run_id);
  free(sp->children);
  free(sp->exe);
  free(sp->runs_dir);
  pthread_mutex_destroy(&sp->mu);
  memset(sp, 0, sizeof *sp);
}

/* Under sp->mu. */
static int remember_child(struct weft_coord_spawner *sp, pid_t pid, const char *run_id) {
  if (sp->n_children == sp->cap_children) {
    size_t cap = sp->cap_children ? sp->cap_children * 2 : 16;
    struct weft_coord_child *nv = realloc(sp->children, cap * sizeof *nv);
    if (!nv) return WEFT_ENOMEM;
    sp->children = nv;
    sp->cap_children = cap;
  }
  char *id = strdup(run_id);
  if (!id) return WEFT_ENOMEM;
  sp->children[sp->n_children++] = (struct weft_coord_child){pid, id};
  return WEFT_OK;
}

/* Descriptors and signals of a coordinator (see the header). */
static int prepare(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, const char *log) {
  sigset_t none, reset;
  sigemptyset(&none);
  sigemptyset(&reset);
  /* What the spawner blocks or ignores must not carry over into the
   * coordinator (ignored signals survive exec). */
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&reset, sigs[i]);
  int rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
  if (!rc) rc = posix_spawn_file_actions_addopen(fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (!rc) rc = posix_spawn_file_actions_adddup2(fa, 1, 2);
  if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
  if (!rc) rc = posix_spawnattr_setsigmask(at, &none);
  if (!rc) rc = posix_spawnattr_setsigdefault(at, &reset);
  if (!rc)
    rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF);
  return rc;
}

int weft_coord_spawn(struct weft_coord_spawner *sp, const char *run_id, const char *in_run,
                     pid_t *pid_out, weft_error *err) {
  char *dir = weft_fs_join(sp->runs_dir, run_id);
  char *log = dir ? weft_fs_join(dir, "coordinator.log") : NULL;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  int have_fa = 0, have_at = 0, rc;
  const char **argv = NULL;
  pthread_mutex_lock(&sp->mu);
  /* weft run coordinate RUN, ARGS, --in-run LIST, NULL */
  if (!dir || !log || !(argv = calloc(4 + sp->n_args + 2 + 1, sizeof *argv))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = weft_fs_mkdirs(dir, err))) goto done;
  size_t n = 0;
  argv[n++] = "weft";
  argv[n++] = "run";
  argv[n++] = "coordinate";
  argv[n++] = run_id;
  for (size_t i = 0; i < sp->n_args; i++) argv[n++] = sp->args[i];
  if (in_run) {
    argv[n++] = "--in-run";
    argv[n++] = in_run;
  }
  argv[n] = NULL;
  if ((rc = posix_spawn_file_actions_init(&fa)) == 0) have_fa = 1;
  if (!rc && (rc = posix_spawnattr_init(&at)) == 0) have_at = 1;
  if (!rc) rc = prepare(&fa, &at, log);
  if (rc) {
    rc = weft_error_set(err, WEFT_EIO, "cannot prepare a coordinator: %s", strerror(rc));
    goto done;
  }
  /* Under the lock, so the reaper cannot collect the child before it is
   * known. */
  pid_t pid;
  int e = posix_spawn(&pid, sp->exe, &fa, &at, (char *const *)argv, sp->env);
  if (e)
    rc = weft_error_set(err, WEFT_EIO, "cannot start a coordinator (%s): %s", sp->exe,
                        strerror(e));
  else if (remember_child(sp, pid, run_id))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!e && pid_out) *pid_out = pid;
done:
  pthread_mutex_unlock(&sp->mu);
  if (have_fa) posix_spawn_file_actions_destroy(&fa);
  if (have_at) posix_spawnattr_destroy(&at);
  free(argv);
  free(log);
  free(dir);
  return rc;
}

/* A coordinator service is up (coord_service.h): it drives the run, no
 * process is spawned. It loads jobs from code snapshots only. */
static int goes_to_a_service(struct weft_instance *inst, const struct weft_run_row *run) {
  return run->code_version && weft_coord_service_up(inst);
}

int weft_coord_spawn_fn(void *spawner, struct weft_instance *inst,
                        const struct weft_run_row *run, const char *in_run, weft_error *err) {
  if (goes_to_a_service(inst, run)) return weft_coord_handoff(inst, run->id, in_run, err);
  return weft_coord_spawn(spawner, run->id, in_run, NULL, err);
}

int weft_coord_hand_fn(void *spawner, struct weft_instance *inst,
                       const struct weft_run_row *run, const char *in_run, weft_error *err) {
  (void)spawner;
  if (!goes_to_a_service(inst, run)) return 0;
  int rc = weft_coord_handoff_in_tx(inst, run->id, in_run, err);
  return rc ? rc : 1;
}

int weft_coord_dequeue(struct weft_coord_spawner *sp, struct weft_instance *inst,
                       const struct weft_run_queue_config *cfg, weft_error *err) {
  struct weft_run_queue_starter start = {weft_coord_spawn_fn, weft_coord_hand_fn, sp};
  return weft_run_queue_dequeue_with(inst, cfg, weft_clock_wall_ms(), &start, NULL, err);
}

int weft_coord_admit_in_tx(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                           const char *run_id, const char *code_version, const char *in_run,
                           weft_error *err) {
  unsigned char handed = 0;
  int rc = weft_coord_admit_many_in_tx(inst, cfg, &run_id, &code_version, 1, in_run, &handed, err);
  return rc < 0 ? rc : handed;
}

int weft_coord_admit_many_in_tx(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                                const char *const *run_ids, const char *const *code_versions,
                                size_t n, const char *in_run, unsigned char *handed,
                                weft_error *err) {
  if (handed) memset(handed, 0, n);
  /* With limits, only a turn sees every run they count. */
  if (weft_run_queue_config_limited(cfg) || !n || !weft_coord_service_up(inst)) return 0;
  char(*inbox)[256] = calloc(n, sizeof *inbox);
  const char **ids = calloc(n, sizeof *ids), **keys = calloc(n, sizeof *keys),
             **values = calloc(n, sizeof *values);
  size_t m = 0;
  int rc = inbox && ids && keys && values ? WEFT_OK
                                          : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < n; i++) {
    if (!code_versions[i]) continue; /* a turn spawns it */
    if ((rc = weft_coord_inbox_key(inbox[m], sizeof inbox[m], run_ids[i], err))) break;
    ids[m] = run_ids[i];
    keys[m] = inbox[m];
    values[m++] = in_run ? in_run : "";
    if (handed) handed[i] = 1;
  }
  /* The claims and the inbox entries (weft_coord_handoff_unowned_in_tx)
   * in one statement. */
  if (!rc && m)
    rc = weft_run_queue_claim_many_in_tx(inst->store, ids, m, weft_clock_wall_ms(), keys, values,
                                         err);
  if (!rc && m) rc = weft_store_notify(inst->store, WEFT_STORE_CHANNEL_INBOX, err);
  free(inbox);
  free(ids);
  free(keys);
  free(values);
  if (rc && handed) memset(handed, 0, n);
  return rc ? rc : (int)m;
}

int weft_coord_admit_runs_in_tx(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                                const struct weft_run_new *runs, size_t n, unsigned char *handed,
                                weft_error *err) {
  const char **ids = calloc(n ? n : 1, sizeof *ids);
  const char **versions = calloc(n ? n : 1, sizeof *versions);
  int got = ids && versions ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t i = 0; !got && i < n; i++) {
    ids[i] = runs[i].row.id;
    versions[i] = runs[i].row.code_version;
  }
  if (!got) got = weft_coord_admit_many_in_tx(inst, cfg, ids, versions, n, NULL, handed, err);
  free(ids);
  free(versions);
  return got;
}

static int spawn_only(void *spawner, struct weft_instance *inst, const struct weft_run_row *run,
                      const char *in_run, weft_error *err) {
  (void)inst;
  return weft_coord_spawn(spawner, run->id, in_run, NULL, err);
}

size_t weft_coord_reap(struct weft_coord_spawner *sp, struct weft_instance *inst) {
  /* Runs handed to a coordinator service that stopped before taking them
   * (coord_service.h): started here after all; looked for once a second. */
  static _Atomic int64_t next_reclaim_ms;
  int64_t now = weft_clock_mono_ms();
  if (now >= next_reclaim_ms) {
    next_reclaim_ms = now + 1000;
    weft_coord_inbox_reclaim(inst, spawn_only, sp);
  }
  struct weft_coord_child dead[32];
  int status[32];
  size_t n_dead = 0;
  pthread_mutex_lock(&sp->mu);
  for (size_t i = 0; i < sp->n_children && n_dead < 32;) {
    int st;
    pid_t p = waitpid(sp->children[i].pid, &st, WNOHANG);
    if (p == sp->children[i].pid || (p < 0 && errno == ECHILD)) {
      status[n_dead] = p < 0 ? 0 : st;
      dead[n_dead++] = sp->children[i];
      sp->children[i] = sp->children[--sp->n_children];
    } else {
      i++;
    }
  }
  pthread_mutex_unlock(&sp->mu);
  for (size_t i = 0; i < n_dead; i++) {
    weft_error err = WEFT_ERROR_INIT;
    char how[64];
    if (WIFSIGNALED(status[i]))
      snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status[i]));
    else
      snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status[i]));
    char *msg = weft_str_printf("its coordinator %s before starting the run (see %s/%s/"
                                "coordinator.log)", how, sp->runs_dir, dead[i].run_id);
    int rc = msg ? weft_run_abandon(inst, dead[i].run_id, msg, &err) : WEFT_ENOMEM;
    if (rc && rc != WEFT_ECONFLICT)
      weft_log(WEFT_LOG_ERROR, &(struct weft_log_fields){.run = dead[i].run_id, .text_prefix = "weft: "},
               "run %s: %s", dead[i].run_id, err.msg);
    free(msg);
    free(dead[i].run_id);
  }
  return n_dead;
}
