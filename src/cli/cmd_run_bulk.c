/* cmd_run_bulk.c: `weft run pin ID`, `weft run unpin ID` (pinned runs are
 * never purged), `weft run delete ID... [--dry-run]` (under retention's
 * rules: finished, not pinned, no re-execution, not among the keep_last
 * newest of its job), and `weft run bulk cancel|reexecute|delete ID...`:
 * one action over many runs, one line per run, exit 1 when any failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run_bulk.h"
#include "engine/engine.h"
#include "engine/retention.h"
#include "util/str.h"

static const char pin_usage[] =
    "usage: weft run pin ID\n"
    "       weft run unpin ID\n"
    "\n"
    "A pinned run is never removed by retention (weft.yaml retention:, weft\n"
    "instance purge) nor by weft run delete; unpin gives it back to the policy.\n"
    "weft run show says whether a run is pinned.\n";

static const char delete_usage[] =
    "usage: weft run delete ID... [--dry-run]\n"
    "\n"
    "Deletes runs now, whatever their age, under retention's rules: a run that\n"
    "has not finished, is pinned, has a re-execution, or is among the newest\n"
    "retention.keep_last runs of its job is refused. A deleted run loses its\n"
    "events, steps, compute logs, work folders and artifacts (in the artifact\n"
    "store, filesystem or S3); its materializations stay as summary rows.\n"
    "ID may be '-': run ids are read from stdin, one per line.\n"
    "\n"
    "options:\n"
    "  --dry-run   only say what would be deleted\n";

static const char bulk_usage[] =
    "usage: weft run bulk cancel ID...\n"
    "       weft run bulk reexecute ID... [--latest-code]\n"
    "       weft run bulk delete ID... [--dry-run]\n"
    "\n"
    "One action over many runs, one line per run (exit 1 when any failed):\n"
    "  cancel     ask each unfinished run to stop (does not wait)\n"
    "  reexecute  re-execute each finished run from its failure, detached\n"
    "  delete     as weft run delete\n"
    "ID may be '-': run ids are read from stdin, one per line, e.g.\n"
    "  weft run list --status failure --since 1d --format json | \\\n"
    "    python3 -c 'import json,sys; [print(r[\"id\"]) for r in json.load(sys.stdin)]' | \\\n"
    "    weft run bulk reexecute -\n";

/* The ids of argv (from index first), '-' expanded from stdin; NULL-ended,
 * caller frees the array and its strings. */
static char **collect_ids(int argc, char **argv, int first, size_t *n) {
  char **ids = NULL;
  *n = 0;
  for (int i = first; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1]) continue; /* a flag */
    if (!strcmp(argv[i], "-")) {
      char line[256];
      while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n \t")] = '\0';
        if (!*line) continue;
        char **g = realloc(ids, (*n + 2) * sizeof *g);
        if (!g) break;
        ids = g;
        ids[(*n)++] = strdup(line);
        ids[*n] = NULL;
      }
      continue;
    }
    char **g = realloc(ids, (*n + 2) * sizeof *g);
    if (!g) break;
    ids = g;
    ids[(*n)++] = strdup(argv[i]);
    ids[*n] = NULL;
  }
  return ids;
}

static void free_ids(char **ids, size_t n) {
  for (size_t i = 0; i < n; i++) free(ids[i]);
  free(ids);
}

static int pin_cmd(int argc, char **argv, int pin) {
  const char *cmd = pin ? "run pin" : "run unpin", *id = NULL;
  for (int i = 1; i < argc; i++) {
    if (weft_cli_is_help(argv[i])) {
      fputs(pin_usage, stdout);
      return WEFT_EXIT_OK;
    }
    if (argv[i][0] == '-') return weft_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
    if (id) return weft_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    id = argv[i];
  }
  if (!id) return weft_cli_usage_error(cmd, "missing run ID");
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = NULL;
  struct weft_run_row run = {0};
  int rc = WEFT_EXIT_INVALID;
  if (weft_instance_open(NULL, &inst, &err)) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    return rc;
  }
  if ((rc = weft_cli_resolve_run(cmd, inst, id, &run)) != WEFT_EXIT_OK) goto done;
  if (weft_run_pin(inst, run.id, pin, &err)) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    rc = WEFT_EXIT_INVALID;
  } else {
    printf("run %s %s\n", run.id, pin ? "pinned: retention keeps it" : "unpinned");
  }
  weft_cli_audit(inst, pin ? "run.pin" : "run.unpin", rc ? &err : NULL);
done:
  weft_run_row_release(&run);
  weft_instance_close(inst);
  return rc;
}

int cmd_run_pin(int argc, char **argv) { return pin_cmd(argc, argv, 1); }
int cmd_run_unpin(int argc, char **argv) { return pin_cmd(argc, argv, 0); }

static void say_mib(int64_t bytes) { printf("%.1f MiB", (double)bytes / (1024.0 * 1024.0)); }

/* delete of the runs in ids; 0 when every one went (or would). */
static int delete_runs(struct weft_instance *inst, char **ids, size_t n, int dry_run) {
  struct weft_retention pol;
  weft_error err = WEFT_ERROR_INIT;
  int failed = 0;
  if (weft_retention_load(inst->home, &pol, &err)) {
    fprintf(stderr, "weft run delete: %s\n", err.msg);
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    struct weft_run_row run = {0};
    struct weft_retention_report rep;
    if (weft_cli_resolve_run("run delete", inst, ids[i], &run) != WEFT_EXIT_OK) {
      failed = 1;
      continue;
    }
    weft_error e = WEFT_ERROR_INIT;
    int bad = weft_retention_delete_run(inst, &pol, run.id, dry_run, &rep, &e);
    if (bad) {
      printf("%s: not deleted: %s\n", run.id, e.msg);
      failed = 1;
    } else {
      printf("%s: %s (%lld events, %lld steps, %lld log files, %lld artifacts, ", run.id,
             dry_run ? "would delete" : "deleted", (long long)rep.events, (long long)rep.steps,
             (long long)rep.log_files, (long long)rep.artifacts);
      say_mib(rep.bytes);
      printf(")\n");
    }
    if (!dry_run) weft_cli_audit(inst, "run.delete", bad ? &e : NULL);
    weft_run_row_release(&run);
  }
  weft_retention_release(&pol);
  return failed;
}

int cmd_run_delete(int argc, char **argv) {
  int dry_run = 0;
  for (int i = 1; i < argc; i++) {
    if (weft_cli_is_help(argv[i])) {
      fputs(delete_usage, stdout);
      return WEFT_EXIT_OK;
    }
    if (!strcmp(argv[i], "--dry-run")) dry_run = 1;
    else if (argv[i][0] == '-' && argv[i][1])
      return weft_cli_usage_error("run delete", "unknown option '%s'", argv[i]);
  }
  size_t n = 0;
  char **ids = collect_ids(argc, argv, 1, &n);
  if (!n) {
    free_ids(ids, n);
    return weft_cli_usage_error("run delete", "missing run ID");
  }
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = NULL;
  int rc = WEFT_EXIT_INVALID;
  if (weft_instance_open(NULL, &inst, &err))
    fprintf(stderr, "weft run delete: %s\n", err.msg);
  else
    rc = delete_runs(inst, ids, n, dry_run) ? WEFT_EXIT_INVALID : WEFT_EXIT_OK;
  weft_instance_close(inst);
  free_ids(ids, n);
  return rc;
}

static int bulk_cancel(char **ids, size_t n) {
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = NULL;
  int failed = 0;
  if (weft_instance_open(NULL, &inst, &err)) {
    fprintf(stderr, "weft run bulk: %s\n", err.msg);
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    struct weft_run_row run = {0};
    weft_error e = WEFT_ERROR_INIT;
    if (weft_cli_resolve_run("run bulk cancel", inst, ids[i], &run) != WEFT_EXIT_OK) {
      failed = 1;
      continue;
    }
    if (weft_run_status_is_final(run.status)) {
      printf("%s: not canceled: it already ended (%s)\n", run.id,
             weft_run_status_name(run.status));
      failed = 1;
    } else if (weft_run_request_cancel(inst, run.id, "canceled by 'weft run bulk cancel'", &e)) {
      printf("%s: not canceled: %s\n", run.id, e.msg);
      failed = 1;
    } else {
      printf("%s: cancel requested\n", run.id);
    }
    weft_run_row_release(&run);
  }
  weft_instance_close(inst);
  return failed;
}

static int bulk_reexecute(char **ids, size_t n, int latest_code) {
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    char *av[] = {"reexecute", ids[i], "--from-failure", "--detach",
                  latest_code ? "--latest-code" : NULL, NULL};
    fflush(stdout);
    printf("%s: ", ids[i]);
    fflush(stdout);
    if (cmd_run_reexecute(latest_code ? 5 : 4, av) != WEFT_EXIT_OK) {
      printf("not re-executed (see above)\n");
      failed = 1;
    }
    fflush(stdout);
  }
  return failed;
}

int cmd_run_bulk(int argc, char **argv) {
  int dry_run = 0, latest_code = 0;
  for (int i = 1; i < argc; i++) {
    if (weft_cli_is_help(argv[i])) {
      fputs(bulk_usage, stdout);
      return WEFT_EXIT_OK;
    }
  }
  if (argc < 2) return weft_cli_usage_error("run bulk", "missing action (cancel, reexecute, delete)");
  const char *action = argv[1];
  if (strcmp(action, "cancel") && strcmp(action, "reexecute") && strcmp(action, "delete"))
    return weft_cli_usage_error("run bulk", "unknown action '%s' (cancel, reexecute, delete)",
                                action);
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--dry-run") && !strcmp(action, "delete")) dry_run = 1;
    else if (!strcmp(argv[i], "--latest-code") && !strcmp(action, "reexecute")) latest_code = 1;
    else if (argv[i][0] == '-' && argv[i][1])
      return weft_cli_usage_error("run bulk", "unknown option '%s' for %s", argv[i], action);
  }
  size_t n = 0;
  char **ids = collect_ids(argc, argv, 2, &n);
  int failed;
  if (!n) {
    free_ids(ids, n);
    return weft_cli_usage_error("run bulk", "missing run IDs");
  }
  if (!strcmp(action, "cancel")) {
    failed = bulk_cancel(ids, n);
  } else if (!strcmp(action, "reexecute")) {
    failed = bulk_reexecute(ids, n, latest_code);
  } else {
    weft_error err = WEFT_ERROR_INIT;
    struct weft_instance *inst = NULL;
    failed = 1;
    if (weft_instance_open(NULL, &inst, &err))
      fprintf(stderr, "weft run bulk: %s\n", err.msg);
    else
      failed = delete_runs(inst, ids, n, dry_run);
    weft_instance_close(inst);
  }
  free_ids(ids, n);
  return failed ? WEFT_EXIT_INVALID : WEFT_EXIT_OK;
}
