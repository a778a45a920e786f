/* cmd_instance.c: `weft instance init | show | migrate | gc-code |
 * gc-containers | purge`: the instance's configuration file
 * ($WEFT_HOME/weft.yaml), its storage schema and its upkeep. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "containers/containers.h"
#include "dsl/dsl.h"
#include "engine/code_snapshot.h"
#include "engine/engine.h"
#include "engine/retention.h"
#include "queue/queue.h"
#include "queue/signing.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/redact.h"
#include "util/str.h"

static const char instance_usage[] =
    "usage: weft instance init [--force]\n"
    "       weft instance show\n"
    "       weft instance migrate\n"
    "       weft instance gc-code [--min-age SECONDS] [--include-final] [--dry-run]\n"
    "       weft instance gc-containers [--dry-run]\n"
    "       weft instance purge [--dry-run] [--verbose] [--as-of TIME]\n"
    "\n"
    "The instance is the folder $WEFT_HOME (default ./.weft): its weft.yaml says\n"
    "which storage (sqlite or postgres) and artifact store it uses.\n"
    "\n"
    "  init     write a commented default weft.yaml (--force replaces one)\n"
    "  show     print the resolved configuration (passwords masked)\n"
    "  migrate  open the storage and apply its forward schema migrations\n"
    "  gc-code  remove the code snapshots ($WEFT_HOME/code/VERSION) that no run\n"
    "           references and that were not used in the last --min-age seconds\n"
    "           (default 3600); --include-final also removes those only finished\n"
    "           runs reference (re-executing those then needs --latest-code);\n"
    "           --dry-run only says what it would remove\n"
    "  gc-containers  remove the containers of this instance's steps whose\n"
    "           attempt is over (a weft killed mid-step leaves them), on the\n"
    "           engine weft.yaml's containers.socket names; --dry-run lists them\n"
    "  purge    apply weft.yaml's retention: policy now: remove the runs (with\n"
    "           their events, steps, logs, work folders, artifacts) and the\n"
    "           parts of kept runs it says are old enough, and print what went;\n"
    "           --dry-run only says what would; --verbose names each run;\n"
    "           --as-of counts ages as if it were TIME (2027-01-31, or +30d:\n"
    "           that long from now), to see what the policy will remove\n";

static const char *home_dir(void) {
  const char *h = getenv("WEFT_HOME");
  return h && *h ? h : ".weft";
}

static int instance_init(int argc, char **argv) {
  int force = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--force"))
      force = 1;
    else
      return weft_cli_usage_error("instance init", "unexpected argument '%s'", argv[i]);
  }
  weft_error err = WEFT_ERROR_INIT;
  char *file = weft_fs_join(home_dir(), "weft.yaml");
  int rc = WEFT_EXIT_INVALID;
  if (!file) goto done;
  if (weft_fs_exists(file) && !force) {
    fprintf(stderr, "weft instance init: %s exists (use --force to replace it)\n", file);
    goto done;
  }
  if (weft_fs_mkdir_private(home_dir(), &err) ||
      weft_fs_write_atomic(file, weft_instance_config_template,
                           strlen(weft_instance_config_template), 1, &err)) {
    fprintf(stderr, "weft instance init: %s\n", err.msg);
    goto done;
  }
  printf("wrote %s\n", file);
  rc = WEFT_EXIT_OK;
done:
  free(file);
  return rc;
}

/* The broker (password masked) and the queue signing key: where it is
 * and its id (never the key), or why it cannot be used. */
static void print_broker(const struct weft_instance *inst) {
  const char *url = weft_queue_broker_url(inst), *origin = NULL;
  char *shown = url ? weft_redact(url) : NULL, *path = NULL;
  struct weft_qsig_key *key = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int is_default = 0;
  printf("broker:     %s\n", shown ? shown : url ? "?" : "(none)");
  if (url && !weft_qsig_key_path(inst, &path, &origin, &is_default, &err)) {
    if (is_default && !weft_fs_exists(path))
      printf("queue key:  %s (made on first use)\n", path);
    else if (weft_qsig_key_read(path, origin, &key, &err))
      printf("queue key:  %s (unusable: %s)\n", path, err.msg);
    else
      printf("queue key:  %s (key id %s, from %s)\n", path, key->id, origin);
  }
  weft_qsig_key_free(key);
  free(path);
  free(shown);
}

/* show and migrate: both open the instance, which validates weft.yaml and
 * applies the storage's forward migrations (refusing a newer schema). */
static int instance_open_and_report(const char *cmd, int migrate) {
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = NULL;
  if (weft_instance_open(NULL, &inst, &err)) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    return WEFT_EXIT_INVALID;
  }
  char *file = weft_fs_join(inst->home, "weft.yaml");
  char *storage = weft_redact(inst->storage_url);
  if (migrate) {
    printf("storage %s: schema up to date\n", storage ? storage : "?");
  } else {
    printf("home:       %s\n", inst->home);
    printf("config:     %s%s\n", file ? file : "?",
           file && weft_fs_exists(file) ? "" : " (absent: defaults)");
    printf("storage:    %s\n", storage ? storage : "?");
    printf("artifacts:  %s\n", inst->artifacts_url);
    print_broker(inst);
    char *engine = weft_instance_container_url(inst);
    printf("containers: %s (pull %s, network %s%s%s)\n", engine ? engine : "?",
           weft_ctr_pull_name((enum weft_ctr_pull)inst->containers.pull),
           inst->containers.network ? inst->containers.network : "bridge",
           inst->containers.default_image ? ", default image " : "",
           inst->containers.default_image ? inst->containers.default_image : "");
    free(engine);
    struct weft_retention pol;
    weft_error rerr = WEFT_ERROR_INIT;
    if (weft_retention_load(inst->home, &pol, &rerr)) {
      printf("retention:  (unreadable: %s)\n", rerr.msg);
    } else {
      char *lines = weft_retention_describe(&pol);
      printf("retention:\n%s", lines ? lines : "  ?\n");
      free(lines);
      weft_retention_release(&pol);
    }
  }
  free(storage);
  free(file);
  weft_instance_close(inst);
  return WEFT_EXIT_OK;
}

static void print_removed(void *data, const char *version) {
  printf("%s %s\n", *(int *)data ? "would remove" : "removed", version);
}

static int instance_gc_code(int argc, char **argv) {
  const char *min_age_s = NULL;
  int include_final = 0, dry_run = 0, m;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--include-final")) include_final = 1;
    else if (!strcmp(argv[i], "--dry-run")) dry_run = 1;
    else if ((m = weft_cli_flag_value("instance gc-code", argc, argv, &i, NULL, "--min-age",
                                      &min_age_s))) {
      if (m < 0) return WEFT_EXIT_USAGE;
    } else {
      return weft_cli_usage_error("instance gc-code", "unexpected argument '%s'", argv[i]);
    }
  }
  double min_age = 3600;
  if (min_age_s) {
    char *end;
    min_age = strtod(min_age_s, &end);
    if (*end || min_age < 0 || end == min_age_s)
      return weft_cli_usage_error("instance gc-code", "--min-age wants seconds, got '%s'",
                                  min_age_s);
  }
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = NULL;
  struct weft_code_gc_stats st;
  int rc = WEFT_EXIT_INVALID;
  if (weft_instance_open(NULL, &inst, &err) ||
      weft_code_gc(inst, (int64_t)(min_age * 1000), include_final, dry_run, print_removed,
                   &dry_run, &st, &err)) {
    fprintf(stderr, "weft instance gc-code: %s\n", err.msg);
    goto done;
  }
  printf("%s %zu code snapshot%s (%.1f MiB), kept %zu\n", dry_run ? "would remove" : "removed",
         st.removed, st.removed == 1 ? "" : "s", (double)st.bytes_removed / (1024.0 * 1024.0),
         st.kept);
  rc = WEFT_EXIT_OK;
done:
  weft_instance_close(inst);
  return rc;
}

static int instance_gc_containers(int argc, char **argv) {
  int dry_run = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--dry-run")) dry_run = 1;
    else return weft_cli_usage_error("instance gc-containers", "unexpected argument '%s'", argv[i]);
  }
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = NULL;
  json_t *report = NULL, *item;
  int rc = WEFT_EXIT_INVALID;
  size_t i, n_removed = 0;
  if (weft_instance_open(NULL, &inst, &err) ||
      weft_instance_gc_containers(inst, NULL, dry_run, &report, &err)) {
    fprintf(stderr, "weft instance gc-containers: %s\n", err.msg);
    goto done;
  }
  rc = WEFT_EXIT_OK;
  json_array_foreach(report, i, item) {
    const char *error = json_string_value(json_object_get(item, "error"));
    printf("%s %.12s %s (run %s, step %s, attempt %s, %s: %s)%s%s\n",
           dry_run ? "would remove" : error ? "could not remove" : "removed",
           json_string_value(json_object_get(item, "id")),
           json_string_value(json_object_get(item, "name")),
           json_string_value(json_object_get(item, "run")),
           json_string_value(json_object_get(item, "step")),
           json_string_value(json_object_get(item, "attempt")),
           json_string_value(json_object_get(item, "state")),
           json_string_value(json_object_get(item, "why")), error ? ": " : "",
           error ? error : "");
    if (error) rc = WEFT_EXIT_INVALID;
    else n_removed++;
  }
  printf("%s %zu container%s\n", dry_run ? "would remove" : "removed", n_removed,
         n_removed == 1 ? "" : "s");
done:
  json_decref(report);
  weft_instance_close(inst);
  return rc;
}

static void print_purged(void *data, const char *what, const char *run_id, const char *job,
                         enum weft_run_status status) {
  int dry = *(int *)data;
  if (!strcmp(what, "run"))
    printf("%s run %s (job %s, %s)\n", dry ? "would remove" : "removed", run_id, job,
           weft_run_status_name(status));
  else
    printf("%s the %s of run %s (job %s)\n", dry ? "would remove" : "removed",
           !strcmp(what, "events_debug") ? "debug events" : what, run_id, job);
}

static int instance_purge(int argc, char **argv) {
  int dry_run = 0, verbose = 0, m;
  const char *as_of = NULL;
  int64_t now = weft_clock_wall_ms(), at = 0;
  for (int i = 1; i < argc; i++) {
    if ((m = weft_cli_flag_value("instance purge", argc, argv, &i, NULL, "--as-of", &as_of))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      /* "+30d": the age parser's "30d ago", mirrored into the future; an
       * age without '+' would be in the past, which purges nothing more */
      size_t len = strlen(as_of);
      int age = len > 1 && strchr("smhd", as_of[len - 1]) &&
                strspn(as_of + (as_of[0] == '+'), "0123456789") == len - 1 - (as_of[0] == '+');
      int bad = (as_of[0] == '+') != age ||
                weft_run_time_parse(as_of + (as_of[0] == '+'), now, &at);
      if (!bad && age) at = 2 * now - at;
      if (bad)
        return weft_cli_usage_error("instance purge", "--as-of wants a date (2027-01-31), a "
                                    "time or +AGE (+30d), got '%s'", as_of);
    } else if (!strcmp(argv[i], "--dry-run")) dry_run = 1;
    else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) verbose = 1;
    else return weft_cli_usage_error("instance purge", "unexpected argument '%s'", argv[i]);
  }
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = NULL;
  struct weft_retention pol = {0};
  struct weft_retention_report rep;
  int rc = WEFT_EXIT_INVALID;
  if (weft_instance_open(NULL, &inst, &err) || weft_retention_load(inst->home, &pol, &err)) {
    fprintf(stderr, "weft instance purge: %s\n", err.msg);
    goto done;
  }
  if (!pol.set) {
    printf("no retention: in %s/weft.yaml: nothing is removed\n", inst->home);
    rc = WEFT_EXIT_OK;
    goto done;
  }
  struct weft_retention_opts o = {.dry_run = dry_run, .now_ms = at,
                                  .on_item = verbose ? print_purged : NULL, .data = &dry_run};
  if (weft_retention_apply(inst, &pol, &o, &rep, &err)) {
    fprintf(stderr, "weft instance purge: %s\n", err.msg);
    goto done;
  }
  const char *verb = dry_run ? "would remove" : "removed";
  int64_t runs = 0;
  for (int i = 0; i < WEFT_RUN__COUNT; i++) runs += rep.runs[i];
  printf("%s %lld run%s (%lld success, %lld failure, %lld canceled)\n", verb, (long long)runs,
         runs == 1 ? "" : "s", (long long)rep.runs[WEFT_RUN_SUCCESS],
         (long long)rep.runs[WEFT_RUN_FAILURE], (long long)rep.runs[WEFT_RUN_CANCELED]);
  printf("%s %lld events and %lld steps of those runs\n", verb, (long long)rep.events,
         (long long)rep.steps);
  printf("%s %lld debug events of kept runs\n", verb, (long long)rep.debug_events);
  printf("%s %lld log files and %lld artifacts (%.1f MiB)\n", verb, (long long)rep.log_files,
         (long long)rep.artifacts, (double)rep.bytes / (1024.0 * 1024.0));
  printf("kept %lld pinned, %lld among keep_last, %lld with re-executions\n",
         (long long)rep.kept_pinned, (long long)rep.kept_last, (long long)rep.kept_reexec);
  if (!dry_run && runs) printf("(weft instance gc-code can now remove snapshots no run uses)\n");
  if (!dry_run) weft_cli_audit(inst, "instance.purge", NULL);
  rc = WEFT_EXIT_OK;
done:
  weft_retention_release(&pol); /* zeroed or loaded: both release */
  weft_instance_close(inst);
  return rc;
}

int cmd_instance(int argc, char **argv) {
  if (argc < 2) {
    fputs(instance_usage, stderr);
    return WEFT_EXIT_USAGE;
  }
  if (weft_cli_is_help(argv[1])) {
    fputs(instance_usage, stdout);
    return WEFT_EXIT_OK;
  }
  for (int i = 2; i < argc; i++)
    if (weft_cli_is_help(argv[i])) {
      fputs(instance_usage, stdout);
      return WEFT_EXIT_OK;
    }
  if (!strcmp(argv[1], "init")) return instance_init(argc - 1, argv + 1);
  if (!strcmp(argv[1], "gc-code")) return instance_gc_code(argc - 1, argv + 1);
  if (!strcmp(argv[1], "gc-containers")) return instance_gc_containers(argc - 1, argv + 1);
  if (!strcmp(argv[1], "purge")) return instance_purge(argc - 1, argv + 1);
  if (argc > 2) return weft_cli_usage_error("instance", "unexpected argument '%s'", argv[2]);
  if (!strcmp(argv[1], "show")) return instance_open_and_report("instance show", 0);
  if (!strcmp(argv[1], "migrate")) return instance_open_and_report("instance migrate", 1);
  return weft_cli_usage_error("instance",
                              "unknown subcommand '%s' (init, show, migrate, gc-code, "
                              "gc-containers, purge)", argv[1]);
}
