/* cmd_audit.c: `weft audit`: the newest entries of the instance's audit log
 * (engine/audit.h): who changed what, when, from where, and the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "engine/audit.h"
#include "engine/engine.h"

static const char usage[] =
    "usage: weft audit [--limit N]\n"
    "\n"
    "The newest N (default 50) entries of the audit log, oldest first: every\n"
    "state-changing API request (launch, cancel, re-execute, locations,\n"
    "schedules, sensors, backfills; refused ones too), every rejected login,\n"
    "and user and token changes made with this CLI. Columns: time (UTC), who,\n"
    "status (HTTP, or ok/failed), source address, action.\n";

int cmd_audit(int argc, char **argv) {
  const char *limit_s = NULL;
  int m;
  for (int i = 1; i < argc; i++) {
    if (weft_cli_is_help(argv[i])) {
      fputs(usage, stdout);
      return WEFT_EXIT_OK;
    }
    if ((m = weft_cli_flag_value("audit", argc, argv, &i, NULL, "--limit", &limit_s))) {
      if (m < 0) return WEFT_EXIT_USAGE;
    } else {
      return weft_cli_usage_error("audit", "unexpected argument '%s'", argv[i]);
    }
  }
  char *end = NULL;
  long limit = limit_s ? strtol(limit_s, &end, 10) : 50;
  if (limit_s && (*end || limit < 1 || limit > 1000000))
    return weft_cli_usage_error("audit", "--limit wants a positive number, got '%s'", limit_s);
  struct weft_instance *inst = NULL;
  struct weft_audit_entry *v = NULL;
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_instance_open(NULL, &inst, &err) ||
      weft_audit_list(inst->store, (size_t)limit, &v, &n, &err)) {
    fprintf(stderr, "weft audit: %s\n", err.msg);
    weft_instance_close(inst);
    return WEFT_EXIT_INVALID;
  }
  for (size_t i = 0; i < n; i++) {
    char when[32], status[16];
    time_t t = (time_t)(v[i].ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (v[i].status >= 100) snprintf(status, sizeof status, "%d", v[i].status);
    else snprintf(status, sizeof status, "%s", v[i].status ? "failed" : "ok");
    printf("%s  %-24s %-6s %-15s %s%s%s\n", when, v[i].who[0] ? v[i].who : "-", status,
           v[i].source, v[i].action, v[i].detail ? ": " : "", v[i].detail ? v[i].detail : "");
  }
  if (!n) printf("the audit log is empty\n");
  weft_audit_entries_release(v, n);
  weft_instance_close(inst);
  return WEFT_EXIT_OK;
}
