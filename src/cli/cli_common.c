/* cli_common.c: helpers every command shares: usage errors, help flags and
 * the interrupt flag of the commands that coordinate runs.
 * Keeping them here makes every command behave the same way. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

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
