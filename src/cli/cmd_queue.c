/* cmd_queue.c: `weft queue stats` (depths of the op queues on RabbitMQ, for
 * people and autoscalers) and `weft queue publish-raw` (a debugging aid). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "http/workers_view.h"
#include "queue/queue.h"
#include "queue/signing.h"

static const char queue_usage[] =
    "usage: weft queue stats [QUEUE...] [--broker URL] [--format text|json]\n"
    "       weft queue publish-raw QUEUE TEXT [--broker URL]\n"
    "                              [--unsigned | --signature SIG]\n"
    "\n"
    "  stats        per op queue: messages ready, messages unacked (steps that\n"
    "               live workers are running from it) and consumers; without\n"
    "               QUEUE, 'default', every queue a registered worker consumes\n"
    "               and the dead letters (weft.dead)\n"
    "  publish-raw  publish TEXT as is to op queue QUEUE (tests, debugging),\n"
    "               signed with the instance's queue signing key; --unsigned\n"
    "               sends no signature, --signature SIG sends SIG as the\n"
    "               weft-sig header (workers reject both: docs/queue-security.md)\n"
    "\n"
    "  --broker URL         amqp://USER:PASS@HOST:PORT/VHOST (default: the\n"
    "                       instance's broker.rabbitmq.url, else $WEFT_BROKER_URL)\n"
    "  --format text|json   output format (default: text)\n"
    "\n"
    "Exit status: 0 success, 1 when the broker cannot be reached, 2 usage error.\n";

struct queue_args {
  const char *cmd, *broker, *format, *signature;
  int unsigned_;
  const char **names; /* positional arguments, borrowed from argv */
  size_t n_names;
  int help;
};

static int parse_args(const char *cmd, int argc, char **argv, struct queue_args *a) {
  a->cmd = cmd;
  if (!(a->names = calloc((size_t)argc + 1, sizeof *a->names))) return WEFT_EXIT_INVALID;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int m;
    if (weft_cli_is_help(arg)) {
      a->help = 1;
      return WEFT_EXIT_OK;
    }
    if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--broker", &a->broker))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      continue;
    }
    if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--format", &a->format))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      continue;
    }
    if (!strcmp(cmd, "queue publish-raw") && !strcmp(arg, "--unsigned")) {
      a->unsigned_ = 1;
      continue;
    }
    if (!strcmp(cmd, "queue publish-raw") &&
        (m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--signature", &a->signature))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      continue;
    }
    if (arg[0] == '-' && arg[1]) return weft_cli_usage_error(cmd, "unknown option '%s'", arg);
    a->names[a->n_names++] = arg;
  }
  if (a->format && strcmp(a->format, "text") && strcmp(a->format, "json"))
    return weft_cli_usage_error(cmd, "unknown format '%s' (expected text, json)", a->format);
  return WEFT_EXIT_OK;
}

static int has_name(const char *const *v, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i], name)) return 1;
  return 0;
}

/* The queues to show: those named, else "default", every queue a worker
 * that has not stopped consumes, and the dead letters. Fills names
 * (borrowed strings; the caller frees the array only). */
static int pick_queues(const struct queue_args *a, const struct weft_worker_list *w,
                       const char ***out, size_t *n_out) {
  size_t cap = a->n_names + 2, n = 0;
  for (size_t i = 0; i < w->n; i++) cap += w->v[i].n_queues;
  const char **v = calloc(cap, sizeof *v);
  if (!v) return WEFT_ENOMEM;
  if (a->n_names) {
    for (size_t i = 0; i < a->n_names; i++)
      if (!has_name(v, n, a->names[i])) v[n++] = a->names[i];
  } else {
    v[n++] = "default";
    for (size_t i = 0; i < w->n; i++) {
      if (weft_worker_stopped(&w->v[i])) continue;
      for (size_t j = 0; j < w->v[i].n_queues; j++)
        if (!has_name(v, n, w->v[i].queues[j])) v[n++] = w->v[i].queues[j];
    }
    v[n++] = WEFT_QUEUE_DEAD;
  }
  *out = v;
  *n_out = n;
  return WEFT_OK;
}

static int print_json(const char *shown_url, const struct weft_queue_depths *d,
                      const struct weft_worker_list *w) {
  json_t *doc = json_object(), *qs = json_array();
  int rc = WEFT_EXIT_INVALID;
  if (!doc || !qs) goto done;
  json_object_set_new(doc, "broker", json_string(shown_url));
  for (size_t i = 0; i < d->n; i++) {
    json_t *o = weft_queue_view_json(&d->v[i], w);
    if (!o || json_array_append_new(qs, o)) goto done;
  }
  json_object_set(doc, "queues", qs);
  if (json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF)
    rc = WEFT_EXIT_OK;
done:
  json_decref(qs);
  json_decref(doc);
  return rc;
}

static void print_text(const char *shown_url, const struct weft_queue_depths *d,
                       const struct weft_worker_list *w) {
  printf("broker %s\n", shown_url);
  printf("%-24s %10s %10s %10s\n", "QUEUE", "READY", "UNACKED", "CONSUMERS");
  for (size_t i = 0; i < d->n; i++) {
    const struct weft_queue_depth *q = &d->v[i];
    printf("%-24s %10lld %10lld %10lld%s\n", q->name, (long long)q->messages,
           (long long)weft_queue_unacked(w, q->name), (long long)q->consumers,
           q->exists ? "" : "  (not declared yet)");
  }
}

static int queue_stats(int argc, char **argv) {
  struct queue_args a = {0};
  struct weft_instance *inst = NULL;
  struct weft_worker_list workers = {0};
  struct weft_queue_depths depths = {0};
  const char **names = NULL;
  size_t n_names = 0;
  char *shown_url = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int rc = parse_args("queue stats", argc, argv, &a);
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(queue_usage, stdout);
    goto done;
  }
  rc = WEFT_EXIT_INVALID;
  if (weft_instance_open(NULL, &inst, &err)) goto fail;
  const char *url = a.broker ? a.broker : weft_queue_broker_url(inst);
  if (!url) {
    fprintf(stderr, "weft %s: no broker: pass --broker amqp://... or set broker.rabbitmq.url "
                    "in weft.yaml (or $WEFT_BROKER_URL)\n", a.cmd);
    goto done;
  }
  /* The registry only adds the unacked counts and the workers' queues: a
   * store that cannot list them must not hide the depths. */
  if (weft_worker_list(inst->store, &workers, &err)) {
    fprintf(stderr, "weft %s: warning: cannot list workers: %s\n", a.cmd, err.msg);
    err = (weft_error)WEFT_ERROR_INIT;
  }
  if (pick_queues(&a, &workers, &names, &n_names) ||
      !(shown_url = weft_url_without_password(url))) {
    weft_error_set(&err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if (weft_queue_depths(url, names, n_names, &depths, &err)) goto fail;
  if (a.format && !strcmp(a.format, "json")) {
    rc = print_json(shown_url, &depths, &workers);
  } else {
    print_text(shown_url, &depths, &workers);
    rc = WEFT_EXIT_OK;
  }
  goto done;
fail:
  fprintf(stderr, "weft %s: %s\n", a.cmd, err.msg);
done:
  free(shown_url);
  free(names);
  free(a.names);
  weft_queue_depths_release(&depths);
  weft_worker_list_release(&workers);
  weft_instance_close(inst);
  return rc;
}

static int queue_publish_raw(int argc, char **argv) {
  struct queue_args a = {0};
  struct weft_instance *inst = NULL;
  struct weft_qsig_key *key = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int rc = parse_args("queue publish-raw", argc, argv, &a);
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(queue_usage, stdout);
    goto done;
  }
  if (a.n_names != 2) {
    rc = weft_cli_usage_error(a.cmd, "wants QUEUE and TEXT");
    goto done;
  }
  if (a.unsigned_ && a.signature) {
    rc = weft_cli_usage_error(a.cmd, "--unsigned and --signature exclude each other");
    goto done;
  }
  rc = WEFT_EXIT_INVALID;
  const char *url = a.broker;
  int need_key = !a.unsigned_ && !a.signature;
  if ((!url || need_key) && weft_instance_open(NULL, &inst, &err)) goto fail;
  if (!url) url = weft_queue_broker_url(inst);
  if (need_key && weft_qsig_key_load(inst, &key, &err)) goto fail;
  if (!url) {
    fprintf(stderr, "weft %s: no broker: pass --broker amqp://... or set broker.rabbitmq.url "
                    "in weft.yaml\n", a.cmd);
    goto done;
  }
  if (weft_queue_publish_raw(url, a.names[0], a.names[1], key, a.signature, &err)) goto fail;
  rc = WEFT_EXIT_OK;
  goto done;
fail:
  fprintf(stderr, "weft %s: %s\n", a.cmd, err.msg);
done:
  free(a.names);
  weft_qsig_key_free(key);
  weft_instance_close(inst);
  return rc;
}

int cmd_queue(int argc, char **argv) {
  if (argc < 2) {
    fputs(queue_usage, stderr);
    return WEFT_EXIT_USAGE;
  }
  if (weft_cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
    fputs(queue_usage, stdout);
    return WEFT_EXIT_OK;
  }
  if (!strcmp(argv[1], "stats")) return queue_stats(argc - 1, argv + 1);
  if (!strcmp(argv[1], "publish-raw")) return queue_publish_raw(argc - 1, argv + 1);
  if (argv[1][0] == '-') return weft_cli_usage_error("queue", "unknown option '%s'", argv[1]);
  return weft_cli_usage_error("queue", "unknown subcommand '%s' (stats, publish-raw)", argv[1]);
}
