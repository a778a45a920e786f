/* cmd_coordinate.c: `weft run coordinate RUN_ID`: drives a run that another
 * process recorded QUEUED (the HTTP server, for every launch) in this one. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/render.h"
#include "engine/code_snapshot.h"
#include "engine/engine.h"
#include "util/log.h"
#include "util/str.h"

static const char coordinate_usage[] =
    "usage: weft run coordinate RUN_ID [-w FILE | -l LOCATION...] [--in-run A,B,...]\n"
    "                                  [--adopt TOKEN]\n"
    "                                  [--log-format text|json]\n"
    "\n"
    "Coordinates a queued run in this process, from its start to its end: the\n"
    "job is loaded from the snapshot of the run's code version\n"
    "($WEFT_HOME/code/VERSION; runs without one: from the workspace), with\n"
    "its location's settings from the registry, and its run config is the\n"
    "one stored with the run. 'weft server' spawns one\n"
    "for every launch and re-execution; its output, one line per event, goes\n"
    "to $WEFT_HOME/runs/RUN_ID/coordinator.log. SIGINT or SIGTERM cancels\n"
    "the run.\n"
    "\n"
    "options:\n"
    "  --adopt TOKEN         resume a started run whose coordinator died; a\n"
    "                        sweep hands its lease over under TOKEN and spawns\n"
    "                        this (docs/operations.md, \"Leases and adoption\")\n"
    "  --in-run A,B,...      a re-execution: only these steps run; the others\n"
    "                        reuse the outputs of the run's parent\n"
    "  --log-format FORMAT   text (default) or json: one JSON object per line\n"
    "                        (time, level, role, run, step, message), events\n"
    "                        included; also from $WEFT_LOG_FORMAT\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "                        (default: ./workspace.yaml)\n"
    "  -l, --location DIR    read this code location (repeatable)\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 when the run succeeded, 1 when it failed, was canceled or\n"
    "could not be started (it is then marked failed), 2 on a usage error.\n";

/* The level of an event's JSON line: what an operator's filter keeps; a
 * step's own log line keeps the level it gave. */
static enum weft_log_level event_level(const struct weft_event_row *ev) {
  const char *type = ev->type;
  if (!strcmp(type, "log")) {
    json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
    const char *l = json_string_value(json_object_get(p, "level"));
    enum weft_log_level lv = !l                            ? WEFT_LOG_INFO
                             : !strcmp(l, "debug")         ? WEFT_LOG_DEBUG
                             : !strncmp(l, "warn", 4)      ? WEFT_LOG_WARN
                             : !strcmp(l, "error") || !strcmp(l, "critical") ? WEFT_LOG_ERROR
                                                           : WEFT_LOG_INFO;
    json_decref(p);
    return lv;
  }
  if (strstr(type, "fail")) return WEFT_LOG_ERROR;
  if (strstr(type, "retry") || strstr(type, "cancel")) return WEFT_LOG_WARN;
  return WEFT_LOG_INFO;
}

/* JSON logs: the event's text line, without its time (the object has
 * one), as an object carrying the run and step. */
static void event_json(const struct weft_event_row *ev) {
  char *text = NULL, ts[32];
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  if (!mem) return;
  weft_render_event_line(mem, ev);
  fclose(mem);
  weft_render_time(ev->ts_ms, ts, sizeof ts);
  size_t skip = strlen(ts) + 1;
  const char *msg = text && len >= skip && !strncmp(text, ts, strlen(ts)) ? text + skip : text;
  struct weft_log_fields f = {.run = ev->run_id, .step = ev->step, .to_stdout = 1};
  if (msg) weft_log(event_level(ev), &f, "%s", msg);
  free(text);
}

static void on_event(void *data, const struct weft_event_row *ev) {
  if (weft_log_is_json()) event_json(ev);
  else weft_progress_event(data, ev);
}

/* Marks the run failed when it is still queued and nobody will start it;
 * prints why. Returns WEFT_EXIT_INVALID. */
static const char *adopt_token; /* --adopt TOKEN */

static int give_up(struct weft_instance *inst, const char *run_id, const char *why) {
  weft_error err = WEFT_ERROR_INIT;
  weft_log_run(WEFT_LOG_ERROR, run_id, NULL, "run %s: %s", run_id, why);
  /* An adopter that cannot load the run: it cannot go on anywhere. */
  if (adopt_token) {
    if (weft_run_adopt_fail(inst, run_id, why, &err) && err.code != WEFT_ECONFLICT)
      weft_log_run(WEFT_LOG_ERROR, run_id, NULL, "%s", err.msg);
    return WEFT_EXIT_INVALID;
  }
  if (weft_run_abandon(inst, run_id, why, &err) && err.code != WEFT_ECONFLICT)
    weft_log_run(WEFT_LOG_ERROR, run_id, NULL, "%s", err.msg);
  return WEFT_EXIT_INVALID;
}

/* Fills in_run[job->n_ops] from "a,b,c"; names a step the job lacks in
 * *bad (borrowed from copy) and returns -1 then. */
static int select_steps(const struct weft_job *job, char *copy, unsigned char *in_run,
                        const char **bad) {
  for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    long i = weft_job_find_invocation(job, t);
    if (i < 0) {
      *bad = t;
      return -1;
    }
    in_run[i] = 1;
  }
  return 0;
}

int cmd_run_coordinate(int argc, char **argv) {
  const char *id = NULL, *ws_file = NULL, *in_run_arg = NULL, *v;
  char **locations = calloc((size_t)argc + 1, sizeof *locations);
  size_t n_locations = 0;
  int m, rc = WEFT_EXIT_USAGE, built = 0;
  struct weft_instance *inst = NULL;
  struct weft_workspace *ws = NULL;
  struct weft_location *snap = NULL;
  struct weft_run_row run = {0};
  struct weft_run_config rcfg = {0};
  struct weft_diags diags = WEFT_DIAGS_INIT;
  struct weft_progress *view = NULL;
  unsigned char *in_run = NULL;
  char *copy = NULL, *qualified = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (!locations) return WEFT_EXIT_INVALID;
  weft_log_set_role("coordinator", "weft run coordinate: ");
  if (weft_log_init_from_env(&err)) {
    rc = weft_cli_usage_error("run coordinate", "%s", err.msg);
    goto done;
  }
  /* The output is coordinator.log: whole lines, even if the process dies. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (weft_cli_is_help(arg)) {
      fputs(coordinate_usage, stdout);
      rc = WEFT_EXIT_OK;
      goto done;
    }
    if ((m = weft_cli_flag_value("run coordinate", argc, argv, &i, "-w", "--workspace",
                                 &ws_file)) ||
        (m = weft_cli_flag_value("run coordinate", argc, argv, &i, NULL, "--in-run",
                                 &in_run_arg))) {
      if (m < 0) goto done;
    } else if ((m = weft_cli_flag_value("run coordinate", argc, argv, &i, NULL, "--adopt",
                                        &adopt_token))) {
      if (m < 0) goto done;
    } else if ((m = weft_cli_flag_value("run coordinate", argc, argv, &i, NULL, "--log-format",
                                        &v))) {
      if (m < 0) goto done;
      if (weft_log_set_format_name(v, 1, &err)) {
        rc = weft_cli_usage_error("run coordinate", "%s", err.msg);
        goto done;
      }
    } else if ((m = weft_cli_flag_value("run coordinate", argc, argv, &i, "-l", "--location",
                                        &v))) {
      if (m < 0) goto done;
      locations[n_locations++] = (char *)v;
    } else if (arg[0] == '-') {
      rc = weft_cli_usage_error("run coordinate", "unknown option '%s'", arg);
      goto done;
    } else if (id) {
      rc = weft_cli_usage_error("run coordinate", "unexpected argument '%s'", arg);
      goto done;
    } else {
      id = arg;
    }
  }
  if (!id) {
    rc = weft_cli_usage_error("run coordinate", "missing RUN_ID");
    goto done;
  }
  rc = WEFT_EXIT_INVALID;
  if (weft_instance_open(NULL, &inst, &err)) {
    weft_log_run(WEFT_LOG_ERROR, id, NULL, "%s", err.msg);
    goto done;
  }
  if (weft_store_run_get(inst->store, id, &run, &err)) {
    weft_log_run(WEFT_LOG_ERROR, id, NULL, "%s", err.msg);
    goto done;
  }
  int adoptable = adopt_token && (run.status == WEFT_RUN_STARTED ||
                                  run.status == WEFT_RUN_CANCELING);
  if (run.status != WEFT_RUN_QUEUED && !adoptable) {
    weft_log_run(WEFT_LOG_ERROR, id, NULL, "run %s is %s, not queued", run.id,
                 weft_run_status_name(run.status));
    goto done;
  }
  /* The lease is ours before anything slow, and before give_up may fail
   * the run: an adopter whose token was handed on writes nothing. */
  if (adopt_token && weft_run_adopt_hold(inst, run.id, adopt_token, &err)) {
    weft_log_run(WEFT_LOG_ERROR, id, NULL, "%s", err.msg);
    goto done;
  }
  if (!(qualified = weft_str_printf("%s:%s", run.location ? run.location : "", run.job)))
    goto done;
  const struct weft_job *job = NULL;
  if (run.code_version && run.location) {
    if (weft_code_load_run_job(inst, &run, !ws_file && !n_locations, &snap, &job, &err)) {
      rc = give_up(inst, run.id, err.msg);
      goto done;
    }
  } else if (weft_cli_find_job("run coordinate", ws_file, locations, n_locations, qualified,
                               &ws, &job) != WEFT_EXIT_OK) {
    rc = give_up(inst, run.id, "its job could not be loaded (see coordinator.log)");
    goto done;
  }
  if (weft_run_config_from_row(job, &run, &rcfg, &diags)) {
    weft_diags_sort(&diags);
    weft_diags_print(&diags, stderr);
    rc = give_up(inst, run.id, "its run config no longer fits the job");
    goto done;
  }
  built = 1;
  if (in_run_arg) {
    const char *bad = NULL;
    if (!(in_run = calloc(job->n_ops + 1, 1)) || !(copy = strdup(in_run_arg))) goto done;
    if (select_steps(job, copy, in_run, &bad)) {
      char *why = weft_str_printf("job %s has no step '%s' (--in-run)", job->name, bad);
      rc = give_up(inst, run.id, why ? why : "bad --in-run");
      free(why);
      goto done;
    }
  }
  weft_cli_trap_interrupts();
  view = weft_progress_new(stdout, WEFT_PROGRESS_PLAIN, run.id, job);
  struct weft_launch l = {.job = job, .rc = &rcfg, .parent_run_id = run.parent_run_id,
                          .in_run = in_run, .interrupt = &weft_cli_interrupted,
                          .on_event = view ? on_event : NULL, .cb_data = view};
  enum weft_run_status final = WEFT_RUN_FAILURE;
  int xrc = adopt_token ? weft_run_adopt(inst, run.id, adopt_token, &l, &final, &err)
                       : weft_run_execute(inst, run.id, &l, &final, &err);
  if (xrc) {
    weft_log_run(WEFT_LOG_ERROR, run.id, NULL, "%s", err.msg);
    if (err.code == WEFT_ECONFLICT) goto done; /* canceled (or taken) before it started */
    if (!weft_run_status_is_final(final)) goto done; /* left for another coordinator */
  }
  if (view && !weft_log_is_json()) { /* JSON: the run's last event said it */
    struct weft_run_row end = {0};
    weft_error e2 = WEFT_ERROR_INIT;
    int have = !weft_store_run_get(inst->store, run.id, &end, &e2);
    weft_progress_finish(view, final, have ? end.message : NULL);
    if (have) weft_run_row_release(&end);
  }
  rc = final == WEFT_RUN_SUCCESS ? WEFT_EXIT_OK : WEFT_EXIT_INVALID;
done:
  fflush(stdout);
  weft_progress_free(view);
  free(copy);
  free(in_run);
  free(qualified);
  if (built) weft_run_config_release(&rcfg);
  weft_diags_release(&diags);
  weft_run_row_release(&run);
  weft_workspace_free(ws);
  weft_location_free(snap);
  weft_instance_close(inst);
  free(locations);
  return rc;
}
