/* weft_main.c: weft_main (weft.h), the whole weft command line: global flags
 * and command dispatch. Commands live one group per cmd_*.c file, listed below. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "queue/queue.h"
#include "weft.h"

const struct weft_cmd weft_cli_commands[] = {
    {"validate", cmd_validate, "load and check code locations, report every error"},
    {"job", cmd_job, "list jobs, show a job (text, json, dot), check a run config"},
    {"launch", cmd_launch, "run a job on this machine, following its progress"},
    {"run", cmd_run, "list, inspect, follow, cancel and re-execute runs"},
    {"backfill", cmd_backfill, "one run per partition of a job; progress, retry"},
    {"instance", cmd_instance, "configure $WEFT_HOME: storage, artifacts, schema"},
    {"artifacts", cmd_artifacts, "list a run's stored outputs and logs, fetch one"},
    {"location", cmd_location, "add, remove, list and reload code locations, live"},
    {"server", cmd_server, "serve the HTTP API, web UI and metrics"},
    {"schedule", cmd_schedule, "list, toggle and preview cron schedules, show their ticks"},
    {"sensor", cmd_sensor, "list and toggle sensors, show their evaluations"},
    {"scheduler", cmd_scheduler, "run schedules and sensors, start queued runs"},
    {"dev", cmd_dev, "the web UI and API on this machine, at http://127.0.0.1:3000"},
    {"worker", cmd_worker, "run steps from RabbitMQ op queues; list the workers"},
    {"queue", cmd_queue, "depths of the RabbitMQ op queues (ready, unacked, consumers)"},
    {"user", cmd_user, "add, remove and list the users of the API and UI, set passwords"},
    {"token", cmd_token, "create, list and revoke API tokens"},
    {"secret", cmd_secret, "set, list, remove secrets (encrypted, masked in logs); rotate the key"},
    {"variable", cmd_variable, "set, get, list, remove plain variables for ops and templates"},
    {"audit", cmd_audit, "who changed what, when and from where (the audit log)"},
    {NULL, NULL, NULL},
};

static void print_help(FILE *out) {
  fprintf(out,
          "weft %s: a workflow orchestrator in one native binary\n\n"
          "usage: weft [--version] [--help] COMMAND [ARGS...]\n\ncommands:\n",
          WEFT_VERSION);
  for (const struct weft_cmd *c = weft_cli_commands; c->name; c++)
    fprintf(out, "  %-10s %s\n", c->name, c->summary);
  fprintf(out,
          "\nRun 'weft COMMAND --help' for a command's options.\n"
          "Exit status: 0 success, 1 invalid input or failed run, 2 usage error.\n");
}

int weft_main(int argc, char **argv) {
  if (argc < 2) {
    print_help(stderr);
    return WEFT_EXIT_USAGE;
  }
  if (weft_cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
    print_help(stdout);
    return WEFT_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("weft %s\n", WEFT_VERSION);
    return WEFT_EXIT_OK;
  }
  weft_queue_init(); /* the "queue" executor, for every command that runs steps */
  for (const struct weft_cmd *c = weft_cli_commands; c->name; c++)
    if (!strcmp(argv[1], c->name)) return c->fn(argc - 1, argv + 1);
  fprintf(stderr, "weft: '%s' is not a weft command (see 'weft --help')\n", argv[1]);
  return WEFT_EXIT_USAGE;
}
