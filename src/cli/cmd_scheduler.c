/* cmd_scheduler.c: `weft scheduler`: runs schedules and sensors and starts
 * queued runs, as a daemon or once at a given time; also its `weft dev` thread. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sched/coord_service.h"
#include "engine/locreg.h"
#include "sched/sched.h"
#include "util/clock.h"
#include "util/log.h"

static const char usage[] =
    "usage: weft scheduler [--once] [--now TIME] [--no-dequeue] [--coordinator]\n"
    "                      [--log-format text|json]\n"
    "                      [-w FILE | -l LOCATION...]\n"
    "\n"
    "Runs the cron schedules and sensors of the workspace: every due tick\n"
    "becomes exactly one QUEUED run (even with several schedulers on one\n"
    "storage), and the run queue starts queued runs within the instance's\n"
    "limits. Runs about every second and stops cleanly on SIGINT or SIGTERM.\n"
    "\n"
    "options:\n"
    "  --once                evaluate once and exit\n"
    "  --now TIME            (with --once) evaluate as if it were TIME, ISO 8601\n"
    "                        such as 2026-01-01T06:00:00Z\n"
    "  --no-dequeue          only create runs; leave them QUEUED\n"
    "  --coordinator         coordinate runs in this process too: one loop\n"
    "                        drives every run it starts, instead of a\n"
    "                        process per run (see 'weft coordinator')\n"
    "  --log-format FORMAT   text (default) or json: one JSON object per line\n"
    "                        (time, level, role, run, step, message); also\n"
    "                        from $WEFT_LOG_FORMAT, and passed to the run\n"
    "                        coordinators it starts\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "  -l, --location DIR    read this code location (repeatable)\n"
    "  -h, --help            show this help\n";

/* What a scheduler loop needs; shared by the command and `weft dev`. */
struct weft_cli_sched {
  const char *ws_file;
  char **paths;
  size_t n_paths;
  int dequeue, once;
  long long now_ms; /* --now; 0: the wall clock */
  volatile sig_atomic_t *stop;
  struct weft_instance *inst;
  struct weft_workspace *ws;
  struct weft_scheduler *sched;
  int64_t locreg_version; /* -1: not from the registry */
  int64_t loaded_ms;      /* when the workspace was last (re)loaded */
  pthread_t thread;
  int rc;
};

static int64_t fixed_now(void *data) { return *(const long long *)data; }

/* The workspace from the registry when it has locations (and nothing else
 * was named), else as the command line says. */
static int load_ws(struct weft_cli_sched *c, const char *cmd) {
  if (!c->ws_file && !c->n_paths) {
    struct weft_locreg reg = {0};
    weft_error err = WEFT_ERROR_INIT;
    /* A registry that was ever written is the workspace even when its last
     * location was removed: the daemon idles until one is added. */
    if (!weft_locreg_read(c->inst->store, &reg, &err) && (reg.n || reg.version > 0)) {
      struct weft_workspace *ws = NULL;
      int rc = weft_locreg_workspace(&reg, &ws, &err);
      c->locreg_version = reg.version;
      weft_locreg_release(&reg);
      if (rc) {
        weft_log_error("%s", err.msg);
        return WEFT_EXIT_INVALID;
      }
      weft_workspace_free(c->ws);
      c->ws = ws;
      return WEFT_EXIT_OK;
    }
    weft_locreg_release(&reg);
  }
  c->locreg_version = -1;
  return weft_cli_load_workspace(cmd, c->ws_file, c->paths, c->n_paths, &c->ws);
}

#define FILE_RELOAD_MS 30000

/* Reloads the workspace when the location registry changed, or (a
 * workspace of files) every FILE_RELOAD_MS, keeping the old one when the
 * new one cannot be read. */
static void maybe_reload(struct weft_cli_sched *c, const char *cmd) {
  if (c->locreg_version < 0) {
    int64_t now = weft_clock_mono_ms();
    if (c->once || now - c->loaded_ms < FILE_RELOAD_MS) return;
    struct weft_workspace *ws = NULL;
    c->loaded_ms = now;
    if (weft_cli_load_workspace(cmd, c->ws_file, c->paths, c->n_paths, &ws)) return;
    weft_scheduler_set_workspace(c->sched, ws);
    weft_workspace_free(c->ws);
    c->ws = ws;
    return;
  }
  struct weft_locreg reg = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_locreg_read(c->inst->store, &reg, &err) || reg.version == c->locreg_version) {
    weft_locreg_release(&reg);
    return;
  }
  struct weft_workspace *ws = NULL;
  if (!weft_locreg_workspace(&reg, &ws, &err)) {
    weft_scheduler_set_workspace(c->sched, ws);
    weft_workspace_free(c->ws);
    c->ws = ws;
    c->locreg_version = reg.version;
  }
  weft_locreg_release(&reg);
}

static int sched_open(struct weft_cli_sched *c, const char *cmd) {
  weft_error err = WEFT_ERROR_INIT;
  int rc;
  if (weft_instance_open(NULL, &c->inst, &err)) {
    weft_log_error("%s", err.msg);
    return WEFT_EXIT_INVALID;
  }
  if ((rc = load_ws(c, cmd))) return rc;
  c->loaded_ms = weft_clock_mono_ms();
  if (weft_workspace_error_count(c->ws))
    weft_log_warn("warning: the workspace has errors (see 'weft validate'); "
                  "schedules and sensors with errors are not run");
  /* the coordinators find the job as this process did */
  const char *args[64];
  size_t n = 0;
  if (c->ws_file) {
    args[n++] = "-w";
    args[n++] = c->ws_file;
  }
  for (size_t i = 0; i < c->n_paths && n + 2 <= 64; i++) {
    args[n++] = "-l";
    args[n++] = c->paths[i];
  }
  struct weft_sched_clock fixed;
  fixed.now_ms = fixed_now;
  fixed.data = &c->now_ms;
  struct weft_sched_options o = {.clock = c->now_ms ? &fixed : NULL, .dequeue = c->dequeue,
                                 .coord_args = args, .n_coord_args = n};
  if (weft_scheduler_new(c->inst, c->ws, &o, &c->sched, &err)) {
    weft_log_error("%s", err.msg);
    return WEFT_EXIT_INVALID;
  }
  return WEFT_EXIT_OK;
}

static void sched_close(struct weft_cli_sched *c) {
  weft_scheduler_free(c->sched);
  weft_workspace_free(c->ws);
  weft_instance_close(c->inst);
  c->sched = NULL;
  c->ws = NULL;
  c->inst = NULL;
}

/* Turns until *stop (or once); sleeps in slices of 100 ms so a stop request
 * is seen quickly, and at most a second between turns. While coordinators
 * it started run, the slices are 10 ms: a finished run's slot is refilled
 * at once, which is what bounds how fast a burst of runs drains. */
static int sched_loop(struct weft_cli_sched *c, const char *cmd, int verbose) {
  weft_error err = WEFT_ERROR_INIT;
  int failures = 0;
  for (;;) {
    struct weft_sched_turn t;
    maybe_reload(c, cmd);
    int64_t started = weft_clock_wall_ms();
    if (weft_scheduler_turn(c->sched, &t, &err)) {
      weft_log_error("%s", err.msg);
      if (c->once || ++failures > 30) return WEFT_EXIT_INVALID;
    } else {
      failures = 0;
      struct weft_log_fields out = {.to_stdout = 1};
      if (verbose && (t.runs_created || t.ticks_failure || c->once))
        weft_log(WEFT_LOG_INFO, &out,
                 "%zu runs queued, ticks: %zu success, %zu skipped, %zu failure, "
                 "%zu taken by another scheduler; %zu sensors evaluated",
                 t.runs_created, t.ticks_success, t.ticks_skipped, t.ticks_failure,
                 t.ticks_lost, t.sensors_evaluated);
    }
    if (c->once) return WEFT_EXIT_OK;
    int64_t wake = started + 1000;
    if (!failures && t.next_wake_ms < wake) wake = t.next_wake_ms;
    int64_t dequeued = weft_clock_mono_ms();
    while (!*c->stop && weft_clock_wall_ms() < wake) {
      int64_t left = wake - weft_clock_wall_ms();
      int64_t slice = weft_scheduler_running_coordinators(c->sched) ? 10 : 100;
      weft_clock_sleep_ms(left > slice ? slice : left > 0 ? left : 1);
      if (!c->dequeue) continue;
      /* between turns: a slot our coordinators freed is refilled at once;
       * runs queued by others are looked for every 100 ms */
      int64_t now = weft_clock_mono_ms();
      int rc = now - dequeued >= 100 ? weft_scheduler_dequeue(c->sched, &err)
                                     : weft_scheduler_refill(c->sched, &err);
      if (now - dequeued >= 100) dequeued = now;
      if (rc) weft_log_error("%s", err.msg);
    }
    if (*c->stop) return WEFT_EXIT_OK;
  }
}

int cmd_scheduler(int argc, char **argv) {
  struct weft_cli_sched c = {.dequeue = 1, .stop = &weft_cli_interrupted};
  const char *v, *now = NULL, *log_format = NULL;
  int m, rc = WEFT_EXIT_USAGE, coordinator = 0;
  struct weft_coord_service_thread *coord = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (!(c.paths = calloc((size_t)argc + 1, sizeof *c.paths))) return WEFT_EXIT_INVALID;
  weft_log_set_role("scheduler", "weft scheduler: ");
  if (weft_log_init_from_env(&err)) {
    rc = weft_cli_usage_error("scheduler", "%s", err.msg);
    goto done;
  }
  for (int i = 1; i < argc; i++) {
    if (weft_cli_is_help(argv[i])) {
      fputs(usage, stdout);
      rc = WEFT_EXIT_OK;
      goto done;
    }
    if (!strcmp(argv[i], "--once")) {
      c.once = 1;
    } else if (!strcmp(argv[i], "--no-dequeue")) {
      c.dequeue = 0;
    } else if (!strcmp(argv[i], "--coordinator")) {
      coordinator = 1;
    } else if ((m = weft_cli_flag_value("scheduler", argc, argv, &i, NULL, "--now", &now)) ||
               (m = weft_cli_flag_value("scheduler", argc, argv, &i, NULL, "--log-format",
                                        &log_format)) ||
               (m = weft_cli_flag_value("scheduler", argc, argv, &i, "-w", "--workspace",
                                        &c.ws_file))) {
      if (m < 0) goto done;
    } else if ((m = weft_cli_flag_value("scheduler", argc, argv, &i, "-l", "--location", &v))) {
      if (m < 0) goto done;
      c.paths[c.n_paths++] = (char *)v;
    } else {
      rc = weft_cli_usage_error("scheduler", "%s '%s'",
                                argv[i][0] == '-' ? "unknown option" : "unexpected argument",
                                argv[i]);
      goto done;
    }
  }
  /* exported: the coordinators the run queue spawns log alike */
  if (log_format && weft_log_set_format_name(log_format, 1, &err)) {
    rc = weft_cli_usage_error("scheduler", "%s", err.msg);
    goto done;
  }
  if (now && !c.once) {
    rc = weft_cli_usage_error("scheduler", "--now needs --once");
    goto done;
  }
  if (now && weft_cli_parse_time(now, &c.now_ms)) {
    rc = weft_cli_usage_error("scheduler", "--now: '%s' is not an ISO 8601 time", now);
    goto done;
  }
  weft_cli_trap_interrupts();
  if ((rc = sched_open(&c, "scheduler"))) goto done;
  struct weft_log_fields out = {.to_stdout = 1};
  if (!c.once)
    weft_log(WEFT_LOG_INFO, &out, "running %s; Ctrl-C stops it",
             c.dequeue ? "schedules, sensors and the run queue" : "schedules and sensors");
  if (coordinator && !c.once && !(coord = weft_coord_service_start(NULL, &err)))
    weft_log_warn("warning: the coordinator did not start: %s", err.msg);
  rc = sched_loop(&c, "scheduler", 1);
  weft_coord_service_stop(coord); /* drains its runs (coord_service.h) */
  if (!c.once) weft_log(WEFT_LOG_INFO, &out, "stopped");
done:
  sched_close(&c);
  free(c.paths);
  return rc;
}

/* ---- inside `weft dev` ------------------------------------------------------------ */

static volatile sig_atomic_t dev_stop;

static void *dev_thread(void *data) {
  struct weft_cli_sched *c = data;
  c->rc = sched_loop(c, "dev", 0);
  return NULL;
}

struct weft_cli_sched *weft_cli_scheduler_start(const char *ws_file, const char *const *paths,
                                                size_t n_paths) {
  struct weft_cli_sched *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->ws_file = ws_file;
  c->paths = (char **)paths;
  c->n_paths = n_paths;
  c->dequeue = 1; /* safe beside any other dequeuer: runs are claimed */
  c->stop = &dev_stop;
  dev_stop = 0;
  if (sched_open(c, "dev") || pthread_create(&c->thread, NULL, dev_thread, c)) {
    sched_close(c);
    free(c);
    return NULL;
  }
  return c;
}

void weft_cli_scheduler_stop(struct weft_cli_sched *c) {
  if (!c) return;
  dev_stop = 1;
  pthread_join(c->thread, NULL);
  sched_close(c);
  free(c);
}
