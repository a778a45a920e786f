/* cmd_backfill.c: `weft backfill JOB --from A --to B | --keys ...`, `list`,
 * `show ID`, `retry ID`: one queued run per partition, and their progress. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "dsl/yaml_tree.h"
#include "sched/backfill.h"
#include "sched/coordinator_spawn.h"
#include "sched/run_queue.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

static const char backfill_usage[] =
    "usage: weft backfill JOB (--from KEY --to KEY | --keys K1,K2,...) [-c CONFIG]\n"
    "                     [--set PATH=VALUE...] [--tag KEY=VALUE...] [--detach]\n"
    "                     [-w FILE | -l LOCATION...]\n"
    "       weft backfill retry ID [--detach] [-w FILE | -l LOCATION...]\n"
    "       weft backfill list [--format text|json]\n"
    "       weft backfill show ID [--format text|json]\n"
    "\n"
    "Launches one run per partition of a partitioned job (daily keys look like\n"
    "2026-01-01, hourly ones 2026-01-01-05:00, static ones as declared),\n"
    "through the run queue (weft.yaml run_queue limits apply). Each run is\n"
    "tagged weft/backfill=ID and weft/partition=KEY; its steps see\n"
    "WEFT_PARTITION_KEY. The run config (-c) may use {{partition_key}} in\n"
    "any string. Running the same backfill again (same job and keys) or\n"
    "'retry ID' launches only the partitions whose latest run failed, was\n"
    "canceled or is missing.\n"
    "\n"
    "options:\n"
    "  --from KEY, --to KEY  the first and last partition (inclusive); either\n"
    "                        may be left out: from the first, to the last\n"
    "                        complete partition\n"
    "  --keys K1,K2,...      these partitions\n"
    "  -c, --config FILE     run config template (YAML or JSON)\n"
    "  --set PATH=VALUE      override a run config value (repeatable)\n"
    "  --tag KEY=VALUE       tag every run (repeatable)\n"
    "  --detach              queue the runs and return: a running 'weft server',\n"
    "                        'weft dev' or 'weft scheduler' starts them\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "  -l, --location DIR    read this code location (repeatable)\n"
    "  --format text|json    list and show: output format (default: text)\n"
    "  -h, --help            show this help\n"
    "\n"
    "Without --detach the command starts the queued runs itself (as any\n"
    "dequeuer, within the limits) and shows the progress until every\n"
    "partition's run ended; Ctrl-C stops watching, the runs go on. Exit\n"
    "status: 0 when every partition succeeded, 1 otherwise, 2 on a usage\n"
    "error.\n";

struct bf_args {
  const char *sub; /* NULL (launch), "retry", "list", "show" */
  const char *target; /* JOB or ID */
  const char *from, *to, *keys, *config, *ws_file, *format;
  char **locations;
  size_t n_locations;
  const char **sets;
  size_t n_sets;
  json_t *tags;
  int detach, help;
};

static int parse_args(int argc, char **argv, struct bf_args *a) {
  const char *v;
  int m;
  a->locations = calloc((size_t)argc, sizeof *a->locations);
  a->sets = calloc((size_t)argc, sizeof *a->sets);
  a->tags = json_object();
  if (!a->locations || !a->sets || !a->tags) return WEFT_EXIT_INVALID;
  int i = 1;
  if (argc > 1 && (!strcmp(argv[1], "retry") || !strcmp(argv[1], "list") ||
                   !strcmp(argv[1], "show")))
    a->sub = argv[i++];
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] != '-' || !arg[1]) {
      if (a->target) return weft_cli_usage_error("backfill", "unexpected argument '%s'", arg);
      a->target = arg;
      continue;
    }
    if (weft_cli_is_help(arg)) {
      a->help = 1;
      return WEFT_EXIT_OK;
    }
    if (!strcmp(arg, "--detach")) {
      a->detach = 1;
      continue;
    }
    if ((m = weft_cli_flag_value("backfill", argc, argv, &i, NULL, "--from", &a->from)) ||
        (m = weft_cli_flag_value("backfill", argc, argv, &i, NULL, "--to", &a->to)) ||
        (m = weft_cli_flag_value("backfill", argc, argv, &i, NULL, "--keys", &a->keys)) ||
        (m = weft_cli_flag_value("backfill", argc, argv, &i, "-c", "--config", &a->config)) ||
        (m = weft_cli_flag_value("backfill", argc, argv, &i, "-w", "--workspace",
                                 &a->ws_file)) ||
        (m = weft_cli_flag_value("backfill", argc, argv, &i, NULL, "--format", &a->format))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      continue;
    }
    if ((m = weft_cli_flag_value("backfill", argc, argv, &i, "-l", "--location", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      a->locations[a->n_locations++] = (char *)v;
      continue;
    }
    if ((m = weft_cli_flag_value("backfill", argc, argv, &i, NULL, "--set", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      a->sets[a->n_sets++] = v;
      continue;
    }
    if ((m = weft_cli_flag_value("backfill", argc, argv, &i, NULL, "--tag", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      const char *eq = strchr(v, '=');
      if (!eq || eq == v)
        return weft_cli_usage_error("backfill", "--tag wants KEY=VALUE, got '%s'", v);
      char *key = strndup(v, (size_t)(eq - v));
      if (!key || json_object_set_new(a->tags, key, json_string(eq + 1))) {
        free(key);
        return WEFT_EXIT_INVALID;
      }
      free(key);
      continue;
    }
    return weft_cli_usage_error("backfill", "unknown option '%s'", arg);
  }
  if (a->format && strcmp(a->format, "text") && strcmp(a->format, "json"))
    return weft_cli_usage_error("backfill", "--format wants text or json, got '%s'", a->format);
  if (a->sub && !strcmp(a->sub, "list")) {
    if (a->target) return weft_cli_usage_error("backfill list", "unexpected argument '%s'",
                                               a->target);
    return WEFT_EXIT_OK;
  }
  if (!a->target)
    return weft_cli_usage_error("backfill", a->sub ? "missing backfill ID" : "missing JOB");
  if (!a->sub && a->keys && (a->from || a->to))
    return weft_cli_usage_error("backfill", "give --keys or --from/--to, not both");
  if (!a->sub && !a->keys && !a->from && !a->to)
    return weft_cli_usage_error("backfill", "which partitions? give --from KEY --to KEY or "
                                "--keys K1,K2,...");
  return WEFT_EXIT_OK;
}

/* ---- views ---------------------------------------------------------------------- */

static void format_created(int64_t ms, char *out, size_t len) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* "3/5 succeeded, 1 failed, 1 running" */
static void progress_text(const struct weft_backfill *b, char *out, size_t len) {
  struct weft_buf t = WEFT_BUF_INIT;
  weft_buf_addf(&t, "%zu/%zu succeeded", b->n_succeeded, b->n_parts);
  if (b->n_failed) weft_buf_addf(&t, ", %zu failed", b->n_failed);
  if (b->n_running) weft_buf_addf(&t, ", %zu running", b->n_running);
  if (b->n_queued) weft_buf_addf(&t, ", %zu queued", b->n_queued);
  if (b->n_missing) weft_buf_addf(&t, ", %zu missing", b->n_missing);
  snprintf(out, len, "%s", t.ptr ? t.ptr : "");
  weft_buf_release(&t);
}

static int print_json(json_t *v) {
  if (!v) return WEFT_EXIT_INVALID;
  char *s = json_dumps(v, JSON_INDENT(2));
  json_decref(v);
  if (!s) return WEFT_EXIT_INVALID;
  puts(s);
  free(s);
  return WEFT_EXIT_OK;
}

static int do_list(struct weft_instance *inst, const struct bf_args *a) {
  struct weft_backfill_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_backfill_list(inst->store, &l, &err)) {
    fprintf(stderr, "weft backfill list: %s\n", err.msg);
    return WEFT_EXIT_INVALID;
  }
  int rc = WEFT_EXIT_OK;
  if (a->format && !strcmp(a->format, "json")) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < l.n; i++)
      json_array_append_new(arr, weft_backfill_to_json(&l.v[i], 0));
    rc = print_json(arr);
  } else if (!l.n) {
    printf("no backfills yet ('weft backfill JOB --from KEY --to KEY' makes one)\n");
  } else {
    printf("%-10s %-24s %-19s %s\n", "ID", "JOB", "CREATED", "PROGRESS");
    for (size_t i = 0; i < l.n; i++) {
      char when[32], prog[160];
      format_created(l.v[i].created_ms, when, sizeof when);
      progress_text(&l.v[i], prog, sizeof prog);
      printf("%-10s %-24s %-19s %s\n", l.v[i].id, l.v[i].job, when, prog);
    }
  }
  weft_backfill_list_release(&l);
  return rc;
}

static int do_show(struct weft_instance *inst, const struct bf_args *a) {
  struct weft_backfill b = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_backfill_get(inst->store, a->target, &b, &err)) {
    fprintf(stderr, "weft backfill show: %s\n", err.msg);
    return WEFT_EXIT_INVALID;
  }
  int rc = WEFT_EXIT_OK;
  if (a->format && !strcmp(a->format, "json")) {
    rc = print_json(weft_backfill_to_json(&b, 1));
  } else {
    char when[32], prog[160];
    format_created(b.created_ms, when, sizeof when);
    progress_text(&b, prog, sizeof prog);
    printf("backfill %s of job %s%s%s, created %s\n", b.id, b.location ? b.location : "",
           b.location ? ":" : "", b.job, when);
    printf("progress: %s\n\n", prog);
    printf("%-20s %-10s %s\n", "PARTITION", "STATUS", "RUN");
    for (size_t i = 0; i < b.n_parts; i++)
      printf("%-20s %-10s %s\n", b.parts[i].key, weft_backfill_part_status(&b.parts[i]),
             b.parts[i].run_id ? b.parts[i].run_id : "-");
  }
  weft_backfill_release(&b);
  return rc;
}

/* ---- launching and following ------------------------------------------------------- */

/* The -c file as a JSON template (strings are not checked yet: they may
 * hold {{partition_key}}). */
static int read_template(const char *file, json_t **out) {
  struct weft_buf text = WEFT_BUF_INIT;
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft_diags d = WEFT_DIAGS_INIT;
  struct weft__ynode *root = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int rc = WEFT_EXIT_INVALID;
  *out = NULL;
  if (weft_fs_read_file(file, &text, &err)) {
    fprintf(stderr, "weft backfill: %s\n", err.msg);
    goto done;
  }
  if (weft__yaml_parse(&doc, file, text.ptr, text.len, &root, &d)) {
    weft_diags_sort(&d);
    weft_diags_print(&d, stderr);
    goto done;
  }
  if (root && root->kind != WEFT__Y_MAP) {
    fprintf(stderr, "%s:%d:%d: error: a run config must be a mapping, got %s\n", file,
            root->mark.line, root->mark.col, weft__ynode_describe(root));
    goto done;
  }
  *out = root ? weft__ynode_to_json(root) : json_object();
  rc = *out ? WEFT_EXIT_OK : WEFT_EXIT_INVALID;
done:
  weft__ydoc_release(&doc);
  weft_diags_release(&d);
  weft_buf_release(&text);
  return rc;
}

/* Starts queued runs (as any dequeuer) and prints the progress whenever it
 * changes, until no partition is queued or running. */
static int follow(struct weft_instance *inst, const struct bf_args *a, const char *id) {
  struct weft_run_queue_config cfg = {0};
  struct weft_coord_spawner sp;
  weft_error err = WEFT_ERROR_INIT;
  char last[160] = "";
  int rc = WEFT_EXIT_INVALID, have_sp = 0;
  if (weft_run_queue_config_load(inst->home, &cfg, &err) ||
      weft_coord_spawner_init_workspace(&sp, inst, a->ws_file, a->locations, a->n_locations,
                                        &err)) {
    fprintf(stderr, "weft backfill: %s\n", err.msg);
    goto done;
  }
  have_sp = 1;
  weft_cli_trap_interrupts();
  for (;;) {
    struct weft_backfill b = {0};
    weft_coord_reap(&sp, inst);
    if (weft_run_queue_dequeue(inst, &cfg, weft_clock_wall_ms(), weft_coord_spawn_fn, &sp,
                               NULL, &err) ||
        weft_backfill_get(inst->store, id, &b, &err)) {
      fprintf(stderr, "weft backfill: %s\n", err.msg);
      goto done;
    }
    char prog[160];
    progress_text(&b, prog, sizeof prog);
    int finished = b.n_queued + b.n_running == 0;
    int all_ok = b.n_succeeded == b.n_parts;
    weft_backfill_release(&b);
    if (strcmp(prog, last)) {
      printf("backfill %s: %s\n", id, prog);
      fflush(stdout);
      snprintf(last, sizeof last, "%s", prog);
    }
    if (finished) {
      rc = all_ok ? WEFT_EXIT_OK : WEFT_EXIT_INVALID;
      if (!all_ok) printf("some partitions failed: 'weft backfill show %s' lists them, "
                          "'weft backfill retry %s' runs them again\n", id, id);
      break;
    }
    if (weft_cli_interrupted) {
      printf("stopped watching backfill %s; its started runs go on, queued ones start "
             "when a dequeuer runs (weft server, weft dev, weft scheduler)\n", id);
      break;
    }
    weft_clock_sleep_ms(200);
  }
done:
  /* Reap what already ended; the rest run on in their own sessions. */
  if (have_sp) {
    weft_coord_reap(&sp, inst);
    weft_coord_spawner_release(&sp);
  }
  weft_run_queue_config_release(&cfg);
  return rc;
}

/* Splits "a,b,c" (modified in place) into keys (borrowed from list). */
static size_t split_keys(char *list, const char **keys) {
  size_t n = 0;
  for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
    if (*t) keys[n++] = t;
  return n;
}

static int do_launch(struct weft_instance *inst, const struct bf_args *a,
                     const struct weft_job *job) {
  json_t *tmpl = NULL;
  char *keys_copy = a->keys ? strdup(a->keys) : NULL, *id = NULL;
  const char **keys = calloc(a->keys ? strlen(a->keys) + 1 : 1, sizeof *keys);
  weft_error err = WEFT_ERROR_INIT;
  size_t n_launched = 0, n_keys = 0;
  int rc = WEFT_EXIT_INVALID;
  if (!keys || (a->keys && !keys_copy)) goto done;
  if (a->config && (rc = read_template(a->config, &tmpl)) != WEFT_EXIT_OK) goto done;
  if (!strcmp(a->sub ? a->sub : "", "retry")) {
    if (weft_backfill_retry(inst, a->target, job, &n_launched, &err)) {
      fprintf(stderr, "weft backfill retry: %s\n", err.msg);
      rc = WEFT_EXIT_INVALID;
      goto done;
    }
    if (!(id = strdup(a->target))) goto done;
  } else {
    struct weft_backfill_request req = {.job = job, .from = a->from, .to = a->to,
                                        .config = tmpl, .sets = a->sets, .n_sets = a->n_sets,
                                        .tags = a->tags, .now_s = weft_clock_wall_ms() / 1000};
    if (keys_copy) {
      req.n_keys = split_keys(keys_copy, keys);
      req.keys = keys;
      if (!req.n_keys) {
        rc = weft_cli_usage_error("backfill", "--keys wants K1,K2,...");
        goto done;
      }
    }
    if (weft_backfill_launch(inst, &req, &id, &n_launched, &n_keys, &err)) {
      fprintf(stderr, "weft backfill: %s\n", err.msg);
      rc = err.code == WEFT_EINVALID ? WEFT_EXIT_INVALID : WEFT_EXIT_INVALID;
      goto done;
    }
  }
  struct weft_backfill b = {0};
  if (weft_backfill_get(inst->store, id, &b, &err)) {
    fprintf(stderr, "weft backfill: %s\n", err.msg);
    goto done;
  }
  printf("backfill %s: job %s, %zu partitions, %zu run%s queued", id, job->name, b.n_parts,
         n_launched, n_launched == 1 ? "" : "s");
  if (n_launched < b.n_parts)
    printf(" (the other %zu succeeded or are in progress)", b.n_parts - n_launched);
  printf("\n");
  weft_backfill_release(&b);
  if (a->detach) {
    printf("the runs wait in the queue for 'weft server', 'weft dev' or 'weft scheduler' "
           "to start them; 'weft backfill show %s' shows the progress\n", id);
    rc = WEFT_EXIT_OK;
    goto done;
  }
  fflush(stdout);
  rc = follow(inst, a, id);
done:
  json_decref(tmpl);
  free(keys_copy);
  free(keys);
  free(id);
  return rc;
}

/* The job of a backfill record, for retry: "location:job". Caller frees. */
static char *retry_job_name(struct weft_instance *inst, const char *id) {
  struct weft_backfill b = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_backfill_get(inst->store, id, &b, &err)) {
    fprintf(stderr, "weft backfill retry: %s\n", err.msg);
    return NULL;
  }
  char *name = weft_str_printf("%s:%s", b.location ? b.location : "", b.job);
  weft_backfill_release(&b);
  return name;
}

int cmd_backfill(int argc, char **argv) {
  struct bf_args a = {0};
  struct weft_instance *inst = NULL;
  struct weft_workspace *ws = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char *job_name = NULL;
  int rc = parse_args(argc, argv, &a);
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(backfill_usage, stdout);
    goto done;
  }
  if (weft_instance_open(NULL, &inst, &err)) {
    fprintf(stderr, "weft backfill: %s\n", err.msg);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  if (a.sub && !strcmp(a.sub, "list")) {
    rc = do_list(inst, &a);
    goto done;
  }
  if (a.sub && !strcmp(a.sub, "show")) {
    rc = do_show(inst, &a);
    goto done;
  }
  const char *name = a.target;
  if (a.sub && !(name = job_name = retry_job_name(inst, a.target))) {
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  const struct weft_job *job = NULL;
  if ((rc = weft_cli_find_job("backfill", a.ws_file, a.locations, a.n_locations, name, &ws,
                              &job)) != WEFT_EXIT_OK)
    goto done;
  rc = do_launch(inst, &a, job);
done:
  free(job_name);
  weft_workspace_free(ws);
  weft_instance_close(inst);
  json_decref(a.tags);
  free(a.locations);
  free(a.sets);
  return rc;
}
