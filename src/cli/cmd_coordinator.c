/* cmd_coordinator.c: `weft coordinator`: the coordinator role on its own
 * (sched/coord_service.h): one loop driving every run handed to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sched/coord_service.h"
#include "util/log.h"

static const char usage[] =
    "usage: weft coordinator [--drain SECONDS] [--quiet] [--log-format text|json]\n"
    "\n"
    "Coordinates runs: one event loop drives every run handed to it, with one\n"
    "transaction per turn for the events of all of them, and C-function steps\n"
    "run in this process. While it runs (its heartbeat is in the instance's\n"
    "storage, renewed every second), 'weft server', 'weft scheduler', 'weft\n"
    "backfill' and 'weft launch --detach' hand their queued runs to it instead\n"
    "of starting a 'weft run coordinate' process per run; with none running\n"
    "they spawn those as before. Several may run on one PostgreSQL instance:\n"
    "each run is taken by exactly one. One line per run that ends goes to\n"
    "stdout.\n"
    "\n"
    "SIGINT or SIGTERM stops it: it stops taking runs (launchers spawn again\n"
    "within a second), lets its runs end for --drain seconds, then cancels\n"
    "those still going and exits once every run it took is final.\n"
    "\n"
    "options:\n"
    "  --drain SECONDS       how long running runs get to end when stopped\n"
    "                        (default 10)\n"
    "  --quiet               no line per run\n"
    "  --log-format FORMAT   text (default) or json\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 after a stop, 1 when the instance cannot be opened, 2 on a\n"
    "usage error.\n";

int cmd_coordinator(int argc, char **argv) {
  const char *v;
  int m, drain_s = 10;
  struct weft_coord_service_opts o = {.stop = &weft_cli_interrupted};
  weft_error err = WEFT_ERROR_INIT;
  weft_log_set_role("coordinator", "weft coordinator: ");
  if (weft_log_init_from_env(&err)) return weft_cli_usage_error("coordinator", "%s", err.msg);
  for (int i = 1; i < argc; i++) {
    if (weft_cli_is_help(argv[i])) {
      fputs(usage, stdout);
      return WEFT_EXIT_OK;
    }
    if (!strcmp(argv[i], "--quiet")) {
      o.quiet = 1;
    } else if ((m = weft_cli_flag_value("coordinator", argc, argv, &i, NULL, "--drain", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      char *end;
      long s = strtol(v, &end, 10);
      if (*end || s < 0 || s > 86400)
        return weft_cli_usage_error("coordinator", "--drain: '%s' is not a number of seconds", v);
      drain_s = (int)s;
    } else if ((m = weft_cli_flag_value("coordinator", argc, argv, &i, NULL, "--log-format",
                                        &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      if (weft_log_set_format_name(v, 1, &err))
        return weft_cli_usage_error("coordinator", "%s", err.msg);
    } else {
      return weft_cli_usage_error("coordinator", "%s '%s'",
                                  argv[i][0] == '-' ? "unknown option" : "unexpected argument",
                                  argv[i]);
    }
  }
  o.drain_ms = drain_s > 0 ? drain_s * 1000 : 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct weft_instance *inst = NULL;
  if (weft_instance_open(NULL, &inst, &err)) {
    fprintf(stderr, "weft coordinator: %s\n", err.msg);
    return WEFT_EXIT_INVALID;
  }
  weft_cli_trap_interrupts();
  int rc = weft_coord_service_run(inst, &o, &err);
  if (rc) fprintf(stderr, "weft coordinator: %s\n", err.msg);
  weft_instance_close(inst);
  return rc ? WEFT_EXIT_INVALID : WEFT_EXIT_OK;
}
