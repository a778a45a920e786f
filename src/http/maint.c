/* maint.c: the server's coordinators and background work. Every launch and
 * re-execution is coordinated by `weft run coordinate RUN` spawned as a
 * session of its own, so the server never forks its threads and a server
 * restart does not end runs. One thread reaps those processes, sweeps runs
 * whose coordinator died, follows the registry and the location folders
 * (watch.c) and feeds the step duration histogram. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "engine/locreg.h"
#include "http/http_int.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

#define SWEEP_MS 5000     /* how often runs of dead coordinators are swept */
#define WAIT_SLICE_MS 250 /* the thread's loop: reap, sweep, read events */
#define EVENT_BATCH 1000

/* ---- spawning ---------------------------------------------------------------------- */

static int remember_child(struct http_server *srv, pid_t pid, const char *run_id) {
  if (srv->n_children == srv->cap_children) {
    size_t cap = srv->cap_children ? srv->cap_children * 2 : 16;
    struct http_child *nv = realloc(srv->children, cap * sizeof *nv);
    if (!nv) return WEFT_ENOMEM;
    srv->children = nv;
    srv->cap_children = cap;
  }
  char *id = strdup(run_id);
  if (!id) return WEFT_ENOMEM;
  srv->children[srv->n_children++] = (struct http_child){pid, id};
  return WEFT_OK;
}

int http_spawn_coordinator(struct http_server *srv, const char *run_id, const char *in_run,
                           weft_error *err) {
  char *dir = weft_fs_join(srv->inst->runs_dir, run_id);
  char *log = dir ? weft_fs_join(dir, "coordinator.log") : NULL;
  /* weft run coordinate RUN, -w FILE or -l DIR per folder, --in-run LIST, NULL */
  const char **argv = calloc(4 + 2 + 2 * srv->n_paths + 2 + 1, sizeof *argv);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  int have_fa = 0, have_at = 0, rc;
  if (!dir || !log || !argv) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = weft_fs_mkdirs(dir, err))) goto done;
  size_t n = 0;
  argv[n++] = "weft";
  argv[n++] = "run";
  argv[n++] = "coordinate";
  argv[n++] = run_id;
  if (srv->registry) {
    /* the coordinator reads the registry itself, as it is at launch */
  } else if (srv->n_paths) {
    for (size_t i = 0; i < srv->n_paths; i++) {
      argv[n++] = "-l";
      argv[n++] = srv->paths[i];
    }
  } else {
    argv[n++] = "-w";
    argv[n++] = srv->ws_file;
  }
  if (in_run) {
    argv[n++] = "--in-run";
    argv[n++] = in_run;
  }
  argv[n] = NULL;
  sigset_t none, reset;
  sigemptyset(&none);
  sigemptyset(&reset);
  /* What the server blocks or ignores must not carry over into the
   * coordinator (ignored signals survive exec). */
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&reset, sigs[i]);
  if ((rc = posix_spawn_file_actions_init(&fa)) == 0) have_fa = 1;
  if (!rc && (rc = posix_spawnattr_init(&at)) == 0) have_at = 1;
  if (!rc) rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!rc) rc = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
  if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (!rc) rc = posix_spawnattr_setsigmask(&at, &none);
  if (!rc) rc = posix_spawnattr_setsigdefault(&at, &reset);
  if (!rc)
    rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                           POSIX_SPAWN_SETSIGDEF);
  if (rc) {
    rc = weft_error_set(err, WEFT_EIO, "cannot prepare a coordinator: %s", strerror(rc));
    goto done;
  }
  /* Under the lock, so the reaper cannot collect the child before it is
   * known. */
  pthread_mutex_lock(&srv->child_mu);
  pid_t pid;
  int e = posix_spawn(&pid, srv->exe, &fa, &at, (char *const *)argv, srv->env);
  if (e)
    rc = weft_error_set(err, WEFT_EIO, "cannot start a coordinator (%s): %s", srv->exe,
                        strerror(e));
  else if (remember_child(srv, pid, run_id))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  pthread_mutex_unlock(&srv->child_mu);
done:
  if (have_fa) posix_spawn_file_actions_destroy(&fa);
  if (have_at) posix_spawnattr_destroy(&at);
  free(argv);
  free(log);
  free(dir);
  return rc;
}

/* ---- the background thread ---------------------------------------------------------- */

/* Collects exited coordinators; a run still queued after its coordinator
 * exited never will start: it is failed, pointing at the log. */
static void reap(struct http_server *srv) {
  struct http_child dead[32];
  int status[32];
  size_t n_dead = 0;
  pthread_mutex_lock(&srv->child_mu);
  for (size_t i = 0; i < srv->n_children && n_dead < 32;) {
    int st;
    pid_t p = waitpid(srv->children[i].pid, &st, WNOHANG);
    if (p == srv->children[i].pid || (p < 0 && errno == ECHILD)) {
      status[n_dead] = p < 0 ? 0 : st;
      dead[n_dead++] = srv->children[i];
      srv->children[i] = srv->children[--srv->n_children];
    } else {
      i++;
    }
  }
  pthread_mutex_unlock(&srv->child_mu);
  for (size_t i = 0; i < n_dead; i++) {
    weft_error err = WEFT_ERROR_INIT;
    char how[64];
    if (WIFSIGNALED(status[i]))
      snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status[i]));
    else
      snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status[i]));
    char *msg = weft_str_printf("its coordinator %s before starting the run (see %s/%s/"
                                "coordinator.log)", how, srv->inst->runs_dir, dead[i].run_id);
    int rc = msg ? weft_run_abandon(srv->inst, dead[i].run_id, msg, &err) : WEFT_ENOMEM;
    if (rc && rc != WEFT_ECONFLICT)
      fprintf(stderr, "weft server: run %s: %s\n", dead[i].run_id, err.msg);
    free(msg);
    free(dead[i].run_id);
  }
}

/* Reads the events committed since the last look into the histogram; waits
 * up to wait_ms for more when it has caught up. */
static void feed_metrics(struct http_server *srv, int wait_ms) {
  struct http_metrics *m = &srv->metrics;
  int64_t cursor = atomic_load(&m->cursor);
  struct weft_event_filter f = {.after_id = cursor, .limit = EVENT_BATCH};
  struct weft_event_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_event_read(srv->inst->store, &f, &l, &err)) {
    fprintf(stderr, "weft server: metrics: %s\n", err.msg);
    weft_clock_sleep_ms(wait_ms);
    return;
  }
  for (size_t i = 0; i < l.n; i++) http_metrics_event(m, &l.v[i]);
  if (l.n) atomic_store(&m->cursor, (cursor = l.v[l.n - 1].id));
  size_t n = l.n;
  weft_event_list_release(&l);
  if (n == EVENT_BATCH) return; /* more to read at once */
  atomic_store(&m->primed, 1);
  if (weft_store_event_wait(srv->inst->store, cursor, wait_ms, &err) < 0)
    weft_clock_sleep_ms(wait_ms);
}

/* Another process (the CLI, another server) changed the registry: load
 * the new set. One kv read per loop turn, so a change shows within
 * WAIT_SLICE_MS plus the load. */
static void watch_registry(struct http_server *srv) {
  weft_error err = WEFT_ERROR_INIT;
  char *raw = NULL;
  if (weft_store_kv_get(srv->inst->store, WEFT_LOCREG_KEY, &raw, &err)) return;
  json_t *doc = raw ? json_loads(raw, 0, NULL) : NULL;
  int64_t v = (int64_t)json_integer_value(json_object_get(doc, "version"));
  json_decref(doc);
  free(raw);
  struct http_ws *w = http_ws_acquire(srv);
  int moved = w->reg_version != v;
  http_ws_release(srv, w);
  if (moved && http_ws_reload(srv, &err))
    fprintf(stderr, "weft server: reloading the location registry: %s\n", err.msg);
}

static void *maint_main(void *arg) {
  struct http_server *srv = arg;
  int64_t next_sweep = weft_clock_mono_ms() + SWEEP_MS;
  while (!atomic_load(&srv->stopping)) {
    reap(srv);
    int64_t now = weft_clock_mono_ms();
    if (now >= next_sweep) {
      weft_error err = WEFT_ERROR_INIT;
      if (weft_instance_sweep_orphans(srv->inst, NULL, &err))
        fprintf(stderr, "weft server: sweeping orphaned runs: %s\n", err.msg);
      next_sweep = now + SWEEP_MS;
    }
    if (srv->registry) watch_registry(srv);
    feed_metrics(srv, http_watch_tick(srv, WAIT_SLICE_MS));
  }
  return NULL;
}

int http_maint_start(struct http_server *srv, weft_error *err) {
  /* Blocks every signal in the thread: the command's main thread takes
   * SIGINT and SIGTERM. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(&srv->maint, NULL, maint_main, srv);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e) return weft_error_set(err, WEFT_EIO, "cannot start a thread: %s", strerror(e));
  srv->maint_started = 1;
  return WEFT_OK;
}

void http_maint_stop(struct http_server *srv) {
  if (!srv->maint_started) return;
  atomic_store(&srv->stopping, 1);
  pthread_join(srv->maint, NULL);
  srv->maint_started = 0;
}
