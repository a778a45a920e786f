/* cli_common.c: helpers every command shares: usage errors, help flags and
 * the interrupt flag of the commands that coordinate runs.
 * Keeping them here makes every command behave the same way. */
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/audit.h"
#include "engine/engine.h"

int weft_cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "weft %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see 'weft %s --help')\n", cmd);
  return WEFT_EXIT_USAGE;
}

int weft_cli_is_help(const char *arg) {
  return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

volatile sig_atomic_t weft_cli_interrupted;

static void on_interrupt(int sig) {
  (void)sig;
  weft_cli_interrupted = 1;
}

void weft_cli_trap_interrupts(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

void weft_cli_audit(struct weft_instance *inst, const char *action, const weft_error *failed) {
  char who[96];
  const struct passwd *pw = getpwuid(geteuid());
  snprintf(who, sizeof who, "cli:%s", pw ? pw->pw_name : "?");
  weft_error err = WEFT_ERROR_INIT;
  if (weft_audit_record(inst->store, who, action, failed ? 1 : 0, "local",
                        failed ? failed->msg : NULL, &err))
    fprintf(stderr, "weft: warning: cannot write the audit log: %s\n", err.msg);
}

void weft_cli_print_time(int64_t ms) {
  char text[32];
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fputs(text, stdout);
}
