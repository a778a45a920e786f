/* cmd_worker.c: `weft worker`: takes steps from RabbitMQ op queues and runs them
 * (src/queue/worker.c); `weft worker list` is in cmd_worker_list.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "containers/containers.h"
#include "engine/engine.h"
#include "queue/queue.h"
#include "util/log.h"
#include "util/str.h"

#define MAX_QUEUES 64

static const char worker_usage[] =
    "usage: weft worker [--queue NAME[,NAME...]] [--concurrency N] [--broker URL]\n"
    "                   [--id NAME] [--grace SECONDS] [--prefetch N]\n"
    "                   [--code-cache DIR] [--code-cache-size SIZE]\n"
    "                   [--log-format text|json]\n"
    "       weft worker list [--all] [--format text|json]\n"
    "\n"
    "Takes steps from RabbitMQ op queues (an op's `queue:`, default 'default')\n"
    "and runs them on this machine, N at a time, for runs whose execution is\n"
    "`queue`. Results, outputs and logs go to the instance's storage and\n"
    "artifact store ($WEFT_HOME/weft.yaml), which every worker and the\n"
    "coordinator must share. SIGTERM or SIGINT: stop taking steps, let running\n"
    "ones finish for the grace period, then hand them back to the queue.\n"
    "\n"
    "  --queue NAMES       op queues to consume, comma-separated (default: default;\n"
    "                      may be repeated)\n"
    "  --concurrency N     steps run at once, and the prefetch (default: 1)\n"
    "  --prefetch N        messages taken at once, when above the concurrency: the\n"
    "                      next step starts while the last one's result is stored\n"
    "  --broker URL        amqp://USER:PASS@HOST:PORT/VHOST (default: weft.yaml\n"
    "                      broker.rabbitmq.url, else $WEFT_BROKER_URL)\n"
    "  --id NAME           the worker's name in `weft worker list` (default HOST-PID)\n"
    "  --grace SECONDS     how long running steps may finish on shutdown (default 30)\n"
    "  --code-cache DIR    where code versions fetched from the artifact store are\n"
    "                      kept, read-only (default $WEFT_HOME/code-cache; workers\n"
    "                      on one machine may share it): a step whose run's code\n"
    "                      snapshot is not on this machine runs from there\n"
    "  --code-cache-size SIZE  its bound, e.g. 512Mi or 2G (default 1Gi): the least\n"
    "                      recently used versions no step runs are removed\n"
    "  --log-format FMT    text (default) or json: one JSON object per line (time,\n"
    "                      level, role, run, step, message); also $WEFT_LOG_FORMAT\n";

/* Appends the comma-separated names in list to queues. */
static int add_queues(char *list, const char **queues, size_t *n) {
  for (char *save = NULL, *q = strtok_r(list, ",", &save); q; q = strtok_r(NULL, ",", &save)) {
    if (!*q) continue;
    if (*n == MAX_QUEUES) return -1;
    for (const char *p = q; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.'))
        return -1;
    queues[(*n)++] = q;
  }
  return 0;
}

int cmd_worker(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "list")) return weft_cli_worker_list(argc - 1, argv + 1);
  const char *queues[MAX_QUEUES];
  size_t n_queues = 0;
  char *lists[MAX_QUEUES];
  size_t n_lists = 0;
  struct weft_worker_options o = {0};
  o.concurrency = 1;
  o.grace_s = 30;
  int rc = WEFT_EXIT_OK;
  weft_error err = WEFT_ERROR_INIT;
  weft_log_set_role("worker", "weft worker: ");
  if (weft_log_init_from_env(&err)) return weft_cli_usage_error("worker", "%s", err.msg);
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    int m;
    if (weft_cli_is_help(argv[i])) {
      fputs(worker_usage, stdout);
      goto done;
    }
    if ((m = weft_cli_flag_value("worker", argc, argv, &i, "-q", "--queue", &v)) != 0) {
      if (m < 0) return WEFT_EXIT_USAGE;
      if (n_lists == MAX_QUEUES || !(lists[n_lists] = weft_str_dup(v))) {
        rc = weft_cli_usage_error("worker", "too many --queue");
        goto done;
      }
      if (add_queues(lists[n_lists++], queues, &n_queues)) {
        rc = weft_cli_usage_error("worker", "--queue '%s': names are letters, digits, - _ .", v);
        goto done;
      }
    } else if ((m = weft_cli_flag_value("worker", argc, argv, &i, "-c", "--concurrency", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      char *end;
      long n = strtol(v, &end, 10);
      if (*end || n < 1 || n > 1000) {
        rc = weft_cli_usage_error("worker", "--concurrency must be 1..1000, got '%s'", v);
        goto done;
      }
      o.concurrency = (int)n;
    } else if ((m = weft_cli_flag_value("worker", argc, argv, &i, NULL, "--prefetch", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      char *end;
      long n = strtol(v, &end, 10);
      if (*end || n < 1 || n > 10000) {
        rc = weft_cli_usage_error("worker", "--prefetch must be 1..10000, got '%s'", v);
        goto done;
      }
      o.prefetch = (int)n;
    } else if ((m = weft_cli_flag_value("worker", argc, argv, &i, NULL, "--log-format", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      if (weft_log_set_format_name(v, 1, &err)) {
        rc = weft_cli_usage_error("worker", "%s", err.msg);
        goto done;
      }
    } else if ((m = weft_cli_flag_value("worker", argc, argv, &i, NULL, "--broker", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      o.broker_url = v;
    } else if ((m = weft_cli_flag_value("worker", argc, argv, &i, NULL, "--id", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      if (!*v || strchr(v, '/')) {
        rc = weft_cli_usage_error("worker", "--id must be a non-empty name without '/'");
        goto done;
      }
      o.id = v;
    } else if ((m = weft_cli_flag_value("worker", argc, argv, &i, NULL, "--grace", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      char *end;
      double g = strtod(v, &end);
      if (*end || g < 0) {
        rc = weft_cli_usage_error("worker", "--grace must be a number of seconds, got '%s'", v);
        goto done;
      }
      o.grace_s = g;
    } else if ((m = weft_cli_flag_value("worker", argc, argv, &i, NULL, "--code-cache", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      if (!*v) {
        rc = weft_cli_usage_error("worker", "--code-cache must name a folder");
        goto done;
      }
      o.code_cache = v;
    } else if ((m = weft_cli_flag_value("worker", argc, argv, &i, NULL, "--code-cache-size",
                                        &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      int64_t bytes = weft_ctr_parse_bytes(v);
      if (bytes < 1) {
        rc = weft_cli_usage_error("worker", "--code-cache-size must be a size such as 512Mi "
                                            "or 2G, got '%s'", v);
        goto done;
      }
      o.code_cache_bytes = (uint64_t)bytes;
    } else {
      rc = weft_cli_usage_error("worker", "unknown argument '%s'", argv[i]);
      goto done;
    }
  }
  if (!n_queues) queues[n_queues++] = "default";
  o.queues = queues;
  o.n_queues = n_queues;
  struct weft_instance *inst = NULL;
  weft_cli_trap_interrupts();
  o.stop = &weft_cli_interrupted;
  if (weft_instance_open(NULL, &inst, &err)) {
    weft_log_error("%s", err.msg);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  /* A worker that restarts removes what its killed predecessor left: the
   * containers of attempts that are over (none without an engine). */
  weft_error gc_err = WEFT_ERROR_INIT;
  weft_instance_gc_containers(inst, NULL, 0, NULL, &gc_err);
  if (!o.broker_url) o.broker_url = weft_queue_broker_url(inst);
  if (!o.broker_url) {
    weft_log_error("no broker: pass --broker amqp://... or set "
                   "broker: {rabbitmq: {url: ...}} in %s/weft.yaml", inst->home);
    rc = WEFT_EXIT_INVALID;
  } else if (weft_worker_run(inst, &o, &err)) {
    weft_log_error("%s", err.msg);
    rc = WEFT_EXIT_INVALID;
  }
  weft_instance_close(inst);
done:
  for (size_t i = 0; i < n_lists; i++) free(lists[i]);
  return rc;
}
