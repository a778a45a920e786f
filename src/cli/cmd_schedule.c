/* cmd_schedule.c: `weft schedule list|on|off|preview|ticks` and
 * `weft sensor list|on|off|ticks`: schedules' and sensors' state and history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "sched/sched.h"
#include "util/clock.h"

static const char schedule_usage[] =
    "usage: weft schedule list [--format text|json]\n"
    "       weft schedule on|off NAME\n"
    "       weft schedule preview NAME [--next N] [--after TIME]\n"
    "       weft schedule ticks NAME [--limit N] [--format text|json]\n"
    "   (each also takes -w FILE | -l LOCATION...)\n"
    "\n"
    "Cron schedules of the workspace's jobs: their state (on/off, stored in\n"
    "the instance, so it survives restarts), next and last ticks, and the\n"
    "tick history. 'weft scheduler' (or 'weft dev') runs them.\n"
    "TIME is ISO 8601: 2026-01-01T06:00:00Z, 2026-01-01T07:00:00+01:00.\n";

static const char sensor_usage[] =
    "usage: weft sensor list [--format text|json]\n"
    "       weft sensor on|off NAME\n"
    "       weft sensor ticks NAME [--limit N] [--format text|json]\n"
    "   (each also takes -w FILE | -l LOCATION...)\n"
    "\n"
    "Sensors (sensors/*.yaml of a code location): their state, next\n"
    "evaluation and the history of evaluations.\n";

int weft_cli_parse_time(const char *s, long long *ms) {
  int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
  if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3) return -1;
  const char *p = s + used;
  if (*p == 'T' || *p == ' ') {
    int u = 0;
    if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &u) != 2) return -1;
    p += 1 + u;
    if (*p == ':') {
      if (sscanf(p + 1, "%2d%n", &sec, &u) != 1) return -1;
      p += 1 + u;
    }
    if (*p == '.') /* fractions of a second are dropped */
      for (p++; *p >= '0' && *p <= '9'; p++) {
      }
  }
  int off = 0;
  if (*p == 'Z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om = 0, u = 0;
    if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &u) != 2 &&
        sscanf(p + 1, "%2d%2d%n", &oh, &om, &u) != 2)
      return -1;
    off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    p += 1 + u;
  }
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
  struct tm t = {0};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = sec;
  *ms = ((int64_t)timegm(&t) - off) * 1000;
  return 0;
}

struct args {
  const char *ws_file;
  char **paths;
  size_t n_paths;
  const char *name, *format, *after;
  long next, limit;
};

static int parse_count(const char *cmd, const char *v, long *out) {
  char *end;
  long x = strtol(v, &end, 10);
  if (*end || x < 1 || x > 10000) {
    weft_cli_usage_error(cmd, "'%s' is not a count from 1 to 10000", v);
    return -1;
  }
  *out = x;
  return 0;
}

static int parse_args(const char *cmd, int argc, char **argv, struct args *a, int want_name) {
  const char *v;
  int m;
  for (int i = 1; i < argc; i++) {
    if ((m = weft_cli_flag_value(cmd, argc, argv, &i, "-w", "--workspace", &a->ws_file)) ||
        (m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--format", &a->format)) ||
        (m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--after", &a->after))) {
      if (m < 0) return WEFT_EXIT_USAGE;
    } else if ((m = weft_cli_flag_value(cmd, argc, argv, &i, "-l", "--location", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      a->paths[a->n_paths++] = (char *)v;
    } else if ((m = weft_cli_flag_value(cmd, argc, argv, &i, "-n", "--next", &v))) {
      if (m < 0 || parse_count(cmd, v, &a->next)) return WEFT_EXIT_USAGE;
    } else if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--limit", &v))) {
      if (m < 0 || parse_count(cmd, v, &a->limit)) return WEFT_EXIT_USAGE;
    } else if (argv[i][0] == '-') {
      return weft_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
    } else if (want_name && !a->name) {
      a->name = argv[i];
    } else {
      return weft_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
  }
  if (want_name && !a->name) return weft_cli_usage_error(cmd, "which one? (give its NAME)");
  if (a->format && strcmp(a->format, "text") && strcmp(a->format, "json"))
    return weft_cli_usage_error(cmd, "--format must be text or json");
  return WEFT_EXIT_OK;
}

static int fail(const char *cmd, const weft_error *err) {
  fprintf(stderr, "weft %s: %s\n", cmd, err->msg);
  return WEFT_EXIT_INVALID;
}

static void print_time(int64_t ms, const char *tz, int width) {
  char *t = ms ? weft_sched_format_time(ms, tz) : NULL;
  printf("%-*s", width, t ? t : "-");
  free(t);
}

static int do_list(const char *cmd, struct weft_instance *inst, struct weft_workspace *ws,
                   int sensors, const struct args *a) {
  struct weft_sched_item_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_sched_list(inst->store, ws, sensors, weft_clock_wall_ms(), &l, &err))
    return fail(cmd, &err);
  if (a->format && !strcmp(a->format, "json")) {
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++) json_array_append_new(arr, weft_sched_item_to_json(&l.v[i]));
    char *t = json_dumps(arr, JSON_INDENT(2));
    puts(t ? t : "[]");
    free(t);
    json_decref(arr);
  } else if (!l.n) {
    printf("no %s in the workspace\n", sensors ? "sensors" : "schedules");
  } else {
    if (sensors)
      printf("%-24s %-11s %-20s %-8s %-5s %-26s %s\n", "NAME", "KIND", "JOB", "INTERVAL",
             "STATE", "NEXT EVALUATION", "LAST");
    else
      printf("%-24s %-20s %-16s %-18s %-5s %-26s %s\n", "NAME", "JOB", "CRON", "TIMEZONE",
             "STATE", "NEXT TICK", "LAST");
    for (size_t i = 0; i < l.n; i++) {
      const struct weft_sched_item *it = &l.v[i];
      if (sensors) {
        char iv[16];
        snprintf(iv, sizeof iv, "%ds", it->interval_s);
        printf("%-24s %-11s %-20s %-8s %-5s ", it->name, it->kind, it->job, iv,
               it->on ? "on" : "off");
      } else {
        printf("%-24s %-20s %-16s %-18s %-5s ", it->name, it->job, it->cron, it->timezone,
               it->on ? "on" : "off");
      }
      print_time(it->next_tick_ms, it->timezone, 26);
      if (it->last_tick_ms) {
        printf(" %s ", it->last_status);
        print_time(it->last_tick_ms, it->timezone, 0);
      } else {
        printf(" -");
      }
      putchar('\n');
    }
  }
  weft_sched_item_list_release(&l);
  return WEFT_EXIT_OK;
}

static int do_preview(const char *cmd, struct weft_workspace *ws, const struct args *a) {
  const struct weft_schedule *sc = weft_workspace_find_schedule(ws, a->name);
  weft_error err = WEFT_ERROR_INIT;
  if (!sc) {
    fprintf(stderr, "weft %s: no schedule '%s' in the workspace\n", cmd, a->name);
    return WEFT_EXIT_INVALID;
  }
  long long after = weft_clock_wall_ms();
  if (a->after && weft_cli_parse_time(a->after, &after))
    return weft_cli_usage_error(cmd, "--after: '%s' is not an ISO 8601 time", a->after);
  const struct weft_job *job = weft_location_find_job(sc->location, sc->job);
  int64_t *times = NULL;
  char **keys = NULL;
  size_t n = a->next ? (size_t)a->next : 10;
  if (weft_sched_preview(sc, job, after, n, &times, &keys, &err)) return fail(cmd, &err);
  int json = a->format && !strcmp(a->format, "json");
  json_t *arr = json ? json_array() : NULL;
  if (!json)
    printf("schedule %s: '%s' in %s, job %s\n", sc->name, sc->cron,
           sc->timezone ? sc->timezone : "UTC", sc->job);
  for (size_t i = 0; i < n && times[i]; i++) {
    char *t = weft_sched_format_time(times[i], sc->timezone);
    char *u = weft_sched_format_time(times[i], "UTC");
    if (json)
      json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s?}", "time", t, "utc", u,
                                           "tick_ms", (json_int_t)times[i], "partition",
                                           keys ? keys[i] : NULL));
    else if (keys && keys[i])
      printf("  %s  (%s)  partition %s\n", t, u, keys[i]);
    else
      printf("  %s  (%s)\n", t, u);
    free(t);
    free(u);
  }
  if (json) {
    char *t = json_dumps(arr, JSON_INDENT(2));
    puts(t ? t : "[]");
    free(t);
    json_decref(arr);
  }
  for (size_t i = 0; keys && i < n; i++) free(keys[i]);
  free(keys);
  free(times);
  return WEFT_EXIT_OK;
}

static int do_ticks(const char *cmd, struct weft_instance *inst, struct weft_workspace *ws,
                    const struct args *a) {
  const struct weft_schedule *sc = weft_workspace_find_schedule(ws, a->name);
  const char *tz = sc ? sc->timezone : "UTC";
  struct weft_sched_tick_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (!sc && !weft_workspace_find_sensor(ws, a->name)) {
    fprintf(stderr, "weft %s: no schedule or sensor '%s' in the workspace\n", cmd, a->name);
    return WEFT_EXIT_INVALID;
  }
  if (weft_sched_ticks(inst->store, a->name, 0, a->limit ? (int)a->limit : 20, &l, &err))
    return fail(cmd, &err);
  if (a->format && !strcmp(a->format, "json")) {
    json_t *arr = json_array();
    for (size_t i = 0; i < l.n; i++) json_array_append(arr, l.v[i].doc);
    char *t = json_dumps(arr, JSON_INDENT(2));
    puts(t ? t : "[]");
    free(t);
    json_decref(arr);
  } else {
    if (!l.n) printf("no ticks of %s yet\n", a->name);
    for (size_t i = 0; i < l.n; i++) {
      const struct weft_sched_tick *t = &l.v[i];
      print_time(t->tick_ms, tz, 26);
      printf(" %-8s", t->status);
      for (size_t j = 0; j < t->n_run_ids; j++) printf(" run %s", t->run_ids[j]);
      if (t->partition) printf(" partition %s", t->partition);
      if (t->reason) printf("  (%s)", t->reason);
      putchar('\n');
    }
  }
  weft_sched_tick_list_release(&l);
  return WEFT_EXIT_OK;
}

static int dispatch(int sensors, int argc, char **argv) {
  const char *usage = sensors ? sensor_usage : schedule_usage;
  if (argc < 2 || weft_cli_is_help(argv[1])) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? WEFT_EXIT_USAGE : WEFT_EXIT_OK;
  }
  const char *sub = argv[1];
  char cmd[64];
  snprintf(cmd, sizeof cmd, "%s %s", sensors ? "sensor" : "schedule", sub);
  int list = !strcmp(sub, "list"), on = !strcmp(sub, "on"), off = !strcmp(sub, "off"),
      preview = !sensors && !strcmp(sub, "preview"), ticks = !strcmp(sub, "ticks");
  if (!(list || on || off || preview || ticks)) {
    fprintf(stderr, "weft %s: unknown subcommand '%s'\n%s", sensors ? "sensor" : "schedule", sub,
            usage);
    return WEFT_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++)
    if (weft_cli_is_help(argv[i])) {
      fputs(usage, stdout);
      return WEFT_EXIT_OK;
    }
  struct args a = {0};
  struct weft_workspace *ws = NULL;
  struct weft_instance *inst = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int rc;
  if (!(a.paths = calloc((size_t)argc + 1, sizeof *a.paths))) return WEFT_EXIT_INVALID;
  if ((rc = parse_args(cmd, argc - 1, argv + 1, &a, !list))) goto done;
  if ((rc = weft_cli_load_workspace(cmd, a.ws_file, a.paths, a.n_paths, &ws))) goto done;
  if (preview) {
    rc = do_preview(cmd, ws, &a);
    goto done;
  }
  if (weft_instance_open(NULL, &inst, &err)) {
    rc = fail(cmd, &err);
    goto done;
  }
  if (list) {
    rc = do_list(cmd, inst, ws, sensors, &a);
  } else if (ticks) {
    rc = do_ticks(cmd, inst, ws, &a);
  } else {
    int is_sc = weft_workspace_find_schedule(ws, a.name) != NULL;
    int is_se = weft_workspace_find_sensor(ws, a.name) != NULL;
    if ((sensors && is_sc) || (!sensors && is_se)) {
      fprintf(stderr, "weft %s: '%s' is a %s: use 'weft %s %s %s'\n", cmd, a.name,
              is_sc ? "schedule" : "sensor", is_sc ? "schedule" : "sensor", sub, a.name);
      rc = WEFT_EXIT_INVALID;
    } else if (weft_sched_set_state(inst->store, ws, a.name, on, weft_clock_wall_ms(), &err)) {
      rc = fail(cmd, &err);
    } else {
      printf("%s %s is %s\n", sensors ? "sensor" : "schedule", a.name, on ? "on" : "off");
      rc = WEFT_EXIT_OK;
    }
  }
done:
  weft_instance_close(inst);
  weft_workspace_free(ws);
  free(a.paths);
  return rc;
}

int cmd_schedule(int argc, char **argv) { return dispatch(0, argc, argv); }

int cmd_sensor(int argc, char **argv) { return dispatch(1, argc, argv); }
