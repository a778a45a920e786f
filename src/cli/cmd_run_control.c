/* cmd_run_control.c: `weft run cancel` and `weft run reexecute`, the run
 * subcommands that change runs rather than inspect them (cmd_run.c). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/code_snapshot.h"
#include "engine/engine.h"
#include "util/clock.h"

static const char cancel_usage[] =
    "usage: weft run cancel ID [--no-wait] [--timeout SECONDS]\n"
    "\n"
    "Cancels a run: its running steps get SIGTERM, then SIGKILL after a grace\n"
    "period, pending steps are canceled and the run ends canceled. A queued\n"
    "run is canceled at once; a run whose coordinator died is cleaned up here.\n"
    "ID may be a unique prefix of at least 4 characters.\n"
    "\n"
    "options:\n"
    "  --no-wait          return once the cancel is requested\n"
    "  --timeout SECONDS  how long to wait for the run to end (default 30)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 when the run ended canceled (or the request was made with\n"
    "--no-wait), 1 when it had already ended or did not end in time.\n";

static const char reexecute_usage[] =
    "usage: weft run reexecute ID (--from-failure | --steps A,B,...) [--latest-code]\n"
    "                          [--follow | --detach] [--quiet] [-w FILE | -l LOCATION...]\n"
    "\n"
    "Runs a job again with the run config of run ID. The steps that are not\n"
    "selected are not run: their outputs stored by run ID (or by the run it\n"
    "reused them from) are materialized for the steps downstream. The new run\n"
    "records ID as its parent. It runs the code run ID ran (the snapshot of\n"
    "its code version in $WEFT_HOME/code), whatever changed in the location\n"
    "since, unless --latest-code is given.\n"
    "\n"
    "options:\n"
    "  --from-failure        run every step that did not succeed, and every\n"
    "                        step downstream of one\n"
    "  --steps A,B,...       run exactly these steps; of a mapped step p,\n"
    "                        'p[3]' runs that item again and 'p[*]' every\n"
    "                        item (its other items reuse the parent's outputs)\n"
    "  --latest-code         run the location's code as it is now (a new\n"
    "                        snapshot) instead of run ID's\n"
    "  --follow, --detach, --quiet   as for 'weft launch'\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "                        (default: ./workspace.yaml)\n"
    "  -l, --location DIR    read this code location (repeatable)\n"
    "  -h, --help            show this help\n";

int cmd_run_cancel(int argc, char **argv) {
  const char *id = NULL, *timeout_s = NULL;
  int no_wait = 0, m;
  for (int i = 1; i < argc; i++) {
    if (weft_cli_is_help(argv[i])) {
      fputs(cancel_usage, stdout);
      return WEFT_EXIT_OK;
    }
    if (!strcmp(argv[i], "--no-wait")) {
      no_wait = 1;
      continue;
    }
    if ((m = weft_cli_flag_value("run cancel", argc, argv, &i, NULL, "--timeout", &timeout_s))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      continue;
    }
    if (argv[i][0] == '-') return weft_cli_usage_error("run cancel", "unknown option '%s'", argv[i]);
    if (id) return weft_cli_usage_error("run cancel", "unexpected argument '%s'", argv[i]);
    id = argv[i];
  }
  if (!id) return weft_cli_usage_error("run cancel", "missing run ID");
  double timeout = 30;
  if (timeout_s) {
    char *end;
    timeout = strtod(timeout_s, &end);
    if (*end || timeout < 0)
      return weft_cli_usage_error("run cancel", "--timeout wants seconds, got '%s'", timeout_s);
  }
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = NULL;
  struct weft_run_row run = {0};
  int rc = WEFT_EXIT_INVALID;
  if (weft_instance_open(NULL, &inst, &err)) {
    fprintf(stderr, "weft run cancel: %s\n", err.msg);
    goto done;
  }
  if ((rc = weft_cli_resolve_run("run cancel", inst, id, &run)) != WEFT_EXIT_OK) goto done;
  rc = WEFT_EXIT_INVALID;
  if (weft_run_request_cancel(inst, run.id, "canceled by 'weft run cancel'", &err)) {
    fprintf(stderr, "weft run cancel: %s\n", err.msg);
    goto done;
  }
  if (no_wait) {
    printf("run %s: cancel requested\n", run.id);
    rc = WEFT_EXIT_OK;
    goto done;
  }
  int64_t deadline = weft_clock_mono_ms() + (int64_t)(timeout * 1000);
  for (;;) {
    struct weft_run_row cur = {0};
    if (weft_store_run_get(inst->store, run.id, &cur, &err)) {
      fprintf(stderr, "weft run cancel: %s\n", err.msg);
      goto done;
    }
    int final = weft_run_status_is_final(cur.status);
    if (final) {
      printf("run %s %s%s%s\n", cur.id, weft_run_status_name(cur.status),
             cur.message ? ": " : "", cur.message ? cur.message : "");
      rc = cur.status == WEFT_RUN_CANCELED ? WEFT_EXIT_OK : WEFT_EXIT_INVALID;
    }
    weft_run_row_release(&cur);
    if (final) break;
    if (weft_clock_mono_ms() >= deadline) {
      fprintf(stderr, "weft run cancel: run %s is still canceling after %.0f s\n", run.id,
              timeout);
      break;
    }
    /* The coordinator may die while canceling: sweep again as we wait. */
    if (weft_instance_sweep_orphans(inst, NULL, &err)) {
      fprintf(stderr, "weft run cancel: %s\n", err.msg);
      goto done;
    }
    weft_clock_sleep_ms(50);
  }
done:
  weft_run_row_release(&run);
  weft_instance_close(inst);
  return rc;
}

/* Splits "a,b,c" into a NULL-terminated array of borrowed-from-copy names;
 * *copy owns the storage. */
static const char **split_steps(const char *list, char **copy, size_t *n) {
  *n = 0;
  *copy = strdup(list);
  size_t cap = 1;
  for (const char *p = list; *p; p++) cap += *p == ',';
  const char **v = calloc(cap + 1, sizeof *v);
  if (!*copy || !v) {
    free(v);
    return NULL;
  }
  for (char *save = NULL, *t = strtok_r(*copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    if (*t) v[(*n)++] = t;
  return v;
}

int cmd_run_reexecute(int argc, char **argv) {
  const char *id = NULL, *ws_file = NULL, *steps_arg = NULL, *v;
  int from_failure = 0, detach = 0, quiet = 0, latest_code = 0, m, rc = WEFT_EXIT_USAGE;
  char **locations = calloc((size_t)argc + 1, sizeof *locations);
  size_t n_locations = 0, n_steps = 0;
  char *steps_copy = NULL;
  const char **steps = NULL;
  struct weft_workspace *ws = NULL;
  struct weft_location *snap = NULL;
  struct weft_instance *inst = NULL;
  struct weft_run_row parent = {0};
  struct weft_run_config rcfg = {0};
  unsigned char *in_run = NULL;
  char *qualified = NULL;
  int built = 0;
  weft_error err = WEFT_ERROR_INIT;
  if (!locations) return WEFT_EXIT_INVALID;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (weft_cli_is_help(arg)) {
      fputs(reexecute_usage, stdout);
      rc = WEFT_EXIT_OK;
      goto done;
    }
    if (!strcmp(arg, "--from-failure")) from_failure = 1;
    else if (!strcmp(arg, "--latest-code")) latest_code = 1;
    else if (!strcmp(arg, "--detach")) detach = 1;
    else if (!strcmp(arg, "--follow")) detach = 0;
    else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) quiet = 1;
    else if ((m = weft_cli_flag_value("run reexecute", argc, argv, &i, NULL, "--steps",
                                      &steps_arg)) ||
             (m = weft_cli_flag_value("run reexecute", argc, argv, &i, "-w", "--workspace",
                                      &ws_file))) {
      if (m < 0) goto done;
    } else if ((m = weft_cli_flag_value("run reexecute", argc, argv, &i, "-l", "--location",
                                        &v))) {
      if (m < 0) goto done;
      locations[n_locations++] = (char *)v;
    } else if (arg[0] == '-') {
      rc = weft_cli_usage_error("run reexecute", "unknown option '%s'", arg);
      goto done;
    } else if (id) {
      rc = weft_cli_usage_error("run reexecute", "unexpected argument '%s'", arg);
      goto done;
    } else {
      id = arg;
    }
  }
  if (!id) {
    rc = weft_cli_usage_error("run reexecute", "missing run ID");
    goto done;
  }
  if (from_failure == !!steps_arg) {
    rc = weft_cli_usage_error("run reexecute", "give exactly one of --from-failure and --steps");
    goto done;
  }
  rc = WEFT_EXIT_INVALID;
  if (steps_arg && !(steps = split_steps(steps_arg, &steps_copy, &n_steps))) goto done;
  if (weft_instance_open(NULL, &inst, &err)) {
    fprintf(stderr, "weft run reexecute: %s\n", err.msg);
    goto done;
  }
  if ((rc = weft_cli_resolve_run("run reexecute", inst, id, &parent)) != WEFT_EXIT_OK) goto done;
  rc = WEFT_EXIT_INVALID;
  if (!weft_run_status_is_final(parent.status)) {
    fprintf(stderr, "weft run reexecute: run %s is still %s; wait for it to end\n", parent.id,
            weft_run_status_name(parent.status));
    goto done;
  }
  size_t qlen = strlen(parent.location) + strlen(parent.job) + 2;
  if (!(qualified = malloc(qlen))) goto done;
  snprintf(qualified, qlen, "%s:%s", parent.location, parent.job);
  const struct weft_job *job = NULL;
  if (parent.code_version && !latest_code) {
    /* The parent's code: its snapshot, with the location's settings. */
    if (weft_code_load_run_job(inst, &parent, !ws_file && !n_locations, &snap, &job, &err)) {
      fprintf(stderr, "weft run reexecute: %s%s\n", err.msg,
              err.code == WEFT_ENOTFOUND ? " (use --latest-code to run the code as it is now)"
                                         : "");
      goto done;
    }
  } else if ((rc = weft_cli_find_job("run reexecute", ws_file, locations, n_locations, qualified,
                                     &ws, &job)) != WEFT_EXIT_OK) {
    goto done;
  }
  /* The parent's run config, as it was given (after --set), checked against
   * the job that will run (with --latest-code, the code may have changed). */
  struct weft_diags diags = WEFT_DIAGS_INIT;
  if (weft_run_config_from_row(job, &parent, &rcfg, &diags)) {
    weft_diags_print(&diags, stderr);
    weft_diags_release(&diags);
    fprintf(stderr, "weft run reexecute: the run config of run %s no longer fits job %s\n",
            parent.id, job->name);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  weft_diags_release(&diags);
  built = 1;
  if (!(in_run = calloc(job->n_ops + 1, 1))) goto done;
  if (weft_reexec_select(inst, parent.id, job, from_failure, steps, n_steps, in_run, &err)) {
    fprintf(stderr, "weft run reexecute: %s\n", err.msg);
    rc = err.code == WEFT_EUSAGE ? WEFT_EXIT_USAGE : WEFT_EXIT_INVALID;
    goto done;
  }
  if (!latest_code && weft_reexec_pin_images(inst, parent.id, job, &rcfg, in_run, &err)) {
    fprintf(stderr, "weft run reexecute: %s\n", err.msg);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  json_t *tags = parent.tags ? json_loads(parent.tags, 0, NULL) : NULL;
  if (tags) json_object_set_new(tags, "weft/parent_run_id", json_string(parent.id));
  /* Items named with --steps (p[3], p[*]) run again (engine.h). */
  if (tags && weft_reexec_tag_items(tags, steps, n_steps, &err)) {
    fprintf(stderr, "weft run reexecute: %s\n", err.msg);
    json_decref(tags);
    goto done;
  }
  weft_instance_close(inst); /* the run gets its own connection */
  inst = NULL;
  struct weft_launch l = {.job = job, .rc = &rcfg, .tags = tags, .parent_run_id = parent.id,
                          .in_run = in_run, .code_version = snap ? parent.code_version : NULL};
  rc = weft_cli_start_run("run reexecute", &l, detach, quiet);
  json_decref(tags);
done:
  free(in_run);
  free(qualified);
  if (built) weft_run_config_release(&rcfg);
  weft_run_row_release(&parent);
  weft_instance_close(inst);
  weft_workspace_free(ws);
  weft_location_free(snap);
  free(steps);
  free(steps_copy);
  free(locations);
  return rc;
}
