/* cmd_run.c: `weft run list | show | events`: inspect runs from the store,
 * following a live run's log; dispatches logs, cancel and reexecute too. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "cli/run_bulk.h"
#include "cli/run_view.h"
#include "engine/engine.h"
#include "sched/run_queue.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/str.h"

static const char run_usage[] =
    "usage: weft run list [--job JOB] [--status STATUS] [--id PREFIX] [--tag K=V]...\n"
    "                     [--since TIME] [--until TIME] [--limit N] [--cursor NEXT]\n"
    "                     [--format text|json]\n"
    "       weft run show ID [--format text|json]\n"
    "       weft run events ID [--type TYPE] [--step STEP] [--follow] [--format text|json]\n"
    "       weft run logs ID [STEP] [--stderr] [--attempt N] [--follow]\n"
    "       weft run cancel ID [--no-wait] [--timeout SECONDS]\n"
    "       weft run reexecute ID (--from-failure | --steps A,B,...) [--detach]\n"
    "       weft run coordinate RUN_ID [-w FILE | -l DIR...] [--in-run A,B,...]\n"
    "       weft run pin ID | weft run unpin ID\n"
    "       weft run delete ID... [--dry-run]\n"
    "       weft run bulk cancel|reexecute|delete ID...\n"
    "\n"
    "ID is a run id or a unique prefix of at least 4 characters of one.\n"
    "Runs are read from the instance in $WEFT_HOME (default ./.weft).\n"
    "Run 'weft run SUBCOMMAND --help' for details.\n";

static const char list_usage[] =
    "usage: weft run list [--job JOB] [--status STATUS] [--id PREFIX] [--tag K=V]...\n"
    "                     [--since TIME] [--until TIME] [--limit N] [--cursor NEXT]\n"
    "                     [--format text|json]\n"
    "\n"
    "Lists runs, newest first: id, job, status, start time, duration, how\n"
    "their steps ended (the last attempt of each) and the run a re-execution\n"
    "came from. Every filter given must hold. When more runs match than fit\n"
    "the page, stderr ends with 'next: NEXT': pass it to --cursor for the\n"
    "next page.\n"
    "\n"
    "options:\n"
    "  --job JOB           only runs of this job\n"
    "  --status STATUS     only runs in this status; a comma-separated list of\n"
    "                      queued, started, success, failure, canceling, canceled\n"
    "  --id PREFIX         only runs whose id starts with PREFIX\n"
    "  --tag KEY=VALUE     only runs with this tag (repeatable: all must hold)\n"
    "  --since TIME        only runs created at or after TIME: 2026-12-06,\n"
    "                      2026-12-06T08:30Z (UTC), epoch milliseconds, or an\n"
    "                      age such as 90m, 12h, 7d\n"
    "  --until TIME        only runs created before TIME (same forms)\n"
    "  --limit N           at most N runs (default 50)\n"
    "  --cursor NEXT       the page after the one that printed 'next: NEXT'\n"
    "  --format text|json  output format (default: text)\n"
    "  -h, --help          show this help\n";

static const char show_usage[] =
    "usage: weft run show ID [--format text|json]\n"
    "\n"
    "Shows a run: its job, status, times, tags and lineage; every attempt of\n"
    "every step; the outputs each step stored (inline values, or artifact\n"
    "keys and sizes) and the assets it materialized; and where the compute\n"
    "logs of each step's last attempt are ('weft run logs ID STEP' prints them).\n"
    "\n"
    "options:\n"
    "  --format text|json  output format (default: text)\n"
    "  -h, --help          show this help\n";

static const char events_usage[] =
    "usage: weft run events ID [--type TYPE] [--step STEP] [--follow] [--format text|json]\n"
    "\n"
    "Prints the event log of a run, one event per line: every state change,\n"
    "log line, output and materialization. --format json prints one JSON\n"
    "object per line: {id, run_id, ts_ms, step, type, payload}.\n"
    "\n"
    "options:\n"
    "  --type TYPE         only events of these types (comma-separated,\n"
    "                      repeatable), e.g. step_failed,log\n"
    "  --step STEP         only the events of this step\n"
    "  -f, --follow        keep printing new events until the run ends\n"
    "  --format text|json  output format (default: text)\n"
    "  -h, --help          show this help\n";

/* Which flags a subcommand accepts. */
enum { F_ID = 1, F_FORMAT = 2, F_LIST = 4, F_EVENTS = 8 };

struct run_args {
  const char *cmd; /* "run list", ... for messages */
  const char *id, *format, *job, *step;
  const char *id_prefix, *since, *until, *cursor;
  const char *tag_keys[16], *tag_values[16];
  char *tag_text[16];
  size_t n_tags;
  int status_mask;
  int limit;
  unsigned type_mask; /* bit i: weft_event_types[i]; 0: every type */
  int follow, help;
};

/* Parses a comma-separated list against names; returns the mask of the
 * names given, or -1 after a usage error naming the valid ones. */
static long parse_names(const char *cmd, const char *flag, const char *list,
                        const char *const *names, const char *const *aliases) {
  long mask = 0;
  char *copy = strdup(list), *save = NULL;
  if (!copy) return -1;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int found = -1;
    for (int i = 0; names[i] && found < 0; i++)
      if (!strcmp(t, names[i])) found = i;
    for (int i = 0; aliases && aliases[i] && found < 0; i += 2)
      if (!strcmp(t, aliases[i]))
        for (int k = 0; names[k]; k++)
          if (!strcmp(aliases[i + 1], names[k])) found = k;
    if (found >= 0) {
      mask |= 1L << found;
      continue;
    }
    struct weft_buf all = WEFT_BUF_INIT;
    size_t n = 0;
    for (; names[n]; n++) weft_buf_addf(&all, "%s%s", n ? ", " : "", names[n]);
    const char *hint = weft_str_suggest(t, names, n);
    weft_cli_usage_error(cmd, "unknown %s '%s'%s%s%s (expected one of: %s)", flag, t,
                         hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "",
                         all.ptr);
    weft_buf_release(&all);
    free(copy);
    return -1;
  }
  free(copy);
  if (!mask) {
    weft_cli_usage_error(cmd, "--%s wants a value", flag);
    return -1;
  }
  return mask;
}

static int parse_status(struct run_args *a, const char *v) {
  static const char *names[WEFT_RUN__COUNT + 1];
  /* Words people type for the statuses, as in other orchestrators' CLIs. */
  static const char *const aliases[] = {"succeeded", "success", "ok",      "success",
                                        "failed",    "failure", "running", "started",
                                        "cancelled", "canceled", NULL};
  for (int i = 0; i < WEFT_RUN__COUNT; i++)
    names[i] = weft_run_status_name((enum weft_run_status)i);
  long m = parse_names(a->cmd, "status", v, names, aliases);
  if (m < 0) return WEFT_EXIT_USAGE;
  a->status_mask |= (int)m;
  return WEFT_EXIT_OK;
}

static int parse_limit(struct run_args *a, const char *v) {
  char *end;
  long n = strtol(v, &end, 10);
  if (!*v || *end || n <= 0 || n > 1000000)
    return weft_cli_usage_error(a->cmd, "--limit wants a positive number, got '%s'", v);
  a->limit = (int)n;
  return WEFT_EXIT_OK;
}

/* Parses argv (argv[0] is the subcommand) into a; returns WEFT_EXIT_OK or
 * WEFT_EXIT_USAGE after printing the problem. */
static int parse_args(int argc, char **argv, unsigned flags, struct run_args *a) {
  const char *v;
  int m;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] != '-' || !arg[1]) {
      if ((flags & F_ID) && !a->id) {
        a->id = arg;
        continue;
      }
      return weft_cli_usage_error(a->cmd, "unexpected argument '%s'", arg);
    }
    if (weft_cli_is_help(arg)) {
      a->help = 1;
      return WEFT_EXIT_OK;
    }
    if ((flags & F_EVENTS) && (!strcmp(arg, "--follow") || !strcmp(arg, "-f"))) {
      a->follow = 1;
      continue;
    }
    if ((flags & F_FORMAT) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--format", &a->format)))
      goto matched;
    if ((flags & F_LIST) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--job", &a->job)))
      goto matched;
    if ((flags & F_LIST) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--status", &v))) {
      if (m > 0 && parse_status(a, v)) return WEFT_EXIT_USAGE;
      goto matched;
    }
    if ((flags & F_LIST) &&
        ((m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--id", &a->id_prefix)) ||
         (m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--since", &a->since)) ||
         (m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--until", &a->until)) ||
         (m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--cursor", &a->cursor))))
      goto matched;
    if ((flags & F_LIST) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--tag", &v))) {
      if (m > 0) {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v || strpbrk(v, "\"\\"))
          return weft_cli_usage_error(a->cmd, "--tag wants KEY=VALUE, got '%s'", v);
        if (a->n_tags == 16) return weft_cli_usage_error(a->cmd, "at most 16 --tag filters");
        char *t = strdup(v);
        if (!t) return WEFT_EXIT_INVALID;
        t[eq - v] = '\0';
        a->tag_text[a->n_tags] = t;
        a->tag_keys[a->n_tags] = t;
        a->tag_values[a->n_tags++] = t + (eq - v) + 1;
      }
      goto matched;
    }
    if ((flags & F_LIST) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, "-n", "--limit", &v))) {
      if (m > 0 && parse_limit(a, v)) return WEFT_EXIT_USAGE;
      goto matched;
    }
    if ((flags & F_EVENTS) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--step", &a->step)))
      goto matched;
    if ((flags & F_EVENTS) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, "-t", "--type", &v))) {
      long mask = m > 0 ? parse_names(a->cmd, "type", v, weft_event_types, NULL) : 0;
      if (mask < 0) return WEFT_EXIT_USAGE;
      a->type_mask |= (unsigned)mask;
      goto matched;
    }
    return weft_cli_usage_error(a->cmd, "unknown option '%s'", arg);
  matched:
    if (m < 0) return WEFT_EXIT_USAGE;
  }
  if ((flags & F_ID) && !a->id) return weft_cli_usage_error(a->cmd, "missing run ID");
  return WEFT_EXIT_OK;
}

/* 0 for text, 1 for json, -1 after a usage error. */
static int pick_format(const struct run_args *a) {
  if (!a->format || !strcmp(a->format, "text")) return 0;
  if (!strcmp(a->format, "json")) return 1;
  weft_cli_usage_error(a->cmd, "unknown format '%s' (expected text, json)", a->format);
  return -1;
}

static int open_instance(const char *cmd, struct weft_instance **inst) {
  weft_error err = WEFT_ERROR_INIT;
  if (weft_instance_open(NULL, inst, &err)) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    return WEFT_EXIT_INVALID;
  }
  return WEFT_EXIT_OK;
}

static int render_failed(const char *cmd, int wrc) {
  if (wrc == WEFT_OK) return WEFT_EXIT_OK;
  fprintf(stderr, "weft %s: %s\n", cmd, weft_strerror(wrc));
  return WEFT_EXIT_INVALID;
}

/* ---- list ------------------------------------------------------------------- */

/* Why the queued runs wait (run_queue.h), when any of runs is queued. A
 * failure only loses the reasons. */
static void queue_waits(struct weft_instance *inst, const struct weft_run_list *runs,
                        struct weft_run_queue_waits *w) {
  struct weft_run_queue_config cfg = {0};
  weft_error err = WEFT_ERROR_INIT;
  int queued = 0;
  for (size_t i = 0; i < runs->n && !queued; i++) queued = runs->v[i].status == WEFT_RUN_QUEUED;
  if (!queued) return;
  if (weft_run_queue_config_load(inst->home, &cfg, &err) ||
      weft_run_queue_explain(inst->store, &cfg, w, &err))
    fprintf(stderr, "weft: cannot tell why queued runs wait: %s\n", err.msg);
  weft_run_queue_config_release(&cfg);
}

static int run_list(int argc, char **argv) {
  struct run_args a = {.cmd = "run list"};
  struct weft_instance *inst = NULL;
  struct weft_run_list runs = {0};
  struct weft_step_list *steps = NULL;
  struct weft_run_queue_waits waits = {0};
  weft_error err = WEFT_ERROR_INIT;
  int rc = parse_args(argc, argv, F_FORMAT | F_LIST, &a), format;
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(list_usage, stdout);
    goto done;
  }
  if ((format = pick_format(&a)) < 0) {
    rc = WEFT_EXIT_USAGE;
    goto done;
  }
  int limit = a.limit > 0 ? a.limit : 50;
  struct weft_run_search q = {.job = a.job, .status_mask = a.status_mask,
                              .id_prefix = a.id_prefix, .tag_keys = a.tag_keys,
                              .tag_values = a.tag_values, .n_tags = a.n_tags,
                              .limit = limit + 1}; /* one more: is there a next page? */
  int64_t now = weft_clock_wall_ms();
  if (a.since && weft_run_time_parse(a.since, now, &q.since_ms)) {
    rc = weft_cli_usage_error(a.cmd, "--since wants a date, a time or an age like 12h, got '%s'",
                              a.since);
    goto done;
  }
  if (a.until && weft_run_time_parse(a.until, now, &q.until_ms)) {
    rc = weft_cli_usage_error(a.cmd, "--until wants a date, a time or an age like 12h, got '%s'",
                              a.until);
    goto done;
  }
  if (a.cursor && weft_run_cursor_parse(a.cursor, &q.before_created_ms, &q.before_id)) {
    rc = weft_cli_usage_error(a.cmd, "--cursor wants the NEXT a previous page printed, got '%s'",
                              a.cursor);
    goto done;
  }
  if ((rc = open_instance(a.cmd, &inst))) goto done;
  rc = WEFT_EXIT_INVALID;
  if (weft_store_run_search(inst->store, &q, &runs, &err)) goto fail;
  char *next = NULL;
  if (runs.n > (size_t)limit) {
    next = weft_run_cursor_format(&runs.v[limit - 1]);
    weft_run_row_release(&runs.v[limit]);
    runs.n = (size_t)limit;
  }
  if (!(steps = calloc(runs.n + 1, sizeof *steps))) {
    weft_error_set(&err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < runs.n; i++)
    if (weft_store_step_list(inst->store, runs.v[i].id, &steps[i], &err)) goto fail;
  queue_waits(inst, &runs, &waits);
  if (format == 1) {
    rc = render_failed(a.cmd, weft_render_run_list_json(&runs, steps, &waits, stdout));
  } else if (!runs.n) {
    /* On stderr, so that a script reading the table sees none. */
    int filtered = a.job || a.status_mask || a.id_prefix || a.n_tags || a.since || a.until ||
                   a.cursor;
    fprintf(stderr, "no runs%s%s%s\n", filtered ? " match" : " yet",
            a.job ? " of job " : "", a.job ? a.job : "");
    rc = WEFT_EXIT_OK;
  } else {
    rc = render_failed(a.cmd, weft_render_run_list_text(&runs, steps, &waits, stdout));
  }
  if (next) {
    fflush(stdout);
    fprintf(stderr, "next: %s\n", next);
    free(next);
  }
  goto done;
fail:
  fprintf(stderr, "weft %s: %s\n", a.cmd, err.msg);
done:
  for (size_t i = 0; steps && i < runs.n; i++) weft_step_list_release(&steps[i]);
  free(steps);
  weft_run_queue_waits_release(&waits);
  weft_run_list_release(&runs);
  weft_instance_close(inst);
  for (size_t i = 0; i < a.n_tags; i++) free(a.tag_text[i]);
  return rc;
}

/* ---- show --------------------------------------------------------------------- */

static int run_show(int argc, char **argv) {
  struct run_args a = {.cmd = "run show"};
  struct weft_instance *inst = NULL;
  struct weft_run_view v = {0};
  struct weft_run_queue_waits waits = {0};
  weft_error err = WEFT_ERROR_INIT;
  int rc = parse_args(argc, argv, F_ID | F_FORMAT, &a), format;
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(show_usage, stdout);
    goto done;
  }
  if ((format = pick_format(&a)) < 0) {
    rc = WEFT_EXIT_USAGE;
    goto done;
  }
  if ((rc = open_instance(a.cmd, &inst))) goto done;
  if ((rc = weft_cli_resolve_run(a.cmd, inst, a.id, &v.run))) goto done;
  if (weft_run_view_load(inst->store, &v, &err)) {
    fprintf(stderr, "weft %s: %s\n", a.cmd, err.msg);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  struct weft_run_list one = {&v.run, 1};
  queue_waits(inst, &one, &waits);
  const char *why = weft_run_queue_waits_find(&waits, v.run.id);
  int pinned = 0;
  unsigned purged = 0;
  if (weft_store_run_mark_get(inst->store, v.run.id, &pinned, &purged, &err)) {
    fprintf(stderr, "weft %s: %s\n", a.cmd, err.msg);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  if (format == 1) {
    /* The rendered document, with what retention knows of the run. */
    char *doc = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&doc, &len);
    int wrc = mem ? weft_render_run_show_json(&v, why, mem) : WEFT_ENOMEM;
    if (mem) fclose(mem);
    json_t *o = !wrc && doc ? json_loads(doc, 0, NULL) : NULL;
    if (o && !json_object_set_new(o, "pinned", json_boolean(pinned)) &&
        !json_object_set_new(o, "purged",
                             json_pack("{s:b, s:b, s:b}", "events_debug",
                                       (purged & WEFT_PURGED_DEBUG) != 0, "logs",
                                       (purged & WEFT_PURGED_LOGS) != 0, "artifacts",
                                       (purged & WEFT_PURGED_ARTIFACTS) != 0)) &&
        !json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15))) {
      putchar('\n');
      rc = WEFT_EXIT_OK;
    } else {
      rc = render_failed(a.cmd, wrc ? wrc : WEFT_ENOMEM);
    }
    json_decref(o);
    free(doc);
  } else {
    rc = render_failed(a.cmd, weft_render_run_show_text(&v, why, stdout));
    if (!rc && (pinned || purged))
      printf("\nretention: %s%s%s%s%s\n", pinned ? "pinned (weft run unpin to release)" : "",
             pinned && purged ? "; " : "", purged & WEFT_PURGED_DEBUG ? "debug events removed " : "",
             purged & WEFT_PURGED_LOGS ? "logs removed " : "",
             purged & WEFT_PURGED_ARTIFACTS ? "artifacts removed" : "");
  }
done:
  weft_run_queue_waits_release(&waits);
  weft_run_view_release(&v);
  weft_instance_close(inst);
  return rc;
}

/* ---- events --------------------------------------------------------------------- */

static int event_wanted(const struct run_args *a, const struct weft_event_row *ev) {
  if (a->step && (!ev->step || strcmp(a->step, ev->step))) return 0;
  if (!a->type_mask) return 1;
  for (int i = 0; weft_event_types[i]; i++)
    if ((a->type_mask & (1u << i)) && !strcmp(ev->type, weft_event_types[i])) return 1;
  return 0;
}

/* Step names seen in the log, to tell a mistyped --step from a quiet one. */
struct seen_steps {
  char **v;
  size_t n;
};

static void seen_add(struct seen_steps *s, const char *step) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], step)) return;
  char **nv = realloc(s->v, (s->n + 1) * sizeof *nv);
  if (!nv) return; /* only a hint is lost */
  s->v = nv;
  if ((s->v[s->n] = strdup(step))) s->n++;
}

static void seen_release(struct seen_steps *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
}

/* When a finished run has no step named step: says so, with the steps it
 * has, and returns 1. */
static int unknown_step(const char *cmd, const char *run_id, const char *step,
                        const struct seen_steps *s) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], step)) return 0;
  struct weft_buf all = WEFT_BUF_INIT;
  for (size_t i = 0; i < s->n; i++) weft_buf_addf(&all, "%s%s", i ? ", " : "", s->v[i]);
  const char *hint = weft_str_suggest(step, (const char *const *)s->v, s->n);
  fprintf(stderr, "weft %s: run %s has no step '%s'%s%s%s (its steps: %s)\n", cmd, run_id,
          step, hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "",
          s->n ? all.ptr : "none");
  weft_buf_release(&all);
  return 1;
}

static int run_events(int argc, char **argv) {
  struct run_args a = {.cmd = "run events"};
  struct weft_instance *inst = NULL;
  struct weft_run_row run = {0};
  struct weft_run_feed feed = {0};
  struct seen_steps seen = {0};
  weft_error err = WEFT_ERROR_INIT;
  int rc = parse_args(argc, argv, F_ID | F_FORMAT | F_EVENTS, &a), format;
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(events_usage, stdout);
    goto done;
  }
  if ((format = pick_format(&a)) < 0) {
    rc = WEFT_EXIT_USAGE;
    goto done;
  }
  if ((rc = open_instance(a.cmd, &inst))) goto done;
  if ((rc = weft_cli_resolve_run(a.cmd, inst, a.id, &run))) goto done;
  weft_run_feed_init(&feed, inst, run.id);
  rc = WEFT_EXIT_INVALID;
  /* Without --follow one batch, the whole log so far, is all there is. */
  do {
    struct weft_event_list batch = {0};
    if (weft_run_feed_next(&feed, &batch, 500, &err)) {
      fprintf(stderr, "weft %s: %s\n", a.cmd, err.msg);
      goto done;
    }
    for (size_t i = 0; i < batch.n; i++) {
      const struct weft_event_row *ev = &batch.v[i];
      if (ev->step) seen_add(&seen, ev->step);
      if (!event_wanted(&a, ev)) continue;
      if (format == 1) {
        if (weft_render_event_json(ev, stdout)) {
          weft_event_list_release(&batch);
          fprintf(stderr, "weft %s: cannot write the events\n", a.cmd);
          goto done;
        }
      } else {
        weft_render_event_line(stdout, ev);
      }
    }
    weft_event_list_release(&batch);
    fflush(stdout);
  } while (a.follow && !feed.ended);
  if (a.step && feed.ended && unknown_step(a.cmd, run.id, a.step, &seen)) goto done;
  rc = WEFT_EXIT_OK;
done:
  seen_release(&seen);
  weft_run_row_release(&run);
  weft_instance_close(inst);
  return rc;
}

/* ---- dispatch ---------------------------------------------------------------------- */

int cmd_run(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
  } subs[] = {
      {"list", run_list},     {"show", run_show},           {"events", run_events},
      {"logs", cmd_run_logs}, {"cancel", cmd_run_cancel}, {"reexecute", cmd_run_reexecute},
      {"coordinate", cmd_run_coordinate}, {"pin", cmd_run_pin}, {"unpin", cmd_run_unpin},
      {"delete", cmd_run_delete}, {"bulk", cmd_run_bulk},
  };
  if (argc < 2) {
    fputs(run_usage, stderr);
    return WEFT_EXIT_USAGE;
  }
  if (weft_cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
    fputs(run_usage, stdout);
    return WEFT_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
    if (!strcmp(argv[1], subs[i].name)) return subs[i].fn(argc - 1, argv + 1);
  if (argv[1][0] == '-') return weft_cli_usage_error("run", "unknown option '%s'", argv[1]);
  return weft_cli_usage_error(
      "run", "unknown subcommand '%s' (list, show, events, logs, cancel, reexecute, pin, "
      "unpin, delete, bulk)", argv[1]);
}
