/* cmd_worker_list.c: `weft worker list`: the workers registered in storage
 * (host, queues, concurrency, running steps, heartbeat age), lost ones marked. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "http/workers_view.h"
#include "queue/queue.h"
#include "util/clock.h"

static const char worker_list_usage[] =
    "usage: weft worker list [--all] [--format text|json]\n"
    "\n"
    "Every `weft worker` registered in the instance's storage: id, host,\n"
    "queues, concurrency, steps running, age of its last heartbeat and state.\n"
    "A worker whose heartbeat is older than 10 s is shown as 'lost' (killed,\n"
    "or its host is gone): its steps go back to the queue and run elsewhere.\n"
    "\n"
    "  --all                also show workers that stopped cleanly\n"
    "  --format text|json   output format (default: text)\n";

/* "default,gpu". Caller frees. */
static char *join_queues(const struct weft_worker_info *w) {
  size_t len = 1;
  for (size_t i = 0; i < w->n_queues; i++) len += strlen(w->queues[i]) + 1;
  char *s = malloc(len);
  if (!s) return NULL;
  s[0] = '\0';
  for (size_t i = 0; i < w->n_queues; i++) {
    if (i) strcat(s, ",");
    strcat(s, w->queues[i]);
  }
  return s;
}

/* "0.4s ago", "12s ago", "3m05s ago", "2h10m ago", "4d ago". */
static void format_age(int64_t ms, char *out, size_t outlen) {
  if (ms < 0) ms = 0;
  int64_t s = ms / 1000;
  if (ms < 10000)
    snprintf(out, outlen, "%.1fs ago", (double)ms / 1000.0);
  else if (s < 60)
    snprintf(out, outlen, "%llds ago", (long long)s);
  else if (s < 3600)
    snprintf(out, outlen, "%lldm%02llds ago", (long long)(s / 60), (long long)(s % 60));
  else if (s < 86400)
    snprintf(out, outlen, "%lldh%02lldm ago", (long long)(s / 3600), (long long)(s / 60 % 60));
  else
    snprintf(out, outlen, "%lldd ago", (long long)(s / 86400));
}

static int print_text(const struct weft_worker_list *l, int all, int64_t now) {
  size_t shown = 0;
  for (size_t i = 0; i < l->n; i++) {
    const struct weft_worker_info *w = &l->v[i];
    if (!all && weft_worker_stopped(w)) continue;
    if (!shown++)
      printf("%-28s %-16s %-16s %5s %8s %14s  %s\n", "ID", "HOST", "QUEUES", "CONC",
             "RUNNING", "HEARTBEAT", "STATE");
    char *queues = join_queues(w), age[32];
    if (!queues) return WEFT_EXIT_INVALID;
    format_age(now - w->heartbeat_ms, age, sizeof age);
    printf("%-28s %-16s %-16s %5d %8zu %14s  %s\n", w->id ? w->id : "?",
           w->host ? w->host : "?", queues, w->concurrency, w->n_running, age,
           weft_worker_shown_state(w));
    free(queues);
  }
  /* On stderr, so that a script reading the table sees none. */
  if (!shown) fprintf(stderr, "no workers%s\n", all || !l->n ? " registered" : " running");
  return WEFT_EXIT_OK;
}

static int print_json(const struct weft_worker_list *l, int all, int64_t now) {
  json_t *doc = json_object(), *arr = json_array();
  int rc = WEFT_EXIT_INVALID;
  if (!doc || !arr) goto done;
  for (size_t i = 0; i < l->n; i++) {
    const struct weft_worker_info *w = &l->v[i];
    if (!all && weft_worker_stopped(w)) continue;
    json_t *o = weft_worker_view_json(w, now);
    if (!o || json_array_append_new(arr, o)) goto done;
  }
  json_object_set(doc, "workers", arr);
  if (json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF)
    rc = WEFT_EXIT_OK;
done:
  json_decref(arr);
  json_decref(doc);
  return rc;
}

int weft_cli_worker_list(int argc, char **argv) {
  const char *cmd = "worker list", *format = NULL;
  int all = 0;
  for (int i = 1; i < argc; i++) {
    int m;
    if (weft_cli_is_help(argv[i])) {
      fputs(worker_list_usage, stdout);
      return WEFT_EXIT_OK;
    }
    if (!strcmp(argv[i], "--all")) {
      all = 1;
      continue;
    }
    if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--format", &format))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      continue;
    }
    return weft_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
  }
  if (format && strcmp(format, "text") && strcmp(format, "json"))
    return weft_cli_usage_error(cmd, "unknown format '%s' (expected text, json)", format);

  struct weft_instance *inst = NULL;
  struct weft_worker_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  int rc = WEFT_EXIT_INVALID;
  if (weft_instance_open(NULL, &inst, &err) || weft_worker_list(inst->store, &l, &err)) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    goto done;
  }
  int64_t now = weft_clock_wall_ms();
  rc = format && !strcmp(format, "json") ? print_json(&l, all, now) : print_text(&l, all, now);
done:
  weft_worker_list_release(&l);
  weft_instance_close(inst);
  return rc;
}
