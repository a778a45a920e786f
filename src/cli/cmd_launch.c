/* cmd_launch.c: `weft launch JOB`: check the run config, record the run, and
 * coordinate it here (following it live) or in a detached process. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "engine/code_snapshot.h"
#include "engine/engine.h"
#include "sched/coordinator_spawn.h"
#include "sched/run_queue.h"
#include "util/buf.h"
#include "engine/locreg.h"
#include "util/fs.h"

static const char launch_usage[] =
    "usage: weft launch JOB [-c RUN_CONFIG] [--set PATH=VALUE...] [--tag KEY=VALUE...]\n"
    "                   [--follow | --detach] [--quiet] [-w FILE | -l LOCATION...]\n"
    "\n"
    "Runs a job on this machine. The run config (YAML or JSON) is checked\n"
    "first; every event and log line is stored in $WEFT_HOME (default ./.weft).\n"
    "\n"
    "options:\n"
    "  -c, --config FILE     the run config ('-' reads standard input)\n"
    "  --set PATH=VALUE      override a value, e.g. ops.add_x.config.x=3 or\n"
    "                        execution.multiprocess.max_concurrent=2 (repeatable)\n"
    "  --tag KEY=VALUE       tag the run (repeatable)\n"
    "  --follow              coordinate the run here and show its progress until\n"
    "                        it ends (the default); Ctrl-C cancels it\n"
    "  --detach              coordinate it in a background process, print the run\n"
    "                        id and return ('weft run logs|show|cancel ID' after);\n"
    "                        with run_queue limits in weft.yaml, leave it queued\n"
    "                        for 'weft server', 'weft dev' or 'weft scheduler'\n"
    "  --quiet               print only the ending, not every event\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "                        (default: ./workspace.yaml)\n"
    "  -l, --location DIR    read this code location (repeatable)\n"
    "  -h, --help            show this help\n"
    "\n"
    "With run_queue limits in weft.yaml the run waits its turn first, printing\n"
    "why ('run ID queued: waiting: 1/1 runs with tag database=prod in\n"
    "progress'); Ctrl-C while it waits cancels it.\n"
    "\n"
    "On a terminal the progress is redrawn in place; otherwise one line per\n"
    "event. Exit status: 0 when the run succeeded, 1 when it failed or was\n"
    "canceled or its input is invalid, 2 on a usage error.\n";

struct launch_args {
  const char *ws_file, *job, *config_file;
  char **locations;
  size_t n_locations;
  const char **sets;
  size_t n_sets;
  json_t *tags;
  int detach, quiet, help;
};

static int parse_tag(const char *kv, json_t *tags) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv)
    return weft_cli_usage_error("launch", "--tag wants KEY=VALUE, got '%s'", kv);
  char *key = strndup(kv, (size_t)(eq - kv));
  int bad = !key || json_object_set_new(tags, key, json_string(eq + 1));
  free(key);
  return bad ? WEFT_EXIT_INVALID : WEFT_EXIT_OK;
}

static int parse_args(int argc, char **argv, struct launch_args *a) {
  const char *v;
  int m;
  a->locations = calloc((size_t)argc, sizeof *a->locations);
  a->sets = calloc((size_t)argc, sizeof *a->sets);
  a->tags = json_object();
  if (!a->locations || !a->sets || !a->tags) {
    fprintf(stderr, "weft launch: out of memory\n");
    return WEFT_EXIT_INVALID;
  }
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] != '-' || !arg[1]) {
      if (a->job) return weft_cli_usage_error("launch", "unexpected argument '%s'", arg);
      a->job = arg;
      continue;
    }
    if (weft_cli_is_help(arg)) {
      a->help = 1;
      return WEFT_EXIT_OK;
    }
    if (!strcmp(arg, "--follow")) {
      a->detach = 0;
      continue;
    }
    if (!strcmp(arg, "--detach")) {
      a->detach = 1;
      continue;
    }
    if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
      a->quiet = 1;
      continue;
    }
    if ((m = weft_cli_flag_value("launch", argc, argv, &i, "-w", "--workspace", &a->ws_file)))
      goto matched;
    if ((m = weft_cli_flag_value("launch", argc, argv, &i, "-l", "--location", &v))) {
      if (m > 0) a->locations[a->n_locations++] = (char *)v;
      goto matched;
    }
    if ((m = weft_cli_flag_value("launch", argc, argv, &i, "-c", "--config", &a->config_file)))
      goto matched;
    if ((m = weft_cli_flag_value("launch", argc, argv, &i, NULL, "--set", &v))) {
      if (m > 0) a->sets[a->n_sets++] = v;
      goto matched;
    }
    if ((m = weft_cli_flag_value("launch", argc, argv, &i, NULL, "--tag", &v))) {
      if (m > 0 && parse_tag(v, a->tags) != WEFT_EXIT_OK) return WEFT_EXIT_USAGE;
      goto matched;
    }
    return weft_cli_usage_error("launch", "unknown option '%s'", arg);
  matched:
    if (m < 0) return WEFT_EXIT_USAGE;
  }
  if (!a->job) return weft_cli_usage_error("launch", "missing JOB argument");
  return WEFT_EXIT_OK;
}

struct follow_state {
  struct weft_progress *view;
  int ready_fd; /* detached: written once the run has started, then closed */
};

static void follow_event(void *data, const struct weft_event_row *ev) {
  struct follow_state *f = data;
  if (f->view) weft_progress_event(f->view, ev);
  if (f->ready_fd >= 0 && !strcmp(ev->type, "run_started")) {
    /* The launcher may be gone (killed while it waited): its pipe's
     * SIGPIPE must not kill the coordinator of a run it just started.
     * Blocked here only (steps inherit no ignored SIGPIPE), and a pending
     * one taken back. */
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t w = write(f->ready_fd, "s", 1);
    if (w < 0 && errno == EPIPE) {
      struct timespec zero = {0, 0};
      sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(f->ready_fd);
    f->ready_fd = -1;
  }
}

static void follow_tick(void *data) {
  struct follow_state *f = data;
  if (f->view) weft_progress_tick(f->view);
}

static int exit_for(enum weft_run_status st) {
  return st == WEFT_RUN_SUCCESS ? WEFT_EXIT_OK : WEFT_EXIT_INVALID;
}

/* Coordinates the run in this process; returns the exit status. */
static int run_here(struct weft_instance *inst, const char *run_id, struct weft_launch *l,
                    struct follow_state *f) {
  weft_error err = WEFT_ERROR_INIT;
  enum weft_run_status final = WEFT_RUN_FAILURE;
  weft_cli_trap_interrupts();
  l->interrupt = &weft_cli_interrupted;
  l->on_event = follow_event;
  l->on_tick = follow_tick;
  l->cb_data = f;
  int rc = weft_run_execute(inst, run_id, l, &final, &err);
  if (rc) fprintf(stderr, "weft: %s\n", err.msg);
  if (f->view) {
    struct weft_run_row row = {0};
    weft_error e2 = WEFT_ERROR_INIT;
    int have = !weft_store_run_get(inst->store, run_id, &row, &e2);
    weft_progress_finish(f->view, final, have ? row.message : NULL);
    if (have) weft_run_row_release(&row);
  }
  return rc ? WEFT_EXIT_INVALID : exit_for(final);
}

/* Forks a session leader that coordinates the run; returns once it has
 * claimed the run (so no sweep takes it for orphaned) or died. */
static int run_detached(const char *home, const char *run_id, struct weft_launch *l) {
  int fds[2];
  if (pipe(fds)) {
    fprintf(stderr, "weft launch: cannot create a pipe: %s\n", strerror(errno));
    return WEFT_EXIT_INVALID;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "weft launch: cannot fork: %s\n", strerror(errno));
    return WEFT_EXIT_INVALID;
  }
  if (pid == 0) {
    close(fds[0]);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      if (null > 2) close(null);
    }
    weft_error err = WEFT_ERROR_INIT;
    struct weft_instance *inst = NULL;
    if (weft_instance_open(home, &inst, &err)) _exit(WEFT_EXIT_INVALID);
    struct follow_state f = {NULL, fds[1]};
    int rc = run_here(inst, run_id, l, &f);
    weft_instance_close(inst);
    exit(rc);
  }
  close(fds[1]);
  char b;
  ssize_t n;
  do n = read(fds[0], &b, 1);
  while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n != 1) {
    int status = 0;
    waitpid(pid, &status, 0);
    fprintf(stderr, "weft launch: the detached coordinator of run %s exited before "
                    "starting it (see 'weft run show %s')\n", run_id, run_id);
    return WEFT_EXIT_INVALID;
  }
  printf("%s\n", run_id);
  return WEFT_EXIT_OK;
}

/* Records the run and tells the run queue (sched/run_queue.h) who starts
 * it, in one transaction so that no dequeuer sees it half-way: without
 * limits we claim it (we start it now, here or detached); with limits a
 * detached run is left to the dequeuers (with the steps of a
 * re-execution) and a foreground one waits here (*wait). */
static int create_run(struct weft_instance *inst, const struct weft_run_queue_config *q,
                      struct weft_launch *l, int detach, char **run_id, int *wait,
                      weft_error *err) {
  struct weft_buf steps = WEFT_BUF_INIT;
  /* Container steps' images, pulled as containers.pull says before the
   * transaction (a pull may take minutes): a bad name fails the launch. */
  int rc = weft_run_containers_check(inst, l, 1, err);
  if (!rc) rc = weft_store_begin(inst->store, err);
  if (rc) return rc;
  if (!(rc = weft_run_create(inst, l, run_id, err)))
    rc = weft_run_queue_launched(inst, q, *run_id, detach, wait, err);
  if (!rc && l->in_run && detach && weft_run_queue_config_limited(q)) {
    for (size_t i = 0; i < l->job->n_ops; i++)
      if (l->in_run[i]) weft_buf_addf(&steps, "%s%s", steps.len ? "," : "", l->job->ops[i].name);
    rc = weft_run_queue_set_steps(inst, *run_id, steps.ptr ? steps.ptr : "", err);
  }
  weft_buf_release(&steps);
  if (!rc) return weft_store_commit(inst->store, err);
  weft_store_rollback(inst->store);
  free(*run_id);
  *run_id = NULL;
  return rc;
}

static void print_reason(void *data, const char *reason) {
  printf("run %s queued: %s\n", (const char *)data, reason);
  fflush(stdout);
}

/* Waits in the run queue until the run may start, starting the other runs
 * the limits let go meanwhile (as any dequeuer); Ctrl-C cancels the run.
 * Returns WEFT_EXIT_OK when the run is ours to coordinate now. */
static int wait_in_queue(struct weft_instance *inst, const struct weft_run_queue_config *q,
                         const char *cmd, const char *run_id) {
  struct weft_coord_spawner sp;
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_coord_spawner_init_workspace(&sp, inst, NULL, NULL, 0, &err);
  if (!rc) {
    weft_cli_trap_interrupts();
    rc = weft_run_queue_wait_turn(inst, q, run_id, weft_coord_spawn_fn, &sp, print_reason,
                                  (void *)run_id, &weft_cli_interrupted, &err);
    weft_coord_reap(&sp, inst);
    weft_coord_spawner_release(&sp);
  }
  if (rc == WEFT_ECANCELED) {
    printf("run %s canceled while queued\n", run_id);
    return WEFT_EXIT_INVALID;
  }
  if (rc) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    return WEFT_EXIT_INVALID;
  }
  return WEFT_EXIT_OK;
}

int weft_cli_start_run(const char *cmd, struct weft_launch *l, int detach, int quiet) {
  struct weft_instance *inst = NULL;
  struct follow_state f = {NULL, -1};
  weft_error err = WEFT_ERROR_INIT;
  char *run_id = NULL;
  struct weft_run_queue_config q = {0};
  int rc, wait = 0;
  if (weft_instance_open(NULL, &inst, &err) ||
      weft_run_queue_config_load(inst->home, &q, &err) ||
      create_run(inst, &q, l, detach, &run_id, &wait, &err)) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  if (detach && weft_run_queue_config_limited(&q)) {
    printf("%s\n", run_id);
    fprintf(stderr, "run %s is queued (weft.yaml run_queue limits): a running 'weft server', "
                    "'weft dev' or 'weft scheduler' starts it; 'weft run list' says why it "
                    "waits\n", run_id);
    rc = WEFT_EXIT_OK;
    goto done;
  }
  if (wait && (rc = wait_in_queue(inst, &q, cmd, run_id)) != WEFT_EXIT_OK) goto done;
  /* A coordinator service is up: it drives the run (launch_handoff.c). */
  if ((rc = weft_cli_handoff_run(cmd, inst, run_id, l->job, detach, quiet)) >= 0) goto done;
  if (detach) {
    char *home = strdup(inst->home);
    weft_instance_close(inst);
    inst = NULL;
    rc = home ? run_detached(home, run_id, l) : WEFT_EXIT_INVALID;
    free(home);
    goto done;
  }
  enum weft_progress_mode mode = quiet                    ? WEFT_PROGRESS_QUIET
                                 : isatty(STDOUT_FILENO) ? WEFT_PROGRESS_TTY
                                                         : WEFT_PROGRESS_PLAIN;
  f.view = weft_progress_new(stdout, mode, run_id, l->job);
  rc = run_here(inst, run_id, l, &f);
done:
  weft_progress_free(f.view);
  free(run_id);
  weft_run_queue_config_release(&q);
  weft_instance_close(inst);
  return rc;
}

/* A location to launch from: its folder, its name (NULL: the folder's
 * base name) and its registry settings (path unused). */
struct source {
  const char *path, *name;
  struct weft_location settings;
};

/* Snapshots each source first and loads the locations from their
 * snapshots (engine/code_snapshot.h), so the job is parsed once and is
 * exactly the code the run will run; version receives the job's code
 * version. Returns 0 when anything is off (an error in a location, an
 * unknown or ambiguous job, a failure): the caller then loads the folders
 * themselves, which reports problems with their real file names (and the
 * run snapshots its location as weft_run_create does). */
static int load_snapshots(const struct source *src, size_t n, const char *name,
                          struct weft_workspace **ws_out, const struct weft_job **job_out,
                          char version[WEFT_CODE_VERSION_LEN + 1]) {
  const char *home = getenv("WEFT_HOME");
  struct weft_workspace *ws = calloc(1, sizeof *ws);
  char (*versions)[WEFT_CODE_VERSION_LEN + 1] = calloc(n, sizeof *versions);
  weft_error err = WEFT_ERROR_INIT;
  int ok = 0;
  if (!home || !*home) home = ".weft";
  if (!ws || !versions || !(ws->locations = calloc(n, sizeof *ws->locations))) goto done;
  for (size_t i = 0; i < n; i++) {
    char *real = realpath(src[i].path, NULL), *dir = NULL;
    const char *base = real ? strrchr(real, '/') : NULL;
    struct weft_location live = src[i].settings;
    struct weft_location *loc = NULL;
    live.path = real;
    if (base) base = src[i].name ? src[i].name : base[1] ? base + 1 : real;
    int bad = !base || weft_code_snapshot(home, real, versions[i], &dir, &err) ||
              weft_code_load_location(home, versions[i], base, &live, &loc, &err);
    free(dir);
    free(real);
    if (bad) goto done;
    ws->locations[ws->n_locations++] = loc;
    if (loc->diags.n) goto done;
    for (size_t k = 0; k < i; k++)
      if (!strcmp(ws->locations[k]->name, loc->name)) goto done; /* duplicate names */
  }
  const struct weft_job *job = weft_workspace_find_job(ws, name, &err);
  if (!job || !job->valid) goto done;
  for (size_t i = 0; i < n; i++)
    if (job->location == ws->locations[i]) memcpy(version, versions[i], sizeof versions[i]);
  *job_out = job;
  *ws_out = ws;
  ws = NULL;
  ok = 1;
done:
  weft_workspace_free(ws);
  free(versions);
  return ok;
}

/* load_snapshots for the locations `weft launch` reads: -l folders, else
 * the registry when it has locations (not a workspace file: 0). */
static int launch_from_snapshots(const struct launch_args *a, struct weft_workspace **ws,
                                 const struct weft_job **job,
                                 char version[WEFT_CODE_VERSION_LEN + 1]) {
  struct source *src = calloc(a->n_locations ? a->n_locations : 1, sizeof *src);
  struct weft_instance *inst = NULL;
  struct weft_locreg reg = {0};
  weft_error err = WEFT_ERROR_INIT;
  const char *home = getenv("WEFT_HOME");
  size_t n = 0;
  int ok = 0;
  if (!src || a->ws_file) goto done;
  for (; n < a->n_locations; n++) src[n].path = a->locations[n];
  if (!n) {
    if (!weft_fs_is_dir(home && *home ? home : ".weft") ||
        weft_instance_open(NULL, &inst, &err) || weft_locreg_read(inst->store, &reg, &err) ||
        !reg.n)
      goto done;
    free(src);
    if (!(src = calloc(reg.n, sizeof *src))) goto done;
    for (; n < reg.n; n++) {
      const struct weft_locreg_entry *e = &reg.v[n];
      src[n] = (struct source){e->path, e->name,
                               {.name = e->name, .env = e->env, .python = e->python,
                                .image = e->image, .workdir = e->workdir}};
    }
  }
  ok = load_snapshots(src, n, a->job, ws, job, version);
done:
  weft_locreg_release(&reg);
  weft_instance_close(inst);
  free(src);
  return ok;
}

int cmd_launch(int argc, char **argv) {
  struct launch_args a = {0};
  struct weft_workspace *ws = NULL;
  const struct weft_job *job = NULL;
  struct weft_run_config rcfg = {0};
  int built = 0;
  int rc = parse_args(argc, argv, &a);
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(launch_usage, stdout);
    goto done;
  }
  char version[WEFT_CODE_VERSION_LEN + 1] = "";
  if (launch_from_snapshots(&a, &ws, &job, version)) {
    /* the job as its snapshot holds it */
  } else if ((rc = weft_cli_find_job("launch", a.ws_file, a.locations, a.n_locations, a.job,
                                     &ws, &job)) != WEFT_EXIT_OK) {
    goto done;
  }
  if ((rc = weft_cli_build_run_config("launch", job, a.config_file, a.sets, a.n_sets,
                                      &rcfg)) != WEFT_EXIT_OK)
    goto done;
  built = 1;
  struct weft_launch l = {.job = job, .rc = &rcfg, .tags = a.tags,
                          .code_version = version[0] ? version : NULL};
  rc = weft_cli_start_run("launch", &l, a.detach, a.quiet);
done:
  if (built) weft_run_config_release(&rcfg);
  weft_workspace_free(ws);
  json_decref(a.tags);
  free(a.locations);
  free(a.sets);
  return rc;
}
